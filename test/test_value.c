/* Value and Array: research/conformance.md §9 (9.1-9.6, 9.8, 9.9), the
 * conversions and owner death of value.h; and the primitives of segment.h
 * opened by name in another thread or process (10.16 for Lock/RLock).
 *
 * The parent creates the test's segment (area->segname) and its objects;
 * every worker opens the segment BY NAME and finds the objects by name, so a
 * spawned worker maps it at another address and reaches the same objects.
 * "A worker is blocked" is decided from /proc (state S after the worker
 * announced its tid right before the call under test), never slept on. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "segtest.h"

#define SEG_SIZE  (1u << 20)
#define LONG_WAIT 30.0   /* a role's "forever": every wait in a role is bounded */
#define JOIN_S    60.0
#define TID_BASE  32     /* area->value[TID_BASE + index]: the worker's tid */
#define N_ADDERS  4
#define N_ROUNDS  1000
#define RAW_ROUNDS 20000

enum { C_READY, C_GO, C_HELD, C_DONE };

/* --- helpers (parent and roles) --- */

static uint32_t count(struct mps_area *a, int c)
{
	return mps_count_get(&a->counter[c]);
}

static void announce(struct mps_area *a, int index)
{
	__atomic_store_n(&a->value[TID_BASE + index], (int64_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
}

static pid_t announced(struct mps_area *a, int index)
{
	return (pid_t)__atomic_load_n(&a->value[TID_BASE + index], __ATOMIC_SEQ_CST);
}

/* All workers of a batch start together, so that they contend. */
static bool gate(struct mps_area *a)
{
	mps_count_add(&a->counter[C_READY], 1);
	return mps_count_await(&a->counter[C_GO], 1, LONG_WAIT);
}

static void open_gate(struct mps_area *a, uint32_t n)
{
	cr_assert(mps_count_await(&a->counter[C_READY], n, JOIN_S), "workers never reached the gate");
	mps_count_add(&a->counter[C_GO], 1);
}

/* Parent: worker index sleeps in the kernel (after announcing itself). */
static void await_blocked(struct mps_area *a, int index, const char *what)
{
	double end = mps_now() + JOIN_S;
	while (announced(a, index) <= 0) {
		cr_assert(!mps_worker_done(a, index), "%s: worker returned (%d) early", what,
		          (int)a->result[index]);
		cr_assert(mps_now() < end, "%s: worker never announced itself", what);
		mps_sleep(0.0005);
	}
	cr_assert(mps_await_task_state(announced(a, index), "S", JOIN_S),
	          "%s: worker never blocked", what);
}

static void start(struct mps_workers *w, enum mps_flavour f, struct mps_area *a,
                  mps_role_fn role, int n, int first)
{
	for (int i = first; i < first + n; i++)
		__atomic_store_n(&a->value[TID_BASE + i], 0, __ATOMIC_SEQ_CST);
	mps_workers_start(w, f, a, role, n, first);
}

/* ============================ 9.1 round trip ============================ */

union cell {
	char c;
	int16_t h;
	int32_t i;
	int64_t q;
	double d;
	unsigned char b[8];
};

static const struct rt_case {
	char tc;
	union cell before, after;
} rt_cases[] = {
	{ 'i', { .i = 4343 }, { .i = 24234 } },
	{ 'd', { .d = 3.625 }, { .d = -4.25 } },
	{ 'h', { .h = -232 }, { .h = 234 } },
	{ 'q', { .q = 1LL << 33 }, { .q = 1LL << 34 } },
	{ 'c', { .c = 'x' }, { .c = 'y' } },
};
#define N_RT (sizeof rt_cases / sizeof rt_cases[0])

/* Lock options of the round trip: Value (own RLock), RawValue, given Lock. */
static const enum mps_sync rt_syncs[] = { MPS_SYNC_RLOCK, MPS_SYNC_NONE, MPS_SYNC_LOCK };
#define N_RT_SYNC 3

static void rt_name(char *buf, size_t n, size_t c, int s)
{
	snprintf(buf, n, "rt-%c-%d", rt_cases[c].tc, s);
}

static int role_round_trip(struct mps_area *a, int index)
{
	(void)index;
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	mps_lock_t *glock = segtest_find(seg, "glock", MPS_KIND_LOCK);
	MPS_CHECK(glock);
	for (size_t c = 0; c < N_RT; c++) {
		for (int s = 0; s < N_RT_SYNC; s++) {
			char name[32];
			union cell got = { .q = 0 };
			size_t size = mps_typecode_size(rt_cases[c].tc);
			rt_name(name, sizeof name, c, s);
			mps_value_t *v = segtest_find(seg, name, MPS_KIND_VALUE);
			MPS_CHECK(v && mps_value_typecode(v) == rt_cases[c].tc);
			MPS_CHECK(mps_value_sync(v) == rt_syncs[s]);
			if (rt_syncs[s] == MPS_SYNC_LOCK)
				MPS_CHECK(mps_value_lock(v) == glock);
			MPS_CHECK(mps_value_get(v, &got) == 0);
			MPS_CHECK(memcmp(&got, &rt_cases[c].before, size) == 0);
			MPS_CHECK(mps_value_set(v, &rt_cases[c].after) == 0);
		}
	}
	MPS_CHECK(mps_segment_close(seg) == 0);
	return 0;
}

MPS_FLAVOURS(value, round_trip)
ParameterizedTest(enum mps_flavour *f, value, round_trip)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_lock_t *glock;
	cr_assert_eq(mps_segment_lock(seg, "glock", MPS_CREATE_ONLY, &glock), 0);
	mps_value_t *v[N_RT][N_RT_SYNC];
	for (size_t c = 0; c < N_RT; c++) {
		for (int s = 0; s < N_RT_SYNC; s++) {
			char name[32];
			rt_name(name, sizeof name, c, s);
			void *lock = rt_syncs[s] == MPS_SYNC_LOCK ? glock : NULL;
			cr_assert_eq(mps_segment_value(seg, name, MPS_CREATE_ONLY, rt_cases[c].tc,
			                               &rt_cases[c].before, rt_syncs[s], lock, &v[c][s]), 0,
			             "create %s", name);
		}
	}
	struct mps_workers w;
	start(&w, *f, a, role_round_trip, 1, 0);
	segtest_join(&w, JOIN_S, "round trip");
	for (size_t c = 0; c < N_RT; c++) {
		for (int s = 0; s < N_RT_SYNC; s++) {
			union cell got = { .q = 0 };
			cr_assert_eq(mps_value_get(v[c][s], &got), 0);
			cr_assert(memcmp(&got, &rt_cases[c].after, mps_typecode_size(rt_cases[c].tc)) == 0,
			          "typecode %c sync %d: the child's write is not seen", rt_cases[c].tc, s);
		}
	}
	int64_t i;
	double d;
	cr_assert_eq(mps_value_get_i64(v[0][0], &i), 0);
	cr_assert_eq(i, 24234);
	cr_assert_eq(mps_value_get_f64(v[1][1], &d), 0);
	cr_assert_eq(d, -4.25);
	cr_assert_eq(mps_value_get_i64(v[3][2], &i), 0);
	cr_assert_eq(i, 1LL << 34);
	cr_assert_eq(mps_value_get_i64(v[4][0], &i), 0);
	cr_assert_eq(i, 'y');
	segtest_end(a, seg);
}

/* ====================== 9.2, 9.3, 9.9: options ====================== */

Test(value, typecodes)
{
	static const char valid[] = "cbBuhHiIlLqQfd";
	static const size_t sizes[] = { 1, 1, 1, 4, 2, 2, 4, 4, 8, 8, 8, 8, 4, 8 };
	for (size_t i = 0; valid[i]; i++)
		cr_assert_eq(mps_typecode_size(valid[i]), sizes[i], "size of '%c'", valid[i]);
	static const char invalid[] = { 'w', 'x', 'Z', 'D', 'g', ' ', 0 };
	for (size_t i = 0; i < sizeof invalid; i++)
		cr_assert_eq(mps_typecode_size(invalid[i]), 0, "size of %#x", invalid[i]);
}

/* 9.3: a bad typecode ('w' included) creates nothing, in every lock option. */
Test(value, bad_typecode)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	static const char bad[] = { 'x', 'w', 0, 'D' };
	static const enum mps_sync syncs[] = { MPS_SYNC_RLOCK, MPS_SYNC_NONE };
	for (size_t i = 0; i < sizeof bad; i++) {
		for (size_t s = 0; s < 2; s++) {
			mps_value_t *v = (mps_value_t *)&v;
			mps_array_t *arr = (mps_array_t *)&arr;
			cr_assert_eq(mps_segment_value(seg, "v", MPS_OPEN_OR_CREATE, bad[i], NULL, syncs[s],
			                               NULL, &v), EINVAL, "Value('%c')", bad[i]);
			cr_assert_eq(mps_segment_array(seg, "a", MPS_OPEN_OR_CREATE, bad[i], 4, NULL,
			                               syncs[s], NULL, &arr), EINVAL, "Array('%c')", bad[i]);
			cr_assert_eq(mps_segment_value(seg, NULL, MPS_OPEN_OR_CREATE, bad[i], NULL, syncs[s],
			                               NULL, &v), EINVAL, "unnamed Value('%c')", bad[i]);
			cr_assert(v == (mps_value_t *)&v && arr == (mps_array_t *)&arr, "out written on EINVAL");
		}
	}
	void *obj;
	enum mps_kind kind;
	cr_assert_eq(mps_segment_find(seg, "v", &obj, &kind), ENOENT);
	cr_assert_eq(mps_segment_find(seg, "a", &obj, &kind), ENOENT);
	struct mps_segment_info info;
	cr_assert_eq(mps_segment_info(seg, &info), 0);
	cr_assert_eq(info.objects, 0, "%u objects after refused creations", info.objects);
	segtest_end(a, seg);
}

static void check_recursive(void *obj, bool is_array)
{
	mps_value_t *v = obj;
	mps_array_t *arr = obj;
	int64_t x;
	mps_rlock_t *r = is_array ? mps_array_lock(arr) : mps_value_lock(v);
	cr_assert(r);
	cr_assert_eq(is_array ? mps_array_acquire(arr, 1) : mps_value_acquire(v, 1), 0);
	cr_assert(mps_rlock_is_owned(r) && mps_rlock_count(r) == 1);
	/* 9.8: get and set inside the held lock do not deadlock. */
	cr_assert_eq(is_array ? mps_array_get_i64(arr, 0, &x) : mps_value_get_i64(v, &x), 0);
	cr_assert_eq(is_array ? mps_array_set_i64(arr, 0, x + 1) : mps_value_set_i64(v, x + 1), 0);
	cr_assert_eq(mps_rlock_count(r), 1, "get/set left the lock at depth %u", mps_rlock_count(r));
	cr_assert_eq(is_array ? mps_array_release(arr) : mps_value_release(v), 0);
	cr_assert(!mps_rlock_locked(r));
	cr_assert_eq(is_array ? mps_array_release(arr) : mps_value_release(v), EPERM);
}

/* 9.2: lock=True gives a new recursive lock of the object's own. */
Test(value, own_rlock)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_value_t *v, *v2;
	mps_array_t *arr;
	cr_assert_eq(mps_segment_value(seg, "v", MPS_CREATE_ONLY, 'i', NULL, MPS_SYNC_RLOCK, NULL, &v), 0);
	cr_assert_eq(mps_segment_value(seg, "v2", MPS_CREATE_ONLY, 'i', NULL, MPS_SYNC_RLOCK, NULL, &v2), 0);
	cr_assert_eq(mps_segment_array(seg, "a", MPS_CREATE_ONLY, 'q', 3, NULL, MPS_SYNC_RLOCK, NULL,
	                               &arr), 0);
	cr_assert_eq(mps_value_sync(v), MPS_SYNC_RLOCK);
	cr_assert_eq(mps_array_sync(arr), MPS_SYNC_RLOCK);
	cr_assert(mps_value_lock(v) && mps_value_lock(v) != mps_value_lock(v2), "locks not distinct");
	check_recursive(v, false);
	check_recursive(arr, true);
	int64_t x;
	cr_assert_eq(mps_value_get_i64(v, &x), 0);
	cr_assert_eq(x, 1);
	cr_assert_eq(mps_array_get_i64(arr, 0, &x), 0);
	cr_assert_eq(x, 1);
	segtest_end(a, seg);
}

/* 9.2: lock=<Lock> / lock=<RLock>: that exact object is the object's lock,
 * and the object keeps it alive after its name goes. */
Test(value, given_lock)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_lock_t *l;
	mps_rlock_t *r;
	cr_assert_eq(mps_segment_lock(seg, "l", MPS_CREATE_ONLY, &l), 0);
	cr_assert_eq(mps_segment_rlock(seg, "r", MPS_CREATE_ONLY, &r), 0);
	cr_assert_eq(mps_object_refs(l), 1);
	mps_value_t *v, *vr;
	mps_array_t *arr;
	cr_assert_eq(mps_segment_value(seg, "vl", MPS_CREATE_ONLY, 'i', NULL, MPS_SYNC_LOCK, l, &v), 0);
	cr_assert_eq(mps_segment_value(seg, "vr", MPS_CREATE_ONLY, 'd', NULL, MPS_SYNC_GIVEN_RLOCK, r,
	                               &vr), 0);
	cr_assert_eq(mps_segment_array(seg, "ar", MPS_CREATE_ONLY, 'i', 4, NULL, MPS_SYNC_GIVEN_RLOCK,
	                               r, &arr), 0);
	cr_assert_eq(mps_value_sync(v), MPS_SYNC_LOCK);
	cr_assert_eq(mps_value_sync(vr), MPS_SYNC_GIVEN_RLOCK);
	cr_assert_eq(mps_value_lock(v), l);
	cr_assert_eq(mps_value_lock(vr), r);
	cr_assert_eq(mps_array_lock(arr), r);
	cr_assert_eq(mps_object_refs(l), 2, "the value holds a reference on its lock");
	cr_assert_eq(mps_object_refs(r), 3);

	/* The accessors really take it: held here, a Lock shows its owner. */
	cr_assert_eq(mps_value_acquire(v, 0), 0);
	cr_assert(mps_lock_locked(l));
	cr_assert_eq(mps_lock_owner(l), (pid_t)syscall(SYS_gettid));
	cr_assert_eq(mps_value_acquire(v, 0), ETIMEDOUT, "a Lock is not recursive");
	cr_assert_eq(mps_value_release(v), 0);
	cr_assert(!mps_lock_locked(l));
	check_recursive(arr, true);
	cr_assert_eq(mps_value_acquire(vr, 0), 0);
	cr_assert_eq(mps_array_set_i64(arr, 1, 9), 0, "the shared RLock is recursive");
	cr_assert_eq(mps_rlock_count(r), 1);
	cr_assert_eq(mps_value_release(vr), 0);

	/* The name goes; the lock stays while the value uses it. */
	cr_assert_eq(mps_segment_remove(seg, "l"), 0);
	cr_assert_eq(mps_object_refs(l), 1);
	cr_assert_eq(mps_value_set_i64(v, 5), 0);
	cr_assert_eq(mps_value_acquire(v, 0), 0);
	cr_assert(mps_lock_locked(l));
	cr_assert_eq(mps_value_release(v), 0);
	cr_assert_eq(mps_segment_remove(seg, "ar"), 0);
	cr_assert_eq(mps_object_refs(r), 2, "removing the array dropped its reference");
	segtest_end(a, seg);
}

/* 9.2: a lock argument that is not a Lock/RLock of this segment. */
Test(value, given_lock_invalid)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_segment_t *other = segtest_anon(SEG_SIZE);
	mps_lock_t *l, *ol, stack_lock = MPS_LOCK_INIT;
	mps_rlock_t *r;
	mps_sem_t *s;
	mps_value_t *lv;
	cr_assert_eq(mps_segment_lock(seg, "l", MPS_CREATE_ONLY, &l), 0);
	cr_assert_eq(mps_segment_rlock(seg, "r", MPS_CREATE_ONLY, &r), 0);
	cr_assert_eq(mps_segment_semaphore(seg, "s", MPS_CREATE_ONLY, 1, &s), 0);
	cr_assert_eq(mps_segment_value(seg, "lv", MPS_CREATE_ONLY, 'i', NULL, MPS_SYNC_NONE, NULL,
	                               &lv), 0);
	cr_assert_eq(mps_segment_lock(other, "l", MPS_CREATE_ONLY, &ol), 0);
	struct { enum mps_sync sync; void *lock; const char *what; } bad[] = {
		{ MPS_SYNC_LOCK, NULL, "Lock NULL" },
		{ MPS_SYNC_GIVEN_RLOCK, NULL, "RLock NULL" },
		{ MPS_SYNC_LOCK, r, "an RLock as Lock" },
		{ MPS_SYNC_GIVEN_RLOCK, l, "a Lock as RLock" },
		{ MPS_SYNC_LOCK, s, "a semaphore" },
		{ MPS_SYNC_LOCK, lv, "a value" },
		{ MPS_SYNC_LOCK, ol, "another segment's Lock" },
		{ MPS_SYNC_LOCK, &stack_lock, "a Lock outside any segment" },
		{ MPS_SYNC_LOCK, (char *)l + 4, "inside a Lock object" },
		{ MPS_SYNC_RLOCK, l, "a lock with lock=True" },
		{ MPS_SYNC_NONE, l, "a lock with lock=False" },
		{ (enum mps_sync)7, NULL, "sync 7" },
	};
	unsigned refs = mps_object_refs(l);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		mps_value_t *v = NULL;
		mps_array_t *arr = NULL;
		cr_assert_eq(mps_segment_value(seg, "v", MPS_OPEN_OR_CREATE, 'i', NULL, bad[i].sync,
		                               bad[i].lock, &v), EINVAL, "Value with %s", bad[i].what);
		cr_assert_eq(mps_segment_array(seg, "a", MPS_OPEN_OR_CREATE, 'i', 2, NULL, bad[i].sync,
		                               bad[i].lock, &arr), EINVAL, "Array with %s", bad[i].what);
		cr_assert(!v && !arr);
	}
	void *obj;
	enum mps_kind kind;
	cr_assert_eq(mps_segment_find(seg, "v", &obj, &kind), ENOENT);
	cr_assert_eq(mps_segment_find(seg, "a", &obj, &kind), ENOENT);
	cr_assert_eq(mps_object_refs(l), refs);
	cr_assert_eq(mps_segment_close(other), 0);
	segtest_end(a, seg);
}

/* 9.2: lock=False / RawValue / RawArray: no lock at all. */
Test(value, raw)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_value_t *v;
	mps_array_t *arr;
	int64_t x;
	cr_assert_eq(mps_segment_value(seg, "v", MPS_CREATE_ONLY, 'q', NULL, MPS_SYNC_NONE, NULL, &v), 0);
	cr_assert_eq(mps_segment_array(seg, "a", MPS_CREATE_ONLY, 'b', 5, NULL, MPS_SYNC_NONE, NULL,
	                               &arr), 0);
	cr_assert_eq(mps_value_sync(v), MPS_SYNC_NONE);
	cr_assert_eq(mps_array_sync(arr), MPS_SYNC_NONE);
	cr_assert_null(mps_value_lock(v));
	cr_assert_null(mps_array_lock(arr));
	cr_assert_eq(mps_value_acquire(v, 0), EINVAL);
	cr_assert_eq(mps_value_release(v), EINVAL);
	cr_assert_eq(mps_array_acquire(arr, 0), EINVAL);
	cr_assert_eq(mps_array_release(arr), EINVAL);
	cr_assert_eq(mps_value_add_i64(v, -3, &x), 0);
	cr_assert_eq(x, -3);
	cr_assert_eq(mps_value_get_i64(v, &x), 0);
	cr_assert_eq(x, -3);
	cr_assert_eq(mps_array_set_i64(arr, 4, -128), 0);
	cr_assert_eq(mps_array_get_i64(arr, 4, &x), 0);
	cr_assert_eq(x, -128);
	segtest_end(a, seg);
}

/* Reopening a name returns the existing object unchanged: its typecode,
 * length and lock option are not compared (as the primitives' parameters);
 * its kind is. */
Test(value, reopen)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	int32_t seven = 7;
	mps_value_t *v, *v2;
	mps_array_t *arr, *arr2;
	cr_assert_eq(mps_segment_value(seg, "v", MPS_CREATE_ONLY, 'i', &seven, MPS_SYNC_RLOCK, NULL,
	                               &v), 0);
	cr_assert_eq(mps_segment_value(seg, "v", MPS_OPEN_OR_CREATE, 'd', NULL, MPS_SYNC_NONE, NULL,
	                               &v2), 0);
	cr_assert_eq(v2, v);
	cr_assert_eq(mps_value_typecode(v2), 'i');
	cr_assert_eq(mps_value_sync(v2), MPS_SYNC_RLOCK);
	int64_t x;
	cr_assert_eq(mps_value_get_i64(v2, &x), 0);
	cr_assert_eq(x, 7, "reopening must not re-initialise");
	cr_assert_eq(mps_segment_value(seg, "v", MPS_OPEN_ONLY, 'i', NULL, MPS_SYNC_RLOCK, NULL, &v2), 0);
	cr_assert_eq(v2, v);
	cr_assert_eq(mps_segment_value(seg, "v", MPS_CREATE_ONLY, 'i', NULL, MPS_SYNC_RLOCK, NULL, &v2),
	             EEXIST);
	cr_assert_eq(mps_segment_value(seg, "nope", MPS_OPEN_ONLY, 'i', NULL, MPS_SYNC_RLOCK, NULL,
	                               &v2), ENOENT);
	cr_assert_eq(mps_segment_array(seg, "v", MPS_OPEN_OR_CREATE, 'i', 3, NULL, MPS_SYNC_RLOCK,
	                               NULL, &arr), EPROTOTYPE);
	cr_assert_eq(mps_segment_array(seg, "a", MPS_CREATE_ONLY, 'h', 3, NULL, MPS_SYNC_NONE, NULL,
	                               &arr), 0);
	cr_assert_eq(mps_segment_array(seg, "a", MPS_OPEN_OR_CREATE, 'q', 30, NULL, MPS_SYNC_RLOCK,
	                               NULL, &arr2), 0);
	cr_assert_eq(arr2, arr);
	cr_assert_eq(mps_array_len(arr2), 3);
	cr_assert_eq(mps_array_typecode(arr2), 'h');
	cr_assert_eq(mps_segment_value(seg, "a", MPS_OPEN_OR_CREATE, 'h', NULL, MPS_SYNC_NONE, NULL,
	                               &v2), EPROTOTYPE);
	/* A Value is not an Array and the other way round. */
	int16_t h;
	cr_assert_eq(mps_value_get((mps_value_t *)(void *)arr, &h), EINVAL);
	cr_assert_eq(mps_array_get((mps_array_t *)(void *)v, 0, &h), EINVAL);
	cr_assert_eq(mps_array_len((mps_array_t *)(void *)v), 0);
	cr_assert_eq(mps_value_typecode((mps_value_t *)(void *)arr), 0);
	cr_assert_eq(mps_value_get(NULL, &h), EINVAL);
	cr_assert_eq(mps_value_get(v, NULL), EINVAL);
	cr_assert_eq(mps_value_set(v, NULL), EINVAL);
	segtest_end(a, seg);
}

/* ====================== conversions (value.h) ====================== */

static void bytes_of(mps_value_t *v, union cell *out)
{
	out->q = 0;
	cr_assert_eq(mps_value_get(v, out), 0);
}

#define UNCHANGED(v, before, what) do { \
	union cell now_; \
	bytes_of((v), &now_); \
	cr_assert(memcmp(&now_, &(before), 8) == 0, "%s changed the value", what); \
} while (0)

static mps_value_t *make(mps_segment_t *seg, char tc, enum mps_sync sync)
{
	mps_value_t *v;
	cr_assert_eq(mps_segment_value(seg, NULL, MPS_CREATE_ONLY, tc, NULL, sync, NULL, &v), 0);
	return v;
}

/* Integer ranges: the limits fit, one past them is ERANGE and writes nothing. */
Test(value, integer_ranges)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	static const struct { char tc; int64_t lo, hi; bool hi_is_max; } r[] = {
		{ 'b', -128, 127, false }, { 'B', 0, 255, false }, { 'h', -32768, 32767, false },
		{ 'H', 0, 65535, false }, { 'i', INT32_MIN, INT32_MAX, false },
		{ 'I', 0, UINT32_MAX, false }, { 'c', 0, 255, false }, { 'u', 0, 0x10ffff, false },
		{ 'q', INT64_MIN, INT64_MAX, true }, { 'l', INT64_MIN, INT64_MAX, true },
		{ 'Q', 0, INT64_MAX, true }, { 'L', 0, INT64_MAX, true },
	};
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
		for (int s = 0; s < 2; s++) {
			mps_value_t *v = make(seg, r[i].tc, s ? MPS_SYNC_NONE : MPS_SYNC_RLOCK);
			int64_t x;
			union cell before;
			cr_assert_eq(mps_value_set_i64(v, r[i].lo), 0, "'%c' low", r[i].tc);
			cr_assert_eq(mps_value_get_i64(v, &x), 0);
			cr_assert_eq(x, r[i].lo, "'%c' low read back %lld", r[i].tc, (long long)x);
			cr_assert_eq(mps_value_set_i64(v, r[i].hi), 0, "'%c' high", r[i].tc);
			cr_assert_eq(mps_value_get_i64(v, &x), 0);
			cr_assert_eq(x, r[i].hi);
			bytes_of(v, &before);
			if (r[i].lo != INT64_MIN)
				cr_assert_eq(mps_value_set_i64(v, r[i].lo - 1), ERANGE, "'%c' below", r[i].tc);
			if (!r[i].hi_is_max)
				cr_assert_eq(mps_value_set_i64(v, r[i].hi + 1), ERANGE, "'%c' above", r[i].tc);
			UNCHANGED(v, before, "a refused set_i64");
			/* add: overflow past the top is refused, the value stays. */
			cr_assert_eq(mps_value_add_i64(v, 1, &x), r[i].tc == 'c' || r[i].tc == 'u' ? EINVAL : ERANGE,
			             "'%c' add past the top", r[i].tc);
			UNCHANGED(v, before, "a refused add");
			mps_object_release(v);
		}
	}
	/* 'Q' above INT64_MAX: stored through the bytes, not readable as int64. */
	mps_value_t *q = make(seg, 'Q', MPS_SYNC_RLOCK);
	uint64_t big = UINT64_MAX;
	int64_t x = 42;
	double d;
	cr_assert_eq(mps_value_set(q, &big), 0);
	cr_assert_eq(mps_value_get_i64(q, &x), ERANGE);
	cr_assert_eq(x, 42, "a refused get wrote its output");
	cr_assert_eq(mps_value_get_f64(q, &d), 0);
	cr_assert_eq(d, 18446744073709551616.0);
	cr_assert_eq(mps_value_set_f64(q, 18446744073709551616.0), ERANGE);
	cr_assert_eq(mps_value_set_f64(q, 9223372036854775808.0), 0);
	cr_assert_eq(mps_value_get(q, &big), 0);
	cr_assert_eq(big, 1ull << 63);
	mps_object_release(q);
	segtest_end(a, seg);
}

Test(value, float_conversions)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_value_t *d = make(seg, 'd', MPS_SYNC_RLOCK);
	mps_value_t *f = make(seg, 'f', MPS_SYNC_NONE);
	mps_value_t *i = make(seg, 'i', MPS_SYNC_RLOCK);
	mps_value_t *c = make(seg, 'c', MPS_SYNC_RLOCK);
	mps_value_t *u = make(seg, 'u', MPS_SYNC_NONE);
	int64_t x;
	double y;
	union cell before;

	cr_assert_eq(mps_value_set_f64(d, 1.0 / 3), 0);
	cr_assert_eq(mps_value_get_f64(d, &y), 0);
	cr_assert_eq(y, 1.0 / 3);
	cr_assert_eq(mps_value_set_f64(d, -3.75), 0);
	cr_assert_eq(mps_value_get_i64(d, &x), 0);
	cr_assert_eq(x, -3, "int() truncates toward zero");
	cr_assert_eq(mps_value_set_i64(d, 1LL << 40), 0);
	cr_assert_eq(mps_value_get_f64(d, &y), 0);
	cr_assert_eq(y, 0x1p40);
	cr_assert_eq(mps_value_set_f64(d, 1e300), 0);
	cr_assert_eq(mps_value_get_i64(d, &x), ERANGE);
	cr_assert_eq(mps_value_set_f64(d, NAN), 0);
	cr_assert_eq(mps_value_get_i64(d, &x), ERANGE);
	cr_assert_eq(mps_value_get_f64(d, &y), 0);
	cr_assert(isnan(y));
	cr_assert_eq(mps_value_add_i64(d, 1, &x), EINVAL, "add_i64 is for integer typecodes");

	cr_assert_eq(mps_value_set_f64(f, 0.5), 0);
	bytes_of(f, &before);
	cr_assert_eq(mps_value_set_f64(f, 1e300), ERANGE, "'f' cannot hold 1e300");
	cr_assert_eq(mps_value_set_f64(f, -1e39), ERANGE);
	UNCHANGED(f, before, "a refused 'f' set");
	cr_assert_eq(mps_value_set_f64(f, INFINITY), 0);
	cr_assert_eq(mps_value_get_f64(f, &y), 0);
	cr_assert(isinf(y));
	cr_assert_eq(mps_value_set_f64(f, 3.5), 0);
	cr_assert_eq(mps_value_get_f64(f, &y), 0);
	cr_assert_eq(y, 3.5);

	cr_assert_eq(mps_value_set_f64(i, -7.0), 0);
	cr_assert_eq(mps_value_get_i64(i, &x), 0);
	cr_assert_eq(x, -7);
	bytes_of(i, &before);
	cr_assert_eq(mps_value_set_f64(i, 2.5), ERANGE, "a fraction in an int");
	cr_assert_eq(mps_value_set_f64(i, NAN), ERANGE);
	cr_assert_eq(mps_value_set_f64(i, 0x1p31), ERANGE);
	cr_assert_eq(mps_value_set_f64(i, -INFINITY), ERANGE);
	UNCHANGED(i, before, "a refused f64 set on 'i'");
	cr_assert_eq(mps_value_get_f64(i, &y), 0);
	cr_assert_eq(y, -7.0);

	y = 99;
	cr_assert_eq(mps_value_get_f64(c, &y), EINVAL);
	cr_assert_eq(mps_value_set_f64(c, 1.0), EINVAL);
	cr_assert_eq(mps_value_get_f64(u, &y), EINVAL);
	cr_assert_eq(mps_value_set_f64(u, 1.0), EINVAL);
	cr_assert_eq(y, 99);
	cr_assert_eq(mps_value_set_i64(u, 0x20ac), 0);
	wchar_t w;
	cr_assert_eq(mps_value_get(u, &w), 0);
	cr_assert_eq(w, L'\u20ac');
	segtest_end(a, seg);
}

/* ========================= 9.4 arrays ========================= */

static int role_prefix_sums(struct mps_area *a, int index)
{
	(void)index;
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	static const char *names[] = { "arr-lock", "arr-raw" };
	for (int n = 0; n < 2; n++) {
		mps_array_t *arr = segtest_find(seg, names[n], MPS_KIND_ARRAY);
		int32_t x[10];
		MPS_CHECK(arr && mps_array_len(arr) == 10 && mps_array_typecode(arr) == 'i');
		bool locked = mps_array_sync(arr) != MPS_SYNC_NONE;
		if (locked)
			MPS_CHECK(mps_array_acquire(arr, LONG_WAIT) == 0);
		MPS_CHECK(mps_array_read(arr, 0, 10, x) == 0);
		for (int i = 1; i < 10; i++)
			x[i] += x[i - 1];
		MPS_CHECK(mps_array_write(arr, 0, 10, x) == 0);
		if (locked)
			MPS_CHECK(mps_array_release(arr) == 0);
	}
	MPS_CHECK(mps_segment_close(seg) == 0);
	return 0;
}

MPS_FLAVOURS(value, array)
ParameterizedTest(enum mps_flavour *f, value, array)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	int32_t seq[10], x[10];
	for (int i = 0; i < 10; i++)
		seq[i] = i * i;  /* Python's test: [i for i in range(10)] squared */
	mps_array_t *arrs[2];
	cr_assert_eq(mps_segment_array(seg, "arr-lock", MPS_CREATE_ONLY, 'i', 10, seq, MPS_SYNC_RLOCK,
	                               NULL, &arrs[0]), 0);
	cr_assert_eq(mps_segment_array(seg, "arr-raw", MPS_CREATE_ONLY, 'i', 10, seq, MPS_SYNC_NONE,
	                               NULL, &arrs[1]), 0);
	int32_t expect[10];
	memcpy(expect, seq, sizeof expect);
	int32_t patch[4] = { -1, -2, -3, -4 };
	memcpy(expect + 4, patch, sizeof patch);
	for (int n = 0; n < 2; n++) {
		mps_array_t *arr = arrs[n];
		int32_t one = 0;
		cr_assert_eq(mps_array_len(arr), 10);
		cr_assert_eq(mps_array_get(arr, 5, &one), 0);
		cr_assert_eq(one, 25);
		cr_assert_eq(mps_array_read(arr, 2, 5, x), 0);   /* [2:7] */
		cr_assert(memcmp(x, seq + 2, 5 * sizeof x[0]) == 0);
		cr_assert_eq(mps_array_write(arr, 4, 4, patch), 0);   /* [4:8] */
		cr_assert_eq(mps_array_read(arr, 0, 10, x), 0);
		cr_assert(memcmp(x, expect, sizeof x) == 0);
		/* Past the end: ERANGE and nothing written. */
		cr_assert_eq(mps_array_get(arr, 10, &one), ERANGE);
		cr_assert_eq(mps_array_set(arr, 10, &one), ERANGE);
		cr_assert_eq(mps_array_read(arr, 8, 3, x), ERANGE);
		cr_assert_eq(mps_array_write(arr, 7, 4, seq), ERANGE);
		cr_assert_eq(mps_array_write(arr, SIZE_MAX, 2, seq), ERANGE);
		cr_assert_eq(mps_array_get_i64(arr, 11, &(int64_t){0}), ERANGE);
		cr_assert_eq(mps_array_set_i64(arr, 10, 1), ERANGE);
		cr_assert_eq(mps_array_read(arr, 10, 0, x), 0);
		cr_assert_eq(mps_array_read(arr, 0, 10, x), 0);
		cr_assert(memcmp(x, expect, sizeof x) == 0, "an ERANGE call wrote");
	}
	struct mps_workers w;
	start(&w, *f, a, role_prefix_sums, 1, 0);
	segtest_join(&w, JOIN_S, "prefix sums");
	for (int i = 1; i < 10; i++)
		expect[i] += expect[i - 1];
	for (int n = 0; n < 2; n++) {
		cr_assert_eq(mps_array_read(arrs[n], 0, 10, x), 0);
		cr_assert(memcmp(x, expect, sizeof x) == 0, "array %d: the child's sums are not seen", n);
	}
	segtest_end(a, seg);
}

/* 9.5: zero-filled without init, also when the memory is reused. */
Test(value, array_zero_filled)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	size_t free0 = mps_segment_free_bytes(seg);
	int32_t x[10], ones[10];
	for (int i = 0; i < 10; i++)
		ones[i] = -1;
	for (int round = 0; round < 3; round++) {
		mps_array_t *arr;
		cr_assert_eq(mps_segment_array(seg, "z", MPS_CREATE_ONLY, 'i', 10, NULL,
		                               round == 1 ? MPS_SYNC_NONE : MPS_SYNC_RLOCK, NULL, &arr), 0);
		cr_assert_eq(mps_array_read(arr, 0, 10, x), 0);
		for (int i = 0; i < 10; i++)
			cr_assert_eq(x[i], 0, "round %d: element %d is %d", round, i, x[i]);
		cr_assert_eq(mps_array_write(arr, 0, 10, ones), 0);   /* full slice */
		cr_assert_eq(mps_array_read(arr, 0, 10, x), 0);
		cr_assert(memcmp(x, ones, sizeof x) == 0);
		cr_assert_lt(mps_segment_free_bytes(seg), free0);
		cr_assert_eq(mps_segment_remove(seg, "z"), 0);
		cr_assert_eq(mps_segment_free_bytes(seg), free0, "round %d: space not given back", round);
	}
	mps_array_t *empty;
	cr_assert_eq(mps_segment_array(seg, "e", MPS_CREATE_ONLY, 'd', 0, NULL, MPS_SYNC_RLOCK, NULL,
	                               &empty), 0);
	cr_assert_eq(mps_array_len(empty), 0);
	cr_assert_eq(mps_array_read(empty, 0, 0, x), 0);
	cr_assert_eq(mps_array_get(empty, 0, x), ERANGE);
	mps_array_t *huge = NULL;
	cr_assert_eq(mps_segment_array(seg, "h", MPS_CREATE_ONLY, 'q', SIZE_MAX / 4, NULL,
	                               MPS_SYNC_NONE, NULL, &huge), ENOSPC);
	cr_assert_eq(mps_segment_array(seg, "h", MPS_CREATE_ONLY, 'q', SEG_SIZE / 8, NULL,
	                               MPS_SYNC_NONE, NULL, &huge), ENOSPC);
	cr_assert_null(huge);
	segtest_end(a, seg);
}

/* ===================== 9.6 mixed objects in a child ===================== */

static int role_double_all(struct mps_area *a, int index)
{
	(void)index;
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	static const char *sfx[] = { "raw", "lock" };
	for (int s = 0; s < 2; s++) {
		char name[32];
		int64_t x;
		double y, arr[4];
		char str[20];
		snprintf(name, sizeof name, "int-%s", sfx[s]);
		mps_value_t *vi = segtest_find(seg, name, MPS_KIND_VALUE);
		snprintf(name, sizeof name, "dbl-%s", sfx[s]);
		mps_value_t *vd = segtest_find(seg, name, MPS_KIND_VALUE);
		snprintf(name, sizeof name, "ll-%s", sfx[s]);
		mps_value_t *vq = segtest_find(seg, name, MPS_KIND_VALUE);
		snprintf(name, sizeof name, "darr-%s", sfx[s]);
		mps_array_t *da = segtest_find(seg, name, MPS_KIND_ARRAY);
		snprintf(name, sizeof name, "str-%s", sfx[s]);
		mps_array_t *sa = segtest_find(seg, name, MPS_KIND_ARRAY);
		MPS_CHECK(vi && vd && vq && da && sa);
		MPS_CHECK(mps_value_get_i64(vi, &x) == 0 && mps_value_set_i64(vi, 2 * x) == 0);
		MPS_CHECK(mps_value_get_f64(vd, &y) == 0 && mps_value_set_f64(vd, 2 * y) == 0);
		MPS_CHECK(mps_value_get_i64(vq, &x) == 0 && mps_value_set_i64(vq, 2 * x) == 0);
		MPS_CHECK(mps_array_read(da, 0, 4, arr) == 0);
		for (int i = 0; i < 4; i++)
			arr[i] *= 2;
		MPS_CHECK(mps_array_write(da, 0, 4, arr) == 0);
		/* string.value = string.value * 2 */
		MPS_CHECK(mps_array_read(sa, 0, sizeof str, str) == 0);
		size_t len = strnlen(str, sizeof str);
		MPS_CHECK(2 * len <= sizeof str);
		MPS_CHECK(mps_array_write(sa, len, len, str) == 0);
	}
	MPS_CHECK(mps_segment_close(seg) == 0);
	return 0;
}

MPS_FLAVOURS(value, mixed_objects)
ParameterizedTest(enum mps_flavour *f, value, mixed_objects)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	static const char *sfx[] = { "raw", "lock" };
	mps_value_t *vi[2], *vd[2], *vq[2];
	mps_array_t *da[2], *sa[2];
	for (int s = 0; s < 2; s++) {
		enum mps_sync sync = s ? MPS_SYNC_RLOCK : MPS_SYNC_NONE;
		char name[32];
		int32_t i = 7;
		double d = 1.0 / 3, arr[4] = { 1, 2.5, -3.25, 1e100 };
		int64_t q = 1LL << 33;
		snprintf(name, sizeof name, "int-%s", sfx[s]);
		cr_assert_eq(mps_segment_value(seg, name, MPS_CREATE_ONLY, 'i', &i, sync, NULL, &vi[s]), 0);
		snprintf(name, sizeof name, "dbl-%s", sfx[s]);
		cr_assert_eq(mps_segment_value(seg, name, MPS_CREATE_ONLY, 'd', &d, sync, NULL, &vd[s]), 0);
		snprintf(name, sizeof name, "ll-%s", sfx[s]);
		cr_assert_eq(mps_segment_value(seg, name, MPS_CREATE_ONLY, 'q', &q, sync, NULL, &vq[s]), 0);
		snprintf(name, sizeof name, "darr-%s", sfx[s]);
		cr_assert_eq(mps_segment_array(seg, name, MPS_CREATE_ONLY, 'd', 4, arr, sync, NULL,
		                               &da[s]), 0);
		snprintf(name, sizeof name, "str-%s", sfx[s]);
		cr_assert_eq(mps_segment_array(seg, name, MPS_CREATE_ONLY, 'c', 20, NULL, sync, NULL,
		                               &sa[s]), 0);
		cr_assert_eq(mps_array_write(sa[s], 0, 5, "hello"), 0);
	}
	struct mps_workers w;
	start(&w, *f, a, role_double_all, 1, 0);
	segtest_join(&w, JOIN_S, "mixed objects");
	for (int s = 0; s < 2; s++) {
		int64_t x;
		double y, arr[4];
		char str[21] = { 0 };
		cr_assert_eq(mps_value_get_i64(vi[s], &x), 0);
		cr_assert_eq(x, 14);
		cr_assert_eq(mps_value_get_f64(vd[s], &y), 0);
		cr_assert_eq(y, 2.0 / 3);
		cr_assert_eq(mps_value_get_i64(vq[s], &x), 0);
		cr_assert_eq(x, 1LL << 34);
		cr_assert_eq(mps_array_read(da[s], 0, 4, arr), 0);
		cr_assert(arr[0] == 2 && arr[1] == 5 && arr[2] == -6.5 && arr[3] == 2e100);
		cr_assert_eq(mps_array_read(sa[s], 0, 20, str), 0);
		cr_assert_str_eq(str, "hellohello");
	}
	segtest_end(a, seg);
}

/* ======================= 9.8 atomic updates ======================= */

static int role_adder(struct mps_area *a, int index)
{
	(void)index;
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	mps_value_t *add = segtest_find(seg, "add", MPS_KIND_VALUE);
	mps_value_t *raw = segtest_find(seg, "raw", MPS_KIND_VALUE);
	mps_value_t *rmw = segtest_find(seg, "rmw", MPS_KIND_VALUE);
	mps_value_t *given = segtest_find(seg, "rmw-given", MPS_KIND_VALUE);
	mps_array_t *arr = segtest_find(seg, "arr", MPS_KIND_ARRAY);
	/* A halfword: its compare-and-swap goes through the word around it. */
	mps_value_t *raw16 = segtest_find(seg, "raw16", MPS_KIND_VALUE);
	MPS_CHECK(add && raw && rmw && given && arr && raw16);
	MPS_CHECK(gate(a));
	/* A tight loop first, so that the raw compare-and-swap really races. */
	for (int i = 0; i < RAW_ROUNDS; i++) {
		int64_t x;
		MPS_CHECK(mps_value_add_i64(raw, 1, &x) == 0 && x >= 1);
		MPS_CHECK(mps_value_add_i64(add, 1, NULL) == 0);
		if (i % 2 == 0)   /* 'H' holds N_ADDERS * RAW_ROUNDS / 2 */
			MPS_CHECK(mps_value_add_i64(raw16, 1, NULL) == 0);
	}
	for (int i = 0; i < N_ROUNDS; i++) {
		int64_t x;
		/* with v.get_lock(): v.value += 1, the nested get/set re-entering */
		MPS_CHECK(mps_value_acquire(rmw, LONG_WAIT) == 0);
		MPS_CHECK(mps_value_get_i64(rmw, &x) == 0 && mps_value_set_i64(rmw, x + 1) == 0);
		MPS_CHECK(mps_value_release(rmw) == 0);
		MPS_CHECK(mps_value_acquire(given, LONG_WAIT) == 0);
		MPS_CHECK(mps_value_get_i64(given, &x) == 0 && mps_value_set_i64(given, x + 1) == 0);
		MPS_CHECK(mps_value_release(given) == 0);
		/* Both elements of the array move together under one acquisition. */
		int64_t pair[2];
		MPS_CHECK(mps_array_acquire(arr, LONG_WAIT) == 0);
		MPS_CHECK(mps_array_read(arr, 0, 2, pair) == 0 && pair[0] == -pair[1]);
		pair[0]++;
		pair[1]--;
		MPS_CHECK(mps_array_write(arr, 0, 2, pair) == 0);
		MPS_CHECK(mps_array_release(arr) == 0);
	}
	MPS_CHECK(mps_segment_close(seg) == 0);
	return 0;
}

MPS_FLAVOURS(value, atomic_updates)
ParameterizedTest(enum mps_flavour *f, value, atomic_updates)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_value_t *v[4];
	mps_array_t *arr;
	mps_rlock_t *r;
	cr_assert_eq(mps_segment_rlock(seg, "r", MPS_CREATE_ONLY, &r), 0);
	cr_assert_eq(mps_segment_value(seg, "add", MPS_CREATE_ONLY, 'q', NULL, MPS_SYNC_RLOCK, NULL,
	                               &v[0]), 0);
	cr_assert_eq(mps_segment_value(seg, "raw", MPS_CREATE_ONLY, 'i', NULL, MPS_SYNC_NONE, NULL,
	                               &v[1]), 0);
	cr_assert_eq(mps_segment_value(seg, "rmw", MPS_CREATE_ONLY, 'l', NULL, MPS_SYNC_RLOCK, NULL,
	                               &v[2]), 0);
	cr_assert_eq(mps_segment_value(seg, "rmw-given", MPS_CREATE_ONLY, 'I', NULL,
	                               MPS_SYNC_GIVEN_RLOCK, r, &v[3]), 0);
	cr_assert_eq(mps_segment_array(seg, "arr", MPS_CREATE_ONLY, 'q', 2, NULL, MPS_SYNC_RLOCK, NULL,
	                               &arr), 0);
	mps_value_t *raw16;
	cr_assert_eq(mps_segment_value(seg, "raw16", MPS_CREATE_ONLY, 'H', NULL, MPS_SYNC_NONE, NULL,
	                               &raw16), 0);
	struct mps_workers w;
	start(&w, *f, a, role_adder, N_ADDERS, 0);
	open_gate(a, N_ADDERS);
	segtest_join(&w, JOIN_S, "atomic updates");
	for (int i = 0; i < 4; i++) {
		int64_t x;
		cr_assert_eq(mps_value_get_i64(v[i], &x), 0);
		cr_assert_eq(x, N_ADDERS * (i < 2 ? RAW_ROUNDS : N_ROUNDS), "value %d: total %lld", i,
		             (long long)x);
	}
	int64_t pair[2], x16;
	cr_assert_eq(mps_array_read(arr, 0, 2, pair), 0);
	cr_assert(pair[0] == N_ADDERS * N_ROUNDS && pair[1] == -pair[0]);
	cr_assert_eq(mps_value_get_i64(raw16, &x16), 0);
	cr_assert_eq(x16, N_ADDERS * RAW_ROUNDS / 2, "raw 'H' total %lld", (long long)x16);
	segtest_end(a, seg);
}

/* Get/set really take a given lock: one held elsewhere blocks them. */
static int role_set_blocked(struct mps_area *a, int index)
{
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	mps_value_t *v = segtest_find(seg, "gv", MPS_KIND_VALUE);
	MPS_CHECK(v);
	announce(a, index);
	MPS_CHECK(mps_value_set_i64(v, 77) == 0);
	mps_count_add(&a->counter[C_DONE], 1);
	MPS_CHECK(mps_segment_close(seg) == 0);
	return 0;
}

MPS_FLAVOURS(value, given_lock_blocks)
ParameterizedTest(enum mps_flavour *f, value, given_lock_blocks)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_lock_t *l;
	mps_value_t *v;
	cr_assert_eq(mps_segment_lock(seg, "gl", MPS_CREATE_ONLY, &l), 0);
	cr_assert_eq(mps_segment_value(seg, "gv", MPS_CREATE_ONLY, 'i', NULL, MPS_SYNC_LOCK, l, &v), 0);
	cr_assert_eq(mps_lock_acquire(l, 0), 0);
	struct mps_workers w;
	start(&w, *f, a, role_set_blocked, 1, 0);
	await_blocked(a, 0, "set under a held Lock");
	cr_assert_eq(count(a, C_DONE), 0, "set did not wait for the given Lock");
	cr_assert_eq(mps_lock_release(l), 0);
	segtest_join(&w, JOIN_S, "set under a held Lock");
	int64_t x;
	cr_assert_eq(mps_value_get_i64(v, &x), 0);
	cr_assert_eq(x, 77);
	segtest_end(a, seg);
}

/* ========================= owner death ========================= */

/* area->arg: 0 = own RLock, the holder returns (exits); 1 = given Lock, the
 * holder waits to be killed. */
static int role_die_holding(struct mps_area *a, int index)
{
	(void)index;
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	mps_value_t *v = segtest_find(seg, "dv", MPS_KIND_VALUE);
	mps_array_t *arr = segtest_find(seg, "da", MPS_KIND_ARRAY);
	MPS_CHECK(v && arr);
	/* Before the acquire: a given Lock is not recursive (as in Python). */
	MPS_CHECK(mps_value_set_i64(v, 3) == 0);
	MPS_CHECK(mps_value_acquire(v, LONG_WAIT) == 0);
	MPS_CHECK(mps_array_acquire(arr, LONG_WAIT) == 0);
	mps_count_add(&a->counter[C_HELD], 1);
	if (a->arg == 0)
		return 0;   /* the process exits holding both */
	double end = mps_now() + LONG_WAIT;
	while (mps_now() < end)
		mps_sleep(0.01);
	return 1;
}

static void die_holding(enum mps_flavour f, int64_t how)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_lock_t *l;
	mps_value_t *v;
	mps_array_t *arr;
	enum mps_sync sync = how ? MPS_SYNC_LOCK : MPS_SYNC_RLOCK;
	cr_assert_eq(mps_segment_lock(seg, "l", MPS_CREATE_ONLY, &l), 0);
	cr_assert_eq(mps_segment_value(seg, "dv", MPS_CREATE_ONLY, 'h', NULL, sync, how ? l : NULL,
	                               &v), 0);
	cr_assert_eq(mps_segment_array(seg, "da", MPS_CREATE_ONLY, 'h', 3, NULL, MPS_SYNC_RLOCK, NULL,
	                               &arr), 0);
	a->arg = how;
	struct mps_workers w;
	start(&w, f, a, role_die_holding, 1, 0);
	cr_assert(mps_count_await(&a->counter[C_HELD], 1, JOIN_S), "the holder never got the locks");
	if (how)
		mps_workers_kill(&w, SIGKILL);
	int failed = mps_workers_join_report(&w, how ? 1 : 0, JOIN_S, "die holding");
	cr_assert_eq(failed, how ? 1 : 0);

	int64_t x = 0;
	if (how)
		cr_assert_eq(mps_value_add_i64(v, 5, &x), EOWNERDEAD, "the dead holder is reported");
	else
		cr_assert_eq(mps_value_set_i64(v, 8), EOWNERDEAD, "the dead holder is reported");
	cr_assert_eq(mps_value_get_i64(v, &x), 0, "the lock was released after EOWNERDEAD");
	cr_assert_eq(x, 8, "the %s was done", how ? "add" : "set");
	int16_t h = 4;
	cr_assert_eq(mps_array_set(arr, 2, &h), EOWNERDEAD);
	h = 0;
	cr_assert_eq(mps_array_get(arr, 2, &h), 0);
	cr_assert_eq(h, 4);
	cr_assert(!mps_lock_locked(l) || !how);
	segtest_end(a, seg);
}

MPS_PROCESS_FLAVOURS(value, owner_exits)
ParameterizedTest(enum mps_flavour *f, value, owner_exits)
{
	die_holding(*f, 0);
}

MPS_PROCESS_FLAVOURS(value, owner_killed)
ParameterizedTest(enum mps_flavour *f, value, owner_killed)
{
	die_holding(*f, 1);
}

/* ====================== primitives by name ====================== */

/* 10.16: a Lock taken in the worker is released by the parent; an RLock
 * held by the worker cannot be. */
static int role_take_locks(struct mps_area *a, int index)
{
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	mps_lock_t *l;
	mps_rlock_t *r;
	mps_event_t *go;
	MPS_CHECK(mps_segment_lock(seg, "L", MPS_OPEN_ONLY, &l) == 0);
	MPS_CHECK(mps_segment_rlock(seg, "R", MPS_OPEN_ONLY, &r) == 0);
	MPS_CHECK(mps_segment_event(seg, "go", MPS_OPEN_ONLY, &go) == 0);
	announce(a, index);
	MPS_CHECK(mps_lock_acquire(l, LONG_WAIT) == 0);
	MPS_CHECK(mps_rlock_acquire(r, LONG_WAIT) == 0);
	MPS_CHECK(mps_rlock_acquire(r, LONG_WAIT) == 0);
	mps_count_add(&a->counter[C_HELD], 1);
	MPS_CHECK(mps_event_wait(go, LONG_WAIT) == 0);
	MPS_CHECK(mps_rlock_release(r) == 0 && mps_rlock_release(r) == 0);
	MPS_CHECK(mps_rlock_release(r) == EPERM);
	MPS_CHECK(mps_segment_close(seg) == 0);
	return 0;
}

MPS_FLAVOURS(byname, locks)
ParameterizedTest(enum mps_flavour *f, byname, locks)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_lock_t *l;
	mps_rlock_t *r;
	mps_event_t *go;
	cr_assert_eq(mps_segment_lock(seg, "L", MPS_CREATE_ONLY, &l), 0);
	cr_assert_eq(mps_segment_rlock(seg, "R", MPS_CREATE_ONLY, &r), 0);
	cr_assert_eq(mps_segment_event(seg, "go", MPS_CREATE_ONLY, &go), 0);
	struct mps_workers w;
	start(&w, *f, a, role_take_locks, 1, 0);
	cr_assert(mps_count_await(&a->counter[C_HELD], 1, JOIN_S));
	pid_t tid = announced(a, 0);
	cr_assert(mps_lock_locked(l));
	cr_assert_eq(mps_lock_owner(l), tid);
	cr_assert_eq(mps_rlock_owner(r), tid);
	cr_assert_eq(mps_rlock_release(r), EPERM, "an RLock is released by its owner only");
	cr_assert_eq(mps_lock_release(l), 0, "a Lock is released by anyone");
	cr_assert_eq(mps_lock_release(l), EPERM, "a second release");
	cr_assert_eq(mps_lock_acquire(l, 0), 0);
	cr_assert_eq(mps_lock_release(l), 0);
	mps_event_set(go);
	segtest_join(&w, JOIN_S, "locks by name");
	cr_assert(!mps_rlock_locked(r));
	segtest_end(a, seg);
}

static int role_sem_event(struct mps_area *a, int index)
{
	(void)index;
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	mps_sem_t *s, *three, *bs;
	mps_event_t *e, *back;
	MPS_CHECK(mps_segment_semaphore(seg, "S", MPS_OPEN_ONLY, 99, &s) == 0);
	MPS_CHECK(mps_segment_semaphore(seg, "S3", MPS_OPEN_OR_CREATE, 99, &three) == 0);
	MPS_CHECK(mps_segment_bounded_semaphore(seg, "BS", MPS_OPEN_ONLY, 99, &bs) == 0);
	MPS_CHECK(mps_segment_event(seg, "E", MPS_OPEN_ONLY, &e) == 0);
	MPS_CHECK(mps_segment_event(seg, "back", MPS_OPEN_ONLY, &back) == 0);
	MPS_CHECK(mps_sem_value(three) == 3);     /* the parameter of the creator */
	MPS_CHECK(mps_sem_bound(bs) == 1);
	MPS_CHECK(mps_sem_release(bs, 1) == EOVERFLOW);
	MPS_CHECK(mps_sem_acquire(bs, LONG_WAIT) == 0);
	MPS_CHECK(mps_sem_release(bs, 1) == 0);
	MPS_CHECK(mps_sem_release(s, 1) == 0 && mps_sem_release(s, 2) == 0);
	MPS_CHECK(mps_event_wait(e, LONG_WAIT) == 0);
	mps_event_set(back);
	MPS_CHECK(mps_segment_close(seg) == 0);
	return 0;
}

MPS_FLAVOURS(byname, semaphore_event)
ParameterizedTest(enum mps_flavour *f, byname, semaphore_event)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_sem_t *s, *three, *bs;
	mps_event_t *e, *back;
	cr_assert_eq(mps_segment_semaphore(seg, "S", MPS_CREATE_ONLY, 0, &s), 0);
	cr_assert_eq(mps_segment_semaphore(seg, "S3", MPS_CREATE_ONLY, 3, &three), 0);
	cr_assert_eq(mps_segment_bounded_semaphore(seg, "BS", MPS_CREATE_ONLY, 1, &bs), 0);
	cr_assert_eq(mps_segment_event(seg, "E", MPS_CREATE_ONLY, &e), 0);
	cr_assert_eq(mps_segment_event(seg, "back", MPS_CREATE_ONLY, &back), 0);
	cr_assert(mps_sem_is_bounded(bs) && !mps_sem_is_bounded(s));
	struct mps_workers w;
	start(&w, *f, a, role_sem_event, 1, 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(mps_sem_acquire(s, JOIN_S), 0, "release %d from the worker", i);
	cr_assert_eq(mps_sem_acquire(s, 0), ETIMEDOUT);
	mps_event_set(e);
	cr_assert_eq(mps_event_wait(back, JOIN_S), 0);
	segtest_join(&w, JOIN_S, "semaphore and event by name");
	cr_assert_eq(mps_sem_value(bs), 1);
	cr_assert_eq(mps_sem_value(three), 3);
	segtest_end(a, seg);
}

static int role_cond(struct mps_area *a, int index)
{
	(void)index;
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	mps_lock_t *l;
	mps_cond_t *c;
	MPS_CHECK(mps_segment_lock(seg, "CL", MPS_OPEN_ONLY, &l) == 0);
	MPS_CHECK(mps_segment_condition(seg, "C", MPS_OPEN_ONLY, &c) == 0);
	MPS_CHECK(mps_lock_acquire(l, LONG_WAIT) == 0);
	mps_count_add(&a->counter[C_READY], 1);
	double end = mps_now() + LONG_WAIT;
	while (!__atomic_load_n(&a->value[0], __ATOMIC_SEQ_CST) && mps_now() < end)
		MPS_CHECK(mps_cond_wait_lock(c, l, LONG_WAIT) == 0);
	MPS_CHECK(__atomic_load_n(&a->value[0], __ATOMIC_SEQ_CST) == 1);
	MPS_CHECK(mps_lock_release(l) == 0);
	MPS_CHECK(mps_segment_close(seg) == 0);
	return 0;
}

MPS_FLAVOURS(byname, condition)
ParameterizedTest(enum mps_flavour *f, byname, condition)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_lock_t *l;
	mps_cond_t *c;
	cr_assert_eq(mps_segment_lock(seg, "CL", MPS_CREATE_ONLY, &l), 0);
	cr_assert_eq(mps_segment_condition(seg, "C", MPS_CREATE_ONLY, &c), 0);
	struct mps_workers w;
	start(&w, *f, a, role_cond, 1, 0);
	cr_assert(mps_count_await(&a->counter[C_READY], 1, JOIN_S));
	/* The worker announced while holding CL: we get CL once it waits. */
	cr_assert_eq(mps_lock_acquire(l, JOIN_S), 0);
	cr_assert_eq(mps_cond_n_waiting(c), 1);
	__atomic_store_n(&a->value[0], 1, __ATOMIC_SEQ_CST);
	cr_assert_eq(mps_cond_notify(c, 1), 0);
	cr_assert_eq(mps_lock_release(l), 0);
	segtest_join(&w, JOIN_S, "condition by name");
	cr_assert_eq(mps_cond_n_waiting(c), 0);
	segtest_end(a, seg);
}

static int role_barrier(struct mps_area *a, int index)
{
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	mps_barrier_t *b;
	MPS_CHECK(mps_segment_barrier(seg, "B3", MPS_OPEN_ONLY, 99, 0, &b) == 0);
	MPS_CHECK(mps_barrier_parties(b) == 3);
	for (int round = 0; round < 2; round++) {
		unsigned i = 99;
		MPS_CHECK(mps_barrier_wait(b, LONG_WAIT, &i) == 0);
		MPS_CHECK(i < 3);
		mps_count_add(&a->counter[C_DONE], 1u << (8 * round + i));
	}
	(void)index;
	MPS_CHECK(mps_segment_close(seg) == 0);
	return 0;
}

MPS_FLAVOURS(byname, barrier)
ParameterizedTest(enum mps_flavour *f, byname, barrier)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_barrier_t *b;
	cr_assert_eq(mps_segment_barrier(seg, "B3", MPS_CREATE_ONLY, 3, MPS_FOREVER, &b), 0);
	struct mps_workers w;
	start(&w, *f, a, role_barrier, 2, 0);
	for (int round = 0; round < 2; round++) {
		unsigned i = 99;
		cr_assert_eq(mps_barrier_wait(b, JOIN_S, &i), 0, "round %d", round);
		cr_assert_lt(i, 3);
		mps_count_add(&a->counter[C_DONE], 1u << (8 * round + i));
	}
	segtest_join(&w, JOIN_S, "barrier by name");
	/* Each round handed out the indexes 0, 1, 2 once each. */
	cr_assert_eq(count(a, C_DONE), 0x0707u, "indexes %#x", count(a, C_DONE));
	cr_assert(!mps_barrier_broken(b));
	cr_assert_eq(mps_barrier_n_waiting(b), 0);
	segtest_end(a, seg);
}

/* Name rules of the constructors: kind, mode, length. */
Test(byname, errors)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_lock_t *l, *l2;
	mps_rlock_t *r;
	mps_sem_t *s;
	mps_event_t *e;
	mps_cond_t *c;
	mps_barrier_t *b;
	mps_value_t *v;
	cr_assert_eq(mps_segment_lock(seg, "L", MPS_CREATE_ONLY, &l), 0);
	cr_assert_eq(mps_segment_lock(seg, "L", MPS_OPEN_OR_CREATE, &l2), 0);
	cr_assert_eq(l2, l);
	cr_assert_eq(mps_segment_lock(seg, "L", MPS_OPEN_ONLY, &l2), 0);
	cr_assert_eq(l2, l);
	cr_assert_eq(mps_object_kind(l), MPS_KIND_LOCK);

	cr_assert_eq(mps_segment_lock(seg, "L", MPS_CREATE_ONLY, &l2), EEXIST);
	cr_assert_eq(mps_segment_rlock(seg, "L", MPS_OPEN_OR_CREATE, &r), EPROTOTYPE);
	cr_assert_eq(mps_segment_semaphore(seg, "L", MPS_OPEN_ONLY, 1, &s), EPROTOTYPE);
	cr_assert_eq(mps_segment_bounded_semaphore(seg, "L", MPS_OPEN_OR_CREATE, 1, &s), EPROTOTYPE);
	cr_assert_eq(mps_segment_event(seg, "L", MPS_OPEN_OR_CREATE, &e), EPROTOTYPE);
	cr_assert_eq(mps_segment_condition(seg, "L", MPS_OPEN_OR_CREATE, &c), EPROTOTYPE);
	cr_assert_eq(mps_segment_barrier(seg, "L", MPS_OPEN_OR_CREATE, 2, 1, &b), EPROTOTYPE);
	cr_assert_eq(mps_segment_value(seg, "L", MPS_OPEN_OR_CREATE, 'i', NULL, MPS_SYNC_RLOCK, NULL,
	                               &v), EPROTOTYPE);
	cr_assert_eq(mps_segment_semaphore(seg, "S", MPS_CREATE_ONLY, 1, &s), 0);
	cr_assert_eq(mps_segment_bounded_semaphore(seg, "S", MPS_OPEN_OR_CREATE, 1, &s), EPROTOTYPE,
	             "a Semaphore is not a BoundedSemaphore");

	cr_assert_eq(mps_segment_lock(seg, "none", MPS_OPEN_ONLY, &l2), ENOENT);
	cr_assert_eq(mps_segment_rlock(seg, "none", MPS_OPEN_ONLY, &r), ENOENT);
	cr_assert_eq(mps_segment_semaphore(seg, "none", MPS_OPEN_ONLY, 1, &s), ENOENT);
	cr_assert_eq(mps_segment_bounded_semaphore(seg, "none", MPS_OPEN_ONLY, 1, &s), ENOENT);
	cr_assert_eq(mps_segment_event(seg, "none", MPS_OPEN_ONLY, &e), ENOENT);
	cr_assert_eq(mps_segment_condition(seg, "none", MPS_OPEN_ONLY, &c), ENOENT);
	cr_assert_eq(mps_segment_barrier(seg, "none", MPS_OPEN_ONLY, 2, 1, &b), ENOENT);
	cr_assert_eq(mps_segment_value(seg, "none", MPS_OPEN_ONLY, 'i', NULL, MPS_SYNC_RLOCK, NULL,
	                               &v), ENOENT);

	char name[80];
	memset(name, 'n', sizeof name);
	name[MPS_OBJ_NAME_MAX] = 0;   /* 63 bytes: the longest */
	cr_assert_eq(mps_segment_event(seg, name, MPS_CREATE_ONLY, &e), 0);
	cr_assert_eq(mps_segment_event(seg, name, MPS_OPEN_ONLY, &e), 0);
	name[MPS_OBJ_NAME_MAX] = 'n';
	name[MPS_OBJ_NAME_MAX + 1] = 0;   /* 64 bytes */
	cr_assert_eq(mps_segment_lock(seg, name, MPS_OPEN_OR_CREATE, &l2), ENAMETOOLONG);
	cr_assert_eq(mps_segment_rlock(seg, name, MPS_CREATE_ONLY, &r), ENAMETOOLONG);
	cr_assert_eq(mps_segment_semaphore(seg, name, MPS_OPEN_OR_CREATE, 1, &s), ENAMETOOLONG);
	cr_assert_eq(mps_segment_barrier(seg, name, MPS_OPEN_OR_CREATE, 2, 1, &b), ENAMETOOLONG);
	cr_assert_eq(mps_segment_value(seg, name, MPS_OPEN_OR_CREATE, 'i', NULL, MPS_SYNC_RLOCK, NULL,
	                               &v), ENAMETOOLONG);
	name[70] = 0;
	cr_assert_eq(mps_segment_event(seg, name, MPS_OPEN_ONLY, &e), ENAMETOOLONG);

	struct mps_segment_info info;
	cr_assert_eq(mps_segment_info(seg, &info), 0);
	cr_assert_eq(info.names, 3, "L, S and the 63-byte event: %u names", info.names);
	segtest_end(a, seg);
}
