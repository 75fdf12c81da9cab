/* Semaphore: five children share a BoundedSemaphore(3); one or two die,
 * blocked in acquire, between acquire and release, or elsewhere.
 *
 * Holders: bit i of sem_mask is set by child i right after its acquire and
 * cleared right before its release, each in one atomic step, so the number of
 * bits set never exceeds the permits (over-grant check at every acquire).
 *
 * Lost permits (SPEC 5: the Semaphore has no owner): a victim stopped with
 * its bit set surely holds a permit; the parent clears the bit and gives the
 * permit back (a supervisor's repair), so the survivors keep three permits.
 * A victim stopped in "acquiring" or "releasing" with its bit clear may hold
 * one that nobody can return. At the end:
 *     value + permits lost with dead processes == initial value,
 * with lost <= the number of such ambiguous deaths. The bound is intact:
 * a release beyond it is EOVERFLOW. A survivor is never left waiting while
 * permits are free: no acquire may take anywhere near its timeout. */
#include <errno.h>

#include "fault.h"

#define PERMITS 3

static int64_t hold_ns(uint64_t *rng)
{
	uint64_t x = fault_rand(rng) % 100;
	if (x < 80)
		return (int64_t)(fault_rand(rng) % 10000);
	return 10000 + (int64_t)(fault_rand(rng) % 200000);
}

static bool acquire(struct fault_arena *a, int me)
{
	fault_set_phase(a, me, PH_ACQUIRING);
	int64_t t0 = fault_now_ns();
	int rc = mps_sem_acquire(&a->sem, fault_wait_s(a));
	double ms = fault_ms_since(t0);
	if (rc != 0) {
		fault_violation(a, "child %d: acquire returned %s after %.0f ms (value %u)", me,
		                fault_code(rc), ms, mps_sem_value(&a->sem));
		return false;
	}
	if (ms > fault_stall_ms(a))
		fault_violation(a, "child %d: acquire took %.0f ms although permits kept being "
		                "released (a wake-up went to a dead waiter?)", me, ms);
	return true;
}

static void hold(struct fault_arena *a, int me, uint64_t *rng)
{
	unsigned bit = 1u << me;
	unsigned old = atomic_fetch_or(&a->sem_mask, bit);
	if (old & bit)
		fault_violation(a, "child %d: its holder bit was already set", me);
	int holders = __builtin_popcount(old | bit);
	if (holders > (int)a->permits)
		fault_violation(a, "over-grant: %d holders of %u permits", holders, a->permits);
	fault_set_phase(a, me, PH_HOLDING);
	fault_pause_ns(hold_ns(rng));
	fault_set_phase(a, me, PH_RELEASING);
	atomic_fetch_and(&a->sem_mask, ~bit);
}

static int sem_child(struct fault_arena *a, int me)
{
	uint64_t rng = a->seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(me + 1));
	while (!atomic_load(&a->stop)) {
		if (!acquire(a, me))
			return 1;
		hold(a, me, &rng);
		int rc = mps_sem_release(&a->sem, 1);
		if (rc != 0)
			fault_violation(a, "child %d: release returned %s", me, fault_code(rc));
		fault_set_phase(a, me, PH_OUTSIDE);
		atomic_fetch_add(&a->child[me].ops, 1);
		fault_pause_ns((int64_t)(fault_rand(&rng) % 5000));
	}
	return 0;
}

static void setup(struct fault_round *r)
{
	r->a->permits = PERMITS;
	mps_sem_init_bounded(&r->a->sem, PERMITS);
}

static void on_kill(struct fault_round *r, int victim)
{
	struct fault_arena *a = r->a;
	unsigned bit = 1u << victim;
	int phase = atomic_load(&a->child[victim].phase);
	if (atomic_load(&a->sem_mask) & bit) {
		atomic_fetch_and(&a->sem_mask, ~bit);
		int rc = mps_sem_release(&a->sem, 1);
		if (rc != 0)
			fault_fail(r, "returning dead child %d's permit: %s", victim, fault_code(rc));
		r->sem_donated++;
	} else if (phase == PH_ACQUIRING || phase == PH_RELEASING) {
		r->sem_ambiguous++;
	}
}

static void drive(struct fault_round *r)
{
	fault_sleep_ns(10000000LL + (int64_t)(fault_rand(&r->rng) % 30000000ULL));
	atomic_store(&r->a->stop, 1);
}

/* Polls every permit out and puts them back: the word agrees with value(). */
static void drain_and_restore(struct fault_round *r, unsigned value)
{
	struct fault_arena *a = r->a;
	for (unsigned i = 0; i < value; i++) {
		int rc = mps_sem_acquire(&a->sem, 0);
		if (rc != 0)
			fault_fail(r, "poll %u of %u returned %s", i + 1, value, fault_code(rc));
	}
	int rc = mps_sem_acquire(&a->sem, 0);
	if (rc != ETIMEDOUT)
		fault_fail(r, "poll of an empty semaphore returned %s", fault_code(rc));
	if (value && mps_sem_release(&a->sem, value) != 0)
		fault_fail(r, "could not put %u permits back", value);
}

static void check(struct fault_round *r)
{
	struct fault_arena *a = r->a;
	unsigned value = mps_sem_value(&a->sem);
	int lost = (int)a->permits - (int)value;
	if (value > a->permits || lost > r->sem_ambiguous)
		fault_fail(r, "value %u at the end: %u permits, %d donated back, at most %d may be "
		           "held by dead processes", value, a->permits, r->sem_donated, r->sem_ambiguous);
	if (atomic_load(&a->sem_mask) != 0)
		fault_fail(r, "holders left: mask 0x%x", atomic_load(&a->sem_mask));
	drain_and_restore(r, value);
	if (value == a->permits && mps_sem_release(&a->sem, 1) != EOVERFLOW)
		fault_fail(r, "release beyond the bound was not EOVERFLOW");
}

const struct fault_scenario fault_sem_scenario = {
	.name = "Sem", .prim = PRIM_SEM, .children = 5,
	.setup = setup, .child = sem_child, .on_kill = on_kill,
	.drive = drive, .check = check,
};
