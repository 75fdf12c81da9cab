/* Condition under contention.
 *
 * queue   producers and consumers share a bounded FIFO under one Lock with
 *         two Conditions (not_empty, not_full). Producers push batches of
 *         1..4 and notify with notify(1) per item, notify(k) or notify_all;
 *         consumers pop 1..2 and notify the same ways; producers wait with
 *         wait() or wait_for(). Every wait has a long timeout that must never
 *         run out (it would be a lost wakeup), every return holds the lock,
 *         each producer's items come out in order, and all items are consumed
 *         exactly once (count and checksum).
 * exact   threads-1 waiters wait (with a Lock, or an RLock at depth 1..3);
 *         notify(k) must wake exactly min(k, waiters) of them and no more,
 *         n_waiting must drop by as much, every woken waiter holds the lock
 *         at its old depth; then the rest are woken by notify_all or notify(n).
 * forget  a notify with nobody waiting is not remembered. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include <mpsync.h>
#include "stress.h"

#define CAPACITY 8u
#define MAX_BATCH 4u

struct queue {
	mps_lock_t lock;
	mps_cond_t not_empty, not_full;
	uint64_t ring[CAPACITY];          /* ring, head, count, done, next_seq: under lock */
	unsigned head, count;
	bool done;
	uint64_t next_seq[STRESS_MAX_THREADS];   /* per producer: next sequence expected out */
	atomic_int inside;       /* relaxed: only the lock may order the plain data (TSan checks) */
	atomic_uint producers_left;
	double end;
};

struct exact {
	mps_lock_t lock;
	mps_rlock_t rlock;
	mps_cond_t with_lock, with_rlock;
	atomic_uint round;                /* 0 = stop */
	atomic_uint use_rlock, depth, rejoin;   /* this round's setup, published before round */
	atomic_uint woken[2];             /* returns from the first and the second wait */
};

struct worker {
	int index;
	bool produces;
	uint32_t rng;
	long items, batches, waits;
	uint64_t sum;
};

static struct queue Q;
static struct exact E;

/* ---- queue ---- */

static void enter(pid_t self)
{
	if (mps_lock_owner(&Q.lock) != self)
		stress_violation("back from wait without the lock (owner %d, self %d)",
		                 (int)mps_lock_owner(&Q.lock), (int)self);
	if (atomic_exchange_explicit(&Q.inside, 1, memory_order_relaxed) != 0)
		stress_violation("two threads inside the queue's lock");
}

static void leave(void)
{
	atomic_store_explicit(&Q.inside, 0, memory_order_relaxed);
}

static bool lock_queue(pid_t self)
{
	int r = mps_lock_acquire(&Q.lock, stress_hang_timeout());
	if (r != 0) {
		stress_violation("queue lock acquire returned %s", mps_strerror(r));
		return false;
	}
	enter(self);
	return true;
}

static void unlock_queue(void)
{
	leave();
	mps_lock_release(&Q.lock);
}

/* Waits on c with the queue lock held; false when the wait failed. */
static bool queue_wait(mps_cond_t *c, pid_t self, const char *what)
{
	leave();
	double started = stress_now();
	int r = mps_cond_wait(c, &Q.lock, stress_hang_timeout());
	enter(self);
	if (r != 0 || stress_overdue(started))
		stress_violation("%s: wait returned %s after %.1f s (lost wakeup?)", what, mps_strerror(r),
		                 stress_now() - started);
	return r == 0;
}

/* Wakes n threads waiting on c, in one of three styles. */
static void notify_some(mps_cond_t *c, unsigned n, uint32_t *rng)
{
	switch (stress_rand(rng) % 3) {
	case 0:
		for (unsigned i = 0; i < n; i++)
			mps_cond_notify(c, 1);
		break;
	case 1:
		mps_cond_notify(c, n);
		break;
	default:
		mps_cond_notify_all(c);
	}
}

struct space_wanted {
	unsigned k;
};

static bool has_space(void *arg)
{
	const struct space_wanted *want = arg;
	return CAPACITY - Q.count >= want->k;
}

static bool wait_for_space(struct worker *w, unsigned k, pid_t self)
{
	struct space_wanted want = { k };
	if (stress_rand(&w->rng) % 2) {
		leave();
		double started = stress_now();
		int r = mps_cond_wait_for(&Q.not_full, &Q.lock, has_space, &want, stress_hang_timeout());
		enter(self);
		if (r != 0 || stress_overdue(started))
			stress_violation("producer: wait_for returned %s after %.1f s (lost wakeup?)",
			                 mps_strerror(r), stress_now() - started);
		w->waits++;
		return r == 0;
	}
	while (!has_space(&want)) {
		w->waits++;
		if (!queue_wait(&Q.not_full, self, "producer"))
			return false;
	}
	return true;
}

static void push_batch(struct worker *w, unsigned k, uint64_t *seq)
{
	for (unsigned i = 0; i < k; i++) {
		uint64_t item = (uint64_t)w->index << 48 | (*seq)++;
		Q.ring[(Q.head + Q.count) % CAPACITY] = item;
		Q.count++;
		w->sum += item;
		w->items++;
	}
	w->batches++;
}

static void finish_producing(void)
{
	pid_t self = stress_tid();
	if (atomic_fetch_sub(&Q.producers_left, 1) != 1)
		return;
	if (!lock_queue(self))
		return;
	Q.done = true;
	mps_cond_notify_all(&Q.not_empty);
	unlock_queue();
}

static void *producer(struct worker *w)
{
	pid_t self = stress_tid();
	uint64_t seq = 0;
	while (stress_now() < Q.end) {
		unsigned k = 1 + stress_rand(&w->rng) % MAX_BATCH;
		if (!lock_queue(self))
			break;
		if (!wait_for_space(w, k, self)) {
			unlock_queue();
			break;
		}
		push_batch(w, k, &seq);
		notify_some(&Q.not_empty, k, &w->rng);
		unlock_queue();
	}
	finish_producing();
	return NULL;
}

static void pop_one(struct worker *w)
{
	uint64_t item = Q.ring[Q.head];
	Q.head = (Q.head + 1) % CAPACITY;
	Q.count--;
	unsigned from = (unsigned)(item >> 48);
	uint64_t seq = item & ((1ull << 48) - 1);
	if (from >= STRESS_MAX_THREADS || seq != Q.next_seq[from])
		stress_violation("item %llu of producer %u out of order (expected %llu)",
		                 (unsigned long long)seq, from,
		                 (unsigned long long)(from < STRESS_MAX_THREADS ? Q.next_seq[from] : 0));
	else
		Q.next_seq[from]++;
	w->sum += item;
	w->items++;
}

static void *consumer(struct worker *w)
{
	pid_t self = stress_tid();
	for (;;) {
		if (!lock_queue(self))
			return NULL;
		while (Q.count == 0 && !Q.done) {
			w->waits++;
			if (!queue_wait(&Q.not_empty, self, "consumer")) {
				unlock_queue();
				return NULL;
			}
		}
		if (Q.count == 0) {   /* done and drained */
			unlock_queue();
			return NULL;
		}
		unsigned m = 1 + stress_rand(&w->rng) % 2;
		m = m < Q.count ? m : Q.count;
		for (unsigned i = 0; i < m; i++)
			pop_one(w);
		w->batches++;
		notify_some(&Q.not_full, m, &w->rng);
		unlock_queue();
	}
}

static void *queue_worker(void *arg)
{
	struct worker *w = arg;
	return w->produces ? producer(w) : consumer(w);
}

static void phase_queue(const struct stress_config *cfg, struct worker *w)
{
	int producers = cfg->threads / 3;
	atomic_store(&Q.producers_left, (unsigned)producers);
	Q.end = stress_now() + cfg->seconds / 2;
	for (int i = 0; i < cfg->threads; i++)
		w[i].produces = i < producers;
	stress_run(cfg->threads, queue_worker, w, sizeof *w);

	long produced = 0, consumed = 0, waits = 0;
	uint64_t sum_in = 0, sum_out = 0;
	for (int i = 0; i < cfg->threads; i++) {
		produced += w[i].produces ? w[i].items : 0;
		consumed += w[i].produces ? 0 : w[i].items;
		sum_in += w[i].produces ? w[i].sum : 0;
		sum_out += w[i].produces ? 0 : w[i].sum;
		waits += w[i].waits;
	}
	stress_note("queue: %d producers, %d consumers, %ld items, %ld waits", producers,
	            cfg->threads - producers, produced, waits);
	stress_expect(stress_take_violations() == 0 && produced > 0 && produced == consumed
	              && sum_in == sum_out && Q.count == 0,
	              "producer/consumer: no lost wakeup, %ld produced, %ld consumed", produced, consumed);
}

/* ---- exact ---- */

/* Which lock a round uses; waiters copy it when the round starts. */
struct hold {
	bool rlock;
	unsigned depth;
};

static mps_cond_t *exact_cond(struct hold h)
{
	return h.rlock ? &E.with_rlock : &E.with_lock;
}

static int exact_lock(struct hold h)
{
	if (!h.rlock)
		return mps_lock_acquire(&E.lock, stress_hang_timeout());
	for (unsigned d = 0; d < h.depth; d++) {
		int r = mps_rlock_acquire(&E.rlock, stress_hang_timeout());
		if (r != 0)
			return r;
	}
	return 0;
}

static void exact_unlock(struct hold h)
{
	if (!h.rlock) {
		mps_lock_release(&E.lock);
		return;
	}
	for (unsigned d = 0; d < h.depth; d++)
		mps_rlock_release(&E.rlock);
}

static bool exact_holds(struct hold h, pid_t self)
{
	if (!h.rlock)
		return mps_lock_owner(&E.lock) == self;
	return mps_rlock_is_owned(&E.rlock) && mps_rlock_count(&E.rlock) == h.depth;
}

static int exact_wait(struct hold h)
{
	if (h.rlock)
		return mps_cond_wait(&E.with_rlock, &E.rlock, stress_hang_timeout());
	return mps_cond_wait(&E.with_lock, &E.lock, stress_hang_timeout());
}

/* One wait of a round; pass 1 is the rejoin of a woken waiter. */
static void exact_wait_once(struct hold h, unsigned round, int pass, pid_t self)
{
	double started = stress_now();
	int r = exact_wait(h);
	if (r != 0 || stress_overdue(started))
		stress_violation("round %u: wait returned %s after %.1f s", round, mps_strerror(r),
		                 stress_now() - started);
	if (!exact_holds(h, self))
		stress_violation("round %u: back from wait without the %s at depth %u", round,
		                 h.rlock ? "rlock" : "lock", h.depth);
	atomic_fetch_add(&E.woken[pass], 1);
}

static void *exact_waiter(void)
{
	pid_t self = stress_tid();
	unsigned seen = 0;
	for (;;) {
		while (atomic_load(&E.round) == seen)
			stress_sleep(10e-6);
		seen = atomic_load(&E.round);
		if (seen == 0)
			return NULL;
		struct hold h = { atomic_load(&E.use_rlock) != 0, atomic_load(&E.depth) };
		int passes = atomic_load(&E.rejoin) ? 2 : 1;
		if (exact_lock(h) != 0) {
			stress_violation("waiter could not take the lock");
			return NULL;
		}
		/* A woken waiter that waits again at once (CPython's test_notify):
		 * it must not take a wake-up meant for the older waiters. */
		for (int pass = 0; pass < passes; pass++)
			exact_wait_once(h, seen, pass, self);
		exact_unlock(h);
	}
}

/* Notifies n (notify_all when all) with the lock held; returns n_waiting after. */
static unsigned exact_notify(struct hold h, unsigned n, bool all)
{
	h.depth = 1;
	exact_lock(h);
	if (all)
		mps_cond_notify_all(exact_cond(h));
	else
		mps_cond_notify(exact_cond(h), n);
	unsigned left = mps_cond_n_waiting(exact_cond(h));
	exact_unlock(h);
	return left;
}

static unsigned returns(void)
{
	return atomic_load(&E.woken[0]) + atomic_load(&E.woken[1]);
}

static bool await_returns(unsigned target)
{
	double give_up = stress_now() + stress_hang_timeout();
	while (returns() < target) {
		if (stress_now() > give_up)
			return false;
		stress_sleep(20e-6);
	}
	return true;
}

/* Waiters that are, or are about to be, waiting: those not yet back from
 * their first wait, plus the rejoiners not yet back from their second. */
static unsigned still_waiting(unsigned waiters, bool rejoin)
{
	unsigned first = atomic_load(&E.woken[0]), second = atomic_load(&E.woken[1]);
	return waiters - first + (rejoin ? first - second : 0);
}

static bool await_waiting(struct hold h, unsigned round, unsigned expect)
{
	double give_up = stress_now() + stress_hang_timeout();
	while (mps_cond_n_waiting(exact_cond(h)) != expect) {
		if (stress_now() > give_up) {
			stress_violation("round %u: %u waiting, expected %u", round,
			                 mps_cond_n_waiting(exact_cond(h)), expect);
			return false;
		}
		stress_sleep(20e-6);
	}
	return true;
}

/* One notify of a round: notify(k) (or notify_all) must wake exactly
 * min(k, waiting) waiters, and no more. */
static bool exact_step(struct worker *w, struct hold h, unsigned round, unsigned waiting)
{
	bool all = stress_rand(&w->rng) % 5 == 0;
	unsigned k = stress_rand(&w->rng) % (waiting + 2);
	unsigned expect = all ? waiting : k < waiting ? k : waiting;
	const char *what = all ? "notify_all" : "notify";
	unsigned before = returns();
	unsigned left = exact_notify(h, k, all);
	if (left != waiting - expect)
		stress_violation("round %u: %s(%u) with %u waiting left %u waiting", round, what, k,
		                 waiting, left);
	if (!await_returns(before + expect))
		stress_violation("round %u: %s(%u) with %u waiting woke %u", round, what, k, waiting,
		                 returns() - before);
	stress_sleep(2e-3);   /* room for a wrong extra wake-up to show */
	if (returns() != before + expect) {
		stress_violation("round %u: %s(%u) with %u waiting woke %u", round, what, k, waiting,
		                 returns() - before);
		return false;
	}
	return true;
}

/* One round: waiters wait (some wait again when woken); notifies of random
 * sizes wake them, each checked for its exact count. */
static bool exact_round(struct worker *w, unsigned round, unsigned waiters)
{
	struct hold h = { stress_rand(&w->rng) % 2, 1 + stress_rand(&w->rng) % 3 };
	bool rejoin = stress_rand(&w->rng) % 2;
	atomic_store(&E.woken[0], 0);
	atomic_store(&E.woken[1], 0);
	atomic_store(&E.use_rlock, h.rlock);
	atomic_store(&E.depth, h.depth);
	atomic_store(&E.rejoin, rejoin);
	atomic_store(&E.round, round);
	unsigned total = rejoin ? 2 * waiters : waiters;
	while (returns() < total) {
		unsigned waiting = still_waiting(waiters, rejoin);
		if (!await_waiting(h, round, waiting) || !exact_step(w, h, round, waiting))
			return false;
	}
	return true;
}

static void *exact_coordinator(struct worker *w)
{
	unsigned round = 0, waiters = (unsigned)w->index;   /* the last thread: index = waiters */
	while (stress_now() < Q.end && exact_round(w, ++round, waiters)) {
	}
	w->batches = round;
	atomic_store(&E.round, 0);
	return NULL;
}

static void *exact_worker(void *arg)
{
	struct worker *w = arg;
	return w->produces ? exact_coordinator(w) : exact_waiter();
}

static void phase_exact(const struct stress_config *cfg, struct worker *w)
{
	Q.end = stress_now() + cfg->seconds / 2;
	for (int i = 0; i < cfg->threads; i++)
		w[i].produces = i == cfg->threads - 1;
	stress_run(cfg->threads, exact_worker, w, sizeof *w);
	long rounds = w[cfg->threads - 1].batches;
	stress_note("exact: %ld rounds of %d waiters", rounds, cfg->threads - 1);
	stress_expect(stress_take_violations() == 0 && rounds > 0,
	              "notify(k) wakes exactly min(k, waiters); notify_all wakes the rest");
}

static void check_forgotten(void)
{
	mps_lock_acquire(&E.lock, stress_hang_timeout());
	mps_cond_notify(&E.with_lock, 3);
	mps_cond_notify_all(&E.with_lock);
	int r = mps_cond_wait(&E.with_lock, &E.lock, 0.01);
	bool held = mps_lock_owner(&E.lock) == stress_tid();
	mps_lock_release(&E.lock);
	stress_expect(r == ETIMEDOUT && held, "a notify with nobody waiting is not remembered (wait: %d)", r);
}

int main(int argc, char **argv)
{
	struct stress_config cfg;
	struct worker w[STRESS_MAX_THREADS];
	stress_setup(argc, argv, "stress_cond", &cfg);
	for (int i = 0; i < cfg.threads; i++)
		w[i] = (struct worker){ .index = i, .rng = 0x9e3779b9u * (uint32_t)(i + 1) };
	phase_queue(&cfg, w);
	phase_exact(&cfg, w);
	check_forgotten();
	return stress_finish();
}
