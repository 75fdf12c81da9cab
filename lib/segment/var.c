/* Typed values of dict, list and Namespace: the 16-byte slot (encoding in
 * var.h), the container guard, junk and staging.
 *
 * Protocol: every container operation holds the container's guard. A
 * change to a reachable word goes through the guard's journal; a slot is
 * written directly only where nothing reaches it yet (past a committed
 * length, in a block allocated by the running transaction, or in a staging
 * block past its committed end). Blobs are allocated with
 * mps_journal_alloc (undone by an abort or by the recovery of a dead
 * holder), freed with mps_journal_free (done once committed); references
 * are taken with mps_journal_retain and dropped with mps_journal_release.
 *
 * Crash argument: a holder killed inside a transaction is rolled back by
 * the next holder (mps_guard_acquire). Work that needs more than one
 * transaction (releasing many slots, filling a staging block) is recorded
 * in the container's junk before it starts, so the next holder finishes it
 * (mps_box_prepare): a slot's blob or reference is released exactly once,
 * and nothing that a reachable slot holds is ever released. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "var.h"

#define DRAIN_BATCH 8   /* records per transaction: 2 slots each + 5 entries */
#define STAGE_BATCH 8   /* records per transaction: 2 entries each + 1 */

mps_var_t mps_str(const char *s)
{
	mps_var_t v = { MPS_STR, 0, 0, s, s ? strlen(s) : 0, 0 };
	return v;
}

static bool same_bytes(const void *a, const void *b, size_t n)
{
	return n == 0 || memcmp(a, b, n) == 0;
}

bool mps_var_equal(const mps_var_t *a, const mps_var_t *b)
{
	if (!a || !b || a->type != b->type)
		return false;
	switch (a->type) {
	case MPS_NONE:
		return true;
	case MPS_INT:
		return a->i == b->i;
	case MPS_FLOAT:
		return same_bytes(&a->f, &b->f, sizeof a->f);
	case MPS_BYTES:
	case MPS_STR:
		return a->len == b->len && same_bytes(a->data, b->data, a->len);
	case MPS_REF:
		return a->ref == b->ref;
	}
	return false;
}

int mps_var_check(const struct mps_seg_header *h, const mps_var_t *v, bool key)
{
	if (!v)
		return EINVAL;
	switch (v->type) {
	case MPS_NONE:
	case MPS_INT:
	case MPS_FLOAT:
		return 0;
	case MPS_BYTES:
	case MPS_STR:
		if (v->len && !v->data)
			return EINVAL;
		return v->len > MPS_VAR_MAX_LEN ? ENOSPC : 0;
	case MPS_REF:
		if (key || mps_obj_segment(v->ref) != h)
			return EINVAL;
		return 0;
	}
	return EINVAL;
}

/* murmur3's finaliser: every input bit reaches every output bit. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_bytes(uint64_t h, const unsigned char *p, size_t n)
{
	h ^= (uint64_t)n * 0xc2b2ae3d27d4eb4full;
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ mix(w)) * 0x9e3779b97f4a7c15ull;
	}
	if (n) {
		uint64_t w = 0;
		memcpy(&w, p, n);
		h = (h ^ mix(w)) * 0x9e3779b97f4a7c15ull;
	}
	return mix(h);
}

uint64_t mps_var_hash(const mps_var_t *v)
{
	uint64_t h = ((uint64_t)v->type + 1) * 0x9e3779b97f4a7c15ull;
	uint64_t w = 0;
	switch (v->type) {
	case MPS_INT:
		w = (uint64_t)v->i;
		break;
	case MPS_FLOAT:
		memcpy(&w, &v->f, sizeof w);
		break;
	case MPS_BYTES:
	case MPS_STR:
		return hash_bytes(h, v->data, v->len);
	default:
		break;
	}
	return mix(h ^ mix(w));
}

static int make_text(struct mps_seg_header *h, struct mps_journal *j, const void *data,
                     size_t len, struct mps_slot *s)
{
	if (len <= MPS_SLOT_INLINE) {
		if (len)
			memcpy(&s->word, data, len);
		return 0;
	}
	uint64_t off;
	int r = mps_journal_alloc(h, j, len, &off);
	if (r)
		return r;
	memcpy(mps_seg_ptr(h, off), data, len);
	s->head |= MPS_SLOT_HEAP;
	s->word = off;
	return 0;
}

int mps_slot_make(struct mps_seg_header *h, struct mps_journal *j, const mps_var_t *v,
                  struct mps_slot *s)
{
	struct mps_slot n = { (uint64_t)v->type, 0 };
	int r = 0;
	switch (v->type) {
	case MPS_INT:
		n.word = (uint64_t)v->i;
		break;
	case MPS_FLOAT:
		memcpy(&n.word, &v->f, sizeof n.word);
		break;
	case MPS_BYTES:
	case MPS_STR:
		n.head |= (uint64_t)v->len << 32;
		r = make_text(h, j, v->data, v->len, &n);
		break;
	case MPS_REF:
		n.word = mps_obj_offset(v->ref);
		r = mps_journal_retain(h, j, n.word);   /* ESTALE: being destroyed */
		break;
	default:
		break;
	}
	if (r == 0)
		*s = n;
	return r;
}

int mps_slot_copy(struct mps_seg_header *h, struct mps_journal *j, const struct mps_slot *src,
                  struct mps_slot *dst)
{
	struct mps_slot n = *src;
	if (mps_slot_type(src) == MPS_REF) {
		int r = mps_journal_retain(h, j, src->word);
		if (r)
			return r;
	} else if (src->head & MPS_SLOT_HEAP) {
		n.head &= ~(uint64_t)MPS_SLOT_HEAP;
		int r = make_text(h, j, mps_slot_bytes(h, src), mps_slot_len(src), &n);
		if (r)
			return r;
	}
	*dst = n;
	return 0;
}

void mps_slot_drop(struct mps_seg_header *h, struct mps_journal *j, const struct mps_slot *s)
{
	if (mps_slot_type(s) == MPS_REF)
		mps_journal_release(h, j, s->word);
	else if (mps_slot_is_text(s) && (s->head & MPS_SLOT_HEAP))
		mps_journal_free(h, j, s->word);
}

void mps_slot_store(struct mps_seg_header *h, struct mps_journal *j, struct mps_slot *dst,
                    const struct mps_slot *src)
{
	if (dst->head != src->head)
		mps_journal_store64(h, j, &dst->head, src->head);
	if (dst->word != src->word)
		mps_journal_store64(h, j, &dst->word, src->word);
}

bool mps_slot_equal(const struct mps_seg_header *h, const struct mps_slot *s, const mps_var_t *v)
{
	if (mps_slot_type(s) != (unsigned)v->type)
		return false;
	switch (v->type) {
	case MPS_INT:
		return s->word == (uint64_t)v->i;
	case MPS_FLOAT:
		return same_bytes(&s->word, &v->f, sizeof v->f);
	case MPS_BYTES:
	case MPS_STR:
		return mps_slot_len(s) == v->len && same_bytes(mps_slot_bytes(h, s), v->data, v->len);
	case MPS_REF:
		return s->word == mps_obj_offset(v->ref);
	default:
		return true;
	}
}

bool mps_slot_same(const struct mps_seg_header *h, const struct mps_slot *a,
                   const struct mps_slot *b)
{
	if (a->head != b->head)
		return false;
	if (mps_slot_is_text(a))
		return same_bytes(mps_slot_bytes(h, a), mps_slot_bytes(h, b), mps_slot_len(a));
	return a->word == b->word;
}

int mps_slot_fits(const struct mps_slot *s, mps_var_t *var, mps_out_t out)
{
	if (!var || !mps_slot_is_text(s) || mps_slot_len(s) <= out.cap)
		return 0;
	*var = (mps_var_t){ (enum mps_type)mps_slot_type(s), 0, 0, NULL, mps_slot_len(s), NULL };
	return EMSGSIZE;
}

void mps_slot_read(struct mps_seg_header *h, const struct mps_slot *s, mps_var_t *var,
                   mps_out_t out, bool take)
{
	mps_var_t v = { (enum mps_type)mps_slot_type(s), 0, 0, NULL, 0, NULL };
	switch (v.type) {
	case MPS_INT:
		v.i = (int64_t)s->word;
		break;
	case MPS_FLOAT:
		memcpy(&v.f, &s->word, sizeof v.f);
		break;
	case MPS_BYTES:
	case MPS_STR:
		v.len = mps_slot_len(s);
		v.data = out.buf;
		if (v.len)
			memcpy(out.buf, mps_slot_bytes(h, s), v.len);
		if (v.len < out.cap)
			((char *)out.buf)[v.len] = 0;
		break;
	case MPS_REF:
		if (take)   /* the slot's own reference keeps the count above 0 */
			(void)mps_obj_retain_at(h, s->word);
		v.ref = mps_seg_ptr(h, s->word);
		break;
	default:
		break;
	}
	*var = v;
}

void mps_slot_take(struct mps_seg_header *h, struct mps_journal *j, const struct mps_slot *s,
                   mps_var_t *var, mps_out_t out)
{
	if (var) {
		mps_slot_read(h, s, var, out, false);
		if (mps_slot_type(s) == MPS_REF)
			return;
	}
	mps_slot_drop(h, j, s);
}

/* ---- the guard ---- */

void mps_box_lock(struct mps_seg_header *h, struct mps_box *b)
{
	/* An interruptible thread's EINTR: the guard is held only for the
	 * length of one operation, never across a wait, so retrying is bounded
	 * by the holder's progress, as with the segment lock. */
	while (mps_guard_acquire(h, &b->guard, MPS_FOREVER) != 0)
		;
}

/* Then finishes what the operation doomed (a reference it dropped was the
 * last): h is read before the release, after which b may be freed. */
void mps_box_unlock(struct mps_box *b)
{
	struct mps_seg_header *h = mps_box_seg(b);
	mps_guard_release(&b->guard);
	mps_obj_reap(h);
}

void mps_box_prepare(struct mps_seg_header *h, struct mps_box *b)
{
	mps_box_lock(h, b);
	if (b->junk.off)
		mps_junk_drain(h, b);
}

void mps_box_enter(struct mps_seg_header *h, struct mps_box *b)
{
	mps_box_prepare(h, b);
	mps_journal_begin(&b->guard.journal);
}

int mps_box_leave(struct mps_seg_header *h, struct mps_box *b, int r)
{
	if (r == 0)
		mps_journal_commit(h, &b->guard.journal);
	else
		mps_journal_abort(h, &b->guard.journal);
	mps_box_unlock(b);
	return r;
}

/* ---- junk ---- */

static void store_if(struct mps_seg_header *h, struct mps_journal *j, uint64_t *p, uint64_t v)
{
	if (*p != v)
		mps_journal_store64(h, j, p, v);
}

void mps_junk_set(struct mps_seg_header *h, struct mps_journal *j, struct mps_box *b,
                  uint64_t off, uint64_t shape, uint64_t pos, uint64_t end)
{
	store_if(h, j, &b->junk.off, off);
	store_if(h, j, &b->junk.shape, shape);
	store_if(h, j, &b->junk.pos, pos);
	store_if(h, j, &b->junk.end, end);
}

static struct mps_slot *junk_record(struct mps_seg_header *h, const struct mps_junk *k,
                                    uint64_t i)
{
	uint64_t stride = k->shape & 0xffff, base = k->shape >> 32;
	return mps_seg_ptr(h, k->off + base + i * stride);
}

static unsigned junk_nslots(const struct mps_junk *k)
{
	return (unsigned)(k->shape >> 16 & 0xffff);
}

void mps_junk_drain(struct mps_seg_header *h, struct mps_box *b)
{
	struct mps_junk *k = &b->junk;
	struct mps_journal *j = &b->guard.journal;
	while (k->off) {
		mps_journal_begin(j);
		uint64_t pos = k->pos;
		for (int n = 0; n < DRAIN_BATCH && pos < k->end; n++, pos++) {
			struct mps_slot *rec = junk_record(h, k, pos);
			if (mps_slot_type(rec) == MPS_SLOT_DEAD)
				continue;
			for (unsigned i = 0; i < junk_nslots(k); i++)
				mps_slot_drop(h, j, &rec[i]);
		}
		if (pos >= k->end) {
			mps_journal_free(h, j, k->off);
			mps_junk_set(h, j, b, 0, 0, 0, 0);
		} else {
			mps_journal_store64(h, j, &k->pos, pos);
		}
		mps_journal_commit(h, j);
	}
}

int mps_stage_open(struct mps_seg_header *h, struct mps_box *b, size_t size, uint64_t shape,
                   uint64_t pos, uint64_t *off)
{
	struct mps_journal *j = &b->guard.journal;
	mps_journal_begin(j);
	int r = mps_journal_alloc(h, j, size, off);
	if (r) {
		mps_journal_abort(h, j);
		return r;
	}
	mps_junk_set(h, j, b, *off, shape, pos, pos);
	mps_journal_commit(h, j);
	return 0;
}

int mps_stage_fill(struct mps_seg_header *h, struct mps_box *b, uint64_t end, mps_stage_fn make,
                   void *arg)
{
	struct mps_junk *k = &b->junk;
	struct mps_journal *j = &b->guard.journal;
	while (k->end < end) {
		mps_journal_begin(j);
		uint64_t e = k->end;
		int r = 0;
		for (int n = 0; n < STAGE_BATCH && e < end && r == 0; n++, e++)
			r = make(h, j, arg, e, junk_record(h, k, e));
		if (r) {
			mps_journal_abort(h, j);
			mps_junk_drain(h, b);
			return r;
		}
		mps_journal_store64(h, j, &k->end, e);
		mps_journal_commit(h, j);
	}
	return 0;
}

/* ---- local copies ---- */

int mps_snap_init(struct mps_snap *s, struct mps_seg_header *h, size_t nvars, size_t nbytes)
{
	memset(s, 0, sizeof *s);
	s->h = h;
	s->vars = calloc(nvars ? nvars : 1, sizeof *s->vars);
	s->bytes = malloc(nbytes ? nbytes : 1);
	s->cap = nbytes;
	if (!s->vars || !s->bytes) {
		free(s->vars);
		free(s->bytes);
		s->vars = NULL;
		s->bytes = NULL;
		return ENOMEM;
	}
	return 0;
}

void mps_snap_add(struct mps_snap *s, const struct mps_slot *slot)
{
	mps_out_t out = { s->bytes + s->used, s->cap - s->used };
	mps_slot_read(s->h, slot, &s->vars[s->n++], out, !s->borrowed);
	s->used += mps_snap_need(slot);
}

void mps_snap_free(struct mps_snap *s)
{
	for (size_t i = 0; i < s->n && !s->borrowed; i++)
		if (s->vars[i].type == MPS_REF)
			mps_obj_release_at(s->h, mps_obj_offset(s->vars[i].ref));
	free(s->vars);
	free(s->bytes);
	memset(s, 0, sizeof *s);
}
