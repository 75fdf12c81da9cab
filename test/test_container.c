/* dict, list and Namespace: research/conformance.md §10 (10.1-10.13, 10.15)
 * with the adaptations of §13.9-13.12: typed values compared by type and
 * bytes, references to objects of the same segment (nesting), '_' names
 * refused, ESTALE for a dict that changed during iteration. Plus SPEC §2's
 * bad-input rule (unchanged bytes), ENOSPC leaving a container unchanged and
 * usable, and crash safety (SPEC §6): processes killed at varied moments in
 * the middle of operations leave consistent, usable containers and no leak.
 *
 * Not carried over: 10.14 as a Python finaliser (checked instead through
 * mps_object_refs and mps_segment_free_bytes), 10.16 (manager Lock/RLock/
 * Condition: the primitive suites).
 *
 * Scenarios with another party run in the three flavours; the worker opens
 * the segment by name (area->segname) and finds the containers by name.
 * Stateful scenarios run twice on the same objects. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpsync/container.h>
#include "harness.h"
#include "segtest.h"

#define SEG_SIZE  (1u << 20)
#define JOIN_S    120.0
#define TEXT_MAX  4096

/* ------------------------------ values ------------------------------ */

/* Short-lived vars for call arguments: a ring per thread. */
static const mps_var_t *rot(mps_var_t v)
{
	static _Thread_local mps_var_t ring[32];
	static _Thread_local unsigned n;
	mps_var_t *p = &ring[n++ % 32];
	*p = v;
	return p;
}

#define I(x)    rot(mps_int(x))
#define S(x)    rot(mps_str(x))
#define F(x)    rot(mps_float(x))
#define B(p, n) rot(mps_bytes((p), (n)))
#define R(o)    rot(mps_ref(o))
#define NONE    rot(mps_none())

struct got {
	mps_var_t v;
	char buf[TEXT_MAX];
};
#define OUT(g) ((mps_out_t){ (g).buf, sizeof (g).buf })
#define NOOUT  ((mps_out_t){ NULL, 0 })

static bool v_int(const mps_var_t *v, int64_t i)
{
	return v->type == MPS_INT && v->i == i;
}

static bool v_text(const mps_var_t *v, enum mps_type t, const void *p, size_t n)
{
	return v->type == t && v->len == n && (n == 0 || memcmp(v->data, p, n) == 0);
}

static bool v_str(const mps_var_t *v, const char *s)
{
	return v_text(v, MPS_STR, s, strlen(s));
}

/* A value as Python would show it inside a container (enough for tests). */
static void show(char *b, size_t cap, const mps_var_t *v)
{
	switch (v->type) {
	case MPS_NONE:
		snprintf(b, cap, "None");
		break;
	case MPS_INT:
		snprintf(b, cap, "%lld", (long long)v->i);
		break;
	case MPS_FLOAT:
		snprintf(b, cap, "%g", v->f);
		break;
	case MPS_BYTES:
		snprintf(b, cap, "b'%.*s'", (int)v->len, (const char *)v->data);
		break;
	case MPS_STR:
		snprintf(b, cap, "'%.*s'", (int)v->len, (const char *)v->data);
		break;
	case MPS_REF:
		snprintf(b, cap, "<%s>", mps_kind_name(mps_object_kind(v->ref)));
		break;
	}
}

/* Appends to a per-thread text, for the *repr helpers. */
static void cat(char *t, size_t cap, const char *s)
{
	size_t n = strlen(t);
	snprintf(t + n, cap - n, "%s", s);
}

/* Drops the reference a read handed out. */
static void unref(mps_var_t *v)
{
	if (v->type == MPS_REF)
		mps_object_release(v->ref);
}

/* "[1, 'a', ...]" read through index-based iteration. */
static const char *lrepr(mps_list_t *l)
{
	static _Thread_local char ring[2][8192];
	static _Thread_local unsigned turn;
	char *t = ring[turn++ % 2];
	const size_t tcap = sizeof ring[0];
	struct got g;
	char one[512];
	snprintf(t, tcap, "[");
	for (int64_t i = 0;; i++) {
		int r = mps_list_get(l, i, &g.v, OUT(g));
		if (r == ERANGE)
			break;
		if (r) {
			snprintf(t, tcap, "<get: %s>", mps_strerror(r));
			return t;
		}
		show(one, sizeof one, &g.v);
		unref(&g.v);
		if (i)
			cat(t, tcap, ", ");
		cat(t, tcap, one);
	}
	cat(t, tcap, "]");
	return t;
}

/* "{k: v, ...}" in iteration order (reverse: reversed()). */
static const char *drepr_dir(mps_dict_t *d, bool reverse)
{
	static _Thread_local char ring[2][8192];
	static _Thread_local unsigned turn;
	char *t = ring[turn++ % 2];
	const size_t tcap = sizeof ring[0];
	struct got k, v;
	char a[512], b[512];
	mps_dict_iter_t it;
	mps_dict_iter_begin(d, &it, reverse);
	snprintf(t, tcap, "{");
	for (int n = 0;; n++) {
		int r = mps_dict_iter_next(&it, &k.v, OUT(k), &v.v, OUT(v));
		if (r == ENOENT)
			break;
		if (r) {
			snprintf(t, tcap, "<iter: %s>", mps_strerror(r));
			return t;
		}
		show(a, sizeof a, &k.v);
		show(b, sizeof b, &v.v);
		unref(&v.v);
		if (n)
			cat(t, tcap, ", ");
		cat(t, tcap, a);
		cat(t, tcap, ": ");
		cat(t, tcap, b);
	}
	cat(t, tcap, "}");
	return t;
}

static const char *drepr(mps_dict_t *d)
{
	return drepr_dir(d, false);
}

/* Appends ints a..b-1 / pairs k -> v. */
static void fill_list(mps_list_t *l, int64_t a, int64_t b)
{
	for (int64_t i = a; i < b; i++)
		cr_assert_eq(mps_list_append(l, I(i)), 0);
}

/* ---------------------------- objects ---------------------------- */

static mps_dict_t *new_dict(mps_segment_t *seg, const char *name)
{
	mps_dict_t *d = NULL;
	int r = mps_segment_dict(seg, name, MPS_CREATE_ONLY, &d);
	cr_assert_eq(r, 0, "dict %s: %s", name ? name : "(unnamed)", mps_strerror(r));
	return d;
}

static mps_list_t *new_list(mps_segment_t *seg, const char *name)
{
	mps_list_t *l = NULL;
	int r = mps_segment_list(seg, name, MPS_CREATE_ONLY, &l);
	cr_assert_eq(r, 0, "list %s: %s", name ? name : "(unnamed)", mps_strerror(r));
	return l;
}

/* Bad input must not change a byte of the segment. */
#define UNCHANGED(seg, call, code) do { \
		void *c_ = segtest_snap(seg); \
		int r_ = (call); \
		cr_assert_eq(r_, (code), "%s: %s, expected %s", #call, mps_strerror(r_), \
		             mps_strerror(code)); \
		segtest_same(seg, c_, #call); \
	} while (0)

/* A role's segment, opened by name, and in *d the dict "d" and in *l the
 * list "l" where it asks for them; NULL when any of them is missing. */
static mps_segment_t *role_open(struct mps_area *a, mps_dict_t **d, mps_list_t **l)
{
	mps_segment_t *seg = segtest_open(a);
	if (!seg)
		return NULL;
	if ((d && mps_segment_dict(seg, "d", MPS_OPEN_ONLY, d) != 0) ||
	    (l && mps_segment_list(seg, "l", MPS_OPEN_ONLY, l) != 0)) {
		mps_segment_close(seg);
		return NULL;
	}
	return seg;
}

/* =========================== list, one process =========================== */

/* 10.1: from a sequence, [:], over-long slice, extend, index, *= 2 in place,
 * "+ [5, 6]" builds a plain copy and leaves the shared list alone. */
Test(container, list_basics)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_list_t *l = new_list(seg, "a");
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_list_clear(l), 0);
		cr_assert_str_eq(lrepr(l), "[]");
		mps_var_t init[5] = { mps_int(0), mps_int(1), mps_int(2), mps_int(3), mps_int(4) };
		cr_assert_eq(mps_list_extend(l, init, 5), 0);
		cr_assert_str_eq(lrepr(l), "[0, 1, 2, 3, 4]");
		mps_var_t vs[16];
		size_t got = 0;
		cr_assert_eq(mps_list_slice(l, 0, INT64_MAX, vs, 16, &got, NOOUT), 0);
		cr_assert_eq(got, 5);
		for (int i = 0; i < 5; i++)
			cr_assert(v_int(&vs[i], i));
		cr_assert_eq(mps_list_slice(l, 2, 10, vs, 16, &got, NOOUT), 0);
		cr_assert_eq(got, 3);
		cr_assert(v_int(&vs[0], 2) && v_int(&vs[1], 3) && v_int(&vs[2], 4));
		cr_assert_eq(mps_list_slice(l, -2, -1, vs, 16, &got, NOOUT), 0);
		cr_assert(got == 1 && v_int(&vs[0], 3));
		cr_assert_eq(mps_list_slice(l, 4, 2, vs, 16, &got, NOOUT), 0);
		cr_assert_eq(got, 0);
		cr_assert_eq(mps_list_slice(l, 0, 5, vs, 2, &got, NOOUT), 0);
		cr_assert_eq(got, 2, "at most n");
		mps_var_t more[2] = { mps_int(5), mps_int(6) };
		cr_assert_eq(mps_list_extend(l, more, 2), 0);
		size_t ix = 99;
		cr_assert_eq(mps_list_index(l, I(5), &ix), 0);
		cr_assert_eq(ix, 5);
		cr_assert_eq(mps_list_repeat(l, 2), 0);
		cr_assert_str_eq(lrepr(l), "[0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6]");
		/* l + [5, 6]: a plain copy, extended locally */
		cr_assert_eq(mps_list_slice(l, 0, INT64_MAX, vs, 16, &got, NOOUT), 0);
		cr_assert_eq(got, 14);
		vs[got++] = mps_int(5);
		cr_assert_eq(mps_list_len(l), 14);
	}
	mps_segment_close(seg);
}

/* 10.3: every list function, including the errors of each. */
Test(container, list_api)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_list_t *l = new_list(seg, "l");
	struct got g;
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_list_clear(l), 0);
		cr_assert_eq(mps_list_append(l, I(1)), 0);
		cr_assert_eq(mps_list_append(l, S("two")), 0);
		cr_assert_eq(mps_list_append(l, F(3.5)), 0);
		cr_assert_eq(mps_list_append(l, NONE), 0);
		cr_assert_eq(mps_list_append(l, B("b\0y", 3)), 0);
		cr_assert_eq(mps_list_append(l, S("a string longer than eight bytes")), 0);
		cr_assert_eq(mps_list_len(l), 6);
		cr_assert(mps_list_contains(l, S("two")));
		cr_assert(!mps_list_contains(l, B("two", 3)), "bytes and str differ");
		cr_assert(!mps_list_contains(l, I(3)), "3 and 3.5 differ");
		cr_assert(mps_list_contains(l, F(3.5)));
		cr_assert(mps_list_contains(l, NONE));
		/* getitem, negative indexes, IndexError */
		cr_assert_eq(mps_list_get(l, 0, &g.v, OUT(g)), 0);
		cr_assert(v_int(&g.v, 1));
		cr_assert_eq(mps_list_get(l, -1, &g.v, OUT(g)), 0);
		cr_assert(v_str(&g.v, "a string longer than eight bytes"));
		cr_assert_eq(g.buf[g.v.len], 0, "NUL added when it fits");
		cr_assert_eq(mps_list_get(l, 4, &g.v, OUT(g)), 0);
		cr_assert(v_text(&g.v, MPS_BYTES, "b\0y", 3));
		cr_assert_eq(mps_list_get(l, 2, &g.v, OUT(g)), 0);
		cr_assert(g.v.type == MPS_FLOAT && g.v.f == 3.5);
		cr_assert_eq(mps_list_get(l, 3, &g.v, OUT(g)), 0);
		cr_assert_eq(g.v.type, MPS_NONE);
		UNCHANGED(seg, mps_list_get(l, 6, &g.v, OUT(g)), ERANGE);
		UNCHANGED(seg, mps_list_get(l, -7, &g.v, OUT(g)), ERANGE);
		/* EMSGSIZE tells the size, changes nothing */
		char small[4];
		mps_var_t v;
		UNCHANGED(seg, mps_list_get(l, 5, &v, ((mps_out_t){ small, sizeof small })), EMSGSIZE);
		cr_assert(v.type == MPS_STR && v.len == 32);
		UNCHANGED(seg, mps_list_pop(l, 5, &v, ((mps_out_t){ small, sizeof small })), EMSGSIZE);
		cr_assert_eq(mps_list_len(l), 6);
		/* setitem, delitem */
		cr_assert_eq(mps_list_set(l, 1, I(2)), 0);
		cr_assert_eq(mps_list_set(l, -1, S("short")), 0);
		UNCHANGED(seg, mps_list_set(l, 6, I(0)), ERANGE);
		cr_assert_str_eq(lrepr(l), "[1, 2, 3.5, None, b'b', 'short']");
		cr_assert_eq(mps_list_del(l, 3), 0);
		UNCHANGED(seg, mps_list_del(l, 5), ERANGE);
		cr_assert_str_eq(lrepr(l), "[1, 2, 3.5, b'b', 'short']");
		/* insert clamps like Python */
		cr_assert_eq(mps_list_insert(l, -100, I(-1)), 0);
		cr_assert_eq(mps_list_insert(l, 100, I(100)), 0);
		cr_assert_eq(mps_list_insert(l, -1, I(99)), 0);
		cr_assert_eq(mps_list_insert(l, 2, I(7)), 0);
		cr_assert_str_eq(lrepr(l), "[-1, 1, 7, 2, 3.5, b'b', 'short', 99, 100]");
		/* pop: default last, first, middle; IndexError on empty */
		cr_assert_eq(mps_list_pop(l, -1, &g.v, OUT(g)), 0);
		cr_assert(v_int(&g.v, 100));
		cr_assert_eq(mps_list_pop(l, 0, &g.v, OUT(g)), 0);
		cr_assert(v_int(&g.v, -1));
		cr_assert_eq(mps_list_pop(l, 4, &g.v, OUT(g)), 0);
		cr_assert(v_text(&g.v, MPS_BYTES, "b\0y", 3));
		cr_assert_str_eq(lrepr(l), "[1, 7, 2, 3.5, 'short', 99]");
		/* remove, index, count */
		cr_assert_eq(mps_list_append(l, I(7)), 0);
		cr_assert_eq(mps_list_count(l, I(7)), 2);
		cr_assert_eq(mps_list_count(l, I(8)), 0);
		cr_assert_eq(mps_list_remove(l, I(7)), 0);
		cr_assert_str_eq(lrepr(l), "[1, 2, 3.5, 'short', 99, 7]");
		size_t ix;
		cr_assert_eq(mps_list_index(l, I(7), &ix), 0);
		cr_assert_eq(ix, 5);
		UNCHANGED(seg, mps_list_index(l, I(8), &ix), ENOENT);
		UNCHANGED(seg, mps_list_remove(l, S("absent")), ENOENT);
		/* sort: strings refuse mixing with numbers, unchanged */
		UNCHANGED(seg, mps_list_sort(l, false), EINVAL);
		cr_assert_eq(mps_list_remove(l, S("short")), 0);
		cr_assert_eq(mps_list_sort(l, false), 0);
		cr_assert_str_eq(lrepr(l), "[1, 2, 3.5, 7, 99]");
		cr_assert_eq(mps_list_sort(l, true), 0);
		cr_assert_str_eq(lrepr(l), "[99, 7, 3.5, 2, 1]");
		cr_assert_eq(mps_list_reverse(l), 0);
		cr_assert_str_eq(lrepr(l), "[1, 2, 3.5, 7, 99]");
		/* reversed(): index-based from the end */
		char rev[64] = "";
		for (int64_t i = (int64_t)mps_list_len(l) - 1; i >= 0; i--) {
			cr_assert_eq(mps_list_get(l, i, &g.v, OUT(g)), 0);
			char one[32];
			show(one, sizeof one, &g.v);
			cat(rev, sizeof rev, one);
			cat(rev, sizeof rev, " ");
		}
		cr_assert_str_eq(rev, "99 7 3.5 2 1 ");
		/* += other, += self, *= 0 */
		mps_list_t *o = new_list(seg, NULL);
		cr_assert_eq(mps_list_append(o, S("x")), 0);
		cr_assert_eq(mps_list_extend_list(l, o), 0);
		cr_assert_str_eq(lrepr(l), "[1, 2, 3.5, 7, 99, 'x']");
		cr_assert_str_eq(lrepr(o), "['x']");
		cr_assert_eq(mps_list_del(l, 0), 0);
		cr_assert_eq(mps_list_del(l, 0), 0);
		cr_assert_eq(mps_list_extend_list(l, l), 0);
		cr_assert_str_eq(lrepr(l), "[3.5, 7, 99, 'x', 3.5, 7, 99, 'x']");
		cr_assert_eq(mps_list_repeat(l, 1), 0);
		cr_assert_eq(mps_list_len(l), 8);
		/* copy: a new unnamed list, equal, independent */
		mps_list_t *c = NULL;
		cr_assert_eq(mps_list_copy(l, &c), 0);
		cr_assert_eq(mps_object_kind(c), MPS_KIND_LIST);
		cr_assert_eq(mps_object_refs(c), 1);
		cr_assert_str_eq(lrepr(c), lrepr(l));
		cr_assert_eq(mps_list_append(c, I(1)), 0);
		cr_assert_eq(mps_list_len(l), 8);
		cr_assert_eq(mps_object_release(c), 0);
		cr_assert_eq(mps_list_repeat(l, 0), 0);
		cr_assert_eq(mps_list_len(l), 0);
		UNCHANGED(seg, mps_list_pop(l, -1, &g.v, OUT(g)), ERANGE);
		UNCHANGED(seg, mps_list_del(l, 0), ERANGE);
		cr_assert_eq(mps_list_reverse(l), 0);
		cr_assert_eq(mps_list_sort(l, false), 0);
		cr_assert_eq(mps_object_release(o), 0);
	}
	mps_segment_close(seg);
}

/* Slices: Python's clamping; bytes and strings packed into out, each with
 * a NUL; EMSGSIZE when out is too small (the vars say each length, no
 * reference is taken, nothing changes). */
Test(container, list_slice)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_list_t *l = new_list(seg, "l");
	mps_list_t *x = new_list(seg, NULL);
	mps_var_t vs[8];
	char out[64];
	size_t got;
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_list_clear(l), 0);
		cr_assert_eq(mps_list_append(l, S("ab")), 0);
		cr_assert_eq(mps_list_append(l, I(7)), 0);
		cr_assert_eq(mps_list_append(l, B("a longer bytes value", 20)), 0);
		cr_assert_eq(mps_list_append(l, R(x)), 0);
		cr_assert_eq(mps_list_append(l, S("")), 0);
		cr_assert_eq(mps_list_slice(l, -100, 100, vs, 8, &got, ((mps_out_t){ out, sizeof out })), 0);
		cr_assert_eq(got, 5);
		cr_assert(v_str(&vs[0], "ab") && v_int(&vs[1], 7));
		cr_assert(v_text(&vs[2], MPS_BYTES, "a longer bytes value", 20));
		cr_assert(vs[3].type == MPS_REF && vs[3].ref == x);
		cr_assert(v_str(&vs[4], ""));
		cr_assert_eq((const char *)vs[2].data, out + 3, "packed after 'ab' and its NUL");
		cr_assert_eq(((const char *)vs[0].data)[2], 0);
		cr_assert_eq(mps_object_refs(x), 3, "list slot + the slice's reference");
		unref(&vs[3]);
		/* 3 + 21 + 1 bytes needed */
		void *c = segtest_snap(seg);
		cr_assert_eq(mps_list_slice(l, 0, 5, vs, 8, &got, ((mps_out_t){ out, 24 })), EMSGSIZE);
		segtest_same(seg, c, "slice EMSGSIZE");
		cr_assert_eq(got, 0);
		cr_assert(vs[2].type == MPS_BYTES && vs[2].len == 20);
		cr_assert_eq(mps_object_refs(x), 2);
		cr_assert_eq(mps_list_slice(l, 0, 5, vs, 8, &got, ((mps_out_t){ out, 25 })), 0);
		cr_assert_eq(got, 5);
		unref(&vs[3]);
		cr_assert_eq(mps_list_slice(l, 1, 2, vs, 8, &got, NOOUT), 0);
		cr_assert(got == 1 && v_int(&vs[0], 7));
		cr_assert_eq(mps_list_slice(l, 3, -3, vs, 8, &got, NOOUT), 0);
		cr_assert_eq(got, 0);
	}
	cr_assert_eq(mps_list_clear(l), 0);
	cr_assert_eq(mps_object_refs(x), 1);
	cr_assert_eq(mps_object_release(x), 0);
	mps_segment_close(seg);
}

/* References counted through every path: many slots holding the same
 * object, repeat and copy taking their own, pop handing the slot's own to
 * the caller, clear and teardown giving all back. */
Test(container, many_refs)
{
	mps_segment_t *seg = segtest_anon(4u << 20);
	size_t free0 = mps_segment_free_bytes(seg);
	mps_list_t *x = new_list(seg, "x");
	struct got g;
	for (int round = 0; round < 2; round++) {
		mps_list_t *l = new_list(seg, "l");
		mps_dict_t *d = new_dict(seg, "d");
		for (int i = 0; i < 500; i++) {
			cr_assert_eq(mps_list_append(l, R(x)), 0);
			cr_assert_eq(mps_dict_set(d, I(i), R(x)), 0);
		}
		cr_assert_eq(mps_object_refs(x), 1001);
		cr_assert_eq(mps_list_repeat(l, 3), 0);
		cr_assert_eq(mps_object_refs(x), 2001);
		mps_dict_t *dc = NULL;
		cr_assert_eq(mps_dict_copy(d, &dc), 0);
		cr_assert_eq(mps_object_refs(x), 2501);
		cr_assert_eq(mps_list_pop(l, 0, &g.v, OUT(g)), 0);
		cr_assert(g.v.type == MPS_REF && g.v.ref == x);
		cr_assert_eq(mps_object_refs(x), 2501, "pop hands over the slot's reference");
		unref(&g.v);
		cr_assert_eq(mps_dict_pop(d, I(0), &g.v, OUT(g)), 0);
		cr_assert_eq(mps_object_refs(x), 2500);
		unref(&g.v);
		cr_assert_eq(mps_dict_update(d, dc), 0);   /* 499 replaced, 1 back */
		cr_assert_eq(mps_object_refs(x), 2500);
		cr_assert_eq(mps_dict_len(d), 500);
		cr_assert_eq(mps_object_release(dc), 0);
		cr_assert_eq(mps_object_refs(x), 2000);
		cr_assert_eq(mps_list_clear(l), 0);
		cr_assert_eq(mps_object_refs(x), 501);
		/* teardown: the dict's name goes, its slots go with it */
		cr_assert_eq(mps_segment_remove(seg, "d"), 0);
		cr_assert_eq(mps_object_refs(x), 1);
		for (int i = 0; i < 300; i++)
			cr_assert_eq(mps_list_append(l, i % 2 ? R(x) : S("a string to be torn down")), 0);
		cr_assert_eq(mps_segment_remove(seg, "l"), 0);
		cr_assert_eq(mps_object_refs(x), 1);
	}
	cr_assert_eq(mps_segment_remove(seg, "x"), 0);
	cr_assert_eq(mps_segment_free_bytes(seg), free0);
	mps_segment_close(seg);
}

/* Sorting numbers compares int with float exactly; the sort is stable,
 * reverse included (Python's rule); bytes and strings sort bytewise. */
Test(container, list_sort)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_list_t *l = new_list(seg, "l");
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_list_clear(l), 0);
		mps_var_t nums[] = { mps_float(2.5), mps_int(3), mps_float(-1e300), mps_int(2),
		                     mps_float(2.0), mps_int(INT64_MAX), mps_float(9.3e18),
		                     mps_int(-5), mps_float(3.0), mps_int(INT64_MIN) };
		cr_assert_eq(mps_list_extend(l, nums, 10), 0);
		cr_assert_eq(mps_list_sort(l, false), 0);
		cr_assert_str_eq(lrepr(l), "[-1e+300, -9223372036854775808, -5, 2, 2, 2.5, 3, 3, "
		                 "9223372036854775807, 9.3e+18]");
		/* stable: int 2 before float 2.0, int 3 before float 3.0 */
		struct got g;
		cr_assert_eq(mps_list_get(l, 3, &g.v, OUT(g)), 0);
		cr_assert_eq(g.v.type, MPS_INT);
		cr_assert_eq(mps_list_get(l, 6, &g.v, OUT(g)), 0);
		cr_assert_eq(g.v.type, MPS_INT);
		cr_assert_eq(mps_list_sort(l, true), 0);
		cr_assert_str_eq(lrepr(l), "[9.3e+18, 9223372036854775807, 3, 3, 2.5, 2, 2, -5, "
		                 "-9223372036854775808, -1e+300]");
		cr_assert_eq(mps_list_get(l, 2, &g.v, OUT(g)), 0);
		cr_assert_eq(g.v.type, MPS_INT, "reverse keeps equal items in their order");
		cr_assert_eq(mps_list_clear(l), 0);
		mps_var_t text[] = { mps_str("pear"), mps_str("apple"), mps_bytes("zz", 2),
		                     mps_str("apple pie and more"), mps_str("") };
		cr_assert_eq(mps_list_extend(l, text, 5), 0);
		cr_assert_eq(mps_list_sort(l, false), 0);
		cr_assert_str_eq(lrepr(l), "['', 'apple', 'apple pie and more', 'pear', b'zz']");
		cr_assert_eq(mps_list_append(l, NONE), 0);
		UNCHANGED(seg, mps_list_sort(l, false), EINVAL);
		cr_assert_eq(mps_list_pop(l, -1, NULL, NOOUT), 0);
		cr_assert_eq(mps_list_append(l, R(l)), 0);
		UNCHANGED(seg, mps_list_sort(l, true), EINVAL);
		cr_assert_eq(mps_list_del(l, -1), 0);
		cr_assert_eq(mps_object_refs(l), 1);
	}
	mps_segment_close(seg);
}

/* 10.4: iteration is index-based: it exhausts once and sees a change made
 * during it. */
Test(container, list_iteration)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_list_t *l = new_list(seg, "l");
	struct got g;
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_list_clear(l), 0);
		fill_list(l, 0, 10);
		int64_t i = 0;
		while (mps_list_get(l, i, &g.v, OUT(g)) == 0) {
			cr_assert(v_int(&g.v, i));
			i++;
		}
		cr_assert_eq(i, 10);
		cr_assert_eq(mps_list_get(l, i, &g.v, OUT(g)), ERANGE, "exhausted stays exhausted");
		i = 0;
		cr_assert_eq(mps_list_set(l, 0, I(100)), 0);
		cr_assert_eq(mps_list_get(l, i, &g.v, OUT(g)), 0);
		cr_assert(v_int(&g.v, 100), "the iterator sees a[0] = 100");
	}
	mps_segment_close(seg);
}

/* 10.2, 10.5: lists of lists share their elements; nested lists are
 * independent; a list holding itself can be emptied and dropped without a
 * hang, and the cycle is reclaimed once broken. */
Test(container, list_nested)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	size_t free0 = mps_segment_free_bytes(seg);
	for (int round = 0; round < 2; round++) {
		mps_list_t *outer = new_list(seg, "outer");
		mps_list_t *a = new_list(seg, NULL), *b = new_list(seg, NULL);
		fill_list(a, 0, 3);
		fill_list(b, 0, 3);
		cr_assert_eq(mps_list_append(outer, R(a)), 0);
		cr_assert_eq(mps_list_append(outer, R(b)), 0);
		cr_assert_eq(mps_object_refs(a), 2);
		struct got g;
		cr_assert_eq(mps_list_get(outer, 0, &g.v, OUT(g)), 0);
		cr_assert(g.v.type == MPS_REF && g.v.ref == a, "a reference to the same list");
		cr_assert_eq(mps_object_refs(a), 3, "a read hands out a reference");
		mps_list_t *a2 = g.v.ref;
		cr_assert_eq(mps_list_set(a2, -1, I(55)), 0);
		cr_assert_eq(mps_list_append(a2, S("hello")), 0);
		cr_assert_str_eq(lrepr(a), "[0, 1, 55, 'hello']");
		cr_assert_str_eq(lrepr(b), "[0, 1, 2]", "nested lists are independent");
		cr_assert_eq(mps_list_get(outer, 1, &g.v, OUT(g)), 0);
		cr_assert_eq(mps_list_pop(g.v.ref, -1, NULL, NOOUT), 0);
		unref(&g.v);
		cr_assert_str_eq(lrepr(b), "[0, 1]");
		cr_assert_str_eq(lrepr(a), "[0, 1, 55, 'hello']");
		cr_assert_eq(mps_object_release(a2), 0);
		cr_assert_eq(mps_object_release(a), 0);
		cr_assert_eq(mps_object_release(b), 0);
		cr_assert_eq(mps_object_refs(a), 1, "kept alive by the outer list");
		/* a list containing itself */
		cr_assert_eq(mps_list_append(outer, R(outer)), 0);
		cr_assert_eq(mps_object_refs(outer), 2);
		cr_assert_eq(mps_list_count(outer, R(outer)), 1);
		mps_list_t *c = NULL;
		cr_assert_eq(mps_list_copy(outer, &c), 0);
		cr_assert_eq(mps_object_refs(outer), 3, "the copy shares the reference");
		cr_assert_eq(mps_list_extend_list(outer, outer), 0);
		cr_assert_eq(mps_object_refs(outer), 4);
		cr_assert_eq(mps_object_release(c), 0);
		cr_assert_eq(mps_object_refs(outer), 3);
		cr_assert_eq(mps_list_clear(outer), 0);
		cr_assert_eq(mps_object_refs(outer), 1);
		cr_assert_eq(mps_segment_remove(seg, "outer"), 0);
		cr_assert_eq(mps_segment_free_bytes(seg), free0, "round %d: everything reclaimed", round);
	}
	/* The name of a list holding itself goes: nothing hangs; the cycle
	 * stays (documented leak) until someone breaks it. */
	mps_list_t *self = new_list(seg, "self");
	cr_assert_eq(mps_list_append(self, R(self)), 0);
	cr_assert_eq(mps_object_retain(self), 0);
	cr_assert_eq(mps_segment_remove(seg, "self"), 0);
	cr_assert_eq(mps_object_refs(self), 2);
	cr_assert_eq(mps_list_clear(self), 0);
	cr_assert_eq(mps_object_refs(self), 1);
	cr_assert_eq(mps_object_release(self), 0);
	cr_assert_eq(mps_segment_free_bytes(seg), free0);
	mps_segment_close(seg);
}

/* Growth and shrinking over many slots, with blobs: content intact, and
 * the space comes back. */
Test(container, list_large)
{
	mps_segment_t *seg = segtest_anon(8u << 20);
	size_t free0 = mps_segment_free_bytes(seg);
	mps_list_t *l = new_list(seg, "l");
	char s[64];
	struct got g;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 3000; i++) {
			snprintf(s, sizeof s, "item %d with some padding", i);
			cr_assert_eq(i % 2 ? mps_list_append(l, S(s)) : mps_list_append(l, I(i)), 0);
		}
		for (int i = 0; i < 100; i++)
			cr_assert_eq(mps_list_insert(l, 1500, I(-i)), 0);
		for (int i = 0; i < 100; i++)
			cr_assert_eq(mps_list_pop(l, 1500, &g.v, OUT(g)), 0);
		for (int i = 0; i < 1000; i++)
			cr_assert_eq(mps_list_pop(l, 0, &g.v, OUT(g)), 0);
		cr_assert_eq(mps_list_len(l), 2000);
		for (int i = 0; i < 2000; i++) {
			int k = i + 1000;
			cr_assert_eq(mps_list_get(l, i, &g.v, OUT(g)), 0);
			snprintf(s, sizeof s, "item %d with some padding", k);
			cr_assert(k % 2 ? v_str(&g.v, s) : v_int(&g.v, k), "item %d", i);
		}
		cr_assert_eq(mps_list_repeat(l, 3), 0);
		cr_assert_eq(mps_list_len(l), 6000);
		cr_assert_eq(mps_list_get(l, 5999, &g.v, OUT(g)), 0);
		cr_assert(v_str(&g.v, "item 2999 with some padding"));
		cr_assert_eq(mps_list_clear(l), 0);
	}
	cr_assert_eq(mps_segment_remove(seg, "l"), 0);
	cr_assert_eq(mps_segment_free_bytes(seg), free0);
	mps_segment_close(seg);
}

/* =========================== dict, one process =========================== */

/* 10.7: five int -> str pairs; copy, keys, values, items agree. */
Test(container, dict_basics)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_dict_t *d = new_dict(seg, "d");
	static const char *names[] = { "zero", "one", "two", "three", "four" };
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_dict_clear(d), 0);
		for (int i = 0; i < 5; i++)
			cr_assert_eq(mps_dict_set(d, I(i), S(names[i])), 0);
		const char *want = "{0: 'zero', 1: 'one', 2: 'two', 3: 'three', 4: 'four'}";
		cr_assert_str_eq(drepr(d), want);
		mps_dict_t *c = NULL;
		cr_assert_eq(mps_dict_copy(d, &c), 0);
		cr_assert_str_eq(drepr(c), want);
		cr_assert_eq(mps_object_kind(c), MPS_KIND_DICT);
		cr_assert_eq(mps_object_refs(c), 1);
		/* keys() and values() are the iteration without the other half */
		mps_dict_iter_t it;
		struct got k, v;
		mps_dict_iter_begin(d, &it, false);
		for (int i = 0; i < 5; i++) {
			cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), NULL, NOOUT), 0);
			cr_assert(v_int(&k.v, i));
		}
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), NULL, NOOUT), ENOENT);
		mps_dict_iter_begin(c, &it, false);
		for (int i = 0; i < 5; i++) {
			cr_assert_eq(mps_dict_iter_next(&it, NULL, NOOUT, &v.v, OUT(v)), 0);
			cr_assert(v_str(&v.v, names[i]));
		}
		cr_assert_eq(mps_dict_set(c, I(9), NONE), 0);
		cr_assert_eq(mps_dict_len(d), 5, "the copy is independent");
		cr_assert_eq(mps_object_release(c), 0);
	}
	mps_segment_close(seg);
}

/* 10.8: every dict function, with its errors. */
Test(container, dict_api)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_dict_t *d = new_dict(seg, "d");
	struct got k, v;
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_dict_clear(d), 0);
		cr_assert_eq(mps_dict_len(d), 0);
		cr_assert_eq(mps_dict_set(d, S("a"), I(1)), 0);
		cr_assert_eq(mps_dict_set(d, S("b"), F(2.5)), 0);
		cr_assert_eq(mps_dict_set(d, S("c"), S("a value longer than the inline eight")), 0);
		cr_assert_eq(mps_dict_set(d, I(4), B("\x00\x01", 2)), 0);
		cr_assert_eq(mps_dict_set(d, NONE, NONE), 0);
		cr_assert_eq(mps_dict_len(d), 5);
		cr_assert(mps_dict_contains(d, S("a")));
		cr_assert(!mps_dict_contains(d, B("a", 1)));
		cr_assert(mps_dict_contains(d, NONE));
		/* getitem / get */
		cr_assert_eq(mps_dict_get(d, S("c"), &v.v, OUT(v)), 0);
		cr_assert(v_str(&v.v, "a value longer than the inline eight"));
		cr_assert_eq(mps_dict_get(d, I(4), &v.v, OUT(v)), 0);
		cr_assert(v_text(&v.v, MPS_BYTES, "\x00\x01", 2));
		UNCHANGED(seg, mps_dict_get(d, S("zz"), &v.v, OUT(v)), ENOENT);
		char small[8];
		mps_var_t sv;
		UNCHANGED(seg, mps_dict_get(d, S("c"), &sv, ((mps_out_t){ small, sizeof small })),
		          EMSGSIZE);
		cr_assert(sv.type == MPS_STR && sv.len == 36);
		cr_assert_eq(mps_dict_get(d, S("a"), NULL, NOOUT), 0, "value may be NULL");
		/* setitem replaces in place: order kept */
		cr_assert_eq(mps_dict_set(d, S("a"), S("replaced and now long enough")), 0);
		cr_assert_eq(mps_dict_set(d, S("a"), I(10)), 0);
		cr_assert_str_eq(drepr(d), "{'a': 10, 'b': 2.5, 'c': 'a value longer than the inline "
		                 "eight', 4: b'', None: None}");
		/* delitem */
		cr_assert_eq(mps_dict_del(d, S("b")), 0);
		UNCHANGED(seg, mps_dict_del(d, S("b")), ENOENT);
		cr_assert_eq(mps_dict_len(d), 4);
		/* pop */
		cr_assert_eq(mps_dict_pop(d, I(4), &v.v, OUT(v)), 0);
		cr_assert(v_text(&v.v, MPS_BYTES, "\x00\x01", 2));
		UNCHANGED(seg, mps_dict_pop(d, I(4), &v.v, OUT(v)), ENOENT);
		UNCHANGED(seg, mps_dict_pop(d, S("c"), &sv, ((mps_out_t){ small, sizeof small })),
		          EMSGSIZE);
		cr_assert_eq(mps_dict_len(d), 3);
		/* setdefault: present -> its value; absent -> stores dflt */
		cr_assert_eq(mps_dict_setdefault(d, S("a"), I(99), &v.v, OUT(v)), 0);
		cr_assert(v_int(&v.v, 10));
		cr_assert_eq(mps_dict_setdefault(d, S("new"), S("default value, long"), &v.v, OUT(v)), 0);
		cr_assert(v_str(&v.v, "default value, long"));
		UNCHANGED(seg, mps_dict_setdefault(d, S("n2"), S("too long for 8"), &sv,
		                                   ((mps_out_t){ small, sizeof small })), EMSGSIZE);
		cr_assert(sv.type == MPS_STR && sv.len == 14);
		cr_assert(!mps_dict_contains(d, S("n2")));
		cr_assert_eq(mps_dict_setdefault(d, S("n3"), I(3), NULL, NOOUT), 0);
		/* popitem: the last inserted */
		cr_assert_eq(mps_dict_popitem(d, &k.v, OUT(k), &v.v, OUT(v)), 0);
		cr_assert(v_str(&k.v, "n3") && v_int(&v.v, 3));
		cr_assert_eq(mps_dict_popitem(d, &k.v, OUT(k), &v.v, OUT(v)), 0);
		cr_assert(v_str(&k.v, "new") && v_str(&v.v, "default value, long"));
		cr_assert_str_eq(drepr(d), "{'a': 10, 'c': 'a value longer than the inline eight', "
		                 "None: None}");
		/* update: new keys appended, existing ones replaced in place */
		mps_dict_t *o = new_dict(seg, NULL);
		cr_assert_eq(mps_dict_set(o, S("c"), I(3)), 0);
		cr_assert_eq(mps_dict_set(o, S("z"), S("zed, a long value here")), 0);
		cr_assert_eq(mps_dict_set(o, S("a"), I(11)), 0);
		cr_assert_eq(mps_dict_update(d, o), 0);
		cr_assert_str_eq(drepr(d), "{'a': 11, 'c': 3, None: None, 'z': 'zed, a long value here'}");
		cr_assert_str_eq(drepr(o), "{'c': 3, 'z': 'zed, a long value here', 'a': 11}");
		cr_assert_eq(mps_dict_update(d, d), 0);
		cr_assert_eq(mps_dict_len(d), 4);
		/* eq/ne: same pairs in the same order */
		mps_dict_t *c = NULL;
		cr_assert_eq(mps_dict_copy(d, &c), 0);
		cr_assert_str_eq(drepr(c), drepr(d));
		cr_assert_eq(mps_dict_set(c, S("a"), I(12)), 0);
		cr_assert_str_neq(drepr(c), drepr(d));
		cr_assert_eq(mps_object_release(c), 0);
		cr_assert_eq(mps_object_release(o), 0);
		/* popitem until empty, then ENOENT */
		for (int i = 0; i < 4; i++)
			cr_assert_eq(mps_dict_popitem(d, NULL, NOOUT, NULL, NOOUT), 0);
		UNCHANGED(seg, mps_dict_popitem(d, &k.v, OUT(k), &v.v, OUT(v)), ENOENT);
		cr_assert_str_eq(drepr(d), "{}");
	}
	mps_segment_close(seg);
}

/* Keys compare by type and bytes: 1 and 1.0, 0.0 and -0.0, b'x' and 'x'
 * are different keys; NaN finds itself; long keys live in blobs. */
Test(container, dict_keys)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_dict_t *d = new_dict(seg, "d");
	struct got v;
	const char *lk = "a key that is rather longer than eight bytes";
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_dict_clear(d), 0);
		cr_assert_eq(mps_dict_set(d, I(1), S("int")), 0);
		cr_assert_eq(mps_dict_set(d, F(1.0), S("float")), 0);
		cr_assert_eq(mps_dict_set(d, F(0.0), S("+0")), 0);
		cr_assert_eq(mps_dict_set(d, F(-0.0), S("-0")), 0);
		cr_assert_eq(mps_dict_set(d, F(NAN), S("nan")), 0);
		cr_assert_eq(mps_dict_set(d, S("x"), S("str")), 0);
		cr_assert_eq(mps_dict_set(d, B("x", 1), S("bytes")), 0);
		cr_assert_eq(mps_dict_set(d, S(""), S("empty")), 0);
		cr_assert_eq(mps_dict_set(d, S(lk), S("long")), 0);
		cr_assert_eq(mps_dict_set(d, B("12345678", 8), S("eight")), 0);
		cr_assert_eq(mps_dict_set(d, B("123456789", 9), S("nine")), 0);
		cr_assert_eq(mps_dict_len(d), 11);
		cr_assert_eq(mps_dict_get(d, F(1.0), &v.v, OUT(v)), 0);
		cr_assert(v_str(&v.v, "float"));
		cr_assert_eq(mps_dict_get(d, F(-0.0), &v.v, OUT(v)), 0);
		cr_assert(v_str(&v.v, "-0"));
		cr_assert_eq(mps_dict_get(d, F(NAN), &v.v, OUT(v)), 0);
		cr_assert(v_str(&v.v, "nan"));
		cr_assert_eq(mps_dict_get(d, B("x", 1), &v.v, OUT(v)), 0);
		cr_assert(v_str(&v.v, "bytes"));
		cr_assert_eq(mps_dict_get(d, S(lk), &v.v, OUT(v)), 0);
		cr_assert(v_str(&v.v, "long"));
		cr_assert_eq(mps_dict_get(d, B("123456789", 9), &v.v, OUT(v)), 0);
		cr_assert(v_str(&v.v, "nine"));
		cr_assert_eq(mps_dict_get(d, B("12345678", 8), &v.v, OUT(v)), 0);
		cr_assert(v_str(&v.v, "eight"));
		cr_assert_eq(mps_dict_get(d, B("1234567", 7), &v.v, OUT(v)), ENOENT);
		cr_assert_eq(mps_dict_get(d, I(2), &v.v, OUT(v)), ENOENT);
		cr_assert_eq(mps_dict_del(d, S(lk)), 0);
		cr_assert_eq(mps_dict_get(d, S(lk), &v.v, OUT(v)), ENOENT);
	}
	mps_segment_close(seg);
}

/* Many keys: growth, deletions leaving holes, re-insertion; order and
 * contents intact; everything reclaimed after clear. */
Test(container, dict_large)
{
	mps_segment_t *seg = segtest_anon(8u << 20);
	size_t free0 = mps_segment_free_bytes(seg);
	mps_dict_t *d = new_dict(seg, "d");
	char key[64];
	struct got v;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 5000; i++) {
			snprintf(key, sizeof key, "key number %d", i);
			cr_assert_eq(mps_dict_set(d, i % 3 ? S(key) : I(i), I(i * 7)), 0);
		}
		for (int i = 0; i < 5000; i += 2) {
			snprintf(key, sizeof key, "key number %d", i);
			cr_assert_eq(mps_dict_del(d, i % 3 ? S(key) : I(i)), 0);
		}
		for (int i = 0; i < 5000; i += 4) {
			snprintf(key, sizeof key, "key number %d", i);
			cr_assert_eq(mps_dict_set(d, i % 3 ? S(key) : I(i), I(-i)), 0);
		}
		cr_assert_eq(mps_dict_len(d), 2500 + 1250);
		for (int i = 0; i < 5000; i++) {
			snprintf(key, sizeof key, "key number %d", i);
			int r = mps_dict_get(d, i % 3 ? S(key) : I(i), &v.v, OUT(v));
			if (i % 4 == 2) {
				cr_assert_eq(r, ENOENT, "key %d", i);
				continue;
			}
			cr_assert_eq(r, 0, "key %d", i);
			cr_assert(v_int(&v.v, i % 4 == 0 ? -i : i * 7), "value of %d", i);
		}
		/* iteration: the odd keys in order, then the re-inserted ones */
		mps_dict_iter_t it;
		struct got k;
		mps_dict_iter_begin(d, &it, false);
		for (int n = 0; n < 3750; n++) {
			cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), &v.v, OUT(v)), 0);
			int i = n < 2500 ? 2 * n + 1 : 4 * (n - 2500);
			cr_assert(v_int(&v.v, i % 4 == 0 ? -i : i * 7), "entry %d", n);
		}
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), &v.v, OUT(v)), ENOENT);
		for (int n = 0; n < 1000; n++)
			cr_assert_eq(mps_dict_popitem(d, NULL, NOOUT, NULL, NOOUT), 0);
		cr_assert_eq(mps_dict_len(d), 2750);
		cr_assert_eq(mps_dict_clear(d), 0);
	}
	cr_assert_eq(mps_segment_remove(seg, "d"), 0);
	cr_assert_eq(mps_segment_free_bytes(seg), free0);
	mps_segment_close(seg);
}

/* 10.9: insertion order, exhausts once; a size change during iteration
 * (clear, insertion, deletion) gives ESTALE; replacing a value does not;
 * reversed() walks backwards. */
Test(container, dict_iteration)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_dict_t *d = new_dict(seg, "d");
	struct got k, v;
	mps_dict_iter_t it;
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_dict_clear(d), 0);
		static const char *ks[] = { "c", "a", "b", "e", "d" };
		for (int i = 0; i < 5; i++)
			cr_assert_eq(mps_dict_set(d, S(ks[i]), I(i)), 0);
		mps_dict_iter_begin(d, &it, false);
		for (int i = 0; i < 5; i++) {
			cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), &v.v, OUT(v)), 0);
			cr_assert(v_str(&k.v, ks[i]) && v_int(&v.v, i));
		}
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), &v.v, OUT(v)), ENOENT);
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), &v.v, OUT(v)), ENOENT);
		cr_assert_str_eq(drepr_dir(d, true), "{'d': 4, 'e': 3, 'b': 2, 'a': 1, 'c': 0}");
		/* a value replaced: fine */
		mps_dict_iter_begin(d, &it, false);
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), NULL, NOOUT), 0);
		cr_assert_eq(mps_dict_set(d, S("a"), I(100)), 0);
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), &v.v, OUT(v)), 0);
		cr_assert(v_str(&k.v, "a") && v_int(&v.v, 100));
		/* EMSGSIZE does not advance */
		char small[1];
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, ((mps_out_t){ small, 0 }), NULL, NOOUT),
		             EMSGSIZE);
		cr_assert(k.v.type == MPS_STR && k.v.len == 1);
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), NULL, NOOUT), 0);
		cr_assert(v_str(&k.v, "b"));
		/* an insertion, a deletion, a clear: ESTALE */
		cr_assert_eq(mps_dict_set(d, S("f"), I(5)), 0);
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), NULL, NOOUT), ESTALE);
		mps_dict_iter_begin(d, &it, true);
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), NULL, NOOUT), 0);
		cr_assert(v_str(&k.v, "f"));
		cr_assert_eq(mps_dict_del(d, S("c")), 0);
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), NULL, NOOUT), ESTALE);
		mps_dict_iter_begin(d, &it, false);
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), NULL, NOOUT), 0);
		cr_assert_eq(mps_dict_clear(d), 0);
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), NULL, NOOUT), ESTALE);
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), NULL, NOOUT), ESTALE);
		mps_dict_iter_begin(d, &it, false);
		cr_assert_eq(mps_dict_iter_next(&it, &k.v, OUT(k), NULL, NOOUT), ENOENT);
	}
	mps_segment_close(seg);
}

/* ============================ nesting, identity ============================ */

/* 10.11, 10.14: d = {pets: list, supplies: dict}. Writes through d are seen
 * through the standalone handles and back; dropping the handles keeps the
 * inner objects alive through d; after clear() references fetched before
 * still work; an object is destroyed with its last reference. */
Test(container, nested_refs)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	size_t free0 = mps_segment_free_bytes(seg);
	struct got g, h;
	for (int round = 0; round < 2; round++) {
		mps_dict_t *d = new_dict(seg, "d");
		mps_list_t *pets = new_list(seg, "pets");
		mps_dict_t *supplies = new_dict(seg, NULL);
		cr_assert_eq(mps_dict_set(d, S("pets"), R(pets)), 0);
		cr_assert_eq(mps_dict_set(d, S("supplies"), R(supplies)), 0);
		cr_assert_eq(mps_object_refs(pets), 2, "name + dict slot");
		cr_assert_eq(mps_object_refs(supplies), 2, "creator + dict slot");
		cr_assert_eq(mps_dict_get(d, S("supplies"), &g.v, OUT(g)), 0);
		cr_assert(g.v.type == MPS_REF && g.v.ref == supplies);
		cr_assert_eq(mps_dict_set(g.v.ref, S("water"), I(10)), 0);
		cr_assert_eq(mps_dict_get(supplies, S("water"), &h.v, OUT(h)), 0);
		cr_assert(v_int(&h.v, 10), "seen through the standalone handle");
		cr_assert_eq(mps_dict_set(supplies, S("blankets"), I(5)), 0);
		cr_assert_str_eq(drepr(g.v.ref), "{'water': 10, 'blankets': 5}");
		unref(&g.v);
		cr_assert_eq(mps_list_append(pets, S("cat")), 0);
		cr_assert_eq(mps_dict_get(d, S("pets"), &g.v, OUT(g)), 0);
		cr_assert_str_eq(lrepr(g.v.ref), "['cat']");
		cr_assert_eq(mps_list_append(g.v.ref, S("dog")), 0);
		unref(&g.v);
		cr_assert_str_eq(lrepr(pets), "['cat', 'dog']");
		/* a list of the same references shares them */
		mps_list_t *both = new_list(seg, NULL);
		cr_assert_eq(mps_list_append(both, R(pets)), 0);
		cr_assert_eq(mps_list_append(both, R(supplies)), 0);
		cr_assert_eq(mps_object_refs(supplies), 3);
		/* drop the standalone handles: d keeps them alive */
		cr_assert_eq(mps_object_release(supplies), 0);
		cr_assert_eq(mps_segment_remove(seg, "pets"), 0);
		cr_assert_eq(mps_object_release(both), 0);
		cr_assert_eq(mps_dict_get(d, S("supplies"), &g.v, OUT(g)), 0);
		cr_assert_str_eq(drepr(g.v.ref), "{'water': 10, 'blankets': 5}");
		cr_assert_eq(mps_dict_get(d, S("pets"), &h.v, OUT(h)), 0);
		cr_assert_str_eq(lrepr(h.v.ref), "['cat', 'dog']");
		cr_assert_eq(mps_object_refs(g.v.ref), 2, "dict slot + our read");
		/* clear(): the fetched references still work */
		cr_assert_eq(mps_dict_clear(d), 0);
		cr_assert_eq(mps_object_refs(g.v.ref), 1);
		cr_assert_eq(mps_dict_set(g.v.ref, S("food"), I(1)), 0);
		cr_assert_eq(mps_list_append(h.v.ref, S("fish")), 0);
		cr_assert_str_eq(lrepr(h.v.ref), "['cat', 'dog', 'fish']");
		size_t before = mps_segment_free_bytes(seg);
		unref(&h.v);
		cr_assert_gt(mps_segment_free_bytes(seg), before, "the last reference destroys");
		unref(&g.v);
		cr_assert_eq(mps_segment_remove(seg, "d"), 0);
		cr_assert_eq(mps_segment_free_bytes(seg), free0, "round %d", round);
	}
	mps_segment_close(seg);
}

/* 10.12: a bytes value copied out and changed locally leaves the container
 * alone; storing it again changes it. */
Test(container, plain_copies)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_list_t *l = new_list(seg, "l");
	mps_dict_t *d = new_dict(seg, "d");
	struct got g;
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_list_clear(l), 0);
		cr_assert_eq(mps_list_append(l, B("abc", 3)), 0);
		cr_assert_eq(mps_list_append(l, B("a longer byte string", 20)), 0);
		cr_assert_eq(mps_dict_set(d, I(0), B("xyz", 3)), 0);
		for (int i = 0; i < 2; i++) {
			cr_assert_eq(mps_list_get(l, i, &g.v, OUT(g)), 0);
			g.buf[0] = 'Z';
			cr_assert_eq(mps_list_get(l, i, &g.v, OUT(g)), 0);
			cr_assert_eq(g.buf[0], 'a');
		}
		cr_assert_eq(mps_dict_get(d, I(0), &g.v, OUT(g)), 0);
		g.buf[1] = 'Q';
		cr_assert_eq(mps_dict_get(d, I(0), &g.v, OUT(g)), 0);
		cr_assert(v_text(&g.v, MPS_BYTES, "xyz", 3));
		g.buf[1] = 'Q';
		cr_assert_eq(mps_dict_set(d, I(0), &g.v), 0);
		cr_assert_eq(mps_dict_get(d, I(0), &g.v, OUT(g)), 0);
		cr_assert(v_text(&g.v, MPS_BYTES, "xQz", 3));
	}
	mps_segment_close(seg);
}

/* 10.15: references compare by identity, never by content. */
Test(container, identity)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_list_t *a = new_list(seg, "a"), *b = new_list(seg, "b"), *l = new_list(seg, "l");
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_list_clear(l), 0);
		cr_assert_eq(mps_list_clear(a), 0);
		cr_assert_eq(mps_list_clear(b), 0);
		fill_list(a, 1, 4);
		fill_list(b, 1, 4);
		cr_assert_str_eq(lrepr(a), lrepr(b));
		cr_assert_eq(mps_list_append(l, R(a)), 0);
		cr_assert(mps_list_contains(l, R(a)));
		cr_assert(!mps_list_contains(l, R(b)), "equal content, other object");
		cr_assert_eq(mps_list_count(l, R(b)), 0);
		mps_var_t ra = mps_ref(a), rb = mps_ref(b), ra2 = mps_ref(a);
		cr_assert(!mps_var_equal(&ra, &rb));
		cr_assert(mps_var_equal(&ra, &ra2));
		cr_assert_eq(mps_list_remove(l, R(b)), ENOENT);
		cr_assert_eq(mps_list_remove(l, R(a)), 0);
		cr_assert_eq(mps_object_refs(a), 1);
		mps_var_t x = mps_str("ab"), y = mps_bytes("ab", 2), z = mps_str("ab");
		cr_assert(!mps_var_equal(&x, &y));
		cr_assert(mps_var_equal(&x, &z));
		mps_var_t f1 = mps_float(0.0), f2 = mps_float(-0.0), i0 = mps_int(0);
		cr_assert(!mps_var_equal(&f1, &f2));
		cr_assert(!mps_var_equal(&f1, &i0));
	}
	mps_segment_close(seg);
}

/* ============================== Namespace ============================== */

static const char *nrepr(mps_namespace_t *ns)
{
	static char t[2048];
	int r = mps_namespace_repr(ns, t, sizeof t);
	if (r)
		snprintf(t, sizeof t, "<repr: %s>", mps_strerror(r));
	return t;
}

/* 10.13: set, get, delete; repr as Python's; '_' names refused. */
Test(container, namespace)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_namespace_t *ns = NULL;
	cr_assert_eq(mps_segment_namespace(seg, "ns", MPS_CREATE_ONLY, &ns), 0);
	mps_dict_t *inner = new_dict(seg, NULL);
	struct got g;
	for (int round = 0; round < 2; round++) {
		cr_assert_str_eq(nrepr(ns), "Namespace()");
		cr_assert_eq(mps_namespace_set(ns, "name", S("Bob")), 0);
		cr_assert_eq(mps_namespace_set(ns, "a", I(1)), 0);
		cr_assert_eq(mps_namespace_set(ns, "b", F(2.5)), 0);
		cr_assert_eq(mps_namespace_set(ns, "raw", B("x", 1)), 0);
		cr_assert_eq(mps_namespace_set(ns, "n", NONE), 0);
		cr_assert_eq(mps_namespace_set(ns, "ref", R(inner)), 0);
		cr_assert_eq(mps_namespace_len(ns), 6);
		cr_assert(mps_namespace_has(ns, "name"));
		cr_assert_eq(mps_namespace_get(ns, "name", &g.v, OUT(g)), 0);
		cr_assert(v_str(&g.v, "Bob"));
		/* Python sorts the "name=value" strings: "n=None" < "name='Bob'" */
		cr_assert_str_eq(nrepr(ns), "Namespace(a=1, b=2.5, n=None, name='Bob', raw=b'x', "
		                 "ref=<dict object>)");
		cr_assert_eq(mps_namespace_del(ns, "ref"), 0);
		cr_assert(!mps_namespace_has(ns, "ref"));
		cr_assert_eq(mps_namespace_get(ns, "ref", &g.v, OUT(g)), ENOENT);
		UNCHANGED(seg, mps_namespace_del(ns, "ref"), ENOENT);
		cr_assert_eq(mps_object_refs(inner), 1);
		/* '_' names are the proxy's own: never shared */
		UNCHANGED(seg, mps_namespace_set(ns, "_private", I(1)), EINVAL);
		UNCHANGED(seg, mps_namespace_set(ns, "__dict__", I(1)), EINVAL);
		UNCHANGED(seg, mps_namespace_get(ns, "_private", &g.v, OUT(g)), EINVAL);
		UNCHANGED(seg, mps_namespace_del(ns, "_x"), EINVAL);
		UNCHANGED(seg, mps_namespace_set(ns, "", I(1)), EINVAL);
		UNCHANGED(seg, mps_namespace_set(ns, NULL, I(1)), EINVAL);
		cr_assert(!mps_namespace_has(ns, "_private"));
		/* too small a buffer: ERANGE */
		char tiny[8];
		cr_assert_eq(mps_namespace_repr(ns, tiny, sizeof tiny), ERANGE);
		cr_assert_eq(mps_namespace_repr(ns, NULL, 0), ERANGE);
		const char *full = "Namespace(a=1, b=2.5, n=None, name='Bob', raw=b'x')";
		char exact[64];
		cr_assert_eq(mps_namespace_repr(ns, exact, strlen(full) + 1), 0);
		cr_assert_str_eq(exact, full);
		cr_assert_eq(mps_namespace_repr(ns, exact, strlen(full)), ERANGE);
		for (const char *const *n = (const char *const[]){ "a", "b", "n", "name", "raw", NULL }; *n; n++)
			cr_assert_eq(mps_namespace_del(ns, *n), 0);
		cr_assert_eq(mps_namespace_len(ns), 0);
	}
	cr_assert_eq(mps_object_release(inner), 0);
	mps_segment_close(seg);
}

/* repr of values: Python's float repr, quoting and escapes. */
Test(container, namespace_repr_values)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE);
	mps_namespace_t *ns = NULL;
	cr_assert_eq(mps_segment_namespace(seg, "ns", MPS_CREATE_ONLY, &ns), 0);
	static const struct { double f; const char *s; } floats[] = {
		{ 0.1, "0.1" }, { 1.0, "1.0" }, { -0.0, "-0.0" }, { 0.0, "0.0" }, { 100.0, "100.0" },
		{ 1e15, "1000000000000000.0" }, { 1e16, "1e+16" }, { 1.5e16, "1.5e+16" },
		{ 1e-4, "0.0001" }, { 1e-5, "1e-05" }, { 1.0 / 3, "0.3333333333333333" },
		{ 2.0 / 3, "0.6666666666666666" }, { 123456789.125, "123456789.125" },
		{ 1e22, "1e+22" }, { 5e-324, "5e-324" }, { 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ INFINITY, "inf" }, { -INFINITY, "-inf" }, { NAN, "nan" }, { -2.5e-7, "-2.5e-07" },
		{ 0.30000000000000004, "0.30000000000000004" }, { 1234.5, "1234.5" },
	};
	char want[128];
	for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
		cr_assert_eq(mps_namespace_set(ns, "f", F(floats[i].f)), 0);
		snprintf(want, sizeof want, "Namespace(f=%s)", floats[i].s);
		cr_assert_str_eq(nrepr(ns), want);
	}
	cr_assert_eq(mps_namespace_del(ns, "f"), 0);
	cr_assert_eq(mps_namespace_set(ns, "s", S("it's")), 0);
	cr_assert_str_eq(nrepr(ns), "Namespace(s=\"it's\")");
	cr_assert_eq(mps_namespace_set(ns, "s", S("both ' and \"")), 0);
	cr_assert_str_eq(nrepr(ns), "Namespace(s='both \\' and \"')");
	cr_assert_eq(mps_namespace_set(ns, "s", S("tab\tnl\nbs\\ \x01 caf\xc3\xa9 \xc2\xa0")), 0);
	cr_assert_str_eq(nrepr(ns), "Namespace(s='tab\\tnl\\nbs\\\\ \\x01 caf\xc3\xa9 \\xa0')");
	cr_assert_eq(mps_namespace_set(ns, "s", B("\x00\xff'a", 4)), 0);
	cr_assert_str_eq(nrepr(ns), "Namespace(s=b\"\\x00\\xff'a\")");
	cr_assert_eq(mps_namespace_set(ns, "s", I(INT64_MIN)), 0);
	cr_assert_str_eq(nrepr(ns), "Namespace(s=-9223372036854775808)");
	mps_list_t *l = new_list(seg, NULL);
	cr_assert_eq(mps_namespace_set(ns, "s", R(l)), 0);
	cr_assert_str_eq(nrepr(ns), "Namespace(s=<list object>)");
	cr_assert_eq(mps_namespace_set(ns, "s", R(ns)), 0);
	cr_assert_str_eq(nrepr(ns), "Namespace(s=<Namespace object>)");
	cr_assert_eq(mps_namespace_del(ns, "s"), 0);
	cr_assert_eq(mps_object_refs(ns), 1);
	cr_assert_eq(mps_object_release(l), 0);
	mps_segment_close(seg);
}

/* ============================== bad input ============================== */

/* SPEC §2: bad input gets EINVAL and leaves every byte of the segment as it
 * was: NULLs, bad types, REF as a key, REF to another segment's object. */
Test(container, bad_input)
{
	mps_segment_t *seg = segtest_anon(SEG_SIZE), *other = segtest_anon(SEG_SIZE);
	mps_dict_t *d = new_dict(seg, "d");
	mps_list_t *l = new_list(seg, "l");
	mps_list_t *foreign = new_list(other, "f");
	struct got g;
	cr_assert_eq(mps_dict_set(d, I(1), I(1)), 0);
	cr_assert_eq(mps_list_append(l, I(1)), 0);
	mps_var_t bad = mps_int(0);
	bad.type = (enum mps_type)77;
	mps_var_t nulldata = mps_bytes(NULL, 3);
	_Alignas(16) char local[128] = { 0 };   /* not an object: no magic before it */
	for (int round = 0; round < 2; round++) {
		UNCHANGED(seg, mps_dict_set(d, R(l), I(1)), EINVAL);
		UNCHANGED(seg, mps_dict_get(d, R(l), &g.v, OUT(g)), EINVAL);
		UNCHANGED(seg, mps_dict_setdefault(d, R(l), I(1), NULL, NOOUT), EINVAL);
		UNCHANGED(seg, mps_dict_pop(d, R(l), NULL, NOOUT), EINVAL);
		UNCHANGED(seg, mps_dict_del(d, R(l)), EINVAL);
		cr_assert(!mps_dict_contains(d, R(l)));
		UNCHANGED(seg, mps_dict_set(d, I(2), R(foreign)), EINVAL);
		UNCHANGED(seg, mps_dict_set(d, I(2), R(local + 64)), EINVAL);
		UNCHANGED(seg, mps_dict_set(d, I(2), R(NULL)), EINVAL);
		UNCHANGED(seg, mps_list_append(l, R(foreign)), EINVAL);
		UNCHANGED(seg, mps_list_insert(l, 0, R(foreign)), EINVAL);
		UNCHANGED(seg, mps_list_set(l, 0, R(foreign)), EINVAL);
		UNCHANGED(seg, mps_list_remove(l, R(foreign)), EINVAL);
		UNCHANGED(seg, mps_list_index(l, R(foreign), NULL), EINVAL);
		cr_assert_eq(mps_list_count(l, R(foreign)), 0);
		cr_assert(!mps_list_contains(l, R(foreign)));
		UNCHANGED(seg, mps_dict_set(d, &bad, I(1)), EINVAL);
		UNCHANGED(seg, mps_dict_set(d, I(1), &bad), EINVAL);
		UNCHANGED(seg, mps_list_append(l, &bad), EINVAL);
		UNCHANGED(seg, mps_dict_set(d, &nulldata, I(1)), EINVAL);
		UNCHANGED(seg, mps_list_append(l, &nulldata), EINVAL);
		UNCHANGED(seg, mps_dict_set(d, NULL, I(1)), EINVAL);
		UNCHANGED(seg, mps_dict_set(d, I(1), NULL), EINVAL);
		UNCHANGED(seg, mps_dict_set(NULL, I(1), I(1)), EINVAL);
		UNCHANGED(seg, mps_list_append(NULL, I(1)), EINVAL);
		UNCHANGED(seg, mps_list_append(l, NULL), EINVAL);
		mps_var_t mixed[3] = { mps_int(1), mps_ref(foreign), mps_int(2) };
		UNCHANGED(seg, mps_list_extend(l, mixed, 3), EINVAL);
		UNCHANGED(seg, mps_list_extend(l, NULL, 1), EINVAL);
		UNCHANGED(seg, mps_list_slice(l, 0, 1, NULL, 1, NULL, NOOUT), EINVAL);
		UNCHANGED(seg, mps_dict_update(d, NULL), EINVAL);
		UNCHANGED(seg, mps_dict_copy(d, NULL), EINVAL);
		UNCHANGED(seg, mps_list_copy(l, NULL), EINVAL);
		/* containers of another segment: their references do not travel */
		mps_list_t *fl = new_list(other, NULL);
		cr_assert_eq(mps_list_append(fl, R(foreign)), 0);
		cr_assert_eq(mps_list_extend_list(l, fl), EINVAL);
		cr_assert_eq(mps_object_release(fl), 0);
		cr_assert_eq(mps_object_refs(foreign), 1);
		cr_assert_str_eq(lrepr(l), "[1]");
		cr_assert_str_eq(drepr(d), "{1: 1}");
		mps_dict_iter_t it;
		mps_dict_iter_begin(NULL, &it, false);
		cr_assert_eq(mps_dict_iter_next(&it, NULL, NOOUT, NULL, NOOUT), EINVAL);
		cr_assert_eq(mps_segment_dict(seg, "l", MPS_OPEN_OR_CREATE, &d), EPROTOTYPE);
		cr_assert_eq(mps_segment_list(seg, "nope", MPS_OPEN_ONLY, &l), ENOENT);
		cr_assert_eq(mps_segment_dict(seg, "d", MPS_CREATE_ONLY, &d), EEXIST);
		cr_assert_eq(mps_segment_dict(seg, "d", MPS_OPEN_ONLY, NULL), EINVAL);
	}
	mps_segment_close(other);
	mps_segment_close(seg);
}

/* ================================ ENOSPC ================================ */

/* FNV-1a over a container's contents in order: what an operation failing
 * with ENOSPC must leave as it was (with len and the free space). */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t fnv_var(uint64_t h, const mps_var_t *v)
{
	h = fnv(h, &v->type, sizeof v->type);
	if (v->type == MPS_INT)
		return fnv(h, &v->i, sizeof v->i);
	if (v->type == MPS_FLOAT)
		return fnv(h, &v->f, sizeof v->f);
	if (v->type == MPS_REF)
		return fnv(h, &v->ref, sizeof v->ref);
	h = fnv(h, &v->len, sizeof v->len);
	return v->len ? fnv(h, v->data, v->len) : h;
}

static uint64_t ddigest(mps_dict_t *d)
{
	uint64_t h = 0xcbf29ce484222325ull;
	struct got k, v;
	mps_dict_iter_t it;
	mps_dict_iter_begin(d, &it, false);
	int r;
	while ((r = mps_dict_iter_next(&it, &k.v, OUT(k), &v.v, OUT(v))) == 0) {
		h = fnv_var(fnv_var(h, &k.v), &v.v);
		unref(&v.v);
	}
	return r == ENOENT ? h : (uint64_t)r;
}

static uint64_t ldigest(mps_list_t *l)
{
	uint64_t h = 0xcbf29ce484222325ull;
	struct got g;
	int64_t i = 0;
	while (mps_list_get(l, i++, &g.v, OUT(g)) == 0) {
		h = fnv_var(h, &g.v);
		unref(&g.v);
	}
	return h;
}

struct saved {
	uint64_t digest;
	size_t len, free;
};

static struct saved dsave(mps_segment_t *seg, mps_dict_t *d)
{
	return (struct saved){ ddigest(d), mps_dict_len(d), mps_segment_free_bytes(seg) };
}

static struct saved lsave(mps_segment_t *seg, mps_list_t *l)
{
	return (struct saved){ ldigest(l), mps_list_len(l), mps_segment_free_bytes(seg) };
}

static void same_state(struct saved a, struct saved b, const char *what)
{
	cr_assert_eq(a.digest, b.digest, "%s changed the contents", what);
	cr_assert_eq(a.len, b.len, "%s changed the length", what);
	cr_assert_eq(a.free, b.free, "%s: free bytes %zu -> %zu", what, a.free, b.free);
}

#define FAILS_SAME(kind, seg, obj, call) do { \
		struct saved s0_ = kind##save(seg, obj); \
		int r_ = (call); \
		cr_assert_eq(r_, ENOSPC, "%s: %s", #call, mps_strerror(r_)); \
		same_state(s0_, kind##save(seg, obj), #call); \
	} while (0)

static char pad[2000];

static const mps_var_t *blob(size_t n)
{
	return B(pad, n);
}

#define FILLER_SLOTS 400

/* Fills the segment: the filler list's slots (its array sized first, so
 * that only blobs are allocated) take blobs of falling sizes until not
 * even the smallest fits; afterwards every allocation fails. */
static void fill_up(mps_list_t *f)
{
	cr_assert_eq(mps_list_clear(f), 0);
	mps_var_t nones[FILLER_SLOTS];
	for (int i = 0; i < FILLER_SLOTS; i++)
		nones[i] = mps_none();
	cr_assert_eq(mps_list_extend(f, nones, FILLER_SLOTS), 0);
	int k = 0;
	for (size_t n = 1500; n >= 9; n /= 2)
		while (k < FILLER_SLOTS && mps_list_set(f, k, blob(n)) == 0)
			k++;
	cr_assert_lt(k, FILLER_SLOTS, "the filler ran out of slots");
	cr_assert_eq(mps_list_set(f, k, blob(9)), ENOSPC);
}

/* Frees the filler's first n blobs. */
static void unfill(mps_list_t *f, int n)
{
	for (int i = 0; i < n; i++)
		cr_assert_eq(mps_list_set(f, i, NONE), 0);
}

/* A dict in a full segment: new keys with blobs, update (failing before
 * and in the middle of its staging), copy fail with ENOSPC and change
 * nothing, free space included; replacing with inline values, deleting and
 * popitem still work; after deletions insertions work again. */
Test(container, enospc_dict)
{
	memset(pad, 'p', sizeof pad);
	mps_segment_t *seg = segtest_anon(MPS_SEG_MIN_SIZE);
	mps_list_t *f = new_list(seg, "f");
	mps_dict_t *d = new_dict(seg, "d"), *o = new_dict(seg, "o");
	size_t free0 = mps_segment_free_bytes(seg);
	struct got g;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 6; i++)
			cr_assert_eq(mps_dict_set(o, I(1000 + i), blob(400)), 0);
		for (int i = 0; i < 20; i++)
			cr_assert_eq(mps_dict_set(d, I(i), i % 2 ? blob(100) : S("short")), 0);
		fill_up(f);
		FAILS_SAME(d, seg, d, mps_dict_set(d, I(100), blob(100)));
		FAILS_SAME(d, seg, d, mps_dict_set(d, S("a key longer than eight"), I(1)));
		FAILS_SAME(d, seg, d, mps_dict_set(d, I(3), blob(50)));
		FAILS_SAME(d, seg, d, mps_dict_setdefault(d, I(100), blob(20), NULL, NOOUT));
		FAILS_SAME(d, seg, d, mps_dict_update(d, o));
		mps_dict_t *c = NULL;
		FAILS_SAME(d, seg, d, mps_dict_copy(d, &c));
		unfill(f, 1);   /* room for the staging block and a blob or two */
		FAILS_SAME(d, seg, d, mps_dict_update(d, o));
		/* still usable */
		cr_assert_eq(mps_dict_set(d, I(1), I(-1)), 0);
		cr_assert_eq(mps_dict_get(d, I(1), &g.v, OUT(g)), 0);
		cr_assert(v_int(&g.v, -1));
		cr_assert_eq(mps_dict_del(d, I(3)), 0);
		cr_assert_eq(mps_dict_pop(d, I(5), &g.v, OUT(g)), 0);
		cr_assert(v_text(&g.v, MPS_BYTES, pad, 100));
		cr_assert_eq(mps_dict_popitem(d, &g.v, OUT(g), NULL, NOOUT), 0);
		cr_assert(v_int(&g.v, 19));
		cr_assert_eq(mps_dict_len(d), 17);
		unfill(f, 40);
		cr_assert_eq(mps_dict_update(d, o), 0);
		cr_assert_eq(mps_dict_set(d, I(100), blob(100)), 0);
		cr_assert_eq(mps_dict_len(d), 24);
		cr_assert_eq(mps_dict_get(d, I(1005), &g.v, OUT(g)), 0);
		cr_assert(v_text(&g.v, MPS_BYTES, pad, 400));
		cr_assert_eq(mps_dict_clear(d), 0);
		cr_assert_eq(mps_dict_clear(o), 0);
		cr_assert_eq(mps_list_clear(f), 0);
		cr_assert_eq(mps_segment_free_bytes(seg), free0, "round %d: no leak", round);
	}
	mps_segment_close(seg);
}

/* A list in a full segment: what needs space (blobs, copy-on-write insert,
 * extend, repeat, reverse, copy) fails with ENOSPC and changes nothing;
 * deletions anywhere still work (they shift in place), as do set with an
 * inline value and pop; after deletions insertions work again. */
Test(container, enospc_list)
{
	memset(pad, 'q', sizeof pad);
	mps_segment_t *seg = segtest_anon(MPS_SEG_MIN_SIZE);
	mps_list_t *f = new_list(seg, "f");
	mps_list_t *l = new_list(seg, "l");
	size_t free0 = mps_segment_free_bytes(seg);
	struct got g;
	char s[64];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 60; i++) {
			snprintf(s, sizeof s, "string number %d", i);
			cr_assert_eq(i % 2 ? mps_list_append(l, S(s)) : mps_list_append(l, I(i)), 0);
		}
		fill_up(f);
		FAILS_SAME(l, seg, l, mps_list_append(l, blob(30)));
		FAILS_SAME(l, seg, l, mps_list_insert(l, 0, I(-1)));
		FAILS_SAME(l, seg, l, mps_list_insert(l, 30, blob(10)));
		FAILS_SAME(l, seg, l, mps_list_set(l, 0, S("a longer string value")));
		mps_var_t more[20];
		for (int i = 0; i < 20; i++)
			more[i] = mps_bytes(pad, 200);
		FAILS_SAME(l, seg, l, mps_list_extend(l, more, 20));
		FAILS_SAME(l, seg, l, mps_list_extend_list(l, l));
		FAILS_SAME(l, seg, l, mps_list_repeat(l, 3));
		FAILS_SAME(l, seg, l, mps_list_reverse(l));
		mps_list_t *c = NULL;
		FAILS_SAME(l, seg, l, mps_list_copy(l, &c));
		/* deletions need no space */
		cr_assert_eq(mps_list_del(l, 0), 0);
		cr_assert_eq(mps_list_pop(l, 10, &g.v, OUT(g)), 0);
		cr_assert(v_str(&g.v, "string number 11"));
		cr_assert_eq(mps_list_remove(l, S("string number 1")), 0);
		cr_assert_eq(mps_list_pop(l, -1, &g.v, OUT(g)), 0);
		cr_assert(v_str(&g.v, "string number 59"));
		cr_assert_eq(mps_list_set(l, 0, I(-2)), 0);
		cr_assert_eq(mps_list_len(l), 56);
		int64_t want[] = { -2, 3, 4, 5, 6, 7, 8, 9, 10, 12 };
		for (int i = 0; i < 10; i++) {
			cr_assert_eq(mps_list_get(l, i, &g.v, OUT(g)), 0);
			int64_t w = want[i];
			if (w % 2 && w > 0) {
				snprintf(s, sizeof s, "string number %lld", (long long)w);
				cr_assert(v_str(&g.v, s), "item %d", i);
			} else {
				cr_assert(v_int(&g.v, w), "item %d", i);
			}
		}
		cr_assert_eq(mps_list_get(l, 55, &g.v, OUT(g)), 0);
		cr_assert(v_int(&g.v, 58));
		/* a little room: staging starts, then fails part way */
		unfill(f, 3);
		FAILS_SAME(l, seg, l, mps_list_extend(l, more, 20));
		unfill(f, 60);
		cr_assert_eq(mps_list_extend(l, more, 20), 0);
		cr_assert_eq(mps_list_insert(l, 0, I(-1)), 0);
		cr_assert_eq(mps_list_len(l), 77);
		cr_assert_eq(mps_list_clear(l), 0);
		cr_assert_eq(mps_list_clear(f), 0);
		cr_assert_eq(mps_segment_free_bytes(seg), free0, "round %d: no leak", round);
	}
	mps_segment_close(seg);
}

/* ========================== other processes ========================== */

/* 10.6: list operations in a worker, seen by the parent. */
static int role_list_ops(struct mps_area *a, int index)
{
	(void)index;
	mps_list_t *l, *tmp, *c;
	struct got g;
	size_t ix;
	mps_segment_t *seg = role_open(a, NULL, &l);
	MPS_CHECK(seg);
	MPS_CHECK(mps_list_get(l, 0, &g.v, OUT(g)) == 0 && v_int(&g.v, 5));
	MPS_CHECK(mps_list_count(l, I(5)) == 1);
	MPS_CHECK(mps_list_index(l, I(9), &ix) == 0 && ix == 2);
	MPS_CHECK(mps_segment_list(seg, NULL, MPS_CREATE_ONLY, &tmp) == 0);
	MPS_CHECK(mps_list_append(tmp, I(7)) == 0 && mps_list_append(tmp, S("three")) == 0);
	MPS_CHECK(mps_list_extend_list(l, tmp) == 0);               /* += */
	MPS_CHECK(mps_object_release(tmp) == 0);
	MPS_CHECK(mps_list_remove(l, S("three")) == 0);
	MPS_CHECK(mps_list_append(l, I(3)) == 0);
	MPS_CHECK(mps_list_repeat(l, 2) == 0);                      /* *= */
	MPS_CHECK(mps_list_len(l) == 10);
	MPS_CHECK(mps_list_copy(l, &c) == 0);
	MPS_CHECK(mps_list_len(c) == 10);
	MPS_CHECK(mps_object_release(c) == 0);
	MPS_CHECK(mps_list_sort(l, false) == 0);
	MPS_CHECK(mps_list_reverse(l) == 0);
	int64_t sum = 0;
	for (int64_t i = 0; mps_list_get(l, i, &g.v, OUT(g)) == 0; i++)
		sum += g.v.i;
	MPS_CHECK(sum == 2 * (5 + 1 + 9 + 7 + 3));
	MPS_CHECK(mps_list_pop(l, 0, &g.v, OUT(g)) == 0 && v_int(&g.v, 9));
	MPS_CHECK(mps_list_insert(l, 1, S("child")) == 0);
	mps_segment_close(seg);
	return 0;
}

static int role_list_clear(struct mps_area *a, int index)
{
	(void)index;
	mps_list_t *l;
	mps_segment_t *seg = role_open(a, NULL, &l);
	MPS_CHECK(seg);
	MPS_CHECK(mps_list_clear(l) == 0);
	mps_segment_close(seg);
	return 0;
}

MPS_FLAVOURS(container, list_in_worker)
ParameterizedTest(enum mps_flavour *f, container, list_in_worker)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_list_t *l = new_list(seg, "l");
	struct mps_workers w;
	for (int round = 0; round < 2; round++) {
		fill_list(l, 5, 6);
		fill_list(l, 1, 2);
		fill_list(l, 9, 10);
		mps_workers_start(&w, *f, a, role_list_ops, 1, 0);
		segtest_join(&w, JOIN_S, "list ops");
		cr_assert_str_eq(lrepr(l), "[9, 'child', 7, 7, 5, 5, 3, 3, 1, 1]");
		mps_workers_start(&w, *f, a, role_list_clear, 1, 0);
		segtest_join(&w, JOIN_S, "list clear");
		cr_assert_eq(mps_list_len(l), 0);
	}
	segtest_end(a, seg);
}

/* 10.10: dict operations in a worker: order, reversed, copy, |=, popitem
 * (the last pair), setdefault, update, pop; the parent sees the result. */
static int role_dict_ops(struct mps_area *a, int index)
{
	(void)index;
	mps_dict_t *d, *c, *o;
	struct got k, v;
	mps_segment_t *seg = role_open(a, &d, NULL);
	MPS_CHECK(seg);
	MPS_CHECK(mps_dict_len(d) == 2);
	MPS_CHECK(mps_dict_get(d, S("foo"), &v.v, OUT(v)) == 0 && v_int(&v.v, 5));
	MPS_CHECK(strcmp(drepr(d), "{'foo': 5, 'bar': 'a longer string value'}") == 0);
	MPS_CHECK(strcmp(drepr_dir(d, true), "{'bar': 'a longer string value', 'foo': 5}") == 0);
	MPS_CHECK(mps_dict_copy(d, &c) == 0);
	MPS_CHECK(strcmp(drepr(c), drepr(d)) == 0);
	MPS_CHECK(mps_object_release(c) == 0);
	MPS_CHECK(mps_segment_dict(seg, NULL, MPS_CREATE_ONLY, &o) == 0);
	MPS_CHECK(mps_dict_set(o, S("qux"), I(7)) == 0);
	MPS_CHECK(mps_dict_update(d, o) == 0);                      /* |= */
	MPS_CHECK(mps_object_release(o) == 0);
	MPS_CHECK(mps_dict_set(d, S("spam"), F(1.5)) == 0);
	MPS_CHECK(mps_dict_popitem(d, &k.v, OUT(k), &v.v, OUT(v)) == 0);
	MPS_CHECK(v_str(&k.v, "spam") && v.v.type == MPS_FLOAT && v.v.f == 1.5);
	MPS_CHECK(mps_dict_setdefault(d, S("foo"), I(9), &v.v, OUT(v)) == 0 && v_int(&v.v, 5));
	MPS_CHECK(mps_dict_setdefault(d, S("new"), I(11), &v.v, OUT(v)) == 0 && v_int(&v.v, 11));
	MPS_CHECK(mps_dict_pop(d, S("bar"), &v.v, OUT(v)) == 0 && v_str(&v.v, "a longer string value"));
	mps_segment_close(seg);
	return 0;
}

static int role_dict_clear(struct mps_area *a, int index)
{
	(void)index;
	mps_dict_t *d;
	mps_segment_t *seg = role_open(a, &d, NULL);
	MPS_CHECK(seg);
	MPS_CHECK(mps_dict_clear(d) == 0);
	mps_segment_close(seg);
	return 0;
}

MPS_FLAVOURS(container, dict_in_worker)
ParameterizedTest(enum mps_flavour *f, container, dict_in_worker)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_dict_t *d = new_dict(seg, "d");
	struct mps_workers w;
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_dict_set(d, S("foo"), I(5)), 0);
		cr_assert_eq(mps_dict_set(d, S("bar"), S("a longer string value")), 0);
		mps_workers_start(&w, *f, a, role_dict_ops, 1, 0);
		segtest_join(&w, JOIN_S, "dict ops");
		cr_assert_str_eq(drepr(d), "{'foo': 5, 'qux': 7, 'new': 11}");
		mps_workers_start(&w, *f, a, role_dict_clear, 1, 0);
		segtest_join(&w, JOIN_S, "dict clear");
		cr_assert_eq(mps_dict_len(d), 0);
	}
	segtest_end(a, seg);
}

/* 10.11 across processes: the worker reaches the inner list and dict
 * through the outer dict found by name; the parent sees the writes through
 * its standalone handles, and the reverse. */
static int role_nested_write(struct mps_area *a, int index)
{
	(void)index;
	mps_dict_t *d;
	struct got p, s, v;
	mps_segment_t *seg = role_open(a, &d, NULL);
	MPS_CHECK(seg);
	MPS_CHECK(mps_dict_get(d, S("pets"), &p.v, OUT(p)) == 0 && p.v.type == MPS_REF);
	MPS_CHECK(mps_object_kind(p.v.ref) == MPS_KIND_LIST);
	MPS_CHECK(mps_dict_get(d, S("supplies"), &s.v, OUT(s)) == 0 && s.v.type == MPS_REF);
	MPS_CHECK(mps_list_append(p.v.ref, S("dog")) == 0);
	MPS_CHECK(mps_dict_set(s.v.ref, S("food"), I(3)) == 0);
	/* what the parent wrote through its handles */
	MPS_CHECK(mps_dict_get(s.v.ref, S("water"), &v.v, OUT(v)) == 0 && v_int(&v.v, (int64_t)a->arg));
	MPS_CHECK(mps_object_release(p.v.ref) == 0);
	MPS_CHECK(mps_object_release(s.v.ref) == 0);
	mps_segment_close(seg);
	return 0;
}

MPS_FLAVOURS(container, nested_in_worker)
ParameterizedTest(enum mps_flavour *f, container, nested_in_worker)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	size_t free0 = mps_segment_free_bytes(seg);
	struct mps_workers w;
	for (int round = 0; round < 2; round++) {
		mps_dict_t *d = new_dict(seg, "d");
		mps_list_t *pets = new_list(seg, "pets");
		mps_dict_t *supplies = new_dict(seg, NULL);
		cr_assert_eq(mps_dict_set(d, S("pets"), R(pets)), 0);
		cr_assert_eq(mps_dict_set(d, S("supplies"), R(supplies)), 0);
		cr_assert_eq(mps_dict_set(supplies, S("water"), I(round + 10)), 0);
		a->arg = round + 10;
		mps_workers_start(&w, *f, a, role_nested_write, 1, 0);
		segtest_join(&w, JOIN_S, "nested");
		cr_assert_str_eq(lrepr(pets), "['dog']");
		cr_assert_str_eq(drepr(supplies), round ? "{'water': 11, 'food': 3}"
		                                        : "{'water': 10, 'food': 3}");
		cr_assert_eq(mps_object_refs(pets), 2, "the worker's references are gone");
		cr_assert_eq(mps_object_refs(supplies), 2);
		cr_assert_eq(mps_object_release(supplies), 0);
		cr_assert_eq(mps_segment_remove(seg, "pets"), 0);
		cr_assert_eq(mps_segment_remove(seg, "d"), 0);
		cr_assert_eq(mps_segment_free_bytes(seg), free0, "round %d", round);
	}
	segtest_end(a, seg);
}

/* 10.13 across processes: the worker sees the parent's attributes. */
static int role_namespace(struct mps_area *a, int index)
{
	(void)index;
	mps_namespace_t *ns;
	struct got g;
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	MPS_CHECK(mps_segment_namespace(seg, "ns", MPS_OPEN_ONLY, &ns) == 0);
	MPS_CHECK(mps_namespace_get(ns, "name", &g.v, OUT(g)) == 0 && v_str(&g.v, "Bob"));
	MPS_CHECK(mps_namespace_get(ns, "n", &g.v, OUT(g)) == 0 && v_int(&g.v, 1));
	MPS_CHECK(mps_namespace_set(ns, "_x", I(1)) == EINVAL);
	MPS_CHECK(mps_namespace_set(ns, "x", F(2.5)) == 0);
	MPS_CHECK(mps_namespace_del(ns, "n") == 0);
	mps_segment_close(seg);
	return 0;
}

MPS_FLAVOURS(container, namespace_in_worker)
ParameterizedTest(enum mps_flavour *f, container, namespace_in_worker)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, SEG_SIZE);
	mps_namespace_t *ns = NULL;
	cr_assert_eq(mps_segment_namespace(seg, "ns", MPS_CREATE_ONLY, &ns), 0);
	struct mps_workers w;
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(mps_namespace_set(ns, "name", S("Bob")), 0);
		cr_assert_eq(mps_namespace_set(ns, "n", I(1)), 0);
		mps_workers_start(&w, *f, a, role_namespace, 1, 0);
		segtest_join(&w, JOIN_S, "namespace");
		cr_assert_str_eq(nrepr(ns), "Namespace(name='Bob', x=2.5)");
		cr_assert_eq(mps_namespace_del(ns, "x"), 0);
	}
	segtest_end(a, seg);
}

/* Concurrent writers: each inserts its own keys and appends its own items;
 * at the end all are present, and each worker's items keep their order. */
#define WRITERS   4
#define PER_WRITER 300

static int role_writer(struct mps_area *a, int index)
{
	mps_dict_t *d;
	mps_list_t *l;
	char key[64];
	mps_segment_t *seg = role_open(a, &d, &l);
	MPS_CHECK(seg);
	mps_count_add(&a->counter[0], 1);
	MPS_CHECK(mps_count_await(&a->counter[0], WRITERS, JOIN_S));
	for (int i = 0; i < PER_WRITER; i++) {
		snprintf(key, sizeof key, "writer %d key %d", index, i);
		MPS_CHECK(mps_dict_set(d, i % 2 ? S(key) : I(index * 100000 + i), I(i)) == 0);
		MPS_CHECK(mps_list_append(l, i % 3 ? I(index * 100000 + i) : S(key)) == 0);
		if (i % 10 == 9)   /* some churn: a key inserted and deleted again */
			MPS_CHECK(mps_dict_set(d, I(-index - 1), NONE) == 0 &&
			          mps_dict_del(d, I(-index - 1)) == 0);
	}
	mps_segment_close(seg);
	return 0;
}

MPS_FLAVOURS(container, concurrent_writers)
ParameterizedTest(enum mps_flavour *f, container, concurrent_writers)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, 4u << 20);
	mps_dict_t *d = new_dict(seg, "d");
	mps_list_t *l = new_list(seg, "l");
	struct mps_workers w;
	struct got g;
	char key[64];
	for (int round = 0; round < 2; round++) {
		mps_count_reset(a);
		mps_workers_start(&w, *f, a, role_writer, WRITERS, 0);
		segtest_join(&w, JOIN_S, "writers");
		cr_assert_eq(mps_dict_len(d), WRITERS * PER_WRITER);
		cr_assert_eq(mps_list_len(l), WRITERS * PER_WRITER);
		for (int wi = 0; wi < WRITERS; wi++) {
			for (int i = 0; i < PER_WRITER; i++) {
				snprintf(key, sizeof key, "writer %d key %d", wi, i);
				cr_assert_eq(mps_dict_get(d, i % 2 ? S(key) : I(wi * 100000 + i), &g.v, OUT(g)), 0);
				cr_assert(v_int(&g.v, i));
			}
		}
		int next[WRITERS] = { 0 };
		for (int64_t n = 0; n < WRITERS * PER_WRITER; n++) {
			cr_assert_eq(mps_list_get(l, n, &g.v, OUT(g)), 0);
			int wi, i;
			if (g.v.type == MPS_INT) {
				wi = (int)(g.v.i / 100000);
				i = (int)(g.v.i % 100000);
			} else {
				cr_assert_eq(sscanf(g.buf, "writer %d key %d", &wi, &i), 2);
			}
			cr_assert(wi >= 0 && wi < WRITERS);
			cr_assert_eq(i, next[wi], "worker %d's items in order", wi);
			next[wi]++;
		}
		cr_assert_eq(mps_dict_clear(d), 0);
		cr_assert_eq(mps_list_clear(l), 0);
	}
	segtest_end(a, seg);
}

/* ================== crashes in the middle of operations ================== */

/* Workers hammer a dict and a list (growth, deletions, clears, staged
 * extends, references) and are killed after k operations for many k, some
 * while stopped. After each kill the parent finds both containers
 * consistent (len matches iteration, every key findable, every value the
 * one its key implies, every list item well formed) and usable. At the end
 * the space comes back exactly: a killed operation leaks no blob and no
 * table; the list referenced from the dict is back to its name's
 * reference (the journal documents one possible leaked reference per
 * death inside mps_journal_retain; more would be a bug). */
#define CRASH_KEYS    256
#define CRASH_WORKERS 2
#define CRASH_ROUNDS  24

static uint64_t xorshift(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

/* Key k: an int, or every third one a string "key <k>" padded with '.' to
 * 6 + k % 20 bytes (some inline, some in blobs). */
static const mps_var_t *crash_key(int k, char *buf)
{
	if (k % 3)
		return I(k);
	int n = snprintf(buf, 64, "key %d", k);
	while (n < 6 + k % 20)
		buf[n++] = '.';
	buf[n] = 0;
	return S(buf);
}

static int key_of(const mps_var_t *v)
{
	if (v->type == MPS_INT)
		return v->i >= 0 && v->i < CRASH_KEYS && v->i % 3 ? (int)v->i : -1;
	char want[64];
	int k;
	if (v->type != MPS_STR || sscanf(v->data, "key %d", &k) != 1 || k < 0 || k >= CRASH_KEYS)
		return -1;
	crash_key(k, want);
	return v_str(v, want) ? k : -1;
}

/* The value stored under key k in generation gen: its kind and content
 * follow from (k, gen) so that the parent can check any value it finds. */
static const mps_var_t *crash_value(int k, uint32_t gen, mps_list_t *l, char *buf)
{
	switch (gen % 5) {
	case 0:
		return I((int64_t)k << 32 | gen);
	case 1: {
		int n = snprintf(buf, 96, "val %d ", k);
		while (n < 8 + (int)(gen % 60))
			buf[n++] = (char)('a' + k % 26);
		buf[n] = 0;
		return S(buf);
	}
	case 2:
		return F(k + 0.5);
	case 3:
		return NONE;
	default:
		return R(l);
	}
}

static bool value_ok(int k, const mps_var_t *v, mps_list_t *l)
{
	switch (v->type) {
	case MPS_INT:
		return v->i >> 32 == k && (uint32_t)v->i % 5 == 0;
	case MPS_STR: {
		char want[96];
		int n = snprintf(want, sizeof want, "val %d ", k);
		if (v->len < (size_t)n || v->len >= 8 + 60 || memcmp(v->data, want, (size_t)n))
			return false;
		for (size_t i = (size_t)n; i < v->len; i++)
			if (((const char *)v->data)[i] != 'a' + k % 26)
				return false;
		return v->len == (size_t)n || v->len >= 8;
	}
	case MPS_FLOAT:
		return v->f == k + 0.5;
	case MPS_NONE:
		return true;
	case MPS_REF:
		return v->ref == l;
	default:
		return false;
	}
}

/* List item seq of worker w: an int, or a string padded with '#'. */
static const mps_var_t *crash_item(int w, uint32_t seq, char *buf)
{
	if (seq % 3 == 0)
		return I((int64_t)w << 32 | seq);
	int n = snprintf(buf, 96, "w%d s%u ", w, seq);
	while (n < 4 + (int)(seq % 40))
		buf[n++] = '#';
	buf[n] = 0;
	return S(buf);
}

static bool item_ok(const mps_var_t *v)
{
	if (v->type == MPS_INT)
		return (uint32_t)v->i % 3 == 0 && v->i >> 32 < 64;
	char want[96];
	int w;
	unsigned seq;
	if (v->type != MPS_STR || sscanf(v->data, "w%d s%u ", &w, &seq) != 2 || seq % 3 == 0)
		return false;
	crash_item(w, seq, want);
	return v_str(v, want);
}

static int role_hammer(struct mps_area *a, int index)
{
	mps_dict_t *d, *src;
	mps_list_t *l;
	char kb[64], vb[96];
	mps_segment_t *seg = role_open(a, &d, &l);
	MPS_CHECK(seg);
	MPS_CHECK(mps_segment_dict(seg, "src", MPS_OPEN_ONLY, &src) == 0);
	uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(a->arg * 7 + index + 1);
	uint32_t seq = 0;
	double end = mps_now() + JOIN_S;   /* the parent kills us long before */
	while (mps_now() < end) {
		x = xorshift(x);
		int k = (int)((x >> 8) % CRASH_KEYS), op = (int)(x % 20), r = 0;
		uint32_t gen = (uint32_t)(x >> 32);
		if (op < 7) {
			r = mps_dict_set(d, crash_key(k, kb), crash_value(k, gen, l, vb));
		} else if (op < 10) {
			r = mps_dict_del(d, crash_key(k, kb));
			r = r == ENOENT ? 0 : r;
		} else if (op == 10) {
			r = mps_dict_len(d) > 150 ? mps_dict_clear(d) : mps_dict_update(d, src);
		} else if (op < 13) {
			r = mps_list_append(l, crash_item(index, seq++, vb));
		} else if (op == 13) {
			r = mps_list_pop(l, -1, NULL, NOOUT);
			r = r == ERANGE ? 0 : r;
		} else if (op == 14) {
			r = mps_list_pop(l, 0, NULL, NOOUT);
			r = r == ERANGE ? 0 : r;
		} else if (op == 15) {
			r = mps_list_insert(l, (int64_t)(x >> 40) % 64, crash_item(index, seq++, vb));
		} else if (op == 16) {
			mps_var_t items[12];
			char bufs[12][96];
			for (int i = 0; i < 12; i++)
				items[i] = *crash_item(index, seq++, bufs[i]);
			r = mps_list_extend(l, items, 12);
		} else if (op == 17) {
			r = mps_list_len(l) > 200 ? mps_list_clear(l) : 0;
		} else if (op == 18) {
			r = mps_list_len(l) > 0 && mps_list_len(l) < 40 ? mps_list_repeat(l, 2) : 0;
		} else {
			r = mps_list_reverse(l);
		}
		MPS_CHECK(r == 0);
		mps_count_add(&a->counter[0], 1);
	}
	mps_segment_close(seg);
	return 0;
}

static void check_consistent(mps_dict_t *d, mps_list_t *l, int round)
{
	struct got k, v, g;
	char kb[64];
	bool seen[CRASH_KEYS] = { false };
	size_t n = 0;
	mps_dict_iter_t it;
	mps_dict_iter_begin(d, &it, false);
	int r;
	while ((r = mps_dict_iter_next(&it, &k.v, OUT(k), &v.v, OUT(v))) == 0) {
		int key = key_of(&k.v);
		char shown[256];
		show(shown, sizeof shown, &k.v);
		cr_assert(key >= 0, "round %d: bad key %s", round, shown);
		cr_assert(!seen[key], "round %d: key %d twice", round, key);
		seen[key] = true;
		cr_assert(value_ok(key, &v.v, l), "round %d: bad value for key %d", round, key);
		unref(&v.v);
		cr_assert_eq(mps_dict_get(d, crash_key(key, kb), &g.v, OUT(g)), 0,
		             "round %d: key %d not found", round, key);
		cr_assert(value_ok(key, &g.v, l));
		unref(&g.v);
		n++;
	}
	cr_assert_eq(r, ENOENT, "round %d: iteration: %s", round, mps_strerror(r));
	cr_assert_eq(n, mps_dict_len(d), "round %d: len vs iteration", round);
	for (int key = 0; key < CRASH_KEYS; key++)
		if (!seen[key])
			cr_assert(!mps_dict_contains(d, crash_key(key, kb)), "round %d: ghost %d", round, key);
	size_t len = mps_list_len(l);
	for (size_t i = 0; i < len; i++) {
		cr_assert_eq(mps_list_get(l, (int64_t)i, &g.v, OUT(g)), 0, "round %d: item %zu", round, i);
		cr_assert(item_ok(&g.v), "round %d: bad item %zu", round, i);
	}
	cr_assert_eq(mps_list_get(l, (int64_t)len, &g.v, OUT(g)), ERANGE);
	/* usable */
	cr_assert_eq(mps_dict_set(d, I(-1), S("a usable dict after a crash")), 0);
	cr_assert_eq(mps_dict_get(d, I(-1), &g.v, OUT(g)), 0);
	cr_assert(v_str(&g.v, "a usable dict after a crash"));
	cr_assert_eq(mps_dict_del(d, I(-1)), 0);
	cr_assert_eq(mps_list_append(l, S("a usable list after a crash")), 0);
	cr_assert_eq(mps_list_pop(l, -1, &g.v, OUT(g)), 0);
	cr_assert(v_str(&g.v, "a usable list after a crash"));
	cr_assert_eq(mps_list_len(l), len);
}

MPS_PROCESS_FLAVOURS(container, crash)
ParameterizedTest(enum mps_flavour *f, container, crash)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *seg = segtest_named(a, 2u << 20);
	mps_dict_t *d = new_dict(seg, "d"), *src = new_dict(seg, "src");
	mps_list_t *l = new_list(seg, "l");
	char kb[64], vb[96];
	for (int k = 0; k < 40; k += 2)   /* update() source: no references */
		cr_assert_eq(mps_dict_set(src, crash_key(k, kb), crash_value(k, (uint32_t)k % 4, l, vb)), 0);
	size_t free0 = mps_segment_free_bytes(seg);
	struct mps_workers w;
	uint32_t target = 1;
	for (int round = 0; round < CRASH_ROUNDS; round++) {
		mps_count_reset(a);
		a->arg = round;
		mps_workers_start(&w, *f, a, role_hammer, CRASH_WORKERS, 0);
		/* kill after 1, 2, 3, 5, 8, ... operations: early (first growth)
		 * and late (large tables, clears, staged extends) */
		target = round < 2 ? target + 1 : target + target / 2 + (uint32_t)round;
		if (target > 4000)
			target = 1 + (uint32_t)round * 37 % 500;
		cr_assert(mps_count_await(&a->counter[0], target, JOIN_S),
		          "round %d: workers stuck at %u operations", round, mps_count_get(&a->counter[0]));
		if (round % 2) {
			mps_workers_kill(&w, SIGSTOP);
			for (int i = 0; i < CRASH_WORKERS; i++)
				cr_assert(mps_await_task_state(w.pids[i], "T-Z", JOIN_S));
		}
		mps_workers_kill(&w, SIGKILL);
		int failed = mps_workers_join(&w, JOIN_S);
		cr_assert_eq(failed, CRASH_WORKERS, "round %d: a worker ended by itself", round);
		check_consistent(d, l, round);
	}
	cr_assert_eq(mps_dict_clear(d), 0);
	cr_assert_eq(mps_list_clear(l), 0);
	unsigned refs = mps_object_refs(l);
	cr_assert(refs >= 1 && refs <= 1 + CRASH_ROUNDS * CRASH_WORKERS, "list refs %u", refs);
	if (refs != 1)   /* allowed (see above); info, since a Criterion warning fails the run */
		cr_log_info("crash: %u references leaked by deaths inside retain", refs - 1);
	cr_assert_eq(mps_segment_free_bytes(seg), free0, "crash: %zd bytes leaked",
	             (ssize_t)free0 - (ssize_t)mps_segment_free_bytes(seg));
	segtest_end(a, seg);
}
