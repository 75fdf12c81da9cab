/* Barrier: one 64-bit word, plus parties and the default timeout.
 *
 * Encoding of state:
 *   bits  0..31  epoch, the futex word: trips (bits 0..23) and breaks (bits
 *                24..31), counting how passes ended; every end changes it
 *   bits 32..47  count: parties arrived in the current epoch
 *   bit  48      BROKEN: arrivals fail at once until reset()
 *   bit  49      TRIPPING: the last arriver is running the action
 *   bit  50      SLEEPERS: someone sleeps on the epoch; ending it must wake
 *   bits 51..63  history: outcome of the last 13 epochs (1 = broken), newest
 *                in bit 51
 *
 * Who changes what (each change one CAS):
 *   wait      arrivals take index = count and count+1. The arrival that makes
 *             count == parties sets TRIPPING, runs the action, then ends the
 *             epoch (count 0, history <- ok, or broken if the action failed)
 *             and wakes the sleepers. Others spin briefly, then set SLEEPERS
 *             and sleep while the epoch is unchanged. When it changes, a
 *             waiter reads its own pass's outcome: no break since it arrived
 *             means its pass tripped, no trip since means it broke, and
 *             otherwise the history bit of its epoch decides. So a waiter that
 *             runs late reads its own pass correctly after any number of later
 *             passes, aborts and resets (only a lag of more than 13 ends with
 *             both trips and breaks in it is reported as broken). An arrival
 *             while TRIPPING waits for the next epoch and arrives there, so a
 *             waiter of pass i is never counted in pass i+1; if its timeout
 *             expires first it returns ETIMEDOUT, having broken nothing.
 *   timeout   a waiter whose deadline passes ends its epoch broken and sets
 *             BROKEN (ETIMEDOUT for it, MPS_EBROKEN for the rest), even while
 *             the action runs (the tripper then gets MPS_EBROKEN): waiting for
 *             a party that may have died would let one crash wedge the rest.
 *   abort     sets BROKEN; ends the epoch broken if anyone is in it.
 *   reset     ends the epoch broken if anyone is in it; clears BROKEN.
 *             Both always wake the epoch word: a party that died between
 *             ending an epoch and waking its sleepers is covered by them.
 * No releaser waits for anyone. A dead waiter leaves count one short, so the
 * barrier cannot trip: survivors end by timeout or abort(), as in Python. */
#include <errno.h>
#include <limits.h>

#include <mpsync/barrier.h>
#include "deadline.h"
#include "futex.h"
#include "interrupt.h"
#include "spin.h"

_Static_assert(sizeof(mps_barrier_t) <= 24, "Barrier is at most 24 bytes (ABI)");

#define COUNT_SHIFT  32
#define COUNT_MASK   0xffffull
#define BROKEN       (1ull << 48)
#define TRIPPING     (1ull << 49)
#define SLEEPERS     (1ull << 50)
#define HIST_SHIFT   51
#define HIST_BITS    13
#define HIST_MASK    ((1ull << HIST_BITS) - 1)

#define TRIP_MASK    0xffffffu
#define BREAK_ONE    (1u << 24)

static inline uint32_t epoch_of(uint64_t st) { return (uint32_t)st; }
static inline uint32_t count_of(uint64_t st) { return (uint32_t)((st >> COUNT_SHIFT) & COUNT_MASK); }
static inline uint32_t *futex_word(mps_barrier_t *b) { return (uint32_t *)&b->state; }

/* The next epoch, with this one's outcome pushed into the history. */
static uint64_t end_epoch(uint64_t st, bool broken)
{
	uint64_t hist = (((st >> HIST_SHIFT) << 1) | broken) & HIST_MASK;
	uint32_t e = epoch_of(st);
	uint32_t next = broken ? e + BREAK_ONE : (e & ~TRIP_MASK) | ((e + 1) & TRIP_MASK);
	return (uint64_t)next | hist << HIST_SHIFT;
}

/* Outcome for a waiter of epoch mine, once the epoch has moved on. */
static int outcome(uint64_t st, uint32_t mine)
{
	uint32_t now = epoch_of(st);
	uint32_t trips = (now - mine) & TRIP_MASK, breaks = (now - (mine & ~TRIP_MASK)) >> 24;
	if (breaks == 0)
		return 0;
	if (trips == 0)
		return MPS_EBROKEN;
	uint32_t age = trips + breaks;
	if (age > HIST_BITS)
		return MPS_EBROKEN;
	return (st >> (HIST_SHIFT + age - 1)) & 1 ? MPS_EBROKEN : 0;
}

static void wake_if_sleepers(mps_barrier_t *b, uint64_t before)
{
	if (before & SLEEPERS)
		mps_futex_wake(futex_word(b), INT_MAX, MPS_FUTEX_ANY);
}

int mps_barrier_init(mps_barrier_t *b, unsigned parties, double timeout)
{
	if (parties < 1 || parties > MPS_BARRIER_MAX_PARTIES || mps_timeout_invalid(timeout))
		return EINVAL;
	b->parties = parties;
	b->flags = 0;
	b->timeout = timeout;
	uint64_t old = a_load64(&b->state);
	a_cas64(&b->state, old, 0);
	return 0;
}

/* Ends epoch mine as broken, if it is still current. This holds even while
 * the last party runs the action: a waiter whose timeout expires is never
 * made to wait for a party that may have died. */
static bool break_epoch(mps_barrier_t *b, uint32_t mine)
{
	uint64_t st = a_load64(&b->state), seen;
	for (;;) {
		if (epoch_of(st) != mine)
			return false;
		seen = a_cas64(&b->state, st, end_epoch(st, true) | BROKEN);
		if (seen == st)
			break;
		st = seen;
	}
	wake_if_sleepers(b, st);
	return true;
}

/* Sleeps until epoch mine ends or the deadline; returns the final state,
 * and r = ETIMEDOUT or EINTR when it gave up with the epoch unchanged. */
static uint64_t sleep_through(mps_barrier_t *b, uint32_t mine,
                              const struct mps_deadline *deadline, int *r,
                              struct mps_sigguard *guard)
{
	struct mps_spin spin;
	uint64_t st = a_load64(&b->state), seen;
	*r = 0;
	/* From here on a handler that runs gives EINTR (interrupt.h). */
	mps_sigguard_enter(guard);
	/* Spinning pays only if every party can run at once; otherwise it takes
	 * the CPU from a party that has yet to arrive. */
	if (deadline->kind != MPS_DEADLINE_POLL && b->parties <= mps_usable_cpus()
	    && mps_spin_begin(&spin)) {
		do {
			st = a_load64(&b->state);
			if (epoch_of(st) != mine)
				return st;
		} while (mps_spin_more(&spin));
	}
	for (;;) {
		st = a_load64(&b->state);
		if (epoch_of(st) != mine)
			return st;
		if (deadline->kind == MPS_DEADLINE_POLL) {
			*r = ETIMEDOUT;
			return st;
		}
		if (!(st & SLEEPERS)) {
			seen = a_cas64(&b->state, st, st | SLEEPERS);
			if (seen != st)
				continue;
		}
		int w = mps_futex_wait(futex_word(b), mine, deadline, MPS_FUTEX_ANY, guard);
		if (w == ETIMEDOUT || w == EINTR) {
			st = a_load64(&b->state);
			if (epoch_of(st) == mine)
				*r = w;
			return st;
		}
	}
}

/* An interrupted waiter withdraws (Python's Barrier does the same). */
static bool withdraw(mps_barrier_t *b, uint32_t mine)
{
	uint64_t st = a_load64(&b->state), seen;
	for (;;) {
		if (epoch_of(st) != mine || (st & TRIPPING) || count_of(st) == 0)
			return false;
		seen = a_cas64(&b->state, st, st - (1ull << COUNT_SHIFT));
		if (seen == st)
			return true;
		st = seen;
	}
}

static int trip(mps_barrier_t *b, uint32_t mine, int (*action)(void *), void *arg)
{
	int result = action ? action(arg) : 0;
	uint64_t st = a_load64(&b->state), seen;
	for (;;) {
		if (epoch_of(st) != mine)
			return MPS_EBROKEN;  /* aborted or reset while the action ran */
		uint64_t next = end_epoch(st, result != 0) | (result ? BROKEN : 0);
		seen = a_cas64(&b->state, st, next);
		if (seen == st)
			break;
		st = seen;
	}
	wake_if_sleepers(b, st);
	return result;
}

/* The deadline, converted the first time a waiter may sleep: the last
 * arriver, and every Barrier(1) wait, never read the clock. */
static const struct mps_deadline *deadline_for(struct mps_deadline *d, double timeout)
{
	if (d->kind == MPS_DEADLINE_UNSET)
		mps_deadline_init(d, timeout);
	return d;
}

static int wait_action(mps_barrier_t *b, double timeout, int (*action)(void *),
                       void *arg, unsigned *index, struct mps_sigguard *guard);

int mps_barrier_wait_action(mps_barrier_t *b, double timeout,
                            int (*action)(void *), void *arg, unsigned *index)
{
	if (mps_timeout_invalid(timeout) || b->parties == 0)
		return EINVAL;
	/* Entered before the arrival, so a handler that runs anywhere up to
	 * the sleep gives EINTR; left before the action, which runs with the
	 * caller's own signal mask. */
	struct mps_sigguard guard = { .on = false };
	mps_sigguard_enter(&guard);
	int err = wait_action(b, timeout, action, arg, index, &guard);
	mps_sigguard_leave(&guard);
	return err;
}

static int wait_action(mps_barrier_t *b, double timeout, int (*action)(void *),
                       void *arg, unsigned *index, struct mps_sigguard *guard)
{
	uint32_t parties = b->parties;
	struct mps_deadline deadline = { .kind = MPS_DEADLINE_UNSET };
	uint64_t st = a_load64(&b->state), seen;
	for (;;) {
		if (st & BROKEN)
			return MPS_EBROKEN;
		if (st & TRIPPING) {
			int r;
			/* Not part of the pass whose action runs: giving up here
			 * breaks nothing. */
			st = sleep_through(b, epoch_of(st), deadline_for(&deadline, timeout), &r, guard);
			if (r)
				return r;
			continue;
		}
		uint32_t arrived = count_of(st);
		uint64_t next = st + (1ull << COUNT_SHIFT);
		if (arrived + 1 == parties)
			next |= TRIPPING;
		seen = a_cas64(&b->state, st, next);
		if (seen != st) {
			st = seen;
			continue;
		}
		if (index)
			*index = arrived;
		if (arrived + 1 == parties) {
			mps_sigguard_leave(guard);
			return trip(b, epoch_of(st), action, arg);
		}
		break;
	}
	uint32_t mine = epoch_of(st);
	for (;;) {
		int r;
		st = sleep_through(b, mine, deadline_for(&deadline, timeout), &r, guard);
		if (epoch_of(st) != mine)
			return outcome(st, mine);
		if (r == ETIMEDOUT && break_epoch(b, mine))
			return ETIMEDOUT;
		/* The action is running: an interrupt cannot withdraw any more. */
		if (r == EINTR && withdraw(b, mine))
			return EINTR;
	}
}

int mps_barrier_wait(mps_barrier_t *b, double timeout, unsigned *index)
{
	return mps_barrier_wait_action(b, timeout, NULL, NULL, index);
}

/* Ends the current epoch broken if anyone is in it; set_broken sets
 * BROKEN, otherwise it is cleared. */
static int end_with(mps_barrier_t *b, bool set_broken)
{
	if (b->parties == 0)
		return EINVAL;
	uint64_t st = a_load64(&b->state), seen, next;
	for (;;) {
		bool occupied = count_of(st) > 0 || (st & TRIPPING);
		if (set_broken && (st & BROKEN))
			return 0;
		next = occupied ? end_epoch(st, true) : (st & ~(BROKEN | SLEEPERS));
		if (set_broken)
			next |= BROKEN;
		seen = a_cas64(&b->state, st, next);
		if (seen == st)
			break;
		st = seen;
	}
	/* Always: a party that died between its CAS ending an epoch and its
	 * wake left sleepers of that epoch that nobody else would wake. */
	mps_futex_wake(futex_word(b), INT_MAX, MPS_FUTEX_ANY);
	return 0;
}

int mps_barrier_abort(mps_barrier_t *b) { return end_with(b, true); }
int mps_barrier_reset(mps_barrier_t *b) { return end_with(b, false); }

bool mps_barrier_broken(const mps_barrier_t *b)
{
	return a_load64(&b->state) & BROKEN;
}

unsigned mps_barrier_n_waiting(const mps_barrier_t *b)
{
	return count_of(a_load64(&b->state));
}

unsigned mps_barrier_parties(const mps_barrier_t *b)
{
	return b->parties;
}

double mps_barrier_timeout(const mps_barrier_t *b)
{
	return b->timeout;
}
