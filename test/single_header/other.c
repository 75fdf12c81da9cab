/* A second file of the app: it includes the header without the
 * implementation and calls the one copy that app.c holds. */
#include <errno.h>

#include "mpsync.h"

int other_lock_roundtrip(void);

int other_lock_roundtrip(void)
{
	mps_lock_t l = MPS_LOCK_INIT;
	int r = mps_lock_acquire(&l, 0);
	if (r != 0)
		return r;
	if (!mps_lock_locked(&l) || mps_lock_acquire(&l, 0) != ETIMEDOUT)
		return -3;
	return mps_lock_release(&l);
}
