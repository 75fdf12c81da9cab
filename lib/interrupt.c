/* Python's Ctrl-C behaviour on demand: a thread that sets this gets EINTR
 * from a blocking call during which a signal handler ran (one installed
 * without SA_RESTART, as Python installs its handlers). Everyone else
 * resumes with the same deadline, like pthread. */
#include <mpsync/common.h>
#include "interrupt.h"

_Thread_local bool mps_tls_interruptible __attribute__((tls_model("initial-exec")));

bool mps_set_interruptible(bool on)
{
	bool was = mps_tls_interruptible;
	mps_tls_interruptible = on;
	return was;
}
