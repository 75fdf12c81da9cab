/* Two libraries, each with its own static copy of mpsync (copy.c), linked
 * into one program: it must link (no duplicate symbols), and both copies
 * must work on the same objects, since the object layouts and word
 * protocols are the ABI. Copy a creates a segment with a lock, an event and
 * a dict; copy b opens it by name. Each check fails with its line number. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "copy.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "two_copies.c:%d: check failed: %s\n", __LINE__, #cond); \
	return 1; } } while (0)

static const struct copy_ops *const a = &copy_a, *const b = &copy_b;

struct waiter {
	mps_event_t *event;
	volatile pid_t tid;
	int result;
};

/* Sleeps in copy a's event_wait until copy b sets the event. */
static void *wait_with_a(void *arg)
{
	struct waiter *w = arg;
	w->tid = (pid_t)syscall(SYS_gettid);
	w->result = a->event_wait(w->event, 30.0);
	return NULL;
}

/* Whether thread tid of this process is asleep ('S' in its stat). */
static bool sleeping(pid_t tid)
{
	char path[64], stat[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(stat, 1, sizeof stat - 1, f);
	fclose(f);
	stat[n] = 0;
	const char *paren = strrchr(stat, ')');
	return paren && paren[1] == ' ' && paren[2] == 'S';
}

int main(void)
{
	char name[64];
	mps_segment_t *sa, *sb;
	mps_lock_t *la, *lb;
	mps_event_t *ea, *eb;
	mps_dict_t *da, *db;

	snprintf(name, sizeof name, "mpsync-two-copies-%d", (int)getpid());
	CHECK(a != b && a->lock_acquire != b->lock_acquire);
	CHECK(a->segment_create(name, 1 << 20, &sa) == 0);
	CHECK(b->segment_open(name, &sb) == 0);
	CHECK(a->segment_lock(sa, "lock", MPS_CREATE_ONLY, &la) == 0);
	CHECK(b->segment_lock(sb, "lock", MPS_OPEN_ONLY, &lb) == 0);
	CHECK(a->segment_event(sa, "event", MPS_CREATE_ONLY, &ea) == 0);
	CHECK(b->segment_event(sb, "event", MPS_OPEN_ONLY, &eb) == 0);
	CHECK(a->segment_dict(sa, "dict", MPS_CREATE_ONLY, &da) == 0);
	CHECK(b->segment_dict(sb, "dict", MPS_OPEN_ONLY, &db) == 0);

	/* One lock, two copies: each sees what the other did. */
	CHECK(a->lock_acquire(la, 0) == 0);
	CHECK(b->lock_locked(lb));
	CHECK(b->lock_acquire(lb, 0) == ETIMEDOUT);
	CHECK(a->lock_release(la) == 0);
	CHECK(!b->lock_locked(lb));
	CHECK(b->lock_acquire(lb, 0) == 0);
	CHECK(a->lock_acquire(la, 0) == ETIMEDOUT);
	CHECK(b->lock_release(lb) == 0);

	/* A value stored through one copy's allocator, read through the other. */
	mps_var_t key = {MPS_STR, 0, 0, "answer", 6, 0}, v = mps_int(42), got;
	CHECK(a->dict_set(da, &key, &v) == 0);
	CHECK(b->dict_get(db, &key, &got, (mps_out_t){0, 0}) == 0);
	CHECK(got.type == MPS_INT && got.i == 42);

	/* A sleeper in one copy woken by the other (the futex protocol). */
	struct waiter w = {ea, 0, -1};
	pthread_t t;
	CHECK(pthread_create(&t, NULL, wait_with_a, &w) == 0);
	struct timespec tick = {0, 1000000};
	for (int i = 0; i < 20000 && !(w.tid && sleeping(w.tid)); i++)
		nanosleep(&tick, NULL);
	CHECK(w.tid && sleeping(w.tid));
	b->event_set(eb);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(w.result == 0);

	CHECK(b->segment_close(sb) == 0);
	CHECK(a->segment_close(sa) == 0);
	CHECK(a->segment_unlink(name) == 0);
	printf("two copies (%s, %s) share one segment: ok\n", a->name, b->name);
	return 0;
}
