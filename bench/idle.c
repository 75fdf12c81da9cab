/* The idle family: what blocked waiters cost while nothing happens, and how
 * fast they recover when the holder dies.
 *
 * idle/lock, idle/cond, idle/sem: 100 threads block on a held Lock (robust
 * pshared pthread mutex), on a Condition nobody notifies (pthread_cond_t
 * with a pshared mutex), on a Semaphore at 0 (sem_t), for a window of 2 s
 * (--quick) or 10 s (--full). Reported for the 100 together: wake-ups per
 * second (voluntary + involuntary context switches of the waiter threads
 * over the window, from /proc/self/task/<tid>/status) and CPU time as a
 * percentage of one CPU (each thread's CPU clock). Lower is better.
 *
 * idle/recovery-N (processes): N waiter processes block on a Lock held by
 * another process, which is then SIGKILLed; the latency is from the kill to
 * the first waiter's EOWNERDEAD (p50, p99 over the samples). The pthread
 * counterpart is a robust pshared mutex (EOWNERDEAD from the kernel's robust
 * list). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpsync.h>
#include "bench.h"

#define IDLE_WAITERS 100

enum idle_kind { IDLE_LOCK, IDLE_COND, IDLE_SEM };

struct idle_objs {
	mps_lock_t lock;
	mps_cond_t cond;
	mps_sem_t sem;
	pthread_mutex_t m;
	pthread_cond_t c;
	sem_t s;
	atomic_int blocked;       /* waiters about to block */
	atomic_int done;          /* cond: the predicate */
};

struct idle_waiter {
	struct idle_objs *o;
	enum idle_kind kind;
	bool pthread;
	pid_t tid;
	pthread_t thread;
};

static void *idle_wait(void *arg)
{
	struct idle_waiter *w = arg;
	struct idle_objs *o = w->o;
	w->tid = gettid();
	atomic_fetch_add(&o->blocked, 1);
	switch (w->kind) {
	case IDLE_LOCK:
		if (w->pthread) {
			if (pthread_mutex_lock(&o->m) == EOWNERDEAD)
				pthread_mutex_consistent(&o->m);
			pthread_mutex_unlock(&o->m);
		} else {
			mps_lock_acquire(&o->lock, MPS_FOREVER);
			mps_lock_release(&o->lock);
		}
		break;
	case IDLE_COND:
		if (w->pthread) {
			pthread_mutex_lock(&o->m);
			while (!atomic_load(&o->done))
				pthread_cond_wait(&o->c, &o->m);
			pthread_mutex_unlock(&o->m);
		} else {
			mps_lock_acquire(&o->lock, MPS_FOREVER);
			while (!atomic_load(&o->done))
				mps_cond_wait(&o->cond, &o->lock, MPS_FOREVER);
			mps_lock_release(&o->lock);
		}
		break;
	case IDLE_SEM:
		if (w->pthread)
			while (sem_wait(&o->s) != 0)
				;
		else
			mps_sem_acquire(&o->sem, MPS_FOREVER);
		break;
	}
	return NULL;
}

static void init_objs(struct idle_objs *o)
{
	memset(o, 0, sizeof *o);
	mps_lock_init(&o->lock);
	mps_cond_init(&o->cond);
	mps_sem_init(&o->sem, 0);
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&o->m, &ma);
	pthread_mutexattr_destroy(&ma);
	pcond_init(&o->c);
	sem_init(&o->s, 1, 0);
}

/* Context switches (voluntary + involuntary) of one of our threads. */
static long ctxt_switches(pid_t tid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	long total = 0, v;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			total += v;
	}
	fclose(f);
	return total;
}

static int64_t thread_cpu(pthread_t t)
{
	clockid_t id;
	struct timespec ts;
	if (pthread_getcpuclockid(t, &id) != 0 || clock_gettime(id, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Lets the blocked waiters go and joins them. */
static void release_all(struct idle_objs *o, enum idle_kind kind, bool pthread)
{
	switch (kind) {
	case IDLE_LOCK:
		if (pthread)
			pthread_mutex_unlock(&o->m);
		else
			mps_lock_release(&o->lock);
		break;
	case IDLE_COND:
		if (pthread) {
			pthread_mutex_lock(&o->m);
			atomic_store(&o->done, 1);
			pthread_cond_broadcast(&o->c);
			pthread_mutex_unlock(&o->m);
		} else {
			mps_lock_acquire(&o->lock, MPS_FOREVER);
			atomic_store(&o->done, 1);
			mps_cond_notify_all(&o->cond);
			mps_lock_release(&o->lock);
		}
		break;
	case IDLE_SEM:
		for (int i = 0; i < IDLE_WAITERS; i++) {
			if (pthread)
				sem_post(&o->s);
			else
				mps_sem_release(&o->sem, 1);
		}
		break;
	}
}

/* One window: 100 waiters blocked for window_s; wake-ups/s and CPU % of one CPU. */
static bool idle_window(enum idle_kind kind, bool pthread, double window_s,
                        double *wakeups, double *cpu_pct)
{
	static struct idle_objs o;
	static struct idle_waiter w[IDLE_WAITERS];
	init_objs(&o);
	if (kind == IDLE_LOCK) {
		if (pthread)
			pthread_mutex_lock(&o.m);
		else
			mps_lock_acquire(&o.lock, MPS_FOREVER);
	}
	for (int i = 0; i < IDLE_WAITERS; i++) {
		w[i] = (struct idle_waiter){ .o = &o, .kind = kind, .pthread = pthread };
		if (pthread_create(&w[i].thread, NULL, idle_wait, &w[i]) != 0)
			return false;
	}
	wait_count(&o.blocked, IDLE_WAITERS);
	sleep_ns(200000000);      /* all asleep; the first probes are behind us */
	long c0 = 0, c1 = 0;
	int64_t t0 = 0, t1 = 0;
	for (int i = 0; i < IDLE_WAITERS; i++) {
		c0 += ctxt_switches(w[i].tid);
		t0 += thread_cpu(w[i].thread);
	}
	int64_t start = now_ns();
	sleep_ns((int64_t)(window_s * 1e9));
	double elapsed = (double)(now_ns() - start) / 1e9;
	for (int i = 0; i < IDLE_WAITERS; i++) {
		c1 += ctxt_switches(w[i].tid);
		t1 += thread_cpu(w[i].thread);
	}
	release_all(&o, kind, pthread);
	for (int i = 0; i < IDLE_WAITERS; i++)
		pthread_join(w[i].thread, NULL);
	*wakeups = (double)(c1 - c0) / elapsed;
	*cpu_pct = (double)(t1 - t0) / (elapsed * 1e9) * 100.0;
	return true;
}

static const char *const idle_names[] = { "idle/lock", "idle/cond", "idle/sem" };
static const char *const ref_names[] = { "pthread-robust", "pthread_cond", "sem_t" };

static void idle_rows(const struct opts *o, double window_s)
{
	for (int k = IDLE_LOCK; k <= IDLE_SEM; k++) {
		if (!want(o, idle_names[k]))
			continue;
		for (int impl = 0; impl < 2; impl++) {
			double wake, cpu;
			progress("%s %s", idle_names[k], impl ? ref_names[k] : "mpsync");
			struct result r;
			result_init(&r, idle_names[k], MODE_THREADS, IDLE_WAITERS,
			            impl ? ref_names[k] : "mpsync", impl ? ROLE_REF : ROLE_MPS,
			            UNIT_RATE, LOWER_BETTER);
			if (!idle_window(k, impl, window_s, &wake, &cpu))
				continue;
			r.value = wake;
			r.busy = cpu;
			r.reps = 1;
			snprintf(r.method, sizeof r.method, "/proc task ctxt switches");
			snprintf(r.note, sizeof r.note, "%.0f s window; busy = CPU %% of one CPU", window_s);
			results_add(&r);
		}
	}
}

/* ---- recovery after SIGKILL of the holder (processes) ---- */

struct rec_arena {
	mps_lock_t lock;
	pthread_mutex_t m;
	atomic_int held, blocked, first;
	atomic_llong eod_ns;
};

static void rec_waiter(struct rec_arena *a, bool pthread)
{
	atomic_fetch_add(&a->blocked, 1);
	int rc;
	if (pthread) {
		rc = pthread_mutex_lock(&a->m);
		if (rc == EOWNERDEAD)
			pthread_mutex_consistent(&a->m);
	} else {
		rc = mps_lock_acquire(&a->lock, 60.0);
	}
	if (rc == EOWNERDEAD && atomic_exchange(&a->first, 1) == 0)
		atomic_store(&a->eod_ns, now_ns());
	if (pthread)
		pthread_mutex_unlock(&a->m);
	else
		mps_lock_release(&a->lock);
	_exit(0);
}

/* Blocked: every waiter process sleeping in the kernel (state S). */
static void await_asleep(const pid_t *pid, int n)
{
	for (int i = 0; i < n; i++) {
		char path[64], buf[512];
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid[i]);
		for (int tries = 0; tries < 2000; tries++) {
			FILE *f = fopen(path, "r");
			size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
			if (f)
				fclose(f);
			buf[len] = 0;
			char *p = strrchr(buf, ')');
			if (p && p[1] == ' ' && p[2] == 'S')
				break;
			sleep_ns(1000000);
		}
	}
}

/* One sample: kill -> first EOWNERDEAD, in ns; NAN on failure. */
static double recovery_sample(struct rec_arena *a, int n, bool pthread)
{
	static pid_t pid[IDLE_WAITERS];
	memset(a, 0, sizeof *a);
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&a->m, &ma);
	pthread_mutexattr_destroy(&ma);
	pid_t holder = fork();
	if (holder == 0) {
		if (pthread)
			pthread_mutex_lock(&a->m);
		else
			mps_lock_acquire(&a->lock, MPS_FOREVER);
		atomic_store(&a->held, 1);
		for (;;)
			pause();
	}
	wait_count(&a->held, 1);
	for (int i = 0; i < n; i++)
		if ((pid[i] = fork()) == 0)
			rec_waiter(a, pthread);
	wait_count(&a->blocked, n);
	await_asleep(pid, n);
	sleep_ns(50000000 + (int64_t)(rand() % 20) * 1000000);  /* off the watcher's beat */
	int64_t t_kill = now_ns();
	kill(holder, SIGKILL);
	child_status(holder);
	bool ok = true;
	for (int i = 0; i < n; i++)
		ok &= child_status(pid[i]) == 0;
	int64_t t_eod = atomic_load(&a->eod_ns);
	return ok && t_eod ? (double)(t_eod - t_kill) : NAN;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static void recovery_rows(const struct opts *o, int n, int samples)
{
	char name[32];
	snprintf(name, sizeof name, "idle/recovery-%d", n);
	if (!want(o, name))
		return;
	struct rec_arena *a = mmap(NULL, sizeof *a, PROT_READ | PROT_WRITE,
	                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return;
	for (int impl = 0; impl < 2; impl++) {
		double v[64];
		int k = 0;
		progress("%s %s", name, impl ? "pthread-robust" : "mpsync");
		for (int s = 0; s < samples && s < 64; s++) {
			double ns = recovery_sample(a, n, impl);
			if (!isnan(ns))
				v[k++] = ns;
		}
		struct result r;
		result_init(&r, name, MODE_PROCS, n, impl ? "pthread-robust" : "mpsync",
		            impl ? ROLE_REF : ROLE_MPS, UNIT_NS, LOWER_BETTER);
		if (k) {
			qsort(v, (size_t)k, sizeof v[0], cmp_double);
			r.p50 = v[k / 2];
			r.p99 = v[(int)ceil(0.99 * k) - 1];
			r.max = v[k - 1];
			r.value = r.p50;
			r.reps = k;
		}
		snprintf(r.note, sizeof r.note, "SIGKILL of the holder -> first EOWNERDEAD; %d samples", k);
		results_add(&r);
	}
	munmap(a, sizeof *a);
}

void run_idle(const struct opts *o)
{
	if (!want(o, "idle/"))
		return;
	double window = o->full ? 10.0 : 2.0;
	idle_rows(o, window);
	recovery_rows(o, 1, o->full ? 40 : 10);
	recovery_rows(o, IDLE_WAITERS, o->full ? 20 : 5);
}
