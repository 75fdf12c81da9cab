/* Event under races.
 *
 * blocked   rounds: threads-1 waiters block in wait() (confirmed from
 *           /proc/self/task/<tid>/syscall: asleep in futex on the event word),
 *           then set() and at once clear(), sometimes twice. Every one of
 *           them must return 0: a set() during a wait counts even if clear()
 *           follows at once. None may return before the set.
 * chaos     setters, clearers and waiters with short and long timeouts all at
 *           once: waits return only 0 or ETIMEDOUT, a long wait never times
 *           out while sets keep coming, and a final set() releases everyone.
 * no set    waiters with short timeouts beside clearers and no setter: every
 *           wait times out (a clear or a spurious wake is never a success). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include <mpsync.h>
#include "stress.h"

struct shared {
	mps_event_t event;
	atomic_uint round;        /* blocked: current round, 0 = stop */
	atomic_uint returned;     /* blocked: waiters back from wait; chaos: threads out of the loop */
	atomic_uint setting;      /* blocked: round whose set() has begun */
	unsigned must_stop;       /* chaos: threads to leave their loop before the final set */
	_Atomic pid_t tids[STRESS_MAX_THREADS];
	atomic_bool stop;
	double end;
};

struct worker {
	int index, role;
	uint32_t rng;
	long waits, successes, timeouts;
};

enum { WAITER, SETTER, CLEARER, COORDINATOR };

static struct shared S;

static void *blocked_waiter(void *arg)
{
	struct worker *w = arg;
	atomic_store(&S.tids[w->index], stress_tid());
	unsigned seen = 0;
	for (;;) {
		while (atomic_load(&S.round) == seen)
			stress_sleep(10e-6);
		seen = atomic_load(&S.round);
		if (seen == 0)
			return NULL;
		double started = stress_now();
		int r = mps_event_wait(&S.event, stress_hang_timeout());
		if (r != 0 || stress_overdue(started))
			stress_violation("round %u: blocked waiter got %s after %.1f s", seen, mps_strerror(r),
			                 stress_now() - started);
		else if (atomic_load(&S.setting) != seen)
			stress_violation("round %u: waiter returned before set()", seen);
		w->waits++;
		atomic_fetch_add(&S.returned, 1);
	}
}

/* Waits until every waiter sleeps on the event word; false if it cannot
 * tell. After one failure (qemu-user shows the host's syscalls, or no
 * /proc) it stops trying, and the rounds only check that nobody hangs. */
static bool all_blocked(int waiters)
{
	static bool given_up;
	double give_up = stress_now() + 2.0;
	if (given_up)
		return false;
	for (int i = 0; i < waiters; i++) {
		pid_t tid = atomic_load(&S.tids[i]);
		while (!stress_blocked_on(tid, &S.event.word)) {
			if (!stress_blocked_supported() || stress_now() > give_up) {
				given_up = true;
				return false;
			}
			stress_sleep(20e-6);
		}
	}
	return true;
}

static void set_then_clear(struct worker *w, unsigned round)
{
	atomic_store(&S.setting, round);
	int times = 1 + (int)(stress_rand(&w->rng) % 2);
	for (int i = 0; i < times; i++) {
		mps_event_set(&S.event);
		mps_event_clear(&S.event);
	}
}

static void *blocked_coordinator(void *arg)
{
	struct worker *w = arg;
	int waiters = w->index;   /* the last thread: index = number of waiters */
	unsigned round = 0;
	while (stress_now() < S.end) {
		unsigned before = atomic_load(&S.returned);
		atomic_store(&S.round, ++round);
		bool confirmed = all_blocked(waiters);
		set_then_clear(w, round);
		if (!confirmed) {
			/* Cannot tell whether they slept before the set: release any
			 * late one, and check only that nobody hangs. */
			stress_sleep(0.05);
			mps_event_set(&S.event);
			stress_await(&S.returned, before + (unsigned)waiters, stress_hang_timeout());
			mps_event_clear(&S.event);
		}
		if (!stress_await(&S.returned, before + (unsigned)waiters, stress_hang_timeout())) {
			stress_violation("round %u: %u of %d blocked waiters returned", round,
			                 atomic_load(&S.returned) - before, waiters);
			break;
		}
		if (mps_event_is_set(&S.event))
			stress_violation("round %u: set after clear()", round);
		w->successes += confirmed;
	}
	w->waits = round;
	atomic_store(&S.round, 0);
	return NULL;
}

static void *blocked_worker(void *arg)
{
	struct worker *w = arg;
	return w->role == COORDINATOR ? blocked_coordinator(w) : blocked_waiter(w);
}

static void phase_blocked(const struct stress_config *cfg, struct worker *w)
{
	mps_event_init(&S.event);
	atomic_store(&S.round, 0);
	atomic_store(&S.returned, 0);
	atomic_store(&S.setting, 0);
	S.end = stress_now() + cfg->seconds / 2;
	for (int i = 0; i < cfg->threads; i++)
		w[i].role = WAITER;
	struct worker *coord = &w[cfg->threads - 1];
	coord->role = COORDINATOR;
	stress_run(cfg->threads, blocked_worker, w, sizeof *w);
	stress_note("blocked: %ld rounds of %d waiters, %ld confirmed asleep before set()%s",
	            coord->waits, cfg->threads - 1, coord->successes,
	            stress_blocked_supported() ? "" : " (no /proc/self/task/*/syscall here)");
	stress_expect(stress_take_violations() == 0 && coord->waits > 0,
	              "every blocked waiter returns 0 from a set() followed by clear()");
}

static double pick_timeout(struct worker *w, bool short_only)
{
	switch (stress_rand(&w->rng) % 4) {
	case 0:
		return 0;
	case 1:
		return 1e-4;
	case 2:
		return 1e-3;
	default:
		return short_only ? 2e-3 : stress_hang_timeout();
	}
}

static void chaos_wait(struct worker *w, bool with_setters)
{
	double timeout = pick_timeout(w, !with_setters), started = stress_now();
	int r = mps_event_wait(&S.event, timeout);
	w->waits++;
	if (timeout > 1 && stress_overdue(started))
		stress_violation("wait took %.1f s while sets kept coming", stress_now() - started);
	if (r == 0 && with_setters)
		w->successes++;
	else if (r == ETIMEDOUT && timeout < 1)
		w->timeouts++;
	else
		stress_violation("wait(%g) returned %s%s", timeout, mps_strerror(r),
		                 with_setters ? "" : " with nobody setting");
}

/* Setters and clearers. The first setter ends the phase: it raises stop,
 * keeps setting until everyone who clears has left its loop (waiters clear
 * too), then sets the event for good. */
static void chaos_changer(struct worker *w)
{
	while (!atomic_load(&S.stop)) {
		if (w->role == SETTER)
			mps_event_set(&S.event);
		else
			mps_event_clear(&S.event);
		w->waits++;
		stress_sleep((stress_rand(&w->rng) % 100) * 1e-6);
		if (w->index == 0 && stress_now() > S.end)
			atomic_store(&S.stop, true);
	}
	if (w->index != 0) {
		atomic_fetch_add(&S.returned, 1);
		return;
	}
	double give_up = stress_now() + stress_hang_timeout();
	while (atomic_load(&S.returned) < S.must_stop) {
		mps_event_set(&S.event);
		if (stress_now() > give_up) {
			stress_violation("threads did not leave the chaos loop");
			break;
		}
		stress_sleep(100e-6);
	}
	mps_event_set(&S.event);
}

static void *chaos_worker(void *arg)
{
	struct worker *w = arg;
	if (w->role != WAITER) {
		chaos_changer(w);
		return NULL;
	}
	while (!atomic_load(&S.stop)) {
		chaos_wait(w, true);
		if (stress_rand(&w->rng) % 2)
			mps_event_clear(&S.event);   /* so that the next waits have to sleep */
	}
	atomic_fetch_add(&S.returned, 1);
	if (mps_event_wait(&S.event, stress_hang_timeout()) != 0)
		stress_violation("final wait after the last set() did not return 0");
	return NULL;
}

static void phase_chaos(const struct stress_config *cfg, struct worker *w)
{
	mps_event_init(&S.event);
	atomic_store(&S.stop, false);
	atomic_store(&S.returned, 0);
	S.end = stress_now() + cfg->seconds / 4;
	for (int i = 0; i < cfg->threads; i++) {
		bool two = cfg->threads >= 6;   /* two setters and two clearers */
		w[i].role = i == 0 || (i == 2 && two) ? SETTER : i == 1 || (i == 3 && two) ? CLEARER : WAITER;
		w[i].waits = w[i].successes = w[i].timeouts = 0;
	}
	S.must_stop = (unsigned)cfg->threads - 1;   /* every thread but the first setter clears */
	stress_run(cfg->threads, chaos_worker, w, sizeof *w);
	long waits = 0, successes = 0, timeouts = 0;
	for (int i = 0; i < cfg->threads; i++) {
		if (w[i].role != WAITER)
			continue;
		waits += w[i].waits;
		successes += w[i].successes;
		timeouts += w[i].timeouts;
	}
	stress_note("chaos: %ld waits, %ld signalled, %ld timed out", waits, successes, timeouts);
	stress_expect(stress_take_violations() == 0 && waits > 0 && mps_event_is_set(&S.event),
	              "set/clear/wait races: no lost set, final set releases all");
}

static void *no_set_worker(void *arg)
{
	struct worker *w = arg;
	while (stress_now() < S.end) {
		if (w->role == CLEARER) {
			mps_event_clear(&S.event);
			stress_sleep((stress_rand(&w->rng) % 50) * 1e-6);
		} else {
			chaos_wait(w, false);
		}
	}
	return NULL;
}

static void phase_no_set(const struct stress_config *cfg, struct worker *w)
{
	mps_event_init(&S.event);
	S.end = stress_now() + cfg->seconds / 4;
	for (int i = 0; i < cfg->threads; i++) {
		w[i].role = i == 0 ? CLEARER : WAITER;
		w[i].waits = w[i].successes = w[i].timeouts = 0;
	}
	stress_run(cfg->threads, no_set_worker, w, sizeof *w);
	long waits = 0;
	for (int i = 0; i < cfg->threads; i++)
		waits += w[i].role == WAITER ? w[i].waits : 0;
	stress_expect(stress_take_violations() == 0 && waits > 0 && !mps_event_is_set(&S.event),
	              "no set, no success: %ld waits all timed out", waits);
}

int main(int argc, char **argv)
{
	struct stress_config cfg;
	struct worker w[STRESS_MAX_THREADS];
	stress_setup(argc, argv, "stress_event", &cfg);
	for (int i = 0; i < cfg.threads; i++)
		w[i] = (struct worker){ .index = i, .rng = 0x9e3779b9u * (uint32_t)(i + 1) };
	phase_blocked(&cfg, w);
	phase_chaos(&cfg, w);
	phase_no_set(&cfg, w);
	return stress_finish();
}
