/* Semaphore and BoundedSemaphore under contention.
 *
 * permits   Semaphore(3): holders (an atomic count kept around each hold)
 *           never exceed 3; single and double holds (the second permit by
 *           poll, returned with release(2)); value exactly 3 at the end.
 * bounded   BoundedSemaphore(4) with users that acquire/release and rogues
 *           that release without acquiring: the value never exceeds 4, an
 *           over-bound release is EOVERFLOW and changes nothing, so the final
 *           value equals 4 - acquired + released exactly.
 * wakeups   Semaphore(0), threads-1 waiters; each round hands out exactly
 *           one permit per waiter with release(n) in random chunks: every
 *           waiter must get one (no lost wakeup) and none may be left over. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include <mpsync.h>
#include "stress.h"

#define PERMITS 3u
#define BOUND 4u

struct shared {
	mps_sem_t sem;
	atomic_uint holders;
	atomic_uint max_holders;
	atomic_uint granted;     /* wakeups: permits taken this run */
	atomic_uint round;       /* wakeups: current round, 0 = stop */
	double end;
};

struct worker {
	int index;
	bool coordinates;        /* wakeups: hands out permits instead of waiting */
	uint32_t rng;
	long acquired, released, overflows, timeouts;
};

static struct shared S;

static void note_holders(unsigned now)
{
	unsigned seen = atomic_load(&S.max_holders);
	while (now > seen && !atomic_compare_exchange_weak(&S.max_holders, &seen, now)) {
	}
	if (now > PERMITS)
		stress_violation("%u holders of %u permits", now, PERMITS);
}

static void hold(struct worker *w)
{
	unsigned n = 1;
	if (stress_rand(&w->rng) % 4 == 0 && mps_sem_acquire(&S.sem, 0) == 0)
		n = 2;
	note_holders(atomic_fetch_add(&S.holders, n) + n);
	if (stress_rand(&w->rng) % 64 == 0)
		stress_sleep(20e-6);
	atomic_fetch_sub(&S.holders, n);
	int r = mps_sem_release(&S.sem, n);
	if (r != 0)
		stress_violation("release(%u) returned %s", n, mps_strerror(r));
	w->acquired += n;
}

static void *permits_worker(void *arg)
{
	struct worker *w = arg;
	while (stress_now() < S.end) {
		uint32_t rnd = stress_rand(&w->rng) % 8;
		double timeout = rnd == 0 ? 0 : rnd == 1 ? 1e-4 : stress_hang_timeout();
		double started = stress_now();
		int r = mps_sem_acquire(&S.sem, timeout);
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
		hold(w);
	}
	return NULL;
}

static void phase_permits(const struct stress_config *cfg, struct worker *w)
{
	mps_sem_init(&S.sem, PERMITS);
	S.end = stress_now() + cfg->seconds / 3;
	stress_run(cfg->threads, permits_worker, w, sizeof *w);
	long acquired = 0;
	for (int i = 0; i < cfg->threads; i++)
		acquired += w[i].acquired;
	stress_note("permits: %ld permits taken, at most %u holders at once", acquired,
	            atomic_load(&S.max_holders));
	stress_expect(stress_take_violations() == 0 && acquired > 0,
	              "never more holders than permits (max %u of %u)", atomic_load(&S.max_holders), PERMITS);
	stress_expect(mps_sem_value(&S.sem) == PERMITS, "value %u at the end, expected %u",
	              mps_sem_value(&S.sem), PERMITS);
}

static void check_bound(void)
{
	unsigned v = mps_sem_value(&S.sem);
	if (v > BOUND)
		stress_violation("bounded value %u above its bound %u", v, BOUND);
}

/* Releases n permits; EOVERFLOW is allowed (rogues may have filled it up). */
static void bounded_release(struct worker *w, unsigned n)
{
	int r = mps_sem_release(&S.sem, n);
	if (r == 0)
		w->released += n;
	else if (r == EOVERFLOW)
		w->overflows++;
	else
		stress_violation("bounded release(%u) returned %s", n, mps_strerror(r));
	check_bound();
}

static void bounded_user(struct worker *w)
{
	double started = stress_now();
	int r = mps_sem_acquire(&S.sem, stress_rand(&w->rng) % 4 ? stress_hang_timeout() : 1e-4);
	if (stress_overdue(started))
		stress_violation("bounded acquire took %.1f s (lost wake-up)", stress_now() - started);
	if (r == ETIMEDOUT)
		return;
	if (r != 0) {
		stress_violation("bounded acquire returned %s", mps_strerror(r));
		return;
	}
	w->acquired++;
	check_bound();
	if (stress_rand(&w->rng) % 4 == 0)
		stress_sleep(10e-6);   /* hold a while, so that rogues can fill the room */
	bounded_release(w, 1);
}

static void bounded_rogue(struct worker *w)
{
	int r = mps_sem_release(&S.sem, BOUND + 1);
	if (r != EOVERFLOW)
		stress_violation("release(bound + 1) returned %s", mps_strerror(r));
	bounded_release(w, 1 + stress_rand(&w->rng) % 3);
	stress_sleep(5e-6);
}

static void *bounded_worker(void *arg)
{
	struct worker *w = arg;
	while (stress_now() < S.end) {
		if (w->index < 2)
			bounded_rogue(w);
		else
			bounded_user(w);
	}
	return NULL;
}

static void phase_bounded(const struct stress_config *cfg, struct worker *w)
{
	mps_sem_init_bounded(&S.sem, BOUND);
	for (int i = 0; i < cfg->threads; i++)
		w[i].acquired = w[i].released = w[i].overflows = 0;
	S.end = stress_now() + cfg->seconds / 3;
	stress_run(cfg->threads, bounded_worker, w, sizeof *w);
	long acquired = 0, released = 0, overflows = 0;
	for (int i = 0; i < cfg->threads; i++) {
		acquired += w[i].acquired;
		released += w[i].released;
		overflows += w[i].overflows;
	}
	long expect = (long)BOUND - acquired + released;
	stress_note("bounded: %ld acquired, %ld released, %ld EOVERFLOW", acquired, released, overflows);
	stress_expect(stress_take_violations() == 0 && acquired > 0,
	              "bounded never over the bound");
	stress_expect(mps_sem_value(&S.sem) == expect && expect >= 0 && expect <= BOUND,
	              "bounded value %u at the end, expected %ld", mps_sem_value(&S.sem), expect);
}

static void *waiter(void *arg)
{
	struct worker *w = arg;
	unsigned seen = 0;
	for (;;) {
		while (atomic_load(&S.round) == seen)
			stress_sleep(10e-6);
		seen = atomic_load(&S.round);
		if (seen == 0)
			return NULL;
		double started = stress_now();
		int r = mps_sem_acquire(&S.sem, stress_hang_timeout());
		if (stress_overdue(started))
			stress_violation("waiter %d in round %u: acquire took %.1f s (lost wake-up)", w->index,
			                 seen, stress_now() - started);
		if (r != 0) {
			stress_violation("waiter %d in round %u: acquire returned %s", w->index, seen,
			                 mps_strerror(r));
			return NULL;
		}
		atomic_fetch_add(&S.granted, 1);
	}
}

/* Hands out exactly `waiters` permits in chunks of 1..3, sometimes after a pause. */
static void hand_out(uint32_t *rng, unsigned waiters)
{
	for (unsigned left = waiters; left;) {
		unsigned n = 1 + stress_rand(rng) % 3;
		n = n < left ? n : left;
		if (stress_rand(rng) % 2)
			stress_sleep(50e-6);
		int r = mps_sem_release(&S.sem, n);
		if (r != 0)
			stress_violation("release(%u) returned %s", n, mps_strerror(r));
		left -= n;
	}
}

static void *coordinator(void *arg)
{
	struct worker *w = arg;
	unsigned waiters = (unsigned)w->index, rounds = 0;   /* the last thread: index = waiters */
	while (stress_now() < S.end) {
		unsigned before = atomic_load(&S.granted);
		atomic_store(&S.round, ++rounds);
		hand_out(&w->rng, waiters);
		if (!stress_await(&S.granted, before + waiters, stress_hang_timeout())) {
			stress_violation("round %u: %u of %u waiters got a permit", rounds,
			                 atomic_load(&S.granted) - before, waiters);
			break;
		}
		if (mps_sem_value(&S.sem) != 0 || mps_sem_acquire(&S.sem, 0) != ETIMEDOUT)
			stress_violation("round %u: permits left over", rounds);
	}
	w->acquired = rounds;
	atomic_store(&S.round, 0);
	return NULL;
}

static void *wakeups_worker(void *arg)
{
	struct worker *w = arg;
	return w->coordinates ? coordinator(w) : waiter(w);
}

static void phase_wakeups(const struct stress_config *cfg, struct worker *w)
{
	mps_sem_init(&S.sem, 0);
	atomic_store(&S.round, 0);
	atomic_store(&S.granted, 0);
	S.end = stress_now() + cfg->seconds / 3;
	struct worker *coord = &w[cfg->threads - 1];
	coord->coordinates = true;
	stress_run(cfg->threads, wakeups_worker, w, sizeof *w);
	stress_note("wakeups: %ld rounds of %d waiters", coord->acquired, cfg->threads - 1);
	stress_expect(stress_take_violations() == 0 && coord->acquired > 0,
	              "release(n) wakes waiters, exact count (%u permits granted)", atomic_load(&S.granted));
}

int main(int argc, char **argv)
{
	struct stress_config cfg;
	struct worker w[STRESS_MAX_THREADS];
	stress_setup(argc, argv, "stress_sem", &cfg);
	for (int i = 0; i < cfg.threads; i++)
		w[i] = (struct worker){ .index = i, .rng = 0x9e3779b9u * (uint32_t)(i + 1) };
	phase_permits(&cfg, w);
	phase_bounded(&cfg, w);
	phase_wakeups(&cfg, w);
	return stress_finish();
}
