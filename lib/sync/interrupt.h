/* The interruptible switch: per thread, read by the futex wrapper; and the
 * guard that keeps sliced waits from missing a signal. */
#ifndef MPS_LIB_INTERRUPT_H
#define MPS_LIB_INTERRUPT_H

#include <signal.h>
#include <stdbool.h>

extern _Thread_local bool mps_tls_interruptible __attribute__((tls_model("initial-exec")));

static inline bool mps_interruptible(void)
{
	return mps_tls_interruptible;
}

/* A blocking call runs code outside any syscall before its first sleep and
 * between a wake and the next sleep; a handler that runs there cannot turn
 * the futex wait into EINTR. An interruptible thread blocks signals from the
 * start of a call's slow path and whenever it is out of the futex syscall,
 * and just before each sleep looks for a pending signal that has a handler
 * (installed without SA_RESTART): mps_futex_wait does both. */
struct mps_sigguard {
	sigset_t old;
	bool on;
};

/* No-op unless the thread is interruptible. */
void mps_sigguard_enter(struct mps_sigguard *g);
/* Restores the mask (a pending signal's handler runs now). True when such a
 * handler ran: the caller returns EINTR. */
bool mps_sigguard_leave(struct mps_sigguard *g);

#endif
