/* Lock: Python's multiprocessing.Lock. Non-recursive; any thread or process
 * may release it. 4 bytes; all-zero bytes are an unlocked Lock. */
#ifndef MPSYNC_LOCK_H
#define MPSYNC_LOCK_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mps_lock {
	uint32_t word;        /* owner tid and flag bits: docs/design.md */
} mps_lock_t;

#define MPS_LOCK_INIT {0}

void  mps_lock_init(mps_lock_t *l);
int   mps_lock_acquire(mps_lock_t *l, double timeout); /* 0 ETIMEDOUT EOWNERDEAD EINTR EINVAL */
int   mps_lock_release(mps_lock_t *l);                 /* 0 EPERM (not locked) */
bool  mps_lock_locked(const mps_lock_t *l);
pid_t mps_lock_owner(const mps_lock_t *l);             /* tid of the holder, 0 when free */
/* Whether the calling thread took the lock and holds it: its tid is in the
 * word AND it put it there (not a dead thread whose tid it was given later). */
bool  mps_lock_is_mine(const mps_lock_t *l);

#ifdef __cplusplus
}
#endif

#endif
