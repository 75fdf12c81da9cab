/* Event: research/conformance.md §6 (6.1-6.8), the timeout rules 1.2 and 1.8,
 * and SPEC §2's bad-input rules. Every scenario in which another thread or
 * process takes part runs in the three flavours.
 *
 * "The waiters are blocked" is decided, not slept on: a worker announces its
 * tid right before the wait under test, and the parent polls until every
 * unfinished worker sleeps in the kernel (/proc/<tid>/stat state S). After
 * the announcement the only way a role can sleep is that wait's futex, so a
 * set() issued then happens during every wait. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
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
#define N_WAITERS 5

enum {
	C_RET1, C_RET2,     /* waits that returned 0 (first / second call) */
	C_TIMEDOUT,         /* waits that returned ETIMEDOUT */
};

/* --- helpers --- */

static uint32_t count(struct mps_area *a, int c)
{
	return mps_count_get(&a->counter[c]);
}

static void announce(struct mps_area *a, int index)
{
	__atomic_store_n(&a->value[TID_BASE + index], (int64_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
}

static bool all_blocked(struct mps_area *a, const struct mps_workers *w)
{
	for (int i = w->first_index; i < w->first_index + w->n; i++) {
		if (mps_worker_done(a, i))
			return false;   /* here every worker must still be waiting */
		int64_t tid = __atomic_load_n(&a->value[TID_BASE + i], __ATOMIC_SEQ_CST);
		if (tid <= 0 || mps_task_state((pid_t)tid) != 'S')
			return false;
	}
	return true;
}

static void await_blocked(struct mps_area *a, const struct mps_workers *w, const char *what)
{
	double end = mps_now() + SETTLE_S;
	while (!all_blocked(a, w)) {
		for (int i = w->first_index; i < w->first_index + w->n; i++)
			cr_assert(!mps_worker_done(a, i),
			          "%s (%s): worker %d returned (%d) before it was released",
			          what, mps_flavour_name(w->flavour), i, (int)a->result[i]);
		cr_assert(mps_now() < end, "%s (%s): waiters never all blocked", what,
		          mps_flavour_name(w->flavour));
		mps_sleep(0.0005);
	}
}

static void start(struct mps_workers *w, enum mps_flavour f, struct mps_area *a,
                  mps_role_fn role, int n, int first)
{
	cr_assert(first + n <= TID_BASE);
	for (int i = first; i < first + n; i++) {
		__atomic_store_n(&a->value[TID_BASE + i], 0, __ATOMIC_SEQ_CST);
		a->value[i] = -1;
		a->elapsed[i] = -1;
	}
	mps_workers_start(w, f, a, role, n, first);
}

static void join_ok(struct mps_workers *w, const char *what)
{
	int failed = mps_workers_join(w, JOIN_S);
	if (failed) {
		char buf[512];
		size_t len = 0;
		for (int i = w->first_index; i < w->first_index + w->n && len < sizeof buf - 32; i++)
			len += (size_t)snprintf(buf + len, sizeof buf - len, " %d/%lld",
			                        (int)w->area->result[i], (long long)w->area->value[i]);
		cr_assert_fail("%s (%s): %d of %d workers failed; result/wait-code:%s", what,
		               mps_flavour_name(w->flavour), failed, w->n, buf);
	}
}

/* Parent: every worker's first wait returned (a->elapsed[i], an absolute
 * time) soon after the set() at t_set: woken, not timed out. */
static void woke_promptly(struct mps_area *a, const struct mps_workers *w, double t_set, const char *what)
{
	for (int i = w->first_index; i < w->first_index + w->n; i++)
		cr_assert(a->elapsed[i] >= t_set && a->elapsed[i] - t_set < mps_slack(),
		          "%s (%s): waiter %d returned %.4f s after set()", what,
		          mps_flavour_name(w->flavour), i, a->elapsed[i] - t_set);
}

#define SNAP(e) mps_event_t snap_; memcpy(&snap_, (e), sizeof snap_)
#define UNCHANGED(e, what) \
	cr_assert(memcmp(&snap_, (e), sizeof snap_) == 0, "%s changed the event's bytes", what)

/* ======================= single-thread behaviour ======================= */

/* 6.1, 6.8: all-zero bytes, MPS_EVENT_INIT and mps_event_init are unset;
 * set/set/clear/clear toggle is_set idempotently. */
Test(event, is_set)
{
	mps_event_t zero;
	memset(&zero, 0, sizeof zero);
	cr_assert(!mps_event_is_set(&zero));
	cr_assert_eq(mps_event_wait(&zero, 0), ETIMEDOUT);

	mps_event_t st = MPS_EVENT_INIT;
	cr_assert(!mps_event_is_set(&st));

	mps_event_t e;
	memset(&e, 0xff, sizeof e);
	mps_event_init(&e);
	for (int round = 0; round < 2; round++) {
		cr_assert(!mps_event_is_set(&e));
		mps_event_set(&e);
		cr_assert(mps_event_is_set(&e));
		mps_event_set(&e);
		cr_assert(mps_event_is_set(&e));
		mps_event_clear(&e);
		cr_assert(!mps_event_is_set(&e));
		mps_event_clear(&e);
		cr_assert(!mps_event_is_set(&e));
	}
	cr_assert(sizeof(mps_event_t) == 4);   /* SPEC §2 */
}

/* 6.3, 6.7, 1.2, 1.8 on one thread: unset → ETIMEDOUT (at once for a poll
 * or a negative timeout, after T for a timed wait); set → 0 at once whatever
 * the timeout. Twice on one object. */
Test(event, timeouts)
{
	static const double polls[] = { 0.0, -0.0, -1.0, -1e-9, -1e300, -INFINITY };
	static const double longs[] = { 0.0, -1.0, -INFINITY, 0.5, 5.0, 1e9, 1e15, 1e300, MPS_FOREVER };
	mps_event_t e = MPS_EVENT_INIT;
	for (int round = 0; round < 2; round++) {
		for (unsigned i = 0; i < sizeof polls / sizeof polls[0]; i++) {
			double t0 = mps_now();
			cr_assert_eq(mps_event_wait(&e, polls[i]), ETIMEDOUT, "unset: wait(%g)", polls[i]);
			cr_assert_lt(mps_now() - t0, mps_quick(), "unset: wait(%g) blocked", polls[i]);
		}
		double t0 = mps_now();
		cr_assert_eq(mps_event_wait(&e, 0.1), ETIMEDOUT);
		double el = mps_now() - t0;
		cr_assert(el >= 0.099 && el < 0.1 + mps_slack(), "wait(0.1) took %.4f s", el);
		cr_assert(!mps_event_is_set(&e));

		mps_event_set(&e);
		t0 = mps_now();
		for (unsigned i = 0; i < sizeof longs / sizeof longs[0]; i++)
			cr_assert_eq(mps_event_wait(&e, longs[i]), 0, "set: wait(%g)", longs[i]);
		cr_assert_lt(mps_now() - t0, mps_quick());
		cr_assert(mps_event_is_set(&e));   /* waiting does not consume the flag */
		mps_event_clear(&e);
	}
}

/* SPEC §2: a NaN timeout is EINVAL and leaves the bytes unchanged, set or not. */
Test(event, nan_timeout)
{
	mps_event_t e = MPS_EVENT_INIT;
	for (int round = 0; round < 4; round++) {
		if (round == 1 || round == 3)
			mps_event_set(&e);
		else if (round == 2)
			mps_event_clear(&e);
		for (int k = 0; k < 2; k++) {
			SNAP(&e);
			double t0 = mps_now();
			cr_assert_eq(mps_event_wait(&e, k ? -NAN : NAN), EINVAL, "round %d", round);
			cr_assert_lt(mps_now() - t0, mps_quick());
			UNCHANGED(&e, "wait(NaN)");
		}
		cr_assert_eq(mps_event_is_set(&e), round == 1 || round == 3);
	}
}

/* ============================ roles ============================ */

/* 6.2: wait() twice; both must return 0. */
static int role_wait_twice(struct mps_area *a, int index)
{
	announce(a, index);
	int r = mps_event_wait(&a->event, LONG_WAIT);
	a->elapsed[index] = mps_now();
	a->value[index] = r;
	if (r != 0)
		return 10;
	mps_count_add(&a->counter[C_RET1], 1);
	r = mps_event_wait(&a->event, LONG_WAIT);
	a->value[index] = r;
	if (r != 0)
		return 11;
	mps_count_add(&a->counter[C_RET2], 1);
	return 0;
}

/* One wait that must return 0; records the code and the return time. */
static int role_wait_once(struct mps_area *a, int index)
{
	announce(a, index);
	int r = mps_event_wait(&a->event, LONG_WAIT);
	a->elapsed[index] = mps_now();
	a->value[index] = r;
	if (r != 0)
		return 10;
	mps_count_add(&a->counter[C_RET1], 1);
	return 0;
}

/* Many pulses: a->arg waits in a row, each released by one set()+clear(). */
static int role_wait_pulses(struct mps_area *a, int index)
{
	for (int k = 0; k < a->arg; k++) {
		announce(a, index);
		int r = mps_event_wait(&a->event, LONG_WAIT);
		a->value[index] = r;
		if (r != 0)
			return 10;
		mps_count_add(&a->counter[C_RET1], 1);
		/* Do not wait again before the parent has seen this return. */
		__atomic_store_n(&a->value[TID_BASE + index], 0, __ATOMIC_SEQ_CST);
		double end = mps_now() + LONG_WAIT;
		while ((int64_t)count(a, C_RET2) <= k) {
			if (mps_now() > end)
				return 90;
			sched_yield();
		}
	}
	return 0;
}

/* 6.3 on an unset event: polls and negative timeouts fail at once, a timed
 * wait fails after a->arg ms. */
static int role_unset_timeouts(struct mps_area *a, int index)
{
	static const double polls[] = { 0.0, -1.0, -INFINITY };
	for (int i = 0; i < 3; i++) {
		double t0 = mps_now();
		int r = mps_event_wait(&a->event, polls[i]);
		a->value[index] = r;
		if (r != ETIMEDOUT)
			return 10 + i;
		if (mps_now() - t0 >= mps_quick())
			return 20 + i;
	}
	announce(a, index);
	double t0 = mps_now();
	int r = mps_event_wait(&a->event, (double)a->arg / 1000);
	a->elapsed[index] = mps_now() - t0;
	a->value[index] = r;
	if (r != ETIMEDOUT)
		return 30;
	mps_count_add(&a->counter[C_TIMEDOUT], 1);
	return 0;
}

/* 6.3 / 1.8 on a set event: every wait returns 0 at once. */
static int role_set_timeouts(struct mps_area *a, int index)
{
	static const double ts[] = { 0.0, -1.0, 0.5, 5.0, MPS_FOREVER };
	for (int i = 0; i < 5; i++) {
		double t0 = mps_now();
		int r = mps_event_wait(&a->event, ts[i]);
		a->value[index] = r;
		if (r != 0)
			return 10 + i;
		if (mps_now() - t0 >= mps_quick())
			return 20 + i;
	}
	return mps_event_is_set(&a->event) ? 0 : 30;
}

/* 6.5: set from the other side after a while. */
static int role_set_later(struct mps_area *a, int index)
{
	mps_sleep(0.1);
	a->elapsed[index] = mps_now();
	mps_event_set(&a->event);
	return 0;
}

/* 6.6: sees the parent's set, waits, clears, then a short wait times out. */
static int role_see_and_clear(struct mps_area *a, int index)
{
	(void)index;
	if (!mps_event_is_set(&a->event))
		return 10;
	if (mps_event_wait(&a->event, LONG_WAIT) != 0)
		return 11;
	mps_event_clear(&a->event);
	if (mps_event_is_set(&a->event))
		return 12;
	if (mps_event_wait(&a->event, 0.001) != ETIMEDOUT)
		return 13;
	return 0;
}

/* ===================== scenarios with other parties ===================== */

/* 6.2: one set() releases all 5 waiters; their second wait returns at once.
 * None returns before the set. Then again after set()+clear(). */
MPS_FLAVOURS(event, notify)
ParameterizedTest(enum mps_flavour *f, event, notify)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	for (int round = 0; round < 2; round++) {
		if (round == 1) {
			mps_event_set(&a->event);
			mps_event_clear(&a->event);
		}
		mps_count_reset(a);
		start(&w, *f, a, role_wait_twice, N_WAITERS, 0);
		await_blocked(a, &w, "notify");
		cr_assert_eq(count(a, C_RET1), 0);
		double t_set = mps_now();
		mps_event_set(&a->event);
		join_ok(&w, "notify");
		woke_promptly(a, &w, t_set, "notify");
		cr_assert_eq(count(a, C_RET1), N_WAITERS);
		cr_assert_eq(count(a, C_RET2), N_WAITERS);
		cr_assert(mps_event_is_set(&a->event));
	}
	mps_area_destroy(a);
}

/* 6.4: set() at once followed by clear() while 5 waiters wait: every waiter
 * returns 0 (the generation decides, not the flag). Several times on the same
 * object; the pulse is not remembered by later waiters. */
MPS_FLAVOURS(event, set_and_clear)
ParameterizedTest(enum mps_flavour *f, event, set_and_clear)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	for (int round = 0; round < 3; round++) {
		mps_count_reset(a);
		start(&w, *f, a, role_wait_once, N_WAITERS, 0);
		await_blocked(a, &w, "set_and_clear");
		double t_set = mps_now();
		mps_event_set(&a->event);
		mps_event_clear(&a->event);
		join_ok(&w, "set_and_clear");
		cr_assert_eq(count(a, C_RET1), N_WAITERS);
		for (int i = 0; i < N_WAITERS; i++)
			cr_assert_eq(a->value[i], 0, "round %d (%s): waiter %d got %lld", round,
			             mps_flavour_name(*f), i, (long long)a->value[i]);
		woke_promptly(a, &w, t_set, "set_and_clear");
		cr_assert(!mps_event_is_set(&a->event));
		cr_assert_eq(mps_event_wait(&a->event, 0), ETIMEDOUT);
		cr_assert_eq(mps_event_wait(&a->event, 0.02), ETIMEDOUT);
	}
	mps_area_destroy(a);
}

/* 6.4 many times in a row with the same waiters: 3 workers × 25 pulses. */
MPS_FLAVOURS(event, set_and_clear_pulses)
ParameterizedTest(enum mps_flavour *f, event, set_and_clear_pulses)
{
	const int n = 3, pulses = 25;
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	for (int round = 0; round < 2; round++) {
		mps_count_reset(a);
		a->arg = pulses;
		start(&w, *f, a, role_wait_pulses, n, 0);
		for (int k = 0; k < pulses; k++) {
			await_blocked(a, &w, "set_and_clear_pulses");
			cr_assert_eq(count(a, C_RET1), (uint32_t)(n * k));
			mps_event_set(&a->event);
			mps_event_clear(&a->event);
			cr_assert(mps_count_await(&a->counter[C_RET1], (uint32_t)(n * (k + 1)), SETTLE_S),
			          "pulse %d (%s): %u of %d waiters returned", k, mps_flavour_name(*f),
			          count(a, C_RET1) - (uint32_t)(n * k), n);
			mps_count_add(&a->counter[C_RET2], 1);
		}
		join_ok(&w, "set_and_clear_pulses");
		cr_assert_eq(count(a, C_RET1), (uint32_t)(n * pulses));
		cr_assert(!mps_event_is_set(&a->event));
	}
	mps_area_destroy(a);
}

/* clear() wakes no one: with the event unset, clears leave every waiter
 * blocked; the following set() releases them all. */
MPS_FLAVOURS(event, clear_wakes_no_one)
ParameterizedTest(enum mps_flavour *f, event, clear_wakes_no_one)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	for (int round = 0; round < 2; round++) {
		mps_count_reset(a);
		mps_event_clear(&a->event);
		start(&w, *f, a, role_wait_once, N_WAITERS, 0);
		await_blocked(a, &w, "clear_wakes_no_one");
		for (int i = 0; i < 3; i++)
			mps_event_clear(&a->event);
		mps_sleep(0.05);   /* only to give a wrongly woken waiter time to return */
		await_blocked(a, &w, "clear_wakes_no_one after clear()");
		cr_assert_eq(count(a, C_RET1), 0);
		double t_set = mps_now();
		mps_event_set(&a->event);
		join_ok(&w, "clear_wakes_no_one");
		woke_promptly(a, &w, t_set, "clear_wakes_no_one");
		cr_assert_eq(count(a, C_RET1), N_WAITERS);
	}
	mps_area_destroy(a);
}

/* 6.3 with 5 concurrent waiters: unset → polls fail at once and wait(T)
 * fails after T; set → every wait returns 0 at once. Twice. */
MPS_FLAVOURS(event, timeout)
ParameterizedTest(enum mps_flavour *f, event, timeout)
{
	const double T = 0.2;
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	a->arg = (int64_t)(T * 1000);
	for (int round = 0; round < 2; round++) {
		mps_count_reset(a);
		start(&w, *f, a, role_unset_timeouts, N_WAITERS, 0);
		join_ok(&w, "timeout (unset)");
		cr_assert_eq(count(a, C_TIMEDOUT), N_WAITERS);
		for (int i = 0; i < N_WAITERS; i++)
			cr_assert(a->elapsed[i] >= T - 0.001 && a->elapsed[i] < T + mps_slack(),
			          "%s: wait(%.1f) took %.4f s", mps_flavour_name(*f), T, a->elapsed[i]);
		cr_assert(!mps_event_is_set(&a->event));

		mps_event_set(&a->event);
		start(&w, *f, a, role_set_timeouts, N_WAITERS, 0);
		join_ok(&w, "timeout (set)");
		mps_event_clear(&a->event);
	}
	mps_area_destroy(a);
}

/* Timed-out waiters leave no residue: after 5 waits time out, a new waiter
 * still sleeps until the next set() and is released by it at once; clear()
 * then leaves an event on which polls fail. */
MPS_FLAVOURS(event, timeout_no_residue)
ParameterizedTest(enum mps_flavour *f, event, timeout_no_residue)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers timed, slow;
	a->arg = 100;
	for (int round = 0; round < 2; round++) {
		mps_count_reset(a);
		start(&timed, *f, a, role_unset_timeouts, N_WAITERS, 0);
		join_ok(&timed, "timed-out waiters");
		cr_assert_eq(count(a, C_TIMEDOUT), N_WAITERS);
		cr_assert(!mps_event_is_set(&a->event));

		start(&slow, *f, a, role_wait_once, 1, N_WAITERS);
		await_blocked(a, &slow, "waiter after timeouts");
		cr_assert_eq(count(a, C_RET1), 0);
		double t_set = mps_now();
		mps_event_set(&a->event);
		join_ok(&slow, "waiter after timeouts");
		woke_promptly(a, &slow, t_set, "waiter after timeouts");
		cr_assert_eq(mps_event_wait(&a->event, 0), 0);
		mps_event_clear(&a->event);
		cr_assert_eq(mps_event_wait(&a->event, 0), ETIMEDOUT);
		cr_assert_eq(mps_event_wait(&a->event, -1), ETIMEDOUT);
	}
	mps_area_destroy(a);
}

/* 6.5: the other side sets after 0.1 s; the parent's wait returns 0. */
MPS_FLAVOURS(event, set_from_other_side)
ParameterizedTest(enum mps_flavour *f, event, set_from_other_side)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	for (int round = 0; round < 2; round++) {
		cr_assert(!mps_event_is_set(&a->event));
		start(&w, *f, a, role_set_later, 1, 0);
		cr_assert_eq(mps_event_wait(&a->event, LONG_WAIT), 0);
		double t_ret = mps_now();
		cr_assert(mps_event_is_set(&a->event));
		join_ok(&w, "set_from_other_side");
		cr_assert_lt(t_ret - a->elapsed[0], mps_slack(), "%s: wait returned %.4f s after set()",
		             mps_flavour_name(*f), t_ret - a->elapsed[0]);
		mps_event_clear(&a->event);
	}
	mps_area_destroy(a);
}

/* 6.6: parent sets; the worker sees it, waits, clears, times out on a short
 * wait; the parent then sees it unset and times out too. */
MPS_FLAVOURS(event, clear_from_other_side)
ParameterizedTest(enum mps_flavour *f, event, clear_from_other_side)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	for (int round = 0; round < 2; round++) {
		mps_event_set(&a->event);
		start(&w, *f, a, role_see_and_clear, 1, 0);
		join_ok(&w, "clear_from_other_side");
		cr_assert(!mps_event_is_set(&a->event));
		cr_assert_eq(mps_event_wait(&a->event, 0.001), ETIMEDOUT);
	}
	mps_area_destroy(a);
}
