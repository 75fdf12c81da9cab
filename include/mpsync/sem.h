/* Semaphore and BoundedSemaphore: Python's multiprocessing.Semaphore and
 * BoundedSemaphore, one type. 16 bytes; needs mps_sem_init or
 * mps_sem_init_bounded. */
#ifndef MPSYNC_SEM_H
#define MPSYNC_SEM_H

#include "abi.h"
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mps_sem {
	uint64_t state;       /* value (low half, the futex word) | waiters << 32 */
	uint32_t bound;       /* largest value a bounded semaphore may reach */
	uint32_t flags;
} mps_sem_t;

/* The largest value any semaphore may hold. */
#define MPS_SEM_VALUE_MAX 0x7fffffffu

int      mps_sem_init(mps_sem_t *s, unsigned value);          /* 0 EINVAL (value > MPS_SEM_VALUE_MAX) */
int      mps_sem_init_bounded(mps_sem_t *s, unsigned value);
/*       mps_sem_acquire(s, timeout)   0 ETIMEDOUT EINTR EINVAL    (inline, below)
 *       mps_sem_release(s, n)         0 EINVAL(n==0) EOVERFLOW    (inline, below) */
unsigned mps_sem_value(const mps_sem_t *s);
bool     mps_sem_is_bounded(const mps_sem_t *s);
unsigned mps_sem_bound(const mps_sem_t *s);                   /* initial value of a bounded one; 0 otherwise */

/* Everything but the uncontended cases, out of line. */
int      mps_sem_acquire_slow(mps_sem_t *s, double timeout);
int      mps_sem_release_slow(mps_sem_t *s, unsigned n);

/* Uncontended: a permit is there; one CAS value -> value-1. */
MPS_INLINE int mps_sem_acquire(mps_sem_t *s, double timeout)
{
	uint64_t st = mps_fp_load64(&s->state);
	if ((uint32_t)st > 0 && mps_fp_timeout_ok(timeout) && mps_fp_cas64(&s->state, st, st - 1))
		return 0;
	return mps_sem_acquire_slow(s, timeout);
}

/* Uncontended: nobody waits (state's high half) and the bound has room; one
 * CAS value -> value+n. */
MPS_INLINE int mps_sem_release(mps_sem_t *s, unsigned n)
{
	uint64_t st = mps_fp_load64(&s->state);
	uint32_t bound = s->bound;
	if ((st >> 32) == 0 && n && n <= bound && (uint32_t)st <= bound - n
	    && mps_fp_cas64(&s->state, st, st + n))
		return 0;
	return mps_sem_release_slow(s, n);
}

#ifdef __cplusplus
}
#endif

#endif
