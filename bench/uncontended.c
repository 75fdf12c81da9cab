/* Uncontended: one thread, objects in the shared arena (a MAP_SHARED
 * mapping), ns per operation over batches of --batch ops (>= 1e6 by
 * default). Each loop calls the primitive directly; the implementations of
 * a row take turns, in a rotating order, for every repetition.
 *
 * The sh: rows run the mpsync loops once more built against the single
 * header (uncontended_sh.c), against the same glibc loops in the same run.
 *
 * Futex syscalls per op: mpsync by mps_debug_futex_calls() (the single
 * header's private copy by its own), the floor by its own count, glibc by
 * re-running the same loops under strace (the child marks each loop with a
 * window, see strace.c). */
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>

#include <mpsync.h>
#include "bench.h"
#include "uncontended_sh.h"

#define STRACE_OPS 200000L

struct uc {
	_Alignas(64) mps_lock_t lock;
	mps_cond_t cond;
	_Alignas(64) mps_rlock_t rlock;
	_Alignas(64) mps_sem_t sem;
	_Alignas(64) mps_event_t ev;
	_Alignas(64) pthread_mutex_t m;
	_Alignas(64) pthread_mutex_t rm;
	_Alignas(64) pthread_cond_t pc;
	_Alignas(64) sem_t s;
	_Alignas(64) atomic_uint f3;
	_Alignas(64) atomic_ullong permits;   /* the Semaphore floor's word */
	_Alignas(64) unsigned char pev[128];
	_Alignas(64) unsigned char sh[SH_AREA];  /* the single header's objects */
};

typedef void (*uc_loop)(struct uc *u, long n);

struct uc_impl {
	const char *name;
	enum role role;
	uc_loop loop;
	uint64_t (*calls)(void);    /* futex calls so far; NULL: strace counts them */
};

struct uc_case {
	const char *scenario;
	struct uc_impl impl[3];
	int nimpl;
};

static struct pev *pev_of(struct uc *u) { return (struct pev *)u->pev; }

/* ---- Lock ---- */
static void mps_lock_loop(struct uc *u, long n)
{
	for (long i = 0; i < n; i++) {
		mps_lock_acquire(&u->lock, MPS_FOREVER);
		mps_lock_release(&u->lock);
	}
}

static void pth_lock_loop(struct uc *u, long n)
{
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&u->m);
		pthread_mutex_unlock(&u->m);
	}
}

static void f3_lock_loop(struct uc *u, long n)
{
	for (long i = 0; i < n; i++) {
		futex3_lock(&u->f3);
		futex3_unlock(&u->f3);
	}
}

/* ---- RLock, first level and nested ---- */
static void mps_rlock_loop(struct uc *u, long n)
{
	for (long i = 0; i < n; i++) {
		mps_rlock_acquire(&u->rlock, MPS_FOREVER);
		mps_rlock_release(&u->rlock);
	}
}

static void pth_rlock_loop(struct uc *u, long n)
{
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&u->rm);
		pthread_mutex_unlock(&u->rm);
	}
}

static void mps_rlock_nested(struct uc *u, long n)
{
	mps_rlock_acquire(&u->rlock, MPS_FOREVER);
	mps_rlock_loop(u, n);
	mps_rlock_release(&u->rlock);
}

static void pth_rlock_nested(struct uc *u, long n)
{
	pthread_mutex_lock(&u->rm);
	pth_rlock_loop(u, n);
	pthread_mutex_unlock(&u->rm);
}

/* ---- Semaphore ---- */
static void mps_sem_loop(struct uc *u, long n)
{
	for (long i = 0; i < n; i++) {
		mps_sem_acquire(&u->sem, MPS_FOREVER);
		mps_sem_release(&u->sem, 1);
	}
}

static void sem_t_loop(struct uc *u, long n)
{
	for (long i = 0; i < n; i++) {
		sem_wait(&u->s);
		sem_post(&u->s);
	}
}

/* The floor of any semaphore in shared memory: the two atomic
 * read-modify-writes a take and a give cannot do without (a CAS that takes
 * a permit only while there is one, an add that gives it back), and nothing
 * else. */
static void atomics_sem_loop(struct uc *u, long n)
{
	for (long i = 0; i < n; i++) {
		unsigned long long v = atomic_load_explicit(&u->permits, memory_order_relaxed);
		while (v == 0 || !atomic_compare_exchange_weak(&u->permits, &v, v - 1))
			v = atomic_load_explicit(&u->permits, memory_order_relaxed);
		atomic_fetch_add(&u->permits, 1);
	}
}

/* ---- Event ---- */
static void mps_is_set_loop(struct uc *u, long n)
{
	mps_event_set(&u->ev);
	for (long i = 0; i < n; i++)
		(void)mps_event_is_set(&u->ev);
}

static void pev_is_set_loop(struct uc *u, long n)
{
	pev_set(pev_of(u));
	for (long i = 0; i < n; i++)
		(void)pev_is_set(pev_of(u));
}

static void mps_set_clear_loop(struct uc *u, long n)
{
	for (long i = 0; i < n; i++) {
		mps_event_set(&u->ev);
		mps_event_clear(&u->ev);
	}
}

static void pev_set_clear_loop(struct uc *u, long n)
{
	for (long i = 0; i < n; i++) {
		pev_set(pev_of(u));
		pev_clear(pev_of(u));
	}
}

/* ---- Condition notify with no waiters, lock held ---- */
static void mps_notify_loop(struct uc *u, long n)
{
	mps_lock_acquire(&u->lock, MPS_FOREVER);
	for (long i = 0; i < n; i++)
		mps_cond_notify(&u->cond, 1);
	mps_lock_release(&u->lock);
}

static void pth_signal_loop(struct uc *u, long n)
{
	pthread_mutex_lock(&u->m);
	for (long i = 0; i < n; i++)
		pthread_cond_signal(&u->pc);
	pthread_mutex_unlock(&u->m);
}

static void mps_notify_all_loop(struct uc *u, long n)
{
	mps_lock_acquire(&u->lock, MPS_FOREVER);
	for (long i = 0; i < n; i++)
		mps_cond_notify_all(&u->cond);
	mps_lock_release(&u->lock);
}

static void pth_broadcast_loop(struct uc *u, long n)
{
	pthread_mutex_lock(&u->m);
	for (long i = 0; i < n; i++)
		pthread_cond_broadcast(&u->pc);
	pthread_mutex_unlock(&u->m);
}

/* ---- the same loops, built against the single header ---- */
static void sh_lock(struct uc *u, long n) { sh_lock_loop(u->sh, n); }
static void sh_rlock(struct uc *u, long n) { sh_rlock_loop(u->sh, n); }
static void sh_nested(struct uc *u, long n) { sh_rlock_nested(u->sh, n); }
static void sh_sem(struct uc *u, long n) { sh_sem_loop(u->sh, n); }
static void sh_is_set(struct uc *u, long n) { sh_is_set_loop(u->sh, n); }
static void sh_set_clear(struct uc *u, long n) { sh_set_clear_loop(u->sh, n); }
static void sh_notify(struct uc *u, long n) { sh_notify_loop(u->sh, n); }
static void sh_notify_all(struct uc *u, long n) { sh_notify_all_loop(u->sh, n); }

static const struct uc_case cases[] = {
	{ "uncontended/lock", { { "mpsync", ROLE_MPS, mps_lock_loop, mps_calls },
	  { "pthread", ROLE_REF, pth_lock_loop, NULL }, { "futex3", ROLE_FLOOR, f3_lock_loop, futex3_calls } }, 3 },
	{ "uncontended/rlock-first", { { "mpsync", ROLE_MPS, mps_rlock_loop, mps_calls },
	  { "pthread-rec", ROLE_REF, pth_rlock_loop, NULL } }, 2 },
	{ "uncontended/rlock-nested", { { "mpsync", ROLE_MPS, mps_rlock_nested, mps_calls },
	  { "pthread-rec", ROLE_REF, pth_rlock_nested, NULL } }, 2 },
	{ "uncontended/sem", { { "mpsync", ROLE_MPS, mps_sem_loop, mps_calls },
	  { "sem_t", ROLE_REF, sem_t_loop, NULL }, { "2 atomics", ROLE_FLOOR, atomics_sem_loop, NULL } }, 3 },
	{ "uncontended/event-is_set", { { "mpsync", ROLE_MPS, mps_is_set_loop, mps_calls },
	  { "pthread-event", ROLE_REF, pev_is_set_loop, NULL } }, 2 },
	{ "uncontended/event-set+clear", { { "mpsync", ROLE_MPS, mps_set_clear_loop, mps_calls },
	  { "pthread-event", ROLE_REF, pev_set_clear_loop, NULL } }, 2 },
	{ "uncontended/notify-none", { { "mpsync", ROLE_MPS, mps_notify_loop, mps_calls },
	  { "pthread", ROLE_REF, pth_signal_loop, NULL } }, 2 },
	{ "uncontended/notify_all-none", { { "mpsync", ROLE_MPS, mps_notify_all_loop, mps_calls },
	  { "pthread", ROLE_REF, pth_broadcast_loop, NULL } }, 2 },
	{ "uncontended/sh:lock", { { "mpsync-sh", ROLE_MPS, sh_lock, sh_futex_calls },
	  { "pthread", ROLE_REF, pth_lock_loop, NULL }, { "futex3", ROLE_FLOOR, f3_lock_loop, futex3_calls } }, 3 },
	{ "uncontended/sh:rlock-first", { { "mpsync-sh", ROLE_MPS, sh_rlock, sh_futex_calls },
	  { "pthread-rec", ROLE_REF, pth_rlock_loop, NULL } }, 2 },
	{ "uncontended/sh:rlock-nested", { { "mpsync-sh", ROLE_MPS, sh_nested, sh_futex_calls },
	  { "pthread-rec", ROLE_REF, pth_rlock_nested, NULL } }, 2 },
	{ "uncontended/sh:sem", { { "mpsync-sh", ROLE_MPS, sh_sem, sh_futex_calls },
	  { "sem_t", ROLE_REF, sem_t_loop, NULL }, { "2 atomics", ROLE_FLOOR, atomics_sem_loop, NULL } }, 3 },
	{ "uncontended/sh:event-is_set", { { "mpsync-sh", ROLE_MPS, sh_is_set, sh_futex_calls },
	  { "pthread-event", ROLE_REF, pev_is_set_loop, NULL } }, 2 },
	{ "uncontended/sh:event-set+clear", { { "mpsync-sh", ROLE_MPS, sh_set_clear, sh_futex_calls },
	  { "pthread-event", ROLE_REF, pev_set_clear_loop, NULL } }, 2 },
	{ "uncontended/sh:notify-none", { { "mpsync-sh", ROLE_MPS, sh_notify, sh_futex_calls },
	  { "pthread", ROLE_REF, pth_signal_loop, NULL } }, 2 },
	{ "uncontended/sh:notify_all-none", { { "mpsync-sh", ROLE_MPS, sh_notify_all, sh_futex_calls },
	  { "pthread", ROLE_REF, pth_broadcast_loop, NULL } }, 2 },
};

#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static void setup(struct uc *u)
{
	memset(u, 0, sizeof *u);
	mps_lock_init(&u->lock);
	mps_cond_init(&u->cond);
	mps_rlock_init(&u->rlock);
	mps_sem_init(&u->sem, 1);
	mps_event_init(&u->ev);
	pmutex_init(&u->m, false);
	pmutex_init(&u->rm, true);
	pcond_init(&u->pc);
	sem_init(&u->s, 1, 1);
	atomic_init(&u->permits, 1);
	pev_init(pev_of(u));
	sh_setup(u->sh);
}

static void teardown(struct uc *u)
{
	pev_destroy(pev_of(u));
	sem_destroy(&u->s);
	pthread_cond_destroy(&u->pc);
	pthread_mutex_destroy(&u->rm);
	pthread_mutex_destroy(&u->m);
}

static uint64_t calls_of(const struct uc_impl *impl)
{
	return impl->calls ? impl->calls() : 0;
}

/* Runs one case: a warm-up, then reps interleaved repetitions. */
static void run_case(const struct opts *o, const struct uc_case *c, struct uc *u)
{
	double ns[3][64], cpu[3][64];
	uint64_t calls[3] = { 0 };
	int reps = o->reps > 64 ? 64 : o->reps;
	for (int k = 0; k < c->nimpl; k++)
		c->impl[k].loop(u, o->batch / 10);
	for (int r = 0; r < reps; r++) {
		progress("%s  rep %d/%d", c->scenario, r + 1, reps);
		for (int j = 0; j < c->nimpl; j++) {
			int k = (j + r) % c->nimpl;
			uint64_t f0 = calls_of(&c->impl[k]);
			int64_t c0 = cpu_ns(), t0 = now_ns();
			c->impl[k].loop(u, o->batch);
			int64_t t1 = now_ns(), c1 = cpu_ns();
			calls[k] += calls_of(&c->impl[k]) - f0;
			ns[k][r] = (double)(t1 - t0) / (double)o->batch;
			cpu[k][r] = (double)(c1 - c0) / (double)o->batch;
		}
	}
	for (int k = 0; k < c->nimpl; k++) {
		struct result res;
		result_init(&res, c->scenario, MODE_NONE, 1, c->impl[k].name, c->impl[k].role,
		            UNIT_NS, LOWER_BETTER);
		result_set_reps(&res, ns[k], reps);
		res.cpu_ns = median(cpu[k], reps);
		if (c->impl[k].role != ROLE_REF) {
			res.futex_op = (double)calls[k] / ((double)o->batch * reps);
			snprintf(res.method, sizeof res.method, "%s",
			         c->impl[k].role == ROLE_MPS ? "mps_debug_futex_calls" : "self-count");
		}
		results_add(&res);
	}
}

static void fill_strace(const struct strace_counts *sc)
{
	for (int i = 0; i < NCASES; i++) {
		for (int k = 0; k < cases[i].nimpl; k++) {
			struct result *r = results_find(cases[i].scenario, MODE_NONE, 1, cases[i].impl[k].role);
			int w = i * 3 + k;
			if (!r)
				continue;
			double v = sc->ok && sc->opened[w] ? (double)sc->in_window[w] / STRACE_OPS : NAN;
			if (r->role == ROLE_REF) {
				r->futex_op = v;
				snprintf(r->method, sizeof r->method, "%s",
				         sc->ok ? "strace -f (trace=futex)" : "n/a");
				if (!sc->ok)
					snprintf(r->note, sizeof r->note, "futex count n/a: %.70s", sc->why);
			} else if (sc->ok && v != r->futex_op) {
				snprintf(r->note, sizeof r->note, "strace: %llu futex calls in %ld ops "
				         "(first calls in the process included)",
				         (unsigned long long)sc->in_window[w], STRACE_OPS);
			}
		}
	}
}

void run_uncontended(const struct opts *o)
{
	if (!want(o, "uncontended/"))
		return;
	struct arena *a = arena_new();
	struct uc *u = (struct uc *)a->obj;
	_Static_assert(sizeof(struct uc) <= sizeof a->obj, "arena object area");
	setup(u);
	bool any = false;
	for (int i = 0; i < NCASES; i++) {
		if (!want(o, cases[i].scenario))
			continue;
		run_case(o, &cases[i], u);
		any = true;
	}
	teardown(u);
	arena_free(a);
	if (!any)
		return;
	struct strace_counts sc;
	progress("uncontended: futex syscalls of glibc under strace");
	strace_run(o, "uncontended", &sc);
	fill_strace(&sc);
}

/* Under strace: every loop once, each in its own window. */
void uncontended_strace_child(void)
{
	struct arena *a = arena_new();
	struct uc *u = (struct uc *)a->obj;
	setup(u);
	for (int i = 0; i < NCASES; i++) {
		for (int k = 0; k < cases[i].nimpl; k++) {
			strace_mark(true, i * 3 + k);
			cases[i].impl[k].loop(u, STRACE_OPS);
			strace_mark(true, -1);
		}
	}
	teardown(u);
	arena_free(a);
}
