/* Kill at every store, every operation (issue 11 item 2; SPEC §6): for
 * every mutating operation of every segment structure, the process doing
 * it is killed after each store it makes to the segment; a survivor then
 * writes first (to the structures the operation touched, through pointers
 * it already holds, as a running program does) and the whole segment must
 * observe exactly as "before" or "after" (test/harness/sweep.h: data,
 * reference counts, object and name counts, free bytes, heap walk). A case
 * may allow one documented crash cost (SWEEP_LEAK_REF: a reference count
 * one higher, where an atomic count and its journal entry cannot change
 * together; SWEEP_LEAK_OWN: what the dying process itself held), counted
 * and logged; MPS_SWEEP_STRICT=1 refuses those too. No case allows one
 * since counts are journalled and destruction is one resumable job
 * (docs/design.md §11.4): each must end exactly "before" or "after".
 * Chains kill two and
 * three holders in a row, the earlier ones at their cross stores (two
 * guards held, the segment journal just logged a store into the
 * container's journal).
 *
 * Each case logs its kill points (cr_log_info). The default run replays
 * every point and kills a few of each case for real; MPS_SWEEP=full kills
 * every point for real and tries every cross store of the two-holder chains
 * (the long CI job). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpsync/container.h>
#include <mpsync/queue.h>
#include <mpsync/value.h>
#include "../lib/segment/var.h"
#include "harness.h"
#include "segtest.h"
#include "sweep.h"

static const char long1[] = "a string long enough for a heap blob, one";
static const char long2[] = "a string long enough for a heap blob, two";
static const char long3[] = "a string long enough for a heap blob, three";

/* ------------------------------------------------------------ values */

static const mps_var_t *S(const char *s)
{
	static mps_var_t ring[16];
	static int next;
	mps_var_t *v = &ring[next++ % 16];
	*v = mps_str(s);
	return v;
}

static const mps_var_t *I(int64_t i)
{
	static mps_var_t ring[16];
	static int next;
	mps_var_t *v = &ring[next++ % 16];
	*v = mps_int(i);
	return v;
}

static const mps_var_t *R(mps_segment_t *seg, const char *name)
{
	static mps_var_t ring[16];
	static int next;
	mps_var_t *v = &ring[next++ % 16];
	*v = mps_ref(sweep_obj(seg, name));
	return v;
}

/* Setup helpers (parent side: they assert). */
static void made(int r, const char *what)
{
	cr_assert(r == 0, "setup: %s: %s", what, mps_strerror(r));
}

static mps_dict_t *new_dict(mps_segment_t *seg, const char *name)
{
	mps_dict_t *d = NULL;
	made(mps_segment_dict(seg, name, MPS_CREATE_ONLY, &d), name);
	return d;
}

static mps_list_t *new_list(mps_segment_t *seg, const char *name)
{
	mps_list_t *l = NULL;
	made(mps_segment_list(seg, name, MPS_CREATE_ONLY, &l), name);
	return l;
}

static void dset(mps_dict_t *d, const mps_var_t *k, const mps_var_t *v)
{
	cr_assert_eq(mps_dict_set(d, k, v), 0);
}

static void lappend(mps_list_t *l, const mps_var_t *v)
{
	cr_assert_eq(mps_list_append(l, v), 0);
}

/* ----------------------------------------------------------- summary */

static void sweep_all(const struct sweep_case *cases, size_t n)
{
	struct sweep_plan p = sweep_plan_from_env();
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		struct sweep_stats s;
		sweep_case(&cases[i], &p, &s);
		cr_log_info("%-44s %5d kill points: %d before, %d after, %d documented leak, %d bad; "
		            "%d killed for real; %ld steps, %.1f s", cases[i].name, s.points,
		            s.as_before, s.as_after, s.leaked, s.bad, s.real, s.steps, s.seconds);
		bad += s.bad;
	}
	cr_assert_eq(bad, 0, "%d kill points left neither before nor after (logged above)", bad);
}

#define SWEEP(cases) sweep_all(cases, sizeof cases / sizeof cases[0])

/* ----------------------------------------------------------- segment */

/* d {a: blob, r: REF t}, t [1]. */
static void setup_segment(mps_segment_t *seg)
{
	mps_list_t *t = new_list(seg, "t");
	lappend(t, I(1));
	mps_dict_t *d = new_dict(seg, "d");
	dset(d, S("a"), S(long1));
	dset(d, S("r"), R(seg, "t"));
}

static int run_create(mps_segment_t *seg)
{
	mps_dict_t *d = NULL;
	return mps_segment_dict(seg, "new", MPS_CREATE_ONLY, &d);
}

static int run_find(mps_segment_t *seg)
{
	void *obj;
	enum mps_kind kind;
	return mps_segment_find(seg, "d", &obj, &kind);
}

static int run_remove(mps_segment_t *seg)
{
	return mps_segment_remove(seg, "d");
}

static void survive_segment(mps_segment_t *seg)
{
	mps_lock_t *l = NULL;
	mps_segment_lock(seg, "w", MPS_CREATE_ONLY, &l);
}

/* Three blocks a, b, c, of which a and c are freed again; b's offset in
 * the Value "b". */
static void setup_heap(mps_segment_t *seg)
{
	struct mps_seg_header *h = mps_segment_base(seg);
	uint64_t a, b, c;
	cr_assert_eq(mps_seg_alloc(h, 100, &a), 0);
	cr_assert_eq(mps_seg_alloc(h, 100, &b), 0);
	cr_assert_eq(mps_seg_alloc(h, 100, &c), 0);
	mps_value_t *v = NULL;
	int64_t off = (int64_t)b;
	made(mps_segment_value(seg, "b", MPS_CREATE_ONLY, 'q', &off, MPS_SYNC_NONE, NULL, &v), "b");
	mps_seg_free(h, a);
	mps_seg_free(h, c);
}

static int run_heap_alloc(mps_segment_t *seg)
{
	uint64_t off;
	return mps_seg_alloc(mps_segment_base(seg), 200, &off);
}

static int run_heap_free(mps_segment_t *seg)
{
	int64_t off;
	int r = mps_value_get_i64(sweep_obj(seg, "b"), &off);
	if (r == 0)
		mps_seg_free(mps_segment_base(seg), (uint64_t)off);
	return r;
}

static void survive_heap(mps_segment_t *seg)
{
	struct mps_seg_header *h = mps_segment_base(seg);
	uint64_t off;
	if (mps_seg_alloc(h, 48, &off) == 0)
		mps_seg_free(h, off);
}

static const struct sweep_case segment_cases[] = {
	{ "segment create (named dict)", 0, setup_segment, survive_segment,
	  { { "create", run_create, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "segment find", 0, setup_segment, survive_segment,
	  { { "find", run_find, NULL } }, 1, true, SWEEP_LEAK_NONE },
	{ "segment remove (dict with blob and REF)", 0, setup_segment, survive_segment,
	  { { "remove", run_remove, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "heap alloc (split)", 0, setup_heap, survive_heap,
	  { { "alloc", run_heap_alloc, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "heap free (merge both sides)", 0, setup_heap, survive_heap,
	  { { "free", run_heap_free, NULL } }, 1, false, SWEEP_LEAK_NONE },
};

Test(sweep, segment_and_heap)
{
	SWEEP(segment_cases);
}

/* ------------------------------------------------------------- queue */

/* As test_queue's killed_at_every_store: capacity 128, X (56) and Y (24)
 * put, X got and done, so Z (40) wraps; for get/task_done Z is put and Y
 * got. */
static void item(unsigned char *buf, int id, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(id * 31 + (int)i);
}

static mps_queue_t *setup_queue_base(mps_segment_t *seg)
{
	unsigned char b[64];
	size_t n;
	mps_queue_t *q = NULL;
	made(mps_segment_joinable_queue(seg, "q", MPS_CREATE_ONLY, 0, 128, &q), "q");
	item(b, 1, 56);
	cr_assert_eq(mps_queue_put(q, b, 56, 0), 0);
	item(b, 2, 24);
	cr_assert_eq(mps_queue_put(q, b, 24, 0), 0);
	cr_assert_eq(mps_queue_get(q, b, sizeof b, &n, 0), 0);
	cr_assert_eq(mps_queue_task_done(q), 0);
	return q;
}

static void setup_queue_put(mps_segment_t *seg)
{
	setup_queue_base(seg);
}

static void setup_queue_full(mps_segment_t *seg)
{
	unsigned char b[64];
	mps_queue_t *q = setup_queue_base(seg);
	item(b, 3, 40);
	cr_assert_eq(mps_queue_put(q, b, 40, 0), 0);
}

static void setup_queue_got(mps_segment_t *seg)
{
	unsigned char b[64];
	size_t n;
	mps_queue_t *q = setup_queue_base(seg);
	item(b, 3, 40);
	cr_assert_eq(mps_queue_put(q, b, 40, 0), 0);
	cr_assert_eq(mps_queue_get(q, b, sizeof b, &n, 0), 0);
}

static int run_put(mps_segment_t *seg)
{
	unsigned char b[40];
	item(b, 3, 40);
	return mps_queue_put(sweep_obj(seg, "q"), b, 40, 0);
}

static int run_get(mps_segment_t *seg)
{
	unsigned char b[64];
	size_t n;
	return mps_queue_get(sweep_obj(seg, "q"), b, sizeof b, &n, 0);
}

static int run_task_done(mps_segment_t *seg)
{
	return mps_queue_task_done(sweep_obj(seg, "q"));
}

static int run_shutdown(mps_segment_t *seg)
{
	return mps_queue_shutdown(sweep_obj(seg, "q"), true);
}

static void survive_queue(mps_segment_t *seg)
{
	unsigned char b[20];
	item(b, 7, 20);
	mps_queue_put(sweep_obj(seg, "q"), b, 20, 0);
}

static const struct sweep_case queue_cases[] = {
	{ "queue put (wraps)", 0, setup_queue_put, survive_queue,
	  { { "put", run_put, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "queue get (wrapped item)", 0, setup_queue_full, survive_queue,
	  { { "get", run_get, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "queue task_done", 0, setup_queue_got, survive_queue,
	  { { "task_done", run_task_done, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "queue shutdown (immediate)", 0, setup_queue_full, survive_queue,
	  { { "shutdown", run_shutdown, NULL } }, 1, false, SWEEP_LEAK_NONE },
};

Test(sweep, queue)
{
	SWEEP(queue_cases);
}

/* -------------------------------------------------------------- dict */

/* t [1]; d {a: blob, b: "short", i: 5, r: REF t, z: blob} (cap 8);
 * g: 8 int keys (full: the next key grows it); src: 11 pairs with blob
 * values (more than one staging transaction), "a" among them. */
static void setup_dict(mps_segment_t *seg)
{
	mps_list_t *t = new_list(seg, "t");
	lappend(t, I(1));
	mps_dict_t *d = new_dict(seg, "d"), *g = new_dict(seg, "g"), *src = new_dict(seg, "src");
	dset(d, S("a"), S(long1));
	dset(d, S("b"), S("short"));
	dset(d, S("i"), I(5));
	dset(d, S("r"), R(seg, "t"));
	dset(d, S("z"), S(long3));
	for (int i = 0; i < 8; i++)
		dset(g, I(i), I(i * i));
	dset(src, S("a"), S(long2));
	for (int i = 0; i < 10; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		dset(src, S(k), S(long1));
	}
}

static mps_dict_t *D(mps_segment_t *seg)
{
	return sweep_obj(seg, "d");
}

static int run_dset_new(mps_segment_t *seg)
{
	return mps_dict_set(D(seg), S("n"), S(long2));
}

static int run_dset_grow(mps_segment_t *seg)
{
	return mps_dict_set(sweep_obj(seg, "g"), I(100), S(long2));
}

static int run_dset_replace(mps_segment_t *seg)
{
	return mps_dict_set(D(seg), S("a"), S(long2));
}

static int run_dset_blobkey(mps_segment_t *seg)
{
	return mps_dict_set(D(seg), S(long2), I(7));
}

static int run_dset_ref(mps_segment_t *seg)
{
	return mps_dict_set(D(seg), S("b"), R(seg, "t"));
}

static int run_ddel(mps_segment_t *seg)
{
	return mps_dict_del(D(seg), S("a"));
}

static int run_dpop(mps_segment_t *seg)
{
	char buf[64];
	mps_var_t v;
	return mps_dict_pop(D(seg), S("a"), &v, (mps_out_t){ buf, sizeof buf });
}

static int run_dpopitem(mps_segment_t *seg)
{
	char kb[64], vb[64];
	mps_var_t k, v;
	return mps_dict_popitem(D(seg), &k, (mps_out_t){ kb, sizeof kb }, &v,
	                        (mps_out_t){ vb, sizeof vb });
}

static int run_dsetdefault(mps_segment_t *seg)
{
	char buf[64];
	mps_var_t v;
	return mps_dict_setdefault(D(seg), S("n"), S(long2), &v, (mps_out_t){ buf, sizeof buf });
}

static int run_dupdate(mps_segment_t *seg)
{
	return mps_dict_update(D(seg), sweep_obj(seg, "src"));
}

static int run_dclear(mps_segment_t *seg)
{
	return mps_dict_clear(D(seg));
}

static int run_dcopy(mps_segment_t *seg)
{
	mps_dict_t *c;
	return mps_dict_copy(sweep_obj(seg, "src"), &c);
}

static void survive_dict(mps_segment_t *seg)
{
	mps_dict_set(D(seg), S("w"), S(long2));
	mps_dict_set(sweep_obj(seg, "g"), I(200), S(long1));
}

static const struct sweep_case dict_cases[] = {
	{ "dict set (new key)", 0, setup_dict, survive_dict,
	  { { "set", run_dset_new, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "dict set (new key, table grows)", 0, setup_dict, survive_dict,
	  { { "set", run_dset_grow, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "dict set (replace a blob)", 0, setup_dict, survive_dict,
	  { { "set", run_dset_replace, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "dict set (blob key)", 0, setup_dict, survive_dict,
	  { { "set", run_dset_blobkey, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "dict set (REF value)", 0, setup_dict, survive_dict,
	  { { "set", run_dset_ref, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "dict del", 0, setup_dict, survive_dict, { { "del", run_ddel, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "dict pop", 0, setup_dict, survive_dict, { { "pop", run_dpop, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "dict popitem", 0, setup_dict, survive_dict,
	  { { "popitem", run_dpopitem, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "dict setdefault (absent key)", 0, setup_dict, survive_dict,
	  { { "setdefault", run_dsetdefault, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "dict update (11 pairs, replaces a blob)", 0, setup_dict, survive_dict,
	  { { "update", run_dupdate, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "dict clear", 0, setup_dict, survive_dict, { { "clear", run_dclear, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "dict copy", 0, setup_dict, survive_dict, { { "copy", run_dcopy, NULL } }, 1, false, SWEEP_LEAK_NONE },
};

Test(sweep, dict)
{
	SWEEP(dict_cases);
}

/* -------------------------------------------------------------- list */

/* t [1]; l [1, blob, "mid", blob, 7, REF t] (room for more); g: 5 items
 * (full: the next append grows it); s: strings to sort; e [blob, 5]. */
static void setup_list(mps_segment_t *seg)
{
	mps_list_t *t = new_list(seg, "t"), *l = new_list(seg, "l"), *g = new_list(seg, "g");
	mps_list_t *s = new_list(seg, "s"), *e = new_list(seg, "e");
	lappend(t, I(1));
	lappend(l, I(1));
	lappend(l, S(long1));
	lappend(l, S("mid"));
	lappend(l, S(long2));
	lappend(l, I(7));
	lappend(l, R(seg, "t"));
	for (int i = 0; i < 5; i++)
		lappend(g, I(i));
	lappend(s, S(long2));
	lappend(s, S("b"));
	lappend(s, S(long1));
	lappend(s, S("a"));
	lappend(e, S(long3));
	lappend(e, I(5));
}

static mps_list_t *L(mps_segment_t *seg, const char *name)
{
	return sweep_obj(seg, name);
}

static int run_lappend(mps_segment_t *seg)
{
	return mps_list_append(L(seg, "l"), S(long3));
}

static int run_lappend_grow(mps_segment_t *seg)
{
	return mps_list_append(L(seg, "g"), S(long3));
}

static int run_linsert_front(mps_segment_t *seg)
{
	return mps_list_insert(L(seg, "l"), 0, S(long3));
}

static int run_linsert_mid(mps_segment_t *seg)
{
	return mps_list_insert(L(seg, "l"), 3, S(long3));
}

static int run_lpop_mid(mps_segment_t *seg)
{
	char buf[64];
	mps_var_t v;
	return mps_list_pop(L(seg, "l"), 1, &v, (mps_out_t){ buf, sizeof buf });
}

static int run_ldel_mid(mps_segment_t *seg)
{
	return mps_list_del(L(seg, "l"), 3);
}

static int run_lset(mps_segment_t *seg)
{
	return mps_list_set(L(seg, "l"), 2, S(long3));
}

static int run_lremove(mps_segment_t *seg)
{
	return mps_list_remove(L(seg, "l"), S(long1));
}

static int run_lsort(mps_segment_t *seg)
{
	return mps_list_sort(L(seg, "s"), false);
}

static int run_lreverse(mps_segment_t *seg)
{
	return mps_list_reverse(L(seg, "s"));
}

static int run_lextend(mps_segment_t *seg)
{
	mps_var_t v[3] = { mps_str(long3), mps_int(9), mps_ref(sweep_obj(seg, "t")) };
	return mps_list_extend(L(seg, "l"), v, 3);
}

static int run_lextend_many(mps_segment_t *seg)
{
	mps_var_t v[12];
	for (int i = 0; i < 12; i++)
		v[i] = i % 3 ? mps_int(i) : mps_str(long3);
	return mps_list_extend(L(seg, "l"), v, 12);
}

static int run_lclear(mps_segment_t *seg)
{
	return mps_list_clear(L(seg, "l"));
}

static int run_liadd(mps_segment_t *seg)
{
	return mps_list_extend_list(L(seg, "l"), L(seg, "e"));
}

static int run_limul(mps_segment_t *seg)
{
	return mps_list_repeat(L(seg, "e"), 3);
}

static int run_lcopy(mps_segment_t *seg)
{
	mps_list_t *c;
	return mps_list_copy(L(seg, "l"), &c);
}

static void survive_list(mps_segment_t *seg)
{
	static const char *const names[] = { "l", "g", "s", "e" };
	for (int i = 0; i < 4; i++)
		mps_list_append(L(seg, names[i]), S(long2));
}

static const struct sweep_case list_cases[] = {
	{ "list append", 0, setup_list, survive_list,
	  { { "append", run_lappend, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list append (slot array grows)", 0, setup_list, survive_list,
	  { { "append", run_lappend_grow, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list insert (front)", 0, setup_list, survive_list,
	  { { "insert", run_linsert_front, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list insert (middle)", 0, setup_list, survive_list,
	  { { "insert", run_linsert_mid, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list pop (middle blob)", 0, setup_list, survive_list,
	  { { "pop", run_lpop_mid, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list del (middle blob)", 0, setup_list, survive_list,
	  { { "del", run_ldel_mid, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list set (blob over inline)", 0, setup_list, survive_list,
	  { { "set", run_lset, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list remove (blob)", 0, setup_list, survive_list,
	  { { "remove", run_lremove, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list sort", 0, setup_list, survive_list, { { "sort", run_lsort, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list reverse", 0, setup_list, survive_list,
	  { { "reverse", run_lreverse, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list extend (3, in place)", 0, setup_list, survive_list,
	  { { "extend", run_lextend, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list extend (12, staged)", 0, setup_list, survive_list,
	  { { "extend", run_lextend_many, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list clear", 0, setup_list, survive_list, { { "clear", run_lclear, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list += list", 0, setup_list, survive_list, { { "+=", run_liadd, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list *= 3", 0, setup_list, survive_list, { { "*=", run_limul, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "list copy", 0, setup_list, survive_list, { { "copy", run_lcopy, NULL } }, 1, false, SWEEP_LEAK_NONE },
};

Test(sweep, list)
{
	SWEEP(list_cases);
}

/* --------------------------------------------------------- namespace */

static void setup_namespace(mps_segment_t *seg)
{
	mps_namespace_t *ns = NULL;
	made(mps_segment_namespace(seg, "ns", MPS_CREATE_ONLY, &ns), "ns");
	cr_assert_eq(mps_namespace_set(ns, "a", S(long1)), 0);
	cr_assert_eq(mps_namespace_set(ns, "b", I(2)), 0);
}

static int run_ns_set(mps_segment_t *seg)
{
	return mps_namespace_set(sweep_obj(seg, "ns"), "c", S(long2));
}

static int run_ns_replace(mps_segment_t *seg)
{
	return mps_namespace_set(sweep_obj(seg, "ns"), "a", S(long3));
}

static int run_ns_del(mps_segment_t *seg)
{
	return mps_namespace_del(sweep_obj(seg, "ns"), "a");
}

static void survive_namespace(mps_segment_t *seg)
{
	mps_namespace_set(sweep_obj(seg, "ns"), "w", S(long2));
}

/* ------------------------------------------------------ Value, Array */

/* v0..v3 (Value 'q' = 1) and a0..a3 (Array 'd' x 4), sync 0..3; lk and
 * rk the given locks. */
static void setup_values(mps_segment_t *seg)
{
	mps_lock_t *lk = NULL;
	mps_rlock_t *rk = NULL;
	made(mps_segment_lock(seg, "lk", MPS_CREATE_ONLY, &lk), "lk");
	made(mps_segment_rlock(seg, "rk", MPS_CREATE_ONLY, &rk), "rk");
	for (int s = 0; s < 4; s++) {
		void *lock = s == MPS_SYNC_LOCK ? (void *)lk : s == MPS_SYNC_GIVEN_RLOCK ? (void *)rk : NULL;
		char name[16];
		int64_t one = 1;
		double init[4] = { 0.5, 1.5, 2.5, 3.5 };
		mps_value_t *v = NULL;
		mps_array_t *a = NULL;
		snprintf(name, sizeof name, "v%d", s);
		made(mps_segment_value(seg, name, MPS_CREATE_ONLY, 'q', &one, (enum mps_sync)s, lock,
		                       &v), name);
		snprintf(name, sizeof name, "a%d", s);
		made(mps_segment_array(seg, name, MPS_CREATE_ONLY, 'd', 4, init, (enum mps_sync)s,
		                       lock, &a), name);
	}
}

static int run_vset0(mps_segment_t *seg)
{
	return mps_value_set_i64(sweep_obj(seg, "v0"), 5);
}

static int run_aset0(mps_segment_t *seg)
{
	double x = 9.25;
	return mps_array_set(sweep_obj(seg, "a0"), 2, &x);
}

static int run_vset1(mps_segment_t *seg)
{
	return mps_value_set_i64(sweep_obj(seg, "v1"), 5);
}

static int run_aset1(mps_segment_t *seg)
{
	double x = 9.25;
	return mps_array_set(sweep_obj(seg, "a1"), 2, &x);
}

static int run_vset2(mps_segment_t *seg)
{
	return mps_value_set_i64(sweep_obj(seg, "v2"), 5);
}

static int run_aset2(mps_segment_t *seg)
{
	double x = 9.25;
	return mps_array_set(sweep_obj(seg, "a2"), 2, &x);
}

static int run_vset3(mps_segment_t *seg)
{
	return mps_value_set_i64(sweep_obj(seg, "v3"), 5);
}

static int run_aset3(mps_segment_t *seg)
{
	double x = 9.25;
	return mps_array_set(sweep_obj(seg, "a3"), 2, &x);
}

/* A write that keeps what the operation did visible: add to the Value,
 * set another element of the Array. */
static void survive_values(mps_segment_t *seg)
{
	for (int s = 0; s < 4; s++) {
		char name[16];
		int64_t res;
		double x = -1;
		snprintf(name, sizeof name, "v%d", s);
		mps_value_add_i64(sweep_obj(seg, name), 10, &res);
		snprintf(name, sizeof name, "a%d", s);
		mps_array_set(sweep_obj(seg, name), 0, &x);
	}
}

static const struct sweep_case value_cases[] = {
	{ "Namespace set (new)", 0, setup_namespace, survive_namespace,
	  { { "set", run_ns_set, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "Namespace set (replace)", 0, setup_namespace, survive_namespace,
	  { { "set", run_ns_replace, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "Namespace del", 0, setup_namespace, survive_namespace,
	  { { "del", run_ns_del, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "Value set (own RLock)", 0, setup_values, survive_values,
	  { { "set", run_vset0, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "Value set (raw)", 0, setup_values, survive_values,
	  { { "set", run_vset1, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "Value set (given Lock)", 0, setup_values, survive_values,
	  { { "set", run_vset2, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "Value set (given RLock)", 0, setup_values, survive_values,
	  { { "set", run_vset3, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "Array set (own RLock)", 0, setup_values, survive_values,
	  { { "set", run_aset0, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "Array set (raw)", 0, setup_values, survive_values,
	  { { "set", run_aset1, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "Array set (given Lock)", 0, setup_values, survive_values,
	  { { "set", run_aset2, NULL } }, 1, false, SWEEP_LEAK_NONE },
	{ "Array set (given RLock)", 0, setup_values, survive_values,
	  { { "set", run_aset3, NULL } }, 1, false, SWEEP_LEAK_NONE },
};

Test(sweep, namespace_and_values)
{
	SWEEP(value_cases);
}

/* ------------------------------------------------------------ chains */

/* The cross stores of a holder: it has the segment guard and the guard of
 * the container called name, and the segment journal's newest entry logs
 * a store into that container's journal (an allocation publishing its
 * entry). A death there leaves two guards whose journals refer to each
 * other: the windows of issue 11. */
static bool cross(mps_segment_t *seg, pid_t tid, const char *name)
{
	struct mps_seg_header *h = mps_segment_base(seg);
	struct mps_box *b = sweep_obj(seg, name);
	struct mps_journal *sj = &h->guard.journal;
	if (!b || !sweep_holds(&h->guard.lock, tid) || !sweep_holds(&b->guard.lock, tid) ||
	    sj->n == 0 || sj->n > MPS_JOURNAL_MAX)
		return false;
	uint64_t off = sj->e[sj->n - 1].off, j = mps_seg_off(h, &b->guard.journal);
	return off >= j && off < j + sizeof b->guard.journal;
}

static bool cross_d(mps_segment_t *seg, pid_t tid)
{
	return cross(seg, tid, "d");
}

static bool cross_l(mps_segment_t *seg, pid_t tid)
{
	return cross(seg, tid, "l");
}

/* Both worlds: the dict setup and a list l. */
static void setup_both(mps_segment_t *seg)
{
	setup_dict(seg);
	mps_list_t *l = new_list(seg, "l");
	lappend(l, I(1));
	lappend(l, S(long1));
	lappend(l, S("mid"));
	lappend(l, S(long2));
	lappend(l, I(7));
}

static void survive_both(mps_segment_t *seg)
{
	mps_dict_set(D(seg), S("w"), S(long2));
	mps_list_append(L(seg, "l"), S(long2));
}

static int run_dset_blob(mps_segment_t *seg)
{
	return mps_dict_set(D(seg), S("x"), S(long3));
}

/* Points where a holder is the reaper (inside a destruction's teardown,
 * docs/design.md §11.4): a death there leaves the next writer to resume
 * it, and that writer's death the one after. */
static bool reaping(mps_segment_t *seg, pid_t tid)
{
	struct mps_seg_header *h = mps_segment_base(seg);
	return sweep_holds(&h->reaper, tid);
}

static const struct sweep_case chain_cases[] = {
	{ "dict update (cross store), then dict set", 0, setup_dict, survive_dict,
	  { { "update", run_dupdate, cross_d }, { "set", run_dset_blob, NULL } }, 2, false, SWEEP_LEAK_NONE },
	{ "dict update (cross store), then list append", 0, setup_both, survive_both,
	  { { "update", run_dupdate, cross_d }, { "append", run_lappend, NULL } }, 2, false, SWEEP_LEAK_NONE },
	{ "list pop middle (cross store), then list append", 0, setup_list, survive_list,
	  { { "pop", run_lpop_mid, cross_l }, { "append", run_lappend, NULL } }, 2, false, SWEEP_LEAK_NONE },
	{ "list del middle (cross store), then dict set", 0, setup_both, survive_both,
	  { { "del", run_ldel_mid, cross_l }, { "set", run_dset_blob, NULL } }, 2, false, SWEEP_LEAK_NONE },
	{ "segment remove (reaping), then segment create (reaping)", 0, setup_segment,
	  survive_segment, { { "remove", run_remove, reaping }, { "create", run_create, NULL } }, 2,
	  false, SWEEP_LEAK_NONE },
	{ "dict update, list pop (cross store), then dict set", 0, setup_both, survive_both,
	  { { "update", run_dupdate, cross_d }, { "pop", run_lpop_mid, cross_l },
	    { "set", run_dset_blob, NULL } }, 3, false, SWEEP_LEAK_NONE },
};

Test(sweep, chains)
{
	SWEEP(chain_cases);
}
