/* Diagnostics for tests and benchmarks: not needed by ordinary users. */
#ifndef MPSYNC_DEBUG_H
#define MPSYNC_DEBUG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* futex syscalls this thread has made through mpsync since it started. */
uint64_t mps_debug_futex_calls(void);

/* Acquires, in this process, that found the taking thread's held record full
 * (more than 32 locks held at once): such a thread treats every word that
 * holds its tid as its own, so a dead thread's word under a reused tid goes
 * unnoticed by it (docs/design.md §10). */
uint64_t mps_debug_held_overflows(void);

#ifdef __cplusplus
}
#endif

#endif
