/* dict: an insertion-ordered hash table in a segment (CPython's compact
 * dict), also the storage of Namespace.
 *
 * Encoding: struct mps_dict (var.h) holds the guard, pending junk, and
 * table, len, used, fill, version. The table is one heap block:
 *   struct table { cap, mask }        16 bytes
 *   struct entry entries[cap]         { key slot, value slot, hash }, 40 bytes,
 *                                     in insertion order; [0, used) written
 *   uint32_t index[mask + 1]          2 * cap slots: 0 empty, IX_DUMMY
 *                                     deleted, else entry number + 1
 * Lookup probes the index as CPython does (i = 5i + perturb + 1). A deleted
 * entry keeps its place with key type MPS_SLOT_DEAD and its index slot
 * becomes a dummy, so no index slot refers to a dead entry and trailing
 * dead entries can be dropped from used (popitem stays O(1)). fill (live +
 * dummy index slots) stays <= cap < index size, so a probe always ends.
 * version changes with every insertion, deletion, rebuild and clear: an
 * iterator that saw another version gets ESTALE (Python's "dictionary
 * changed size during iteration").
 *
 * Protocol: every operation holds the guard (var.c). A new key is written
 * into entries[used], which nothing reaches yet, then its index slot and
 * the counters change through the journal. Growth builds a new table in a
 * block allocated by the same transaction (no journal needed inside it),
 * compacting away dead entries, and swaps the offset; the old table is
 * freed at commit, its live slots having moved. clear() makes the whole
 * table junk in one transaction and releases it in small ones afterwards.
 * update()/copy() stage the new keys and values in a junk block first
 * (mps_stage_fill: any number of blobs and references, a few per
 * transaction), then one transaction builds the new table from the old one
 * and the staging block, and turns the replaced values into junk.
 *
 * Crash argument: the journal undoes a killed holder's open transaction;
 * junk (staging or released) is finished by the next holder. So the dict is
 * always as before or as after each operation, nothing it reaches is ever
 * released, and nothing it released stays allocated. The one leak: a
 * process killed while it holds references of its own (a value it read, a
 * snapshot taken by update/copy) leaks those references, as any process
 * dying with references does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "var.h"

#define IX_EMPTY 0u
#define IX_DUMMY 0xffffffffu
#define MIN_CAP  8u
#define MAX_CAP  (1u << 30)

struct table {
	uint32_t cap;
	uint32_t mask;
	uint64_t reserved;
};

struct entry {
	struct mps_slot key;
	struct mps_slot value;
	uint64_t hash;
};

_Static_assert(sizeof(struct table) == 16, "table header");
_Static_assert(sizeof(struct entry) == 40, "dict entry");

#define ENTRY_SHAPE MPS_JUNK_SHAPE(sizeof(struct entry), 2, sizeof(struct table))
#define PAIR_SHAPE  MPS_JUNK_SHAPE(2 * sizeof(struct mps_slot), 2, 0)
#define SLOT_SHAPE  MPS_JUNK_SHAPE(sizeof(struct mps_slot), 1, 0)

/* The counters of a dict, changed locally and published once. */
struct state {
	uint64_t table, len, used, fill, version;
};

static struct table *table_at(struct mps_seg_header *h, uint64_t off)
{
	return off ? mps_seg_ptr(h, off) : NULL;
}

static struct entry *entries(struct table *t)
{
	return (struct entry *)(t + 1);
}

static uint32_t *index_of(struct table *t)
{
	return (uint32_t *)(entries(t) + t->cap);
}

static size_t table_bytes(uint64_t cap)
{
	return sizeof(struct table) + cap * sizeof(struct entry) + 2 * cap * sizeof(uint32_t);
}

static bool dead(const struct entry *e)
{
	return mps_slot_type(&e->key) == MPS_SLOT_DEAD;
}

static bool owns(const struct mps_slot *s)
{
	return mps_slot_type(s) == MPS_REF || (mps_slot_is_text(s) && (s->head & MPS_SLOT_HEAP));
}

static void load(const struct mps_dict *d, struct state *st)
{
	*st = (struct state){ d->table, d->len, d->used, d->fill, d->version };
}

static void store_if(struct mps_seg_header *h, struct mps_journal *j, uint64_t *p, uint64_t v)
{
	if (*p != v)
		mps_journal_store64(h, j, p, v);
}

static void publish(struct mps_seg_header *h, struct mps_journal *j, struct mps_dict *d,
                    const struct state *st)
{
	store_if(h, j, &d->table, st->table);
	store_if(h, j, &d->used, st->used);
	store_if(h, j, &d->fill, st->fill);
	store_if(h, j, &d->version, st->version);
	store_if(h, j, &d->len, st->len);
}

/* The entry holding key (its index slot in *slot), or -1 and in *slot
 * where key would go: the first dummy on its probe path, else the empty
 * slot that ended it. */
static int64_t find(const struct mps_seg_header *h, struct table *t, const mps_var_t *key,
                    uint64_t hash, uint64_t *slot)
{
	uint32_t *ix = index_of(t);
	struct entry *e = entries(t);
	uint64_t mask = t->mask, i = hash & mask, perturb = hash, spare = UINT64_MAX;
	for (;;) {
		uint32_t x = ix[i];
		if (x == IX_EMPTY) {
			*slot = spare != UINT64_MAX ? spare : i;
			return -1;
		}
		if (x == IX_DUMMY) {
			if (spare == UINT64_MAX)
				spare = i;
		} else if (e[x - 1].hash == hash && mps_slot_equal(h, &e[x - 1].key, key)) {
			*slot = i;
			return x - 1;
		}
		perturb >>= 5;
		i = (i * 5 + perturb + 1) & mask;
	}
}

/* The index slot that refers to entry x. */
static uint64_t slot_of(struct table *t, uint64_t x)
{
	uint32_t *ix = index_of(t);
	uint64_t hash = entries(t)[x].hash, mask = t->mask, i = hash & mask, perturb = hash;
	while (ix[i] != x + 1) {
		perturb >>= 5;
		i = (i * 5 + perturb + 1) & mask;
	}
	return i;
}

/* The first empty slot of hash's probe path. */
static uint64_t empty_slot(struct table *t, uint64_t hash)
{
	uint32_t *ix = index_of(t);
	uint64_t mask = t->mask, i = hash & mask, perturb = hash;
	while (ix[i] != IX_EMPTY) {
		perturb >>= 5;
		i = (i * 5 + perturb + 1) & mask;
	}
	return i;
}

/* A new table with room for want entries and more, holding the live
 * entries in order; the old one is freed at commit. */
static int rebuild(struct mps_seg_header *h, struct mps_journal *j, struct state *st,
                   uint64_t want)
{
	if (want > MAX_CAP / 2)
		return ENOSPC;
	uint64_t cap = MIN_CAP, off;
	while (cap < want + want / 2 + 1)
		cap <<= 1;
	int r = mps_journal_alloc(h, j, table_bytes(cap), &off);
	if (r)
		return r;
	struct table *nt = mps_seg_ptr(h, off), *old = table_at(h, st->table);
	nt->cap = (uint32_t)cap;
	nt->mask = (uint32_t)(2 * cap - 1);
	uint64_t n = 0;
	for (uint64_t i = 0; old && i < st->used; i++) {
		struct entry *e = &entries(old)[i];
		if (dead(e))
			continue;
		entries(nt)[n] = *e;
		index_of(nt)[empty_slot(nt, e->hash)] = (uint32_t)(n + 1);
		n++;
	}
	if (old)
		mps_journal_free(h, j, st->table);
	*st = (struct state){ off, n, n, n, st->version + 1 };
	return 0;
}

static int replace(struct mps_seg_header *h, struct mps_journal *j, struct mps_slot *dst,
                   const mps_var_t *value)
{
	struct mps_slot s;
	int r = mps_slot_make(h, j, value, &s);
	if (r)
		return r;
	mps_slot_drop(h, j, dst);
	mps_slot_store(h, j, dst, &s);
	return 0;
}

/* A key find() did not see; slot is where find() said it would go. */
static int insert(struct mps_seg_header *h, struct mps_journal *j, struct state *st,
                  const mps_var_t *key, uint64_t hash, const mps_var_t *value, uint64_t slot)
{
	struct mps_slot ks, vs;
	int r = mps_slot_make(h, j, key, &ks);
	if (r == 0)
		r = mps_slot_make(h, j, value, &vs);
	if (r)
		return r;
	struct table *t = table_at(h, st->table);
	bool fresh = !t || st->used >= t->cap ||
	             (index_of(t)[slot] == IX_EMPTY && st->fill >= t->cap);
	if (fresh) {
		if ((r = rebuild(h, j, st, st->len + 1)) != 0)
			return r;
		t = table_at(h, st->table);
		slot = empty_slot(t, hash);
	}
	struct entry *e = &entries(t)[st->used];
	e->key = ks;
	e->value = vs;
	e->hash = hash;
	uint32_t *ix = &index_of(t)[slot];
	if (*ix == IX_EMPTY)
		st->fill++;
	if (fresh)
		*ix = (uint32_t)(st->used + 1);
	else
		mps_journal_store32(h, j, ix, (uint32_t)(st->used + 1));
	st->used++;
	st->len++;
	st->version++;
	return 0;
}

/* Entry x (index slot slot) leaves the dict; its slots were dealt with. */
static void unlink_entry(struct mps_seg_header *h, struct mps_journal *j, struct table *t,
                         struct state *st, uint64_t x, uint64_t slot)
{
	mps_journal_store64(h, j, &entries(t)[x].key.head, MPS_SLOT_DEAD);
	mps_journal_store32(h, j, &index_of(t)[slot], IX_DUMMY);
	st->len--;
	st->version++;
	while (st->used && dead(&entries(t)[st->used - 1]))
		st->used--;
}

static int check_pair(const struct mps_seg_header *h, const mps_var_t *key, const mps_var_t *value)
{
	int r = mps_var_check(h, key, true);
	return r ? r : mps_var_check(h, value, false);
}

/* ---- public ---- */

int mps_segment_dict(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                     mps_dict_t **out)
{
	void *p = NULL;
	if (!out)
		return EINVAL;
	int r = mps_seg_object(seg, name, mode, MPS_KIND_DICT, sizeof(struct mps_dict), NULL, NULL,
	                       &p, NULL);
	if (r == 0)
		*out = p;
	return r;
}

/* Under the guard, although one load would do: a holder that died after
 * storing len must be rolled back before anyone reads it. */
size_t mps_dict_len(mps_dict_t *d)
{
	if (!d)
		return 0;
	struct mps_seg_header *h = mps_box_seg(d);
	mps_box_lock(h, &d->box);
	size_t n = (size_t)d->len;
	mps_box_unlock(&d->box);
	return n;
}

static int set_locked(struct mps_seg_header *h, mps_dict_t *d, const mps_var_t *key,
                      uint64_t hash, const mps_var_t *value)
{
	struct mps_journal *j = &d->box.guard.journal;
	struct state st;
	load(d, &st);
	struct table *t = table_at(h, st.table);
	uint64_t slot = 0;
	int64_t x = t ? find(h, t, key, hash, &slot) : -1;
	if (x >= 0)
		return replace(h, j, &entries(t)[x].value, value);
	int r = insert(h, j, &st, key, hash, value, slot);
	if (r == 0)
		publish(h, j, d, &st);
	return r;
}

int mps_dict_set(mps_dict_t *d, const mps_var_t *key, const mps_var_t *value)
{
	if (!d)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(d);
	int r = check_pair(h, key, value);
	if (r)
		return r;
	uint64_t hash = mps_var_hash(key);
	mps_box_enter(h, &d->box);
	return mps_box_leave(h, &d->box, set_locked(h, d, key, hash, value));
}

/* The live entry of key, NULL if absent (guard held). */
static struct entry *lookup(struct mps_seg_header *h, mps_dict_t *d, const mps_var_t *key)
{
	struct table *t = table_at(h, d->table);
	uint64_t slot;
	int64_t x = t ? find(h, t, key, mps_var_hash(key), &slot) : -1;
	return x >= 0 ? &entries(t)[x] : NULL;
}

int mps_dict_get(mps_dict_t *d, const mps_var_t *key, mps_var_t *value, mps_out_t out)
{
	if (!d)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(d);
	int r = mps_var_check(h, key, true);
	if (r)
		return r;
	mps_box_lock(h, &d->box);
	struct entry *e = lookup(h, d, key);
	r = e ? mps_slot_fits(&e->value, value, out) : ENOENT;
	if (r == 0 && value)
		mps_slot_read(h, &e->value, value, out, true);
	mps_box_unlock(&d->box);
	return r;
}

bool mps_dict_contains(mps_dict_t *d, const mps_var_t *key)
{
	if (!d)
		return false;
	struct mps_seg_header *h = mps_box_seg(d);
	if (mps_var_check(h, key, true))
		return false;
	mps_box_lock(h, &d->box);
	bool found = lookup(h, d, key) != NULL;
	mps_box_unlock(&d->box);
	return found;
}

static int pop_locked(struct mps_seg_header *h, mps_dict_t *d, const mps_var_t *key,
                      mps_var_t *value, mps_out_t out)
{
	struct mps_journal *j = &d->box.guard.journal;
	struct state st;
	load(d, &st);
	struct table *t = table_at(h, st.table);
	uint64_t slot;
	int64_t x = t ? find(h, t, key, mps_var_hash(key), &slot) : -1;
	if (x < 0)
		return ENOENT;
	struct entry *e = &entries(t)[x];
	int r = mps_slot_fits(&e->value, value, out);
	if (r)
		return r;
	mps_slot_take(h, j, &e->key, NULL, out);
	mps_slot_take(h, j, &e->value, value, out);
	unlink_entry(h, j, t, &st, (uint64_t)x, slot);
	publish(h, j, d, &st);
	return 0;
}

int mps_dict_pop(mps_dict_t *d, const mps_var_t *key, mps_var_t *value, mps_out_t out)
{
	if (!d)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(d);
	int r = mps_var_check(h, key, true);
	if (r)
		return r;
	mps_box_enter(h, &d->box);
	return mps_box_leave(h, &d->box, pop_locked(h, d, key, value, out));
}

int mps_dict_del(mps_dict_t *d, const mps_var_t *key)
{
	return mps_dict_pop(d, key, NULL, (mps_out_t){ NULL, 0 });
}

static int popitem_locked(struct mps_seg_header *h, mps_dict_t *d, mps_var_t *key,
                          mps_out_t key_out, mps_var_t *value, mps_out_t value_out)
{
	struct mps_journal *j = &d->box.guard.journal;
	struct state st;
	load(d, &st);
	struct table *t = table_at(h, st.table);
	uint64_t x = st.used;
	while (t && x > 0 && dead(&entries(t)[x - 1]))
		x--;
	if (!t || x == 0)
		return ENOENT;
	struct entry *e = &entries(t)[--x];
	int r = mps_slot_fits(&e->key, key, key_out);
	if (r == 0)
		r = mps_slot_fits(&e->value, value, value_out);
	if (r)
		return r;
	mps_slot_take(h, j, &e->key, key, key_out);
	mps_slot_take(h, j, &e->value, value, value_out);
	unlink_entry(h, j, t, &st, x, slot_of(t, x));
	publish(h, j, d, &st);
	return 0;
}

int mps_dict_popitem(mps_dict_t *d, mps_var_t *key, mps_out_t key_out,
                     mps_var_t *value, mps_out_t value_out)
{
	if (!d)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(d);
	mps_box_enter(h, &d->box);
	return mps_box_leave(h, &d->box, popitem_locked(h, d, key, key_out, value, value_out));
}

static int setdefault_locked(struct mps_seg_header *h, mps_dict_t *d, const mps_var_t *key,
                             const mps_var_t *dflt, mps_var_t *value, mps_out_t out)
{
	struct mps_journal *j = &d->box.guard.journal;
	struct state st;
	load(d, &st);
	struct table *t = table_at(h, st.table);
	uint64_t slot = 0, hash = mps_var_hash(key);
	int64_t x = t ? find(h, t, key, hash, &slot) : -1;
	struct mps_slot *held;
	if (x >= 0) {
		held = &entries(t)[x].value;
		int r = mps_slot_fits(held, value, out);
		if (r)
			return r;
	} else {
		if (value && (dflt->type == MPS_BYTES || dflt->type == MPS_STR) && dflt->len > out.cap) {
			*value = (mps_var_t){ dflt->type, 0, 0, NULL, dflt->len, NULL };
			return EMSGSIZE;
		}
		int r = insert(h, j, &st, key, hash, dflt, slot);
		if (r)
			return r;
		publish(h, j, d, &st);
		held = &entries(table_at(h, st.table))[st.used - 1].value;
	}
	if (value)
		mps_slot_read(h, held, value, out, true);
	return 0;
}

int mps_dict_setdefault(mps_dict_t *d, const mps_var_t *key, const mps_var_t *dflt,
                        mps_var_t *value, mps_out_t out)
{
	if (!d)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(d);
	int r = check_pair(h, key, dflt);
	if (r)
		return r;
	mps_box_enter(h, &d->box);
	return mps_box_leave(h, &d->box, setdefault_locked(h, d, key, dflt, value, out));
}

int mps_dict_clear(mps_dict_t *d)
{
	if (!d)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(d);
	struct mps_journal *j = &d->box.guard.journal;
	mps_box_enter(h, &d->box);
	struct state st;
	load(d, &st);
	if (st.table) {
		mps_junk_set(h, j, &d->box, st.table, ENTRY_SHAPE, 0, st.used);
		st = (struct state){ 0, 0, 0, 0, st.version + 1 };
		publish(h, j, d, &st);
	}
	mps_journal_commit(h, j);
	mps_junk_drain(h, &d->box);
	mps_box_unlock(&d->box);
	return 0;
}

/* ---- bulk: update, copy ---- */

static int make_pair(struct mps_seg_header *h, struct mps_journal *j, void *arg, uint64_t i,
                     struct mps_slot *rec)
{
	const mps_var_t *pairs = arg;
	int r = mps_slot_make(h, j, &pairs[2 * i], &rec[0]);
	return r ? r : mps_slot_make(h, j, &pairs[2 * i + 1], &rec[1]);
}

static void keep(struct mps_slot *rel, size_t *n, const struct mps_slot *s)
{
	if (owns(s))
		rel[(*n)++] = *s;
}

/* Puts the staged pairs into a fresh table; what they replace goes to
 * rel (rel gets at most 2 per pair). */
static void merge_staged(struct mps_seg_header *h, struct state *st, const mps_var_t *pairs,
                         size_t m, const struct mps_slot *staged, struct mps_slot *rel, size_t *nrel)
{
	struct table *t = table_at(h, st->table);
	for (size_t i = 0; i < m; i++) {
		const mps_var_t *key = &pairs[2 * i];
		uint64_t hash = mps_var_hash(key), slot;
		int64_t x = find(h, t, key, hash, &slot);
		if (x >= 0) {
			keep(rel, nrel, &entries(t)[x].value);
			keep(rel, nrel, &staged[2 * i]);
			entries(t)[x].value = staged[2 * i + 1];
			continue;
		}
		struct entry *e = &entries(t)[st->used];
		*e = (struct entry){ staged[2 * i], staged[2 * i + 1], hash };
		index_of(t)[slot] = (uint32_t)(st->used + 1);
		st->used++;
		st->len++;
		st->fill++;
	}
}

/* The final transaction of set_many: the new table, the replaced slots
 * as junk, the staging block freed (its slots have all moved). */
static int finish_many(struct mps_seg_header *h, mps_dict_t *d, const mps_var_t *pairs, size_t m,
                       uint64_t soff)
{
	struct mps_journal *j = &d->box.guard.journal;
	struct mps_slot *rel = malloc(2 * m * sizeof *rel);
	if (!rel)
		return ENOMEM;
	struct state st;
	load(d, &st);
	size_t nrel = 0;
	uint64_t roff = 0;
	int r = rebuild(h, j, &st, st.len + m);
	if (r == 0) {
		merge_staged(h, &st, pairs, m, mps_seg_ptr(h, soff), rel, &nrel);
		if (nrel)
			r = mps_journal_alloc(h, j, nrel * sizeof *rel, &roff);
	}
	if (r == 0) {
		memcpy(mps_seg_ptr(h, roff), rel, nrel * sizeof *rel);
		publish(h, j, d, &st);
		mps_junk_set(h, j, &d->box, roff, roff ? SLOT_SHAPE : 0, 0, nrel);
		mps_journal_free(h, j, soff);
	}
	free(rel);
	return r;
}

static int check_pairs(struct mps_seg_header *h, const mps_var_t *pairs, size_t m)
{
	for (size_t i = 0; i < m; i++) {
		int r = check_pair(h, &pairs[2 * i], &pairs[2 * i + 1]);
		if (r)
			return r;
	}
	return m > MAX_CAP / 2 ? ENOSPC : 0;
}

/* Guard held, no junk pending. */
static int set_many_locked(struct mps_seg_header *h, mps_dict_t *d, const mps_var_t *pairs,
                           size_t m)
{
	struct mps_journal *j = &d->box.guard.journal;
	uint64_t soff;
	int r = mps_stage_open(h, &d->box, m * 2 * sizeof(struct mps_slot), PAIR_SHAPE, 0, &soff);
	if (r == 0)
		r = mps_stage_fill(h, &d->box, m, make_pair, (void *)pairs);
	if (r == 0) {
		mps_journal_begin(j);
		r = finish_many(h, d, pairs, m, soff);
		if (r)
			mps_journal_abort(h, j);
		else
			mps_journal_commit(h, j);
		mps_junk_drain(h, &d->box);
	}
	return r;
}

int mps_dict_set_many(mps_dict_t *d, const mps_var_t *pairs, size_t m)
{
	struct mps_seg_header *h = mps_box_seg(d);
	int r = check_pairs(h, pairs, m);
	if (r || m == 0)
		return r;
	mps_box_prepare(h, &d->box);
	r = set_many_locked(h, d, pairs, m);
	mps_box_unlock(&d->box);
	return r;
}

/* Guard held. borrowed: no references taken (used while the guard is). */
static int snapshot_locked(struct mps_seg_header *h, mps_dict_t *d, struct mps_snap *s,
                           bool borrowed)
{
	struct table *t = table_at(h, d->table);
	size_t bytes = 0;
	for (uint64_t i = 0; t && i < d->used; i++)
		if (!dead(&entries(t)[i]))
			bytes += mps_snap_need(&entries(t)[i].key) + mps_snap_need(&entries(t)[i].value);
	int r = mps_snap_init(s, h, 2 * d->len, bytes);
	s->borrowed = borrowed;
	for (uint64_t i = 0; r == 0 && t && i < d->used; i++) {
		if (dead(&entries(t)[i]))
			continue;
		mps_snap_add(s, &entries(t)[i].key);
		mps_snap_add(s, &entries(t)[i].value);
	}
	return r;
}

int mps_dict_snapshot(mps_dict_t *d, struct mps_snap *s)
{
	struct mps_seg_header *h = mps_box_seg(d);
	mps_box_lock(h, &d->box);
	int r = snapshot_locked(h, d, s, false);
	mps_box_unlock(&d->box);
	return r;
}

int mps_dict_update(mps_dict_t *d, mps_dict_t *other)
{
	if (!d || !other)
		return EINVAL;
	if (d == other)
		return 0;
	struct mps_snap s;
	int r = mps_dict_snapshot(other, &s);
	if (r)
		return r;
	r = mps_dict_set_many(d, s.vars, s.n / 2);
	mps_snap_free(&s);
	return r;
}

/* The copy is built in the nursery (object.c): its guard held throughout,
 * so that a copier killed before the copy is whole leaves it to the reaper,
 * which frees it and everything it took ("before"); adopted, it is the
 * caller's ("after"). The source's guard is held throughout too, so the
 * copy takes its references from the source's own slots (which keep every
 * count above 0) and the copier holds none of its own that a death would
 * leak. Holding two guards cannot deadlock: nobody else can reach the
 * copy's until it is adopted (docs/design.md §11.4). */
int mps_dict_copy(mps_dict_t *src, mps_dict_t **out)
{
	if (!src || !out)
		return EINVAL;
	struct mps_seg_header *h = mps_box_seg(src);
	struct mps_snap s;
	mps_box_lock(h, &src->box);
	int r = snapshot_locked(h, src, &s, true);
	mps_dict_t *c = NULL;
	if (r == 0)
		r = mps_obj_nurse(h, MPS_KIND_DICT, sizeof(struct mps_dict), (void **)&c);
	if (r == 0) {
		if (s.n)
			r = set_many_locked(h, c, s.vars, s.n / 2);
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

/* ---- iteration ---- */

void mps_dict_iter_begin(mps_dict_t *d, mps_dict_iter_t *it, bool reverse)
{
	if (!it)
		return;
	it->dict = d;
	it->version = 0;
	if (d) {
		/* Under the guard: a version stored by a transaction that is
		 * still open (or whose holder died) may yet be undone. */
		struct mps_seg_header *h = mps_box_seg(d);
		mps_box_lock(h, &d->box);
		it->version = d->version;
		mps_box_unlock(&d->box);
	}
	it->pos = 0;
	it->reverse = reverse;
}

/* The next live entry from it->pos on, or NULL; *next: pos after it. */
static struct entry *iter_entry(struct mps_seg_header *h, mps_dict_t *d, mps_dict_iter_t *it,
                                size_t *next)
{
	struct table *t = table_at(h, d->table);
	uint64_t p = it->pos;
	while (t && p < d->used) {
		uint64_t x = it->reverse ? d->used - 1 - p : p;
		p++;
		if (!dead(&entries(t)[x])) {
			*next = (size_t)p;
			return &entries(t)[x];
		}
	}
	*next = (size_t)p;
	return NULL;
}

int mps_dict_iter_next(mps_dict_iter_t *it, mps_var_t *key, mps_out_t key_out,
                       mps_var_t *value, mps_out_t value_out)
{
	if (!it || !it->dict)
		return EINVAL;
	mps_dict_t *d = it->dict;
	struct mps_seg_header *h = mps_box_seg(d);
	mps_box_lock(h, &d->box);
	size_t next;
	struct entry *e = NULL;
	int r = d->version != it->version ? ESTALE : 0;
	if (r == 0)
		e = iter_entry(h, d, it, &next);
	if (r == 0 && !e)
		r = ENOENT;
	if (r == 0)
		r = mps_slot_fits(&e->key, key, key_out);
	if (r == 0)
		r = mps_slot_fits(&e->value, value, value_out);
	if (r == 0) {
		if (key)
			mps_slot_read(h, &e->key, key, key_out, true);
		if (value)
			mps_slot_read(h, &e->value, value, value_out, true);
		it->pos = next;
	}
	mps_box_unlock(&d->box);
	return r;
}

/* A doomed dict (count 0, so no live thread holds its guard): clear() is
 * resumable, one transaction that makes the table junk and small ones that
 * release it, each replayed or finished by the next holder, so a reaper
 * killed anywhere in it leaves the next reaper the rest. */
void mps_dict_teardown(struct mps_seg_header *h, void *payload)
{
	(void)h;
	mps_dict_clear(payload);
}
