/* Lock and RLock: four children take the lock in a loop; one or two die at
 * random moments, some while holding it.
 *
 * Mutual exclusion: cs_owner holds index+1 of the child in the critical
 * section. A holder swaps itself in on entry (the previous value must be 0,
 * or a killed child when the acquire returned EOWNERDEAD), re-checks it all
 * through the section, and swaps itself out before releasing. A second
 * holder, or a dead holder's lock taken without EOWNERDEAD, shows up there.
 *
 * EOWNERDEAD: the parent counts victims whose tid was in the lock word when
 * it stopped them; the children and the parent's final acquire count the
 * EOWNERDEAD results; the two must match (fault_note_lock_death). */
#include <errno.h>
#include <unistd.h>

#include "fault.h"

#define RLOCK_MAX_DEPTH 3

static int64_t hold_ns(uint64_t *rng)
{
	uint64_t x = fault_rand(rng) % 100;
	if (x < 70)
		return (int64_t)(fault_rand(rng) % 5000);
	if (x < 95)
		return 5000 + (int64_t)(fault_rand(rng) % 45000);
	return 100000 + (int64_t)(fault_rand(rng) % 400000);
}

static void enter(struct fault_arena *a, int me, int rc)
{
	int prev = atomic_exchange(&a->cs_owner, me + 1);
	if (prev == 0)
		return;
	bool dead = atomic_load(&a->child[prev - 1].killed);
	if (rc == EOWNERDEAD && dead)
		return;
	if (dead)
		fault_violation(a, "child %d took the lock of dead child %d without EOWNERDEAD", me, prev - 1);
	else
		fault_violation(a, "two holders: child %d entered (%s) while child %d was inside",
		                me, fault_code(rc), prev - 1);
}

static void hold(struct fault_arena *a, int me, uint64_t *rng)
{
	int64_t end = fault_now_ns() + hold_ns(rng);
	do {
		if (atomic_load(&a->cs_owner) != me + 1) {
			fault_violation(a, "child %d: someone entered while it held the lock", me);
			return;
		}
	} while (fault_now_ns() < end);
}

static void leave(struct fault_arena *a, int me)
{
	int expected = me + 1;
	if (!atomic_compare_exchange_strong(&a->cs_owner, &expected, 0))
		fault_violation(a, "child %d: child %d was inside at release", me, expected - 1);
}

/* A timed acquire that must not time out: the owner is alive and quick, or
 * dead and found out within a probe slice. */
static bool acquire_ok(struct fault_arena *a, int me, int rc, int64_t t0)
{
	double ms = fault_ms_since(t0);
	if (rc == EOWNERDEAD)
		atomic_fetch_add(&a->eownerdead, 1);
	else if (rc != 0) {
		fault_violation(a, "child %d: acquire returned %s after %.0f ms", me, fault_code(rc), ms);
		return false;
	}
	if (ms > fault_stall_ms(a))
		fault_violation(a, "child %d: acquire took %.0f ms", me, ms);
	return true;
}

static void critical_section(struct fault_arena *a, int me, int rc, uint64_t *rng)
{
	fault_set_phase(a, me, PH_HOLDING);
	enter(a, me, rc);
	hold(a, me, rng);
	leave(a, me);
	fault_set_phase(a, me, PH_RELEASING);
}

static int lock_child(struct fault_arena *a, int me)
{
	uint64_t rng = a->seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(me + 1));
	while (!atomic_load(&a->stop)) {
		fault_set_phase(a, me, PH_ACQUIRING);
		int64_t t0 = fault_now_ns();
		int rc = mps_lock_acquire(&a->lock, fault_wait_s(a));
		if (!acquire_ok(a, me, rc, t0))
			return 1;
		if (mps_lock_owner(&a->lock) != getpid())
			fault_violation(a, "child %d: holds the lock but the owner is %d", me,
			                (int)mps_lock_owner(&a->lock));
		critical_section(a, me, rc, &rng);
		rc = mps_lock_release(&a->lock);
		if (rc != 0)
			fault_violation(a, "child %d: release returned %s", me, fault_code(rc));
		fault_set_phase(a, me, PH_OUTSIDE);
		atomic_fetch_add(&a->child[me].ops, 1);
		fault_pause_ns((int64_t)(fault_rand(&rng) % 5000));
	}
	return 0;
}

/* The outer acquire is timed; the inner ones must succeed at once. */
static bool rlock_enter(struct fault_arena *a, int me, unsigned depth, int *outer)
{
	int64_t t0 = fault_now_ns();
	*outer = mps_rlock_acquire(&a->rlock, fault_wait_s(a));
	if (!acquire_ok(a, me, *outer, t0))
		return false;
	if (mps_rlock_count(&a->rlock) != 1)
		fault_violation(a, "child %d: count %u after the outer acquire (%s)", me,
		                mps_rlock_count(&a->rlock), fault_code(*outer));
	for (unsigned d = 1; d < depth; d++) {
		int rc = mps_rlock_acquire(&a->rlock, 0);
		if (rc != 0)
			fault_violation(a, "child %d: re-entry %u returned %s", me, d, fault_code(rc));
	}
	if (mps_rlock_count(&a->rlock) != depth || !mps_rlock_is_owned(&a->rlock))
		fault_violation(a, "child %d: count %u, expected %u", me, mps_rlock_count(&a->rlock), depth);
	return true;
}

static void rlock_leave(struct fault_arena *a, int me, unsigned depth)
{
	for (unsigned d = 0; d < depth; d++) {
		int rc = mps_rlock_release(&a->rlock);
		if (rc != 0)
			fault_violation(a, "child %d: release %u of %u returned %s", me, d + 1, depth,
			                fault_code(rc));
	}
	if (mps_rlock_is_owned(&a->rlock))
		fault_violation(a, "child %d: still owns the RLock after %u releases", me, depth);
}

static int rlock_child(struct fault_arena *a, int me)
{
	uint64_t rng = a->seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(me + 1));
	while (!atomic_load(&a->stop)) {
		unsigned depth = 1 + (unsigned)(fault_rand(&rng) % RLOCK_MAX_DEPTH);
		int outer;
		fault_set_phase(a, me, PH_ACQUIRING);
		if (!rlock_enter(a, me, depth, &outer))
			return 1;
		critical_section(a, me, outer, &rng);
		rlock_leave(a, me, depth);
		fault_set_phase(a, me, PH_OUTSIDE);
		atomic_fetch_add(&a->child[me].ops, 1);
		fault_pause_ns((int64_t)(fault_rand(&rng) % 5000));
	}
	return 0;
}

static void setup(struct fault_round *r)
{
	(void)r;   /* all-zero Lock and RLock are valid */
}

static void lock_on_kill(struct fault_round *r, int victim)
{
	fault_note_lock_death(r, victim, mps_lock_owner(&r->a->lock));
}

static void rlock_on_kill(struct fault_round *r, int victim)
{
	fault_note_lock_death(r, victim, mps_rlock_owner(&r->a->rlock));
}

/* Let the survivors run past the recovery of the last death, then stop. */
static void drive(struct fault_round *r)
{
	fault_sleep_ns(20000000LL + (int64_t)(fault_rand(&r->rng) % 40000000ULL));
	atomic_store(&r->a->stop, 1);
}

static void lock_check(struct fault_round *r)
{
	fault_final_lock_check(r, &r->a->lock);
}

static void rlock_check(struct fault_round *r)
{
	struct fault_arena *a = r->a;
	int rc = mps_rlock_acquire(&a->rlock, fault_wait_s(a));
	if (rc == EOWNERDEAD)
		atomic_fetch_add(&a->eownerdead, 1);
	else if (rc != 0)
		fault_fail(r, "parent's final RLock acquire returned %s", fault_code(rc));
	int seen = (int)atomic_load(&a->eownerdead);
	if (seen > r->expected_eod || seen + r->eod_ambiguous < r->expected_eod)
		fault_fail(r, "EOWNERDEAD returned %d time(s) for %d death(s) holding the RLock "
		           "(%d possibly unrecorded)", seen, r->expected_eod, r->eod_ambiguous);
	if (rc != 0 && rc != EOWNERDEAD)
		return;
	if (mps_rlock_count(&a->rlock) != 1)
		fault_fail(r, "final acquire: count %u", mps_rlock_count(&a->rlock));
	rc = mps_rlock_release(&a->rlock);
	if (rc != 0 || mps_rlock_locked(&a->rlock))
		fault_fail(r, "final RLock release returned %s", fault_code(rc));
}

const struct fault_scenario fault_lock_scenario = {
	.name = "Lock", .prim = PRIM_LOCK, .children = 4,
	.setup = setup, .child = lock_child, .on_kill = lock_on_kill,
	.drive = drive, .check = lock_check,
};

const struct fault_scenario fault_rlock_scenario = {
	.name = "RLock", .prim = PRIM_RLOCK, .children = 4,
	.setup = setup, .child = rlock_child, .on_kill = rlock_on_kill,
	.drive = drive, .check = rlock_check,
};
