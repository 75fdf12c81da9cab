/* Owner-death recovery latency. Each sample: a holder child takes the Lock
 * and idles; a waiter child blocks in mps_lock_acquire (the parent waits
 * until the word shows WAITERS and the waiter sleeps, then a random 0-25 ms
 * more so the kill lands anywhere in the waiter's 20 ms probe slice); the
 * parent SIGKILLs the holder (every other sample it leaves the holder a
 * zombie) and the waiter notes when its acquire returned, which must be
 * EOWNERDEAD. Latency = return time - kill time. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"

#define LW_WAITERS_BIT 0x80000000u

struct latency_arena {
	mps_lock_t lock;
	_Atomic int held;
	_Atomic int rc;
	_Atomic int64_t returned_ns;
};

static pid_t fork_holder(struct latency_arena *la)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (mps_lock_acquire(&la->lock, 0) != 0)
		_exit(1);
	atomic_store(&la->held, 1);
	for (;;)
		pause();
}

static pid_t fork_waiter(struct latency_arena *la, double timeout)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int rc = mps_lock_acquire(&la->lock, timeout);
	atomic_store(&la->returned_ns, fault_now_ns());
	atomic_store(&la->rc, rc);
	if (rc == 0 || rc == EOWNERDEAD)
		mps_lock_release(&la->lock);
	_exit(0);
}

static bool wait_until(_Atomic int *flag, double seconds)
{
	int64_t deadline = fault_now_ns() + (int64_t)(seconds * 1e9);
	while (!atomic_load(flag)) {
		if (fault_now_ns() > deadline)
			return false;
		fault_sleep_ns(50000);
	}
	return true;
}

static bool wait_asleep(struct latency_arena *la, pid_t waiter, double seconds)
{
	int64_t deadline = fault_now_ns() + (int64_t)(seconds * 1e9);
	for (;;) {
		uint32_t word = __atomic_load_n(&la->lock.word, __ATOMIC_ACQUIRE);
		if ((word & LW_WAITERS_BIT) && fault_proc_state(waiter) == 'S')
			return true;
		if (fault_now_ns() > deadline)
			return false;
		fault_sleep_ns(100000);
	}
}

static bool reap_within(pid_t pid, double seconds)
{
	int64_t deadline = fault_now_ns() + (int64_t)(seconds * 1e9);
	while (waitpid(pid, NULL, WNOHANG) != pid) {
		if (fault_now_ns() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return false;
		}
		fault_sleep_ns(100000);
	}
	return true;
}

/* Kills the holder once the waiter sleeps; the latency in ms, or -1. */
static double measure(struct latency_arena *la, pid_t holder, pid_t *waiter, bool zombie,
                      uint64_t *rng, double hang)
{
	if (!wait_until(&la->held, hang)) {
		printf("FAIL latency: holder did not take the lock\n");
		return -1;
	}
	*waiter = fork_waiter(la, 2 * hang);
	if (!wait_asleep(la, *waiter, hang)) {
		printf("FAIL latency: waiter never went to sleep\n");
		return -1;
	}
	fault_sleep_ns((int64_t)(fault_rand(rng) % 25000000ULL));
	int64_t killed = fault_now_ns();
	kill(holder, SIGKILL);
	if (!zombie)
		waitpid(holder, NULL, 0);
	bool returned = reap_within(*waiter, 3 * hang);
	*waiter = -1;
	if (!returned) {
		printf("FAIL latency: waiter still blocked %.1f s after the holder died\n", 3 * hang);
		return -1;
	}
	int rc = atomic_load(&la->rc);
	double ms = (double)(atomic_load(&la->returned_ns) - killed) / 1e6;
	if (rc != EOWNERDEAD) {
		printf("FAIL latency: waiter's acquire returned %s after %.1f ms, not EOWNERDEAD\n",
		       fault_code(rc), ms);
		return -1;
	}
	return ms;
}

static double sample(struct latency_arena *la, bool zombie, uint64_t *rng, double hang)
{
	mps_lock_init(&la->lock);
	atomic_store(&la->held, 0);
	atomic_store(&la->rc, -1);
	pid_t holder = fork_holder(la), waiter = -1;
	double ms = measure(la, holder, &waiter, zombie, rng, hang);
	if (waiter > 0) {
		kill(waiter, SIGKILL);
		waitpid(waiter, NULL, 0);
	}
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	return ms;
}

static int compare_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

static double percentile(const double *sorted, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);
	return sorted[i < n ? i : n - 1];
}

struct series {
	double *v;
	int n;
};

static void print_stats(const char *label, struct series *s)
{
	if (s->n == 0)
		return;
	qsort(s->v, (size_t)s->n, sizeof *s->v, compare_double);
	printf("  %-18s n=%-3d median %6.2f ms   p90 %6.2f ms   max %6.2f ms   min %6.2f ms\n",
	       label, s->n, percentile(s->v, s->n, 0.5), percentile(s->v, s->n, 0.9),
	       s->v[s->n - 1], s->v[0]);
}

/* Runs the samples, alternating reaped and zombie holders; returns failures. */
static int collect(struct latency_arena *la, int samples, uint64_t seed, struct series s[3])
{
	double hang = 2.0 * fault_slack();
	uint64_t rng = seed | 1;
	int failures = 0;
	for (int i = 0; i < samples; i++) {
		bool zombie = i % 2;
		double ms = sample(la, zombie, &rng, hang);
		if (ms < 0) {
			failures++;
			continue;
		}
		s[0].v[s[0].n++] = ms;
		s[1 + zombie].v[s[1 + zombie].n++] = ms;
	}
	return failures;
}

int fault_latency(int samples, uint64_t seed)
{
	struct series s[3];
	for (int i = 0; i < 3; i++)
		s[i] = (struct series){ calloc((size_t)samples, sizeof(double)), 0 };
	struct latency_arena *la = mmap(NULL, sizeof *la, PROT_READ | PROT_WRITE,
	                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (la == MAP_FAILED || !s[0].v || !s[1].v || !s[2].v) {
		perror("fault_inject: latency");
		exit(2);
	}
	int failures = collect(la, samples, seed, s);
	printf("\nowner-death recovery latency "
	       "(SIGKILL of the holder -> EOWNERDEAD in a blocked waiter)\n");
	print_stats("all", &s[0]);
	print_stats("holder reaped", &s[1]);
	print_stats("holder a zombie", &s[2]);
	double bound = 250 * fault_slack();
	if (s[0].n && s[0].v[s[0].n - 1] > bound) {
		printf("FAIL latency: max %.1f ms exceeds %.0f ms (the probe slice is 20 ms)\n",
		       s[0].v[s[0].n - 1], bound);
		failures++;
	}
	munmap(la, sizeof *la);
	for (int i = 0; i < 3; i++)
		free(s[i].v);
	return failures;
}
