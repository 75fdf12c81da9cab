/* mpsync: Python's multiprocessing synchronization primitives in C, for Linux.
 * Conventions shared by every object (SPEC §2). */
#ifndef MPSYNC_COMMON_H
#define MPSYNC_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Block without limit. 0 polls once; a negative timeout acts as 0; NaN is EINVAL. */
#define MPS_FOREVER ((double)INFINITY)

/* Barrier broken: aborted, reset, timed out, or its action failed. Chosen
 * outside the errno range so it never collides with a code the library returns. */
#define MPS_EBROKEN 0x4d505301

/* This thread's interruptible setting (default false): when true, a blocking
 * call during which a signal handler ran returns EINTR instead of resuming.
 * Returns the previous setting. */
bool mps_set_interruptible(bool on);

/* Whether the thread an owner query named (mps_lock_owner, mps_rlock_owner)
 * still runs: false once it has exited or is a zombie. The same test that
 * decides EOWNERDEAD; for tools that show who holds what. */
bool mps_owner_alive(pid_t tid);

/* A name for every code the library returns, MPS_EBROKEN included. */
const char *mps_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
