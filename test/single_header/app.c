/* A program that vendors single_include/mpsync.h the stb way: this file holds
 * the implementation, other.c only includes the header. run.sh compiles it
 * with nothing but "cc -std=c11 -O2 app.c other.c -pthread -lm" (and
 * -Wall -Wextra -Wpedantic -Werror), and once more alone with MPSYNC_STATIC
 * (APP_ALONE: other.c cannot call a private copy).
 *
 * It uses both layers: a Lock and a Condition between two threads, then a
 * segment with a dict and an Event shared with a forked child. */
#define MPSYNC_IMPLEMENTATION
#include "mpsync.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef APP_ALONE
int other_lock_roundtrip(void);
#endif

static mps_lock_t lock = MPS_LOCK_INIT;
static mps_cond_t cond = MPS_COND_INIT;
static int ready;   /* under lock */

static void *producer(void *arg)
{
	(void)arg;
	mps_lock_acquire(&lock, MPS_FOREVER);
	ready = 1;
	mps_cond_notify(&cond, 1);
	mps_lock_release(&lock);
	return NULL;
}

static bool is_ready(void *arg)
{
	return *(const int *)arg != 0;
}

static int threads(void)
{
	pthread_t thread;
	if (mps_lock_acquire(&lock, 5.0) != 0 || pthread_create(&thread, NULL, producer, NULL) != 0)
		return 1;
	int r = mps_cond_wait_for(&cond, &lock, is_ready, &ready, 10.0);
	mps_lock_release(&lock);
	pthread_join(thread, NULL);
	return r;
}

/* The child stores 42 under "answer" and sets the event; the parent waits. */
static int processes(void)
{
	mps_segment_t *seg = NULL;
	mps_event_t *done;
	mps_dict_t *dict;
	int r = mps_segment_create_anonymous(1 << 20, &seg);
	if (r == 0)
		r = mps_segment_event(seg, "done", MPS_CREATE_ONLY, &done);
	if (r == 0)
		r = mps_segment_dict(seg, "results", MPS_CREATE_ONLY, &dict);
	if (r != 0)
		return r;
	mps_var_t key = mps_str("answer"), value;
	pid_t pid = fork();
	if (pid == 0) {
		mps_var_t v = mps_int(42);
		int rc = mps_dict_set(dict, &key, &v);
		mps_event_set(done);
		_exit(rc == 0 ? 0 : 1);
	}
	int status = 0;
	r = mps_event_wait(done, 10.0);
	if (r == 0)
		r = mps_dict_get(dict, &key, &value, (mps_out_t){0, 0});
	if (r == 0 && (value.type != MPS_INT || value.i != 42))
		r = -1;
	if (waitpid(pid, &status, 0) != pid || status != 0)
		r = r ? r : -2;
	mps_segment_close(seg);
	return r;
}

int main(void)
{
	int r = threads();
	if (r == 0)
		r = processes();
#ifndef APP_ALONE
	if (r == 0)
		r = other_lock_roundtrip();
#endif
	printf("single-header app (mpsync %d.%d.%d): %s\n", MPSYNC_VERSION_MAJOR,
	       MPSYNC_VERSION_MINOR, MPSYNC_VERSION_PATCH, r == 0 ? "ok" : mps_strerror(r));
	return r == 0 ? 0 : 1;
}
