/* Workers as threads or as forked processes, over one shared arena.
 *
 * Start: each worker counts itself ready and spins (yielding) on go, so all
 * start together; the parent polls ready with short sleeps and sets go. Time
 * is what the workers stamp (max end - min start), not the parent's view.
 * A worker that hangs is killed (processes) or ends the program (threads)
 * after a generous watchdog, so a library bug never wedges the benchmark. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define WATCHDOG_NS (120LL * 1000000000LL)

struct targ {
	worker_fn fn;
	struct arena *a;
	int idx;
};

struct team {
	enum mode mode;
	int n;
	pid_t pid[MAX_WORKERS];
	pthread_t th[MAX_WORKERS];
	struct targ arg[MAX_WORKERS];
};

struct arena *arena_new(void)
{
	void *p = mmap(NULL, sizeof(struct arena), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mpsync-bench: mmap");
		exit(2);
	}
	return p;
}

void arena_free(struct arena *a)
{
	munmap(a, sizeof *a);
}

static void *thread_main(void *p)
{
	struct targ *t = p;
	t->fn(t->a, t->idx);
	t->a->w[t->idx].finished = 1;
	return NULL;
}

static void start_one(struct team *t, int i)
{
	if (t->mode == MODE_PROCS) {
		pid_t pid = fork();
		if (pid == 0) {
			t->arg[i].fn(t->arg[i].a, i);
			t->arg[i].a->w[i].finished = 1;
			_exit(0);
		}
		if (pid < 0) {
			perror("mpsync-bench: fork");
			exit(2);
		}
		t->pid[i] = pid;
		return;
	}
	if (pthread_create(&t->th[i], NULL, thread_main, &t->arg[i]) != 0) {
		fprintf(stderr, "mpsync-bench: pthread_create failed\n");
		exit(2);
	}
}

static void kill_all(struct team *t)
{
	for (int i = 0; i < t->n; i++)
		if (t->pid[i] > 0)
			kill(t->pid[i], SIGKILL);
}

static int join_procs(struct team *t, int64_t deadline)
{
	int failed = 0, left = t->n;
	while (left > 0) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p > 0) {
			for (int i = 0; i < t->n; i++)
				if (t->pid[i] == p)
					t->pid[i] = 0;
			left--;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				failed++;
			continue;
		}
		if (p < 0 && errno != EINTR)
			break;
		if (now_ns() > deadline) {
			fprintf(stderr, "\nmpsync-bench: workers hung; killed\n");
			kill_all(t);
			deadline = INT64_MAX;
			failed = t->n;
		}
		sleep_ns(200000);
	}
	return failed;
}

static int join_threads(struct team *t, int64_t deadline)
{
	for (int i = 0; i < t->n; i++) {
		while (!t->arg[i].a->w[i].finished) {
			if (now_ns() > deadline) {
				fprintf(stderr, "\nmpsync-bench: worker thread hung; giving up\n");
				_exit(3);
			}
			sleep_ns(200000);
		}
		pthread_join(t->th[i], NULL);
	}
	return 0;
}

int team_run(struct arena *a, enum mode m, int n, worker_fn fn, double duration)
{
	static struct team t;
	memset(&t, 0, sizeof t);
	t.mode = m == MODE_PROCS ? MODE_PROCS : MODE_THREADS;
	t.n = n;
	a->p.n = n;
	fflush(NULL);
	for (int i = 0; i < n; i++) {
		t.arg[i] = (struct targ){ fn, a, i };
		start_one(&t, i);
	}
	wait_count(&a->ctl.ready, n);
	atomic_store(&a->ctl.go, 1);
	if (duration > 0) {
		sleep_ns((int64_t)(duration * 1e9));
		atomic_store(&a->ctl.stop, 1);
	}
	int64_t deadline = now_ns() + WATCHDOG_NS + (int64_t)(duration * 1e9);
	if (t.mode == MODE_PROCS)
		return join_procs(&t, deadline);
	return join_threads(&t, deadline);
}

void worker_ready(struct arena *a, int idx)
{
	atomic_fetch_add(&a->ctl.ready, 1);
	while (!atomic_load_explicit(&a->ctl.go, memory_order_acquire))
		sched_yield();
	a->w[idx].c_start = cpu_ns();
	a->w[idx].t_start = now_ns();
}

void worker_done(struct arena *a, int idx)
{
	a->w[idx].t_end = now_ns();
	a->w[idx].c_end = cpu_ns();
}

void worker_error(struct arena *a, int idx, int err)
{
	if (err && !a->w[idx].err)
		a->w[idx].err = err;
}

int64_t team_elapsed(const struct arena *a, int n)
{
	int64_t lo = INT64_MAX, hi = 0;
	for (int i = 0; i < n; i++) {
		if (a->w[i].t_start < lo)
			lo = a->w[i].t_start;
		if (a->w[i].t_end > hi)
			hi = a->w[i].t_end;
	}
	return hi > lo ? hi - lo : 1;
}

int64_t team_cpu(const struct arena *a, int first, int n)
{
	int64_t sum = 0;
	for (int i = first; i < first + n; i++)
		sum += a->w[i].c_end - a->w[i].c_start;
	return sum;
}

int team_error(const struct arena *a, int n)
{
	for (int i = 0; i < n; i++)
		if (a->w[i].err)
			return a->w[i].err;
	return 0;
}

void wait_count(atomic_int *c, int target)
{
	while (atomic_load(c) < target)
		sleep_ns(20000);
}

void spin_count(atomic_int *c, int target)
{
	while (atomic_load(c) < target)
		sched_yield();
}

/* strace sees close(-1000 - w) open window w and close(-999) close it;
 * both fail with EBADF and touch nothing. */
void strace_mark(bool on, int window)
{
	if (!on)
		return;
	close(window >= 0 ? -1000 - window : -999);
}

int child_status(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
