/* Lock: one 32-bit word, which RLock and Condition share (lockword.h).
 *
 * Encoding:
 *   0                      free
 *   tid                    held by thread tid, nobody sleeps
 *   tid | WAITERS          held; someone may sleep: release must wake one
 *   ... | HANDOFF_REQUESTED  a waiter has waited over 1 ms: hand over
 *   HANDOFF (WAITERS|all tid bits)  free, but reserved for a thread that has
 *                          slept on the word; newcomers keep off
 *
 * Who changes what:
 *   acquire  CAS 0 -> tid (fast path). A thread that has slept on the word
 *            takes it as tid|WAITERS, since other sleepers may remain (the
 *            3-state rule of Drepper's mutex3). Before sleeping a waiter CASes
 *            WAITERS (and, when starving, HANDOFF_REQUESTED) into the word and
 *            sleeps on exactly that value, so a release in between makes the
 *            futex wait fail with EAGAIN instead of sleeping through it.
 *   release  CAS held -> 0 (EPERM if not held: any thread may release, as in
 *            Python), or -> HANDOFF when a hand-over was requested; then one
 *            FUTEX_WAKE if WAITERS was set. Only the futex call touches the
 *            word after the publishing CAS (destruction safety), except when a
 *            HANDOFF finds no sleeper: nobody can own the lock then, and the
 *            releaser turns HANDOFF back into 0 and wakes once more for anyone
 *            who slept on HANDOFF in between.
 *
 * Spinning: a newcomer spins ~1.5 us for the word to become 0, and only while
 * WAITERS is clear; once someone sleeps, newcomers go straight to sleep.
 * Barging is the default (best throughput); a waiter that has waited over
 * 1 ms requests a hand-over, so no waiter starves behind newcomers. The
 * kernel wakes sleepers of one word oldest first, so the oldest gets it.
 *
 * Owner death: sleepers sleep in slices of MPS_SLICE_NS. When a slice ends
 * with the lock still held, the owner tid is probed (/proc; zombies count as
 * dead) and a dead owner's word is CASed to self|WAITERS: that acquirer
 * gets EOWNERDEAD and holds the lock. A HANDOFF whose designated sleeper
 * died is claimed by the next sleeper whose slice ends. The fast path pays
 * nothing for either. */
#include <errno.h>

#include <mpsync/lock.h>
#include "deadline.h"
#include "futex.h"
#include "interrupt.h"
#include "lockword.h"
#include "owner.h"
#include "spin.h"

#define STARVING_NS     (1000000LL)

_Static_assert(sizeof(mps_lock_t) == 4, "Lock is 4 bytes (ABI)");

/* Spins while the lock is held and nobody sleeps; returns 0 if it took the
 * lock, else the last word seen. */
static uint32_t spin_for_free(uint32_t *word, uint32_t self, bool *taken)
{
	struct mps_spin spin;
	uint32_t v = a_load_relaxed(word);
	*taken = false;
	if (!mps_spin_begin(&spin))
		return v;
	do {
		v = a_load_relaxed(word);
		if (v == 0) {
			v = a_cas(word, 0, self);
			if (v == 0) {
				*taken = true;
				return 0;
			}
		}
		if (v & LW_WAITERS)
			break;
	} while (mps_spin_more(&spin));
	return v;
}

/* One attempt to take a word that is free or handed over. */
static bool try_take(uint32_t *word, uint32_t v, uint32_t self, bool has_slept)
{
	if (v == LW_HANDOFF)
		return has_slept && a_cas(word, v, self | LW_WAITERS) == v;
	if (lw_held(v))
		return false;
	uint32_t mine = self | (has_slept || (v & LW_WAITERS) ? LW_WAITERS : 0);
	return a_cas(word, v, mine) == v;
}

/* A waiter giving up withdraws its hand-over request, so the next release
 * is a plain one. Another starving waiter sets it again when it next sleeps. */
static void withdraw_request(uint32_t *word)
{
	uint32_t v = a_load(word), seen;
	while ((v & LW_HANDOFF_REQUESTED) && v != LW_HANDOFF) {
		seen = a_cas(word, v, v & ~LW_HANDOFF_REQUESTED);
		if (seen == v)
			return;
		v = seen;
	}
}

/* Leaving without the lock: a last attempt, then withdraw. */
static int give_up(uint32_t *word, uint32_t self, bool starving, int why)
{
	if (try_take(word, a_load(word), self, true))
		return 0;
	if (starving)
		withdraw_request(word);
	return why;
}

/* At the end of a sleep slice: take the lock from a dead owner. */
static bool take_from_dead(uint32_t *word, uint32_t v, uint32_t self)
{
	uint32_t owner = lw_owner(v);
	if (owner == 0 || owner == self || mps_tid_alive(owner))
		return false;
	return a_cas(word, v, self | LW_WAITERS) == v;
}

static int wait_loop(uint32_t *word, uint32_t self, uint32_t v, bool has_slept,
                     const struct mps_deadline *deadline, struct mps_sigguard *guard);

int mps_lockword_acquire_slow(uint32_t *word, uint32_t self, double timeout, bool has_slept)
{
	struct mps_deadline deadline;
	struct mps_sigguard guard = { .on = false };
	bool taken;

	mps_deadline_init(&deadline, timeout);
	uint32_t v = a_load(word);
	if (!has_slept && deadline.kind != MPS_DEADLINE_POLL) {
		v = spin_for_free(word, self, &taken);
		if (taken)
			return 0;
	}
	int err = wait_loop(word, self, v, has_slept, &deadline, &guard);
	mps_sigguard_leave(&guard);
	return err;
}

static int wait_loop(uint32_t *word, uint32_t self, uint32_t v, bool has_slept,
                     const struct mps_deadline *deadline, struct mps_sigguard *guard)
{
	struct mps_deadline slice;
	bool starving = false;
	int64_t started = 0;
	for (;;) {
		if (try_take(word, v, self, has_slept))
			return 0;
		v = a_load(word);
		if (!lw_held(v) || (v == LW_HANDOFF && has_slept))
			continue;
		if (deadline->kind == MPS_DEADLINE_POLL)
			return ETIMEDOUT;
		uint32_t want = v | LW_WAITERS;
		if (starving && v != LW_HANDOFF)
			want |= LW_HANDOFF_REQUESTED;
		if (want != v && a_cas(word, v, want) != v) {
			v = a_load(word);
			continue;
		}
		if (!started)
			started = mps_monotonic_ns();
		if (mps_sigguard_leave(guard))
			return give_up(word, self, starving, EINTR);
		mps_deadline_slice(deadline, MPS_SLICE_NS, &slice);
		int r = mps_futex_wait(word, want, &slice, MPS_FUTEX_ANY);
		has_slept = true;
		if (r == EINTR)
			return give_up(word, self, starving, EINTR);
		v = a_load(word);
		if (r == ETIMEDOUT) {
			if (mps_deadline_passed(deadline))
				return give_up(word, self, starving, ETIMEDOUT);
			mps_sigguard_enter(guard);
			if (take_from_dead(word, v, self))
				return EOWNERDEAD;
		}
		if (!starving && mps_monotonic_ns() - started > STARVING_NS)
			starving = true;
	}
}

/* A hand-over found no sleeper: turn HANDOFF back into free. */
static void cancel_handoff(uint32_t *word)
{
	if (a_cas(word, LW_HANDOFF, 0) == LW_HANDOFF)
		mps_futex_wake(word, 1, MPS_FUTEX_ANY);
}

int mps_lockword_release(uint32_t *word)
{
	uint32_t v = a_load_relaxed(word), seen, next;
	for (;;) {
		if (!lw_held(v) || v == LW_HANDOFF)
			return EPERM;
		next = (v & LW_HANDOFF_REQUESTED) ? LW_HANDOFF : 0;
		seen = a_cas(word, v, next);
		if (seen == v)
			break;
		v = seen;
	}
	if (next == LW_HANDOFF) {
		if (mps_futex_wake(word, 1, MPS_FUTEX_ANY) == 0)
			cancel_handoff(word);
	} else if (v & LW_WAITERS) {
		mps_futex_wake(word, 1, MPS_FUTEX_ANY);
	}
	return 0;
}

void mps_lock_init(mps_lock_t *l)
{
	a_store(&l->word, 0);
}

/* Out of line, so that the fast path below needs no stack frame. */
__attribute__((noinline, cold))
static int acquire_slow(mps_lock_t *l, double timeout)
{
	if (mps_timeout_invalid(timeout))
		return EINVAL;
	uint32_t self = mps_self_tid();
	if (a_cas(&l->word, 0, self) == 0)
		return 0;
	return mps_lockword_acquire_slow(&l->word, self, timeout, false);
}

int mps_lock_acquire(mps_lock_t *l, double timeout)
{
	uint32_t self = mps_tls_tid;   /* 0 until this thread's first call */
	if (self && !mps_timeout_invalid(timeout) && a_cas(&l->word, 0, self) == 0)
		return 0;
	return acquire_slow(l, timeout);
}

int mps_lock_release(mps_lock_t *l)
{
	return mps_lockword_release(&l->word);
}

bool mps_lock_locked(const mps_lock_t *l)
{
	return lw_held(a_load(&l->word));
}

pid_t mps_lock_owner(const mps_lock_t *l)
{
	return (pid_t)lw_owner(a_load(&l->word));
}
