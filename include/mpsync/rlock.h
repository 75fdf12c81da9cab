/* RLock: Python's multiprocessing.RLock. Recursive; only the owning thread
 * may release. 8 bytes; all-zero bytes are an unlocked RLock. */
#ifndef MPSYNC_RLOCK_H
#define MPSYNC_RLOCK_H

#include "abi.h"
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mps_rlock {
	uint32_t word;        /* same encoding as mps_lock_t.word */
	uint32_t count;       /* recursion depth, touched only by the owner */
} mps_rlock_t;

#define MPS_RLOCK_INIT {0, 0}

void     mps_rlock_init(mps_rlock_t *r);
/*       mps_rlock_acquire(r, timeout)  0 ETIMEDOUT EOWNERDEAD EINTR EINVAL EOVERFLOW (inline, below)
 *       mps_rlock_release(r)           0 EPERM                                      (inline, below) */
bool     mps_rlock_locked(const mps_rlock_t *r);
bool     mps_rlock_is_owned(const mps_rlock_t *r);          /* by the calling thread */
unsigned mps_rlock_count(const mps_rlock_t *r);             /* caller's depth; 0 for non-owners */
pid_t    mps_rlock_owner(const mps_rlock_t *r);

/* Everything but the uncontended cases, out of line. */
int      mps_rlock_acquire_slow(mps_rlock_t *r, double timeout);
int      mps_rlock_release_slow(mps_rlock_t *r);

/* The word is the last one this thread took (n: the held record's length)
 * and holds its tid: ours. A word with our tid that is not on the record was
 * left by a dead thread; a record inherited from a parent process does not
 * count (the fork stamp). A non-empty record implies a cached tid. */
static inline bool mps_fp_rlock_mine(const mps_rlock_t *r, uint32_t n)
{
	return n && mps_tls_held.at[n - 1] == &r->word && mps_fp_stamp()
	    && (mps_fp_load_relaxed(&r->word) & MPS_LW_TID_MASK) == mps_tls_held.tid;
}

/* Uncontended: a re-entry is an increment of count; a first acquire one
 * CAS 0 -> tid and a push on the held record. */
MPS_INLINE int mps_rlock_acquire(mps_rlock_t *r, double timeout)
{
	uint32_t n = mps_tls_held.n;
	if (mps_fp_timeout_ok(timeout)) {
		if (mps_fp_rlock_mine(r, n) && r->count != UINT32_MAX) {
			r->count++;
			return 0;
		}
		uint32_t self = mps_fp_tid();
		if (self && n < MPS_HELD_MAX && mps_fp_cas(&r->word, 0, self)) {
			mps_tls_held.at[n] = &r->word;
			mps_tls_held.n = n + 1;
			r->count = 1;
			return 0;
		}
	}
	return mps_rlock_acquire_slow(r, timeout);
}

/* Uncontended: an inner release is a decrement; the outermost one CAS
 * tid -> 0 when no flag is set (nobody waits), and a pop. */
MPS_INLINE int mps_rlock_release(mps_rlock_t *r)
{
	uint32_t n = mps_tls_held.n;
	if (mps_fp_rlock_mine(r, n)) {
		uint32_t count = r->count;
		if (count > 1) {
			r->count = count - 1;
			return 0;
		}
		/* count is the owner's own field: cleared while the word is still held. */
		r->count = 0;
		if (mps_fp_cas(&r->word, mps_tls_held.tid, 0)) {
			mps_tls_held.n = n - 1;
			return 0;
		}
	}
	return mps_rlock_release_slow(r);
}

#ifdef __cplusplus
}
#endif

#endif
