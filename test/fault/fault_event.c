/* Event: child 0 (never killed) keeps the Event clear for up to 200 us,
 * then set for a few microseconds, in a loop; the other children wait on it,
 * with a long timeout (it must never run out: sets keep coming) or a tiny
 * one (1e-4 s: either result is fine). Victims die inside the wait, leaving the waiters bit
 * behind (SPEC 5: a dead waiter must not block the setter or other waiters),
 * or between waits. At the end the Event still behaves: set is seen at once,
 * clear makes a wait time out. */
#include <errno.h>

#include "fault.h"

#define ROLE_SETTER 1

static int setter(struct fault_arena *a, int me, uint64_t *rng)
{
	while (!atomic_load(&a->stop)) {
		fault_set_phase(a, me, PH_SETTING);
		mps_event_clear(&a->event);
		fault_set_phase(a, me, PH_OUTSIDE);
		fault_pause_ns((int64_t)(fault_rand(rng) % 200000));
		fault_set_phase(a, me, PH_SETTING);
		atomic_fetch_add(&a->sets, 1);
		mps_event_set(&a->event);
		fault_set_phase(a, me, PH_OUTSIDE);
		fault_pause_ns((int64_t)(fault_rand(rng) % 5000));
	}
	atomic_fetch_add(&a->sets, 1);
	mps_event_set(&a->event);
	return 0;
}

static void one_wait(struct fault_arena *a, int me, uint64_t *rng)
{
	bool tiny = fault_rand(rng) % 8 == 0;
	double timeout = tiny ? 1e-4 : a->hang;
	fault_set_phase(a, me, PH_EVENT_WAIT);
	int64_t t0 = fault_now_ns();
	int rc = mps_event_wait(&a->event, timeout);
	double ms = fault_ms_since(t0);
	fault_set_phase(a, me, PH_AFTER_RETURN);
	if (rc != 0 && !(tiny && rc == ETIMEDOUT))
		fault_violation(a, "child %d: wait(%g) returned %s after %.1f ms (sets so far %lu)",
		                me, timeout, fault_code(rc), ms, atomic_load(&a->sets));
	else if (!tiny && ms > a->hang * 500)
		fault_violation(a, "child %d: wait took %.0f ms while the Event was set every 200 us",
		                me, ms);
}

static int event_child(struct fault_arena *a, int me)
{
	uint64_t rng = a->seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(me + 1));
	if (a->child[me].role == ROLE_SETTER)
		return setter(a, me, &rng);
	while (!atomic_load(&a->stop)) {
		one_wait(a, me, &rng);
		fault_set_phase(a, me, PH_OUTSIDE);
		atomic_fetch_add(&a->child[me].ops, 1);
		fault_pause_ns((int64_t)(fault_rand(&rng) % 2000));
	}
	return 0;
}

static void setup(struct fault_round *r)
{
	r->a->child[0].role = ROLE_SETTER;
}

static bool killable(const struct fault_round *r, int idx)
{
	return r->a->child[idx].role != ROLE_SETTER;
}

static void drive(struct fault_round *r)
{
	fault_sleep_ns(10000000LL + (int64_t)(fault_rand(&r->rng) % 30000000ULL));
	atomic_store(&r->a->stop, 1);
}

static void expect(struct fault_round *r, int rc, int want, const char *what)
{
	if (rc != want)
		fault_fail(r, "%s returned %s, expected %s", what, fault_code(rc), fault_code(want));
}

static void check(struct fault_round *r)
{
	mps_event_t *e = &r->a->event;
	if (!mps_event_is_set(e))
		fault_fail(r, "the setter's last set() is not visible");
	expect(r, mps_event_wait(e, 0), 0, "poll of a set Event");
	mps_event_clear(e);
	expect(r, mps_event_wait(e, 1e-3), ETIMEDOUT, "wait(1 ms) on a cleared Event");
	mps_event_set(e);
	expect(r, mps_event_wait(e, r->a->hang), 0, "wait on a set Event");
	for (int i = 1; i < r->sc->children; i++)
		if (!r->killed[i] && atomic_load(&r->a->child[i].ops) == 0)
			fault_fail(r, "surviving waiter %d never returned from a wait", i);
}

const struct fault_scenario fault_event_scenario = {
	.name = "Event", .prim = PRIM_EVENT, .children = 4,
	.setup = setup, .child = event_child, .killable = killable,
	.drive = drive, .check = check,
};
