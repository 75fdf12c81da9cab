/* Diagnostics for tests and benchmarks: not needed by ordinary users. */
#ifndef MPSYNC_DEBUG_H
#define MPSYNC_DEBUG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* futex syscalls this thread has made through mpsync since it started. */
uint64_t mps_debug_futex_calls(void);

#ifdef __cplusplus
}
#endif

#endif
