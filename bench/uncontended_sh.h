/* The uncontended loops built against the single header (uncontended_sh.c),
 * behind an interface without mpsync's types: that file holds a private
 * copy of mpsync whose type names would meet the library's here. */
#ifndef MPS_BENCH_UNCONTENDED_SH_H
#define MPS_BENCH_UNCONTENDED_SH_H

#include <stdint.h>

/* The objects live in area (SH_AREA bytes, 64-byte aligned, in the shared
 * arena): sh_setup initializes them. */
#define SH_AREA 512

void     sh_setup(void *area);
void     sh_lock_loop(void *area, long n);
void     sh_rlock_loop(void *area, long n);
void     sh_rlock_nested(void *area, long n);
void     sh_sem_loop(void *area, long n);
void     sh_is_set_loop(void *area, long n);
void     sh_set_clear_loop(void *area, long n);
void     sh_notify_loop(void *area, long n);
void     sh_notify_all_loop(void *area, long n);
/* The private copy's own futex call counter (its mps_debug_futex_calls). */
uint64_t sh_futex_calls(void);

#endif
