/* Lock: research/conformance.md §2 (with §1.2 and §1.8), SPEC §2 bad input
 * and SPEC §5 owner death, in three flavours wherever another thread or
 * process takes part.
 *
 * Roles report a failed check as (line << 8) | 1, so a process worker's exit
 * status is never 0 for a failure and the parent can name the line. Every
 * "the other party is blocked" is established by reading its scheduler state
 * ('S' in /proc/<tid>/stat), never by sleeping; the only sleep (contention)
 * asserts an absence.
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

enum {
	OB_SELF, OB_LOCKED, OB_OWNER, OB_TRY0, OB_TRYNEG, OB_TRYNEGINF, OB_TRYNAN,
	OB_SAME, OB_SLOWEST_NS, OB_SNAPSHOT = 15,
	TID = OD_TID, RC = OD_RC,  /* the owner-death scenarios' slots */
};
#define OBSERVER 15  /* worker index of an observer */

/* ---------------------------------------------------------------- helpers */

static pid_t self_tid(void)
{
	return gettid();
}

static bool same_bytes(const mps_lock_t *a, const mps_lock_t *b)
{
	return memcmp(a, b, sizeof *a) == 0;
}

/* a->lock for the owner-death scenarios. A Lock has no depth: this thread
 * owns it at depth 1 when it is the owner. */
static int lock_acquire(struct mps_area *a, double timeout)
{
	return mps_lock_acquire(&a->lock, timeout);
}

static int lock_release(struct mps_area *a)
{
	return mps_lock_release(&a->lock);
}

static bool lock_locked(struct mps_area *a)
{
	return mps_lock_locked(&a->lock);
}

static pid_t lock_owner(struct mps_area *a)
{
	return mps_lock_owner(&a->lock);
}

static bool lock_is_owned(struct mps_area *a)
{
	return mps_lock_locked(&a->lock) && mps_lock_owner(&a->lock) == self_tid();
}

static unsigned lock_count(struct mps_area *a)
{
	return lock_is_owned(a) ? 1 : 0;
}

static int role_hold(struct mps_area *a, int i);
static int role_hold_exit(struct mps_area *a, int i);
static int role_wait_for_death(struct mps_area *a, int i);

static const struct od_ops lock_ops = {
	.name = "lock", .depth = 1,
	.acquire = lock_acquire, .release = lock_release, .locked = lock_locked,
	.owner = lock_owner, .is_owned = lock_is_owned, .count = lock_count,
	.hold = role_hold, .hold_exit = role_hold_exit, .wait_for_death = role_wait_for_death,
};

/* ------------------------------------------------------------------ roles */

static int hold_and_count(struct mps_area *a, int index)
{
	(void)index;
	for (int i = 0; i < 2000; i++) {
		if (mps_lock_acquire(&a->lock, 10) != 0)
			return 1;
		a->value[0]++;
		mps_lock_release(&a->lock);
	}
	return 0;
}

/* Another party's view of a->lock, reported in value[OB_*] for the parent to
 * assert: locked, owner, polls with 0 / -1 / -inf, NaN, and whether the
 * bytes still equal the parent's snapshot afterwards. A poll that takes a
 * free lock releases it again. */
static int role_observe(struct mps_area *a, int index)
{
	static const double timeouts[] = { 0, -1, -INFINITY, NAN };
	mps_lock_t *l = &a->lock;
	double slowest = 0;
	(void)index;
	a->value[OB_SELF] = self_tid();
	a->value[OB_LOCKED] = mps_lock_locked(l);
	a->value[OB_OWNER] = mps_lock_owner(l);
	for (int k = 0; k < 4; k++) {
		double t0 = mps_now();
		int r = mps_lock_acquire(l, timeouts[k]);
		double el = mps_now() - t0;
		slowest = el > slowest ? el : slowest;
		a->value[OB_TRY0 + k] = r;
		if (r == 0 || r == EOWNERDEAD)
			mps_lock_release(l);
	}
	a->value[OB_SLOWEST_NS] = (int64_t)(slowest * 1e9);
	a->value[OB_SAME] = memcmp(l, &a->value[OB_SNAPSHOT], sizeof *l) == 0;
	return 0;
}

/* Takes the lock, announces itself, waits for `done`, returns WITHOUT
 * releasing (a thread then exits holding it; a process is usually killed
 * before). */
static int role_hold(struct mps_area *a, int i)
{
	return od_hold(&lock_ops, a, i);
}

/* Takes the lock and exits holding it. */
static int role_hold_exit(struct mps_area *a, int i)
{
	return od_hold_exit(&lock_ops, a, i);
}

/* 2.5: blocks on a held lock, then passes through it alone. */
static int role_contend(struct mps_area *a, int i)
{
	a->value[TID + i] = self_tid();
	mps_count_add(&a->counter[0], 1);
	MPS_CHECK(mps_lock_acquire(&a->lock, SETTLE) == 0);
	MPS_CHECK(mps_count_add(&a->counter[2], 1) == 1);
	MPS_CHECK(mps_lock_owner(&a->lock) == self_tid());
	mps_count_add(&a->counter[1], 1);
	mps_count_add(&a->counter[2], UINT32_MAX);  /* -1 */
	MPS_CHECK(mps_lock_release(&a->lock) == 0);
	return 0;
}

/* 2.9: a timed acquire of a lock held elsewhere times out. */
static int role_timeout(struct mps_area *a, int i)
{
	double t0 = mps_now();
	int r = mps_lock_acquire(&a->lock, T_WAIT);
	a->elapsed[i] = mps_now() - t0;
	a->value[RC + i] = r;
	MPS_CHECK(r == ETIMEDOUT);
	MPS_CHECK(mps_lock_locked(&a->lock));
	MPS_CHECK(mps_lock_owner(&a->lock) != self_tid());
	return 0;
}

/* 2.6: the holder's own second acquire blocks: a timed one times out
 * (ETIMEDOUT, not EDEADLK), an untimed one ends when someone else releases. */
static int role_reacquire(struct mps_area *a, int i)
{
	mps_lock_t *l = &a->lock;
	MPS_CHECK(mps_lock_acquire(l, SETTLE) == 0);
	double t0 = mps_now();
	int r = mps_lock_acquire(l, T_WAIT);
	a->elapsed[i] = mps_now() - t0;
	a->value[RC + i] = r;
	MPS_CHECK(mps_lock_owner(l) == self_tid());
	a->value[TID + i] = self_tid();
	mps_count_add(&a->counter[0], 1);
	MPS_CHECK(mps_lock_acquire(l, SETTLE) == 0);  /* the parent releases it */
	MPS_CHECK(mps_lock_owner(l) == self_tid());
	MPS_CHECK(mps_lock_release(l) == 0);
	return 0;
}

/* 2.7: releases a lock some other party acquired. */
static int role_release(struct mps_area *a, int i)
{
	(void)i;
	MPS_CHECK(mps_lock_locked(&a->lock));
	MPS_CHECK(mps_lock_owner(&a->lock) != self_tid());
	MPS_CHECK(mps_lock_release(&a->lock) == 0);
	MPS_CHECK(!mps_lock_locked(&a->lock));
	MPS_CHECK(mps_lock_owner(&a->lock) == 0);
	return 0;
}

/* Owner death: blocks on a held lock; reports its result and the time it
 * returned. */
static int role_wait_for_death(struct mps_area *a, int i)
{
	return od_wait_for_death(&lock_ops, a, i);
}

/* Runs role_observe in one worker of flavour f. */
static void observe(struct mps_area *a, enum mps_flavour f)
{
	struct mps_workers w;
	memset(a->value, 0, (OB_SNAPSHOT + 1) * sizeof a->value[0]);
	memcpy(&a->value[OB_SNAPSHOT], &a->lock, sizeof a->lock);
	mps_workers_start(&w, f, a, role_observe, 1, OBSERVER);
	od_join_expect(&w, 0, "observer");
}

/* 2.4, 2.13, 1.2, NaN: what another party sees while `owner` holds it. */
static void expect_seen_held(struct mps_area *a, enum mps_flavour f, pid_t owner)
{
	const char *fl = mps_flavour_name(f);
	observe(a, f);
	cr_assert_neq(a->value[OB_SELF], owner, "%s: observer is the holder", fl);
	cr_assert(a->value[OB_LOCKED], "%s: locked() false while held elsewhere", fl);
	cr_assert_eq(a->value[OB_OWNER], owner, "%s: owner() seen from another party", fl);
	cr_assert_eq(a->value[OB_TRY0], ETIMEDOUT, "%s: poll of a held lock", fl);
	cr_assert_eq(a->value[OB_TRYNEG], ETIMEDOUT, "%s: timeout -1 must act as 0", fl);
	cr_assert_eq(a->value[OB_TRYNEGINF], ETIMEDOUT, "%s: timeout -inf must act as 0", fl);
	cr_assert_eq(a->value[OB_TRYNAN], EINVAL, "%s: NaN timeout", fl);
	cr_assert(a->value[OB_SAME], "%s: failed polls changed the lock's bytes", fl);
	cr_assert(a->value[OB_SLOWEST_NS] / 1e9 < AT_ONCE, "%s: a poll took %.3f s", fl,
	          a->value[OB_SLOWEST_NS] / 1e9);
}

/* 2.13 (owner 0 when free), 1.2 on a free lock. */
static void expect_seen_free(struct mps_area *a, enum mps_flavour f)
{
	const char *fl = mps_flavour_name(f);
	observe(a, f);
	cr_assert(!a->value[OB_LOCKED], "%s: locked() true while free", fl);
	cr_assert_eq(a->value[OB_OWNER], 0, "%s: owner() of a free lock", fl);
	cr_assert_eq(a->value[OB_TRY0], 0, "%s: poll of a free lock", fl);
	cr_assert_eq(a->value[OB_TRYNEG], 0, "%s: timeout -1 on a free lock", fl);
	cr_assert_eq(a->value[OB_TRYNEGINF], 0, "%s: timeout -inf on a free lock", fl);
	cr_assert_eq(a->value[OB_TRYNAN], EINVAL, "%s: NaN timeout on a free lock", fl);
	cr_assert(a->value[OB_SAME], "%s: a free lock is not all zero after use", fl);
	cr_assert(a->value[OB_SLOWEST_NS] / 1e9 < AT_ONCE, "%s: a poll took %.3f s", fl,
	          a->value[OB_SLOWEST_NS] / 1e9);
}

/* ---------------------------------------------------------- single thread */

/* 2.1: zero bytes, MPS_LOCK_INIT and mps_lock_init give a free lock;
 * dropping a held lock is allowed. */
Test(lock, init_and_destroy)
{
	mps_lock_t zero, lit = MPS_LOCK_INIT, junk;
	memset(&zero, 0, sizeof zero);
	memset(&junk, 0xa5, sizeof junk);
	mps_lock_init(&junk);
	mps_lock_t *all[] = { &zero, &lit, &junk };
	for (int k = 0; k < 3; k++) {
		cr_assert(!mps_lock_locked(all[k]));
		cr_assert_eq(mps_lock_owner(all[k]), 0);
		cr_assert(same_bytes(all[k], &zero));
		cr_assert_eq(mps_lock_acquire(all[k], 0), 0);
		cr_assert_eq(mps_lock_release(all[k]), 0);
	}
	struct mps_area *a = mps_area_create();
	cr_assert(!mps_lock_locked(&a->lock), "a zero-filled segment holds a free lock");
	cr_assert_eq(mps_lock_acquire(&a->lock, MPS_FOREVER), 0);
	mps_area_destroy(a);  /* destroying a held lock: no error, nothing to undo */
}

/* 2.2, 2.3, 2.4 (same thread), 2.13 (own tid): twice on one object. */
Test(lock, acquire_release_locked)
{
	mps_lock_t l = MPS_LOCK_INIT;
	for (int round = 0; round < 2; round++) {
		cr_assert(!mps_lock_locked(&l));
		cr_assert_eq(mps_lock_owner(&l), 0);
		cr_assert_eq(mps_lock_acquire(&l, MPS_FOREVER), 0);
		cr_assert(mps_lock_locked(&l));
		cr_assert_eq(mps_lock_owner(&l), self_tid());
		double t0 = mps_now();
		cr_assert_eq(mps_lock_acquire(&l, 0), ETIMEDOUT, "not recursive");
		cr_assert(mps_now() - t0 < AT_ONCE);
		cr_assert_eq(mps_lock_owner(&l), self_tid());
		cr_assert_eq(mps_lock_release(&l), 0);
		cr_assert(!mps_lock_locked(&l));
		cr_assert_eq(mps_lock_owner(&l), 0);
		cr_assert_eq(mps_lock_acquire(&l, 0), 0, "poll of a free lock");
		cr_assert(mps_lock_locked(&l));
		cr_assert_eq(mps_lock_release(&l), 0);
	}
}

/* 1.8 and 1.2: a free lock is taken at once whatever the timeout. */
Test(lock, free_lock_taken_at_once)
{
	static const double timeouts[] = { 0, -1, -1e-9, -INFINITY, 1e-9, 5, 3600, 1e300,
	                                   MPS_FOREVER };
	mps_lock_t l = MPS_LOCK_INIT, zero = MPS_LOCK_INIT;
	for (size_t k = 0; k < sizeof timeouts / sizeof timeouts[0]; k++) {
		double t0 = mps_now();
		cr_assert_eq(mps_lock_acquire(&l, timeouts[k]), 0, "timeout %g", timeouts[k]);
		cr_assert(mps_now() - t0 < AT_ONCE, "timeout %g: took %.3f s", timeouts[k],
		          mps_now() - t0);
		cr_assert_eq(mps_lock_owner(&l), self_tid());
		cr_assert_eq(mps_lock_release(&l), 0);
		cr_assert(same_bytes(&l, &zero));
	}
}

/* SPEC §2: NaN is EINVAL and touches nothing (free or held, at once);
 * release of an unlocked lock is EPERM and touches nothing (2.8). */
Test(lock, bad_input_changes_nothing)
{
	mps_lock_t l = MPS_LOCK_INIT, before;
	for (int round = 0; round < 2; round++) {
		before = l;
		cr_assert_eq(mps_lock_acquire(&l, NAN), EINVAL);
		cr_assert_eq(mps_lock_acquire(&l, -NAN), EINVAL);
		cr_assert(same_bytes(&l, &before), "NaN changed a free lock");
		cr_assert(!mps_lock_locked(&l));
		cr_assert_eq(mps_lock_release(&l), EPERM, "release of a fresh lock");
		cr_assert(same_bytes(&l, &before), "failed release changed a free lock");

		cr_assert_eq(mps_lock_acquire(&l, 0), 0);
		before = l;
		double t0 = mps_now();
		cr_assert_eq(mps_lock_acquire(&l, NAN), EINVAL, "NaN on a held lock");
		cr_assert(mps_now() - t0 < AT_ONCE, "NaN on a held lock blocked");
		cr_assert(same_bytes(&l, &before), "NaN changed a held lock");
		cr_assert_eq(mps_lock_owner(&l), self_tid());

		cr_assert_eq(mps_lock_release(&l), 0);
		before = l;
		cr_assert_eq(mps_lock_release(&l), EPERM, "released too many times");
		cr_assert(same_bytes(&l, &before));
		cr_assert_eq(mps_lock_acquire(&l, 0), 0, "usable after the bad calls");
		cr_assert_eq(mps_lock_release(&l), 0);
	}
}

/* ------------------------------------------------------ three flavours */

MPS_FLAVOURS(lock, mutual_exclusion)
ParameterizedTest(enum mps_flavour *f, lock, mutual_exclusion)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	mps_workers_start(&w, *f, a, hold_and_count, 4, 0);
	cr_assert_eq(mps_workers_join(&w, 60), 0);
	cr_assert_eq(a->value[0], 8000, "%s: lost updates", mps_flavour_name(*f));
	cr_assert(!mps_lock_locked(&a->lock));
	mps_area_destroy(a);
}

/* 2.4, 2.13, 1.2, NaN: another party's view of a lock this thread holds,
 * and of a free one. */
MPS_FLAVOURS(lock, seen_from_another_party)
ParameterizedTest(enum mps_flavour *f, lock, seen_from_another_party)
{
	struct mps_area *a = mps_area_create();
	for (int round = 0; round < 2; round++) {
		expect_seen_free(a, *f);
		cr_assert_eq(mps_lock_acquire(&a->lock, 0), 0);
		mps_lock_t before = a->lock;
		expect_seen_held(a, *f, self_tid());
		cr_assert(same_bytes(&a->lock, &before));
		cr_assert_eq(mps_lock_owner(&a->lock), self_tid());
		cr_assert_eq(mps_lock_release(&a->lock), 0);
	}
	mps_area_destroy(a);
}

/* 2.12, 2.13, 2.9, NaN, 2.7: a worker holds; this thread sees its tid, polls
 * and times out, then releases the worker's lock (any party may). */
MPS_FLAVOURS(lock, held_by_another_party)
ParameterizedTest(enum mps_flavour *f, lock, held_by_another_party)
{
	const char *fl = mps_flavour_name(*f);
	struct mps_area *a = mps_area_create();
	for (int round = 0; round < 2; round++) {
		struct mps_workers w;
		pid_t holder = od_start_one(&w, *f, a, role_hold);
		cr_assert_neq(holder, self_tid());
		cr_assert(mps_lock_locked(&a->lock), "%s: held elsewhere, locked() false", fl);
		cr_assert_eq(mps_lock_owner(&a->lock), holder, "%s: owner() of another's lock", fl);

		mps_lock_t before = a->lock;
		double t0 = mps_now();
		cr_assert_eq(mps_lock_acquire(&a->lock, 0), ETIMEDOUT);
		cr_assert_eq(mps_lock_acquire(&a->lock, -1), ETIMEDOUT);
		cr_assert_eq(mps_lock_acquire(&a->lock, -INFINITY), ETIMEDOUT);
		cr_assert_eq(mps_lock_acquire(&a->lock, NAN), EINVAL);
		cr_assert(mps_now() - t0 < AT_ONCE, "%s: polls blocked", fl);
		cr_assert(same_bytes(&a->lock, &before), "%s: polls or NaN changed the lock", fl);

		t0 = mps_now();
		cr_assert_eq(mps_lock_acquire(&a->lock, T_WAIT), ETIMEDOUT);
		double el = mps_now() - t0;
		cr_assert(el >= T_WAIT - 0.001 && el < T_WAIT + mps_slack(),
		          "%s: timed out after %.3f s, asked %.3f", fl, el, T_WAIT);
		cr_assert_eq(mps_lock_owner(&a->lock), holder);

		cr_assert_eq(mps_lock_release(&a->lock), 0, "%s: release of another's lock", fl);
		cr_assert(!mps_lock_locked(&a->lock));
		cr_assert_eq(mps_lock_owner(&a->lock), 0);
		t0 = mps_now();
		cr_assert_eq(mps_lock_acquire(&a->lock, 5), 0);
		cr_assert(mps_now() - t0 < AT_ONCE);
		cr_assert_eq(mps_lock_owner(&a->lock), self_tid());
		cr_assert_eq(mps_lock_release(&a->lock), 0);

		mps_event_set(&a->done);
		od_join_expect(&w, 0, "holder");
	}
	mps_area_destroy(a);
}

/* 2.7: another party releases a lock this thread acquired. */
MPS_FLAVOURS(lock, released_by_another_party)
ParameterizedTest(enum mps_flavour *f, lock, released_by_another_party)
{
	struct mps_area *a = mps_area_create();
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_lock_acquire(&a->lock, 0), 0);
		struct mps_workers w;
		mps_workers_start(&w, *f, a, role_release, 1, 0);
		od_join_expect(&w, 0, "releaser");
		cr_assert(!mps_lock_locked(&a->lock));
		cr_assert_eq(mps_lock_owner(&a->lock), 0);
		cr_assert_eq(mps_lock_release(&a->lock), EPERM, "already released by the other");
		cr_assert_eq(mps_lock_acquire(&a->lock, 0), 0, "reusable");
		cr_assert_eq(mps_lock_release(&a->lock), 0);
	}
	mps_area_destroy(a);
}

/* 2.5: 5 workers block on a held lock; none gets through while it is held;
 * one release lets all 5 through, one at a time. */
MPS_FLAVOURS(lock, contention)
ParameterizedTest(enum mps_flavour *f, lock, contention)
{
	const char *fl = mps_flavour_name(*f);
	struct mps_area *a = mps_area_create();
	for (int round = 0; round < 2; round++) {
		od_reset(a);
		cr_assert_eq(mps_lock_acquire(&a->lock, 0), 0);
		struct mps_workers w;
		od_start_asleep(&w, *f, a, role_contend, 5, 0, &a->counter[0]);
		mps_sleep(ABSENCE);
		cr_assert_eq(mps_count_get(&a->counter[1]), 0,
		             "%s: a worker got through a held lock", fl);
		cr_assert_eq(mps_lock_owner(&a->lock), self_tid());
		uint64_t calls = mps_debug_futex_calls();
		cr_assert_eq(mps_lock_release(&a->lock), 0);
		cr_assert_geq(mps_debug_futex_calls() - calls, 1,
		              "%s: release with 5 sleepers woke nobody", fl);
		od_join_expect(&w, 0, "contenders");
		cr_assert_eq(mps_count_get(&a->counter[1]), 5, "%s: round %d", fl, round);
		cr_assert(!mps_lock_locked(&a->lock));
		cr_assert_eq(mps_lock_owner(&a->lock), 0);
	}
	mps_area_destroy(a);
}

/* 2.6: re-acquire by the holder blocks (ETIMEDOUT after ~T, not EDEADLK) and
 * proceeds when another party (this thread) releases. */
MPS_FLAVOURS(lock, reacquire_blocks)
ParameterizedTest(enum mps_flavour *f, lock, reacquire_blocks)
{
	const char *fl = mps_flavour_name(*f);
	struct mps_area *a = mps_area_create();
	for (int round = 0; round < 2; round++) {
		struct mps_workers w;
		pid_t holder = od_start_one(&w, *f, a, role_reacquire);
		cr_assert_eq(a->value[RC + 0], ETIMEDOUT, "%s: re-acquire returned %s", fl,
		             mps_strerror((int)a->value[RC + 0]));
		cr_assert(a->elapsed[0] >= T_WAIT - 0.001 && a->elapsed[0] < T_WAIT + mps_slack(),
		          "%s: re-acquire timed out after %.3f s, asked %.3f", fl, a->elapsed[0],
		          T_WAIT);
		od_await_asleep(holder);
		cr_assert(mps_lock_locked(&a->lock));
		cr_assert_eq(mps_lock_owner(&a->lock), holder);
		uint64_t calls = mps_debug_futex_calls();
		cr_assert_eq(mps_lock_release(&a->lock), 0);
		cr_assert_geq(mps_debug_futex_calls() - calls, 1,
		              "%s: release with a sleeper woke nobody", fl);
		od_join_expect(&w, 0, "re-acquirer");
		cr_assert(!mps_lock_locked(&a->lock));
	}
	mps_area_destroy(a);
}

/* 2.9 and 2.10: 3 workers time out on a lock this thread holds; after the
 * release the lock is all zero again, a poll takes it at once, and it is the
 * same bytes as a lock nobody ever waited on. The release that follows the
 * timeouts may cost wakes; the next cycle costs no syscall at all. */
MPS_FLAVOURS(lock, timeout_leaves_no_residue)
ParameterizedTest(enum mps_flavour *f, lock, timeout_leaves_no_residue)
{
	const char *fl = mps_flavour_name(*f);
	struct mps_area *a = mps_area_create();
	mps_lock_t fresh = MPS_LOCK_INIT, zero = MPS_LOCK_INIT;
	cr_assert_eq(mps_lock_acquire(&fresh, 0), 0);  /* the bytes of a never-waited lock */
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_lock_acquire(&a->lock, 0), 0);
		struct mps_workers w;
		mps_workers_start(&w, *f, a, role_timeout, 3, 0);
		od_join_expect(&w, 0, "timed waiters");
		for (int i = 0; i < 3; i++)
			cr_assert(a->elapsed[i] >= T_WAIT - 0.001 && a->elapsed[i] < T_WAIT + mps_slack(),
			          "%s: worker %d timed out after %.3f s, asked %.3f", fl, i,
			          a->elapsed[i], T_WAIT);
		cr_assert(mps_lock_locked(&a->lock));
		cr_assert_eq(mps_lock_owner(&a->lock), self_tid());
		cr_assert_eq(mps_lock_release(&a->lock), 0);
		cr_assert(same_bytes(&a->lock, &zero), "%s: residue after release: %#x", fl,
		          a->lock.word);
		cr_assert(!mps_lock_locked(&a->lock));
		uint64_t calls = mps_debug_futex_calls();
		double t0 = mps_now();
		cr_assert_eq(mps_lock_acquire(&a->lock, 0), 0, "%s: poll after the timeouts", fl);
		cr_assert(mps_now() - t0 < AT_ONCE);
		cr_assert(same_bytes(&a->lock, &fresh), "%s: residue while held: %#x", fl,
		          a->lock.word);
		cr_assert_eq(mps_lock_release(&a->lock), 0);
		cr_assert_eq(mps_debug_futex_calls() - calls, 0,
		             "%s: a later cycle still made futex calls", fl);
	}
	mps_area_destroy(a);
}

/* --------------------------------------------------------- owner death */

/* SPEC §5: a holder that exits (a thread returns, a process _exits and is
 * left unreaped) is dead: the next acquirer gets EOWNERDEAD and holds. */
MPS_FLAVOURS(lock, owner_exits_holding)
ParameterizedTest(enum mps_flavour *f, lock, owner_exits_holding)
{
	od_owner_exits_holding(&lock_ops, *f);
}

/* SPEC §5: a holder SIGKILLed and not reaped (a zombie) is dead. */
MPS_PROCESS_FLAVOURS(lock, owner_killed_zombie)
ParameterizedTest(enum mps_flavour *f, lock, owner_killed_zombie)
{
	od_owner_killed_zombie(&lock_ops, *f);
}

/* SPEC §5: two waiters already asleep when the holder dies (a thread exits,
 * a process is killed and left unreaped): one gets EOWNERDEAD and holds, the
 * other then gets the lock normally. */
MPS_FLAVOURS(lock, sleeping_waiter_gets_ownerdead)
ParameterizedTest(enum mps_flavour *f, lock, sleeping_waiter_gets_ownerdead)
{
	od_sleeping_waiter_gets_ownerdead(&lock_ops, *f);
}
