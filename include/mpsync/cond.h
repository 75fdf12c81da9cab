/* Condition: Python's multiprocessing.Condition. Waits with a Lock or an
 * RLock; C11 _Generic picks the function. 16 bytes; all-zero bytes are a
 * valid Condition.
 *
 * As in Python, wait and notify are called with the lock held. notify(n)
 * wakes exactly min(n, waiters) of the threads waiting at that moment;
 * notify_all moves the waiters onto the lock word instead of waking them
 * into a held lock. */
#ifndef MPSYNC_COND_H
#define MPSYNC_COND_H

#include "abi.h"
#include "common.h"
#include "lock.h"
#include "rlock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mps_cond {
	uint64_t groups;      /* waiter groups and counts: docs/design.md */
	uint32_t seq;         /* futex word, bumped by every notify that wakes */
	int32_t  lock_offset; /* lock word minus this object, for notify_all's requeue */
} mps_cond_t;

#define MPS_COND_INIT {0, 0, 0}

typedef bool (*mps_predicate_fn)(void *arg);

void mps_cond_init(mps_cond_t *c);
int  mps_cond_wait_lock(mps_cond_t *c, mps_lock_t *lock, double timeout);
int  mps_cond_wait_rlock(mps_cond_t *c, mps_rlock_t *lock, double timeout);
int  mps_cond_wait_for_lock(mps_cond_t *c, mps_lock_t *lock,
                            mps_predicate_fn pred, void *arg, double timeout);
int  mps_cond_wait_for_rlock(mps_cond_t *c, mps_rlock_t *lock,
                             mps_predicate_fn pred, void *arg, double timeout);
/*   mps_cond_notify(c, n)      0; n == 0 is a no-op     (inline, below)
 *   mps_cond_notify_all(c)     0                        (inline, below) */
unsigned mps_cond_n_waiting(const mps_cond_t *c); /* waiters not yet notified */

/* A notify that finds waiters, out of line. */
int  mps_cond_notify_slow(mps_cond_t *c, unsigned n);
int  mps_cond_notify_all_slow(mps_cond_t *c);

/* Nobody waiting (no G1 member left unchosen, nobody in G2): one load. */
MPS_INLINE int mps_cond_notify(mps_cond_t *c, unsigned n)
{
	if (n == 0 || !(mps_fp_load64(&c->groups) & MPS_COND_WAITING))
		return 0;
	return mps_cond_notify_slow(c, n);
}

MPS_INLINE int mps_cond_notify_all(mps_cond_t *c)
{
	if (!(mps_fp_load64(&c->groups) & MPS_COND_WAITING))
		return 0;
	return mps_cond_notify_all_slow(c);
}

#ifndef __cplusplus
/* 0 ETIMEDOUT EPERM EOWNERDEAD EINTR EINVAL EOVERFLOW */
#define mps_cond_wait(c, lock, timeout) _Generic((lock), \
	mps_lock_t *: mps_cond_wait_lock, \
	mps_rlock_t *: mps_cond_wait_rlock)((c), (lock), (timeout))
/* 0 when pred held, ETIMEDOUT when it did not; other codes as mps_cond_wait */
#define mps_cond_wait_for(c, lock, pred, arg, timeout) _Generic((lock), \
	mps_lock_t *: mps_cond_wait_for_lock, \
	mps_rlock_t *: mps_cond_wait_for_rlock)((c), (lock), (pred), (arg), (timeout))
#endif

#ifdef __cplusplus
}
#endif

#endif
