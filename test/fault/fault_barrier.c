/* Barrier: four parties pass a Barrier(4) in a loop (stage 0); the last
 * arriver's action checks the pass. One or two die: before arriving, between
 * arrival and return, or inside the action. A dead party can never arrive, so
 * (SPEC 5, as in Python) the survivors get out by a timed wait (timeout mode:
 * 100 ms per pass, exactly one ETIMEDOUT, MPS_EBROKEN for the rest) or by the
 * parent's abort() (abort mode: 10 s timeouts, no ETIMEDOUT at all).
 * Every survivor must come out (after abort(): within 2 s, so abort() woke
 * them); abort() and reset() must return (within 1 s: they never block).
 * Then the parent resets the Barrier, re-initialises it for the survivors, and
 * they must pass it 20 more times (stage 1).
 *
 * Generations never mix: each party counts its arrival for pass g in a slot
 * before waiting; the action (run before anyone is released) requires
 * exactly `parties` arrivals for the pass it closes; after a pass a party
 * requires that exactly g+1 passes have completed, and that no one else got
 * the same arrival index in it. */
#include <errno.h>
#include <limits.h>

#include "fault.h"

#define STAGE1_PASSES 20

static int self;       /* this child's index, for the action */
static int stage;      /* 0 then 1, in this child */
static uint64_t rng;   /* this child's */

static int action(void *arg)
{
	struct fault_arena *a = arg;
	fault_set_phase(a, self, PH_BARRIER_ACTION);
	unsigned g = atomic_load(&a->passes[stage]);
	unsigned n = atomic_load(&a->arrived[stage][g % FAULT_SLOTS]);
	if (n != a->parties[stage])
		fault_violation(a, "stage %d pass %u tripped with %u arrivals for %u parties",
		                stage, g, n, a->parties[stage]);
	atomic_store(&a->arrived[stage][(g + 2) % FAULT_SLOTS], 0);
	atomic_store(&a->idx_mask[stage][(g + 2) % FAULT_SLOTS], 0);
	if (fault_rand(&rng) % 4 == 0)
		fault_pause_ns((int64_t)(fault_rand(&rng) % 200000));
	atomic_store(&a->passes[stage], g + 1);
	fault_set_phase(a, self, PH_BARRIER_WAIT);
	return 0;
}

static void check_pass(struct fault_arena *a, int me, unsigned g, unsigned idx)
{
	unsigned done = atomic_load(&a->passes[stage]);
	if (done != g + 1)
		fault_violation(a, "child %d returned from stage %d pass %u, but %u passes completed",
		                me, stage, g, done);
	if (idx >= a->parties[stage]) {
		fault_violation(a, "child %d got index %u of %u parties", me, idx, a->parties[stage]);
		return;
	}
	unsigned old = atomic_fetch_or(&a->idx_mask[stage][g % FAULT_SLOTS], 1u << idx);
	if (old & (1u << idx))
		fault_violation(a, "index %u handed out twice in stage %d pass %u", idx, stage, g);
}

static int one_pass(struct fault_arena *a, int me, unsigned g, double timeout)
{
	fault_set_phase(a, me, PH_OUTSIDE);
	atomic_fetch_add(&a->arrived[stage][g % FAULT_SLOTS], 1);
	fault_set_phase(a, me, PH_BARRIER_WAIT);
	unsigned idx = UINT_MAX;
	int rc = mps_barrier_wait_action(&a->barrier, timeout, action, a, &idx);
	fault_set_phase(a, me, PH_AFTER_RETURN);
	if (rc == 0)
		check_pass(a, me, g, idx);
	return rc;
}

/* Passes until the barrier breaks, then waits for the parent's reset. */
static bool stage0(struct fault_arena *a, int me)
{
	int rc;
	for (unsigned g = 0;; g++) {
		rc = one_pass(a, me, g, a->pass_timeout);
		if (rc != 0)
			break;
		atomic_fetch_add(&a->child[me].ops, 1);
	}
	if (rc == ETIMEDOUT)
		atomic_fetch_add(&a->timeouts, 1);
	else if (rc != MPS_EBROKEN)
		fault_violation(a, "child %d: stage 0 wait returned %s", me, fault_code(rc));
	atomic_store(&a->child[me].broken, 1);
	fault_set_phase(a, me, PH_RESYNC);
	rc = mps_event_wait(&a->stage2, 2 * a->hang);
	if (rc != 0)
		fault_violation(a, "child %d: no reset after the break (%s)", me, fault_code(rc));
	return rc == 0;
}

static int barrier_child(struct fault_arena *a, int me)
{
	self = me;
	stage = 0;
	rng = a->seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(me + 1));
	if (!stage0(a, me))
		return 1;
	if (atomic_load(&a->abandon))
		return 0;
	stage = 1;
	for (unsigned g = 0; g < STAGE1_PASSES; g++) {
		int rc = one_pass(a, me, g, a->hang);
		if (rc != 0) {
			fault_violation(a, "child %d: stage 1 pass %u returned %s", me, g, fault_code(rc));
			return 1;
		}
	}
	fault_set_phase(a, me, PH_OUTSIDE);
	return 0;
}

static void setup(struct fault_round *r)
{
	struct fault_arena *a = r->a;
	r->abort_mode = fault_rand(&r->rng) % 2;
	/* abort mode: far longer than the bound on abort() waking everyone */
	a->pass_timeout = r->abort_mode ? 5 * a->hang : 0.1 * fault_slack();
	a->parties[0] = (unsigned)r->sc->children;
	mps_barrier_init(&a->barrier, a->parties[0], a->pass_timeout);
}

static void timed_abort(struct fault_round *r)
{
	int64_t t0 = fault_now_ns();
	int rc = mps_barrier_abort(&r->a->barrier);
	double ms = fault_ms_since(t0);
	if (rc != 0 || !mps_barrier_broken(&r->a->barrier))
		fault_fail(r, "abort() returned %s, broken %d", fault_code(rc),
		           mps_barrier_broken(&r->a->barrier));
	if (ms > 1000 * fault_slack())
		fault_fail(r, "abort() took %.1f ms", ms);
}

/* Every survivor has seen the break within `seconds`. */
static bool await_broken(struct fault_round *r, double seconds, const char *after)
{
	int64_t deadline = fault_now_ns() + (int64_t)(seconds * 1e9);
	for (;;) {
		int waiting = -1;
		for (int i = 0; i < r->sc->children && waiting < 0; i++)
			if (!r->killed[i] && !atomic_load(&r->a->child[i].broken))
				waiting = i;
		if (waiting < 0)
			return true;
		if (fault_now_ns() > deadline) {
			fault_fail(r, "survivor %d still not out %.0f ms after %s (stuck %s)", waiting,
			           seconds * 1e3, after,
			           fault_phase_name(atomic_load(&r->a->child[waiting].phase)));
			return false;
		}
		fault_sleep_ns(200000);
	}
}

static void timed_reset(struct fault_round *r)
{
	mps_barrier_t *b = &r->a->barrier;
	int64_t t0 = fault_now_ns();
	int rc = mps_barrier_reset(b);
	double ms = fault_ms_since(t0);
	if (rc != 0 || mps_barrier_broken(b) || mps_barrier_n_waiting(b) != 0)
		fault_fail(r, "reset() returned %s; then broken %d, n_waiting %u", fault_code(rc),
		           mps_barrier_broken(b), mps_barrier_n_waiting(b));
	if (ms > 1000 * fault_slack())
		fault_fail(r, "reset() took %.1f ms", ms);
}

static void drive(struct fault_round *r)
{
	struct fault_arena *a = r->a;
	bool out;
	if (r->abort_mode) {
		fault_pause_ns(fault_rand_delay_ns(&r->rng, 2000000));
		timed_abort(r);
		/* abort() must wake the sleepers, not leave them to their 10 s timeout */
		out = await_broken(r, a->hang, "abort()");
	} else {
		out = await_broken(r, 2 * a->hang, "the kill");
	}
	if (!out) {
		/* Someone is still inside: re-initialising now would let it
		 * break the new barrier. Let everyone go home instead. */
		atomic_store(&a->abandon, 1);
		mps_barrier_abort(&a->barrier);
		mps_event_set(&a->stage2);
		return;
	}
	timed_reset(r);
	a->parties[1] = (unsigned)fault_survivors(r);
	mps_barrier_init(&a->barrier, a->parties[1], a->hang);
	mps_event_set(&a->stage2);
}

static void check(struct fault_round *r)
{
	struct fault_arena *a = r->a;
	unsigned passes = atomic_load(&a->passes[1]), timeouts = atomic_load(&a->timeouts);
	if (atomic_load(&a->abandon))
		return;   /* failed already */
	if (passes != STAGE1_PASSES)
		fault_fail(r, "survivors completed %u of %d passes after the reset", passes, STAGE1_PASSES);
	if (mps_barrier_broken(&a->barrier))
		fault_fail(r, "barrier broken after the survivors' passes");
	if (r->abort_mode ? timeouts != 0 : timeouts > 1)
		fault_fail(r, "%u ETIMEDOUT results in %s mode", timeouts,
		           r->abort_mode ? "abort" : "timeout");
}

const struct fault_scenario fault_barrier_scenario = {
	.name = "Barrier", .prim = PRIM_BARRIER, .children = 4,
	.setup = setup, .child = barrier_child,
	.drive = drive, .check = check,
};
