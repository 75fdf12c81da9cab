/* Lock: one 32-bit word, which RLock and Condition share (lockword.h).
 *
 * Encoding:
 *   0                      free
 *   tid                    held by thread tid, nobody sleeps
 *   tid | WAITERS          held; someone may sleep: release must wake one
 *   ... | HANDOFF_REQUESTED  a waiter has waited over 1 ms: hand over
 *   ... | WATCHED          one sleeper, the watcher, polls the owner for death
 *   HANDOFF (WAITERS|all tid bits)  free, but reserved for a thread that has
 *                          slept on the word; newcomers keep off
 *
 * Who changes what:
 *   acquire  CAS 0 -> tid (fast path), and pushes the word on the thread's
 *            held record (owner.h). A thread that has slept on the word takes
 *            it as tid|WAITERS, since other sleepers may remain (the 3-state
 *            rule of Drepper's mutex3). Before sleeping a waiter CASes WAITERS
 *            (when starving also HANDOFF_REQUESTED; when nobody watches also
 *            WATCHED) into the word and sleeps on exactly that value, so a
 *            release in between makes the futex wait fail with EAGAIN.
 *   release  pops the held record; CAS held -> 0 (EPERM if not held: any
 *            thread may release, as in Python), or -> HANDOFF when a hand-over
 *            was requested; then FUTEX_WAKE(2) if WAITERS was set. Nothing
 *            but that futex call touches the word after the publishing CAS
 *            (destruction safety). A HANDOFF that finds no sleeper stays: the
 *            requester is between two sleeps and takes it when it looks, a
 *            leaving waiter takes it (give_up), and if the requester died the
 *            watcher of the HANDOFF takes it at the end of its first slice.
 *
 * Spinning: a newcomer spins ~1.5 us for the word to become 0, and only while
 * WAITERS is clear; once someone sleeps, newcomers go straight to sleep.
 * Barging is the default (best throughput); a waiter that has waited over
 * 1 ms requests a hand-over, so no waiter starves behind newcomers.
 *
 * Owner death, quietly: only the watcher polls. It sleeps in slices of
 * MPS_WATCH_NS (20 ms); when one ends with the word held, it probes the owner
 * (owner.h: gone, a zombie, or a different thread under the same tid since it
 * started watching) and CASes a dead owner's word to self|WAITERS: that
 * acquirer gets EOWNERDEAD and holds the lock. Every other sleeper sleeps in
 * slices of MPS_BACKSTOP_NS (10 s), which only matter when the watcher died
 * too: then each probes the owner itself. The role is the thread that set
 * WATCHED while the owner field had the value it still has; every change of
 * owner (acquire, release) clears WATCHED, and the next sleeper to look sets
 * it again. A watcher that leaves (it acquired, timed out or was interrupted)
 * clears the bit and wakes one sleeper to take the role on.
 *
 * Tid reuse: a thread that finds its own tid in a word it did not take (not
 * on its held record, nor an alias of an entry) treats the owner as dead: a
 * dead thread left it there and the kernel gave this thread its tid. */
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

/* One acquirer in the slow path. */
struct waiter {
	uint32_t *word;
	uint32_t self;
	bool has_slept;       /* may take a HANDOFF; takes with WAITERS */
	bool starving;        /* requests hand-overs */
	bool watching;        /* set WATCHED while the owner field was 'watched' */
	bool self_mine;       /* a word with our tid was found to be ours */
	uint32_t watched;
	uint32_t probed;      /* the owner whose start time is 'start' */
	uint64_t start;
	int64_t started;
	const struct mps_deadline *deadline;
	struct mps_sigguard guard;
};

/* Spins while the lock is held and nobody sleeps; returns the last word
 * seen, with *taken set when it took the lock. */
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

/* Whether this waiter still holds the watcher role in word value v. */
static bool still_watching(const struct waiter *w, uint32_t v)
{
	return w->watching && (v & LW_WATCHED) && (v & LW_TID_MASK) == w->watched;
}

/* Acquired (r: 0 or EOWNERDEAD): the word goes on the held record. */
static int took(struct waiter *w, int r)
{
	mps_held_push(w->word);
	return r;
}

/* A watcher about to take the word (which clears WATCHED) wakes one sleeper
 * first, to watch the new owner: before the CAS, so that its own death right
 * after the CAS still leaves a thread awake to find it. If the CAS fails the
 * woken sleeper finds WATCHED still set and sleeps again. */
static void hand_on(struct waiter *w)
{
	if (w->watching)
		mps_futex_wake(w->word, 1, MPS_FUTEX_ANY);
}

/* The one CAS that takes the word from v; a watcher hands its role on first. */
static bool cas_take(struct waiter *w, uint32_t v, uint32_t mine)
{
	hand_on(w);
	return a_cas(w->word, v, mine) == v;
}

/* One attempt to take a word that is free or handed over. */
static bool try_take(struct waiter *w, uint32_t v)
{
	if (lw_handoff(v))
		return w->has_slept && cas_take(w, v, w->self | LW_WAITERS);
	if (lw_held(v))
		return false;
	uint32_t mine = w->self | (w->has_slept || (v & LW_WAITERS) ? LW_WAITERS : 0);
	return cas_take(w, v, mine);
}

/* Leaving without the lock: a last attempt (a hand-over may be ours), then
 * withdraw a hand-over request and hand the watcher role on. */
static int give_up(struct waiter *w, int why)
{
	uint32_t v = a_load(w->word), next, seen;
	for (;;) {
		if (try_take(w, v))
			return took(w, 0);
		/* A failed take on a word that changed meanwhile (a newcomer set
		 * WATCHED on a HANDOFF meant for us): look again. */
		seen = a_load(w->word);
		if (seen != v) {
			v = seen;
			continue;
		}
		bool watcher = still_watching(w, v);
		next = v;
		if (w->starving && !lw_handoff(v))
			next &= ~LW_HANDOFF_REQUESTED;
		if (watcher)
			next &= ~LW_WATCHED;
		if (next == v)
			return why;
		seen = a_cas(w->word, v, next);
		if (seen == v)
			break;
		v = seen;
	}
	if (still_watching(w, v))
		hand_on(w);
	return why;
}

/* At the end of a slice: take the lock from a dead owner. */
static bool take_from_dead(struct waiter *w, uint32_t v)
{
	uint32_t owner = lw_owner(v);
	if (owner == 0 || owner == w->self)
		return false;
	if (owner != w->probed) {
		w->probed = owner;
		w->start = 0;
	}
	if (mps_tid_alive_as(owner, &w->start))
		return false;
	return cas_take(w, v, w->self | LW_WAITERS);
}

/* The word holds our own tid. Ours (a Lock re-acquired by its holder waits,
 * as in Python), or a dead thread's whose tid we inherited: then take it. */
static bool take_from_former_self(struct waiter *w, uint32_t v)
{
	if (w->self_mine)
		return false;
	if (mps_held_by_self(w->word)) {
		w->self_mine = true;
		return false;
	}
	return cas_take(w, v, w->self | (v & LW_WAITERS));
}

/* Sets WAITERS (and the request and watcher bits) for a sleep on v; returns
 * the value to sleep on, or 0 when the word changed first. */
static uint32_t announce(struct waiter *w, uint32_t v)
{
	uint32_t want = v | LW_WAITERS;
	if (w->starving && !lw_handoff(v))
		want |= LW_HANDOFF_REQUESTED;
	bool claim = !(v & LW_WATCHED);
	if (claim)
		want |= LW_WATCHED;
	if (want != v && a_cas(w->word, v, want) != v)
		return 0;
	if (claim) {
		w->watching = true;
		w->watched = v & LW_TID_MASK;
	} else if (!still_watching(w, v)) {
		w->watching = false;
	}
	return want;
}

static int sleep_once(struct waiter *w, uint32_t want)
{
	struct mps_deadline slice;
	if (!w->started)
		w->started = mps_monotonic_ns();
	else if (!w->starving && mps_monotonic_ns() - w->started > STARVING_NS)
		w->starving = true;
	mps_deadline_slice(w->deadline, w->watching ? MPS_WATCH_NS : MPS_BACKSTOP_NS, &slice);
	int r = mps_futex_wait(w->word, want, &slice, MPS_FUTEX_ANY, &w->guard);
	w->has_slept = true;
	return r;
}

static int wait_loop(struct waiter *w, uint32_t v)
{
	for (;;) {
		if (try_take(w, v))
			return took(w, 0);
		v = a_load(w->word);
		if (!lw_held(v) || (lw_handoff(v) && w->has_slept))
			continue;
		if (lw_owner(v) == w->self && take_from_former_self(w, v))
			return took(w, EOWNERDEAD);
		if (w->deadline->kind == MPS_DEADLINE_POLL)
			return ETIMEDOUT;
		uint32_t want = announce(w, v);
		if (!want) {
			v = a_load(w->word);
			continue;
		}
		int r = sleep_once(w, want);
		if (r == EINTR)
			return give_up(w, EINTR);
		v = a_load(w->word);
		if (r != ETIMEDOUT)
			continue;
		if (mps_deadline_passed(w->deadline))
			return give_up(w, ETIMEDOUT);
		if (take_from_dead(w, v))
			return took(w, EOWNERDEAD);
		v = a_load(w->word);
	}
}

int mps_lockword_acquire_slow(uint32_t *word, uint32_t self, double timeout, bool has_slept)
{
	struct mps_deadline deadline;
	struct waiter w = { .word = word, .self = self, .has_slept = has_slept,
	                    .deadline = &deadline };
	bool taken = false;
	int err;

	mps_sigguard_enter(&w.guard);
	mps_deadline_init(&deadline, timeout);
	uint32_t v = a_load(word);
	if (!has_slept && deadline.kind != MPS_DEADLINE_POLL)
		v = spin_for_free(word, self, &taken);
	err = taken ? took(&w, 0) : wait_loop(&w, v);
	mps_sigguard_leave(&w.guard);
	return err;
}

int mps_lockword_release(uint32_t *word)
{
	uint32_t v = a_load_relaxed(word), seen, next;
	for (;;) {
		if (!lw_held(v) || lw_handoff(v))
			return EPERM;
		next = (v & LW_HANDOFF_REQUESTED) ? LW_HANDOFF : 0;
		seen = a_cas(word, v, next);
		if (seen == v)
			break;
		v = seen;
	}
	/* Two: one takes the lock, the other finds it taken and watches the
	 * new owner; and if one of them dies on its way out of the kernel, the
	 * other still does the first job. */
	if (v & LW_WAITERS)
		mps_futex_wake(word, 2, MPS_FUTEX_ANY);
	return 0;
}

bool mps_lockword_mine(const uint32_t *word)
{
	uint32_t self = mps_self_tid();
	return lw_owner(a_load(word)) == self && mps_held_by_self(word);
}

void mps_lock_init(mps_lock_t *l)
{
	a_store(&l->word, 0);
}

/* The inline fast paths are in <mpsync/lock.h>; these take every other case,
 * the thread's first call included (no tid cached yet). */
int mps_lock_acquire_slow(mps_lock_t *l, double timeout)
{
	if (mps_timeout_invalid(timeout))
		return EINVAL;
	uint32_t self = mps_self_tid();
	if (a_cas(&l->word, 0, self) == 0) {
		mps_held_push(&l->word);
		return 0;
	}
	return mps_lockword_acquire_slow(&l->word, self, timeout, false);
}

int mps_lock_release_slow(mps_lock_t *l)
{
	mps_held_pop(&l->word);
	return mps_lockword_release(&l->word);
}

bool mps_lock_locked(const mps_lock_t *l)
{
	return lw_held(a_load(&l->word));
}

bool mps_lock_is_mine(const mps_lock_t *l)
{
	return mps_lockword_mine(&l->word);
}

pid_t mps_lock_owner(const mps_lock_t *l)
{
	return (pid_t)lw_owner(a_load(&l->word));
}
