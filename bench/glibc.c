/* The glibc side: process-shared pthread objects, the pthread "event", and
 * the lock table that the contended scenario walks. Every object lives in
 * the shared arena and gets PTHREAD_PROCESS_SHARED. */
#include <pthread.h>
#include <semaphore.h>

#include <mpsync.h>
#include <mpsync/debug.h>
#include "bench.h"

uint64_t mps_calls(void)
{
	return mps_debug_futex_calls();
}

void pmutex_init(void *m, bool recursive)
{
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_settype(&at, recursive ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_NORMAL);
	pthread_mutex_init(m, &at);
	pthread_mutexattr_destroy(&at);
}

void pcond_init(void *c)
{
	pthread_condattr_t at;
	pthread_condattr_init(&at);
	pthread_condattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	pthread_cond_init(c, &at);
	pthread_condattr_destroy(&at);
}

/* ---- the lock table ---- */

static void mps_init(void *o) { mps_lock_init(o); }
static void mps_lock(void *o) { mps_lock_acquire(o, MPS_FOREVER); }
static void mps_unlock(void *o) { mps_lock_release(o); }
static void nothing(void *o) { (void)o; }

static void pth_init(void *o) { pmutex_init(o, false); }
static void pth_lock(void *o) { pthread_mutex_lock(o); }
static void pth_unlock(void *o) { pthread_mutex_unlock(o); }
static void pth_destroy(void *o) { pthread_mutex_destroy(o); }

static void f3_init(void *o) { atomic_init((atomic_uint *)o, 0); }
static void f3_lock(void *o) { futex3_lock(o); }
static void f3_unlock(void *o) { futex3_unlock(o); }

static void msem_init(void *o) { mps_sem_init(o, 1); }
static void msem_lock(void *o) { mps_sem_acquire(o, MPS_FOREVER); }
static void msem_unlock(void *o) { mps_sem_release(o, 1); }

static void sem_init1(void *o) { sem_init(o, 1, 1); }
static void sem_lock(void *o) { while (sem_wait(o) != 0) ; }
static void sem_unlock(void *o) { sem_post(o); }
static void sem_fini(void *o) { sem_destroy(o); }

const struct lock_impl lock_mpsync = {
	"mpsync", ROLE_MPS, mps_init, mps_lock, mps_unlock, nothing, mps_calls };
const struct lock_impl lock_pthread = {
	"pthread", ROLE_REF, pth_init, pth_lock, pth_unlock, pth_destroy, NULL };
const struct lock_impl lock_futex3 = {
	"futex3", ROLE_FLOOR, f3_init, f3_lock, f3_unlock, nothing, futex3_calls };
const struct lock_impl lock_sem_mpsync = {
	"mpsync", ROLE_MPS, msem_init, msem_lock, msem_unlock, nothing, mps_calls };
const struct lock_impl lock_sem_t = {
	"sem_t", ROLE_REF, sem_init1, sem_lock, sem_unlock, sem_fini, NULL };

/* ---- the pthread event ---- */

struct pev {
	pthread_mutex_t m;
	pthread_cond_t c;
	atomic_int flag;
};

size_t pev_size(void)
{
	return sizeof(struct pev);
}

void pev_init(struct pev *e)
{
	pmutex_init(&e->m, false);
	pcond_init(&e->c);
	atomic_init(&e->flag, 0);
}

void pev_destroy(struct pev *e)
{
	pthread_cond_destroy(&e->c);
	pthread_mutex_destroy(&e->m);
}

void pev_set(struct pev *e)
{
	pthread_mutex_lock(&e->m);
	atomic_store_explicit(&e->flag, 1, memory_order_relaxed);
	pthread_cond_broadcast(&e->c);
	pthread_mutex_unlock(&e->m);
}

void pev_clear(struct pev *e)
{
	pthread_mutex_lock(&e->m);
	atomic_store_explicit(&e->flag, 0, memory_order_relaxed);
	pthread_mutex_unlock(&e->m);
}

/* Like Python's Event.is_set: no lock, one (acquire) load. */
bool pev_is_set(struct pev *e)
{
	return atomic_load_explicit(&e->flag, memory_order_acquire);
}

void pev_wait(struct pev *e)
{
	pthread_mutex_lock(&e->m);
	while (!atomic_load_explicit(&e->flag, memory_order_relaxed))
		pthread_cond_wait(&e->c, &e->m);
	pthread_mutex_unlock(&e->m);
}
