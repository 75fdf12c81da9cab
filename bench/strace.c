/* futex syscalls of glibc's primitives, which have no counter of their own:
 * the scenario is run again in a child ("--strace-child ...") under
 *     strace -f -qq --seccomp-bpf -e trace=futex,close -o LOG
 * and LOG is read back. The child opens a window before each span it wants
 * counted with close(-1000 - w) and closes it with close(-999) (both fail
 * with EBADF, harmlessly); a futex call counts for window w when its thread
 * has w open. strace slows every futex call down by tens of microseconds,
 * so the counts, not the times, of that run are used. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define MAX_TIDS 256

struct tid_window {
	long tid;
	int window;
};

static char strace_path[4096];

bool find_in_path(const char *name, char *out, size_t n)
{
	const char *path = getenv("PATH");
	while (path && *path) {
		size_t len = strcspn(path, ":");
		snprintf(out, n, "%.*s/%s", (int)len, path, name);
		if (len && access(out, X_OK) == 0)
			return true;
		path += len + (path[len] == ':');
	}
	return false;
}

bool strace_available(void)
{
	char found[sizeof strace_path];
	if (strace_path[0])
		return true;
	if (!find_in_path("strace", found, sizeof found))
		return false;
	snprintf(strace_path, sizeof strace_path, "%s", found);
	return true;
}

static int run_child(const struct opts *o, const char *arg, const char *log, const char *err,
                     bool seccomp)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(fd, 2);
		if (seccomp)
			execl(strace_path, "strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=futex,close",
			      "-o", log, o->self, "--strace-child", arg, (char *)NULL);
		else
			execl(strace_path, "strace", "-f", "-qq", "-e", "trace=futex,close",
			      "-o", log, o->self, "--strace-child", arg, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	return child_status(pid);
}

static int *window_of(struct tid_window *t, int *nt, long tid)
{
	for (int i = 0; i < *nt; i++)
		if (t[i].tid == tid)
			return &t[i].window;
	if (*nt == MAX_TIDS)
		return &t[MAX_TIDS - 1].window;
	t[*nt] = (struct tid_window){ tid, -1 };
	return &t[(*nt)++].window;
}

/* "1234 futex(...", "1234 close(-1003) = ..."; the pid prefix is missing
 * while only one process is traced. */
static void parse_line(const char *line, struct tid_window *t, int *nt, struct strace_counts *out)
{
	char *rest;
	long tid = strtol(line, &rest, 10);
	if (rest == line)
		tid = 0;
	while (*rest == ' ')
		rest++;
	int *win = window_of(t, nt, tid);
	if (!strncmp(rest, "futex(", 6)) {
		if (*win >= 0)
			out->in_window[*win]++;
		return;
	}
	if (strncmp(rest, "close(-", 7))
		return;
	long fd = strtol(rest + 6, NULL, 10);
	if (fd == -999) {
		*win = -1;
	} else if (fd <= -1000 && fd > -1000 - STRACE_WINDOWS) {
		*win = (int)(-1000 - fd);
		out->opened[*win]++;
	}
}

static bool parse(const char *log, struct strace_counts *out)
{
	static struct tid_window t[MAX_TIDS];
	char line[4096];
	int nt = 0;
	FILE *f = fopen(log, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof line, f))
		parse_line(line, t, &nt, out);
	fclose(f);
	return true;
}

static void first_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	buf[0] = 0;
	if (f) {
		if (fgets(buf, (int)n, f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
}

void strace_run(const struct opts *o, const char *child_arg, struct strace_counts *out)
{
	char log[4200], err[4200];
	memset(out, 0, sizeof *out);
	if (!strace_available()) {
		snprintf(out->why, sizeof out->why, "strace not found");
		return;
	}
	snprintf(log, sizeof log, "%s/strace.log", o->out);
	snprintf(err, sizeof err, "%s/strace.err", o->out);
	int rc = run_child(o, child_arg, log, err, true);
	if (rc != 0)
		rc = run_child(o, child_arg, log, err, false);
	if (rc != 0) {
		char msg[80];
		first_line(err, msg, sizeof msg);
		snprintf(out->why, sizeof out->why, "strace failed (%d): %.60s", rc, msg);
	} else if (!parse(log, out)) {
		snprintf(out->why, sizeof out->why, "strace log unreadable");
	} else {
		out->ok = true;
	}
	unlink(log);
	unlink(err);
}
