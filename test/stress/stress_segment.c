/* Segment objects under races between threads (run under TSan and ASan).
 *
 * objects   every thread creates, finds and removes named objects from a
 *           small shared pool of names (so creators collide) and creates and
 *           releases unnamed ones; afterwards the heap walk passes, no name
 *           is left, and every byte is free again.
 * queue     half the threads put numbered items (producer id, sequence,
 *           checksum over a variable-length body), half get them: nothing is
 *           lost, nothing duplicated, no item torn, each producer's items
 *           arrive in order.
 * dict      threads set, read back and delete keys of their own in one dict
 *           and append to one list: every read sees the thread's last write,
 *           and the list ends with every append, in order per thread. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <mpsync.h>
#include "../../lib/segment/seg.h"
#include "stress.h"

#define NAMES 8
#define ITEM_MAX 200

static struct {
	mps_segment_t *seg;
	mps_queue_t *queue;
	mps_dict_t *dict;
	mps_list_t *list;
	atomic_bool stop;
	atomic_uint producers_left;
	int threads;
} S;

struct worker {
	int index;
	uint32_t rng;
	long ops;
	uint32_t next_seq[STRESS_MAX_THREADS];  /* consumer: next sequence per producer */
};

static uint32_t body_sum(const unsigned char *p, size_t n)
{
	uint32_t x = 2166136261u;
	for (size_t i = 0; i < n; i++)
		x = (x ^ p[i]) * 16777619u;
	return x;
}

static void *objects_worker(void *arg)
{
	struct worker *w = arg;
	char name[16];
	while (!atomic_load(&S.stop)) {
		snprintf(name, sizeof name, "obj%u", stress_rand(&w->rng) % NAMES);
		mps_sem_t *sem;
		mps_lock_t *lock;
		int r;
		switch (stress_rand(&w->rng) % 4) {
		case 0:
			r = mps_segment_semaphore(S.seg, name, MPS_OPEN_OR_CREATE, 1, &sem);
			if (r != 0 && r != EPROTOTYPE)
				stress_violation("semaphore %s: %s", name, mps_strerror(r));
			break;
		case 1:
			r = mps_segment_lock(S.seg, name, MPS_OPEN_OR_CREATE, &lock);
			if (r != 0 && r != EPROTOTYPE)
				stress_violation("lock %s: %s", name, mps_strerror(r));
			break;
		case 2:
			r = mps_segment_remove(S.seg, name);
			if (r != 0 && r != ENOENT)
				stress_violation("remove %s: %s", name, mps_strerror(r));
			break;
		default:
			r = mps_segment_event(S.seg, NULL, MPS_OPEN_OR_CREATE, (mps_event_t **)&lock);
			if (r != 0)
				stress_violation("unnamed event: %s", mps_strerror(r));
			else
				mps_object_release(lock);
		}
		w->ops++;
	}
	return NULL;
}

static void put_items(struct worker *w)
{
	unsigned char item[ITEM_MAX];
	for (uint32_t seq = 0; !atomic_load(&S.stop); seq++) {
		size_t n = 12 + stress_rand(&w->rng) % (ITEM_MAX - 12);
		for (size_t i = 12; i < n; i++)
			item[i] = (unsigned char)stress_rand(&w->rng);
		uint32_t head[3] = { (uint32_t)w->index, seq, body_sum(item + 12, n - 12) };
		memcpy(item, head, sizeof head);
		int r = mps_queue_put(S.queue, item, n, stress_hang_timeout());
		if (r != 0) {
			stress_violation("put: %s", mps_strerror(r));
			break;
		}
		w->ops++;
	}
	atomic_fetch_sub(&S.producers_left, 1);
}

static void check_item(struct worker *w, const unsigned char *item, size_t n)
{
	uint32_t head[3];
	memcpy(head, item, sizeof head);
	if (n < 12 || head[0] >= (uint32_t)S.threads || head[2] != body_sum(item + 12, n - 12)) {
		stress_violation("torn item (len %zu)", n);
		return;
	}
	if (head[1] < w->next_seq[head[0]])
		stress_violation("producer %u: seq %u after %u", head[0], head[1], w->next_seq[head[0]]);
	w->next_seq[head[0]] = head[1] + 1;
}

static void get_items(struct worker *w)
{
	unsigned char item[ITEM_MAX];
	for (;;) {
		size_t n = 0;
		/* Once every producer is done, what is queued is final: drain it. */
		bool last = atomic_load(&S.producers_left) == 0;
		int r = mps_queue_get(S.queue, item, sizeof item, &n, last ? 0 : 0.05);
		if (r == ETIMEDOUT && last)
			return;
		if (r == ETIMEDOUT)
			continue;
		if (r != 0) {
			stress_violation("get: %s", mps_strerror(r));
			return;
		}
		check_item(w, item, n);
		w->ops++;
	}
}

static void *queue_worker(void *arg)
{
	struct worker *w = arg;
	if (w->index % 2 == 0)
		put_items(w);
	else
		get_items(w);
	return NULL;
}

static void *dict_worker(void *arg)
{
	struct worker *w = arg;
	for (int64_t i = 0; !atomic_load(&S.stop); i++) {
		mps_var_t key = mps_int(w->index * 1000 + i % 50), value = mps_int(i), got;
		int r = mps_dict_set(S.dict, &key, &value);
		if (r == 0)
			r = mps_dict_get(S.dict, &key, &got, (mps_out_t){ 0 });
		if (r != 0 || got.type != MPS_INT || got.i != i)
			stress_violation("dict: %s, read %lld for %lld", mps_strerror(r), (long long)got.i,
			                 (long long)i);
		if (i % 3 == 0 && mps_dict_del(S.dict, &key) != 0)
			stress_violation("dict del failed");
		mps_var_t entry = mps_int(((int64_t)w->index << 32) | i);
		if (i < 2000 && mps_list_append(S.list, &entry) != 0)
			stress_violation("list append failed");
		w->ops++;
	}
	return NULL;
}

static long run_phase(void *(*fn)(void *), struct worker *w, int n)
{
	memset(w, 0, sizeof *w * (size_t)n);
	for (int i = 0; i < n; i++) {
		w[i].index = i;
		w[i].rng = 0x9e3779b9u * (uint32_t)(i + 1);
	}
	stress_run(n, fn, w, sizeof *w);
	long ops = 0;
	for (int i = 0; i < n; i++)
		ops += w[i].ops;
	return ops;
}

static void *stopper(void *arg)
{
	stress_sleep(*(double *)arg);
	atomic_store(&S.stop, true);
	return NULL;
}

static long timed_phase(void *(*fn)(void *), struct worker *w, int n, double seconds)
{
	pthread_t t;
	atomic_store(&S.stop, false);
	pthread_create(&t, NULL, stopper, &seconds);
	long ops = run_phase(fn, w, n);
	pthread_join(t, NULL);
	return ops;
}

static bool heap_ok(void)
{
	struct mps_seg_header *h = mps_segment_base(S.seg);
	bool took = mps_seg_enter(h);
	int r = mps_heap_check(h, NULL, NULL);
	mps_seg_leave(h, took);
	return r == 0;
}

static bool list_in_order(int n)
{
	int64_t next[STRESS_MAX_THREADS] = { 0 };
	size_t len = mps_list_len(S.list);
	for (size_t i = 0; i < len; i++) {
		mps_var_t v;
		if (mps_list_get(S.list, (int64_t)i, &v, (mps_out_t){ 0 }) != 0 || v.type != MPS_INT)
			return false;
		int t = (int)(v.i >> 32);
		if (t < 0 || t >= n || (v.i & 0xffffffff) != next[t])
			return false;
		next[t]++;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct stress_config cfg;
	stress_setup(argc, argv, "stress_segment", &cfg);
	static struct worker w[STRESS_MAX_THREADS];
	int n = cfg.threads & ~1;
	S.threads = n;
	int r = mps_segment_create_anonymous(4 << 20, &S.seg);
	stress_expect(r == 0, "anonymous segment: %s", mps_strerror(r));
	if (r)
		return 1;
	size_t free0 = mps_segment_free_bytes(S.seg);

	long ops = timed_phase(objects_worker, w, n, cfg.seconds / 3);
	for (int i = 0; i < NAMES; i++) {
		char name[16];
		snprintf(name, sizeof name, "obj%d", i);
		mps_segment_remove(S.seg, name);
	}
	stress_expect(stress_take_violations() == 0 && heap_ok() &&
	              mps_segment_free_bytes(S.seg) == free0,
	              "objects: %ld operations, heap whole, all space free again", ops);

	mps_segment_queue(S.seg, "q", MPS_CREATE_ONLY, 64, 16384, &S.queue);
	atomic_store(&S.producers_left, (unsigned)n / 2);
	timed_phase(queue_worker, w, n, cfg.seconds / 3);
	long puts = 0, gets = 0;
	for (int i = 0; i < n; i++)
		*(i % 2 == 0 ? &puts : &gets) += w[i].ops;
	stress_expect(stress_take_violations() == 0 && puts == gets && mps_queue_qsize(S.queue) == 0,
	              "queue: %ld put, %ld got, none torn or reordered", puts, gets);

	mps_segment_dict(S.seg, "d", MPS_CREATE_ONLY, &S.dict);
	mps_segment_list(S.seg, "l", MPS_CREATE_ONLY, &S.list);
	ops = timed_phase(dict_worker, w, n, cfg.seconds / 3);
	stress_expect(stress_take_violations() == 0 && list_in_order(n) && heap_ok(),
	              "dict and list: %ld operations, reads see own writes, appends in order", ops);

	mps_segment_remove(S.seg, "q");
	mps_segment_remove(S.seg, "d");
	mps_segment_remove(S.seg, "l");
	stress_expect(heap_ok() && mps_segment_free_bytes(S.seg) == free0,
	              "every object destroyed, all space free again");
	mps_segment_close(S.seg);
	return stress_finish();
}
