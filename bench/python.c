/* Runs manager.py (the Python rows of the manager family) with the python3
 * found on PATH and reads its stdout, one JSON object per line, written by
 * the script itself (fixed keys, no nesting), so a small scanner suffices.
 *
 * The script is looked up next to this executable (the build copies it
 * there), then in the source tree. Its stderr goes to <out>/manager-py.log.
 * It runs in its own process group: on a hang the whole group (the script,
 * its manager server, its producer) is killed after a generous deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define LINE_MAX_PY 4096

extern char **environ;

static char info[192];

const char *python_info(void)
{
	return info;
}

static bool script_path(const struct opts *o, char *out, size_t n)
{
	const char *slash = strrchr(o->self, '/');
	if (slash) {
		snprintf(out, n, "%.*s/manager.py", (int)(slash - o->self), o->self);
		if (access(out, R_OK) == 0)
			return true;
	}
#ifdef MPS_BENCH_SOURCE_DIR
	snprintf(out, n, "%s/manager.py", MPS_BENCH_SOURCE_DIR);
	if (access(out, R_OK) == 0)
		return true;
#endif
	return false;
}

/* ---- the scanner: "key":"string", "key":number, "key":[numbers] ---- */

static const char *value_of(const char *line, const char *key)
{
	char pat[40];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(line, pat);
	return p ? p + strlen(pat) : NULL;
}

static bool str_of(const char *line, const char *key, char *out, size_t n)
{
	const char *p = value_of(line, key);
	size_t k = 0;
	if (!p || *p++ != '"')
		return false;
	for (; *p && *p != '"'; p++) {
		if (*p == '\\' && p[1])
			p++;
		if (k + 1 < n)
			out[k++] = *p;
	}
	out[k] = 0;
	return true;
}

static int reps_of(const char *line, double *v, int max)
{
	const char *p = value_of(line, "reps");
	int n = 0;
	if (!p || *p++ != '[')
		return 0;
	while (*p && *p != ']' && n < max) {
		char *end;
		double x = strtod(p, &end);
		if (end == p)
			break;
		v[n++] = x;
		p = end + (*end == ',');
	}
	return n;
}

static void parse_line(const char *line, struct py_row *out, int max, int *count)
{
	char version[32], method[32];
	if (str_of(line, "python", version, sizeof version)) {
		if (!str_of(line, "start_method", method, sizeof method))
			snprintf(method, sizeof method, "?");
		snprintf(info, sizeof info, "Python %s (multiprocessing start method %s)", version,
		         method);
		return;
	}
	if (*count >= max)
		return;
	struct py_row *r = &out[*count];
	memset(r, 0, sizeof *r);
	if (!str_of(line, "row", r->row, sizeof r->row) ||
	    !str_of(line, "impl", r->impl, sizeof r->impl))
		return;
	const char *n = value_of(line, "n");
	r->n = n ? strtol(n, NULL, 10) : 0;
	r->reps = reps_of(line, r->v, 64);
	if (!str_of(line, "error", r->error, sizeof r->error) && r->reps == 0)
		snprintf(r->error, sizeof r->error, "no repetitions in manager.py's output");
	(*count)++;
	progress("python3 (manager.py) %s/%s done", r->row, r->impl);
}

/* ---- the child ---- */

static int spawn(const char *python, const char *script, const struct opts *o, const char *rows,
                 int out_fd, int read_fd, pid_t *pid)
{
	char rep_s[32], reps[16], keys[16], log[4200];
	snprintf(rep_s, sizeof rep_s, "%g", o->full ? 0.5 : 0.2);
	snprintf(reps, sizeof reps, "%d", o->reps);
	snprintf(keys, sizeof keys, "%d", MGR_KEYS);
	snprintf(log, sizeof log, "%s/manager-py.log", o->out);
	char *argv[] = { (char *)python, (char *)script, "--rep-seconds", rep_s, "--reps", reps,
	                 "--rows", (char *)rows, "--keys", keys, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawn_file_actions_addclose(&fa, read_fd);
	posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawnattr_init(&at);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	fflush(NULL);
	int err = posix_spawn(pid, python, &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return err;
}

/* Reads lines until EOF or the deadline; false on the deadline. */
static bool read_lines(int fd, int64_t deadline, struct py_row *out, int max, int *count)
{
	static char buf[LINE_MAX_PY];
	size_t len = 0;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = deadline - now_ns();
		if (left <= 0)
			return false;
		int ready = poll(&p, 1, (int)(left / 1000000 + 1));
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			continue;
		ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return true;
		len += (size_t)r;
		buf[len] = 0;
		char *nl;
		while ((nl = strchr(buf, '\n'))) {
			*nl = 0;
			parse_line(buf, out, max, count);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof buf - 1)
			len = 0;   /* a line too long to be ours: dropped */
	}
}

static int finish(pid_t pid, bool in_time, char *why, size_t n, int count, const struct opts *o)
{
	if (!in_time)
		kill(-pid, SIGKILL);
	int status = child_status(pid);
	if (!in_time) {
		snprintf(why, n, "manager.py timed out and was killed (see %s/manager-py.log)", o->out);
		return count ? 0 : ETIMEDOUT;
	}
	if (status == 0)
		return 0;
	snprintf(why, n, "manager.py failed (status %d; see %s/manager-py.log)", status, o->out);
	return count ? 0 : EIO;
}

int python_run(const struct opts *o, const char *rows, struct py_row *out, int max, int *count,
               char *why, size_t n)
{
	char python[4096], script[4200];
	int fd[2];
	pid_t pid;
	*count = 0;
	why[0] = 0;
#ifdef MPS_BENCH_PYTHON
	/* The interpreter the mpsync module was built for (CMake's Python3). */
	if (access(MPS_BENCH_PYTHON, X_OK) == 0)
		snprintf(python, sizeof python, "%s", MPS_BENCH_PYTHON);
	else
#endif
	if (!find_in_path("python3", python, sizeof python)) {
		snprintf(why, n, "python3 not found: Python rows skipped");
		return ENOENT;
	}
	if (!script_path(o, script, sizeof script)) {
		snprintf(why, n, "manager.py not found next to %s: Python rows skipped", o->self);
		return ENOENT;
	}
	if (pipe2(fd, O_CLOEXEC) != 0) {
		snprintf(why, n, "pipe2: %s", strerror(errno));
		return errno;
	}
	int err = spawn(python, script, o, rows, fd[1], fd[0], &pid);
	close(fd[1]);
	if (err) {
		close(fd[0]);
		snprintf(why, n, "cannot run %s: %s", python, strerror(err));
		return err;
	}
	/* 11 rows of reps + 2 runs of at most 0.5 s, four times over, and room to start */
	int64_t deadline = now_ns() + (int64_t)((o->reps + 2) * 11 * 2.0e9) + 60000000000LL;
	bool in_time = read_lines(fd[0], deadline, out, max, count);
	close(fd[0]);
	return finish(pid, in_time, why, n, *count, o);
}
