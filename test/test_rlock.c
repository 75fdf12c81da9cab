/* RLock: research/conformance.md §3 (with §1.2, §1.8 and the §2 rules 3.8
 * carries over), SPEC §2 bad input and SPEC §5 owner death, in three flavours
 * wherever another thread or process takes part. 3.7 (Condition wait with an
 * unowned RLock) belongs to the Condition suite.
 *
 * Roles report a failed check as (line << 8) | 1, so a process worker's exit
 * status is never 0 for a failure and the parent can name the line. Every
 * "the other party is blocked" is established by reading its scheduler state
 * ('S' in /proc/<tid>/stat), never by sleeping; the only sleeps (contention)
 * assert an absence.
 *
 * Area use: counter[0] parties ready, counter[1] parties through, counter[2]
 * parties inside the critical section; value[OB_*] an observer's report;
 * value[TID + i] worker i's kernel tid, value[RC + i] a result code it got;
 * elapsed[i] a duration (or, for death latency, a CLOCK_MONOTONIC time). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <mpsync/debug.h>
#include "owner_death.h"

#define T_WAIT      0.2                 /* timed waits that must time out */
#define AT_ONCE     (0.2 * mps_slack()) /* "immediately": 50 ms by default */
#define ABSENCE     0.1                 /* how long nobody may get through */
#define SETTLE      OD_SETTLE           /* bound for a party to get ready */
#define DEPTH       3                   /* a holder's recursion depth */

enum {
	OB_SELF, OB_LOCKED, OB_OWNER, OB_OWNED, OB_COUNT, OB_RELEASE,
	OB_TRY0, OB_TRYNEG, OB_TRYNEGINF, OB_TRYNAN, OB_TAKEN_OK,
	OB_SAME, OB_SLOWEST_NS, OB_SNAPSHOT = 15,
	TID = OD_TID, RC = OD_RC,  /* the owner-death scenarios' slots */
};
#define OBSERVER 15  /* worker index of an observer */

/* ---------------------------------------------------------------- helpers */

static pid_t self_tid(void)
{
	return gettid();
}

static bool same_bytes(const mps_rlock_t *a, const mps_rlock_t *b)
{
	return memcmp(a, b, sizeof *a) == 0;
}

/* a->rlock for the owner-death scenarios. */
static int rlock_acquire(struct mps_area *a, double timeout)
{
	return mps_rlock_acquire(&a->rlock, timeout);
}

static int rlock_release(struct mps_area *a)
{
	return mps_rlock_release(&a->rlock);
}

static bool rlock_locked(struct mps_area *a)
{
	return mps_rlock_locked(&a->rlock);
}

static pid_t rlock_owner(struct mps_area *a)
{
	return mps_rlock_owner(&a->rlock);
}

static bool rlock_is_owned(struct mps_area *a)
{
	return mps_rlock_is_owned(&a->rlock);
}

static unsigned rlock_count(struct mps_area *a)
{
	return mps_rlock_count(&a->rlock);
}

static int role_hold(struct mps_area *a, int i);
static int role_hold_exit(struct mps_area *a, int i);
static int role_wait_for_death(struct mps_area *a, int i);

static const struct od_ops rlock_ops = {
	.name = "rlock", .depth = DEPTH,
	.acquire = rlock_acquire, .release = rlock_release, .locked = rlock_locked,
	.owner = rlock_owner, .is_owned = rlock_is_owned, .count = rlock_count,
	.hold = role_hold, .hold_exit = role_hold_exit, .wait_for_death = role_wait_for_death,
};

/* This thread's view of an RLock it holds at depth n (n = 0: not owned). */
static void expect_own_view(const mps_rlock_t *r, unsigned n)
{
	cr_assert_eq(mps_rlock_is_owned(r), n > 0, "is_owned at depth %u", n);
	cr_assert_eq(mps_rlock_count(r), n, "count: %u, expected %u", mps_rlock_count(r), n);
	if (n > 0) {
		cr_assert(mps_rlock_locked(r), "locked() false at depth %u", n);
		cr_assert_eq(mps_rlock_owner(r), self_tid());
	}
}

static void acquire_n(mps_rlock_t *r, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		cr_assert_eq(mps_rlock_acquire(r, 0), 0);
}

static void release_n(mps_rlock_t *r, unsigned n)
{
	for (unsigned k = 0; k < n; k++)
		cr_assert_eq(mps_rlock_release(r), 0);
}

/* ------------------------------------------------------------------ roles */

static int hold_and_count(struct mps_area *a, int index)
{
	(void)index;
	for (int i = 0; i < 2000; i++) {
		if (mps_rlock_acquire(&a->rlock, 10) != 0 || mps_rlock_acquire(&a->rlock, 0) != 0)
			return 1;
		a->value[0]++;
		if (mps_rlock_release(&a->rlock) != 0 || mps_rlock_release(&a->rlock) != 0)
			return 2;
	}
	return 0;
}

/* Another party's view of a->rlock, reported in value[OB_*] for the parent
 * to assert: locked, owner, is_owned, count, a release attempt, polls with
 * 0 / -1 / -inf, NaN, and whether the bytes still equal the parent's snapshot
 * afterwards. A poll that takes a free lock checks depth 1 and releases. */
static int role_observe(struct mps_area *a, int index)
{
	static const double timeouts[] = { 0, -1, -INFINITY, NAN };
	mps_rlock_t *r = &a->rlock;
	double slowest = 0;
	(void)index;
	a->value[OB_SELF] = self_tid();
	a->value[OB_LOCKED] = mps_rlock_locked(r);
	a->value[OB_OWNER] = mps_rlock_owner(r);
	a->value[OB_OWNED] = mps_rlock_is_owned(r);
	a->value[OB_COUNT] = mps_rlock_count(r);
	a->value[OB_RELEASE] = mps_rlock_release(r);
	a->value[OB_TAKEN_OK] = 1;
	for (int k = 0; k < 4; k++) {
		double t0 = mps_now();
		int rc = mps_rlock_acquire(r, timeouts[k]);
		double el = mps_now() - t0;
		slowest = el > slowest ? el : slowest;
		a->value[OB_TRY0 + k] = rc;
		if (rc == 0 || rc == EOWNERDEAD) {
			if (!mps_rlock_is_owned(r) || mps_rlock_count(r) != 1)
				a->value[OB_TAKEN_OK] = 0;
			if (mps_rlock_release(r) != 0 || mps_rlock_is_owned(r))
				a->value[OB_TAKEN_OK] = 0;
		}
	}
	a->value[OB_SLOWEST_NS] = (int64_t)(slowest * 1e9);
	a->value[OB_SAME] = memcmp(r, &a->value[OB_SNAPSHOT], sizeof *r) == 0;
	return 0;
}

/* Takes the RLock DEPTH deep, announces itself, waits for `done`, returns
 * WITHOUT releasing (a thread then exits holding it; a process is usually
 * killed before). */
static int role_hold(struct mps_area *a, int i)
{
	return od_hold(&rlock_ops, a, i);
}

/* As role_hold, then checks that the parent's attempts left its ownership
 * and depth alone, and releases level by level. */
static int role_hold_release(struct mps_area *a, int i)
{
	mps_rlock_t *r = &a->rlock;
	int failed = role_hold(a, i);
	if (failed)
		return failed;
	MPS_CHECK(mps_rlock_is_owned(r));
	MPS_CHECK(mps_rlock_count(r) == DEPTH);
	MPS_CHECK(mps_rlock_owner(r) == self_tid());
	for (int k = DEPTH; k > 0; k--) {
		MPS_CHECK(mps_rlock_locked(r));
		MPS_CHECK(mps_rlock_release(r) == 0);
		MPS_CHECK(mps_rlock_count(r) == (unsigned)k - 1);
	}
	MPS_CHECK(!mps_rlock_is_owned(r));
	MPS_CHECK(mps_rlock_release(r) == EPERM);
	return 0;
}

/* Takes the RLock DEPTH deep and exits holding it. */
static int role_hold_exit(struct mps_area *a, int i)
{
	return od_hold_exit(&rlock_ops, a, i);
}

/* 2.5 for RLock: blocks on a held lock, then passes through alone, two deep. */
static int role_contend(struct mps_area *a, int i)
{
	mps_rlock_t *r = &a->rlock;
	a->value[TID + i] = self_tid();
	mps_count_add(&a->counter[0], 1);
	MPS_CHECK(mps_rlock_acquire(r, SETTLE) == 0);
	MPS_CHECK(mps_count_add(&a->counter[2], 1) == 1);
	MPS_CHECK(mps_rlock_acquire(r, 0) == 0);
	MPS_CHECK(mps_rlock_count(r) == 2);
	MPS_CHECK(mps_rlock_owner(r) == self_tid());
	mps_count_add(&a->counter[1], 1);
	MPS_CHECK(mps_rlock_release(r) == 0);
	MPS_CHECK(mps_rlock_is_owned(r) && mps_rlock_count(r) == 1);
	mps_count_add(&a->counter[2], UINT32_MAX);  /* -1 */
	MPS_CHECK(mps_rlock_release(r) == 0);
	MPS_CHECK(!mps_rlock_is_owned(r) && mps_rlock_count(r) == 0);
	return 0;
}

/* 2.9 for RLock: a timed acquire of an RLock held elsewhere times out. */
static int role_timeout(struct mps_area *a, int i)
{
	mps_rlock_t *r = &a->rlock;
	double t0 = mps_now();
	int rc = mps_rlock_acquire(r, T_WAIT);
	a->elapsed[i] = mps_now() - t0;
	a->value[RC + i] = rc;
	MPS_CHECK(rc == ETIMEDOUT);
	MPS_CHECK(mps_rlock_locked(r));
	MPS_CHECK(!mps_rlock_is_owned(r));
	MPS_CHECK(mps_rlock_count(r) == 0);
	MPS_CHECK(mps_rlock_release(r) == EPERM);
	return 0;
}

/* Owner death: blocks on a held RLock; reports its result and the time it
 * returned. */
static int role_wait_for_death(struct mps_area *a, int i)
{
	return od_wait_for_death(&rlock_ops, a, i);
}

/* Runs role_observe in one worker of flavour f. */
static void observe(struct mps_area *a, enum mps_flavour f)
{
	struct mps_workers w;
	memset(a->value, 0, (OB_SNAPSHOT + 1) * sizeof a->value[0]);
	memcpy(&a->value[OB_SNAPSHOT], &a->rlock, sizeof a->rlock);
	mps_workers_start(&w, f, a, role_observe, 1, OBSERVER);
	od_join_expect(&w, 0, "observer");
}

/* 3.3-3.6, 3.9, 3.10 (fork), 2.4, 1.2, NaN: what another party sees while
 * `owner` holds the RLock. */
static void expect_seen_held(struct mps_area *a, enum mps_flavour f, pid_t owner)
{
	const char *fl = mps_flavour_name(f);
	observe(a, f);
	cr_assert_neq(a->value[OB_SELF], owner, "%s: observer is the holder", fl);
	cr_assert(a->value[OB_LOCKED], "%s: locked() false while held elsewhere", fl);
	cr_assert_eq(a->value[OB_OWNER], owner, "%s: owner() seen from another party", fl);
	cr_assert(!a->value[OB_OWNED], "%s: non-owner reads is_owned true", fl);
	cr_assert_eq(a->value[OB_COUNT], 0, "%s: non-owner reads count %lld", fl,
	             (long long)a->value[OB_COUNT]);
	cr_assert_eq(a->value[OB_RELEASE], EPERM, "%s: release by a non-owner", fl);
	cr_assert_eq(a->value[OB_TRY0], ETIMEDOUT, "%s: poll of a held RLock", fl);
	cr_assert_eq(a->value[OB_TRYNEG], ETIMEDOUT, "%s: timeout -1 must act as 0", fl);
	cr_assert_eq(a->value[OB_TRYNEGINF], ETIMEDOUT, "%s: timeout -inf must act as 0", fl);
	cr_assert_eq(a->value[OB_TRYNAN], EINVAL, "%s: NaN timeout", fl);
	cr_assert(a->value[OB_SAME], "%s: non-owner calls changed the RLock's bytes", fl);
	cr_assert(a->value[OB_SLOWEST_NS] / 1e9 < AT_ONCE, "%s: a poll took %.3f s", fl,
	          a->value[OB_SLOWEST_NS] / 1e9);
}

/* 3.2, 3.9 (owner 0 and count 0 when free), 1.2 on a free RLock. */
static void expect_seen_free(struct mps_area *a, enum mps_flavour f)
{
	const char *fl = mps_flavour_name(f);
	observe(a, f);
	cr_assert(!a->value[OB_LOCKED], "%s: locked() true while free", fl);
	cr_assert_eq(a->value[OB_OWNER], 0, "%s: owner() of a free RLock", fl);
	cr_assert(!a->value[OB_OWNED], "%s: is_owned of a free RLock", fl);
	cr_assert_eq(a->value[OB_COUNT], 0, "%s: count of a free RLock", fl);
	cr_assert_eq(a->value[OB_RELEASE], EPERM, "%s: release of an unowned RLock", fl);
	cr_assert_eq(a->value[OB_TRY0], 0, "%s: poll of a free RLock", fl);
	cr_assert_eq(a->value[OB_TRYNEG], 0, "%s: timeout -1 on a free RLock", fl);
	cr_assert_eq(a->value[OB_TRYNEGINF], 0, "%s: timeout -inf on a free RLock", fl);
	cr_assert_eq(a->value[OB_TRYNAN], EINVAL, "%s: NaN timeout on a free RLock", fl);
	cr_assert(a->value[OB_TAKEN_OK], "%s: a poll that took it did not hold it at depth 1", fl);
	cr_assert(a->value[OB_SAME], "%s: a free RLock is not all zero after use", fl);
	cr_assert(a->value[OB_SLOWEST_NS] / 1e9 < AT_ONCE, "%s: a poll took %.3f s", fl,
	          a->value[OB_SLOWEST_NS] / 1e9);
}

/* ---------------------------------------------------------- single thread */

/* Zero bytes, MPS_RLOCK_INIT and mps_rlock_init give a free RLock; dropping
 * a held one is allowed (2.1 via 3.8). */
Test(rlock, init_and_destroy)
{
	mps_rlock_t zero, lit = MPS_RLOCK_INIT, junk;
	memset(&zero, 0, sizeof zero);
	memset(&junk, 0xa5, sizeof junk);
	mps_rlock_init(&junk);
	mps_rlock_t *all[] = { &zero, &lit, &junk };
	for (int k = 0; k < 3; k++) {
		cr_assert(!mps_rlock_locked(all[k]));
		cr_assert_eq(mps_rlock_owner(all[k]), 0);
		expect_own_view(all[k], 0);
		cr_assert(same_bytes(all[k], &zero));
		acquire_n(all[k], 2);
		release_n(all[k], 2);
	}
	struct mps_area *a = mps_area_create();
	cr_assert(!mps_rlock_locked(&a->rlock), "a zero-filled segment holds a free RLock");
	cr_assert_eq(mps_rlock_acquire(&a->rlock, MPS_FOREVER), 0);
	cr_assert_eq(mps_rlock_acquire(&a->rlock, MPS_FOREVER), 0);
	mps_area_destroy(a);  /* destroying a held RLock: no error, nothing to undo */
}

/* 3.1, 3.4, 3.5, 3.6, 3.9 (own view): depth 0, 1, 3, 2, 0; re-entry never
 * blocks, whatever the timeout; only the outermost release unlocks. Twice. */
Test(rlock, recursion)
{
	mps_rlock_t r = MPS_RLOCK_INIT, zero = MPS_RLOCK_INIT;
	for (int round = 0; round < 2; round++) {
		expect_own_view(&r, 0);
		cr_assert(!mps_rlock_locked(&r));
		cr_assert_eq(mps_rlock_owner(&r), 0);
		cr_assert_eq(mps_rlock_acquire(&r, MPS_FOREVER), 0);
		expect_own_view(&r, 1);
		double t0 = mps_now();
		cr_assert_eq(mps_rlock_acquire(&r, 0), 0, "re-entry with a poll");
		cr_assert_eq(mps_rlock_acquire(&r, -1), 0, "re-entry with a negative timeout");
		cr_assert(mps_now() - t0 < AT_ONCE, "re-entry blocked");
		expect_own_view(&r, 3);
		cr_assert_eq(mps_rlock_release(&r), 0);
		expect_own_view(&r, 2);
		cr_assert_eq(mps_rlock_acquire(&r, 5), 0);
		expect_own_view(&r, 3);
		release_n(&r, 2);
		expect_own_view(&r, 1);
		cr_assert_eq(mps_rlock_release(&r), 0);
		expect_own_view(&r, 0);
		cr_assert(!mps_rlock_locked(&r));
		cr_assert_eq(mps_rlock_owner(&r), 0);
		cr_assert(same_bytes(&r, &zero));
	}
}

/* 1.8 and 1.2: a free RLock is taken at once whatever the timeout. */
Test(rlock, free_lock_taken_at_once)
{
	static const double timeouts[] = { 0, -1, -1e-9, -INFINITY, 1e-9, 5, 3600, 1e300,
	                                   MPS_FOREVER };
	mps_rlock_t r = MPS_RLOCK_INIT, zero = MPS_RLOCK_INIT;
	for (size_t k = 0; k < sizeof timeouts / sizeof timeouts[0]; k++) {
		double t0 = mps_now();
		cr_assert_eq(mps_rlock_acquire(&r, timeouts[k]), 0, "timeout %g", timeouts[k]);
		cr_assert(mps_now() - t0 < AT_ONCE, "timeout %g: took %.3f s", timeouts[k],
		          mps_now() - t0);
		expect_own_view(&r, 1);
		cr_assert_eq(mps_rlock_release(&r), 0);
		cr_assert(same_bytes(&r, &zero));
	}
}

/* SPEC §2: NaN is EINVAL and touches nothing (free or held, at once); release
 * when unowned is EPERM and touches nothing (3.2); a depth beyond the counter
 * is EOVERFLOW and touches nothing. */
Test(rlock, bad_input_changes_nothing)
{
	mps_rlock_t r = MPS_RLOCK_INIT, before;
	for (int round = 0; round < 2; round++) {
		before = r;
		cr_assert_eq(mps_rlock_acquire(&r, NAN), EINVAL);
		cr_assert(same_bytes(&r, &before), "NaN changed a free RLock");
		cr_assert_eq(mps_rlock_release(&r), EPERM, "release of an unowned RLock");
		cr_assert(same_bytes(&r, &before), "failed release changed a free RLock");

		acquire_n(&r, 2);
		before = r;
		double t0 = mps_now();
		cr_assert_eq(mps_rlock_acquire(&r, NAN), EINVAL, "NaN on an owned RLock");
		cr_assert_eq(mps_rlock_acquire(&r, -NAN), EINVAL);
		cr_assert(mps_now() - t0 < AT_ONCE);
		cr_assert(same_bytes(&r, &before), "NaN changed a held RLock");
		expect_own_view(&r, 2);

		release_n(&r, 2);
		before = r;
		cr_assert_eq(mps_rlock_release(&r), EPERM, "release after a balanced pair");
		cr_assert(same_bytes(&r, &before));
		expect_own_view(&r, 0);

		/* The depth limit: count is the public depth field, written here by
		 * its owner to skip 2^32 acquires. */
		cr_assert_eq(mps_rlock_acquire(&r, 0), 0);
		r.count = UINT32_MAX - 1;
		cr_assert_eq(mps_rlock_acquire(&r, 0), 0);
		cr_assert_eq(mps_rlock_count(&r), UINT32_MAX);
		before = r;
		cr_assert_eq(mps_rlock_acquire(&r, 0), EOVERFLOW);
		cr_assert_eq(mps_rlock_acquire(&r, MPS_FOREVER), EOVERFLOW);
		cr_assert(same_bytes(&r, &before), "EOVERFLOW changed the RLock");
		cr_assert_eq(mps_rlock_release(&r), 0);
		cr_assert_eq(mps_rlock_count(&r), UINT32_MAX - 1);
		r.count = 1;
		cr_assert_eq(mps_rlock_release(&r), 0);
		expect_own_view(&r, 0);
		cr_assert(!mps_rlock_locked(&r));
	}
}

/* ------------------------------------------------------ three flavours */

MPS_FLAVOURS(rlock, mutual_exclusion)
ParameterizedTest(enum mps_flavour *f, rlock, mutual_exclusion)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	mps_workers_start(&w, *f, a, hold_and_count, 4, 0);
	od_join_expect(&w, 0, "counters");
	cr_assert_eq(a->value[0], 8000, "%s: lost updates", mps_flavour_name(*f));
	cr_assert(!mps_rlock_locked(&a->rlock));
	mps_area_destroy(a);
}

/* 3.3-3.6, 3.9, 2.4, 1.2, NaN: another party's view while this thread holds
 * the RLock at depth 1, 3 and 2, and after the last release. A forked
 * observer is 3.10: a child forked while the parent holds it does not own it. */
MPS_FLAVOURS(rlock, seen_from_another_party)
ParameterizedTest(enum mps_flavour *f, rlock, seen_from_another_party)
{
	struct mps_area *a = mps_area_create();
	mps_rlock_t *r = &a->rlock;
	static const unsigned depths[] = { 1, 3, 2 };
	for (int round = 0; round < 2; round++) {
		expect_seen_free(a, *f);
		unsigned depth = 0;
		for (int k = 0; k < 3; k++) {
			while (depth < depths[k]) {
				cr_assert_eq(mps_rlock_acquire(r, 0), 0);
				depth++;
			}
			while (depth > depths[k]) {
				cr_assert_eq(mps_rlock_release(r), 0);
				depth--;
			}
			mps_rlock_t before = *r;
			expect_seen_held(a, *f, self_tid());
			cr_assert(same_bytes(r, &before));
			expect_own_view(r, depth);
		}
		release_n(r, depth);
		expect_own_view(r, 0);
	}
	mps_area_destroy(a);
}

/* 3.10 by name: a child forked while this thread holds the RLock 2 deep does
 * not own it (is_owned false, count 0, release EPERM, its poll fails). */
Test(rlock, forked_child_does_not_own)
{
	struct mps_area *a = mps_area_create();
	acquire_n(&a->rlock, 2);
	expect_seen_held(a, MPS_FORK, self_tid());
	expect_own_view(&a->rlock, 2);
	release_n(&a->rlock, 2);
	mps_area_destroy(a);
}

/* 3.3, 3.4, 3.9, 2.9, NaN: a worker holds the RLock 3 deep; this thread
 * (another thread, or another process) sees its tid, cannot release it
 * (EPERM, bytes unchanged), polls and times out; the worker then finds its
 * ownership and depth intact and unwinds. */
MPS_FLAVOURS(rlock, held_by_another_party)
ParameterizedTest(enum mps_flavour *f, rlock, held_by_another_party)
{
	const char *fl = mps_flavour_name(*f);
	struct mps_area *a = mps_area_create();
	mps_rlock_t *r = &a->rlock;
	for (int round = 0; round < 2; round++) {
		struct mps_workers w;
		pid_t holder = od_start_one(&w, *f, a, role_hold_release);
		cr_assert_neq(holder, self_tid());
		cr_assert(mps_rlock_locked(r), "%s: held elsewhere, locked() false", fl);
		cr_assert_eq(mps_rlock_owner(r), holder, "%s: owner() of another's RLock", fl);
		expect_own_view(r, 0);

		mps_rlock_t before = *r;
		cr_assert_eq(mps_rlock_release(r), EPERM, "%s: release by a non-owner", fl);
		cr_assert(same_bytes(r, &before), "%s: failed release changed the RLock", fl);
		double t0 = mps_now();
		cr_assert_eq(mps_rlock_acquire(r, 0), ETIMEDOUT);
		cr_assert_eq(mps_rlock_acquire(r, -1), ETIMEDOUT);
		cr_assert_eq(mps_rlock_acquire(r, -INFINITY), ETIMEDOUT);
		cr_assert_eq(mps_rlock_acquire(r, NAN), EINVAL);
		cr_assert(mps_now() - t0 < AT_ONCE, "%s: polls blocked", fl);
		cr_assert(same_bytes(r, &before), "%s: polls or NaN changed the RLock", fl);
		expect_own_view(r, 0);

		t0 = mps_now();
		cr_assert_eq(mps_rlock_acquire(r, T_WAIT), ETIMEDOUT);
		double el = mps_now() - t0;
		cr_assert(el >= T_WAIT - 0.001 && el < T_WAIT + mps_slack(),
		          "%s: timed out after %.3f s, asked %.3f", fl, el, T_WAIT);
		cr_assert_eq(mps_rlock_owner(r), holder);
		cr_assert_eq(mps_rlock_release(r), EPERM);
		expect_own_view(r, 0);

		mps_event_set(&a->done);
		od_join_expect(&w, 0, "holder");
		cr_assert(!mps_rlock_locked(r));
		cr_assert_eq(mps_rlock_owner(r), 0);
		cr_assert_eq(mps_rlock_acquire(r, 0), 0);
		expect_own_view(r, 1);
		cr_assert_eq(mps_rlock_release(r), 0);
	}
	mps_area_destroy(a);
}

/* 2.5 via 3.8, with 3.1 across parties: 5 workers block on an RLock held 2
 * deep; none gets through while it is held, nor after the inner release;
 * the outermost release lets all 5 through, one at a time. */
MPS_FLAVOURS(rlock, contention)
ParameterizedTest(enum mps_flavour *f, rlock, contention)
{
	const char *fl = mps_flavour_name(*f);
	struct mps_area *a = mps_area_create();
	mps_rlock_t *r = &a->rlock;
	for (int round = 0; round < 2; round++) {
		od_reset(a);
		acquire_n(r, 2);
		struct mps_workers w;
		od_start_asleep(&w, *f, a, role_contend, 5, 0, &a->counter[0]);
		mps_sleep(ABSENCE);
		cr_assert_eq(mps_count_get(&a->counter[1]), 0,
		             "%s: a worker got through a held RLock", fl);
		cr_assert_eq(mps_rlock_release(r), 0);
		expect_own_view(r, 1);
		mps_sleep(ABSENCE);
		cr_assert_eq(mps_count_get(&a->counter[1]), 0,
		             "%s: a worker got through after an inner release", fl);
		uint64_t calls = mps_debug_futex_calls();
		cr_assert_eq(mps_rlock_release(r), 0);
		cr_assert_geq(mps_debug_futex_calls() - calls, 1,
		              "%s: release with 5 sleepers woke nobody", fl);
		expect_own_view(r, 0);
		od_join_expect(&w, 0, "contenders");
		cr_assert_eq(mps_count_get(&a->counter[1]), 5, "%s: round %d", fl, round);
		cr_assert(!mps_rlock_locked(r));
		cr_assert_eq(mps_rlock_owner(r), 0);
	}
	mps_area_destroy(a);
}

/* 2.9 and 2.10 via 3.8: 3 workers time out on an RLock this thread holds 2
 * deep; its depth is intact; after the outermost release it is all zero
 * again, a poll takes it at once, and it is the same bytes as an RLock nobody
 * ever waited on. The release that follows the timeouts may cost wakes; the
 * next cycle costs no syscall at all. */
MPS_FLAVOURS(rlock, timeout_leaves_no_residue)
ParameterizedTest(enum mps_flavour *f, rlock, timeout_leaves_no_residue)
{
	const char *fl = mps_flavour_name(*f);
	struct mps_area *a = mps_area_create();
	mps_rlock_t *r = &a->rlock;
	mps_rlock_t fresh = MPS_RLOCK_INIT, zero = MPS_RLOCK_INIT;
	cr_assert_eq(mps_rlock_acquire(&fresh, 0), 0);  /* bytes of a never-waited RLock */
	for (int round = 0; round < 2; round++) {
		acquire_n(r, 2);
		struct mps_workers w;
		mps_workers_start(&w, *f, a, role_timeout, 3, 0);
		od_join_expect(&w, 0, "timed waiters");
		for (int i = 0; i < 3; i++)
			cr_assert(a->elapsed[i] >= T_WAIT - 0.001 && a->elapsed[i] < T_WAIT + mps_slack(),
			          "%s: worker %d timed out after %.3f s, asked %.3f", fl, i,
			          a->elapsed[i], T_WAIT);
		expect_own_view(r, 2);
		release_n(r, 2);
		cr_assert(same_bytes(r, &zero), "%s: residue after release: %#x/%u", fl,
		          r->word, r->count);
		cr_assert(!mps_rlock_locked(r));
		uint64_t calls = mps_debug_futex_calls();
		double t0 = mps_now();
		cr_assert_eq(mps_rlock_acquire(r, 0), 0, "%s: poll after the timeouts", fl);
		cr_assert(mps_now() - t0 < AT_ONCE);
		cr_assert(same_bytes(r, &fresh), "%s: residue while held: %#x/%u", fl,
		          r->word, r->count);
		cr_assert_eq(mps_rlock_release(r), 0);
		cr_assert_eq(mps_debug_futex_calls() - calls, 0,
		             "%s: a later cycle still made futex calls", fl);
	}
	mps_area_destroy(a);
}

/* --------------------------------------------------------- owner death */

/* SPEC §5: a holder that exits DEPTH deep (a thread returns, a process
 * _exits and is left unreaped) is dead: the next acquirer gets EOWNERDEAD
 * and holds at depth 1. */
MPS_FLAVOURS(rlock, owner_exits_holding)
ParameterizedTest(enum mps_flavour *f, rlock, owner_exits_holding)
{
	od_owner_exits_holding(&rlock_ops, *f);
}

/* SPEC §5: a holder SIGKILLed DEPTH deep and not reaped (a zombie) is dead. */
MPS_PROCESS_FLAVOURS(rlock, owner_killed_zombie)
ParameterizedTest(enum mps_flavour *f, rlock, owner_killed_zombie)
{
	od_owner_killed_zombie(&rlock_ops, *f);
}

/* SPEC §5: two waiters already asleep when the holder dies DEPTH deep (a
 * thread exits, a process is killed and left unreaped): one gets EOWNERDEAD
 * and holds at depth 1, the other then gets the RLock normally. */
MPS_FLAVOURS(rlock, sleeping_waiter_gets_ownerdead)
ParameterizedTest(enum mps_flavour *f, rlock, sleeping_waiter_gets_ownerdead)
{
	od_sleeping_waiter_gets_ownerdead(&rlock_ops, *f);
}
