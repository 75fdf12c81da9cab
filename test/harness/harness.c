#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define AREA_BYTES (((sizeof(struct mps_area) + 4095) / 4096) * 4096)
#define ROLE_ENV "MPS_TEST_ROLE"

static char area_name[64];
static pid_t area_creator;  /* the process that created area_name */
static struct mps_area *mapped_area;

double mps_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void mps_sleep(double seconds)
{
	struct timespec ts = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

double mps_slack(void)
{
	const char *s = getenv("MPS_TEST_SLACK");
	return s ? atof(s) : 0.25;
}

double mps_quick(void)
{
	double s = mps_slack();
	return s > 0.25 ? s : 0.05;
}

const char *mps_flavour_name(enum mps_flavour f)
{
	static const char *names[] = { "threads", "fork", "spawn" };
	return names[f];
}

uint32_t mps_count_add(uint32_t *c, uint32_t n)
{
	return atomic_fetch_add((_Atomic uint32_t *)c, n) + n;
}

uint32_t mps_count_get(const uint32_t *c)
{
	return atomic_load((_Atomic uint32_t *)c);
}

bool mps_count_await(const uint32_t *c, uint32_t target, double timeout)
{
	double end = mps_now() + timeout;
	while (mps_count_get(c) < target) {
		if (mps_now() > end)
			return false;
		mps_sleep(0.0005);
	}
	return true;
}

void mps_count_reset(struct mps_area *area)
{
	for (size_t i = 0; i < sizeof area->counter / sizeof area->counter[0]; i++)
		atomic_store((_Atomic uint32_t *)&area->counter[i], 0);
}

char mps_task_state(pid_t tid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)  /* ESRCH: the task died after the open */
		return 0;
	buf[n] = 0;
	/* The name in parentheses may hold ')' and spaces: the last ')' ends it. */
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

bool mps_await_task_state(pid_t tid, const char *states, double timeout)
{
	double end = mps_now() + timeout;
	for (;;) {
		char s = mps_task_state(tid);
		/* Not strchr(states, 0): that would find the terminator. */
		if (strchr(states, s ? s : '-'))
			return true;
		if (mps_now() > end)
			return false;
		mps_sleep(0.0005);
	}
}

static struct mps_area *map_area(const char *name, bool create)
{
	int fd = shm_open(name, O_RDWR | (create ? O_CREAT | O_EXCL : 0), 0600);
	if (fd < 0)
		return NULL;
	if (create && ftruncate(fd, AREA_BYTES) != 0) {
		close(fd);
		return NULL;
	}
	void *p = mmap(NULL, AREA_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

struct mps_area *mps_area_create(void)
{
	static int serial;
	/* pid plus a clock reading: a segment leaked by an earlier process that
	 * had the same pid (a failed assert skips mps_area_destroy) cannot clash. */
	snprintf(area_name, sizeof area_name, "/mps-test-%d-%d-%lld", (int)getpid(), serial++,
	         (long long)(mps_now() * 1e9) % 1000000007LL);
	shm_unlink(area_name);
	area_creator = getpid();
	mapped_area = map_area(area_name, true);
	cr_assert(mapped_area != NULL, "cannot create shm area %s: %s", area_name, strerror(errno));
	/* A name for a test's mpsync segment; unlinked with the area. */
	snprintf(mapped_area->segname, sizeof mapped_area->segname, "%s-seg", area_name + 1);
	return mapped_area;
}

void mps_area_destroy(struct mps_area *area)
{
	char seg[sizeof area->segname + 1];
	snprintf(seg, sizeof seg, "/%s", area->segname);
	shm_unlink(seg);
	munmap(area, AREA_BYTES);
	shm_unlink(area_name);
	area_name[0] = 0;  /* nothing left for unlink_leaked_area */
}

/* A failed assert ends a test before its mps_area_destroy; Criterion's worker
 * process then exits normally, which runs this, so the segment does not
 * outlive the test. It only unlinks (a straggling worker thread may still use
 * the mapping) and only in the creator: a forked child must not remove its
 * parent's segment. */
__attribute__((destructor)) static void unlink_leaked_area(void)
{
	if (area_name[0] && area_creator == getpid()) {
		char seg[96];
		snprintf(seg, sizeof seg, "%s-seg", area_name);
		shm_unlink(seg);
		shm_unlink(area_name);
	}
}

/* --- spawned helper mode: this binary, started again by posix_spawn --- */

static void anchor(void) {}

static void run_spawned_role(const char *spec)
{
	char name[64];
	long long offset;
	int index;
	if (sscanf(spec, "%63[^:]:%lld:%d", name, &offset, &index) != 3)
		_exit(120);
	/* Map a pad first so the area lands at a different address than in the
	 * parent even if the kernel would have chosen the same one. */
	void *pad = mmap(NULL, AREA_BYTES * 3, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	(void)pad;
	struct mps_area *area = map_area(name, false);
	if (!area)
		_exit(121);
	mps_role_fn role = (mps_role_fn)((intptr_t)anchor + (intptr_t)offset);
	area->view[index] = (uintptr_t)area;
	area->pid[index] = (int32_t)getpid();
	int r = role(area, index);
	area->result[index] = r;
	_exit(r & 0xff);
}

__attribute__((constructor)) static void maybe_spawned(void)
{
	const char *spec = getenv(ROLE_ENV);
	if (spec)
		run_spawned_role(spec);
}

/* --- workers --- */

struct thread_start {
	struct mps_area *area;
	mps_role_fn role;
	int index;
	int result;
	_Atomic int finished;
};

static void *thread_main(void *p)
{
	struct thread_start *s = p;
	s->area->view[s->index] = (uintptr_t)s->area;
	s->area->pid[s->index] = (int32_t)getpid();
	s->result = s->role(s->area, s->index);
	s->area->result[s->index] = s->result;
	atomic_store(&s->finished, 1);
	return NULL;
}

static pid_t spawn_role(struct mps_area *area, mps_role_fn role, int index)
{
	(void)area;
	char spec[160], exe[4096];
	snprintf(spec, sizeof spec, ROLE_ENV "=%s:%lld:%d", area_name,
	         (long long)((intptr_t)role - (intptr_t)anchor), index);
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	cr_assert(n > 0);
	exe[n] = 0;
	char *argv[] = { exe, NULL };
	char *envp[5] = { spec, NULL, NULL, NULL, NULL };
	int e = 1;
	const char *keep[] = { "MPS_TEST_SLACK", "ASAN_OPTIONS", "UBSAN_OPTIONS" };
	static char kept[3][512];
	for (int i = 0; i < 3; i++) {
		const char *v = getenv(keep[i]);
		if (v) {
			snprintf(kept[i], sizeof kept[i], "%s=%s", keep[i], v);
			envp[e++] = kept[i];
		}
	}
	pid_t pid;
	int err = posix_spawn(&pid, exe, NULL, NULL, argv, envp);
	cr_assert(err == 0, "posix_spawn: %s", strerror(err));
	return pid;
}

void mps_workers_start(struct mps_workers *w, enum mps_flavour f, struct mps_area *area,
                       mps_role_fn role, int n, int first_index)
{
	cr_assert(n > 0 && first_index + n <= MPS_MAX_WORKERS);
	w->flavour = f;
	w->n = n;
	w->first_index = first_index;
	w->area = area;
	for (int i = 0; i < n; i++) {
		int index = first_index + i;
		area->result[index] = -1;
		if (f == MPS_THREADS) {
			struct thread_start *s = calloc(1, sizeof *s);
			*s = (struct thread_start){ area, role, index, -1, 0 };
			pthread_t t;
			cr_assert(pthread_create(&t, NULL, thread_main, s) == 0);
			w->threads[i] = s;
			w->pids[i] = (pid_t)t;
			pthread_detach(t);
		} else if (f == MPS_FORK) {
			pid_t pid = fork();
			cr_assert(pid >= 0);
			if (pid == 0) {
				area->view[index] = (uintptr_t)area;
				area->pid[index] = (int32_t)getpid();
				int r = role(area, index);
				area->result[index] = r;
				_exit(r & 0xff);
			}
			w->pids[i] = pid;
		} else {
			w->pids[i] = spawn_role(area, role, index);
		}
	}
}

int mps_workers_join(struct mps_workers *w, double timeout)
{
	double end = mps_now() + timeout;
	int failed = 0;
	for (int i = 0; i < w->n; i++) {
		if (w->flavour == MPS_THREADS) {
			struct thread_start *s = w->threads[i];
			while (!atomic_load(&s->finished) && mps_now() < end)
				mps_sleep(0.001);
			if (!atomic_load(&s->finished) || s->result != 0)
				failed++;
			/* A thread still running keeps its start block: leak it. */
			if (atomic_load(&s->finished))
				free(s);
			continue;
		}
		int status;
		pid_t r;
		while ((r = waitpid(w->pids[i], &status, WNOHANG)) == 0 && mps_now() < end)
			mps_sleep(0.001);
		if (r == 0) {
			kill(w->pids[i], SIGKILL);
			waitpid(w->pids[i], &status, 0);
			failed++;
			continue;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	if (w->flavour == MPS_SPAWN) {
		for (int i = w->first_index; i < w->first_index + w->n; i++)
			cr_expect(w->area->view[i] != (uintptr_t)w->area || w->area->result[i] == -1,
			          "spawned worker mapped the area at the parent's address");
	}
	return failed;
}

int mps_workers_join_report(struct mps_workers *w, int expected, double timeout,
                            const char *what)
{
	int failed = mps_workers_join(w, timeout);
	if (failed == expected)
		return failed;
	for (int i = w->first_index; i < w->first_index + w->n; i++) {
		int r = w->area->result[i];
		cr_log_error("%s (%s): worker %d result %d%s%d", what, mps_flavour_name(w->flavour),
		             i, r, (r & 0xff) == 1 ? ", failed check at line " : "",
		             (r & 0xff) == 1 ? r >> 8 : 0);
	}
	return failed;
}

bool mps_worker_done(const struct mps_area *area, int index)
{
	return atomic_load((_Atomic int32_t *)&area->result[index]) != -1;
}

int mps_workers_kill(struct mps_workers *w, int sig)
{
	if (w->flavour == MPS_THREADS)
		return -1;
	for (int i = 0; i < w->n; i++)
		kill(w->pids[i], sig);
	return 0;
}
