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
 *              mps_segment_get returns a name's object already retained.
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

/* d = {a:A, b:B}; o = {b:C, c:D, e:E, f:F}; d.update(o) killed after each
 * cross store. The survivor then sets z:Z (its own allocation recovers the
 * segment guard) and g:G, h:H (blocks that a wrongly freed blob would be
 * reused for). */
Test(recovery, dict_update_killed_at_cross_store)
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
	cr_log_info("dict update: %d cross stores; killed at each: %d before, %d after",
	            m - 1, before, after);
	cr_assert_gt(m, 2, "no cross store seen: the test no longer finds its window");
	cr_assert(before > 0 && after > 0);
	segtest_end(area, seg);
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
static void list_remove_middle(bool pop)
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
	cr_log_info("list %s: %d cross stores; killed at each: %d before, %d after", name, m - 1,
	            before, after);
	cr_assert_gt(m, 2, "no cross store seen: the test no longer finds its window");
	cr_assert(before > 0 && after > 0);
	segtest_end(area, seg);
}

Test(recovery, list_pop_middle_killed_at_cross_store)
{
	list_remove_middle(true);
}

Test(recovery, list_del_middle_killed_at_cross_store)
{
	list_remove_middle(false);
}
