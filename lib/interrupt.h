/* The interruptible switch: per thread, read by the futex wrapper. */
#ifndef MPS_LIB_INTERRUPT_H
#define MPS_LIB_INTERRUPT_H

#include <stdbool.h>

extern _Thread_local bool mps_tls_interruptible __attribute__((tls_model("initial-exec")));

static inline bool mps_interruptible(void)
{
	return mps_tls_interruptible;
}

#endif
