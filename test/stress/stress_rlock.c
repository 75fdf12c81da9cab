/* RLock under contention.
 *
 * nesting    every thread takes the lock to a random depth (1..6) and back,
 *            checking at each level: depth, ownership, owner tid, a single
 *            holder (atomic "inside" flag), and that re-entry never blocks
 *            (a poll by the owner succeeds). A plain counter incremented at
 *            the innermost level must end exact.
 * strangers  threads that do not hold it try to release it (EPERM, holder
 *            undisturbed) and query it (not owned, depth 0). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include <mpsync.h>
#include "stress.h"

#define MAX_DEPTH 6

struct shared {
	mps_rlock_t lock;
	atomic_int inside;       /* relaxed: only the lock may order the plain data (TSan checks) */
	long counter;            /* plain: the lock protects it */
	double end;
};

struct worker {
	uint32_t rng;
	long entered, timeouts, strangers;
};

static struct shared S;

static void check_held(unsigned depth, pid_t self)
{
	if (mps_rlock_count(&S.lock) != depth)
		stress_violation("depth %u, expected %u", mps_rlock_count(&S.lock), depth);
	if (!mps_rlock_is_owned(&S.lock) || mps_rlock_owner(&S.lock) != self || !mps_rlock_locked(&S.lock))
		stress_violation("holder at depth %u: owned %d, owner %d, self %d", depth,
		                 mps_rlock_is_owned(&S.lock), (int)mps_rlock_owner(&S.lock), (int)self);
}

/* Re-enters from depth 1 up to depth, alternating poll and blocking re-entry. */
static void nest(struct worker *w, unsigned depth, pid_t self)
{
	for (unsigned d = 2; d <= depth; d++) {
		int r = mps_rlock_acquire(&S.lock, d % 2 ? 0 : stress_hang_timeout());
		if (r != 0)
			stress_violation("re-entry to depth %u returned %s", d, mps_strerror(r));
		check_held(d, self);
	}
	if (atomic_exchange_explicit(&S.inside, 1, memory_order_relaxed) != 0)
		stress_violation("two threads inside the rlock");
	long c = S.counter;
	if (stress_rand(&w->rng) % 128 == 0)
		stress_sleep(20e-6);
	S.counter = c + 1;
	w->entered++;
	atomic_store_explicit(&S.inside, 0, memory_order_relaxed);
}

static void unnest(unsigned depth, pid_t self)
{
	for (unsigned d = depth; d >= 1; d--) {
		check_held(d, self);
		int r = mps_rlock_release(&S.lock);
		if (r != 0)
			stress_violation("release at depth %u returned %s", d, mps_strerror(r));
	}
	if (mps_rlock_is_owned(&S.lock) || mps_rlock_count(&S.lock) != 0)
		stress_violation("still owned after the outermost release");
}

/* Work outside the lock, so that it is often free and acquirers race on
 * the uncontended path too. */
static void think(struct worker *w)
{
	unsigned n = stress_rand(&w->rng) % 256;
	for (volatile unsigned i = 0; i < n; i++) {
	}
}

/* A thread that does not hold the lock must not be able to release it. */
static void stranger(struct worker *w)
{
	if (mps_rlock_is_owned(&S.lock) || mps_rlock_count(&S.lock) != 0)
		stress_violation("a stranger sees itself as owner");
	int r = mps_rlock_release(&S.lock);
	if (r != EPERM)
		stress_violation("release by a stranger returned %s", mps_strerror(r));
	w->strangers++;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	pid_t self = stress_tid();
	while (stress_now() < S.end) {
		uint32_t rnd = stress_rand(&w->rng);
		unsigned depth = 1 + rnd % MAX_DEPTH;
		if (rnd % 8 == 0)
			stranger(w);
		double timeout = rnd % 16 == 1 ? 0 : rnd % 16 == 2 ? 1e-4 : stress_hang_timeout();
		double started = stress_now();
		int r = mps_rlock_acquire(&S.lock, timeout);
		if (stress_overdue(started))
			stress_violation("acquire took %.1f s (lost wake-up)", stress_now() - started);
		if (r == ETIMEDOUT && timeout < 1) {
			w->timeouts++;
			continue;
		}
		if (r != 0) {
			stress_violation("acquire returned %s", mps_strerror(r));
			return NULL;
		}
		check_held(1, self);
		nest(w, depth, self);
		unnest(depth, self);
		think(w);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct stress_config cfg;
	struct worker w[STRESS_MAX_THREADS];
	stress_setup(argc, argv, "stress_rlock", &cfg);
	for (int i = 0; i < cfg.threads; i++)
		w[i] = (struct worker){ .rng = 0x9e3779b9u * (uint32_t)(i + 1) };
	mps_rlock_init(&S.lock);
	S.end = stress_now() + cfg.seconds;
	stress_run(cfg.threads, worker_main, w, sizeof *w);

	long total = 0, timeouts = 0, strangers = 0;
	for (int i = 0; i < cfg.threads; i++) {
		total += w[i].entered;
		timeouts += w[i].timeouts;
		strangers += w[i].strangers;
	}
	stress_note("%ld nested sections, %ld timed out, %ld stranger releases", total, timeouts, strangers);
	stress_expect(stress_take_violations() == 0 && S.counter == total && total > 0,
	              "nested ownership and exclusion (counter %ld, sections %ld)", S.counter, total);
	stress_expect(!mps_rlock_locked(&S.lock) && mps_rlock_owner(&S.lock) == 0
	              && mps_rlock_release(&S.lock) == EPERM,
	              "free afterwards; release when unowned is EPERM");
	return stress_finish();
}
