/* The sweep's observation: the whole segment as one text (sweep.h). Only
 * public calls, plus the heap walk, so that it sees what a program sees. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpsync/container.h>
#include <mpsync/queue.h>
#include <mpsync/value.h>
#include "../../lib/segment/seg.h"
#include "sweep.h"

#define BUF_MAX   4096
#define NAMES_MAX 64

/* ------------------------------------------------------------ text */

struct text {
	char *p;
	size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
	if (t->len + 1 >= t->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n < t->cap - t->len ? (size_t)n : t->cap - t->len - 1;
}

static void add_bytes(struct text *t, const void *p, size_t n)
{
	const unsigned char *s = p;
	add(t, "'");
	for (size_t i = 0; i < n; i++)
		add(t, s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'' && s[i] != '\\' ? "%c" : "\\%02x",
		    s[i]);
	add(t, "'");
}

/* ----------------------------------------------------- observation */

struct named {
	char name[MPS_OBJ_NAME_MAX + 1];
	enum mps_kind kind;
	void *obj;
};

struct world {
	struct named n[NAMES_MAX];
	int count;
};

static int collect(const char *name, enum mps_kind kind, void *object, void *arg)
{
	struct world *w = arg;
	if (w->count < NAMES_MAX) {
		struct named *e = &w->n[w->count++];
		snprintf(e->name, sizeof e->name, "%s", name);
		e->kind = kind;
		e->obj = object;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

static const char *name_of(const struct world *w, const void *obj)
{
	for (int i = 0; i < w->count; i++)
		if (w->n[i].obj == obj)
			return w->n[i].name;
	return NULL;
}

/* A value read out of a container; drops the reference the read took. */
static void add_var(struct text *t, const struct world *w, mps_var_t *v)
{
	switch (v->type) {
	case MPS_NONE:
		add(t, "None");
		break;
	case MPS_INT:
		add(t, "%" PRId64, v->i);
		break;
	case MPS_FLOAT:
		add(t, "%a", v->f);
		break;
	case MPS_BYTES:
	case MPS_STR:
		add(t, v->type == MPS_BYTES ? "b" : "s");
		add_bytes(t, v->data, v->len);
		break;
	case MPS_REF: {
		const char *name = name_of(w, v->ref);
		add(t, "<%s %s refs=%u>", mps_kind_name(mps_object_kind(v->ref)),
		    name ? name : "unnamed", mps_object_refs(v->ref) - 1);
		mps_object_release(v->ref);
		break;
	}
	default:
		add(t, "?type %d", (int)v->type);
	}
}

static void add_dict(struct text *t, const struct world *w, mps_dict_t *d)
{
	static char kb[BUF_MAX], vb[BUF_MAX];
	mps_dict_iter_t it;
	mps_var_t k, v;
	int r;
	add(t, " len=%zu {", mps_dict_len(d));
	mps_dict_iter_begin(d, &it, false);
	while ((r = mps_dict_iter_next(&it, &k, (mps_out_t){ kb, sizeof kb }, &v,
	                               (mps_out_t){ vb, sizeof vb })) == 0) {
		add_var(t, w, &k);
		add(t, ": ");
		add_var(t, w, &v);
		add(t, ", ");
	}
	add(t, "} end=%d", r);
}

static void add_list(struct text *t, const struct world *w, mps_list_t *l)
{
	static char b[BUF_MAX];
	size_t n = mps_list_len(l);
	add(t, " len=%zu [", n);
	for (size_t i = 0; i < n; i++) {
		mps_var_t v;
		int r = mps_list_get(l, (int64_t)i, &v, (mps_out_t){ b, sizeof b });
		if (r)
			add(t, "error %d", r);
		else
			add_var(t, w, &v);
		add(t, ", ");
	}
	add(t, "]");
}

static void add_queue(struct text *t, mps_queue_t *q)
{
	static unsigned char b[BUF_MAX];
	add(t, " qsize=%zu bytes=%zu unfinished=%zu shutdown=%d [", mps_queue_qsize(q),
	    mps_queue_bytes(q), mps_queue_unfinished(q), (int)mps_queue_is_shutdown(q));
	size_t n;
	int r;
	while ((r = mps_queue_get(q, b, sizeof b, &n, 0)) == 0) {
		add_bytes(t, b, n);
		add(t, ", ");
	}
	add(t, "] end=%d", r);
}

static void add_value(struct text *t, enum mps_kind kind, void *obj)
{
	static unsigned char b[BUF_MAX];
	if (kind == MPS_KIND_VALUE) {
		mps_value_t *v = obj;
		int r = mps_value_get(v, b);
		add(t, " %c sync=%d r=%d ", mps_value_typecode(v), (int)mps_value_sync(v), r);
		add_bytes(t, b, mps_typecode_size(mps_value_typecode(v)));
		return;
	}
	mps_array_t *a = obj;
	size_t n = mps_array_len(a), bytes = n * mps_typecode_size(mps_array_typecode(a));
	if (bytes > sizeof b)
		bytes = 0, n = 0;
	int r = mps_array_read(a, 0, n, b);
	add(t, " %c[%zu] sync=%d r=%d ", mps_array_typecode(a), n, (int)mps_array_sync(a), r);
	add_bytes(t, b, bytes);
}

static void add_object(struct text *t, const struct world *w, const struct named *e)
{
	static char b[BUF_MAX];
	add(t, "%s %s refs=%u", e->name, mps_kind_name(e->kind), mps_object_refs(e->obj));
	switch (e->kind) {
	case MPS_KIND_DICT:
		add_dict(t, w, e->obj);
		break;
	case MPS_KIND_LIST:
		add_list(t, w, e->obj);
		break;
	case MPS_KIND_NAMESPACE: {
		int r = mps_namespace_repr(e->obj, b, sizeof b);
		add(t, " len=%zu r=%d %s", mps_namespace_len(e->obj), r, r ? "" : b);
		break;
	}
	case MPS_KIND_QUEUE:
	case MPS_KIND_JOINABLE_QUEUE:
		add_queue(t, e->obj);
		break;
	case MPS_KIND_VALUE:
	case MPS_KIND_ARRAY:
		add_value(t, e->kind, e->obj);
		break;
	case MPS_KIND_LOCK:
		add(t, " owner=%d", (int)mps_lock_owner(e->obj));
		break;
	default:
		break;
	}
	add(t, "\n");
}

static void add_heap(struct text *t, mps_segment_t *seg)
{
	struct mps_seg_header *h = mps_segment_base(seg);
	uint64_t used = 0, nfree = 0;
	bool took = mps_seg_enter(h);
	int check = mps_heap_check(h, &used, &nfree);
	mps_seg_leave(h, took);
	struct mps_segment_info info;
	int r = mps_segment_info(seg, &info);
	add(t, "segment: info %d objects=%u names=%u free_bytes=%" PRIu64 " heap_check=%d "
	    "used_blocks=%" PRIu64 "\n", r, info.objects, info.names, info.free_bytes, check, used);
}

void sweep_observe(mps_segment_t *seg, char *buf, size_t cap)
{
	struct text t = { buf, 0, cap };
	struct world w = { .count = 0 };
	buf[0] = 0;
	int r = mps_segment_foreach(seg, collect, &w);
	qsort(w.n, (size_t)w.count, sizeof w.n[0], by_name);
	add(&t, "names: foreach %d count %d\n", r, w.count);
	for (int i = 0; i < w.count; i++)
		add_object(&t, &w, &w.n[i]);
	add_heap(&t, seg);
}

void *sweep_obj(mps_segment_t *seg, const char *name)
{
	struct mps_seg_header *h = mps_segment_base(seg);
	struct mps_dir_entry *e = mps_dir_find(h, name);
	return e ? mps_obj_at(h, e->object) : NULL;
}

bool sweep_holds(const mps_lock_t *lock, pid_t tid)
{
	return mps_lock_owner(lock) == tid;
}
