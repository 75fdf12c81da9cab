/* A program that uses mpsync the way an application would: a Lock and a
 * Condition, one thread waking another. Built three ways by run.sh. */
#include <mpsync.h>
#include <pthread.h>
#include <stdio.h>

#ifndef CONSUMER_KIND
#define CONSUMER_KIND "unknown"
#endif

static mps_lock_t lock = MPS_LOCK_INIT;
static mps_cond_t ready_cond = MPS_COND_INIT;
static int ready;   /* under lock */

static void *producer(void *arg)
{
	(void)arg;
	mps_lock_acquire(&lock, MPS_FOREVER);
	ready = 1;
	mps_cond_notify(&ready_cond, 1);
	mps_lock_release(&lock);
	return NULL;
}

static bool is_ready(void *arg)
{
	return *(const int *)arg != 0;
}

int main(void)
{
	pthread_t thread;
	if (mps_lock_acquire(&lock, 5.0) != 0)
		return 1;
	if (pthread_create(&thread, NULL, producer, NULL) != 0)
		return 1;
	int r = mps_cond_wait_for(&ready_cond, &lock, is_ready, &ready, 10.0);
	mps_lock_release(&lock);
	pthread_join(thread, NULL);
	printf("consumer via %s (mpsync %d.%d.%d): %s\n", CONSUMER_KIND, MPSYNC_VERSION_MAJOR,
	       MPSYNC_VERSION_MINOR, MPSYNC_VERSION_PATCH, r == 0 ? "ok" : mps_strerror(r));
	return r == 0 ? 0 : 1;
}
