/* RLock: the Lock word (lock.c) plus a recursion count.
 *
 * Encoding: word as in lock.c; count = depth, written only by the owner while
 * it holds the word, so it needs no atomics: the word's acquire and release
 * order it for the next owner.
 *
 * Re-entry by the owner is a relaxed load, a compare, a look at the top of
 * the held record (owner.h) and an increment. Only the owner may release
 * (the word holds its tid and its held record has the word); the outermost
 * release releases the word. The record is what makes the owner check exact:
 * a thread can find its own tid in a word that a dead thread with the same
 * tid left there; that word is not on its record, so it is not re-entered
 * but taken as from a dead owner (EOWNERDEAD, depth 1). */
#include <errno.h>

#include <mpsync/rlock.h>
#include "deadline.h"
#include "lockword.h"
#include "owner.h"

_Static_assert(sizeof(mps_rlock_t) == 8, "RLock is 8 bytes (ABI)");

void mps_rlock_init(mps_rlock_t *r)
{
	r->count = 0;
	a_store(&r->word, 0);
}

static bool owned_by(const mps_rlock_t *r, uint32_t self)
{
	return (a_load_relaxed(&r->word) & LW_TID_MASK) == self;
}

/* Owned, and taken by this thread (not left by a dead one with our tid). */
static bool mine(const mps_rlock_t *r, uint32_t self)
{
	return owned_by(r, self) && (mps_held_top(&r->word) || mps_held_by_self(&r->word));
}

/* Everything but the two common cases, out of line so that the fast path
 * below needs no stack frame. */
__attribute__((noinline, cold))
static int acquire_slow(mps_rlock_t *r, double timeout)
{
	if (mps_timeout_invalid(timeout))
		return EINVAL;
	uint32_t self = mps_self_tid();
	if (mine(r, self)) {
		if (r->count == UINT32_MAX)
			return EOVERFLOW;
		r->count++;
		return 0;
	}
	int err = 0;
	if (a_cas(&r->word, 0, self) == 0) {
		mps_held_push(&r->word);
	} else {
		/* EOWNERDEAD also when the word holds our tid but a dead thread
		 * put it there. */
		err = mps_lockword_acquire_slow(&r->word, self, timeout, false);
		if (err && err != EOWNERDEAD)
			return err;
	}
	r->count = 1;
	return err;
}

/* The held record is full: the rare path, out of line. */
__attribute__((noinline, cold))
static int first_slow(mps_rlock_t *r)
{
	mps_held_push_slow(&r->word);
	r->count = 1;
	return 0;
}

int mps_rlock_acquire(mps_rlock_t *r, double timeout)
{
	uint32_t self = mps_cached_tid();   /* 0 until this thread's first call */
	if (self && !mps_timeout_invalid(timeout)) {
		if (owned_by(r, self) && mps_held_top(&r->word) && r->count != UINT32_MAX) {
			r->count++;
			return 0;
		}
		if (a_cas(&r->word, 0, self) == 0) {
			if (!mps_held_push_fast(&r->word))
				return first_slow(r);
			r->count = 1;
			return 0;
		}
	}
	return acquire_slow(r, timeout);
}

/* A release whose word is not the most recent on the held record. */
__attribute__((noinline, cold))
static int release_slow(mps_rlock_t *r)
{
	uint32_t self = mps_cached_tid();
	if (!self || !mine(r, self))
		return EPERM;
	if (r->count > 1) {
		r->count--;
		return 0;
	}
	r->count = 0;
	mps_held_pop(&r->word);
	return mps_lockword_release(&r->word);
}

int mps_rlock_release(mps_rlock_t *r)
{
	/* A thread whose tid is not cached yet has acquired nothing. */
	uint32_t self = mps_cached_tid();
	if (!self || !owned_by(r, self) || !mps_held_top(&r->word))
		return release_slow(r);
	if (r->count > 1) {
		r->count--;
		return 0;
	}
	r->count = 0;
	mps_held_pop_top(&r->word);
	return mps_lockword_release(&r->word);
}

bool mps_rlock_locked(const mps_rlock_t *r)
{
	return lw_held(a_load(&r->word));
}

bool mps_rlock_is_owned(const mps_rlock_t *r)
{
	return mine(r, mps_self_tid());
}

unsigned mps_rlock_count(const mps_rlock_t *r)
{
	return mine(r, mps_self_tid()) ? r->count : 0;
}

pid_t mps_rlock_owner(const mps_rlock_t *r)
{
	return (pid_t)lw_owner(a_load(&r->word));
}
