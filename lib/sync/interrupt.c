/* Python's Ctrl-C behaviour on demand: a thread that sets this gets EINTR
 * from a blocking call during which a signal handler ran (one installed
 * without SA_RESTART, as Python installs its handlers). Everyone else
 * resumes with the same deadline, like pthread. */
#include <errno.h>

#include <mpsync/common.h>
#include "interrupt.h"

_Thread_local bool mps_tls_interruptible __attribute__((tls_model("initial-exec")));

bool mps_set_interruptible(bool on)
{
	bool was = mps_tls_interruptible;
	mps_tls_interruptible = on;
	return was;
}

void mps_sigguard_enter(struct mps_sigguard *g)
{
	if (g->on || !mps_interruptible())
		return;
	sigset_t all;
	sigfillset(&all);
	g->on = pthread_sigmask(SIG_BLOCK, &all, &g->old) == 0;
}

/* A pending signal that was not blocked before and whose handler would have
 * interrupted a syscall. */
static bool interrupting(int sig, const sigset_t *pending, const sigset_t *old)
{
	struct sigaction sa;
	if (!sigismember(pending, sig) || sigismember(old, sig) || sigaction(sig, NULL, &sa) != 0)
		return false;
	if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
		return false;
	return !(sa.sa_flags & SA_RESTART);
}

bool mps_sigguard_leave(struct mps_sigguard *g)
{
	if (!g->on)
		return false;
	int saved = errno;
	sigset_t pending;
	bool hit = false;
	if (sigpending(&pending) == 0) {
		for (int sig = 1; sig < NSIG && !hit; sig++)
			hit = interrupting(sig, &pending, &g->old);
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
	g->on = false;
	errno = saved;
	return hit;
}
