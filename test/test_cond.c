/* Condition: research/conformance.md §4, in three flavours (threads, forked
 * and spawned processes) and with both lock kinds (Lock and RLock).
 *
 * The parent is the notifier unless a test says otherwise; workers are the
 * waiters. Steps are ordered with the area's counters, mps_cond_n_waiting()
 * (waiters not yet notified) and Events, never with sleeps: the few sleeps
 * below only let time pass for a check that something does NOT happen.
 * Counters a worker bumps after a wait are bumped while it holds the lock,
 * so the parent reads them stably while it holds the lock itself.
 *
 * Not covered here, because the C API has no counterpart:
 *   4.1-4.3  a Condition has no lock of its own (the Lock and RLock suites)
 *   4.5      notify takes no lock argument, so it cannot check ownership
 *   4.19     every mpsync lock is process-shared; every cross-process test
 *            below waits with one. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mpsync/debug.h>
#include "harness.h"

#define LONG_WAIT 10.0    /* bound on every wait that a notify should end */
#define STEP_WAIT 10.0    /* bound on the parent's waits for workers */
#define JOIN_WAIT 25.0    /* joins: a failing worker may sit out LONG_WAIT */

enum lock_kind { KIND_LOCK, KIND_RLOCK };

struct cond_case {
	enum mps_flavour flavour;
	enum lock_kind kind;
};

/* area->counter slots */
enum {
	C_READY,      /* waits entered: bumped under the lock just before waiting */
	C_RETURNED,   /* waits returned (any result) */
	C_DONE,       /* workers that finished their part */
	C_INSIDE,     /* workers inside the critical section after a wait */
	C_PRED,       /* predicate evaluations */
	C_BAD,        /* anomalies a worker saw: lock not held, overlap, bad code */
	C_STOP,       /* set by the parent: looping workers stop */
	C_LONG_IN,    /* long waiters inside wait (mixed test) */
	C_SUCCESS,    /* waits that returned 0 */
	C_TIMEDOUT,   /* waits that returned ETIMEDOUT */
	C_STARTED,    /* timed waiters at the gate (the go Event) */
};

/* area->value slots */
enum {
	V_PHASE = 0,       /* set by the notifier after notify, before release */
	V_STATE = 1,       /* predicate state */
	V_TIMEOUT_MS = 2,  /* timeout for timed waiters */
	V_RETURNED = 3,    /* deep waiter: back from wait */
	V_TID = 4,         /* holder's tid */
	V_MODE = 5,        /* deep waiter: 1 = notify, 0 = time out */
	V_DEPTH = 6,       /* deep waiter: depth per round (2 slots) */
	V_INTRUDED = 8,    /* intruder: 1 got the RLock during the wait (2 slots) */
	V_SEEN = 16,       /* per wait: V_PHASE seen on return, -1 not returned */
	V_RC = 32,         /* per wait: result, -1 not returned */
	N_SLOTS = 16,
};

/* --- cases ------------------------------------------------------------- */

static struct criterion_test_params six_cases(void)
{
	static struct cond_case cases[] = {
		{ MPS_THREADS, KIND_LOCK }, { MPS_FORK, KIND_LOCK }, { MPS_SPAWN, KIND_LOCK },
		{ MPS_THREADS, KIND_RLOCK }, { MPS_FORK, KIND_RLOCK }, { MPS_SPAWN, KIND_RLOCK },
	};
	return cr_make_param_array(struct cond_case, cases, sizeof cases / sizeof cases[0]);
}

static const char *case_name(const struct cond_case *c)
{
	static char buf[64];
	snprintf(buf, sizeof buf, "%s/%s", mps_flavour_name(c->flavour),
	         c->kind == KIND_RLOCK ? "RLock" : "Lock");
	return buf;
}

static bool is_process(enum mps_flavour f)
{
	return f == MPS_FORK || f == MPS_SPAWN;
}

/* --- the lock a scenario waits with: area->arg picks it ------------------ */

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static enum lock_kind kind_of(const struct mps_area *a)
{
	return (enum lock_kind)a->arg;
}

static int lk_acquire(struct mps_area *a)
{
	if (kind_of(a) == KIND_RLOCK)
		return mps_rlock_acquire(&a->rlock, LONG_WAIT);
	return mps_lock_acquire(&a->lock, LONG_WAIT);
}

static int lk_release(struct mps_area *a)
{
	if (kind_of(a) == KIND_RLOCK)
		return mps_rlock_release(&a->rlock);
	return mps_lock_release(&a->lock);
}

static int lk_wait(struct mps_area *a, double timeout)
{
	if (kind_of(a) == KIND_RLOCK)
		return mps_cond_wait(&a->cond, &a->rlock, timeout);
	return mps_cond_wait(&a->cond, &a->lock, timeout);
}

static int lk_wait_for(struct mps_area *a, mps_predicate_fn pred, double timeout)
{
	if (kind_of(a) == KIND_RLOCK)
		return mps_cond_wait_for(&a->cond, &a->rlock, pred, a, timeout);
	return mps_cond_wait_for(&a->cond, &a->lock, pred, a, timeout);
}

/* The caller's depth: 0 when it does not hold the lock, 1 for a held Lock. */
static unsigned lk_depth(const struct mps_area *a)
{
	if (kind_of(a) == KIND_RLOCK)
		return mps_rlock_count(&a->rlock);
	return mps_lock_owner(&a->lock) == my_tid() ? 1 : 0;
}

static pid_t lk_owner(const struct mps_area *a)
{
	if (kind_of(a) == KIND_RLOCK)
		return mps_rlock_owner(&a->rlock);
	return mps_lock_owner(&a->lock);
}

/* --- shared helpers ------------------------------------------------------ */

static void bump(struct mps_area *a, int slot)
{
	mps_count_add(&a->counter[slot], 1);
}

static void drop(struct mps_area *a, int slot)
{
	mps_count_add(&a->counter[slot], UINT32_MAX);
}

static uint32_t count(struct mps_area *a, int slot)
{
	return mps_count_get(&a->counter[slot]);
}

/* Polls until at least n waiters wait un-notified (for ordering only). */
static bool await_waiting(const mps_cond_t *c, unsigned n, double timeout)
{
	double end = mps_now() + timeout;
	while (mps_cond_n_waiting(c) < n) {
		if (mps_now() > end)
			return false;
		mps_sleep(0.0005);
	}
	return true;
}

/* A fresh scenario on the same objects: the Condition and locks are kept. */
static void reset_scenario(struct mps_area *a, enum lock_kind kind)
{
	memset(a->counter, 0, sizeof a->counter);
	memset(a->value, 0, sizeof a->value);
	memset(a->elapsed, 0, sizeof a->elapsed);
	for (int i = 0; i < N_SLOTS; i++) {
		a->value[V_SEEN + i] = -1;
		a->value[V_RC + i] = -1;
	}
	mps_event_clear(&a->go);
	a->arg = kind;
}

/* After a wait: what it returned and which phase it saw, with the lock held
 * exactly once (the roles hold depth 1). */
static void record_return(struct mps_area *a, int slot, int rc)
{
	a->value[V_RC + slot] = rc;
	a->value[V_SEEN + slot] = a->value[V_PHASE];
	if (lk_depth(a) != 1)
		bump(a, C_BAD);
	bump(a, rc == 0 ? C_SUCCESS : C_TIMEDOUT);
	bump(a, C_RETURNED);
}

/* A predicate's bookkeeping: counts calls, checks the lock is held. */
static void pred_probe(struct mps_area *a)
{
	bump(a, C_PRED);
	if (lk_depth(a) == 0)
		bump(a, C_BAD);
}

static bool state_is_4(void *arg)
{
	struct mps_area *a = arg;
	pred_probe(a);
	return a->value[V_STATE] == 4;
}

static bool never_true(void *arg)
{
	pred_probe(arg);
	return false;
}

/* --- parent-side checks -------------------------------------------------- */

static void await_count(const struct cond_case *c, struct mps_area *a, int slot,
                        uint32_t target, const char *what)
{
	cr_assert(mps_count_await(&a->counter[slot], target, STEP_WAIT),
	          "%s: %s never reached %u (is %u)", case_name(c), what, target, count(a, slot));
}

static void parent_lock(const struct cond_case *c, struct mps_area *a)
{
	cr_assert_eq(lk_acquire(a), 0, "%s: parent cannot take the lock", case_name(c));
}

static void parent_unlock(const struct cond_case *c, struct mps_area *a)
{
	cr_assert_eq(lk_release(a), 0, "%s: parent cannot release the lock", case_name(c));
}

static void expect_waiting(const struct cond_case *c, struct mps_area *a, unsigned n,
                           const char *when)
{
	cr_assert_eq(mps_cond_n_waiting(&a->cond), n, "%s: %s: %u waiting, expected %u",
	             case_name(c), when, mps_cond_n_waiting(&a->cond), n);
}

static void notify_expect(const struct cond_case *c, struct mps_area *a, unsigned n,
                          unsigned left)
{
	cr_assert_eq(mps_cond_notify(&a->cond, n), 0);
	cr_assert_eq(mps_cond_n_waiting(&a->cond), left,
	             "%s: notify(%u) left %u un-notified, expected %u",
	             case_name(c), n, mps_cond_n_waiting(&a->cond), left);
}

/* How many of the given wait slots returned having seen this phase. */
static int seen_in_phase(struct mps_area *a, int first, int step, int n, int64_t phase)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += a->value[V_SEEN + first + i * step] == phase;
	return k;
}

static void expect_rcs(const struct cond_case *c, struct mps_area *a, int n, int rc)
{
	for (int i = 0; i < n; i++)
		cr_assert_eq(a->value[V_RC + i], rc, "%s: wait %d returned %lld, expected %d",
		             case_name(c), i, (long long)a->value[V_RC + i], rc);
}

static void expect_elapsed(const struct cond_case *c, double elapsed, double t)
{
	cr_assert(elapsed >= t - 0.001, "%s: returned after %.3f s, before the timeout %.3f s",
	          case_name(c), elapsed, t);
	cr_assert(elapsed < t + mps_slack(), "%s: returned after %.3f s for a timeout of %.3f s",
	          case_name(c), elapsed, t);
}

/* Lets n timed waiters (all started) begin their waits together. */
static void open_gate(const struct cond_case *c, struct mps_area *a, uint32_t n)
{
	await_count(c, a, C_STARTED, n, "timed waiters started");
	mps_event_set(&a->go);
}

static void join_ok(const struct cond_case *c, struct mps_workers *w)
{
	cr_assert_eq(mps_workers_join(w, JOIN_WAIT), 0, "%s: a worker failed", case_name(c));
}

static void expect_idle(const struct cond_case *c, struct mps_area *a)
{
	expect_waiting(c, a, 0, "at the end");
	cr_assert_eq(count(a, C_BAD), 0, "%s: a worker saw an anomaly (lock not held "
	             "exactly once, overlap or bad code)", case_name(c));
	cr_assert_eq(lk_owner(a), 0, "%s: lock still held at the end", case_name(c));
}

/* Starts n_proc workers of c's flavour (indices 0..) and n_thr threads after them. */
static void start_mixed(struct mps_workers w[2], const struct cond_case *c, struct mps_area *a,
                        mps_role_fn role, int n_proc, int n_thr)
{
	mps_workers_start(&w[0], c->flavour, a, role, n_proc, 0);
	mps_workers_start(&w[1], MPS_THREADS, a, role, n_thr, n_proc);
}

static void join_mixed(const struct cond_case *c, struct mps_workers w[2])
{
	join_ok(c, &w[0]);
	join_ok(c, &w[1]);
}

/* --- roles --------------------------------------------------------------- */

/* One wait, bounded by LONG_WAIT; records its result in slot index. */
static int one_wait(struct mps_area *a, int index)
{
	if (lk_acquire(a) != 0)
		return 1;
	bump(a, C_READY);
	int rc = lk_wait(a, LONG_WAIT);
	record_return(a, index, rc);
	return lk_release(a) == 0 ? 0 : 2;
}

/* Two waits in a row (CPython's _check_notify): slots 2*index and 2*index+1. */
static int two_waits(struct mps_area *a, int index)
{
	for (int k = 0; k < 2; k++) {
		if (lk_acquire(a) != 0)
			return 1;
		bump(a, C_READY);
		int rc = lk_wait(a, LONG_WAIT);
		record_return(a, 2 * index + k, rc);
		if (lk_release(a) != 0)
			return 2;
	}
	return 0;
}

/* Once the parent sets go (so that all of them wait at once, however slowly
 * they started), one wait of value[V_TIMEOUT_MS]; records result and time. */
static int timed_wait(struct mps_area *a, int index)
{
	double t = (double)a->value[V_TIMEOUT_MS] / 1000.0;
	bump(a, C_STARTED);
	if (mps_event_wait(&a->go, LONG_WAIT) != 0)
		return 3;
	if (lk_acquire(a) != 0)
		return 1;
	bump(a, C_READY);
	double t0 = mps_now();
	int rc = lk_wait(a, t);
	a->elapsed[index] = mps_now() - t0;
	record_return(a, index, rc);
	int r = lk_release(a);
	bump(a, C_DONE);
	return r == 0 ? 0 : 2;
}

/* Waits for a notify, then checks it holds the lock alone. */
static int exclusive_waiter(struct mps_area *a, int index)
{
	if (lk_acquire(a) != 0)
		return 1;
	bump(a, C_READY);
	int rc = lk_wait(a, LONG_WAIT);
	record_return(a, index, rc);
	if (mps_count_add(&a->counter[C_INSIDE], 1) != 1)
		bump(a, C_BAD);
	for (int i = 0; i < 3; i++)
		sched_yield();
	drop(a, C_INSIDE);
	return lk_release(a) == 0 ? 0 : 2;
}

/* Notifies once somebody waits; sets V_STATE to 42 before releasing. */
static int notify_when_waiting(struct mps_area *a, int index)
{
	(void)index;
	if (!await_waiting(&a->cond, 1, LONG_WAIT))
		return 3;
	if (lk_acquire(a) != 0)
		return 1;
	a->value[V_STATE] = 42;
	mps_cond_notify(&a->cond, 1);
	return lk_release(a) == 0 ? 0 : 2;
}

/* wait_for(state == 4) bounded by LONG_WAIT. */
static int wait_for_four(struct mps_area *a, int index)
{
	if (lk_acquire(a) != 0)
		return 1;
	bump(a, C_READY);
	int rc = lk_wait_for(a, state_is_4, LONG_WAIT);
	record_return(a, index, rc);
	return lk_release(a) == 0 ? 0 : 2;
}

/* wait_for(never) with a 0.1 s timeout; records elapsed time. */
static int wait_for_never(struct mps_area *a, int index)
{
	if (lk_acquire(a) != 0)
		return 1;
	bump(a, C_READY);
	double t0 = mps_now();
	int rc = lk_wait_for(a, never_true, 0.1);
	a->elapsed[index] = mps_now() - t0;
	record_return(a, index, rc);
	int r = lk_release(a);
	bump(a, C_DONE);
	return r == 0 ? 0 : 2;
}

/* Holds the Lock and the RLock (two levels) until the parent sets go. */
static int hold_until_go(struct mps_area *a, int index)
{
	(void)index;
	if (mps_lock_acquire(&a->lock, LONG_WAIT) != 0)
		return 1;
	if (mps_rlock_acquire(&a->rlock, LONG_WAIT) != 0 || mps_rlock_acquire(&a->rlock, LONG_WAIT) != 0)
		return 2;
	a->value[V_TID] = my_tid();
	bump(a, C_READY);
	int rc = mps_event_wait(&a->go, LONG_WAIT);
	bool depth_ok = mps_rlock_count(&a->rlock) == 2;
	int r1 = mps_rlock_release(&a->rlock), r2 = mps_rlock_release(&a->rlock);
	int r3 = mps_lock_release(&a->lock);
	return rc == 0 && depth_ok && r1 == 0 && r2 == 0 && r3 == 0 ? 0 : 3;
}

/* --- 4.4: wait without holding the lock ----------------------------------- */

/* Both kinds: wait, poll and wait_for refuse at once with EPERM and change nothing. */
static void check_eperm(struct mps_area *a, const char *when)
{
	mps_cond_t before = a->cond;
	for (int kind = KIND_LOCK; kind <= KIND_RLOCK; kind++) {
		a->arg = kind;
		const char *name = kind == KIND_RLOCK ? "RLock" : "Lock";
		double t0 = mps_now();
		int rc = lk_wait(a, 1.0);
		double elapsed = mps_now() - t0;
		cr_assert_eq(rc, EPERM, "%s, %s: wait returned %d, not EPERM", when, name, rc);
		cr_assert(elapsed < mps_slack(), "%s, %s: EPERM after %.3f s", when, name, elapsed);
		cr_assert_eq(lk_wait(a, 0), EPERM, "%s, %s: wait(0)", when, name);
		cr_assert_eq(lk_wait_for(a, state_is_4, 1.0), EPERM, "%s, %s: wait_for", when, name);
		cr_assert_eq(lk_depth(a), 0, "%s, %s: the caller now holds the lock", when, name);
	}
	cr_assert_eq(mps_cond_n_waiting(&a->cond), 0, "%s: a refused wait left a waiter", when);
	cr_assert(memcmp(&before, &a->cond, sizeof before) == 0, "%s: a refused wait changed "
	          "the Condition", when);
}

MPS_FLAVOURS(cond, wait_unheld_eperm)
ParameterizedTest(enum mps_flavour *f, cond, wait_unheld_eperm, .timeout = 60)
{
	/* 4.4: with the Lock and the RLock free, then held by another worker
	 * (the RLock two levels deep): EPERM at once, nothing changed. */
	struct mps_area *a = mps_area_create();
	check_eperm(a, "lock free");
	cr_assert(!mps_lock_locked(&a->lock) && !mps_rlock_locked(&a->rlock));

	struct mps_workers w;
	mps_workers_start(&w, *f, a, hold_until_go, 1, 0);
	cr_assert(mps_count_await(&a->counter[C_READY], 1, STEP_WAIT));
	check_eperm(a, "lock held by another worker");
	cr_assert_eq(mps_lock_owner(&a->lock), (pid_t)a->value[V_TID], "Lock owner changed");
	cr_assert_eq(mps_rlock_owner(&a->rlock), (pid_t)a->value[V_TID], "RLock owner changed");
	mps_event_set(&a->go);
	cr_assert_eq(mps_workers_join(&w, JOIN_WAIT), 0, "%s: the holder lost its locks "
	             "or its RLock depth", mps_flavour_name(*f));
	cr_assert(!mps_lock_locked(&a->lock) && !mps_rlock_locked(&a->rlock));
	mps_area_destroy(a);
}

/* --- 4.6: an RLock held N levels ----------------------------------------- */

/* Index 0: holds the RLock value[V_DEPTH+round] levels and waits. */
static int deep_waiter(struct mps_area *a, int index)
{
	(void)index;
	for (int round = 0; round < 2; round++) {
		unsigned depth = (unsigned)a->value[V_DEPTH + round];
		for (unsigned i = 0; i < depth; i++)
			if (mps_rlock_acquire(&a->rlock, LONG_WAIT) != 0)
				return 1;
		a->value[V_RETURNED] = 0;
		bump(a, C_READY);
		double t0 = mps_now();
		int rc = mps_cond_wait(&a->cond, &a->rlock, (double)a->value[V_TIMEOUT_MS] / 1000.0);
		a->elapsed[round] = mps_now() - t0;
		a->value[V_RETURNED] = 1;
		a->value[V_RC + round] = rc;
		a->value[V_SEEN + round] = mps_rlock_count(&a->rlock);
		for (unsigned i = 0; i < depth; i++)
			if (mps_rlock_release(&a->rlock) != 0)
				return 2;
		if (mps_rlock_release(&a->rlock) != EPERM)
			return 3;   /* more levels than it took */
		if (!mps_count_await(&a->counter[C_DONE], (uint32_t)round + 1, LONG_WAIT))
			return 4;
	}
	return 0;
}

/* Index 1: takes the RLock while the deep waiter waits; notifies in notify mode. */
static int intruder(struct mps_area *a, int index)
{
	(void)index;
	for (int round = 0; round < 2; round++) {
		if (!mps_count_await(&a->counter[C_READY], (uint32_t)round + 1, LONG_WAIT))
			return 1;
		if (mps_rlock_acquire(&a->rlock, LONG_WAIT) != 0)
			return 2;
		a->value[V_INTRUDED + round] = a->value[V_RETURNED] == 0 ? 1 : -1;
		if (a->value[V_MODE])
			mps_cond_notify(&a->cond, 1);
		if (mps_rlock_release(&a->rlock) != 0)
			return 3;
		bump(a, C_DONE);
	}
	return 0;
}

static void check_deep(enum mps_flavour f, bool notify_mode)
{
	struct cond_case c = { f, KIND_RLOCK };
	struct mps_area *a = mps_area_create();
	reset_scenario(a, KIND_RLOCK);
	a->value[V_MODE] = notify_mode;
	a->value[V_TIMEOUT_MS] = notify_mode ? 10000 : 500;
	a->value[V_DEPTH + 0] = 3;
	a->value[V_DEPTH + 1] = 7;
	struct mps_workers waiter, other;
	mps_workers_start(&waiter, f, a, deep_waiter, 1, 0);
	mps_workers_start(&other, f, a, intruder, 1, 1);
	join_ok(&c, &waiter);
	join_ok(&c, &other);
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(a->value[V_INTRUDED + round], 1, "%s round %d: another worker could "
		             "not take the RLock while it was waited on", case_name(&c), round);
		cr_assert_eq(a->value[V_RC + round], notify_mode ? 0 : ETIMEDOUT,
		             "%s round %d: wait returned %lld", case_name(&c), round,
		             (long long)a->value[V_RC + round]);
		cr_assert_eq(a->value[V_SEEN + round], a->value[V_DEPTH + round],
		             "%s round %d: depth %lld after the wait, held %lld before",
		             case_name(&c), round, (long long)a->value[V_SEEN + round],
		             (long long)a->value[V_DEPTH + round]);
		if (!notify_mode)
			expect_elapsed(&c, a->elapsed[round], 0.5);
	}
	cr_assert(!mps_rlock_locked(&a->rlock));
	expect_waiting(&c, a, 0, "at the end");
	mps_area_destroy(a);
}

MPS_FLAVOURS(cond, rlock_levels_on_notify)
ParameterizedTest(enum mps_flavour *f, cond, rlock_levels_on_notify, .timeout = 60)
{
	check_deep(*f, true);   /* 4.6: depth 3 then 7, restored after a notify */
}

MPS_FLAVOURS(cond, rlock_levels_on_timeout)
ParameterizedTest(enum mps_flavour *f, cond, rlock_levels_on_timeout, .timeout = 60)
{
	check_deep(*f, false);  /* 4.6: depth 3 then 7, restored after a timeout */
}

/* --- 4.7, 4.8, 4.18: CPython's _check_notify -------------------------------- */

/* The waiters, five of them, each wait twice. Phase 1: notify(3) with 5
 * waiting wakes exactly 3, which wait again. Phase 2: notify(5) wakes the 2
 * first-time and the 3 second-time waiters. Phase 3: notify_all wakes the
 * last 2. V_PHASE is set after each notify and before the release (4.7). */
static void phase_one(const struct cond_case *c, struct mps_area *a)
{
	parent_lock(c, a);
	expect_waiting(c, a, 5, "before notify(3)");
	notify_expect(c, a, 3, 2);
	a->value[V_PHASE] = 1;
	parent_unlock(c, a);
	await_count(c, a, C_RETURNED, 3, "returns after notify(3)");
	await_count(c, a, C_READY, 8, "second waits of the woken three");
	parent_lock(c, a);
	cr_assert_eq(count(a, C_RETURNED), 3, "%s: notify(3) woke %u", case_name(c),
	             count(a, C_RETURNED));
	expect_waiting(c, a, 5, "after the three re-entered");
	cr_assert_eq(seen_in_phase(a, 0, 2, 5, 1), 3, "%s: first waits that saw phase 1",
	             case_name(c));
	cr_assert_eq(seen_in_phase(a, 1, 2, 5, -1), 5, "%s: a second wait returned in "
	             "phase 1: a re-entered waiter took an earlier waiter's wake-up", case_name(c));
}

static void phase_two(const struct cond_case *c, struct mps_area *a)
{
	notify_expect(c, a, 5, 0);
	a->value[V_PHASE] = 2;
	parent_unlock(c, a);
	await_count(c, a, C_RETURNED, 8, "returns after notify(5)");
	await_count(c, a, C_READY, 10, "second waits of the last two");
	parent_lock(c, a);
	cr_assert_eq(count(a, C_RETURNED), 8, "%s: notify(5) woke %u", case_name(c),
	             count(a, C_RETURNED) - 3);
	expect_waiting(c, a, 2, "after notify(5)");
	cr_assert_eq(seen_in_phase(a, 0, 2, 5, 2), 2, "%s: first waits in phase 2", case_name(c));
	cr_assert_eq(seen_in_phase(a, 1, 2, 5, 2), 3, "%s: second waits in phase 2", case_name(c));
}

static void phase_three(const struct cond_case *c, struct mps_area *a)
{
	cr_assert_eq(mps_cond_notify_all(&a->cond), 0);
	expect_waiting(c, a, 0, "after notify_all");
	a->value[V_PHASE] = 3;
	parent_unlock(c, a);
	await_count(c, a, C_RETURNED, 10, "returns after notify_all");
}

static void notify_sequence(const struct cond_case *c, struct mps_area *a)
{
	reset_scenario(a, c->kind);
	struct mps_workers w;
	mps_workers_start(&w, c->flavour, a, two_waits, 5, 0);
	await_count(c, a, C_READY, 5, "first waits");
	phase_one(c, a);
	phase_two(c, a);
	phase_three(c, a);
	join_ok(c, &w);
	expect_rcs(c, a, 10, 0);
	cr_assert_eq(seen_in_phase(a, 0, 1, 10, 1), 3, "%s: returns in phase 1", case_name(c));
	cr_assert_eq(seen_in_phase(a, 0, 1, 10, 2), 5, "%s: returns in phase 2", case_name(c));
	cr_assert_eq(seen_in_phase(a, 1, 2, 5, 3), 2, "%s: returns in phase 3", case_name(c));
	expect_idle(c, a);
}

ParameterizedTestParameters(cond, notify_exact_phases) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, notify_exact_phases, .timeout = 60)
{
	/* 4.7, 4.8, 4.18: the whole sequence twice on the same Condition. */
	struct mps_area *a = mps_area_create();
	notify_sequence(c, a);
	notify_sequence(c, a);
	mps_area_destroy(a);
}

/* --- 4.8, 4.18: a later waiter never takes an earlier waiter's wake-up ----- */

/* SIGSTOPs the workers and waits until all of them are stopped; asserts
 * nothing, so that the caller can SIGCONT them before it asserts. */
static bool stop_all(struct mps_workers *w)
{
	if (mps_workers_kill(w, SIGSTOP) != 0)
		return false;
	double end = mps_now() + STEP_WAIT;
	for (int i = 0; i < w->n; i++)
		if (!mps_await_task_state(w->pids[i], "T", end - mps_now()))
			return false;
	return true;
}

/* Five wait; notify(3) chooses three of them; then the notifier itself waits
 * 0.2 s. It started waiting after the notify, so it must time out. With
 * processes the five are stopped (SIGSTOP) during the notify, so the three
 * chosen ones cannot collect their wake-ups before the notifier's wait could
 * take one; with threads the race is left to chance. */
static void steal_round(const struct cond_case *c, struct mps_area *a)
{
	reset_scenario(a, c->kind);
	struct mps_workers w;
	mps_workers_start(&w, c->flavour, a, one_wait, 5, 0);
	await_count(c, a, C_READY, 5, "waits");
	parent_lock(c, a);
	expect_waiting(c, a, 5, "before notify(3)");
	bool stopped = is_process(c->flavour) ? stop_all(&w) : true;
	cr_assert_eq(mps_cond_notify(&a->cond, 3), 0);
	unsigned left = mps_cond_n_waiting(&a->cond);
	a->value[V_PHASE] = 1;
	int rc = lk_wait(a, 0.2);
	uint32_t returned = count(a, C_RETURNED);
	if (is_process(c->flavour))   /* before any assert: leave no stopped worker */
		cr_assert_eq(mps_workers_kill(&w, SIGCONT), 0);
	cr_assert(stopped, "%s: the workers did not stop", case_name(c));
	cr_assert_eq(left, 2, "%s: notify(3) left %u of 5 un-notified", case_name(c), left);
	cr_assert_eq(rc, ETIMEDOUT, "%s: a wait begun after notify(3) returned %d: it took "
	             "a wake-up meant for an earlier waiter", case_name(c), rc);
	cr_assert(returned <= 3, "%s: notify(3) woke %u", case_name(c), returned);
	expect_waiting(c, a, 2, "after the notifier's own wait");
	parent_unlock(c, a);
	await_count(c, a, C_RETURNED, 3, "returns after notify(3)");
	parent_lock(c, a);
	cr_assert_eq(count(a, C_RETURNED), 3, "%s: notify(3) woke %u", case_name(c),
	             count(a, C_RETURNED));
	notify_expect(c, a, 2, 0);
	a->value[V_PHASE] = 2;
	parent_unlock(c, a);
	join_ok(c, &w);
	expect_rcs(c, a, 5, 0);
	cr_assert_eq(seen_in_phase(a, 0, 1, 5, 1), 3, "%s: returns in phase 1", case_name(c));
	cr_assert_eq(seen_in_phase(a, 0, 1, 5, 2), 2, "%s: returns in phase 2", case_name(c));
	expect_idle(c, a);
}

ParameterizedTestParameters(cond, later_waiter_never_steals) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, later_waiter_never_steals, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	steal_round(c, a);
	steal_round(c, a);
	mps_area_destroy(a);
}

/* --- 4.9, 4.10: notify(n) across processes and threads --------------------- */

/* n_proc workers of c's flavour and n_thr threads wait; notify(n1) wakes
 * exactly n1, notify(n2) the rest; then notify(3) with nobody waiting is not
 * remembered: a later waiter times out. */
static void notify_n_round(const struct cond_case *c, struct mps_area *a, int n_proc,
                           int n_thr, unsigned n1)
{
	unsigned total = (unsigned)(n_proc + n_thr), n2 = total - n1;
	reset_scenario(a, c->kind);
	struct mps_workers w[2];
	start_mixed(w, c, a, one_wait, n_proc, n_thr);
	await_count(c, a, C_READY, total, "waits");
	parent_lock(c, a);
	expect_waiting(c, a, total, "before the first notify");
	notify_expect(c, a, n1, n2);
	a->value[V_PHASE] = 1;
	parent_unlock(c, a);
	await_count(c, a, C_RETURNED, n1, "returns after the first notify");
	parent_lock(c, a);
	cr_assert_eq(count(a, C_RETURNED), n1, "%s: notify(%u) woke %u", case_name(c), n1,
	             count(a, C_RETURNED));
	expect_waiting(c, a, n2, "after the first notify");
	notify_expect(c, a, n2, 0);
	a->value[V_PHASE] = 2;
	parent_unlock(c, a);
	join_mixed(c, w);
	expect_rcs(c, a, (int)total, 0);
	cr_assert_eq(seen_in_phase(a, 0, 1, (int)total, 1), (int)n1, "%s: phase 1", case_name(c));
	cr_assert_eq(seen_in_phase(a, 0, 1, (int)total, 2), (int)n2, "%s: phase 2", case_name(c));
}

/* notify(3) with nobody waiting, then one waiter of 0.2 s: it must time out. */
static void notify_not_remembered(const struct cond_case *c, struct mps_area *a)
{
	parent_lock(c, a);
	expect_waiting(c, a, 0, "before notify(3) to nobody");
	cr_assert_eq(mps_cond_notify(&a->cond, 3), 0);
	parent_unlock(c, a);
	reset_scenario(a, c->kind);
	a->value[V_TIMEOUT_MS] = 200;
	struct mps_workers w;
	mps_workers_start(&w, c->flavour, a, timed_wait, 1, 0);
	open_gate(c, a, 1);
	join_ok(c, &w);
	cr_assert_eq(a->value[V_RC], ETIMEDOUT, "%s: a notify to nobody was remembered: "
	             "the later wait returned %lld", case_name(c), (long long)a->value[V_RC]);
	expect_elapsed(c, a->elapsed[0], 0.2);
	expect_idle(c, a);
}

ParameterizedTestParameters(cond, notify_one_each) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, notify_one_each, .timeout = 60)
{
	/* 4.9: one process and one thread wait; notify() wakes one, then the other. */
	struct mps_area *a = mps_area_create();
	notify_n_round(c, a, 1, 1, 1);
	notify_n_round(c, a, 1, 1, 1);
	mps_area_destroy(a);
}

ParameterizedTestParameters(cond, notify_n_mixed) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, notify_n_mixed, .timeout = 60)
{
	/* 4.10: 3 processes + 3 threads; notify(2) wakes 2, notify(4) the other 4;
	 * notify(3) to nobody is not remembered. Twice on the same Condition. */
	struct mps_area *a = mps_area_create();
	for (int round = 0; round < 2; round++) {
		notify_n_round(c, a, 3, 3, 2);
		notify_not_remembered(c, a);
	}
	mps_area_destroy(a);
}

/* --- 4.11 and the herd: notify_all -------------------------------------- */

/* 8 waiters (4 of c's flavour, 4 threads) do not wake on their own within
 * 0.1 s; notify_all, called with the lock held, costs the notifier O(1) futex
 * syscalls (no wake-up of each, no herd into the held lock); then all 8
 * return, one at a time, each holding the lock, each with 0. */
static void notify_all_round(const struct cond_case *c, struct mps_area *a)
{
	reset_scenario(a, c->kind);
	struct mps_workers w[2];
	start_mixed(w, c, a, exclusive_waiter, 4, 4);
	await_count(c, a, C_READY, 8, "waits");
	mps_sleep(0.1);   /* lets time pass: nobody may wake on its own */
	parent_lock(c, a);
	cr_assert_eq(count(a, C_RETURNED), 0, "%s: a waiter returned without a notify",
	             case_name(c));
	expect_waiting(c, a, 8, "before notify_all");
	uint64_t before = mps_debug_futex_calls();
	cr_assert_eq(mps_cond_notify_all(&a->cond), 0);
	uint64_t calls = mps_debug_futex_calls() - before;
	expect_waiting(c, a, 0, "after notify_all");
	cr_assert(calls <= 3, "%s: notify_all of 8 waiters made %llu futex calls",
	          case_name(c), (unsigned long long)calls);
	parent_unlock(c, a);
	join_mixed(c, w);
	cr_assert_eq(count(a, C_RETURNED), 8, "%s: notify_all woke %u of 8", case_name(c),
	             count(a, C_RETURNED));
	expect_rcs(c, a, 8, 0);
	expect_idle(c, a);
}

ParameterizedTestParameters(cond, notify_all_requeue) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, notify_all_requeue, .timeout = 60)
{
	/* 4.11 + no herd: twice on the same Condition. */
	struct mps_area *a = mps_area_create();
	notify_all_round(c, a);
	notify_all_round(c, a);
	mps_area_destroy(a);
}

/* --- 4.12, 4.13: timeouts ------------------------------------------------ */

/* n_proc of c's flavour and n_thr threads each wait ms milliseconds. */
static void all_time_out(const struct cond_case *c, struct mps_area *a, int n_proc,
                         int n_thr, int ms)
{
	int n = n_proc + n_thr;
	reset_scenario(a, c->kind);
	a->value[V_TIMEOUT_MS] = ms;
	struct mps_workers w[2];
	if (n_thr > 0) {
		start_mixed(w, c, a, timed_wait, n_proc, n_thr);
		open_gate(c, a, (uint32_t)n);
		join_mixed(c, w);
	} else {
		mps_workers_start(&w[0], c->flavour, a, timed_wait, n_proc, 0);
		open_gate(c, a, (uint32_t)n);
		join_ok(c, &w[0]);
	}
	expect_rcs(c, a, n, ETIMEDOUT);
	for (int i = 0; i < n; i++)
		expect_elapsed(c, a->elapsed[i], ms / 1000.0);
	expect_idle(c, a);
}

/* After timeouts: 3 new waiters; notify(1) wakes exactly one, notify(10) the
 * two others (at most n: exactly min(n, waiting)). */
static void later_notify_exact(const struct cond_case *c, struct mps_area *a)
{
	reset_scenario(a, c->kind);
	struct mps_workers w;
	mps_workers_start(&w, c->flavour, a, one_wait, 3, 0);
	await_count(c, a, C_READY, 3, "waits");
	parent_lock(c, a);
	expect_waiting(c, a, 3, "after the timeouts, before notify(1)");
	notify_expect(c, a, 1, 2);
	a->value[V_PHASE] = 1;
	parent_unlock(c, a);
	await_count(c, a, C_RETURNED, 1, "return after notify(1)");
	parent_lock(c, a);
	cr_assert_eq(count(a, C_RETURNED), 1, "%s: notify(1) woke %u", case_name(c),
	             count(a, C_RETURNED));
	notify_expect(c, a, 10, 0);
	a->value[V_PHASE] = 2;
	parent_unlock(c, a);
	join_ok(c, &w);
	expect_rcs(c, a, 3, 0);
	cr_assert_eq(seen_in_phase(a, 0, 1, 3, 1), 1, "%s: phase 1", case_name(c));
	cr_assert_eq(seen_in_phase(a, 0, 1, 3, 2), 2, "%s: phase 2", case_name(c));
	expect_idle(c, a);
}

ParameterizedTestParameters(cond, timeouts_leave_no_residue) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, timeouts_leave_no_residue, .timeout = 60)
{
	/* 4.12: 6 waiters (3 + 3 threads) time out; nothing is left: no waiter
	 * count (n_waiting 0), no pending wake-up (a lone later waiter times
	 * out), and a later notify(1) wakes exactly one. Twice. */
	struct mps_area *a = mps_area_create();
	for (int round = 0; round < 2; round++) {
		all_time_out(c, a, 3, 3, 200);
		all_time_out(c, a, 1, 0, 100);
		later_notify_exact(c, a);
	}
	mps_area_destroy(a);
}

ParameterizedTestParameters(cond, wait_timeout) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, wait_timeout, .timeout = 60)
{
	/* 4.13: 5 concurrent wait(0.5) with no notify return ETIMEDOUT after ~0.5 s. */
	struct mps_area *a = mps_area_create();
	all_time_out(c, a, 5, 0, 500);
	mps_area_destroy(a);
}

/* --- 4.14: wait results -------------------------------------------------- */

static void parent_lock_depth(const struct cond_case *c, struct mps_area *a, unsigned depth)
{
	for (unsigned i = 0; i < depth; i++)
		parent_lock(c, a);
}

static void parent_unlock_depth(const struct cond_case *c, struct mps_area *a, unsigned depth)
{
	for (unsigned i = 0; i < depth; i++)
		parent_unlock(c, a);
}

/* Polls and bad timeouts return at once with the lock still held. */
static void check_polls(const struct cond_case *c, struct mps_area *a, unsigned depth)
{
	cr_assert_eq(lk_wait(a, 0), ETIMEDOUT, "%s: wait(0)", case_name(c));
	cr_assert_eq(lk_wait(a, -1), ETIMEDOUT, "%s: wait(-1)", case_name(c));
	cr_assert_eq(lk_wait(a, NAN), EINVAL, "%s: wait(NaN)", case_name(c));
	cr_assert_eq(lk_depth(a), depth, "%s: depth changed by a poll", case_name(c));
	double t0 = mps_now();
	cr_assert_eq(lk_wait(a, 0.1), ETIMEDOUT, "%s: wait(0.1) with nobody notifying",
	             case_name(c));
	expect_elapsed(c, mps_now() - t0, 0.1);
	cr_assert_eq(lk_depth(a), depth, "%s: depth changed by a timed-out wait", case_name(c));
	expect_waiting(c, a, 0, "after the polls");
}

/* The parent waits (RLock: 2 levels); another worker notifies: 0, state seen. */
static void notified_by_other(const struct cond_case *c, struct mps_area *a, unsigned depth)
{
	reset_scenario(a, c->kind);
	parent_lock_depth(c, a, depth);
	struct mps_workers w;
	mps_workers_start(&w, c->flavour, a, notify_when_waiting, 1, 0);
	int rc = lk_wait(a, LONG_WAIT);
	cr_assert_eq(rc, 0, "%s: notified wait returned %d", case_name(c), rc);
	cr_assert_eq(a->value[V_STATE], 42, "%s: the notifier's change is not visible",
	             case_name(c));
	cr_assert_eq(lk_depth(a), depth, "%s: depth %u after a notified wait, %u before",
	             case_name(c), lk_depth(a), depth);
	parent_unlock_depth(c, a, depth);
	join_ok(c, &w);
	expect_idle(c, a);
}

ParameterizedTestParameters(cond, wait_results) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, wait_results, .timeout = 60)
{
	/* 4.14: wait(0), wait(-1) → ETIMEDOUT at once; wait(NaN) → EINVAL;
	 * wait(0.1) → ETIMEDOUT; a wait another worker notifies → 0. Twice. */
	struct mps_area *a = mps_area_create();
	unsigned depth = c->kind == KIND_RLOCK ? 2 : 1;
	reset_scenario(a, c->kind);
	parent_lock_depth(c, a, depth);
	check_polls(c, a, depth);
	parent_unlock_depth(c, a, depth);
	notified_by_other(c, a, depth);
	notified_by_other(c, a, depth);
	mps_area_destroy(a);
}

/* --- 4.15-4.17: wait_for ------------------------------------------------- */

static void check_wait_for_at_once(enum lock_kind kind)
{
	struct cond_case c = { MPS_THREADS, kind };
	struct mps_area *a = mps_area_create();
	unsigned depth = kind == KIND_RLOCK ? 2 : 1;
	reset_scenario(a, kind);
	parent_lock_depth(&c, a, depth);
	a->value[V_STATE] = 4;
	uint64_t before = mps_debug_futex_calls();
	cr_assert_eq(lk_wait_for(a, state_is_4, LONG_WAIT), 0, "%s: true predicate", case_name(&c));
	cr_assert_eq(mps_debug_futex_calls(), before, "%s: wait_for slept although the "
	             "predicate held", case_name(&c));
	cr_assert_eq(count(a, C_PRED), 1, "%s: predicate evaluated %u times", case_name(&c),
	             count(a, C_PRED));
	cr_assert_eq(lk_wait_for(a, state_is_4, 0), 0, "%s: true predicate, poll", case_name(&c));
	a->value[V_STATE] = 0;
	cr_assert_eq(lk_wait_for(a, state_is_4, 0), ETIMEDOUT, "%s: false, poll", case_name(&c));
	cr_assert_eq(lk_wait_for(a, state_is_4, -1), ETIMEDOUT, "%s: false, -1", case_name(&c));
	cr_assert_eq(count(a, C_PRED), 4, "%s: a poll evaluates the predicate once",
	             case_name(&c));
	cr_assert_eq(lk_wait_for(a, state_is_4, NAN), EINVAL, "%s: NaN", case_name(&c));
	cr_assert_eq(lk_depth(a), depth, "%s: depth changed", case_name(&c));
	parent_unlock_depth(&c, a, depth);
	expect_idle(&c, a);
	mps_area_destroy(a);
}

Test(cond, wait_for_already_true, .timeout = 60)
{
	/* 4.15: a predicate that holds returns 0 at once, without a futex call,
	 * evaluated once with the lock held; a false one polls once. */
	check_wait_for_at_once(KIND_LOCK);
	check_wait_for_at_once(KIND_RLOCK);
}

/* A worker wait_for(state == 4); the parent increments state 4 times, each
 * time once the worker is back in wait, with notify(1). */
static void increments_round(const struct cond_case *c, struct mps_area *a)
{
	reset_scenario(a, c->kind);
	struct mps_workers w;
	mps_workers_start(&w, c->flavour, a, wait_for_four, 1, 0);
	for (int i = 1; i <= 4; i++) {
		cr_assert(await_waiting(&a->cond, 1, STEP_WAIT), "%s: the worker is not waiting "
		          "before increment %d", case_name(c), i);
		parent_lock(c, a);
		a->value[V_STATE] = i;
		a->value[V_PHASE] = i;
		cr_assert_eq(mps_cond_notify(&a->cond, 1), 0);
		parent_unlock(c, a);
	}
	join_ok(c, &w);
	cr_assert_eq(a->value[V_RC], 0, "%s: wait_for returned %lld", case_name(c),
	             (long long)a->value[V_RC]);
	cr_assert_eq(a->value[V_SEEN], 4, "%s: returned in phase %lld", case_name(c),
	             (long long)a->value[V_SEEN]);
	cr_assert(count(a, C_PRED) >= 5, "%s: predicate evaluated %u times for 4 notifies",
	          case_name(c), count(a, C_PRED));
	expect_idle(c, a);
}

ParameterizedTestParameters(cond, wait_for_increments) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, wait_for_increments, .timeout = 60)
{
	/* 4.15 (predicate run with the lock held), 4.16. Twice. */
	struct mps_area *a = mps_area_create();
	increments_round(c, a);
	increments_round(c, a);
	mps_area_destroy(a);
}

ParameterizedTestParameters(cond, wait_for_single_deadline) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, wait_for_single_deadline, .timeout = 60)
{
	/* 4.17: a wait_for(never, 0.1) gets a notify every 30 ms (for up to 3 s)
	 * and still returns ETIMEDOUT after ~0.1 s in total. */
	struct mps_area *a = mps_area_create();
	reset_scenario(a, c->kind);
	struct mps_workers w;
	mps_workers_start(&w, c->flavour, a, wait_for_never, 1, 0);
	await_count(c, a, C_READY, 1, "wait_for");
	double end = mps_now() + 3.0;
	while (count(a, C_DONE) == 0 && mps_now() < end) {
		parent_lock(c, a);
		cr_assert_eq(mps_cond_notify(&a->cond, 1), 0);
		parent_unlock(c, a);
		mps_sleep(0.03);
	}
	join_ok(c, &w);
	cr_assert_eq(a->value[V_RC], ETIMEDOUT, "%s: wait_for returned %lld", case_name(c),
	             (long long)a->value[V_RC]);
	expect_elapsed(c, a->elapsed[0], 0.1);
	cr_assert(count(a, C_PRED) >= 2, "%s: no notify reached the wait_for (predicate "
	          "evaluated %u times)", case_name(c), count(a, C_PRED));
	expect_idle(c, a);
	mps_area_destroy(a);
}

/* --- spurious wake-ups ---------------------------------------------------- */

static long raw_futex_wake(uint32_t *word)
{
	return syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* While the waiters wait: notify(0), raw futex wake-ups of the Condition's
 * word, and unrelated Lock and Event traffic. Returns how many sleepers the
 * raw wake-ups woke. */
static long disturb(const struct cond_case *c, struct mps_area *a, uint32_t n)
{
	long woken = 0;
	double end = mps_now() + 5.0;
	while (count(a, C_DONE) < n && mps_now() < end) {
		parent_lock(c, a);
		cr_assert_eq(mps_cond_notify(&a->cond, 0), 0);
		parent_unlock(c, a);
		/* The futex word: the low half of groups (design.md §7). */
		long r = raw_futex_wake((uint32_t *)&a->cond.groups);
		woken += r > 0 ? r : 0;
		mps_event_set(&a->event);
		mps_event_clear(&a->event);
		cr_assert_eq(mps_lock_acquire(&a->lock2, 1), 0);
		cr_assert_eq(mps_lock_release(&a->lock2), 0);
		mps_sleep(0.002);
	}
	return woken;
}

ParameterizedTestParameters(cond, spurious_wakeups_not_success) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, spurious_wakeups_not_success, .timeout = 60)
{
	/* 4.13 (no spurious True), 4.10 (notify(0) is a no-op): 3 workers of the
	 * flavour + 2 threads wait 0.3 s while woken spuriously; all time out. */
	struct mps_area *a = mps_area_create();
	reset_scenario(a, c->kind);
	a->value[V_TIMEOUT_MS] = 300;
	struct mps_workers w[2];
	start_mixed(w, c, a, timed_wait, 3, 2);
	open_gate(c, a, 5);
	await_count(c, a, C_READY, 5, "waits");
	parent_lock(c, a);
	cr_assert_eq(mps_cond_notify(&a->cond, 0), 0);
	expect_waiting(c, a, 5, "after notify(0)");
	parent_unlock(c, a);
	long woken = disturb(c, a, 5);
	join_mixed(c, w);
	expect_rcs(c, a, 5, ETIMEDOUT);
	for (int i = 0; i < 5; i++)
		expect_elapsed(c, a->elapsed[i], 0.3);
	cr_assert(woken > 0, "%s: the raw wake-ups never found a sleeper", case_name(c));
	expect_idle(c, a);
	mps_area_destroy(a);
}

/* --- mixed: timeouts racing notifies --------------------------------------- */

#define LONG_N 3
#define SHORT_N 3
#define MIXED_ROUNDS 40
#define MIXED_SECONDS 1.0  /* the burst: notifies as fast as they stay exact */
#define MIXED_LIMIT 30.0   /* seconds a looping worker may run at most */

/* Waits again and again with LONG_WAIT until C_STOP; every wait must end in
 * 0. Gives up on the first wait that does not, or after MIXED_LIMIT seconds,
 * so that a failed test leaves no worker behind. */
static int long_waiter(struct mps_area *a, int index)
{
	(void)index;
	double end = mps_now() + MIXED_LIMIT;
	for (;;) {
		if (lk_acquire(a) != 0)
			return 1;
		if (count(a, C_STOP))
			break;
		bump(a, C_LONG_IN);
		int rc = lk_wait(a, LONG_WAIT);
		drop(a, C_LONG_IN);
		bool ok = rc == 0 && lk_depth(a) == 1;
		if (!ok)
			bump(a, C_BAD);
		bump(a, rc == 0 ? C_SUCCESS : C_TIMEDOUT);
		if (lk_release(a) != 0 || !ok || mps_now() > end)
			return 2;
	}
	return lk_release(a) == 0 ? 0 : 2;
}

/* Waits 0.1-2 ms again and again until C_STOP (or MIXED_LIMIT seconds);
 * counts 0 and ETIMEDOUT. */
static int short_waiter(struct mps_area *a, int index)
{
	uint32_t seed = (uint32_t)index * 2654435761u + 12345u;
	double end = mps_now() + MIXED_LIMIT;
	for (;;) {
		if (lk_acquire(a) != 0)
			return 1;
		if (count(a, C_STOP) || mps_now() > end)
			break;
		seed = seed * 1103515245u + 12345u;
		int rc = lk_wait(a, 0.0001 * (1 + (seed >> 16) % 20));
		if ((rc != 0 && rc != ETIMEDOUT) || lk_depth(a) != 1)
			bump(a, C_BAD);
		bump(a, rc == 0 ? C_SUCCESS : C_TIMEDOUT);
		if (lk_release(a) != 0)
			return 2;
	}
	bump(a, C_DONE);
	return lk_release(a) == 0 ? 0 : 2;
}

/* Once every earlier choice has returned and all long waiters wait again,
 * notify(n): at least n un-notified waiters wait, so exactly n are chosen. */
static void mixed_notify(const struct cond_case *c, struct mps_area *a, unsigned n,
                         uint32_t *expected)
{
	await_count(c, a, C_SUCCESS, *expected, "successes");
	await_count(c, a, C_LONG_IN, LONG_N, "long waiters waiting again");
	parent_lock(c, a);
	cr_assert_eq(count(a, C_SUCCESS), *expected, "%s: %u successes for %u notified",
	             case_name(c), count(a, C_SUCCESS), *expected);
	cr_assert_eq(count(a, C_LONG_IN), LONG_N);
	cr_assert_eq(mps_cond_notify(&a->cond, n), 0);
	*expected += n;
	parent_unlock(c, a);
}

/* For MIXED_SECONDS, notify(n) whenever at least n long waiters wait
 * un-notified: at least C_LONG_IN minus the choices not yet returned
 * (expected - successes), since a chosen long waiter leaves C_LONG_IN only
 * after it has counted its success. So each notify chooses exactly n, and
 * successes may never exceed the number notified. Returns the notifies made. */
static unsigned mixed_burst(const struct cond_case *c, struct mps_area *a, uint32_t *expected)
{
	double end = mps_now() + MIXED_SECONDS;
	unsigned k = 0;
	while (mps_now() < end) {
		parent_lock(c, a);
		uint32_t success = count(a, C_SUCCESS);
		cr_assert(success <= *expected, "%s: %u successes for %u notified",
		          case_name(c), success, *expected);
		unsigned n = 1 + k % LONG_N;
		if (count(a, C_LONG_IN) >= *expected - success + n) {
			cr_assert_eq(mps_cond_notify(&a->cond, n), 0);
			*expected += n;
			k++;
		}
		parent_unlock(c, a);
		sched_yield();
	}
	return k;
}

/* Stops the short waiters, then wakes the long ones with notify_all. */
static void mixed_finish(const struct cond_case *c, struct mps_area *a, uint32_t *expected)
{
	await_count(c, a, C_SUCCESS, *expected, "successes");
	/* A chosen long waiter counts its success before it waits again. */
	await_count(c, a, C_LONG_IN, LONG_N, "long waiters waiting again");
	parent_lock(c, a);
	cr_assert_eq(count(a, C_SUCCESS), *expected, "%s: %u successes for %u notified",
	             case_name(c), count(a, C_SUCCESS), *expected);
	bump(a, C_STOP);
	parent_unlock(c, a);
	await_count(c, a, C_DONE, SHORT_N, "short waiters stopping");
	parent_lock(c, a);
	cr_assert_eq(count(a, C_LONG_IN), LONG_N);
	expect_waiting(c, a, LONG_N, "with only the long waiters left");
	cr_assert_eq(mps_cond_notify_all(&a->cond), 0);
	*expected += LONG_N;
	parent_unlock(c, a);
}

ParameterizedTestParameters(cond, mixed_timeouts_and_notifies) { return six_cases(); }
ParameterizedTest(struct cond_case *c, cond, mixed_timeouts_and_notifies, .timeout = 60)
{
	/* 4.12, 4.18: 3 long waiters (the flavour) and 3 threads timing out every
	 * 0.1-2 ms; 40 notify(1..3) one at a time, then a 1 s burst of them;
	 * successes equal the number notified exactly (no lost notify when a
	 * chosen waiter times out, no over-wake). */
	struct mps_area *a = mps_area_create();
	reset_scenario(a, c->kind);
	struct mps_workers longs, shorts;
	mps_workers_start(&longs, c->flavour, a, long_waiter, LONG_N, 0);
	mps_workers_start(&shorts, MPS_THREADS, a, short_waiter, SHORT_N, LONG_N);
	uint32_t expected = 0;
	for (int i = 0; i < MIXED_ROUNDS; i++)
		mixed_notify(c, a, 1 + (unsigned)i % LONG_N, &expected);
	unsigned burst = mixed_burst(c, a, &expected);
	mixed_finish(c, a, &expected);
	join_ok(c, &longs);
	join_ok(c, &shorts);
	cr_assert_eq(count(a, C_SUCCESS), expected, "%s: %u successes for %u notified",
	             case_name(c), count(a, C_SUCCESS), expected);
	cr_assert(count(a, C_TIMEDOUT) > 0, "%s: no short wait timed out", case_name(c));
	cr_assert(burst > 0, "%s: the burst made no notify", case_name(c));
	expect_idle(c, a);
	mps_area_destroy(a);
}
