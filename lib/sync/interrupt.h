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

/* Sliced waits (Lock, Condition, Semaphore) wake every few ms and run code
 * outside any syscall before they sleep again; a handler that runs there
 * cannot turn the futex wait into EINTR. An interruptible thread blocks
 * signals over that stretch and, before it sleeps again, looks for a pending
 * signal that has a handler (installed without SA_RESTART). */
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
