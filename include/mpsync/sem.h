/* Semaphore and BoundedSemaphore: Python's multiprocessing.Semaphore and
 * BoundedSemaphore, one type. 16 bytes; needs mps_sem_init or
 * mps_sem_init_bounded. */
#ifndef MPSYNC_SEM_H
#define MPSYNC_SEM_H

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
int      mps_sem_acquire(mps_sem_t *s, double timeout);       /* 0 ETIMEDOUT EINTR EINVAL */
int      mps_sem_release(mps_sem_t *s, unsigned n);           /* 0 EINVAL(n==0) EOVERFLOW */
unsigned mps_sem_value(const mps_sem_t *s);
bool     mps_sem_is_bounded(const mps_sem_t *s);
unsigned mps_sem_bound(const mps_sem_t *s);                   /* initial value of a bounded one; 0 otherwise */

#ifdef __cplusplus
}
#endif

#endif
