/* Lock under contention.
 *
 * exclusion  all threads increment a plain counter under the lock, with an
 *            atomic "inside" flag that two holders would both set; blocking,
 *            short-timeout and polling acquires mixed; the holder's poll of
 *            its own lock must fail (no recursion). Final count exact.
 * handover   the lock as a baton that any thread may release (Python's Lock
 *            has no owner for release): one thread acquires, another one
 *            releases it. Acquires and releases must match one to one. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include <mpsync.h>
#include "stress.h"

struct shared {
	mps_lock_t lock;
	atomic_int inside;       /* relaxed: only the lock may order the plain data (TSan checks) */
	long counter;            /* plain: the lock protects it */
	int baton_owner;         /* plain: written by the acquirer, read by the releaser */
	atomic_int baton_pending;
	double end;
};

struct worker {
	int index;
	uint32_t rng;
	long acquired, timeouts, released;
};

static struct shared S;

static double pick_timeout(struct worker *w)
{
	switch (stress_rand(&w->rng) % 8) {
	case 0:
		return 0;
	case 1:
		return 1e-4;
	default:
		return stress_hang_timeout();
	}
}

static void critical_section(struct worker *w, pid_t self)
{
	if (atomic_exchange_explicit(&S.inside, 1, memory_order_relaxed) != 0)
		stress_violation("two threads inside the lock");
	if (mps_lock_owner(&S.lock) != self)
		stress_violation("owner is %d, holder is %d", (int)mps_lock_owner(&S.lock), (int)self);
	if (stress_rand(&w->rng) % 64 == 0) {
		int r = mps_lock_acquire(&S.lock, 0);
		if (r != ETIMEDOUT)
			stress_violation("holder's poll of its own lock returned %s", mps_strerror(r));
	}
	long c = S.counter;
	if (stress_rand(&w->rng) % 128 == 0)
		stress_sleep(20e-6);   /* let waiters go to sleep on the futex */
	S.counter = c + 1;
	w->acquired++;
	atomic_store_explicit(&S.inside, 0, memory_order_relaxed);
}

/* Work outside the lock, so that it is often free and acquirers race on
 * the uncontended path too. */
static void think(struct worker *w)
{
	unsigned n = stress_rand(&w->rng) % 256;
	for (volatile unsigned i = 0; i < n; i++) {
	}
}

static void *exclusion_worker(void *arg)
{
	struct worker *w = arg;
	pid_t self = stress_tid();
	while (stress_now() < S.end) {
		double timeout = pick_timeout(w), started = stress_now();
		int r = mps_lock_acquire(&S.lock, timeout);
		if (stress_overdue(started))
			stress_violation("acquire took %.1f s (lost wake-up)", stress_now() - started);
		if (r == ETIMEDOUT && timeout < 1) {
			w->timeouts++;
			continue;
		}
		if (r != 0) {
			stress_violation("acquire(%g) returned %s", timeout, mps_strerror(r));
			return NULL;
		}
		critical_section(w, self);
		r = mps_lock_release(&S.lock);
		if (r != 0)
			stress_violation("release by the holder returned %s", mps_strerror(r));
		think(w);
	}
	return NULL;
}

static void phase_exclusion(const struct stress_config *cfg, struct worker *w)
{
	mps_lock_init(&S.lock);
	S.counter = 0;
	S.end = stress_now() + cfg->seconds / 2;
	stress_run(cfg->threads, exclusion_worker, w, sizeof *w);
	long total = 0, timeouts = 0;
	for (int i = 0; i < cfg->threads; i++) {
		total += w[i].acquired;
		timeouts += w[i].timeouts;
	}
	stress_note("exclusion: %ld acquisitions, %ld timed out", total, timeouts);
	stress_expect(stress_take_violations() == 0 && S.counter == total && total > 0,
	              "mutual exclusion (counter %ld, acquisitions %ld)", S.counter, total);
	stress_expect(!mps_lock_locked(&S.lock) && mps_lock_owner(&S.lock) == 0
	              && mps_lock_release(&S.lock) == EPERM,
	              "free afterwards; release of a free lock is EPERM");
}

/* Releases the baton another thread holds, if there is one. baton_pending
 * holds the holder's index + 1, or 0. */
static bool release_pending(struct worker *w)
{
	int holder = atomic_load(&S.baton_pending);
	if (holder == 0 || holder == w->index + 1)
		return false;
	if (!atomic_compare_exchange_strong(&S.baton_pending, &holder, 0))
		return false;
	if (S.baton_owner != holder - 1)
		stress_violation("baton written by %d, announced by %d", S.baton_owner, holder - 1);
	int r = mps_lock_release(&S.lock);
	if (r != 0)
		stress_violation("release by another thread returned %s", mps_strerror(r));
	w->released++;
	return true;
}

static void *handover_worker(void *arg)
{
	struct worker *w = arg;
	while (stress_now() < S.end) {
		if (release_pending(w))
			continue;
		if (atomic_load(&S.baton_pending) == w->index + 1) {
			stress_sleep(1e-6);   /* my baton: someone else must release it */
			continue;
		}
		int r = mps_lock_acquire(&S.lock, 1e-3);
		if (r == ETIMEDOUT)
			continue;
		if (r != 0) {
			stress_violation("acquire returned %s", mps_strerror(r));
			return NULL;
		}
		if (atomic_load(&S.baton_pending))
			stress_violation("acquired a lock whose release is still pending");
		S.baton_owner = w->index;
		w->acquired++;
		atomic_store(&S.baton_pending, w->index + 1);
	}
	return NULL;
}

static void phase_handover(const struct stress_config *cfg, struct worker *w)
{
	mps_lock_init(&S.lock);
	atomic_store(&S.baton_pending, 0);
	S.end = stress_now() + cfg->seconds / 2;
	for (int i = 0; i < cfg->threads; i++)
		w[i].acquired = w[i].released = 0;
	stress_run(cfg->threads, handover_worker, w, sizeof *w);
	long acquired = 0, released = atomic_load(&S.baton_pending) ? 1 : 0;
	if (released && mps_lock_release(&S.lock) != 0)
		stress_violation("final release of the pending baton failed");
	for (int i = 0; i < cfg->threads; i++) {
		acquired += w[i].acquired;
		released += w[i].released;
	}
	stress_note("handover: %ld acquisitions", acquired);
	stress_expect(stress_take_violations() == 0 && acquired == released && acquired > 0
	              && !mps_lock_locked(&S.lock),
	              "release by another thread (acquired %ld, released %ld)", acquired, released);
}

int main(int argc, char **argv)
{
	struct stress_config cfg;
	struct worker w[STRESS_MAX_THREADS];
	stress_setup(argc, argv, "stress_lock", &cfg);
	for (int i = 0; i < cfg.threads; i++)
		w[i] = (struct worker){ .index = i, .rng = 0x9e3779b9u * (uint32_t)(i + 1) };
	phase_exclusion(&cfg, w);
	phase_handover(&cfg, w);
	return stress_finish();
}
