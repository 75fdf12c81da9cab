/* The mpsync rows of the manager family, through the public API only:
 * every object lives in its own anonymous segment (MAP_SHARED, made before
 * the fork, so producer and consumer inherit it), made fresh for each run.
 *
 *   queue  mps_segment_queue, unbounded by count, 64 KiB of records (like a
 *          pipe's default buffer); put / get with MPS_FOREVER
 *   dict   mps_segment_dict; set then get of an int key, MGR_KEYS keys
 *          cycling, int values; the value read back is checked
 *   value  Value('i') with its own RLock (Python's default): either
 *          acquire + get + set + release (Python's "with v.get_lock():
 *          v.value += 1") or mps_value_add_i64; the final count is checked
 *   retain a reference taken and dropped on that Value: mps_object_retain +
 *          mps_object_release, or mps_segment_get by name + release (what
 *          a pickle's load or a proxy's copy costs); both take the segment
 *          guard, so the count returned to 1 is checked at the end */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <mpsync/segment.h>
#include <mpsync/queue.h>
#include <mpsync/container.h>
#include <mpsync/value.h>
#include "bench.h"

#define SEG_SIZE    (4u << 20)
#define QUEUE_BYTES (64u << 10)

struct sobj {
	mps_segment_t *seg;
	void *obj;
};

const char *err_text(int code)
{
	return code == MPS_EBROKEN ? mps_strerror(code) : strerror(code);
}

/* A segment, or the error with the call that failed in note. */
static struct sobj *sobj_new(char *note, size_t n, int *err)
{
	struct sobj *s = calloc(1, sizeof *s);
	if (!s) {
		*err = ENOMEM;
		return NULL;
	}
	*err = mps_segment_create_anonymous(SEG_SIZE, &s->seg);
	if (*err) {
		snprintf(note, n, "mps_segment_create_anonymous: %s", err_text(*err));
		free(s);
		return NULL;
	}
	return s;
}

static void sobj_close(void *ctx)
{
	struct sobj *s = ctx;
	mps_segment_close(s->seg);
	free(s);
}

static int sobj_fail(struct sobj *s, const char *call, int err, char *note, size_t n)
{
	snprintf(note, n, "%s: %s", call, err_text(err));
	sobj_close(s);
	return err;
}

/* ---- Queue ---- */

static int queue_open(void **ctx, char *note, size_t n)
{
	int err;
	struct sobj *s = sobj_new(note, n, &err);
	if (!s)
		return err;
	mps_queue_t *q;
	err = mps_segment_queue(s->seg, "bench-queue", MPS_CREATE_ONLY, 0, QUEUE_BYTES, &q);
	if (err)
		return sobj_fail(s, "mps_segment_queue", err, note, n);
	s->obj = q;
	*ctx = s;
	snprintf(note, n, "depth %zu items (%u KiB)",
	         mps_queue_capacity(q) / (MGR_ITEM + MPS_QUEUE_RECORD_HEADER), QUEUE_BYTES >> 10);
	return 0;
}

static int queue_put(void *ctx, const void *item)
{
	struct sobj *s = ctx;
	return mps_queue_put(s->obj, item, MGR_ITEM, MPS_FOREVER);
}

static int queue_get(void *ctx, void *item)
{
	struct sobj *s = ctx;
	size_t len = 0;
	int err = mps_queue_get(s->obj, item, MGR_ITEM, &len, MPS_FOREVER);
	return err ? err : len == MGR_ITEM ? 0 : EBADMSG;
}

const struct chan_impl chan_mps_queue = {
	"mpsync", ROLE_MPS, queue_open, queue_put, queue_get, sobj_close
};

/* ---- dict ---- */

static int dict_open(void **ctx, char *note, size_t n)
{
	int err;
	struct sobj *s = sobj_new(note, n, &err);
	if (!s)
		return err;
	mps_dict_t *d;
	err = mps_segment_dict(s->seg, "bench-dict", MPS_CREATE_ONLY, &d);
	if (err)
		return sobj_fail(s, "mps_segment_dict", err, note, n);
	s->obj = d;
	*ctx = s;
	snprintf(note, n, "%d int keys, int values", MGR_KEYS);
	return 0;
}

static int dict_loop(void *ctx, long n)
{
	struct sobj *s = ctx;
	for (long i = 0; i < n; i++) {
		mps_var_t key = mps_int(i % MGR_KEYS), val = mps_int(i), got;
		int err = mps_dict_set(s->obj, &key, &val);
		if (!err)
			err = mps_dict_get(s->obj, &key, &got, (mps_out_t){ NULL, 0 });
		if (err)
			return err;
		if (got.type != MPS_INT || got.i != i)
			return EBADMSG;
	}
	return 0;
}

const struct loop_impl loop_mps_dict = { "mpsync", ROLE_MPS, dict_open, dict_loop, sobj_close };

/* ---- Value ---- */

static int value_open(void **ctx, char *note, size_t n)
{
	int err;
	struct sobj *s = sobj_new(note, n, &err);
	if (!s)
		return err;
	mps_value_t *v;
	err = mps_segment_value(s->seg, "bench-value", MPS_CREATE_ONLY, 'i', NULL, MPS_SYNC_RLOCK,
	                        NULL, &v);
	if (err)
		return sobj_fail(s, "mps_segment_value", err, note, n);
	s->obj = v;
	*ctx = s;
	snprintf(note, n, "Value('i'), own RLock");
	return 0;
}

/* Every loop starts from 0, so a long run never overflows the int32 cell. */
static int value_check(mps_value_t *v, long n)
{
	int64_t got;
	int err = mps_value_get_i64(v, &got);
	return err ? err : got == n ? 0 : EBADMSG;
}

static int value_locked_loop(void *ctx, long n)
{
	struct sobj *s = ctx;
	mps_value_t *v = s->obj;
	int err = mps_value_set_i64(v, 0);
	for (long i = 0; i < n && !err; i++) {
		int64_t x = 0;
		err = mps_value_acquire(v, MPS_FOREVER);
		if (err)
			break;
		err = mps_value_get_i64(v, &x);
		if (!err)
			err = mps_value_set_i64(v, x + 1);
		int rel = mps_value_release(v);
		err = err ? err : rel;
	}
	return err ? err : value_check(v, n);
}

static int value_add_loop(void *ctx, long n)
{
	struct sobj *s = ctx;
	mps_value_t *v = s->obj;
	int err = mps_value_set_i64(v, 0);
	for (long i = 0; i < n && !err; i++) {
		int64_t x;
		err = mps_value_add_i64(v, 1, &x);
	}
	return err ? err : value_check(v, n);
}

const struct loop_impl loop_mps_value = {
	"mpsync", ROLE_MPS, value_open, value_locked_loop, sobj_close
};
const struct loop_impl loop_mps_value_add = {
	"mpsync add_i64", ROLE_ALT, value_open, value_add_loop, sobj_close
};

/* ---- references ---- */

static int retain_loop(void *ctx, long n)
{
	struct sobj *s = ctx;
	int err = 0;
	for (long i = 0; i < n && !err; i++) {
		err = mps_object_retain(s->obj);
		if (!err)
			err = mps_object_release(s->obj);
	}
	return err ? err : mps_object_refs(s->obj) == 1 ? 0 : EBADMSG;
}

static int get_loop(void *ctx, long n)
{
	struct sobj *s = ctx;
	int err = 0;
	for (long i = 0; i < n && !err; i++) {
		void *obj;
		enum mps_kind kind;
		err = mps_segment_get(s->seg, "bench-value", &obj, &kind);
		if (!err)
			err = obj == s->obj && kind == MPS_KIND_VALUE ? mps_object_release(obj) : EBADMSG;
	}
	return err ? err : mps_object_refs(s->obj) == 1 ? 0 : EBADMSG;
}

const struct loop_impl loop_mps_retain = {
	"mpsync", ROLE_MPS, value_open, retain_loop, sobj_close
};
const struct loop_impl loop_mps_get = {
	"mpsync segment_get", ROLE_ALT, value_open, get_loop, sobj_close
};
