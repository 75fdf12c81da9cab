/* Lock: Python's multiprocessing.Lock. Non-recursive; any thread or process
 * may release it. 4 bytes; all-zero bytes are an unlocked Lock. */
#ifndef MPSYNC_LOCK_H
#define MPSYNC_LOCK_H

#include "abi.h"
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mps_lock {
	uint32_t word;        /* owner tid and flag bits: docs/design.md */
} mps_lock_t;

#define MPS_LOCK_INIT {0}

void  mps_lock_init(mps_lock_t *l);
/*    mps_lock_acquire(l, timeout)   0 ETIMEDOUT EOWNERDEAD EINTR EINVAL (inline, below)
 *    mps_lock_release(l)            0 EPERM (not locked)                (inline, below) */
bool  mps_lock_locked(const mps_lock_t *l);
pid_t mps_lock_owner(const mps_lock_t *l);             /* tid of the holder, 0 when free */
/* Whether the calling thread took the lock and holds it: its tid is in the
 * word AND it put it there (not a dead thread whose tid it was given later). */
bool  mps_lock_is_mine(const mps_lock_t *l);

/* Everything but the uncontended case, out of line. */
int   mps_lock_acquire_slow(mps_lock_t *l, double timeout);
int   mps_lock_release_slow(mps_lock_t *l);

/* Uncontended: one CAS 0 -> tid and a push on the held record. The tid is
 * known from the thread's first call on. */
MPS_INLINE int mps_lock_acquire(mps_lock_t *l, double timeout)
{
	uint32_t self = mps_fp_tid(), n = mps_tls_held.n;
	if (self && n < MPS_HELD_MAX && mps_fp_timeout_ok(timeout) && mps_fp_cas(&l->word, 0, self)) {
		mps_tls_held.at[n] = &l->word;
		mps_tls_held.n = n + 1;
		return 0;
	}
	return mps_lock_acquire_slow(l, timeout);
}

/* Uncontended: the word is the last one this thread took and holds its tid
 * with no flag (nobody waits, no hand-over): one CAS tid -> 0, and a pop.
 * A non-empty record implies a cached tid. */
MPS_INLINE int mps_lock_release(mps_lock_t *l)
{
	uint32_t n = mps_tls_held.n;
	if (n && mps_tls_held.at[n - 1] == &l->word && mps_fp_cas(&l->word, mps_tls_held.tid, 0)) {
		mps_tls_held.n = n - 1;
		return 0;
	}
	return mps_lock_release_slow(l);
}

#ifdef __cplusplus
}
#endif

#endif
