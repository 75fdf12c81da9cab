/* The CLI test's subject: creates segment argv[1] holding one object of
 * every kind in a known state, prints "ready PID", and stays attached until
 * its standard input reaches end of file. It never unlinks the segment. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mpsync.h>

#define CHECK(call) do { \
	int err_ = (call); \
	if (err_) { \
		fprintf(stderr, "cli_helper: %s: %s\n", #call, mps_strerror(err_)); \
		return 1; \
	} \
} while (0)

static int primitives(mps_segment_t *seg)
{
	mps_lock_t *lk;
	mps_rlock_t *rl;
	mps_sem_t *sem, *bsem;
	mps_event_t *ev;
	mps_cond_t *cond;
	mps_barrier_t *bar;
	CHECK(mps_segment_lock(seg, "lk", MPS_CREATE_ONLY, &lk));
	CHECK(mps_lock_acquire(lk, 0));                     /* owner: this process */
	CHECK(mps_segment_rlock(seg, "rl", MPS_CREATE_ONLY, &rl));
	CHECK(mps_rlock_acquire(rl, 0));
	CHECK(mps_rlock_acquire(rl, 0));                    /* count 2 */
	CHECK(mps_segment_semaphore(seg, "sem", MPS_CREATE_ONLY, 3, &sem));
	CHECK(mps_segment_bounded_semaphore(seg, "bsem", MPS_CREATE_ONLY, 2, &bsem));
	CHECK(mps_sem_acquire(bsem, 0));                    /* value 1, bound 2 */
	CHECK(mps_segment_event(seg, "ev", MPS_CREATE_ONLY, &ev));
	mps_event_set(ev);
	CHECK(mps_segment_condition(seg, "cond", MPS_CREATE_ONLY, &cond));
	CHECK(mps_segment_barrier(seg, "bar", MPS_CREATE_ONLY, 3, MPS_FOREVER, &bar));
	return 0;
}

static int data(mps_segment_t *seg)
{
	int32_t i = 42;
	double d = 2.5;
	int16_t h[3] = { 1, 2, 3 };
	mps_value_t *val, *raw;
	mps_array_t *arr;
	mps_queue_t *jq, *q;
	CHECK(mps_segment_value(seg, "val", MPS_CREATE_ONLY, 'i', &i, MPS_SYNC_RLOCK, NULL, &val));
	CHECK(mps_segment_value(seg, "raw", MPS_CREATE_ONLY, 'd', &d, MPS_SYNC_NONE, NULL, &raw));
	CHECK(mps_segment_array(seg, "arr", MPS_CREATE_ONLY, 'h', 3, h, MPS_SYNC_RLOCK, NULL, &arr));
	CHECK(mps_segment_joinable_queue(seg, "jq", MPS_CREATE_ONLY, 0, 4096, &jq));
	CHECK(mps_queue_put(jq, "a", 1, 0));
	CHECK(mps_queue_put(jq, "bb", 2, 0));               /* depth 2 */
	CHECK(mps_segment_queue(seg, "q", MPS_CREATE_ONLY, 5, 1024, &q));
	return 0;
}

static int containers(mps_segment_t *seg)
{
	mps_dict_t *d;
	mps_list_t *li;
	mps_namespace_t *ns;
	CHECK(mps_segment_dict(seg, "d", MPS_CREATE_ONLY, &d));
	mps_var_t k1 = mps_str("one"), k2 = mps_int(2), v1 = mps_int(1), v2 = mps_float(2.0);
	CHECK(mps_dict_set(d, &k1, &v1));
	CHECK(mps_dict_set(d, &k2, &v2));                   /* len 2 */
	CHECK(mps_segment_list(seg, "li", MPS_CREATE_ONLY, &li));
	for (int n = 0; n < 3; n++) {
		mps_var_t v = mps_int(n);
		CHECK(mps_list_append(li, &v));                 /* len 3 */
	}
	CHECK(mps_segment_namespace(seg, "ns", MPS_CREATE_ONLY, &ns));
	mps_var_t bob = mps_str("Bob");
	CHECK(mps_namespace_set(ns, "name", &bob));         /* len 1 */
	return 0;
}

int main(int argc, char **argv)
{
	mps_segment_t *seg;
	if (argc != 2) {
		fprintf(stderr, "usage: cli_helper SEGMENT\n");
		return 2;
	}
	CHECK(mps_segment_create(argv[1], 1 << 20, &seg));
	if (primitives(seg) || data(seg) || containers(seg))
		return 1;
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char buf[64];
	while (fread(buf, 1, sizeof buf, stdin) > 0) {
	}
	mps_segment_close(seg);
	return 0;
}
