/* Calls the exported copies of the public headers' inline functions with
 * declarations of its own, as dlsym or another language's FFI sees them:
 * this file does not include <mpsync.h>, whose definitions of the same names
 * are static inline. The objects are opaque bytes here. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include "outline.h"

int  mps_lock_acquire(void *l, double timeout);
int  mps_lock_release(void *l);
int  mps_rlock_acquire(void *r, double timeout);
int  mps_rlock_release(void *r);
int  mps_sem_acquire(void *s, double timeout);
int  mps_sem_release(void *s, unsigned n);
void mps_event_set(void *e);
void mps_event_clear(void *e);
bool mps_event_is_set(const void *e);
int  mps_cond_notify(void *c, unsigned n);
int  mps_cond_notify_all(void *c);

static int lock_steps(void *lock, void *cond)
{
	if (mps_lock_acquire(lock, INFINITY) != 0 || mps_lock_acquire(lock, 0) != ETIMEDOUT)
		return 71;
	if (mps_cond_notify(cond, 1) != 0 || mps_cond_notify_all(cond) != 0)
		return 72;
	if (mps_lock_release(lock) != 0 || mps_lock_release(lock) != EPERM)
		return 73;
	return 0;
}

static int rlock_steps(void *rlock)
{
	if (mps_rlock_acquire(rlock, INFINITY) != 0 || mps_rlock_acquire(rlock, 5.0) != 0)
		return 74;
	if (mps_rlock_release(rlock) != 0 || mps_rlock_release(rlock) != 0 ||
	    mps_rlock_release(rlock) != EPERM)
		return 75;
	return 0;
}

static int sem_steps(void *sem)
{
	if (mps_sem_acquire(sem, 0) != 0 || mps_sem_acquire(sem, 0) != ETIMEDOUT)
		return 76;
	return mps_sem_release(sem, 1) != 0 || mps_sem_release(sem, 0) != EINVAL ? 77 : 0;
}

static int event_steps(void *event)
{
	mps_event_set(event);
	mps_event_set(event);
	if (!mps_event_is_set(event))
		return 78;
	mps_event_clear(event);
	return mps_event_is_set(event) ? 79 : 0;
}

int outline_ops(void *lock, void *rlock, void *sem, void *event, void *cond)
{
	for (int i = 0; i < 100; i++) {
		int r = lock_steps(lock, cond);
		r = r ? r : rlock_steps(rlock);
		r = r ? r : sem_steps(sem);
		r = r ? r : event_steps(event);
		if (r)
			return r;
	}
	return 0;
}
