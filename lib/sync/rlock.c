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

/* The inline fast paths are in <mpsync/rlock.h>; these take every other
 * case, the thread's first call included (no tid cached yet). */
int mps_rlock_acquire_slow(mps_rlock_t *r, double timeout)
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

/* Also the outermost release whose fast CAS failed (a waiter set a flag):
 * the fast path has already set count to 0 then, and the word is still ours. */
int mps_rlock_release_slow(mps_rlock_t *r)
{
	uint32_t self = mps_fp_tid();
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
