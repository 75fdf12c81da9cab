/* RLock: Python's multiprocessing.RLock. Recursive; only the owning thread
 * may release. 8 bytes; all-zero bytes are an unlocked RLock. */
#ifndef MPSYNC_RLOCK_H
#define MPSYNC_RLOCK_H

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
int      mps_rlock_acquire(mps_rlock_t *r, double timeout); /* 0 ETIMEDOUT EOWNERDEAD EINTR EINVAL EOVERFLOW */
int      mps_rlock_release(mps_rlock_t *r);                 /* 0 EPERM */
bool     mps_rlock_locked(const mps_rlock_t *r);
bool     mps_rlock_is_owned(const mps_rlock_t *r);          /* by the calling thread */
unsigned mps_rlock_count(const mps_rlock_t *r);             /* caller's depth; 0 for non-owners */
pid_t    mps_rlock_owner(const mps_rlock_t *r);

#ifdef __cplusplus
}
#endif

#endif
