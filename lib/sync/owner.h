/* The one owner-tid helper: the calling thread's kernel tid, cached per
 * thread and refreshed in a forked child; and a liveness probe for tids
 * found in lock words. */
#ifndef MPS_LIB_OWNER_H
#define MPS_LIB_OWNER_H

#include <stdbool.h>
#include <stdint.h>

extern _Thread_local uint32_t mps_tls_tid __attribute__((tls_model("initial-exec")));

uint32_t mps_self_tid_slow(void);

static inline uint32_t mps_self_tid(void)
{
	uint32_t tid = mps_tls_tid;
	return tid ? tid : mps_self_tid_slow();
}

/* False when the thread is gone or a zombie. True when alive or unknown
 * (no /proc), so a doubtful owner is never robbed. */
bool mps_tid_alive(uint32_t tid);

/* Start time (clock ticks since boot) of process pid; 0 when gone or a zombie. */
uint64_t mps_process_start(int pid);

#endif
