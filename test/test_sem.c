/* Semaphore and BoundedSemaphore: research/conformance.md §5 (5.1-5.15), the
 * timeout rules 1.2 and 1.8, and SPEC §2's bad-input rules. Every scenario in
 * which another thread or process takes part runs in the three flavours.
 *
 * Counting scenarios count acquisitions in an area counter and decide that a
 * batch has finished from that counter plus "every unfinished worker sleeps
 * in the kernel" (/proc/<tid>/stat state S, read after the worker announced
 * itself: from then on its only way to sleep is the futex wait of the call
 * under test). Once that holds and the value is 0, nothing can move until the
 * parent releases, so the count is final and is compared exactly. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"

#define LONG_WAIT 30.0   /* a role's "forever": every wait in a role is bounded */
#define JOIN_S    60.0
#define SETTLE_S  20.0
#define TID_BASE  32     /* area->value[TID_BASE + index]: the worker's tid */

enum {
	C_READY, C_GO,      /* start gate */
	C_ACQ,              /* successful blocking acquisitions */
	C_OK, C_FAIL,       /* try-acquire / release outcomes */
	C_OVERFLOW,         /* releases refused with EOVERFLOW */
	C_TIMEDOUT,         /* acquires that timed out */
	C_HOLD,             /* current holders (churn) */
	C_ARRIVE, C_DONE, C_EMPTIED, C_ABORT,   /* pair rounds */
};

/* --- helpers (parent and roles) --- */

static uint32_t count(struct mps_area *a, int c)
{
	return mps_count_get(&a->counter[c]);
}

static void announce(struct mps_area *a, int index)
{
	__atomic_store_n(&a->value[TID_BASE + index], (int64_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
}

/* All workers of a batch pass together: no worker gets a head start. */
static bool gate(struct mps_area *a)
{
	mps_count_add(&a->counter[C_READY], 1);
	double end = mps_now() + LONG_WAIT;
	while (!count(a, C_GO)) {
		if (mps_now() > end)
			return false;
		sched_yield();
	}
	return true;
}

static bool all_blocked(struct mps_area *a, const struct mps_workers *w)
{
	for (int i = w->first_index; i < w->first_index + w->n; i++) {
		if (mps_worker_done(a, i))
			continue;
		int64_t tid = __atomic_load_n(&a->value[TID_BASE + i], __ATOMIC_SEQ_CST);
		if (tid <= 0 || mps_task_state((pid_t)tid) != 'S')
			return false;
	}
	return true;
}

/* Parent: every unfinished worker of w is asleep (in the call under test). */
static void await_blocked(struct mps_area *a, const struct mps_workers *w, const char *what)
{
	double end = mps_now() + SETTLE_S;
	while (!all_blocked(a, w)) {
		cr_assert(mps_now() < end, "%s (%s): workers never all blocked", what,
		          mps_flavour_name(w->flavour));
		mps_sleep(0.0005);
	}
}

static void start(struct mps_workers *w, enum mps_flavour f, struct mps_area *a,
                  mps_role_fn role, int n, int first)
{
	cr_assert(first + n <= TID_BASE);
	for (int i = first; i < first + n; i++)
		__atomic_store_n(&a->value[TID_BASE + i], 0, __ATOMIC_SEQ_CST);
	mps_workers_start(w, f, a, role, n, first);
}

static void open_gate(struct mps_area *a, uint32_t n)
{
	cr_assert(mps_count_await(&a->counter[C_READY], n, JOIN_S), "workers never reached the gate");
	mps_count_add(&a->counter[C_GO], 1);
}

static void join_ok(struct mps_workers *w, const char *what)
{
	int failed = mps_workers_join(w, JOIN_S);
	if (failed) {
		char buf[512];
		size_t len = 0;
		for (int i = w->first_index; i < w->first_index + w->n && len < sizeof buf - 16; i++)
			len += (size_t)snprintf(buf + len, sizeof buf - len, " %d", (int)w->area->result[i]);
		cr_assert_fail("%s (%s): %d of %d workers failed; results:%s", what,
		               mps_flavour_name(w->flavour), failed, w->n, buf);
	}
}

/* The waiter half of the state word (the header documents
 * state = value | waiters << 32): no residue means 0 once nobody waits. */
static uint32_t registered_waiters(const mps_sem_t *s)
{
	return (uint32_t)(__atomic_load_n(&s->state, __ATOMIC_SEQ_CST) >> 32);
}

/* Parent: the batch reached exactly target acquisitions and stopped there. */
static void settle(struct mps_area *a, const struct mps_workers *w, uint32_t target, const char *what)
{
	const char *fl = mps_flavour_name(w->flavour);
	cr_assert(mps_count_await(&a->counter[C_ACQ], target, SETTLE_S),
	          "%s (%s): only %u of %u acquisitions", what, fl, count(a, C_ACQ), target);
	await_blocked(a, w, what);
	cr_assert_eq(count(a, C_ACQ), target, "%s (%s): %u acquisitions, expected exactly %u",
	             what, fl, count(a, C_ACQ), target);
	cr_assert_eq(mps_sem_value(&a->sem), 0, "%s (%s): value %u with sleeping acquirers", what, fl,
	             mps_sem_value(&a->sem));
}

#define SNAP(s) mps_sem_t snap_; memcpy(&snap_, (s), sizeof snap_)
#define UNCHANGED(s, what) \
	cr_assert(memcmp(&snap_, (s), sizeof snap_) == 0, "%s changed the semaphore's bytes", what)

/* ======================= single-thread behaviour ======================= */

/* 5.1: our API has no negative values; a value above MPS_SEM_VALUE_MAX is the
 * invalid one, and a refused init writes nothing. */
Test(sem, init_range)
{
	mps_sem_t s;
	unsigned bad[] = { MPS_SEM_VALUE_MAX + 1u, UINT_MAX, 0x80000001u };
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&s, 0xa5, sizeof s);
		SNAP(&s);
		cr_assert_eq(mps_sem_init(&s, bad[i]), EINVAL, "init(%u)", bad[i]);
		UNCHANGED(&s, "a refused mps_sem_init");
		cr_assert_eq(mps_sem_init_bounded(&s, bad[i]), EINVAL, "init_bounded(%u)", bad[i]);
		UNCHANGED(&s, "a refused mps_sem_init_bounded");
	}
	cr_assert_eq(mps_sem_init(&s, MPS_SEM_VALUE_MAX), 0);
	cr_assert_eq(mps_sem_value(&s), MPS_SEM_VALUE_MAX);
	cr_assert_eq(mps_sem_acquire(&s, 0), 0);
	cr_assert_eq(mps_sem_value(&s), MPS_SEM_VALUE_MAX - 1);
	cr_assert_eq(mps_sem_init_bounded(&s, MPS_SEM_VALUE_MAX), 0);
	cr_assert_eq(mps_sem_value(&s), MPS_SEM_VALUE_MAX);
	cr_assert_eq(mps_sem_bound(&s), MPS_SEM_VALUE_MAX);

	/* Python's default Semaphore(1): the second acquire does not succeed. */
	memset(&s, 0xff, sizeof s);
	cr_assert_eq(mps_sem_init(&s, 1), 0);
	cr_assert_eq(mps_sem_acquire(&s, 0), 0);
	cr_assert_eq(mps_sem_acquire(&s, 0), ETIMEDOUT);
	cr_assert_eq(mps_sem_acquire(&s, 0.01), ETIMEDOUT);
	cr_assert_eq(mps_sem_init(&s, 0), 0);
	cr_assert_eq(mps_sem_value(&s), 0);
	cr_assert_eq(mps_sem_acquire(&s, 0), ETIMEDOUT);
}

/* 5.2, 5.3, 5.10: counting and try-acquire; run twice on one object. */
Test(sem, counting)
{
	mps_sem_t s;
	cr_assert_eq(mps_sem_init(&s, 2), 0);
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_sem_value(&s), 2);
		cr_assert_eq(mps_sem_acquire(&s, MPS_FOREVER), 0);
		cr_assert_eq(mps_sem_value(&s), 1);
		cr_assert_eq(mps_sem_acquire(&s, MPS_FOREVER), 0);
		cr_assert_eq(mps_sem_value(&s), 0);
		cr_assert_eq(mps_sem_acquire(&s, 0), ETIMEDOUT);
		cr_assert_eq(mps_sem_value(&s), 0);
		cr_assert_eq(mps_sem_release(&s, 1), 0);
		cr_assert_eq(mps_sem_value(&s), 1);
		cr_assert_eq(mps_sem_acquire(&s, 0), 0);   /* 5.3: after a release, True */
		cr_assert_eq(mps_sem_release(&s, 1), 0);
		cr_assert_eq(mps_sem_release(&s, 1), 0);
		cr_assert_eq(mps_sem_value(&s), 2);
		/* 5.10: unbounded releases go past the initial value. */
		cr_assert_eq(mps_sem_release(&s, 1), 0);
		cr_assert_eq(mps_sem_value(&s), 3);
		cr_assert_eq(mps_sem_release(&s, 1), 0);
		cr_assert_eq(mps_sem_value(&s), 4);
		cr_assert_eq(mps_sem_acquire(&s, 0), 0);
		cr_assert_eq(mps_sem_acquire(&s, 0), 0);
	}
	cr_assert(!mps_sem_is_bounded(&s));
}

/* 5.7, 5.8: timed acquire. */
Test(sem, acquire_timeout)
{
	mps_sem_t s;
	cr_assert_eq(mps_sem_init(&s, 2), 0);
	for (int round = 0; round < 2; round++) {
		double t0 = mps_now();
		cr_assert_eq(mps_sem_acquire(&s, 0.005), 0);
		cr_assert_eq(mps_sem_acquire(&s, 0.005), 0);
		cr_assert_lt(mps_now() - t0, mps_quick());
		t0 = mps_now();
		cr_assert_eq(mps_sem_acquire(&s, 0.005), ETIMEDOUT);
		double el = mps_now() - t0;
		cr_assert(el >= 0.004 && el < 0.005 + mps_slack(), "acquire(0.005) took %.4f s", el);
		cr_assert_eq(mps_sem_value(&s), 0);
		cr_assert_eq(mps_sem_release(&s, 1), 0);
		cr_assert_eq(mps_sem_acquire(&s, 0.005), 0);
		t0 = mps_now();
		cr_assert_eq(mps_sem_acquire(&s, 0.25), ETIMEDOUT);
		el = mps_now() - t0;
		cr_assert(el >= 0.249 && el < 0.25 + mps_slack(), "acquire(0.25) took %.4f s", el);
		cr_assert_eq(mps_sem_value(&s), 0);
		cr_assert_eq(mps_sem_release(&s, 2), 0);
	}
	/* 5.8: Semaphore(0): polls fail at once, timed ones after about T. */
	cr_assert_eq(mps_sem_init(&s, 0), 0);
	double t0 = mps_now();
	cr_assert_eq(mps_sem_acquire(&s, 0), ETIMEDOUT);
	cr_assert_eq(mps_sem_acquire(&s, -0.0), ETIMEDOUT);
	cr_assert_lt(mps_now() - t0, mps_quick());
	t0 = mps_now();
	cr_assert_eq(mps_sem_acquire(&s, 0.1), ETIMEDOUT);
	double el = mps_now() - t0;
	cr_assert(el >= 0.099 && el < 0.1 + mps_slack(), "acquire(0.1) took %.4f s", el);
	cr_assert_eq(mps_sem_value(&s), 0);
}

/* 1.2: a negative timeout acts as 0: one attempt, which takes a free permit
 * and fails at once on an empty semaphore. */
Test(sem, negative_timeout_is_poll)
{
	static const double neg[] = { -1.0, -1e-9, -0.5, -1e300, -INFINITY };
	mps_sem_t s;
	cr_assert_eq(mps_sem_init(&s, 5), 0);
	for (int round = 0; round < 2; round++) {
		for (unsigned i = 0; i < 5; i++) {
			cr_assert_eq(mps_sem_acquire(&s, neg[i]), 0, "acquire(%g) on a free semaphore", neg[i]);
			cr_assert_eq(mps_sem_value(&s), 4 - i);
		}
		for (unsigned i = 0; i < 5; i++) {
			double t0 = mps_now();
			cr_assert_eq(mps_sem_acquire(&s, neg[i]), ETIMEDOUT, "acquire(%g) on zero", neg[i]);
			cr_assert_lt(mps_now() - t0, mps_quick(), "acquire(%g) blocked", neg[i]);
			cr_assert_eq(mps_sem_value(&s), 0);
		}
		cr_assert_eq(mps_sem_release(&s, 5), 0);
	}
}

/* 1.8: a free semaphore is taken at once, whatever the timeout. */
Test(sem, free_returns_at_once)
{
	static const double longs[] = { 5.0, 60.0, 1e9, 1e15, 1e300, MPS_FOREVER };
	mps_sem_t s;
	cr_assert_eq(mps_sem_init_bounded(&s, 6), 0);
	for (int round = 0; round < 2; round++) {
		double t0 = mps_now();
		for (unsigned i = 0; i < 6; i++)
			cr_assert_eq(mps_sem_acquire(&s, longs[i]), 0, "acquire(%g)", longs[i]);
		cr_assert_lt(mps_now() - t0, mps_quick());
		cr_assert_eq(mps_sem_value(&s), 0);
		cr_assert_eq(mps_sem_release(&s, 6), 0);
	}
}

/* SPEC §2: NaN timeout is EINVAL and touches nothing (no permit taken, no
 * wait registered), on free and on empty semaphores of both kinds. */
Test(sem, nan_timeout)
{
	mps_sem_t s;
	for (int bounded = 0; bounded < 2; bounded++) {
		for (unsigned v = 0; v < 3; v++) {
			memset(&s, 0, sizeof s);
			cr_assert_eq((bounded ? mps_sem_init_bounded : mps_sem_init)(&s, v), 0);
			if (bounded && v)
				cr_assert_eq(mps_sem_acquire(&s, 0), 0);   /* a bounded one below its bound */
			for (int k = 0; k < 2; k++) {
				SNAP(&s);
				double t0 = mps_now();
				cr_assert_eq(mps_sem_acquire(&s, k ? -NAN : NAN), EINVAL);
				cr_assert_lt(mps_now() - t0, mps_quick());
				UNCHANGED(&s, "acquire(NaN)");
			}
		}
	}
}

/* SPEC §2 and 5.6: release(0) is EINVAL and touches nothing. */
Test(sem, release_zero)
{
	mps_sem_t s;
	struct { bool bounded; unsigned init, take; } cases[] = {
		{ false, 0, 0 }, { false, 3, 0 }, { false, MPS_SEM_VALUE_MAX, 0 },
		{ true, 0, 0 }, { true, 3, 0 }, { true, 3, 3 }, { true, 3, 1 },
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&s, 0, sizeof s);
		cr_assert_eq((cases[i].bounded ? mps_sem_init_bounded : mps_sem_init)(&s, cases[i].init), 0);
		for (unsigned t = 0; t < cases[i].take; t++)
			cr_assert_eq(mps_sem_acquire(&s, 0), 0);
		SNAP(&s);
		cr_assert_eq(mps_sem_release(&s, 0), EINVAL, "case %u", i);
		UNCHANGED(&s, "release(0)");
	}
}

/* SPEC §2: an unbounded release past MPS_SEM_VALUE_MAX is EOVERFLOW, state
 * unchanged; up to the maximum it succeeds. */
Test(sem, unbounded_overflow)
{
	mps_sem_t s;
	cr_assert_eq(mps_sem_init(&s, MPS_SEM_VALUE_MAX), 0);
	{
		SNAP(&s);
		cr_assert_eq(mps_sem_release(&s, 1), EOVERFLOW);
		UNCHANGED(&s, "release(1) at MPS_SEM_VALUE_MAX");
		cr_assert_eq(mps_sem_release(&s, UINT_MAX), EOVERFLOW);
		UNCHANGED(&s, "release(UINT_MAX) at MPS_SEM_VALUE_MAX");
	}
	cr_assert_eq(mps_sem_init(&s, MPS_SEM_VALUE_MAX - 2), 0);
	{
		SNAP(&s);
		cr_assert_eq(mps_sem_release(&s, 3), EOVERFLOW);
		UNCHANGED(&s, "release(3) at MAX-2");
	}
	cr_assert_eq(mps_sem_release(&s, 2), 0);
	cr_assert_eq(mps_sem_value(&s), MPS_SEM_VALUE_MAX);
	cr_assert_eq(mps_sem_acquire(&s, 0), 0);
	cr_assert_eq(mps_sem_release(&s, 1), 0);

	cr_assert_eq(mps_sem_init(&s, 5), 0);
	{
		SNAP(&s);
		cr_assert_eq(mps_sem_release(&s, MPS_SEM_VALUE_MAX), EOVERFLOW);
		cr_assert_eq(mps_sem_release(&s, MPS_SEM_VALUE_MAX - 4), EOVERFLOW);
		cr_assert_eq(mps_sem_release(&s, UINT_MAX), EOVERFLOW);
		cr_assert_eq(mps_sem_release(&s, 0x80000000u), EOVERFLOW);
		UNCHANGED(&s, "an overflowing release");
	}
	cr_assert_eq(mps_sem_release(&s, MPS_SEM_VALUE_MAX - 5), 0);
	cr_assert_eq(mps_sem_value(&s), MPS_SEM_VALUE_MAX);

	cr_assert_eq(mps_sem_init(&s, 0), 0);
	cr_assert_eq(mps_sem_release(&s, MPS_SEM_VALUE_MAX), 0);
	cr_assert_eq(mps_sem_value(&s), MPS_SEM_VALUE_MAX);
	/* still usable after all the refusals */
	cr_assert_eq(mps_sem_acquire(&s, 0), 0);
	cr_assert_eq(mps_sem_value(&s), MPS_SEM_VALUE_MAX - 1);
}

/* 5.11: BoundedSemaphore refuses to go past its initial value, leaves the
 * value unchanged, and checks value + n before changing anything. */
Test(sem, bounded_over_release)
{
	mps_sem_t s;
	cr_assert_eq(mps_sem_init_bounded(&s, 2), 0);
	cr_assert(mps_sem_is_bounded(&s));
	for (int round = 0; round < 2; round++) {
		{
			SNAP(&s);
			cr_assert_eq(mps_sem_release(&s, 1), EOVERFLOW);
			UNCHANGED(&s, "over-release of a full bounded semaphore");
		}
		cr_assert_eq(mps_sem_value(&s), 2);
		cr_assert_eq(mps_sem_acquire(&s, 0), 0);
		{
			/* VERIFIED-3.11: bounded(2) holding 1, release(2) fails, value stays 1 */
			SNAP(&s);
			cr_assert_eq(mps_sem_release(&s, 2), EOVERFLOW);
			cr_assert_eq(mps_sem_release(&s, 3), EOVERFLOW);
			cr_assert_eq(mps_sem_release(&s, UINT_MAX), EOVERFLOW);
			UNCHANGED(&s, "release(n) past the bound");
		}
		cr_assert_eq(mps_sem_value(&s), 1);
		cr_assert_eq(mps_sem_release(&s, 1), 0);
		cr_assert_eq(mps_sem_value(&s), 2);
		cr_assert_eq(mps_sem_acquire(&s, 0), 0);
		cr_assert_eq(mps_sem_acquire(&s, 0), 0);
		cr_assert_eq(mps_sem_acquire(&s, 0), ETIMEDOUT);
		cr_assert_eq(mps_sem_release(&s, 2), 0);
		cr_assert_eq(mps_sem_value(&s), 2);
	}
	/* Bounded(0) accepts no release at all. */
	cr_assert_eq(mps_sem_init_bounded(&s, 0), 0);
	{
		SNAP(&s);
		cr_assert_eq(mps_sem_release(&s, 1), EOVERFLOW);
		UNCHANGED(&s, "release of bounded(0)");
	}
	cr_assert_eq(mps_sem_acquire(&s, 0), ETIMEDOUT);
}

/* 5.9 in C: paired acquire/release on every path restores the value. */
static int use_sem(mps_sem_t *s, bool fail)
{
	if (mps_sem_acquire(s, 0) != 0)
		return -1;
	int r = 0;
	if (mps_sem_acquire(s, 0) == 0) {              /* inner "with": True */
		r = mps_sem_acquire(s, 0) == ETIMEDOUT ? 1 : -2;  /* nested: False */
		if (!fail)
			r += 1;
		mps_sem_release(s, 1);
	}
	mps_sem_release(s, 1);
	return fail ? -3 : r;
}

Test(sem, paired_use_restores_value)
{
	mps_sem_t s;
	cr_assert_eq(mps_sem_init(&s, 2), 0);
	cr_assert_eq(use_sem(&s, false), 2);
	cr_assert_eq(mps_sem_value(&s), 2);
	cr_assert_eq(use_sem(&s, true), -3);            /* the "exception" path */
	cr_assert_eq(mps_sem_value(&s), 2);
}

/* 5.14: value, bound and kind. */
Test(sem, diagnostics)
{
	mps_sem_t s;
	cr_assert_eq(mps_sem_init(&s, 3), 0);
	cr_assert(!mps_sem_is_bounded(&s));
	cr_assert_eq(mps_sem_bound(&s), 0);
	cr_assert_eq(mps_sem_value(&s), 3);
	cr_assert_eq(mps_sem_acquire(&s, 0), 0);
	cr_assert_eq(mps_sem_value(&s), 2);
	cr_assert_eq(mps_sem_release(&s, 2), 0);
	cr_assert_eq(mps_sem_value(&s), 4);

	cr_assert_eq(mps_sem_init_bounded(&s, 3), 0);
	cr_assert(mps_sem_is_bounded(&s));
	cr_assert_eq(mps_sem_bound(&s), 3);
	cr_assert_eq(mps_sem_value(&s), 3);                /* "3/3" */
	cr_assert_eq(mps_sem_acquire(&s, 0), 0);
	cr_assert_eq(mps_sem_value(&s), 2);                /* "2/3" */
	cr_assert_eq(mps_sem_bound(&s), 3);

	cr_assert_eq(mps_sem_init_bounded(&s, 0), 0);
	cr_assert(mps_sem_is_bounded(&s));
	cr_assert_eq(mps_sem_bound(&s), 0);
	cr_assert(sizeof(mps_sem_t) <= 16);               /* SPEC §2: at most 16 bytes */
}

/* ============================ roles ============================ */

/* 5.4 (and 1.2 under contention): two polls each, some with negative timeouts. */
static int role_try_twice(struct mps_area *a, int index)
{
	static const double polls[] = { 0.0, -1.0, -0.0, -1e300, -INFINITY };
	if (!gate(a))
		return 90;
	for (int k = 0; k < 2; k++) {
		double t0 = mps_now();
		int r = mps_sem_acquire(&a->sem, polls[(index + k) % 5]);
		if (mps_now() - t0 >= mps_quick())
			return 20 + k;                         /* a poll blocked */
		if (r == 0)
			mps_count_add(&a->counter[C_OK], 1);
		else if (r == ETIMEDOUT)
			mps_count_add(&a->counter[C_FAIL], 1);
		else
			return 10 + k;
	}
	return 0;
}

/* 5.5/5.6: two blocking acquisitions, each counted. */
static int role_acquire_twice(struct mps_area *a, int index)
{
	announce(a, index);
	for (int k = 0; k < 2; k++) {
		if (mps_sem_acquire(&a->sem, LONG_WAIT) != 0)
			return 10 + k;
		mps_count_add(&a->counter[C_ACQ], 1);
	}
	return 0;
}

/* 5.13, 5.15: one blocking acquisition, counted. */
static int role_acquire_once(struct mps_area *a, int index)
{
	announce(a, index);
	if (mps_sem_acquire(&a->sem, LONG_WAIT) != 0)
		return 10;
	mps_count_add(&a->counter[C_ACQ], 1);
	return 0;
}

/* 5.15: take the permit the parent releases, then give one back later. */
static int role_take_and_give(struct mps_area *a, int index)
{
	announce(a, index);
	if (mps_sem_acquire(&a->sem, LONG_WAIT) != 0)
		return 10;
	mps_count_add(&a->counter[C_ACQ], 1);
	mps_sleep(0.05);
	return mps_sem_release(&a->sem, 1) == 0 ? 0 : 11;
}

/* 5.12 and the release(n) race: release a->arg permits at the gate. */
static int role_release_n(struct mps_area *a, int index)
{
	(void)index;
	if (!gate(a))
		return 90;
	int r = mps_sem_release(&a->sem, (unsigned)a->arg);
	if (r == 0)
		mps_count_add(&a->counter[C_OK], 1);
	else if (r == EOVERFLOW)
		mps_count_add(&a->counter[C_OVERFLOW], 1);
	else
		return 10;
	return 0;
}

/* Timed acquire that must time out; a->arg is the timeout in ms. */
static int role_timed_out(struct mps_area *a, int index)
{
	announce(a, index);
	double t = (double)a->arg / 1000, t0 = mps_now();
	int r = mps_sem_acquire(&a->sem, t);
	a->elapsed[index] = mps_now() - t0;
	if (r != ETIMEDOUT)
		return r == 0 ? 10 : 11;
	mps_count_add(&a->counter[C_TIMEDOUT], 1);
	return 0;
}

/* Timed acquire racing with a release near its deadline: either outcome. */
static int role_timed_either(struct mps_area *a, int index)
{
	(void)index;
	if (!gate(a))
		return 90;
	int r = mps_sem_acquire(&a->sem, (double)a->arg / 1000);
	if (r == 0)
		mps_count_add(&a->counter[C_OK], 1);
	else if (r == ETIMEDOUT)
		mps_count_add(&a->counter[C_TIMEDOUT], 1);
	else
		return 10;
	return 0;
}

/* Spin (without sleeping) until counter c reaches target; false when the
 * partner gave up. */
static bool spin_until(struct mps_area *a, int c, uint32_t target)
{
	double end = mps_now() + LONG_WAIT;
	for (unsigned i = 1; count(a, c) < target; i++) {
		if (i % 1024 == 0) {
			if (mps_now() > end || count(a, C_ABORT))
				return false;
			sched_yield();
		}
	}
	return true;
}

/* Two workers race release(2) on bounded(3) holding value 1, a->arg rounds,
 * meeting at a spin barrier so both release at the same moment: exactly one
 * succeeds each round. Worker 0 then takes the value back to 1. */
static int pair_fail(struct mps_area *a, int code)
{
	mps_count_add(&a->counter[C_ABORT], 1);
	return code;
}

static int role_release_pair(struct mps_area *a, int index)
{
	for (uint32_t r = 0; r < (uint32_t)a->arg; r++) {
		mps_count_add(&a->counter[C_ARRIVE], 1);
		if (!spin_until(a, C_ARRIVE, 2 * (r + 1)))
			return pair_fail(a, 90);
		int e = mps_sem_release(&a->sem, 2);
		if (e == 0)
			mps_count_add(&a->counter[C_OK], 1);
		else if (e == EOVERFLOW)
			mps_count_add(&a->counter[C_OVERFLOW], 1);
		else
			return pair_fail(a, 10);
		mps_count_add(&a->counter[C_DONE], 1);
		if (!spin_until(a, C_DONE, 2 * (r + 1)))
			return pair_fail(a, 91);
		if (index == 0) {
			if (count(a, C_OK) != r + 1)
				return pair_fail(a, 20);                 /* both or neither succeeded */
			if (mps_sem_value(&a->sem) != 3)
				return pair_fail(a, 21);
			if (mps_sem_acquire(&a->sem, 0) != 0 || mps_sem_acquire(&a->sem, 0) != 0)
				return pair_fail(a, 22);
			mps_count_add(&a->counter[C_EMPTIED], 1);
		} else if (!spin_until(a, C_EMPTIED, r + 1)) {
			return pair_fail(a, 92);
		}
	}
	return 0;
}

/* Bounded churn: never more holders than the bound, never an over-release. */
static int role_churn(struct mps_area *a, int index)
{
	uint32_t bound = (uint32_t)a->arg;
	if (!gate(a))
		return 90;
	for (int i = 0; i < 1500; i++) {
		int r = mps_sem_acquire(&a->sem, (i + index) % 3 == 0 ? 0 : LONG_WAIT);
		if (r == ETIMEDOUT && (i + index) % 3 == 0)
			continue;                          /* a poll may fail */
		if (r != 0)
			return 10;
		if (mps_count_add(&a->counter[C_HOLD], 1) > bound)
			return 11;
		if (mps_sem_value(&a->sem) > bound)
			return 12;
		mps_count_add(&a->counter[C_HOLD], UINT32_MAX);  /* -1 */
		if (mps_sem_release(&a->sem, 1) != 0)
			return 13;
	}
	return 0;
}

/* ===================== scenarios with other parties ===================== */

/* 5.4: Semaphore(4), main takes 1; 5 workers poll twice each: exactly 3 True
 * and 7 False. Twice on the same object. */
MPS_FLAVOURS(sem, try_acquire_contended)
ParameterizedTest(enum mps_flavour *f, sem, try_acquire_contended)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	cr_assert_eq(mps_sem_init(&a->sem, 4), 0);
	cr_assert_eq(mps_sem_acquire(&a->sem, 0), 0);
	for (int round = 0; round < 2; round++) {
		mps_count_reset(a);
		start(&w, *f, a, role_try_twice, 5, 0);
		open_gate(a, 5);
		join_ok(&w, "try_acquire_contended");
		cr_assert_eq(count(a, C_OK), 3, "round %d (%s): %u polls succeeded", round,
		             mps_flavour_name(*f), count(a, C_OK));
		cr_assert_eq(count(a, C_FAIL), 7);
		cr_assert_eq(mps_sem_value(&a->sem), 0);
		cr_assert_eq(mps_sem_release(&a->sem, 3), 0);
	}
	cr_assert_eq(mps_sem_release(&a->sem, 1), 0);
	cr_assert_eq(mps_sem_value(&a->sem), 4);
	mps_area_destroy(a);
}

/* 5.5 / 5.6: Semaphore(7), main takes 1; 10 workers acquire twice each.
 * Exactly 6 acquisitions; 7 releases make exactly 13; 6 more make 19; a poll
 * then fails; one last release lets everyone finish. Twice on one object. */
static void handoff(enum mps_flavour f, bool multi)
{
	const char *what = multi ? "release(7)/release(6)" : "single releases";
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	cr_assert_eq(mps_sem_init(&a->sem, 7), 0);
	cr_assert_eq(mps_sem_acquire(&a->sem, 0), 0);
	for (int round = 0; round < 2; round++) {
		mps_count_reset(a);
		start(&w, f, a, role_acquire_twice, 10, 0);
		settle(a, &w, 6, what);
		if (multi) {
			cr_assert_eq(mps_sem_release(&a->sem, 7), 0);
		} else {
			for (int i = 0; i < 7; i++)
				cr_assert_eq(mps_sem_release(&a->sem, 1), 0);
		}
		settle(a, &w, 13, what);
		if (multi) {
			cr_assert_eq(mps_sem_release(&a->sem, 6), 0);
		} else {
			for (int i = 0; i < 6; i++)
				cr_assert_eq(mps_sem_release(&a->sem, 1), 0);
		}
		settle(a, &w, 19, what);
		cr_assert_eq(mps_sem_acquire(&a->sem, 0), ETIMEDOUT);
		cr_assert_eq(mps_sem_release(&a->sem, 1), 0);
		join_ok(&w, what);                  /* every blocking acquire returned 0 */
		cr_assert_eq(count(a, C_ACQ), 20);
		cr_assert_eq(mps_sem_value(&a->sem), 0);
		cr_assert_eq(registered_waiters(&a->sem), 0);
		cr_assert_eq(mps_sem_release(&a->sem, 6), 0);   /* back to "7, main holds 1" */
	}
	cr_assert_eq(mps_sem_release(&a->sem, 1), 0);
	cr_assert_eq(mps_sem_value(&a->sem), 7);
	mps_area_destroy(a);
}

MPS_FLAVOURS(sem, acquire_contended)
ParameterizedTest(enum mps_flavour *f, sem, acquire_contended)
{
	handoff(*f, false);
}

MPS_FLAVOURS(sem, multirelease)
ParameterizedTest(enum mps_flavour *f, sem, multirelease)
{
	handoff(*f, true);
}

/* 5.13: each release wakes exactly one blocked acquirer (order unspecified);
 * release(n) with fewer than n sleepers wakes them all and keeps the rest. */
MPS_FLAVOURS(sem, release_wakes_one)
ParameterizedTest(enum mps_flavour *f, sem, release_wakes_one)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	cr_assert_eq(mps_sem_init(&a->sem, 0), 0);
	for (int round = 0; round < 2; round++) {
		mps_count_reset(a);
		start(&w, *f, a, role_acquire_once, 5, 0);
		settle(a, &w, 0, "release_wakes_one");
		for (uint32_t i = 1; i <= 5; i++) {
			cr_assert_eq(mps_sem_release(&a->sem, 1), 0);
			settle(a, &w, i, "release_wakes_one");
		}
		join_ok(&w, "release_wakes_one");
		cr_assert_eq(registered_waiters(&a->sem), 0);

		mps_count_reset(a);
		start(&w, *f, a, role_acquire_once, 5, 0);
		settle(a, &w, 0, "release(8) to 5 sleepers");
		cr_assert_eq(mps_sem_release(&a->sem, 8), 0);
		join_ok(&w, "release(8) to 5 sleepers");
		cr_assert_eq(count(a, C_ACQ), 5);
		cr_assert_eq(mps_sem_value(&a->sem), 3);
		for (int i = 0; i < 3; i++)
			cr_assert_eq(mps_sem_acquire(&a->sem, 0), 0);
		cr_assert_eq(registered_waiters(&a->sem), 0);
	}
	mps_area_destroy(a);
}

/* 5.12: BoundedSemaphore(limit), limit 1..9: `limit` workers acquire,
 * `limit` workers release, one more release is EOVERFLOW with nothing
 * changed. Then the race itself: limit + 2 concurrent releases on an empty
 * bounded semaphore, exactly `limit` succeed. Twice per object. */
MPS_FLAVOURS(sem, bounded_limit)
ParameterizedTest(enum mps_flavour *f, sem, bounded_limit)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	for (int limit = 1; limit <= 9; limit++) {
		cr_assert_eq(mps_sem_init_bounded(&a->sem, (unsigned)limit), 0);
		for (int round = 0; round < 2; round++) {
			mps_count_reset(a);
			start(&w, *f, a, role_acquire_once, limit, 0);
			join_ok(&w, "bounded_limit acquirers");
			cr_assert_eq(mps_sem_value(&a->sem), 0);

			a->arg = 1;
			mps_count_reset(a);
			start(&w, *f, a, role_release_n, limit, 0);
			open_gate(a, (uint32_t)limit);
			join_ok(&w, "bounded_limit releasers");
			cr_assert_eq(count(a, C_OK), (uint32_t)limit, "limit %d (%s)", limit, mps_flavour_name(*f));
			cr_assert_eq(mps_sem_value(&a->sem), (unsigned)limit);
			{
				SNAP(&a->sem);
				cr_assert_eq(mps_sem_release(&a->sem, 1), EOVERFLOW, "limit %d", limit);
				UNCHANGED(&a->sem, "an over-release");
			}

			/* Race: drain, then limit + 2 releasers at once. */
			for (int i = 0; i < limit; i++)
				cr_assert_eq(mps_sem_acquire(&a->sem, 0), 0);
			mps_count_reset(a);
			start(&w, *f, a, role_release_n, limit + 2, 0);
			open_gate(a, (uint32_t)limit + 2);
			join_ok(&w, "bounded_limit racing releasers");
			cr_assert_eq(count(a, C_OK), (uint32_t)limit, "limit %d (%s): %u releases succeeded",
			             limit, mps_flavour_name(*f), count(a, C_OK));
			cr_assert_eq(count(a, C_OVERFLOW), 2);
			cr_assert_eq(mps_sem_value(&a->sem), (unsigned)limit);
			cr_assert_eq(mps_sem_bound(&a->sem), (unsigned)limit);
		}
	}
	mps_area_destroy(a);
}

/* 5.11 under races: bounded(9) empty; 5 workers release(3) at once. value+n
 * is checked atomically: exactly 3 succeed, the value ends at 9. Then 4
 * workers release(4) on bounded(9) holding 1: exactly 2 succeed. */
MPS_FLAVOURS(sem, bounded_release_n_race)
ParameterizedTest(enum mps_flavour *f, sem, bounded_release_n_race)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	cr_assert_eq(mps_sem_init_bounded(&a->sem, 9), 0);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 9; i++)
			cr_assert_eq(mps_sem_acquire(&a->sem, 0), 0);
		bool threes = round % 2 == 0;
		a->arg = threes ? 3 : 4;
		if (!threes)
			cr_assert_eq(mps_sem_release(&a->sem, 1), 0);
		mps_count_reset(a);
		start(&w, *f, a, role_release_n, threes ? 5 : 4, 0);
		open_gate(a, threes ? 5 : 4);
		join_ok(&w, "bounded_release_n_race");
		cr_assert_eq(count(a, C_OK), threes ? 3u : 2u, "round %d (%s): %u succeeded", round,
		             mps_flavour_name(*f), count(a, C_OK));
		cr_assert_eq(count(a, C_OVERFLOW), 2);
		cr_assert_eq(mps_sem_value(&a->sem), 9);
	}
	mps_area_destroy(a);
}

/* The bound check and the update are one atomic step: two releases racing
 * head to head, many times; exactly one of each pair fits. */
MPS_FLAVOURS(sem, bounded_release_pair_race)
ParameterizedTest(enum mps_flavour *f, sem, bounded_release_pair_race)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	cr_assert_eq(mps_sem_init_bounded(&a->sem, 3), 0);
	a->arg = 3000;
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_sem_acquire(&a->sem, 0), 0);
		cr_assert_eq(mps_sem_acquire(&a->sem, 0), 0);
		mps_count_reset(a);
		start(&w, *f, a, role_release_pair, 2, 0);
		join_ok(&w, "bounded_release_pair_race");
		cr_assert_eq(count(a, C_OK), (uint32_t)a->arg);
		cr_assert_eq(count(a, C_OVERFLOW), (uint32_t)a->arg);
		cr_assert_eq(mps_sem_value(&a->sem), 1);
		cr_assert_eq(mps_sem_release(&a->sem, 2), 0);
		cr_assert_eq(mps_sem_value(&a->sem), 3);
	}
	mps_area_destroy(a);
}

/* Never over-grants under races: 4 workers churn on bounded(2). */
MPS_FLAVOURS(sem, bounded_churn)
ParameterizedTest(enum mps_flavour *f, sem, bounded_churn)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	cr_assert_eq(mps_sem_init_bounded(&a->sem, 2), 0);
	a->arg = 2;
	for (int round = 0; round < 2; round++) {
		mps_count_reset(a);
		start(&w, *f, a, role_churn, 4, 0);
		open_gate(a, 4);
		join_ok(&w, "bounded_churn");
		cr_assert_eq(mps_sem_value(&a->sem), 2);
		cr_assert_eq(count(a, C_HOLD), 0);
		cr_assert_eq(registered_waiters(&a->sem), 0);
	}
	mps_area_destroy(a);
}

/* 5.15: hand-off in both directions: the worker blocks until the parent
 * releases, then the parent blocks until the worker releases. */
MPS_FLAVOURS(sem, cross_handoff)
ParameterizedTest(enum mps_flavour *f, sem, cross_handoff)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	cr_assert_eq(mps_sem_init(&a->sem, 0), 0);
	for (int round = 0; round < 2; round++) {
		mps_count_reset(a);
		start(&w, *f, a, role_take_and_give, 1, 0);
		settle(a, &w, 0, "cross_handoff");
		cr_assert_eq(mps_sem_release(&a->sem, 1), 0);
		cr_assert(mps_count_await(&a->counter[C_ACQ], 1, SETTLE_S));
		cr_assert_eq(mps_sem_acquire(&a->sem, LONG_WAIT), 0);
		join_ok(&w, "cross_handoff");
		cr_assert_eq(mps_sem_value(&a->sem), 0);
		cr_assert_eq(registered_waiters(&a->sem), 0);
	}
	mps_area_destroy(a);
}

/* Waiters that time out leave no residue: 5 timed waiters time out (within
 * the tolerance) next to one long waiter; the next release goes to the long
 * waiter, a later release is taken by a poll, and the value is exact. */
MPS_FLAVOURS(sem, timeout_no_residue)
ParameterizedTest(enum mps_flavour *f, sem, timeout_no_residue)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers timed, slow;
	const double T = 0.2;
	cr_assert_eq(mps_sem_init(&a->sem, 0), 0);
	a->arg = (int64_t)(T * 1000);
	for (int round = 0; round < 2; round++) {
		mps_count_reset(a);
		start(&slow, *f, a, role_acquire_once, 1, 5);
		start(&timed, *f, a, role_timed_out, 5, 0);
		join_ok(&timed, "timed-out acquirers");
		cr_assert_eq(count(a, C_TIMEDOUT), 5);
		for (int i = 0; i < 5; i++)
			cr_assert(a->elapsed[i] >= T - 0.001 && a->elapsed[i] < T + mps_slack(),
			          "%s: acquire(%.1f) took %.4f s", mps_flavour_name(*f), T, a->elapsed[i]);
		await_blocked(a, &slow, "long waiter");
		cr_assert_eq(count(a, C_ACQ), 0);
		cr_assert_eq(mps_sem_value(&a->sem), 0);
		cr_assert_eq(registered_waiters(&a->sem), 1, "timed-out waiters still registered");

		cr_assert_eq(mps_sem_release(&a->sem, 1), 0);
		join_ok(&slow, "long waiter");
		cr_assert_eq(count(a, C_ACQ), 1);
		cr_assert_eq(mps_sem_value(&a->sem), 0);
		cr_assert_eq(registered_waiters(&a->sem), 0);

		cr_assert_eq(mps_sem_release(&a->sem, 1), 0);
		cr_assert_eq(mps_sem_value(&a->sem), 1);
		cr_assert_eq(mps_sem_acquire(&a->sem, 0), 0);
		cr_assert_eq(mps_sem_value(&a->sem), 0);
		cr_assert_eq(mps_sem_acquire(&a->sem, 0), ETIMEDOUT);
	}
	mps_area_destroy(a);
}

/* A release that lands as timed waiters give up is never lost: 5 timed
 * waiters (30 ms) and 2 long waiters; release(3) near the deadline. Once the
 * timed ones are gone, no long waiter sleeps while a permit is left (a wake
 * absorbed by a waiter that then times out is passed on), and successes plus
 * what is left equal the permits released. */
MPS_FLAVOURS(sem, timeout_release_race)
ParameterizedTest(enum mps_flavour *f, sem, timeout_release_race)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers timed, slow;
	cr_assert_eq(mps_sem_init(&a->sem, 0), 0);
	a->arg = 30;   /* ms */
	int rounds = *f == MPS_THREADS ? 20 : 8;
	for (int round = 0; round < rounds; round++) {
		const char *fl = mps_flavour_name(*f);
		mps_count_reset(a);
		start(&slow, *f, a, role_acquire_once, 2, 5);
		await_blocked(a, &slow, "long waiters");
		start(&timed, *f, a, role_timed_either, 5, 0);
		open_gate(a, 5);
		mps_sleep(0.025 + 0.001 * (round % 10));   /* near the timed waiters' deadline */
		cr_assert_eq(mps_sem_release(&a->sem, 3), 0);
		join_ok(&timed, "timeout_release_race timed waiters");
		await_blocked(a, &slow, "long waiters after the release");
		uint32_t ok = count(a, C_OK), acq = count(a, C_ACQ), left = mps_sem_value(&a->sem);
		cr_assert_eq(ok + count(a, C_TIMEDOUT), 5);
		cr_assert_eq(ok + acq + left, 3, "round %d (%s): %u + %u taken, %u left", round, fl,
		             ok, acq, left);
		cr_assert(left == 0 || acq == 2, "round %d (%s): a long waiter sleeps next to %u permits",
		          round, fl, left);
		if (acq < 2)
			cr_assert_eq(mps_sem_release(&a->sem, 2 - acq), 0);
		join_ok(&slow, "timeout_release_race long waiters");
		cr_assert_eq(count(a, C_ACQ), 2);
		cr_assert_eq(registered_waiters(&a->sem), 0);
		while (mps_sem_acquire(&a->sem, 0) == 0) {
		}
	}
	mps_area_destroy(a);
}
