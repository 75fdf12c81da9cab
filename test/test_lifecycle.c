/* Object lifecycle and the recovery order of nested guards (docs/design.md
 * §11.4), white-box through lib/segment/seg.h:
 *
 *   recovery   a container operation killed exactly while the segment
 *              guard's journal holds a store into the container's own
 *              journal (the ALLOC that publishes a block, the done flag of
 *              a settled FREE): both guards then have one dead holder. A
 *              survivor writes first (as real programs do), then the
 *              container must read as before or after the operation plus
 *              the survivor's write, keep its blobs (no block of a live
 *              item freed and reused), and give every byte back once
 *              removed (no leak). Every such kill point of dict update and
 *              of list pop/del of a middle item is tried.
 *   lifecycle  a reference count that reached 0 is never raised again:
 *              mps_object_retain fails with ESTALE, exactly in the window
 *              where the destroyer waits for the segment guard (forced),
 *              and in many rounds of a remove racing retain/get/REF stores;
 *              mps_segment_get returns a name's object already retained;
 *              mps_segment_retain_at takes one object by offset and
 *              serial, never a later one in the same block.
 *   errno      every segment call, failing or not, leaves errno alone.
 *
 * Kill points are found by single-stepping a ptrace'd child and reading the
 * segment guard's journal after each instruction: no sleep makes an order. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpsync/container.h>
#include "harness.h"
#include "segtest.h"
#include "../lib/segment/seg.h"

#define SEG_SIZE  ((size_t)1 << 20)
#define ITEM      40   /* bytes of an item: stored out of line, as a blob */
#define STEP_MAX  20000000L

/* ------------------------------------------------------------ helpers */

static struct mps_seg_header *hdr(mps_segment_t *s)
{
	return mps_segment_base(s);
}

/* An item: ITEM copies of one letter. */
static mps_var_t item(char c, char *buf)
{
	memset(buf, c, ITEM);
	return mps_bytes(buf, ITEM);
}

/* The letter of an item read back, '?' when its bytes are not all one letter. */
static char letter_of(const mps_var_t *v)
{
	const char *p = v->data;
	if (v->type != MPS_BYTES || v->len != ITEM)
		return '?';
	for (size_t i = 1; i < ITEM; i++)
		if (p[i] != p[0])
			return '?';
	return p[0];
}

static void list_state(mps_list_t *l, char *out)
{
	size_t n = mps_list_len(l), k = 0;
	char buf[ITEM + 1];
	for (size_t i = 0; i < n && k < 30; i++) {
		mps_var_t v;
		out[k++] = mps_list_get(l, (int64_t)i, &v, (mps_out_t){ buf, sizeof buf }) == 0 ?
		           letter_of(&v) : '!';
	}
	out[k] = 0;
}

/* "key=letter" pairs in insertion order, keys one letter too. */
static void dict_state(mps_dict_t *d, char *out)
{
	mps_dict_iter_t it;
	mps_var_t k, v;
	char kb[8], vb[ITEM + 1];
	size_t n = 0;
	mps_dict_iter_begin(d, &it, false);
	while (n < 60 && mps_dict_iter_next(&it, &k, (mps_out_t){ kb, sizeof kb }, &v,
	                                    (mps_out_t){ vb, sizeof vb }) == 0) {
		out[n++] = k.type == MPS_STR && k.len == 1 ? kb[0] : '?';
		out[n++] = letter_of(&v);
	}
	out[n] = 0;
}

static void dict_put(mps_dict_t *d, char key, char val)
{
	char kb[1] = { key }, vb[ITEM];
	mps_var_t k = { MPS_STR, 0, 0, kb, 1, NULL }, v = item(val, vb);
	cr_assert_eq(mps_dict_set(d, &k, &v), 0);
}

static void list_add(mps_list_t *l, char c)
{
	char b[ITEM];
	mps_var_t v = item(c, b);
	cr_assert_eq(mps_list_append(l, &v), 0);
}

/* The heap walk passes and every byte is free, no object, no name. */
static void heap_pristine(mps_segment_t *s, const char *what)
{
	struct mps_seg_header *h = hdr(s);
	bool took = mps_seg_enter(h);
	int check = mps_heap_check(h, NULL, NULL);
	uint64_t free_bytes = h->free_bytes;
	uint32_t objects = h->objects, names = h->names;
	mps_seg_leave(h, took);
	cr_assert_eq(check, 0, "%s: mps_heap_check failed", what);
	cr_assert(free_bytes == h->heap_end - h->heap_start && objects == 0 && names == 0,
	          "%s: %llu of %llu bytes free, %u objects, %u names left", what,
	          (unsigned long long)free_bytes,
	          (unsigned long long)(h->heap_end - h->heap_start), objects, names);
}

/* ------------------------------------------------ kill at a cross store */

/* Whether the segment guard's journal has just logged (n rose to cover it)
 * a store into [lo, hi): a word of the container's own payload, that is of
 * its guard's journal. */
static bool cross_logged(const struct mps_seg_header *h, uint32_t *seen, uint64_t lo, uint64_t hi)
{
	const struct mps_journal *j = &h->guard.journal;
	uint32_t n = __atomic_load_n(&j->n, __ATOMIC_RELAXED);
	bool hit = false;
	if (j->state == MPS_J_ACTIVE && n > *seen && n <= MPS_JOURNAL_MAX) {
		const struct mps_journal_entry *e = &j->e[n - 1];
		hit = (e->kind == MPS_JE_STORE32 || e->kind == MPS_JE_STORE64) &&
		      e->off >= lo && e->off < hi;
	}
	*seen = j->state == MPS_J_ACTIVE ? n : 0;
	return hit;
}

typedef int (*op_fn)(void *arg);

/* Runs op in a traced child and kills it right after the segment journal
 * logged its m-th store into the object at payload (m from 1). Returns
 * how many such stores it saw: fewer than m means the child finished. */
static int kill_at_cross(mps_segment_t *seg, void *payload, op_fn op, void *arg, int m)
{
	struct mps_seg_header *h = hdr(seg);
	uint64_t lo = mps_obj_offset(payload), hi = lo + mps_obj_header(payload)->size;
	pid_t pid = segtest_traced_child();
	if (pid == 0)
		_exit(op(arg) == 0 ? 0 : 4);
	uint32_t seen = 0;
	int hits = 0, st;
	for (long steps = 0; steps < STEP_MAX; steps++) {
		cr_assert_eq(ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL), 0);
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		if (WIFEXITED(st)) {
			cr_assert_eq(WEXITSTATUS(st), 0, "the traced operation failed");
			return hits;
		}
		cr_assert(WIFSTOPPED(st));
		if (cross_logged(h, &seen, lo, hi) && ++hits == m) {
			kill(pid, SIGKILL);
			cr_assert_eq(waitpid(pid, &st, 0), pid);
			return hits;
		}
	}
	cr_assert_fail("the traced operation ran over %ld instructions", STEP_MAX);
	return 0;
}

struct dict_op {
	mps_dict_t *d, *o;
};

static int do_update(void *arg)
{
	struct dict_op *a = arg;
	return mps_dict_update(a->d, a->o);
}

/* Who meets the two dead holders first: the survivor's container write
 * (whose guard recovery takes the segment guard), or a call that takes
 * only the segment guard. */
static void segment_first(mps_segment_t *seg, bool first)
{
	if (first)
		cr_assert_gt(mps_segment_free_bytes(seg), 0);
}

/* d = {a:A, b:B}; o = {b:C, c:D, e:E, f:F}; d.update(o) killed after each
 * cross store. The survivor then sets z:Z (its own allocation recovers the
 * segment guard) and g:G, h:H (blocks that a wrongly freed blob would be
 * reused for). */
static void dict_update_killed(bool seg_first)
{
	struct mps_area *area = mps_area_create();
	mps_segment_t *seg = segtest_named(area, SEG_SIZE);
	int m, before = 0, after = 0;
	for (m = 1;; m++) {
		struct dict_op a;
		cr_assert_eq(mps_segment_dict(seg, "d", MPS_CREATE_ONLY, &a.d), 0);
		cr_assert_eq(mps_segment_dict(seg, "o", MPS_CREATE_ONLY, &a.o), 0);
		dict_put(a.d, 'a', 'A');
		dict_put(a.d, 'b', 'B');
		dict_put(a.o, 'b', 'C');
		dict_put(a.o, 'c', 'D');
		dict_put(a.o, 'e', 'E');
		dict_put(a.o, 'f', 'F');
		int hits = kill_at_cross(seg, a.d, do_update, &a, m);
		segment_first(seg, seg_first);
		dict_put(a.d, 'z', 'Z');
		dict_put(a.d, 'g', 'G');
		dict_put(a.d, 'h', 'H');
		char got[128];
		dict_state(a.d, got);
		if (strcmp(got, "aAbBzZgGhH") == 0)
			before++;
		else if (strcmp(got, "aAbCcDeEfFzZgGhH") == 0)
			after++;
		else
			cr_assert_fail("update killed at cross store %d: d is %s", m, got);
		dict_state(a.o, got);
		cr_assert_str_eq(got, "bCcDeEfF", "killed at cross store %d: o is %s", m, got);
		cr_assert_eq(mps_segment_remove(seg, "d"), 0);
		cr_assert_eq(mps_segment_remove(seg, "o"), 0);
		char what[64];
		snprintf(what, sizeof what, "update killed at cross store %d", m);
		heap_pristine(seg, what);
		if (hits < m)
			break;
	}
	cr_log_info("dict update (%s first): %d cross stores; killed at each: %d before, %d after",
	            seg_first ? "segment" : "container", m - 1, before, after);
	cr_assert_gt(m, 2, "no cross store seen: the test no longer finds its window");
	cr_assert(before > 0 && after > 0);
	segtest_end(area, seg);
}

Test(recovery, dict_update_killed_at_cross_store)
{
	dict_update_killed(false);
}

Test(recovery, dict_update_killed_at_cross_store_segment_first)
{
	dict_update_killed(true);
}

struct list_op {
	mps_list_t *l;
	bool pop;
};

static int do_remove_middle(void *arg)
{
	struct list_op *a = arg;
	char buf[ITEM + 1];
	mps_var_t v;
	return a->pop ? mps_list_pop(a->l, 2, &v, (mps_out_t){ buf, sizeof buf })
	              : mps_list_del(a->l, 2);
}

/* l = [A, B, C, D, E]; pop(2) or del l[2] killed after each cross store;
 * the survivor appends Z, then G and H. */
static void list_remove_middle(bool pop, bool seg_first)
{
	struct mps_area *area = mps_area_create();
	mps_segment_t *seg = segtest_named(area, SEG_SIZE);
	const char *name = pop ? "pop(2)" : "del l[2]";
	int m, before = 0, after = 0;
	for (m = 1;; m++) {
		struct list_op a = { NULL, pop };
		cr_assert_eq(mps_segment_list(seg, "l", MPS_CREATE_ONLY, &a.l), 0);
		for (char c = 'A'; c <= 'E'; c++)
			list_add(a.l, c);
		int hits = kill_at_cross(seg, a.l, do_remove_middle, &a, m);
		segment_first(seg, seg_first);
		list_add(a.l, 'Z');
		list_add(a.l, 'G');
		list_add(a.l, 'H');
		char got[64];
		list_state(a.l, got);
		if (strcmp(got, "ABCDEZGH") == 0)
			before++;
		else if (strcmp(got, "ABDEZGH") == 0)
			after++;
		else
			cr_assert_fail("%s killed at cross store %d: the list is %s", name, m, got);
		cr_assert_eq(mps_segment_remove(seg, "l"), 0);
		char what[64];
		snprintf(what, sizeof what, "%s killed at cross store %d", name, m);
		heap_pristine(seg, what);
		if (hits < m)
			break;
	}
	cr_log_info("list %s (%s first): %d cross stores; killed at each: %d before, %d after",
	            name, seg_first ? "segment" : "container", m - 1, before, after);
	cr_assert_gt(m, 2, "no cross store seen: the test no longer finds its window");
	cr_assert(before > 0 && after > 0);
	segtest_end(area, seg);
}

Test(recovery, list_pop_middle_killed_at_cross_store)
{
	list_remove_middle(true, false);
}

Test(recovery, list_pop_middle_killed_at_cross_store_segment_first)
{
	list_remove_middle(true, true);
}

Test(recovery, list_del_middle_killed_at_cross_store)
{
	list_remove_middle(false, false);
}

/* The same over the other operations of list and dict that allocate or
 * free blocks (every one that logs into the segment journal): list
 * l = [A..E], dict d = {a:A, b:B}; the survivor adds Z, G, H. */
struct cross_case {
	const char *name;
	bool list;
	int (*op)(mps_list_t *l, mps_dict_t *d);
	const char *after;
};

static int l_append(mps_list_t *l, mps_dict_t *d)
{
	char b[ITEM];
	mps_var_t v = item('F', b);
	(void)d;
	return mps_list_append(l, &v);
}

static int l_insert_front(mps_list_t *l, mps_dict_t *d)
{
	char b[ITEM];
	mps_var_t v = item('F', b);
	(void)d;
	return mps_list_insert(l, 0, &v);
}

static int l_set(mps_list_t *l, mps_dict_t *d)
{
	char b[ITEM];
	mps_var_t v = item('F', b);
	(void)d;
	return mps_list_set(l, 1, &v);
}

static int l_remove(mps_list_t *l, mps_dict_t *d)
{
	char b[ITEM];
	mps_var_t v = item('C', b);
	(void)d;
	return mps_list_remove(l, &v);
}

static int l_pop_last(mps_list_t *l, mps_dict_t *d)
{
	(void)d;
	return mps_list_pop(l, -1, NULL, (mps_out_t){ NULL, 0 });
}

static int l_sort_reverse(mps_list_t *l, mps_dict_t *d)
{
	(void)d;
	return mps_list_sort(l, true);
}

static int l_reverse(mps_list_t *l, mps_dict_t *d)
{
	(void)d;
	return mps_list_reverse(l);
}

static int l_extend(mps_list_t *l, mps_dict_t *d)
{
	char b1[ITEM], b2[ITEM];
	mps_var_t v[2] = { item('F', b1), item('G', b2) };
	(void)d;
	return mps_list_extend(l, v, 2);
}

static int l_extend_self(mps_list_t *l, mps_dict_t *d)
{
	(void)d;
	return mps_list_extend_list(l, l);
}

static int l_repeat(mps_list_t *l, mps_dict_t *d)
{
	(void)d;
	return mps_list_repeat(l, 2);
}

static int l_clear(mps_list_t *l, mps_dict_t *d)
{
	(void)d;
	return mps_list_clear(l);
}

static int d_set_new(mps_list_t *l, mps_dict_t *d)
{
	char kb[1] = { 'c' }, vb[ITEM];
	mps_var_t k = { MPS_STR, 0, 0, kb, 1, NULL }, v = item('C', vb);
	(void)l;
	return mps_dict_set(d, &k, &v);
}

static int d_replace(mps_list_t *l, mps_dict_t *d)
{
	char kb[1] = { 'a' }, vb[ITEM];
	mps_var_t k = { MPS_STR, 0, 0, kb, 1, NULL }, v = item('X', vb);
	(void)l;
	return mps_dict_set(d, &k, &v);
}

static int d_del(mps_list_t *l, mps_dict_t *d)
{
	mps_var_t k = mps_str("a");
	(void)l;
	return mps_dict_del(d, &k);
}

static int d_popitem(mps_list_t *l, mps_dict_t *d)
{
	char kb[8], vb[ITEM + 1];
	mps_var_t k, v;
	(void)l;
	return mps_dict_popitem(d, &k, (mps_out_t){ kb, sizeof kb }, &v, (mps_out_t){ vb, sizeof vb });
}

static int d_setdefault(mps_list_t *l, mps_dict_t *d)
{
	char kb[1] = { 'c' }, vb[ITEM], ob[ITEM + 1];
	mps_var_t k = { MPS_STR, 0, 0, kb, 1, NULL }, v = item('C', vb), got;
	(void)l;
	return mps_dict_setdefault(d, &k, &v, &got, (mps_out_t){ ob, sizeof ob });
}

static int d_clear(mps_list_t *l, mps_dict_t *d)
{
	(void)l;
	return mps_dict_clear(d);
}

static const struct cross_case cross_cases[] = {
	{ "list append", true, l_append, "ABCDEF" },
	{ "list insert(0)", true, l_insert_front, "FABCDE" },
	{ "list set", true, l_set, "AFCDE" },
	{ "list remove", true, l_remove, "ABDE" },
	{ "list pop()", true, l_pop_last, "ABCD" },
	{ "list sort(reverse)", true, l_sort_reverse, "EDCBA" },
	{ "list reverse", true, l_reverse, "EDCBA" },
	{ "list extend", true, l_extend, "ABCDEFG" },
	{ "list += itself", true, l_extend_self, "ABCDEABCDE" },
	{ "list *= 2", true, l_repeat, "ABCDEABCDE" },
	{ "list clear", true, l_clear, "" },
	{ "dict set (new key)", false, d_set_new, "aAbBcC" },
	{ "dict set (replace)", false, d_replace, "aXbB" },
	{ "dict del", false, d_del, "bB" },
	{ "dict popitem", false, d_popitem, "aA" },
	{ "dict setdefault", false, d_setdefault, "aAbBcC" },
	{ "dict clear", false, d_clear, "" },
};

struct cross_run {
	const struct cross_case *c;
	mps_list_t *l;
	mps_dict_t *d;
};

static int run_case(void *arg)
{
	struct cross_run *r = arg;
	return r->c->op(r->l, r->d);
}

static void cross_state(const struct cross_run *r, char *out)
{
	if (r->c->list)
		list_state(r->l, out);
	else
		dict_state(r->d, out);
}

Test(recovery, more_operations_killed_at_cross_stores, .timeout = 300)
{
	struct mps_area *area = mps_area_create();
	mps_segment_t *seg = segtest_named(area, SEG_SIZE);
	int total = 0;
	for (size_t i = 0; i < sizeof cross_cases / sizeof cross_cases[0]; i++) {
		const struct cross_case *c = &cross_cases[i];
		char before[64], after[64];
		snprintf(before, sizeof before, "%s%s", c->list ? "ABCDE" : "aAbB",
		         c->list ? "ZGH" : "zZgGhH");
		snprintf(after, sizeof after, "%s%s", c->after, c->list ? "ZGH" : "zZgGhH");
		int m, nbefore = 0, nafter = 0;
		for (m = 1;; m++) {
			struct cross_run r = { c, NULL, NULL };
			cr_assert_eq(mps_segment_list(seg, "l", MPS_CREATE_ONLY, &r.l), 0);
			cr_assert_eq(mps_segment_dict(seg, "d", MPS_CREATE_ONLY, &r.d), 0);
			for (char ch = 'A'; ch <= 'E'; ch++)
				list_add(r.l, ch);
			dict_put(r.d, 'a', 'A');
			dict_put(r.d, 'b', 'B');
			void *target = c->list ? (void *)r.l : (void *)r.d;
			int hits = kill_at_cross(seg, target, run_case, &r, m);
			segment_first(seg, m % 2 == 0);
			if (c->list) {
				list_add(r.l, 'Z');
				list_add(r.l, 'G');
				list_add(r.l, 'H');
			} else {
				dict_put(r.d, 'z', 'Z');
				dict_put(r.d, 'g', 'G');
				dict_put(r.d, 'h', 'H');
			}
			char got[128];
			cross_state(&r, got);
			if (strcmp(got, before) == 0)
				nbefore++;
			else if (strcmp(got, after) == 0)
				nafter++;
			else
				cr_assert_fail("%s killed at cross store %d: %s, expected %s or %s", c->name,
				               m, got, before, after);
			cr_assert_eq(mps_segment_remove(seg, "l"), 0);
			cr_assert_eq(mps_segment_remove(seg, "d"), 0);
			char what[96];
			snprintf(what, sizeof what, "%s killed at cross store %d", c->name, m);
			heap_pristine(seg, what);
			if (hits < m)
				break;
		}
		cr_log_info("%s: %d cross stores; killed at each: %d before, %d after", c->name,
		            m - 1, nbefore, nafter);
		cr_assert(nafter > 0, "%s never finished", c->name);
		total += m - 1;
	}
	cr_assert_gt(total, 20, "%d cross stores in all: the test no longer finds its windows",
	             total);
	segtest_end(area, seg);
}

/* A container whose updater died is removed before anyone writes to it:
 * its teardown must see it as before or after that update (its guard's
 * journal replayed first), so every byte comes back. Each operation of the
 * table is killed at each of its cross stores, then the names go. */
Test(recovery, removed_while_updater_dead, .timeout = 300)
{
	struct mps_area *area = mps_area_create();
	mps_segment_t *seg = segtest_named(area, SEG_SIZE);
	for (size_t i = 0; i < sizeof cross_cases / sizeof cross_cases[0]; i++) {
		const struct cross_case *c = &cross_cases[i];
		for (int m = 1;; m++) {
			struct cross_run r = { c, NULL, NULL };
			cr_assert_eq(mps_segment_list(seg, "l", MPS_CREATE_ONLY, &r.l), 0);
			cr_assert_eq(mps_segment_dict(seg, "d", MPS_CREATE_ONLY, &r.d), 0);
			for (char ch = 'A'; ch <= 'E'; ch++)
				list_add(r.l, ch);
			dict_put(r.d, 'a', 'A');
			dict_put(r.d, 'b', 'B');
			void *target = c->list ? (void *)r.l : (void *)r.d;
			int hits = kill_at_cross(seg, target, run_case, &r, m);
			cr_assert_eq(mps_segment_remove(seg, "l"), 0);
			cr_assert_eq(mps_segment_remove(seg, "d"), 0);
			char what[96];
			snprintf(what, sizeof what, "%s killed at cross store %d, then removed", c->name,
			         m);
			heap_pristine(seg, what);
			if (hits < m)
				break;
		}
	}
	segtest_end(area, seg);
}

/* The survivor's write (the first after the death, which recovers both
 * guards) in a traced child, killed at its own cross stores in turn. */
static int survivor_write(void *arg)
{
	struct cross_run *r = arg;
	char b[ITEM];
	if (r->c->list) {
		mps_var_t v = item('Z', b);
		return mps_list_append(r->l, &v);
	}
	char kb[1] = { 'z' };
	mps_var_t k = { MPS_STR, 0, 0, kb, 1, NULL }, v = item('Z', b);
	return mps_dict_set(r->d, &k, &v);
}

/* The recoverer's first cross stores: its replay's block frees, then its
 * own allocation; later ones are its own operation's, covered above. */
#define RECOVERER_KILLS 3

/* Two and three dead holders in a row: each operation killed at each of
 * its cross stores, then its recoverer killed at each of its first, then a
 * third process writes: the container is as before or after the
 * operation, with or without the recoverer's write, and gives every byte
 * back once removed. */
Test(recovery, recoverer_killed_too, .timeout = 600)
{
	struct mps_area *area = mps_area_create();
	mps_segment_t *seg = segtest_named(area, SEG_SIZE);
	int kills = 0;
	for (size_t i = 0; i < sizeof cross_cases / sizeof cross_cases[0]; i++) {
		const struct cross_case *c = &cross_cases[i];
		const char *base = c->list ? "ABCDE" : "aAbB", *tail = c->list ? "GH" : "gGhH";
		const char *z = c->list ? "Z" : "zZ";
		char ok[4][64];
		snprintf(ok[0], sizeof ok[0], "%s%s%s", base, z, tail);
		snprintf(ok[1], sizeof ok[1], "%s%s", base, tail);
		snprintf(ok[2], sizeof ok[2], "%s%s%s", c->after, z, tail);
		snprintf(ok[3], sizeof ok[3], "%s%s", c->after, tail);
		for (int m = 1;; m++) {
			int hits = 0;
			for (int k = 1;; k++) {
				struct cross_run r = { c, NULL, NULL };
				cr_assert_eq(mps_segment_list(seg, "l", MPS_CREATE_ONLY, &r.l), 0);
				cr_assert_eq(mps_segment_dict(seg, "d", MPS_CREATE_ONLY, &r.d), 0);
				for (char ch = 'A'; ch <= 'E'; ch++)
					list_add(r.l, ch);
				dict_put(r.d, 'a', 'A');
				dict_put(r.d, 'b', 'B');
				void *target = c->list ? (void *)r.l : (void *)r.d;
				hits = kill_at_cross(seg, target, run_case, &r, m);
				int again = kill_at_cross(seg, target, survivor_write, &r, k);
				kills += (hits == m) + (again == k);
				if (c->list) {
					list_add(r.l, 'G');
					list_add(r.l, 'H');
				} else {
					dict_put(r.d, 'g', 'G');
					dict_put(r.d, 'h', 'H');
				}
				char got[128];
				cross_state(&r, got);
				cr_assert(strcmp(got, ok[0]) == 0 || strcmp(got, ok[1]) == 0 ||
				          strcmp(got, ok[2]) == 0 || strcmp(got, ok[3]) == 0,
				          "%s killed at cross store %d, its recoverer at %d: %s", c->name,
				          m, k, got);
				cr_assert_eq(mps_segment_remove(seg, "l"), 0);
				cr_assert_eq(mps_segment_remove(seg, "d"), 0);
				char what[96];
				snprintf(what, sizeof what, "%s killed at %d, its recoverer at %d", c->name,
				         m, k);
				heap_pristine(seg, what);
				if (again < k || hits < m || k == RECOVERER_KILLS)
					break;
			}
			if (hits < m)
				break;
		}
	}
	cr_log_info("recoverer killed too: %d kills", kills);
	segtest_end(area, seg);
}

/* ------------------------------------------------------------ lifecycle */

/* Whether the count of o reached 0 within 10 s (a counter, not a sleep). */
static bool await_zero_refs(const void *o)
{
	double end = mps_now() + 10.0;
	while (mps_object_refs(o) != 0)
		if (mps_now() > end)
			return false;
	return true;
}

/* The exact window of issue 9's defect 6: the last reference is dropped
 * (count 0, magic still set, the object on the doomed list) and the
 * destroyer waits for the reaper lock, which this test holds. Every way of
 * taking a reference must fail with ESTALE there: on the old code
 * mps_object_retain revived the object, whose block was then freed and
 * reused under the reviver. */
Test(lifecycle, retain_in_destroy_window)
{
	struct mps_area *area = mps_area_create();
	mps_segment_t *seg = segtest_named(area, SEG_SIZE);
	struct mps_seg_header *h = hdr(seg);
	mps_dict_t *d;
	mps_list_t *l;
	mps_lock_t *p;
	cr_assert_eq(mps_segment_dict(seg, "d", MPS_CREATE_ONLY, &d), 0);
	cr_assert_eq(mps_segment_list(seg, "l", MPS_CREATE_ONLY, &l), 0);
	mps_var_t k = mps_int(1), none = mps_none();
	cr_assert_eq(mps_dict_set(d, &k, &none), 0);
	cr_assert_eq(mps_list_append(l, &none), 0);
	cr_assert_eq(mps_segment_lock(seg, NULL, MPS_CREATE_ONLY, &p), 0);
	uint64_t off = mps_obj_offset(p);

	cr_assert_eq(mps_lock_acquire(&h->reaper, 0), 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(mps_object_release(p) == 0 ? 0 : 1);
	cr_assert(await_zero_refs(p), "the releaser never dropped the count");
	cr_assert_eq(mps_object_kind(p), MPS_KIND_LOCK, "destroyed with the guard held?");
	int retained = mps_object_retain(p);
	mps_var_t r = mps_ref(p);
	int stored = mps_dict_set(d, &k, &r), appended = mps_list_append(l, &r);
	mps_value_t *v = NULL;
	int valued = mps_segment_value(seg, NULL, MPS_CREATE_ONLY, 'i', NULL, MPS_SYNC_LOCK, p, &v);
	cr_assert_eq(mps_lock_release(&h->reaper), 0);
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	cr_assert_eq(retained, ESTALE, "mps_object_retain at count 0: %d", retained);
	cr_assert_eq(stored, ESTALE, "dict set of a REF at count 0: %d", stored);
	cr_assert_eq(appended, ESTALE, "list append of a REF at count 0: %d", appended);
	cr_assert_eq(valued, ESTALE, "a Value on a lock at count 0: %d", valued);
	cr_assert_eq(mps_object_kind(p), MPS_KIND_NONE, "the destroyed object keeps its magic");
	mps_var_t got;
	cr_assert_eq(mps_dict_get(d, &k, &got, (mps_out_t){ NULL, 0 }), 0);
	cr_assert_eq(got.type, MPS_NONE);
	cr_assert_eq(mps_list_len(l), 1);
	struct mps_segment_info info;
	cr_assert_eq(mps_segment_info(seg, &info), 0);
	cr_assert_eq(info.objects, 2, "objects: %u", info.objects);

	/* The block is reused: a Semaphore made there hands out its value. */
	mps_sem_t *s;
	cr_assert_eq(mps_segment_semaphore(seg, NULL, MPS_CREATE_ONLY, 1, &s), 0);
	cr_assert_eq(mps_obj_offset(s), off, "the freed block was not reused");
	cr_assert_eq(mps_sem_acquire(s, 0), 0);
	cr_assert_eq(mps_sem_acquire(s, 0), ETIMEDOUT);
	cr_assert_eq(mps_object_refs(s), 1);
	cr_assert_eq(mps_object_release(s), 0);
	cr_assert_eq(mps_segment_remove(seg, "d"), 0);
	cr_assert_eq(mps_segment_remove(seg, "l"), 0);
	heap_pristine(seg, "after the window");
	segtest_end(area, seg);
}

/* mps_segment_get: the name's object, already retained. */
Test(lifecycle, get_returns_retained)
{
	struct mps_area *area = mps_area_create();
	mps_segment_t *seg = segtest_named(area, SEG_SIZE);
	mps_queue_t *q;
	cr_assert_eq(mps_segment_queue(seg, "q", MPS_CREATE_ONLY, 0, 4096, &q), 0);
	void *o = NULL;
	enum mps_kind kind = MPS_KIND_NONE;
	cr_assert_eq(mps_segment_get(seg, "q", &o, &kind), 0);
	cr_assert(o == q && kind == MPS_KIND_QUEUE);
	cr_assert_eq(mps_object_refs(q), 2);
	cr_assert_eq(mps_segment_remove(seg, "q"), 0);
	cr_assert_eq(mps_object_refs(q), 1);
	cr_assert_eq(mps_queue_put(q, "abc", 3, 0), 0);
	char buf[8];
	size_t len;
	cr_assert_eq(mps_queue_get(q, buf, sizeof buf, &len, 0), 0);
	cr_assert(len == 3 && memcmp(buf, "abc", 3) == 0);
	cr_assert_eq(mps_object_release(q), 0);
	cr_assert_eq(mps_object_kind(q), MPS_KIND_NONE);
	o = NULL;
	cr_assert_eq(mps_segment_get(seg, "q", &o, &kind), ENOENT);
	cr_assert(o == NULL);
	cr_assert_eq(mps_segment_get(seg, "", &o, NULL), EINVAL);
	cr_assert_eq(mps_segment_get(seg, "q", NULL, NULL), EINVAL);
	cr_assert_eq(mps_segment_get(NULL, "q", &o, NULL), EINVAL);
	heap_pristine(seg, "after get");
	segtest_end(area, seg);
}

/* A worker given an object's place (area->value[0]: offset, [1]: serial) in
 * its own mapping of the segment takes it by mps_segment_retain_at, checks
 * that it is the Lock at that offset of its mapping, takes and gives the
 * Lock, and releases its reference. */
static int retain_at_role(struct mps_area *area, int index)
{
	(void)index;
	mps_segment_t *seg = segtest_open(area);
	MPS_CHECK(seg);
	void *o = NULL;
	enum mps_kind kind = MPS_KIND_NONE;
	uint64_t off = (uint64_t)area->value[0], serial = (uint64_t)area->value[1];
	MPS_CHECK(mps_segment_retain_at(seg, off, serial, &o, &kind) == 0);
	MPS_CHECK(o == (char *)mps_segment_base(seg) + off && kind == MPS_KIND_LOCK);
	MPS_CHECK(mps_object_serial(o) == serial);
	MPS_CHECK(mps_lock_acquire(o, 5.0) == 0 && mps_lock_release(o) == 0);
	MPS_CHECK(mps_segment_retain_at(seg, off, serial + 1, &o, &kind) == ENOENT);
	MPS_CHECK(mps_object_release(o) == 0);
	mps_segment_close(seg);
	return 0;
}

/* mps_segment_retain_at: an object by offset and serial, in this process
 * and in workers with mappings of their own; never a later object made in
 * the same block, never a destroyed one; bad places leave counts alone. */
MPS_FLAVOURS(lifecycle, retain_at_names_one_object)
ParameterizedTest(enum mps_flavour *f, lifecycle, retain_at_names_one_object)
{
	struct mps_area *area = mps_area_create();
	mps_segment_t *seg = segtest_named(area, SEG_SIZE);
	char *base = mps_segment_base(seg);
	mps_lock_t *l1;
	cr_assert_eq(mps_segment_lock(seg, NULL, MPS_CREATE_ONLY, &l1), 0);
	uint64_t off1 = (uint64_t)((char *)l1 - base), s1 = mps_object_serial(l1);
	cr_assert_neq(s1, 0);
	void *o = NULL;
	enum mps_kind kind = MPS_KIND_NONE;
	cr_assert_eq(mps_segment_retain_at(seg, off1, s1, &o, &kind), 0);
	cr_assert(o == l1 && kind == MPS_KIND_LOCK);
	cr_assert_eq(mps_object_refs(l1), 2);
	cr_assert_eq(mps_object_release(l1), 0);

	uint64_t bad[] = { 0, off1 + 8, off1 + 1, off1 - sizeof(void *) * 6, SEG_SIZE, UINT64_MAX };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(mps_segment_retain_at(seg, bad[i], s1, &o, &kind), ENOENT,
		             "offset %llu", (unsigned long long)bad[i]);
	cr_assert_eq(mps_segment_retain_at(seg, off1, s1 + 1, &o, &kind), ENOENT);
	cr_assert_eq(mps_segment_retain_at(seg, off1, 0, &o, &kind), EINVAL);
	cr_assert_eq(mps_segment_retain_at(seg, off1, s1, NULL, &kind), EINVAL);
	cr_assert_eq(mps_segment_retain_at(NULL, off1, s1, &o, &kind), EINVAL);
	cr_assert_eq(mps_object_refs(l1), 1);

	area->value[0] = (int64_t)off1;
	area->value[1] = (int64_t)s1;
	struct mps_workers w;
	mps_workers_start(&w, *f, area, retain_at_role, 2, 0);
	segtest_join(&w, 60.0, "retain_at workers");
	cr_assert_eq(mps_object_refs(l1), 1);

	cr_assert_eq(mps_object_release(l1), 0);      /* destroyed */
	cr_assert_eq(mps_segment_retain_at(seg, off1, s1, &o, &kind), ENOENT);
	mps_lock_t *l2;
	cr_assert_eq(mps_segment_lock(seg, NULL, MPS_CREATE_ONLY, &l2), 0);
	cr_assert_eq((uint64_t)((char *)l2 - base), off1,
	             "the allocator reuses the block: the case this test is about");
	uint64_t s2 = mps_object_serial(l2);
	cr_assert_gt(s2, s1);
	cr_assert_eq(mps_segment_retain_at(seg, off1, s1, &o, &kind), ENOENT, "the old serial");
	cr_assert_eq(mps_object_refs(l2), 1);
	cr_assert_eq(mps_segment_retain_at(seg, off1, s2, &o, &kind), 0);
	cr_assert(o == l2);
	cr_assert_eq(mps_object_release(l2), 0);
	cr_assert_eq(mps_object_release(l2), 0);
	heap_pristine(seg, "after retain_at");
	segtest_end(area, seg);
}

#define RACE_ROUNDS  300
#define RACE_WORKERS 3
enum { C_STOP, C_GOT, C_STALE };

/* Takes "x" by name while the parent removes and remakes it: every object
 * obtained is alive and a Lock for as long as the reference is held; it is
 * used as a lock, stored as a REF in dict "d" (own key), retained and
 * released again, then given back. */
static int race_role(struct mps_area *area, int index)
{
	mps_segment_t *seg = segtest_open(area);
	MPS_CHECK(seg);
	mps_dict_t *d = segtest_find(seg, "d", MPS_KIND_DICT);
	MPS_CHECK(d);
	mps_var_t key = mps_int(index);
	while (!mps_count_get(&area->counter[C_STOP])) {
		void *o;
		enum mps_kind kind;
		int r = mps_segment_get(seg, "x", &o, &kind);
		if (r == ENOENT)
			continue;
		MPS_CHECK(r == 0 && kind == MPS_KIND_LOCK);
		MPS_CHECK(mps_object_kind(o) == MPS_KIND_LOCK && mps_object_refs(o) >= 1);
		MPS_CHECK(mps_lock_acquire(o, 10.0) == 0 && mps_lock_release(o) == 0);
		mps_var_t ref = mps_ref(o);
		MPS_CHECK(mps_dict_set(d, &key, &ref) == 0);
		MPS_CHECK(mps_object_retain(o) == 0 && mps_object_release(o) == 0);
		MPS_CHECK(mps_dict_del(d, &key) == 0);
		MPS_CHECK(mps_object_kind(o) == MPS_KIND_LOCK);
		MPS_CHECK(mps_object_release(o) == 0);
		mps_count_add(&area->counter[C_GOT], 1);
	}
	mps_segment_close(seg);
	return 0;
}

/* Many rounds of the name's last reference dropped while workers get,
 * retain and store the object: a Semaphore made right after each removal
 * never hands out more permits than its value (a revived Lock reused as
 * its block would write a tid into its count), and everything is given
 * back at the end. */
MPS_FLAVOURS(lifecycle, remove_races_retain)
ParameterizedTest(enum mps_flavour *f, lifecycle, remove_races_retain)
{
	struct mps_area *area = mps_area_create();
	mps_segment_t *seg = segtest_named(area, SEG_SIZE);
	mps_dict_t *d;
	cr_assert_eq(mps_segment_dict(seg, "d", MPS_CREATE_ONLY, &d), 0);
	struct mps_workers w;
	mps_workers_start(&w, *f, area, race_role, RACE_WORKERS, 0);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		mps_lock_t *x;
		cr_assert_eq(mps_segment_lock(seg, "x", MPS_CREATE_ONLY, &x), 0);
		uint32_t got = mps_count_get(&area->counter[C_GOT]);
		mps_count_await(&area->counter[C_GOT], got + 1, 0.05);
		cr_assert_eq(mps_segment_remove(seg, "x"), 0);
		mps_sem_t *s;
		cr_assert_eq(mps_segment_semaphore(seg, NULL, MPS_CREATE_ONLY, 1, &s), 0);
		cr_assert_eq(mps_sem_acquire(s, 0), 0);
		cr_assert_eq(mps_sem_acquire(s, 0), ETIMEDOUT, "round %d: a second permit", round);
		cr_assert_eq(mps_sem_value(s), 0);
		cr_assert_eq(mps_object_release(s), 0);
	}
	mps_count_add(&area->counter[C_STOP], 1);
	segtest_join(&w, 60.0, "remove races retain");
	cr_log_info("remove races retain (%s): %u objects got by name over %d rounds",
	            mps_flavour_name(*f), mps_count_get(&area->counter[C_GOT]), RACE_ROUNDS);
	cr_assert_eq(mps_dict_len(d), 0);
	cr_assert_eq(mps_segment_remove(seg, "d"), 0);
	heap_pristine(seg, "after the race");
	segtest_end(area, seg);
}

/* ---------------------------------------------------------------- errno */

#define SENTINEL 4242

/* A call's result is as expected and errno is still the sentinel. */
static void kept(int r, int want, const char *what)
{
	int e = errno;
	errno = SENTINEL;
	cr_assert_eq(r, want, "%s: %d, expected %d", what, r, want);
	cr_assert_eq(e, SENTINEL, "%s left errno = %d", what, e);
}

/* A child that takes the segment guard, says so, holds it for hold seconds
 * and then releases it, or dies holding it when hold is negative. */
static pid_t guard_holder(struct mps_area *area, mps_segment_t *seg, double hold)
{
	mps_count_reset(area);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		bool took = mps_seg_enter(hdr(seg));
		mps_count_add(&area->counter[0], 1);
		if (hold < 0)
			_exit(0);
		mps_sleep(hold);
		mps_seg_leave(hdr(seg), took);
		_exit(0);
	}
	cr_assert(mps_count_await(&area->counter[0], 1, 10.0));
	return pid;
}

static void reap(pid_t pid)
{
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
}

/* Every segment call, failing or succeeding, waiting on a contended or a
 * dead holder's guard, leaves errno as it found it (SPEC §2). */
Test(lifecycle, errno_untouched)
{
	struct mps_area *area = mps_area_create();
	char name[96];
	snprintf(name, sizeof name, "%s-e", area->segname);
	mps_segment_t *seg = NULL, *other = NULL;
	errno = SENTINEL;
	kept(mps_segment_create(name, SEG_SIZE, &seg), 0, "create");
	kept(mps_segment_create(name, SEG_SIZE, &other), EEXIST, "create of an existing name");
	kept(mps_segment_open_or_create(name, SEG_SIZE, &other), 0, "open_or_create, existing");
	kept(mps_segment_close(other), 0, "close");
	kept(mps_segment_open(name, &other), 0, "open");
	kept(mps_segment_close(other), 0, "close");
	kept(mps_segment_open("mpsync-errno-missing", &other), ENOENT, "open of a missing name");
	kept(mps_segment_unlink("mpsync-errno-missing"), ENOENT, "unlink of a missing name");
	kept(mps_segment_create("a/b", SEG_SIZE, &other), EINVAL, "create of a bad name");
	kept(mps_segment_create_anonymous(SEG_SIZE, &other), 0, "create_anonymous");
	kept(mps_segment_close(other), 0, "close anonymous");
	struct mps_segment_info info;
	kept(mps_segment_info(seg, &info), 0, "info");

	void *o;
	kept(mps_segment_find(seg, "none", &o, NULL), ENOENT, "find of a missing name");
	kept(mps_segment_get(seg, "none", &o, NULL), ENOENT, "get of a missing name");
	kept(mps_segment_remove(seg, "none"), ENOENT, "remove of a missing name");
	mps_lock_t *l;
	kept(mps_segment_lock(seg, "l", MPS_CREATE_ONLY, &l), 0, "create a Lock");
	kept(mps_segment_lock(seg, "l", MPS_CREATE_ONLY, &l), EEXIST, "create-only, existing");
	uint64_t l_off = (uint64_t)((char *)l - (char *)mps_segment_base(seg));
	kept(mps_segment_retain_at(seg, l_off, mps_object_serial(l), &o, NULL), 0, "retain_at");
	kept(mps_object_release(o), 0, "release after retain_at");
	kept(mps_segment_retain_at(seg, l_off, mps_object_serial(l) + 1, &o, NULL), ENOENT,
	     "retain_at with another serial");
	kept(mps_segment_retain_at(seg, 8, 1, &o, NULL), ENOENT, "retain_at of no object");
	kept(mps_segment_lock(seg, "m", MPS_OPEN_ONLY, &l), ENOENT, "open-only, missing");
	mps_sem_t *s;
	kept(mps_segment_semaphore(seg, "l", MPS_OPEN_OR_CREATE, 1, &s), EPROTOTYPE, "wrong kind");
	kept(mps_object_retain(l), 0, "retain");
	kept(mps_object_release(l), 0, "release");
	kept(mps_object_retain((char *)mps_segment_base(seg) + 8192), EINVAL, "retain of a non-object");

	mps_queue_t *q;
	char buf[64];
	size_t len;
	kept(mps_segment_joinable_queue(seg, "q", MPS_CREATE_ONLY, 1, 4096, &q), 0, "queue");
	kept(mps_queue_get(q, buf, sizeof buf, &len, 0.05), ETIMEDOUT, "timed-out get");
	kept(mps_queue_get(q, buf, sizeof buf, &len, 0), ETIMEDOUT, "get_nowait, empty");
	kept(mps_queue_put(q, "x", 1, 0), 0, "put");
	kept(mps_queue_put(q, "y", 1, 0.05), ETIMEDOUT, "timed-out put");
	kept(mps_queue_join(q, 0.05), ETIMEDOUT, "timed-out join");
	kept(mps_queue_get(q, buf, sizeof buf, &len, 1.0), 0, "get");
	kept(mps_queue_task_done(q), 0, "task_done");
	kept(mps_queue_task_done(q), EOVERFLOW, "task_done once too often");
	kept(mps_queue_shutdown(q, true), 0, "shutdown");
	kept(mps_queue_put(q, "z", 1, 0), ESHUTDOWN, "put after shutdown");

	mps_value_t *v;
	int32_t x = 7;
	kept(mps_segment_value(seg, "v", MPS_CREATE_ONLY, 'i', &x, MPS_SYNC_LOCK, l, &v), 0,
	     "Value on a given Lock");
	kept(mps_value_get(v, &x), 0, "value get");
	kept(mps_lock_acquire(l, 0) == 0 ? 0 : -1, 0, "lock taken by the test");
	errno = SENTINEL;
	kept(mps_value_acquire(v, 0.05), ETIMEDOUT, "value acquire timed out");
	kept(mps_lock_release(l) == 0 ? 0 : -1, 0, "lock released");
	errno = SENTINEL;

	mps_dict_t *d;
	mps_list_t *li;
	mps_namespace_t *ns;
	kept(mps_segment_dict(seg, "d", MPS_CREATE_ONLY, &d), 0, "dict");
	kept(mps_segment_list(seg, "li", MPS_CREATE_ONLY, &li), 0, "list");
	kept(mps_segment_namespace(seg, "ns", MPS_CREATE_ONLY, &ns), 0, "namespace");
	mps_var_t k = mps_int(1), val, ref = mps_ref(q);
	kept(mps_dict_get(d, &k, &val, (mps_out_t){ buf, sizeof buf }), ENOENT, "dict get, missing");
	kept(mps_dict_set(d, &k, &ref), 0, "dict set REF");
	kept(mps_list_get(li, 3, &val, (mps_out_t){ buf, sizeof buf }), ERANGE, "list get, range");
	kept(mps_list_append(li, &k), 0, "list append");
	kept(mps_namespace_get(ns, "a", &val, (mps_out_t){ buf, sizeof buf }), ENOENT,
	     "namespace get, missing");

	/* The segment guard contended (its holder lets go after 0.1 s), then
	 * left by a dead holder: the waits and the recovery keep errno too. */
	pid_t pid = guard_holder(area, seg, 0.1);
	kept(mps_segment_find(seg, "l", &o, NULL), 0, "find, guard contended");
	reap(pid);
	pid = guard_holder(area, seg, -1);
	reap(pid);
	kept(mps_segment_remove(seg, "l"), 0, "remove, guard's holder dead");
	kept(mps_dict_del(d, &k), 0, "dict del");

	kept(mps_segment_remove(seg, "q"), 0, "remove q");
	kept(mps_segment_remove(seg, "v"), 0, "remove v");
	kept(mps_segment_remove(seg, "d"), 0, "remove d");
	kept(mps_segment_remove(seg, "li"), 0, "remove li");
	kept(mps_segment_remove(seg, "ns"), 0, "remove ns");
	heap_pristine(seg, "errno");
	kept(mps_segment_close(seg), 0, "close");
	kept(mps_segment_unlink(name), 0, "unlink");
	mps_area_destroy(area);
}
