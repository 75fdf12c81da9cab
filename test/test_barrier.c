/* Barrier: research/conformance.md §7 (7.1-7.17) and SPEC §3, in three
 * flavours (threads, forked children, spawned copies at another address).
 *
 * Roles record what they saw in the area (value[], elapsed[]) and return a
 * distinct non-zero code at the first thing that is wrong; only the parent
 * asserts. Every wait in a role is bounded. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"

#define LONG_WAIT 10.0    /* bound for waits that must not time out */
#define JOIN_WAIT 60.0

/* --- helpers ------------------------------------------------------------ */

static bool await_waiting(const mps_barrier_t *b, unsigned n, double timeout)
{
	double end = mps_now() + timeout;
	while (mps_barrier_n_waiting(b) < n) {
		if (mps_now() > end)
			return false;
		mps_sleep(0.0005);
	}
	return true;
}

static int64_t load64(const int64_t *p)
{
	return atomic_load((_Atomic int64_t *)p);
}

static void store64(int64_t *p, int64_t v)
{
	atomic_store((_Atomic int64_t *)p, v);
}

static int64_t add64(int64_t *p, int64_t v)
{
	return atomic_fetch_add((_Atomic int64_t *)p, v) + v;
}

static void clear_scratch(struct mps_area *a)
{
	memset(a->value, 0, sizeof a->value);
	memset(a->counter, 0, sizeof a->counter);
	memset(a->elapsed, 0, sizeof a->elapsed);
}

static void join_all(struct mps_workers *w, const char *what)
{
	int failed = mps_workers_join(w, JOIN_WAIT);
	struct mps_area *a = w->area;
	for (int i = w->first_index; i < w->first_index + w->n; i++)
		cr_expect_eq(a->result[i], 0, "%s (%s): worker %d returned %d", what,
		             mps_flavour_name(w->flavour), i, a->result[i]);
	cr_assert_eq(failed, 0, "%s (%s): %d workers failed", what, mps_flavour_name(w->flavour),
	             failed);
}

static void run_workers(enum mps_flavour f, struct mps_area *a, mps_role_fn role, int n,
                        const char *what)
{
	struct mps_workers w;
	mps_workers_start(&w, f, a, role, n, 0);
	join_all(&w, what);
}

static void assert_quiet(const mps_barrier_t *b, const char *what)
{
	cr_assert_eq(mps_barrier_n_waiting(b), 0, "%s: n_waiting after the pass", what);
	cr_assert(!mps_barrier_broken(b), "%s: broken after the pass", what);
}

/* Workers store mps_now() (CLOCK_MONOTONIC: one clock for all processes)
 * when they return; they must return soon after the event at t_event. */
static void assert_released_after(const struct mps_area *a, const int *workers, int n,
                                  double t_event, const char *what)
{
	for (int i = 0; i < n; i++) {
		double late = a->elapsed[16 + workers[i]] - t_event;
		cr_assert(late < mps_slack(), "%s: worker %d returned %.3f s after it", what, workers[i],
		          late);
	}
}

static void assert_took(double elapsed, double t, const char *what)
{
	cr_assert(elapsed >= t - 0.001, "%s: returned after %.3f s, before the timeout %.3f s",
	          what, elapsed, t);
	cr_assert(elapsed < t + mps_slack(), "%s: returned after %.3f s, timeout %.3f s", what,
	          elapsed, t);
}

/* --- 7.1: constructor arguments ----------------------------------------- */

Test(barrier, init_rejects_bad_parties_and_nan)
{
	mps_barrier_t b, before;
	memset(&b, 0x5a, sizeof b);
	before = b;
	unsigned bad[] = { 0, MPS_BARRIER_MAX_PARTIES + 1, 0xffffffffu };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(mps_barrier_init(&b, bad[i], 1.0), EINVAL, "parties %u", bad[i]);
		cr_assert(memcmp(&b, &before, sizeof b) == 0, "parties %u changed the bytes", bad[i]);
	}
	cr_assert_eq(mps_barrier_init(&b, 2, NAN), EINVAL, "NaN default timeout");
	cr_assert(memcmp(&b, &before, sizeof b) == 0, "NaN default timeout changed the bytes");

	cr_assert_eq(mps_barrier_init(&b, 1, MPS_FOREVER), 0);
	cr_assert_eq(mps_barrier_parties(&b), 1);
	cr_assert_eq(mps_barrier_init(&b, MPS_BARRIER_MAX_PARTIES, 2.5), 0);
	cr_assert_eq(mps_barrier_parties(&b), MPS_BARRIER_MAX_PARTIES);
	cr_assert_eq(mps_barrier_timeout(&b), 2.5);
	assert_quiet(&b, "fresh barrier");
}

/* A zero-filled Barrier has no parties: it needs init, and its use is refused
 * instead of hanging (SPEC §2: "Semaphore and Barrier need their init call"). */
Test(barrier, zeroed_barrier_refuses_wait)
{
	mps_barrier_t b;
	memset(&b, 0, sizeof b);
	cr_assert_eq(mps_barrier_wait(&b, 0.1, NULL), EINVAL);
	cr_assert_eq(mps_barrier_abort(&b), EINVAL);
	cr_assert_eq(mps_barrier_reset(&b), EINVAL);
}

/* --- NaN wait timeout: EINVAL, the barrier's bytes unchanged (SPEC §2) ---- */

static int nan_partner_role(struct mps_area *a, int index)
{
	unsigned idx = 99;
	int r = mps_barrier_wait(&a->barrier, LONG_WAIT, &idx);
	a->value[index] = r;
	a->value[8 + index] = idx;
	return r == 0 ? 0 : 1;
}

static int never_run_action(void *arg)
{
	store64(arg, 1);
	return 0;
}

MPS_FLAVOURS(barrier, nan_timeout_leaves_bytes_unchanged)
ParameterizedTest(enum mps_flavour *f, barrier, nan_timeout_leaves_bytes_unchanged, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, 2, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		struct mps_workers w;
		mps_workers_start(&w, *f, a, nan_partner_role, 1, 0);
		cr_assert(await_waiting(&a->barrier, 1, LONG_WAIT), "partner never arrived");
		mps_sleep(0.05);  /* lets it fall asleep: its bytes change no more */
		mps_barrier_t before = a->barrier;
		unsigned idx = 77;
		int64_t ran = 0;
		cr_assert_eq(mps_barrier_wait(&a->barrier, NAN, &idx), EINVAL);
		cr_assert_eq(mps_barrier_wait_action(&a->barrier, NAN, never_run_action, &ran, &idx),
		             EINVAL);
		cr_assert(memcmp(&before, &a->barrier, sizeof before) == 0, "NaN wait changed the barrier");
		cr_assert_eq(idx, 77, "NaN wait wrote the index");
		cr_assert_eq(ran, 0, "NaN wait ran the action");
		cr_assert_eq(mps_barrier_n_waiting(&a->barrier), 1);
		cr_assert_eq(mps_barrier_wait(&a->barrier, LONG_WAIT, &idx), 0);
		cr_assert_eq(idx, 1);
		join_all(&w, "nan");
		cr_assert_eq(a->value[8], 0, "the partner arrived first");
		assert_quiet(&a->barrier, "nan");
	}
	mps_area_destroy(a);
}

/* --- 7.2, 7.3, 7.17: lock-step, 10 passes ------------------------------- */

#define STEP_PARTIES 5
#define STEP_PASSES 10

static int lock_step_role(struct mps_area *a, int index)
{
	(void)index;
	if (mps_barrier_parties(&a->barrier) != STEP_PARTIES)
		return 1;
	for (uint32_t pass = 1; pass <= STEP_PASSES; pass++) {
		mps_count_add(&a->counter[0], 1);
		if (mps_barrier_wait(&a->barrier, LONG_WAIT, NULL) != 0)
			return 2;
		/* nobody leaves pass i before all N arrived at it */
		if (mps_count_get(&a->counter[0]) < pass * STEP_PARTIES)
			return 3;
		if (mps_barrier_broken(&a->barrier))
			return 4;
	}
	return 0;
}

MPS_FLAVOURS(barrier, lock_step_passes)
ParameterizedTest(enum mps_flavour *f, barrier, lock_step_passes, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, STEP_PARTIES, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		run_workers(*f, a, lock_step_role, STEP_PARTIES, "lock step");
		cr_assert_eq(mps_count_get(&a->counter[0]), STEP_PARTIES * STEP_PASSES);
		cr_assert_eq(mps_barrier_parties(&a->barrier), STEP_PARTIES);
		assert_quiet(&a->barrier, "lock step");
	}
	mps_area_destroy(a);
}

/* --- 7.3: more workers than parties ------------------------------------ */

#define MANY_WORKERS 4
#define MANY_PARTIES 2
#define MANY_PASSES 400
#define LAST_PASS_RESULT 77

/* A slow action keeps each pass "tripping" a while, so that newcomers arrive
 * in that window: they must wait for the next pass, not be counted in this
 * one. Counted in this one, a newcomer would get index >= parties and return
 * without a pass of its own. The last pass's action fails, which breaks the
 * barrier and so ends every worker's loop. */
static int short_action(void *p)
{
	mps_sleep(0.0005);
	return add64(p, 1) == MANY_PASSES ? LAST_PASS_RESULT : 0;
}

static int many_role(struct mps_area *a, int index)
{
	(void)index;
	for (;;) {
		unsigned idx = 99;
		int r = mps_barrier_wait_action(&a->barrier, LONG_WAIT, short_action, &a->value[0], &idx);
		if (r == LAST_PASS_RESULT)
			return 0;
		if (r == MPS_EBROKEN)  /* only the last pass breaks it */
			return load64(&a->value[0]) >= MANY_PASSES ? 0 : 3;
		if (r != 0)
			return 1;
		if (idx >= MANY_PARTIES)
			return 2;
		add64(&a->value[1], 1);
	}
}

MPS_FLAVOURS(barrier, more_workers_than_parties)
ParameterizedTest(enum mps_flavour *f, barrier, more_workers_than_parties, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, MANY_PARTIES, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		run_workers(*f, a, many_role, MANY_WORKERS, "more workers than parties");
		cr_assert_eq(a->value[0], MANY_PASSES);
		cr_assert_eq(a->value[1], (MANY_PASSES - 1) * MANY_PARTIES,
		             "%lld successful returns from %d passes of %d", (long long)a->value[1],
		             MANY_PASSES - 1, MANY_PARTIES);
		cr_assert(mps_barrier_broken(&a->barrier));
		cr_assert_eq(mps_barrier_reset(&a->barrier), 0);
		assert_quiet(&a->barrier, "more workers than parties");
	}
	mps_area_destroy(a);
}

/* --- 7.4, 7.3: strict generations, 5 workers x 1000 passes -------------- */

#define GEN_WORKERS 5
#define GEN_PASSES 1000

/* After pass k every worker has recorded k-1 (it arrived at pass k) and none
 * has recorded k+1 (pass k+1 needs this worker): nobody is more than one pass
 * ahead of anyone, so no waiter of pass k was counted in pass k+1. */
static int generations_role(struct mps_area *a, int index)
{
	for (int64_t k = 1; k <= GEN_PASSES; k++) {
		if (mps_barrier_wait(&a->barrier, LONG_WAIT, NULL) != 0)
			return 1;
		store64(&a->value[index], k);
		for (int j = 0; j < GEN_WORKERS; j++) {
			int64_t v = load64(&a->value[j]);
			if (v < k - 1 || v > k) {
				a->value[16 + index] = k;
				a->value[24 + index] = (j << 24) | v;
				return 2;
			}
		}
	}
	return 0;
}

MPS_FLAVOURS(barrier, thousand_passes_strict_generations)
ParameterizedTest(enum mps_flavour *f, barrier, thousand_passes_strict_generations, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, GEN_WORKERS, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		run_workers(*f, a, generations_role, GEN_WORKERS, "generations");
		for (int j = 0; j < GEN_WORKERS; j++)
			cr_assert_eq(a->value[j], GEN_PASSES);
		assert_quiet(&a->barrier, "generations");
	}
	mps_area_destroy(a);
}

/* --- 7.5: the index is the arrival order -------------------------------- */

#define ORDER_PARTIES 4

/* Worker i arrives only after i others have: arrivals are in index order. */
static int arrival_role(struct mps_area *a, int index)
{
	for (int pass = 0; pass < 2; pass++) {
		if (!await_waiting(&a->barrier, (unsigned)index, LONG_WAIT))
			return 1;
		unsigned idx = 99;
		if (mps_barrier_wait(&a->barrier, LONG_WAIT, &idx) != 0)
			return 2;
		a->value[pass * 8 + index] = idx;
	}
	return 0;
}

MPS_FLAVOURS(barrier, index_is_arrival_order)
ParameterizedTest(enum mps_flavour *f, barrier, index_is_arrival_order, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, ORDER_PARTIES, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		run_workers(*f, a, arrival_role, ORDER_PARTIES, "arrival order");
		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < ORDER_PARTIES; i++)
				cr_assert_eq(a->value[pass * 8 + i], i,
				             "pass %d: arrival %d got index %lld", pass, i,
				             (long long)a->value[pass * 8 + i]);
		assert_quiet(&a->barrier, "arrival order");
	}
	mps_area_destroy(a);
}

/* --- 7.6: the action runs once, by the last arriver, before any return --- */

#define ACTION_PARTIES 3
#define ACTION_PASSES 5

struct action_arg {
	struct mps_area *area;
	int worker;
};

/* value[0]: runs; value[8 + pass]: worker that ran it. Returns area->arg. The
 * sleep only lets time pass: a waiter released before the action ends would
 * see the old run count. */
static int counting_action(void *p)
{
	struct action_arg *x = p;
	mps_sleep(0.01);
	int64_t runs = add64(&x->area->value[0], 1);
	if (runs < 8)
		x->area->value[8 + runs] = x->worker;
	return (int)x->area->arg;
}

static int action_role(struct mps_area *a, int index)
{
	struct action_arg arg = { a, index };
	for (int64_t pass = 1; pass <= ACTION_PASSES; pass++) {
		unsigned idx = 99;
		if (mps_barrier_wait_action(&a->barrier, LONG_WAIT, counting_action, &arg, &idx) != 0)
			return 1;
		if (load64(&a->value[0]) != pass)
			return 2;  /* ran late, more than once, or not at all */
		a->value[16 + pass * 4 + index] = idx;
	}
	return 0;
}

MPS_FLAVOURS(barrier, action_runs_once_by_last_before_release)
ParameterizedTest(enum mps_flavour *f, barrier, action_runs_once_by_last_before_release,
                  .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, ACTION_PARTIES, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		a->arg = 0;
		run_workers(*f, a, action_role, ACTION_PARTIES, "action");
		cr_assert_eq(a->value[0], ACTION_PASSES, "action runs");
		for (int pass = 1; pass <= ACTION_PASSES; pass++) {
			int64_t runner = a->value[8 + pass];
			cr_assert(runner >= 0 && runner < ACTION_PARTIES);
			cr_assert_eq(a->value[16 + pass * 4 + runner], ACTION_PARTIES - 1,
			             "pass %d: the action ran in a caller that was not the last arrival",
			             pass);
		}
		assert_quiet(&a->barrier, "action");
	}
	mps_area_destroy(a);
}

/* --- 7.7: a failing action breaks the barrier --------------------------- */

static int failing_action_role(struct mps_area *a, int index)
{
	struct action_arg arg = { a, index };
	unsigned idx = 99;
	int r = mps_barrier_wait_action(&a->barrier, LONG_WAIT, counting_action, &arg, &idx);
	a->elapsed[16 + index] = mps_now();
	a->value[32 + index] = r;
	a->value[40 + index] = idx;
	return 0;
}

static void check_failed_action(struct mps_area *a)
{
	int failed = 0, broken = 0;
	for (int i = 0; i < ACTION_PARTIES; i++) {
		if (a->value[32 + i] == 42) {
			failed++;
			cr_assert_eq(a->value[40 + i], ACTION_PARTIES - 1,
			             "the action ran in a caller that was not the last arrival");
		} else {
			cr_assert_eq(a->value[32 + i], MPS_EBROKEN, "worker %d got %lld", i,
			             (long long)a->value[32 + i]);
			broken++;
		}
	}
	cr_assert_eq(failed, 1, "exactly the caller that ran the action gets its result");
	double first = a->elapsed[16], last = a->elapsed[16];
	for (int i = 1; i < ACTION_PARTIES; i++) {
		if (a->elapsed[16 + i] < first)
			first = a->elapsed[16 + i];
		if (a->elapsed[16 + i] > last)
			last = a->elapsed[16 + i];
	}
	cr_assert(last - first < mps_slack(), "the others returned %.3f s after the action failed",
	          last - first);
	cr_assert_eq(broken, ACTION_PARTIES - 1);
	cr_assert_eq(a->value[0], 1, "the action ran once");
	cr_assert(mps_barrier_broken(&a->barrier));
	cr_assert_eq(mps_barrier_n_waiting(&a->barrier), 0);
}

MPS_FLAVOURS(barrier, failing_action_breaks_barrier)
ParameterizedTest(enum mps_flavour *f, barrier, failing_action_breaks_barrier, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, ACTION_PARTIES, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		a->arg = 42;
		run_workers(*f, a, failing_action_role, ACTION_PARTIES, "failing action");
		check_failed_action(a);
		/* broken: a later arrival fails at once */
		cr_assert_eq(mps_barrier_wait(&a->barrier, LONG_WAIT, NULL), MPS_EBROKEN);
		cr_assert_eq(mps_barrier_reset(&a->barrier), 0);
		clear_scratch(a);
		a->arg = 0;
		run_workers(*f, a, failing_action_role, ACTION_PARTIES, "action after reset");
		for (int i = 0; i < ACTION_PARTIES; i++)
			cr_assert_eq(a->value[32 + i], 0);
		assert_quiet(&a->barrier, "action after reset");
	}
	mps_area_destroy(a);
}

/* --- 7.8: abort ---------------------------------------------------------- */

#define ABORT_PARTIES 4

static int abort_role(struct mps_area *a, int index)
{
	if (mps_barrier_wait(&a->barrier, LONG_WAIT, NULL) != 0)
		return 1;  /* a normal pass first */
	if (index == ABORT_PARTIES / 2) {
		if (!await_waiting(&a->barrier, ABORT_PARTIES - 1, LONG_WAIT))
			return 2;
		a->elapsed[40] = mps_now();
		if (mps_barrier_abort(&a->barrier) != 0)
			return 3;
	} else {
		int r = mps_barrier_wait(&a->barrier, LONG_WAIT, NULL);
		a->elapsed[16 + index] = mps_now();
		if (r != MPS_EBROKEN)
			return 4;
	}
	/* every later wait fails at once until reset */
	double t0 = mps_now();
	int r = mps_barrier_wait(&a->barrier, LONG_WAIT, NULL);
	a->elapsed[index] = mps_now() - t0;
	return r == MPS_EBROKEN ? 0 : 5;
}

MPS_FLAVOURS(barrier, abort_breaks_waiters_until_reset)
ParameterizedTest(enum mps_flavour *f, barrier, abort_breaks_waiters_until_reset, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, ABORT_PARTIES, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		run_workers(*f, a, abort_role, ABORT_PARTIES, "abort");
		const int waiters[] = { 0, 1, 3 };
		assert_released_after(a, waiters, 3, a->elapsed[40], "abort");
		for (int i = 0; i < ABORT_PARTIES; i++)
			cr_assert(a->elapsed[i] < mps_slack(), "a wait on a broken barrier blocked %.3f s",
			          a->elapsed[i]);
		cr_assert(mps_barrier_broken(&a->barrier));
		cr_assert_eq(mps_barrier_n_waiting(&a->barrier), 0);
		cr_assert_eq(mps_barrier_wait(&a->barrier, 0, NULL), MPS_EBROKEN);
		cr_assert_eq(mps_barrier_abort(&a->barrier), 0, "abort of a broken barrier");
		cr_assert_eq(mps_barrier_reset(&a->barrier), 0);
		assert_quiet(&a->barrier, "abort then reset");
		/* round 2 starts with a full pass: reset made it usable */
	}
	mps_area_destroy(a);
}

/* --- 7.9: reset with N-1 waiting ---------------------------------------- */

#define RESET_PARTIES 4

static int reset_role(struct mps_area *a, int index)
{
	if (index < RESET_PARTIES - 1) {
		int r = mps_barrier_wait(&a->barrier, LONG_WAIT, NULL);
		a->elapsed[16 + index] = mps_now();
		if (r != MPS_EBROKEN)
			return 1;
	} else {
		if (!await_waiting(&a->barrier, RESET_PARTIES - 1, LONG_WAIT))
			return 2;
		a->elapsed[40] = mps_now();
		if (mps_barrier_reset(&a->barrier) != 0)
			return 3;
		if (mps_barrier_broken(&a->barrier))
			return 4;
	}
	/* usable again: a full pass of N */
	return mps_barrier_wait(&a->barrier, LONG_WAIT, NULL) == 0 ? 0 : 5;
}

MPS_FLAVOURS(barrier, reset_breaks_waiters_then_usable)
ParameterizedTest(enum mps_flavour *f, barrier, reset_breaks_waiters_then_usable, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, RESET_PARTIES, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		run_workers(*f, a, reset_role, RESET_PARTIES, "reset");
		const int waiters[] = { 0, 1, 2 };
		assert_released_after(a, waiters, 3, a->elapsed[40], "reset");
		assert_quiet(&a->barrier, "reset");
	}
	mps_area_destroy(a);
}

/* --- 7.10: abort, then reset after everyone left (LT test_abort_and_reset) */

static int abort_and_reset_role(struct mps_area *a, int index)
{
	(void)index;
	unsigned idx = 99;
	if (mps_barrier_wait(&a->barrier, LONG_WAIT, &idx) != 0)
		return 1;
	bool aborter = idx == RESET_PARTIES / 2;
	if (aborter) {
		if (!await_waiting(&a->barrier, RESET_PARTIES - 1, LONG_WAIT))
			return 2;
		mps_barrier_abort(&a->barrier);
	} else if (mps_barrier_wait(&a->barrier, LONG_WAIT, NULL) != MPS_EBROKEN) {
		return 3;
	} else {
		mps_count_add(&a->counter[0], 1);
	}
	/* Synchronise first so that everyone has left it when it is reset, and
	 * after so that no one enters it before the reset. */
	if (mps_barrier_wait(&a->barrier2, LONG_WAIT, NULL) != 0)
		return 4;
	if (aborter && mps_barrier_reset(&a->barrier) != 0)
		return 5;
	if (mps_barrier_wait(&a->barrier2, LONG_WAIT, NULL) != 0)
		return 6;
	return mps_barrier_wait(&a->barrier, LONG_WAIT, NULL) == 0 ? 0 : 7;
}

MPS_FLAVOURS(barrier, abort_then_reset_usable)
ParameterizedTest(enum mps_flavour *f, barrier, abort_then_reset_usable, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, RESET_PARTIES, MPS_FOREVER), 0);
	cr_assert_eq(mps_barrier_init(&a->barrier2, RESET_PARTIES, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		run_workers(*f, a, abort_and_reset_role, RESET_PARTIES, "abort and reset");
		cr_assert_eq(mps_count_get(&a->counter[0]), RESET_PARTIES - 1, "broken waiters");
		assert_quiet(&a->barrier, "abort and reset");
		assert_quiet(&a->barrier2, "abort and reset (second barrier)");
	}
	mps_area_destroy(a);
}

/* --- 7.11: a timeout breaks the barrier for everyone -------------------- */

#define TIMEOUT_T 0.3

/* Worker 0 times out; worker 1 was waiting with a long timeout; worker 2
 * arrives after the timeout. */
static int timeout_role(struct mps_area *a, int index)
{
	double t = LONG_WAIT;
	if (index == 0) {
		if (!await_waiting(&a->barrier, 1, LONG_WAIT))
			return 1;
		t = TIMEOUT_T;
	} else if (index == 2 && !mps_count_await(&a->counter[0], 1, LONG_WAIT)) {
		return 2;
	}
	double t0 = mps_now();
	int r = mps_barrier_wait(&a->barrier, t, NULL);
	a->elapsed[16 + index] = mps_now();
	a->elapsed[index] = a->elapsed[16 + index] - t0;
	a->value[index] = r;
	if (index == 0)
		mps_count_add(&a->counter[0], 1);
	return 0;
}

MPS_FLAVOURS(barrier, timeout_breaks_for_everyone)
ParameterizedTest(enum mps_flavour *f, barrier, timeout_breaks_for_everyone, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, 3, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		run_workers(*f, a, timeout_role, 3, "timeout");
		cr_assert_eq(a->value[0], ETIMEDOUT, "the waiter that timed out got %lld",
		             (long long)a->value[0]);
		assert_took(a->elapsed[0], TIMEOUT_T, "timed-out waiter");
		cr_assert_eq(a->value[1], MPS_EBROKEN, "the other waiter got %lld", (long long)a->value[1]);
		const int other[] = { 1 };
		assert_released_after(a, other, 1, a->elapsed[16], "the timeout");
		cr_assert_eq(a->value[2], MPS_EBROKEN, "the late arrival got %lld", (long long)a->value[2]);
		cr_assert(a->elapsed[2] < mps_slack(), "the late arrival blocked");
		cr_assert(mps_barrier_broken(&a->barrier));
		cr_assert_eq(mps_barrier_n_waiting(&a->barrier), 0);
		cr_assert_eq(mps_barrier_reset(&a->barrier), 0);
		assert_quiet(&a->barrier, "timeout then reset");
	}
	mps_area_destroy(a);
}

/* All waiters share one timeout: exactly one of them reports ETIMEDOUT. */
static int same_timeout_role(struct mps_area *a, int index)
{
	double t0 = mps_now();
	a->value[index] = mps_barrier_wait(&a->barrier, (double)a->arg / 1000, NULL);
	a->elapsed[index] = mps_now() - t0;
	return 0;
}

MPS_FLAVOURS(barrier, timeout_exactly_one_etimedout)
ParameterizedTest(enum mps_flavour *f, barrier, timeout_exactly_one_etimedout, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, 4, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		a->arg = 200;  /* ms */
		run_workers(*f, a, same_timeout_role, 3, "same timeout");
		int timed_out = 0;
		for (int i = 0; i < 3; i++) {
			cr_assert(a->value[i] == ETIMEDOUT || a->value[i] == MPS_EBROKEN, "worker %d got %lld",
			          i, (long long)a->value[i]);
			cr_assert(a->elapsed[i] < 0.2 + mps_slack(), "worker %d released late", i);
			if (a->value[i] == ETIMEDOUT) {
				timed_out++;
				assert_took(a->elapsed[i], 0.2, "timed-out waiter");
			}
		}
		cr_assert_eq(timed_out, 1);
		cr_assert(mps_barrier_broken(&a->barrier));
		cr_assert_eq(mps_barrier_reset(&a->barrier), 0);
	}
	mps_area_destroy(a);
}

/* --- 7.12: the default timeout given at init ---------------------------- */

#define DEFAULT_T 0.25
#define OVERRIDE_T 0.5

/* arg 0: both use the stored default; arg 1: worker 0 alone overrides it. */
static int default_timeout_role(struct mps_area *a, int index)
{
	double t = mps_barrier_timeout(&a->barrier);
	a->elapsed[32 + index] = t;
	if (a->arg == 1)
		t = OVERRIDE_T;
	double t0 = mps_now();
	a->value[index] = mps_barrier_wait(&a->barrier, t, NULL);
	a->elapsed[index] = mps_now() - t0;
	return 0;
}

MPS_FLAVOURS(barrier, default_timeout_from_init)
ParameterizedTest(enum mps_flavour *f, barrier, default_timeout_from_init, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, 3, DEFAULT_T), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		a->arg = 0;
		run_workers(*f, a, default_timeout_role, 2, "default timeout");
		cr_assert_eq(a->elapsed[32], DEFAULT_T, "the default read back in a worker");
		cr_assert_eq(a->elapsed[33], DEFAULT_T);
		int t = a->value[0] == ETIMEDOUT ? 0 : 1;
		cr_assert_eq(a->value[t], ETIMEDOUT, "got %lld and %lld", (long long)a->value[0],
		             (long long)a->value[1]);
		cr_assert_eq(a->value[1 - t], MPS_EBROKEN);
		assert_took(a->elapsed[t], DEFAULT_T, "default timeout");
		cr_assert(mps_barrier_broken(&a->barrier));
		cr_assert_eq(mps_barrier_reset(&a->barrier), 0);

		clear_scratch(a);
		a->arg = 1;
		run_workers(*f, a, default_timeout_role, 1, "per-call timeout");
		cr_assert_eq(a->value[0], ETIMEDOUT);
		assert_took(a->elapsed[0], OVERRIDE_T, "per-call timeout overrides the default");
		cr_assert_eq(mps_barrier_reset(&a->barrier), 0);
		cr_assert_eq(mps_barrier_timeout(&a->barrier), DEFAULT_T, "reset changed the default");
	}
	mps_area_destroy(a);
}

/* --- 7.13: zero and negative timeouts; 1.8 the completing arrival ------- */

static int poll_timeouts_role(struct mps_area *a, int index)
{
	(void)index;
	mps_barrier_t *b = &a->barrier;
	const double polls[] = { 0.0, -1.0, -INFINITY };
	for (int i = 0; i < 3; i++) {
		double t0 = mps_now();
		int r = mps_barrier_wait(b, polls[i], NULL);
		a->elapsed[i] = mps_now() - t0;
		if (r != ETIMEDOUT)
			return 10 + i;
		if (!mps_barrier_broken(b) || mps_barrier_n_waiting(b) != 0)
			return 20 + i;
		t0 = mps_now();
		if (mps_barrier_wait(b, LONG_WAIT, NULL) != MPS_EBROKEN)
			return 30 + i;  /* a later arrival on the broken barrier */
		a->elapsed[8 + i] = mps_now() - t0;
		if (mps_barrier_reset(b) != 0 || mps_barrier_broken(b))
			return 40 + i;
	}
	return 0;
}

/* Worker 0 waits; worker 1 completes the pass with a poll: a pass that can
 * complete at once does, whatever the timeout (1.8). */
static int completing_poll_role(struct mps_area *a, int index)
{
	double t = LONG_WAIT;
	if (index == 1) {
		if (!await_waiting(&a->barrier, 1, LONG_WAIT))
			return 1;
		t = a->arg ? -1.0 : 0.0;
	}
	return mps_barrier_wait(&a->barrier, t, NULL) == 0 ? 0 : 2;
}

MPS_FLAVOURS(barrier, zero_and_negative_timeout)
ParameterizedTest(enum mps_flavour *f, barrier, zero_and_negative_timeout, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, 2, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		run_workers(*f, a, poll_timeouts_role, 1, "poll timeouts");
		for (int i = 0; i < 3; i++) {
			cr_assert(a->elapsed[i] < mps_slack(), "a poll blocked %.3f s", a->elapsed[i]);
			cr_assert(a->elapsed[8 + i] < mps_slack(), "a wait on a broken barrier blocked");
		}
		a->arg = round;
		run_workers(*f, a, completing_poll_role, 2, "completing poll");
		assert_quiet(&a->barrier, "completing poll");
	}
	mps_area_destroy(a);
}

/* --- 7.14: Barrier(1) passes at once, repeatedly ------------------------ */

static int tally_action(void *p)
{
	add64(p, 1);
	return 0;
}

static int single_role(struct mps_area *a, int index)
{
	const double timeouts[] = { 0.0, -1.0, 5.0, MPS_FOREVER, 1e300 };
	double t0 = mps_now();
	for (int i = 0; i < 100; i++) {
		unsigned idx = 99;
		double t = timeouts[i % 5];
		int r = i & 1 ? mps_barrier_wait_action(&a->barrier, t, tally_action, &a->value[0], &idx)
		              : mps_barrier_wait(&a->barrier, t, &idx);
		if (r != 0 || idx != 0)
			return 1;
	}
	a->elapsed[index] = mps_now() - t0;
	return 0;
}

MPS_FLAVOURS(barrier, single_party_passes_at_once)
ParameterizedTest(enum mps_flavour *f, barrier, single_party_passes_at_once, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, 1, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		run_workers(*f, a, single_role, 1, "single party");
		cr_assert(a->elapsed[0] < mps_slack(), "100 passes took %.3f s", a->elapsed[0]);
		cr_assert_eq(a->value[0], 50, "the action ran %lld times", (long long)a->value[0]);
		assert_quiet(&a->barrier, "single party");
	}
	mps_area_destroy(a);
}

/* --- 7.15, 7.17: n_waiting; parties and reset from another process ------ */

#define NW_PARTIES 4

/* Worker i arrives when the parent lets it (counter[1] > i); arg 1: the
 * parent aborts instead of completing the pass. */
static int n_waiting_role(struct mps_area *a, int index)
{
	if (mps_barrier_parties(&a->barrier) != NW_PARTIES)
		return 1;
	if (!mps_count_await(&a->counter[1], (uint32_t)index + 1, LONG_WAIT))
		return 2;
	int want = a->arg ? MPS_EBROKEN : 0;
	int r = mps_barrier_wait(&a->barrier, LONG_WAIT, NULL);
	a->elapsed[16 + index] = mps_now();
	return r == want ? 0 : 3;
}

static void admit_one_by_one(struct mps_area *a)
{
	for (unsigned k = 0; k < NW_PARTIES - 1; k++) {
		cr_assert_eq(mps_barrier_n_waiting(&a->barrier), k);
		mps_count_add(&a->counter[1], 1);
		cr_assert(await_waiting(&a->barrier, k + 1, LONG_WAIT), "arrival %u not counted", k);
		mps_sleep(0.02);
		cr_assert_eq(mps_barrier_n_waiting(&a->barrier), k + 1);
	}
}

MPS_FLAVOURS(barrier, n_waiting_counts_blocked_parties)
ParameterizedTest(enum mps_flavour *f, barrier, n_waiting_counts_blocked_parties, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, NW_PARTIES, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		struct mps_workers w;
		clear_scratch(a);
		a->arg = 0;
		mps_workers_start(&w, *f, a, n_waiting_role, NW_PARTIES - 1, 0);
		admit_one_by_one(a);
		cr_assert_eq(mps_barrier_wait(&a->barrier, LONG_WAIT, NULL), 0);
		join_all(&w, "n_waiting");
		assert_quiet(&a->barrier, "n_waiting");

		clear_scratch(a);
		a->arg = 1;
		mps_workers_start(&w, *f, a, n_waiting_role, NW_PARTIES - 1, 0);
		admit_one_by_one(a);
		double t_abort = mps_now();
		cr_assert_eq(mps_barrier_abort(&a->barrier), 0);
		cr_assert_eq(mps_barrier_n_waiting(&a->barrier), 0, "n_waiting after abort");
		join_all(&w, "n_waiting then abort");
		const int waiters[] = { 0, 1, 2 };
		assert_released_after(a, waiters, 3, t_abort, "abort");
		cr_assert(mps_barrier_broken(&a->barrier));
		cr_assert_eq(mps_barrier_reset(&a->barrier), 0);
	}
	mps_area_destroy(a);
}

/* 7.17: a worker (another process, another address when spawned) reads the
 * parties and the default timeout and resets a broken barrier. */
static int remote_reset_role(struct mps_area *a, int index)
{
	(void)index;
	if (mps_barrier_parties(&a->barrier) != 5 || mps_barrier_timeout(&a->barrier) != 1.5)
		return 1;
	if (!mps_barrier_broken(&a->barrier))
		return 2;
	if (mps_barrier_reset(&a->barrier) != 0)
		return 3;
	return mps_barrier_broken(&a->barrier) ? 4 : 0;
}

MPS_FLAVOURS(barrier, remote_parties_and_reset)
ParameterizedTest(enum mps_flavour *f, barrier, remote_parties_and_reset, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, 5, 1.5), 0);
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_barrier_abort(&a->barrier), 0);
		run_workers(*f, a, remote_reset_role, 1, "remote reset");
		assert_quiet(&a->barrier, "remote reset");
	}
	mps_area_destroy(a);
}

/* --- a waiter that reads its outcome late still gets its own pass -------- */

/* The waiter is held inside a signal handler (which the futex wait returns
 * to) while its pass completes and more happens to the barrier: it is
 * aborted, reset and broken again by a timeout (the state says "broken" and
 * the epoch has moved twice), or it makes many more passes. Its own pass
 * succeeded, so when it finally looks it must get 0. */
static struct mps_area *parked_area;

static void park_handler(int sig)
{
	(void)sig;
	struct mps_area *a = parked_area;
	mps_count_add(&a->counter[2], 1);
	mps_count_await(&a->counter[3], mps_count_get(&a->counter[2]), LONG_WAIT);
}

static int late_reader_role(struct mps_area *a, int index)
{
	parked_area = a;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = park_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		return 1;
	store64(&a->value[8 + index], (int64_t)syscall(SYS_gettid));
	for (uint32_t round = 0; round < 2; round++) {
		if (!mps_count_await(&a->counter[1], round + 1, LONG_WAIT))
			return 2;  /* the parent says the barrier is ready */
		a->value[round] = mps_barrier_wait(&a->barrier, LONG_WAIT, NULL);
		mps_count_add(&a->counter[0], 1);
	}
	return 0;
}

/* Lets the waiter arrive, then holds it in the signal handler. */
static void park_waiter(struct mps_area *a, uint32_t round)
{
	mps_count_add(&a->counter[1], 1);
	cr_assert(await_waiting(&a->barrier, 1, LONG_WAIT), "the waiter never arrived");
	pid_t pid = a->pid[0], tid = (pid_t)load64(&a->value[8]);
	cr_assert_eq(syscall(SYS_tgkill, pid, tid, SIGUSR1), 0, "tgkill: %s", strerror(errno));
	cr_assert(mps_count_await(&a->counter[2], round + 1, LONG_WAIT), "handler never ran");
}

/* While the waiter is parked: abort, reset, and a pass broken by a timeout. */
static void abort_reset_timeout(mps_barrier_t *b)
{
	cr_assert_eq(mps_barrier_abort(b), 0);
	cr_assert_eq(mps_barrier_reset(b), 0);
	cr_assert_eq(mps_barrier_wait(b, 0.02, NULL), ETIMEDOUT, "a later pass breaks");
	cr_assert(mps_barrier_broken(b));
}

#define LATER_PASSES 20

static void *pass_helper(void *p)
{
	mps_barrier_t *b = p;
	intptr_t failed = 0;
	for (int i = 0; i < LATER_PASSES; i++)
		failed += mps_barrier_wait(b, LONG_WAIT, NULL) != 0;
	return (void *)failed;
}

/* While the waiter is parked: LATER_PASSES passes of this thread and another. */
static void many_later_passes(mps_barrier_t *b)
{
	pthread_t t;
	void *failed;
	cr_assert_eq(pthread_create(&t, NULL, pass_helper, b), 0);
	for (int i = 0; i < LATER_PASSES; i++)
		cr_assert_eq(mps_barrier_wait(b, LONG_WAIT, NULL), 0, "later pass %d", i);
	pthread_join(t, &failed);
	cr_assert_eq((intptr_t)failed, 0, "the helper's later passes failed");
}

static void check_late_reader(enum mps_flavour f, void (*later)(mps_barrier_t *b))
{
	struct mps_area *a = mps_area_create();
	mps_barrier_t *b = &a->barrier;
	cr_assert_eq(mps_barrier_init(b, 2, MPS_FOREVER), 0);
	struct mps_workers w;
	mps_workers_start(&w, f, a, late_reader_role, 1, 0);
	for (uint32_t round = 0; round < 2; round++) {
		park_waiter(a, round);
		cr_assert_eq(mps_barrier_wait(b, LONG_WAIT, NULL), 0, "the pass itself");
		later(b);
		mps_count_add(&a->counter[3], 1);  /* the waiter may look now */
		cr_assert(mps_count_await(&a->counter[0], round + 1, LONG_WAIT), "waiter stuck");
		cr_assert_eq(a->value[round], 0, "round %u: the late reader got %lld (%s) for a pass "
		             "that succeeded", round, (long long)a->value[round],
		             mps_strerror((int)a->value[round]));
		cr_assert_eq(mps_barrier_reset(b), 0);
	}
	join_all(&w, "late reader");
	mps_area_destroy(a);
}

MPS_FLAVOURS(barrier, late_reader_keeps_own_outcome)
ParameterizedTest(enum mps_flavour *f, barrier, late_reader_keeps_own_outcome, .timeout = 60)
{
	check_late_reader(*f, abort_reset_timeout);
}

/* The same after many later passes (other threads may use a barrier while
 * one of its waiters is descheduled): the waiter's own pass still succeeded.
 * SPEC §3: a barrier is broken only by abort, reset, a timeout or a failing
 * action. */
MPS_FLAVOURS(barrier, late_reader_after_many_passes)
ParameterizedTest(enum mps_flavour *f, barrier, late_reader_after_many_passes, .timeout = 60)
{
	check_late_reader(*f, many_later_passes);
}

/* --- an arrival during the trip of pass i never affects pass i ----------- */

/* Workers 0 and 1 make a full pass whose action lasts 0.3 s; worker 2
 * arrives while that action runs, with a 0.05 s timeout. Pass i was complete
 * and its action succeeded: the outsider's timeout must not break it
 * ("a waiter of pass i+1 is never counted in pass i"; Python's Barrier makes
 * a newcomer wait for the draining pass before its own wait starts). */
static int slow_action(void *p)
{
	struct mps_area *a = p;
	mps_count_add(&a->counter[0], 1);
	mps_sleep(0.3);
	return 0;
}

static int outsider_role(struct mps_area *a, int index)
{
	int r;
	if (index < 2) {
		r = mps_barrier_wait_action(&a->barrier, LONG_WAIT, slow_action, a, NULL);
	} else {
		if (!mps_count_await(&a->counter[0], 1, LONG_WAIT))
			return 1;
		r = mps_barrier_wait(&a->barrier, 0.05, NULL);
	}
	a->value[index] = r;
	return 0;
}

MPS_FLAVOURS(barrier, outsider_timeout_spares_tripping_pass)
ParameterizedTest(enum mps_flavour *f, barrier, outsider_timeout_spares_tripping_pass,
                  .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	cr_assert_eq(mps_barrier_init(&a->barrier, 2, MPS_FOREVER), 0);
	for (int round = 0; round < 2; round++) {
		clear_scratch(a);
		run_workers(*f, a, outsider_role, 3, "outsider");
		cr_assert_eq(a->value[0], 0, "pass member 0 got %lld", (long long)a->value[0]);
		cr_assert_eq(a->value[1], 0, "pass member 1 got %lld", (long long)a->value[1]);
		cr_assert(a->value[2] == ETIMEDOUT || a->value[2] == MPS_EBROKEN,
		          "the outsider got %lld", (long long)a->value[2]);
		cr_assert_eq(mps_barrier_reset(&a->barrier), 0);
	}
	mps_area_destroy(a);
}
