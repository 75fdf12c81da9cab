/* list: a growable array of slots in a segment.
 *
 * Encoding: struct mps_list (var.h): guard, pending junk, arr (payload
 * offset of a block of cap 16-byte slots, var.h), cap, len, and a pending
 * in-place shift (mv_pos, mv_end). Slots [0, len) are the list; the rest
 * of the block is unreachable and may hold stale bytes.
 *
 * Protocol: every operation holds the guard (var.c) and first settles what
 * a dead holder left: junk to release, a shift to finish.
 *   append        the slot is written past len (unreachable), then len is
 *                 stored through the journal; growth copies into a block of
 *                 the same transaction and swaps arr/cap (old block freed
 *                 at commit, its slots having moved)
 *   pop()/del[-1] len - 1, the slot's blob/reference released at commit
 *   insert/del/pop/remove in the middle, reverse, sort: copy-on-write into
 *                 a fresh block, one swap. A deletion that finds the segment
 *                 full instead shifts in place, 10 slots per transaction,
 *                 recorded in mv_pos/mv_end so that a dead holder's shift is
 *                 finished by the next one (a deletion never fails ENOSPC)
 *   set           both words of the slot through the journal
 *   clear, *= 0   the array becomes junk in one transaction, released in
 *                 small ones after
 *   extend, *= n, += list, copy: the new slots are staged into the new
 *                 block past the old length, a few per transaction, the
 *                 block being junk [len, end) meanwhile; one last
 *                 transaction copies the old slots in and swaps arr.
 * Reads of another list (extend_list, copy) copy it out under its guard
 * into local memory first: no operation holds two container guards.
 *
 * Crash argument: as dict.c. Every state a killed holder can leave is
 * "before" or "after" its operation plus junk or a pending shift, both
 * finished by the next holder before anyone looks. A list holding itself
 * keeps itself alive: removing the last outside reference leaks it (its
 * count never reaches 0), nothing walks the cycle, nothing hangs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "var.h"

#define SHIFT_BATCH 10   /* moves of 2 entries + 3 stores per transaction */
#define HEAVY_MAX   16   /* in-place extend: blobs/references in one transaction */
#define SLOT_SHAPE  MPS_JUNK_SHAPE(sizeof(struct mps_slot), 1, 0)
#define SLOT        sizeof(struct mps_slot)

struct lstate {
	uint64_t arr, cap, len;
};

static struct mps_slot *slots(struct mps_seg_header *h, uint64_t off)
{
	return off ? mps_seg_ptr(h, off) : NULL;
}

static void load(const struct mps_list *l, struct lstate *st)
{
	*st = (struct lstate){ l->arr, l->cap, l->len };
}

static void store_if(struct mps_seg_header *h, struct mps_journal *j, uint64_t *p, uint64_t v)
{
	if (*p != v)
		mps_journal_store64(h, j, p, v);
}

static void publish(struct mps_seg_header *h, struct mps_journal *j, struct mps_list *l,
                    const struct lstate *st)
{
	store_if(h, j, &l->arr, st->arr);
	store_if(h, j, &l->cap, st->cap);
	store_if(h, j, &l->len, st->len);
}

static uint64_t grow_cap(uint64_t need)
{
	return need + need / 2 + 4;
}

/* ---- guard, settling what a dead holder left ---- */

static void finish_shift(struct mps_seg_header *h, struct mps_list *l)
{
	struct mps_journal *j = &l->box.guard.journal;
	struct mps_slot *a = slots(h, l->arr);
	while (l->mv_end) {
		mps_journal_begin(j);
		uint64_t p = l->mv_pos, end = l->mv_end;
		for (int n = 0; n < SHIFT_BATCH && p + 1 < end; n++, p++)
			mps_slot_store(h, j, &a[p], &a[p + 1]);
		if (p + 1 >= end) {
			mps_journal_store64(h, j, &l->len, end - 1);
			store_if(h, j, &l->mv_pos, 0);
			mps_journal_store64(h, j, &l->mv_end, 0);
		} else {
			mps_journal_store64(h, j, &l->mv_pos, p);
		}
		mps_journal_commit(h, j);
	}
}

static void settle(struct mps_seg_header *h, struct mps_list *l)
{
	if (l->mv_end)
		finish_shift(h, l);
	if (l->box.junk.off)
		mps_junk_drain(h, &l->box);
}

static void list_lock(struct mps_seg_header *h, struct mps_list *l)
{
	mps_box_lock(h, &l->box);
	settle(h, l);
}

static void list_enter(struct mps_seg_header *h, struct mps_list *l)
{
	list_lock(h, l);
	mps_journal_begin(&l->box.guard.journal);
}

static int list_leave(struct mps_seg_header *h, struct mps_list *l, int r)
{
	if (r == 0)
		mps_journal_commit(h, &l->box.guard.journal);
	else
		mps_journal_abort(h, &l->box.guard.journal);
	settle(h, l);
	mps_box_unlock(&l->box);
	return r;
}

/* ---- building blocks (transaction open) ---- */

/* Python's index rule: negative counts from the end; ERANGE outside. */
static int norm(int64_t index, uint64_t len, uint64_t *i)
{
	if (index < 0)
		index += (int64_t)len;
	if (index < 0 || (uint64_t)index >= len)
		return ERANGE;
	*i = (uint64_t)index;
	return 0;
}

/* Python's slice bound rule. */
static uint64_t clamp(int64_t x, uint64_t len)
{
	if (x < 0) {
		x += (int64_t)len;
		return x < 0 ? 0 : (uint64_t)x;
	}
	return (uint64_t)x > len ? len : (uint64_t)x;
}

static int alloc_slots(struct mps_seg_header *h, struct mps_journal *j, uint64_t cap,
                       uint64_t *off)
{
	if (cap > h->size / SLOT)
		return ENOSPC;
	return mps_journal_alloc(h, j, cap * SLOT, off);
}

/* Copy-on-write: the new array is old[0, at) + *add (if any) +
 * old[at + drop, len). The slots move; the old block is freed at commit. */
static int splice(struct mps_seg_header *h, struct mps_journal *j, struct lstate *st,
                  uint64_t at, uint64_t drop, const struct mps_slot *add)
{
	uint64_t n = st->len - drop + (add ? 1 : 0), cap = st->cap, off;
	if (n > cap)
		cap = grow_cap(n);
	else if (n * 4 < cap && cap > 16)
		cap = n * 2 + 4;
	int r = alloc_slots(h, j, cap, &off);
	if (r)
		return r;
	struct mps_slot *na = slots(h, off), *oa = slots(h, st->arr);
	uint64_t tail = st->len - at - drop;
	if (at)
		memcpy(na, oa, at * SLOT);
	if (add)
		na[at] = *add;
	if (tail)
		memcpy(na + at + (add ? 1 : 0), oa + at + drop, tail * SLOT);
	if (st->arr)
		mps_journal_free(h, j, st->arr);
	*st = (struct lstate){ off, cap, n };
	return 0;
}

/* Slot s goes in at position i (0 <= i <= len). */
static int put_at(struct mps_seg_header *h, struct mps_journal *j, struct lstate *st, uint64_t i,
                  const struct mps_slot *s)
{
	if (i == st->len && st->len < st->cap) {
		slots(h, st->arr)[st->len++] = *s;
		return 0;
	}
	return splice(h, j, st, i, 0, s);
}

/* Slot i leaves: to var, or dropped. */
static int remove_at(struct mps_seg_header *h, struct mps_list *l, struct lstate *st, uint64_t i,
                     mps_var_t *var, mps_out_t out)
{
	struct mps_journal *j = &l->box.guard.journal;
	struct mps_slot *a = slots(h, st->arr);
	int r = mps_slot_fits(&a[i], var, out);
	if (r)
		return r;
	mps_slot_take(h, j, &a[i], var, out);
	if (i + 1 == st->len) {
		st->len--;
		return 0;
	}
	if (splice(h, j, st, i, 1, NULL) == 0)
		return 0;
	/* Segment full: shift in place after the commit (list_leave). */
	mps_journal_store64(h, j, &l->mv_pos, i);
	mps_journal_store64(h, j, &l->mv_end, st->len);
	return 0;
}

/* ---- public: single-slot operations ---- */

int mps_segment_list(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                     mps_list_t **out)
{
	void *p = NULL;
	if (!out)
		return EINVAL;
	int r = mps_seg_object(seg, name, mode, MPS_KIND_LIST, sizeof(struct mps_list), NULL, NULL,
	                       &p, NULL);
	if (r == 0)
		*out = p;
	return r;
}

/* Under the guard (see mps_dict_len); it also finishes a pending shift. */
size_t mps_list_len(mps_list_t *l)
{
	if (!l)
		return 0;
	struct mps_seg_header *h = mps_box_seg(l);
	list_lock(h, l);
	size_t n = (size_t)l->len;
	mps_box_unlock(&l->box);
	return n;
}

static int insert_locked(struct mps_seg_header *h, mps_list_t *l, int64_t index,
                         const mps_var_t *value)
{
	struct mps_journal *j = &l->box.guard.journal;
	struct lstate st;
	load(l, &st);
	uint64_t i = index == INT64_MAX ? st.len : clamp(index, st.len);
	struct mps_slot s;
	int r = mps_slot_make(h, j, value, &s);
	if (r == 0)
		r = put_at(h, j, &st, i, &s);
	if (r == 0)
		publish(h, j, l, &st);
	return r;
}

typedef int (*store_op)(struct mps_seg_header *h, mps_list_t *l, int64_t index,
                        const mps_var_t *value);

/* insert and set: the value checked before the guard is taken. */
static int store_value(mps_list_t *l, int64_t index, const mps_var_t *value, store_op op)
{
	if (!l)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(l);
	int r = mps_var_check(h, value, false);
	if (r)
		return r;
	list_enter(h, l);
	return list_leave(h, l, op(h, l, index, value));
}

int mps_list_insert(mps_list_t *l, int64_t index, const mps_var_t *value)
{
	return store_value(l, index, value, insert_locked);
}

int mps_list_append(mps_list_t *l, const mps_var_t *value)
{
	return mps_list_insert(l, INT64_MAX, value);
}

int mps_list_get(mps_list_t *l, int64_t index, mps_var_t *value, mps_out_t out)
{
	if (!l)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(l);
	uint64_t i;
	list_lock(h, l);
	int r = norm(index, l->len, &i);
	struct mps_slot *a = slots(h, l->arr);
	if (r == 0)
		r = mps_slot_fits(&a[i], value, out);
	if (r == 0 && value)
		mps_slot_read(h, &a[i], value, out, true);
	mps_box_unlock(&l->box);
	return r;
}

static int set_locked(struct mps_seg_header *h, mps_list_t *l, int64_t index,
                      const mps_var_t *value)
{
	struct mps_journal *j = &l->box.guard.journal;
	uint64_t i;
	int r = norm(index, l->len, &i);
	struct mps_slot s, *a = slots(h, l->arr);
	if (r == 0)
		r = mps_slot_make(h, j, value, &s);
	if (r == 0) {
		mps_slot_drop(h, j, &a[i]);
		mps_slot_store(h, j, &a[i], &s);
	}
	return r;
}

int mps_list_set(mps_list_t *l, int64_t index, const mps_var_t *value)
{
	return store_value(l, index, value, set_locked);
}

static int pop_locked(struct mps_seg_header *h, mps_list_t *l, int64_t index, mps_var_t *value,
                      mps_out_t out)
{
	struct lstate st;
	load(l, &st);
	uint64_t i;
	int r = norm(index, st.len, &i);
	if (r == 0)
		r = remove_at(h, l, &st, i, value, out);
	if (r == 0)
		publish(h, &l->box.guard.journal, l, &st);
	return r;
}

int mps_list_pop(mps_list_t *l, int64_t index, mps_var_t *value, mps_out_t out)
{
	if (!l)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(l);
	list_enter(h, l);
	return list_leave(h, l, pop_locked(h, l, index, value, out));
}

int mps_list_del(mps_list_t *l, int64_t index)
{
	return mps_list_pop(l, index, NULL, (mps_out_t){ NULL, 0 });
}

/* The first slot equal to v from 0 on, or len (guard held). */
static uint64_t search(struct mps_seg_header *h, mps_list_t *l, const mps_var_t *v)
{
	struct mps_slot *a = slots(h, l->arr);
	uint64_t i = 0;
	while (i < l->len && !mps_slot_equal(h, &a[i], v))
		i++;
	return i;
}

static int remove_locked(struct mps_seg_header *h, mps_list_t *l, const mps_var_t *value)
{
	struct lstate st;
	load(l, &st);
	uint64_t i = search(h, l, value);
	if (i == st.len)
		return ENOENT;
	int r = remove_at(h, l, &st, i, NULL, (mps_out_t){ NULL, 0 });
	if (r == 0)
		publish(h, &l->box.guard.journal, l, &st);
	return r;
}

int mps_list_remove(mps_list_t *l, const mps_var_t *value)
{
	if (!l)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(l);
	int r = mps_var_check(h, value, false);
	if (r)
		return r;
	list_enter(h, l);
	return list_leave(h, l, remove_locked(h, l, value));
}

int mps_list_index(mps_list_t *l, const mps_var_t *value, size_t *index)
{
	if (!l)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(l);
	int r = mps_var_check(h, value, false);
	if (r)
		return r;
	list_lock(h, l);
	uint64_t i = search(h, l, value);
	r = i < l->len ? 0 : ENOENT;
	if (r == 0 && index)
		*index = (size_t)i;
	mps_box_unlock(&l->box);
	return r;
}

size_t mps_list_count(mps_list_t *l, const mps_var_t *value)
{
	if (!l)
		return 0;
	struct mps_seg_header *h = mps_box_seg(l);
	if (mps_var_check(h, value, false))
		return 0;
	list_lock(h, l);
	struct mps_slot *a = slots(h, l->arr);
	size_t n = 0;
	for (uint64_t i = 0; i < l->len; i++)
		n += mps_slot_equal(h, &a[i], value);
	mps_box_unlock(&l->box);
	return n;
}

bool mps_list_contains(mps_list_t *l, const mps_var_t *value)
{
	return mps_list_index(l, value, NULL) == 0;
}

int mps_list_clear(mps_list_t *l)
{
	if (!l)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(l);
	struct mps_journal *j = &l->box.guard.journal;
	list_enter(h, l);
	struct lstate st;
	load(l, &st);
	if (st.arr) {
		mps_junk_set(h, j, &l->box, st.arr, SLOT_SHAPE, 0, st.len);
		st = (struct lstate){ 0, 0, 0 };
		publish(h, j, l, &st);
	}
	return list_leave(h, l, 0);
}

int mps_list_slice(mps_list_t *l, int64_t start, int64_t stop, mps_var_t *vars, size_t n,
                   size_t *got, mps_out_t out)
{
	if (!l || !got || (n && !vars))
		return EINVAL;
	*got = 0;
	struct mps_seg_header *h = mps_box_seg(l);
	list_lock(h, l);
	uint64_t b = clamp(start, l->len), e = clamp(stop, l->len);
	uint64_t k = e > b ? e - b : 0;
	if (k > n)
		k = n;
	struct mps_slot *a = slots(h, l->arr);
	size_t need = 0;
	for (uint64_t i = 0; i < k; i++)
		need += mps_snap_need(&a[b + i]);
	int r = need > out.cap ? EMSGSIZE : 0;
	for (uint64_t i = 0, used = 0; i < k; i++) {
		const struct mps_slot *s = &a[b + i];
		if (r) {
			vars[i] = (mps_var_t){ (enum mps_type)mps_slot_type(s), 0, 0, NULL, mps_slot_len(s), NULL };
			continue;
		}
		mps_out_t o = { NULL, 0 };
		if (mps_slot_is_text(s))
			o = (mps_out_t){ (char *)out.buf + used, out.cap - used };
		mps_slot_read(h, s, &vars[i], o, true);
		used += mps_snap_need(s);
	}
	if (r == 0)
		*got = (size_t)k;
	mps_box_unlock(&l->box);
	return r;
}

/* ---- whole-array rewrites ---- */

static int reverse_locked(struct mps_seg_header *h, mps_list_t *l)
{
	struct mps_journal *j = &l->box.guard.journal;
	struct lstate st;
	load(l, &st);
	if (st.len < 2)
		return 0;
	uint64_t off;
	int r = alloc_slots(h, j, st.cap, &off);
	if (r)
		return r;
	struct mps_slot *na = slots(h, off), *oa = slots(h, st.arr);
	for (uint64_t i = 0; i < st.len; i++)
		na[i] = oa[st.len - 1 - i];
	mps_journal_free(h, j, st.arr);
	st.arr = off;
	publish(h, j, l, &st);
	return 0;
}

int mps_list_reverse(mps_list_t *l)
{
	if (!l)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(l);
	list_enter(h, l);
	return list_leave(h, l, reverse_locked(h, l));
}

/* Exact comparison of an int64 with a double (NaN compares equal). */
static int cmp_int_double(int64_t i, double f)
{
	if (f != f)
		return 0;
	if (f >= 9223372036854775808.0)
		return -1;
	if (f < -9223372036854775808.0)
		return 1;
	int64_t t = (int64_t)f;   /* in range, truncated toward zero */
	if (i != t)
		return i < t ? -1 : 1;
	double frac = f - (double)t;
	return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cmp_num(const struct mps_slot *a, const struct mps_slot *b)
{
	int64_t ia = (int64_t)a->word, ib = (int64_t)b->word;
	double fa, fb;
	memcpy(&fa, &a->word, sizeof fa);
	memcpy(&fb, &b->word, sizeof fb);
	bool ai = mps_slot_type(a) == MPS_INT, bi = mps_slot_type(b) == MPS_INT;
	if (ai && bi)
		return (ia > ib) - (ia < ib);
	if (!ai && !bi)
		return (fa > fb) - (fa < fb);
	return ai ? cmp_int_double(ia, fb) : -cmp_int_double(ib, fa);
}

static int cmp_slots(const struct mps_seg_header *h, const struct mps_slot *a,
                     const struct mps_slot *b)
{
	if (!mps_slot_is_text(a))
		return cmp_num(a, b);
	uint32_t na = mps_slot_len(a), nb = mps_slot_len(b);
	int c = memcmp(mps_slot_bytes(h, a), mps_slot_bytes(h, b), na < nb ? na : nb);
	return c ? c : (na > nb) - (na < nb);
}

/* Stable bottom-up merge sort of n slots; tmp holds n more. */
static void merge_sort(const struct mps_seg_header *h, struct mps_slot *a, struct mps_slot *tmp,
                       size_t n, int sign)
{
	struct mps_slot *src = a, *dst = tmp;
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, k = mid, o = lo;
			while (i < mid && k < hi)
				dst[o++] = sign * cmp_slots(h, &src[k], &src[i]) < 0 ? src[k++] : src[i++];
			while (i < mid)
				dst[o++] = src[i++];
			while (k < hi)
				dst[o++] = src[k++];
		}
		struct mps_slot *t = src;
		src = dst;
		dst = t;
	}
	if (src != a)
		memcpy(a, src, n * SLOT);
}

/* EINVAL unless every slot is a number, or every slot is bytes/str. */
static int sortable(const struct mps_slot *a, uint64_t n)
{
	bool num = false, text = false;
	for (uint64_t i = 0; i < n; i++) {
		unsigned t = mps_slot_type(&a[i]);
		if (t == MPS_INT || t == MPS_FLOAT)
			num = true;
		else if (t == MPS_BYTES || t == MPS_STR)
			text = true;
		else
			return EINVAL;
	}
	return num && text ? EINVAL : 0;
}

static int sort_locked(struct mps_seg_header *h, mps_list_t *l, bool reverse)
{
	struct mps_journal *j = &l->box.guard.journal;
	struct lstate st;
	load(l, &st);
	struct mps_slot *oa = slots(h, st.arr);
	int r = sortable(oa, st.len);
	if (r || st.len < 2)
		return r;
	struct mps_slot *tmp = malloc(2 * st.len * SLOT);
	if (!tmp)
		return ENOMEM;
	memcpy(tmp, oa, st.len * SLOT);
	merge_sort(h, tmp, tmp + st.len, st.len, reverse ? -1 : 1);
	uint64_t off;
	r = alloc_slots(h, j, st.cap, &off);
	if (r == 0) {
		memcpy(slots(h, off), tmp, st.len * SLOT);
		mps_journal_free(h, j, st.arr);
		st.arr = off;
		publish(h, j, l, &st);
	}
	free(tmp);
	return r;
}

int mps_list_sort(mps_list_t *l, bool reverse)
{
	if (!l)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(l);
	list_enter(h, l);
	return list_leave(h, l, sort_locked(h, l, reverse));
}

/* ---- bulk: extend, repeat, copy ---- */

/* The staged block at off, filled past the old length, becomes the list:
 * the old slots move in, the old block is freed, the junk forgotten. */
static void adopt(struct mps_seg_header *h, mps_list_t *l, uint64_t off, uint64_t cap,
                  uint64_t len)
{
	struct mps_journal *j = &l->box.guard.journal;
	struct lstate st;
	load(l, &st);
	mps_journal_begin(j);
	if (st.len)
		memcpy(slots(h, off), slots(h, st.arr), st.len * SLOT);
	if (st.arr)
		mps_journal_free(h, j, st.arr);
	mps_junk_set(h, j, &l->box, 0, 0, 0, 0);
	st = (struct lstate){ off, cap, len };
	publish(h, j, l, &st);
	mps_journal_commit(h, j);
}

/* Stages records [len, total) with make, then adopts the block. */
static int stage_and_adopt(struct mps_seg_header *h, mps_list_t *l, uint64_t total,
                           mps_stage_fn make, void *arg)
{
	uint64_t cap = total > l->cap ? grow_cap(total) : l->cap, off;
	if (total > h->size / SLOT || cap > h->size / SLOT)
		return ENOSPC;
	int r = mps_stage_open(h, &l->box, cap * SLOT, SLOT_SHAPE, l->len, &off);
	if (r == 0)
		r = mps_stage_fill(h, &l->box, total, make, arg);
	if (r == 0)
		adopt(h, l, off, cap, total);
	return r;
}

struct from_vars {
	const mps_var_t *values;
	uint64_t base;
};

static int make_from_var(struct mps_seg_header *h, struct mps_journal *j, void *arg, uint64_t i,
                         struct mps_slot *rec)
{
	struct from_vars *f = arg;
	return mps_slot_make(h, j, &f->values[i - f->base], rec);
}

static bool heavy(const mps_var_t *v)
{
	return v->type == MPS_REF ||
	       ((v->type == MPS_BYTES || v->type == MPS_STR) && v->len > MPS_SLOT_INLINE);
}

/* Few blobs/references and room in the array: one transaction. */
static int extend_in_place(struct mps_seg_header *h, mps_list_t *l, const mps_var_t *values,
                           size_t n)
{
	struct mps_journal *j = &l->box.guard.journal;
	struct mps_slot *a = slots(h, l->arr);
	int r = 0;
	mps_journal_begin(j);
	for (size_t i = 0; i < n && r == 0; i++)
		r = mps_slot_make(h, j, &values[i], &a[l->len + i]);
	if (r) {
		mps_journal_abort(h, j);
		return r;
	}
	mps_journal_store64(h, j, &l->len, l->len + n);
	mps_journal_commit(h, j);
	return 0;
}

/* Guard held, nothing pending. */
static int extend_locked(struct mps_seg_header *h, struct mps_list *l, const mps_var_t *values,
                         size_t n, size_t nheavy)
{
	if (l->len + n <= l->cap && nheavy <= HEAVY_MAX)
		return extend_in_place(h, l, values, n);
	struct from_vars f = { values, l->len };
	return stage_and_adopt(h, l, l->len + n, make_from_var, &f);
}

int mps_list_extend(mps_list_t *l, const mps_var_t *values, size_t n)
{
	if (!l || (n && !values))
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(l);
	size_t nheavy = 0;
	for (size_t i = 0; i < n; i++) {
		int r = mps_var_check(h, &values[i], false);
		if (r)
			return r;
		nheavy += heavy(&values[i]);
	}
	if (n == 0)
		return 0;
	if (n > h->size / SLOT)
		return ENOSPC;
	list_lock(h, l);
	int r = extend_locked(h, l, values, n, nheavy);
	mps_box_unlock(&l->box);
	return r;
}

struct from_list {
	const struct mps_slot *src;
	uint64_t len;
};

static int make_copy(struct mps_seg_header *h, struct mps_journal *j, void *arg, uint64_t i,
                     struct mps_slot *rec)
{
	struct from_list *f = arg;
	return mps_slot_copy(h, j, &f->src[i % f->len], rec);
}

int mps_list_repeat(mps_list_t *l, size_t times)
{
	if (!l)
		return EINVAL;
	if (times == 0)
		return mps_list_clear(l);
	struct mps_seg_header *h = mps_box_seg(l);
	list_lock(h, l);
	int r = 0;
	uint64_t len = l->len;
	if (len && times > 1) {
		if (times > h->size / SLOT / len) {
			r = ENOSPC;
		} else {
			struct from_list f = { slots(h, l->arr), len };
			r = stage_and_adopt(h, l, len * times, make_copy, &f);
		}
	}
	mps_box_unlock(&l->box);
	return r;
}

/* Guard held (list_lock). borrowed: no references taken. */
static int snapshot_locked(struct mps_seg_header *h, mps_list_t *l, struct mps_snap *s,
                           bool borrowed)
{
	struct mps_slot *a = slots(h, l->arr);
	size_t bytes = 0;
	for (uint64_t i = 0; i < l->len; i++)
		bytes += mps_snap_need(&a[i]);
	int r = mps_snap_init(s, h, l->len, bytes);
	s->borrowed = borrowed;
	for (uint64_t i = 0; r == 0 && i < l->len; i++)
		mps_snap_add(s, &a[i]);
	return r;
}

static int snapshot(mps_list_t *l, struct mps_snap *s)
{
	struct mps_seg_header *h = mps_box_seg(l);
	list_lock(h, l);
	int r = snapshot_locked(h, l, s, false);
	mps_box_unlock(&l->box);
	return r;
}

int mps_list_extend_list(mps_list_t *l, mps_list_t *other)
{
	if (!l || !other)
		return EINVAL;
	struct mps_snap s;
	int r = snapshot(other, &s);
	if (r)
		return r;
	r = mps_list_extend(l, s.vars, s.n);
	mps_snap_free(&s);
	return r;
}

/* Built in the nursery under both guards, as dict.c's copy. */
int mps_list_copy(mps_list_t *src, mps_list_t **out)
{
	if (!src || !out)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(src);
	struct mps_snap s;
	list_lock(h, src);
	int r = snapshot_locked(h, src, &s, true);
	size_t nheavy = 0;
	for (size_t i = 0; r == 0 && i < s.n; i++)
		nheavy += heavy(&s.vars[i]);
	mps_list_t *c = NULL;
	if (r == 0)
		r = mps_obj_nurse(h, MPS_KIND_LIST, sizeof(struct mps_list), (void **)&c);
	if (r == 0) {
		if (s.n)
			r = extend_locked(h, c, s.vars, s.n, nheavy);
		mps_obj_adopt(h, c);
	}
	mps_box_unlock(&src->box);
	if (c)
		mps_box_unlock(&c->box);
	if (c && r)
		mps_obj_release_at(h, mps_obj_offset(c));
	else if (c)
		*out = c;
	mps_snap_free(&s);
	return r;
}

/* A doomed list: clear() is resumable (dict.c's teardown says why). */
void mps_list_teardown(struct mps_seg_header *h, void *payload)
{
	(void)h;
	mps_list_clear(payload);
}
