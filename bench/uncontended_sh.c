/* The uncontended loops of uncontended.c once more, compiled against
 * single_include/mpsync.h as a program that vendors it builds them: the
 * fast paths inlined from that header, the slow paths from a private copy
 * of the implementation in this file (MPSYNC_STATIC: nothing of it meets
 * the libmpsync that the rest of mpsync-bench links). */
#define MPSYNC_STATIC
#define MPSYNC_IMPLEMENTATION
#include "../single_include/mpsync.h"

#include "uncontended_sh.h"

struct sh {
	_Alignas(64) mps_lock_t lock;
	mps_cond_t cond;
	_Alignas(64) mps_rlock_t rlock;
	_Alignas(64) mps_sem_t sem;
	_Alignas(64) mps_event_t ev;
};

_Static_assert(sizeof(struct sh) <= SH_AREA, "SH_AREA holds the objects");

void sh_setup(void *area)
{
	struct sh *u = area;
	mps_lock_init(&u->lock);
	mps_cond_init(&u->cond);
	mps_rlock_init(&u->rlock);
	mps_sem_init(&u->sem, 1);
	mps_event_init(&u->ev);
}

void sh_lock_loop(void *area, long n)
{
	struct sh *u = area;
	for (long i = 0; i < n; i++) {
		mps_lock_acquire(&u->lock, MPS_FOREVER);
		mps_lock_release(&u->lock);
	}
}

void sh_rlock_loop(void *area, long n)
{
	struct sh *u = area;
	for (long i = 0; i < n; i++) {
		mps_rlock_acquire(&u->rlock, MPS_FOREVER);
		mps_rlock_release(&u->rlock);
	}
}

void sh_rlock_nested(void *area, long n)
{
	struct sh *u = area;
	mps_rlock_acquire(&u->rlock, MPS_FOREVER);
	sh_rlock_loop(area, n);
	mps_rlock_release(&u->rlock);
}

void sh_sem_loop(void *area, long n)
{
	struct sh *u = area;
	for (long i = 0; i < n; i++) {
		mps_sem_acquire(&u->sem, MPS_FOREVER);
		mps_sem_release(&u->sem, 1);
	}
}

void sh_is_set_loop(void *area, long n)
{
	struct sh *u = area;
	mps_event_set(&u->ev);
	for (long i = 0; i < n; i++)
		(void)mps_event_is_set(&u->ev);
}

void sh_set_clear_loop(void *area, long n)
{
	struct sh *u = area;
	for (long i = 0; i < n; i++) {
		mps_event_set(&u->ev);
		mps_event_clear(&u->ev);
	}
}

void sh_notify_loop(void *area, long n)
{
	struct sh *u = area;
	mps_lock_acquire(&u->lock, MPS_FOREVER);
	for (long i = 0; i < n; i++)
		mps_cond_notify(&u->cond, 1);
	mps_lock_release(&u->lock);
}

void sh_notify_all_loop(void *area, long n)
{
	struct sh *u = area;
	mps_lock_acquire(&u->lock, MPS_FOREVER);
	for (long i = 0; i < n; i++)
		mps_cond_notify_all(&u->cond);
	mps_lock_release(&u->lock);
}

uint64_t sh_futex_calls(void)
{
	return mps_debug_futex_calls();
}
