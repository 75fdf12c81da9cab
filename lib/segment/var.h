/* Typed values inside a segment, shared by dict, list and Namespace.
 *
 * A slot is 16 bytes:
 *   head = type | MPS_SLOT_HEAP (bit 8) | len << 32
 *   word = INT: the int64; FLOAT: the double's bits; NONE: 0;
 *          BYTES/STR of at most 8 bytes: the bytes themselves (inline);
 *          longer BYTES/STR (MPS_SLOT_HEAP): payload offset of a blob, a
 *          heap block of len bytes that belongs to this slot alone;
 *          REF: payload offset of an object, which holds one reference
 *          on behalf of the slot.
 * A slot owns its blob or reference: whoever removes a slot from a
 * container frees or releases it, through the journal.
 *
 * Junk: a block whose records still own blobs/references but that no
 * container reaches any more, or a staging block a bulk operation fills
 * before one transaction makes it reachable. It is recorded in the
 * container (struct mps_junk) so that a process killed at any point leaves
 * it to the next holder of the container's guard, who finishes releasing it
 * (mps_box_enter drains it before any operation). Records [pos, end) own
 * what their slots hold; a record whose first slot is MPS_SLOT_DEAD owns
 * nothing (a deleted dict entry). Because junk is drained in transactions
 * of a few records, releasing a million references never needs more than
 * MPS_JOURNAL_MAX entries, and a crash in the middle neither leaks nor
 * releases anything twice. */
#ifndef MPS_LIB_VAR_H
#define MPS_LIB_VAR_H

#include <mpsync/container.h>
#include "seg.h"

struct mps_slot {
	uint64_t head;
	uint64_t word;
};

#define MPS_SLOT_HEAP   0x100u
#define MPS_SLOT_DEAD   0xffu     /* type of a deleted dict entry's key */
#define MPS_SLOT_INLINE 8u        /* bytes kept in word */
#define MPS_VAR_MAX_LEN 0xffffffffu

static inline unsigned mps_slot_type(const struct mps_slot *s)
{
	return (unsigned)(s->head & 0xff);
}

static inline uint32_t mps_slot_len(const struct mps_slot *s)
{
	return (uint32_t)(s->head >> 32);
}

static inline bool mps_slot_is_text(const struct mps_slot *s)
{
	return mps_slot_type(s) == MPS_BYTES || mps_slot_type(s) == MPS_STR;
}

/* The bytes of a BYTES/STR slot. */
static inline const char *mps_slot_bytes(const struct mps_seg_header *h, const struct mps_slot *s)
{
	if (s->head & MPS_SLOT_HEAP)
		return (const char *)mps_seg_ptr(h, s->word);
	return (const char *)&s->word;
}

struct mps_junk {
	uint64_t off;     /* the block; 0 when nothing is pending */
	uint64_t shape;   /* stride | nslots << 16 | base << 32 */
	uint64_t pos;     /* first record that still owns */
	uint64_t end;     /* one past the last */
};

#define MPS_JUNK_SHAPE(stride, nslots, base) \
	((uint64_t)(stride) | (uint64_t)(nslots) << 16 | (uint64_t)(base) << 32)

/* The shared part of every container: lock + journal, then pending junk. */
struct mps_box {
	struct mps_guard guard;
	struct mps_junk junk;
};

/* dict and Namespace (dict.c). */
struct mps_dict {
	struct mps_box box;
	uint64_t table;   /* payload offset of the table block; 0: no table yet */
	uint64_t len;     /* live entries */
	uint64_t used;    /* entries written, deleted ones included */
	uint64_t fill;    /* index slots not empty (live + dummies) */
	uint64_t version; /* bumped on every insertion, deletion and rebuild */
};

struct mps_list {
	struct mps_box box;
	uint64_t arr;     /* payload offset of the slot array; 0: none */
	uint64_t cap;     /* slots in arr */
	uint64_t len;
	/* A deletion that could not copy (segment full) shifts in place over
	 * several transactions: slots [mv_pos + 1, mv_end) move down by one,
	 * then len = mv_end - 1. mv_end 0: none pending. Slot mv_pos owns
	 * nothing while one is pending. */
	uint64_t mv_pos, mv_end;
};

/* The segment of an object, without validation (the caller passes a live
 * object, as with every object function). */
static inline struct mps_seg_header *mps_box_seg(const void *payload)
{
	return (struct mps_seg_header *)((char *)payload - mps_obj_header(payload)->self);
}

/* ---- values (var.c) ---- */

/* 0, or EINVAL (bad type, NULL data with len > 0, REF that is not a live
 * object of h, REF as a key), ENOSPC (longer than a slot can say). */
int  mps_var_check(const struct mps_seg_header *h, const mps_var_t *v, bool key);
uint64_t mps_var_hash(const mps_var_t *v);
/* Fills *s for v (checked): a blob allocated or a reference taken through j. */
int  mps_slot_make(struct mps_seg_header *h, struct mps_journal *j, const mps_var_t *v,
                   struct mps_slot *s);
/* *dst becomes an independent copy of *src: its own blob, its own reference. */
int  mps_slot_copy(struct mps_seg_header *h, struct mps_journal *j, const struct mps_slot *src,
                   struct mps_slot *dst);
/* Frees or releases what s owns, at commit. */
void mps_slot_drop(struct mps_seg_header *h, struct mps_journal *j, const struct mps_slot *s);
/* Journalled store of the words of *dst that differ from *src. */
void mps_slot_store(struct mps_seg_header *h, struct mps_journal *j, struct mps_slot *dst,
                    const struct mps_slot *src);
/* Whether s holds a value equal to v (checked). */
bool mps_slot_equal(const struct mps_seg_header *h, const struct mps_slot *s, const mps_var_t *v);
/* Whether two slots hold equal values (REF: the same object). */
bool mps_slot_same(const struct mps_seg_header *h, const struct mps_slot *a,
                   const struct mps_slot *b);
/* EMSGSIZE (var->type/len say what it needs) when out cannot hold s. */
int  mps_slot_fits(const struct mps_slot *s, mps_var_t *var, mps_out_t out);
/* Copies s out (after mps_slot_fits); a REF is retained for the caller
 * unless take is false, when the caller inherits the slot's own reference. */
void mps_slot_read(struct mps_seg_header *h, const struct mps_slot *s, mps_var_t *var,
                   mps_out_t out, bool take);

/* A slot leaving its container: copied to var, which inherits a REF's
 * reference (after mps_slot_fits), or dropped when var is NULL. */
void mps_slot_take(struct mps_seg_header *h, struct mps_journal *j, const struct mps_slot *s,
                   mps_var_t *var, mps_out_t out);

/* ---- junk and the container guard (var.c) ---- */

/* Locks the box, replaying a dead holder's journal (an interruptible
 * thread's EINTR is retried: the guard is never held across a wait). */
void mps_box_lock(struct mps_seg_header *h, struct mps_box *b);
void mps_box_unlock(struct mps_box *b);
/* Locks and finishes any pending junk: the state bulk operations start in. */
void mps_box_prepare(struct mps_seg_header *h, struct mps_box *b);
/* mps_box_prepare, then begins a transaction. */
void mps_box_enter(struct mps_seg_header *h, struct mps_box *b);
/* Commits (r == 0) or aborts (r != 0), then unlocks; returns r. */
int  mps_box_leave(struct mps_seg_header *h, struct mps_box *b, int r);
/* Journalled: b's junk becomes the given block and range (off 0: none). */
void mps_junk_set(struct mps_seg_header *h, struct mps_journal *j, struct mps_box *b,
                  uint64_t off, uint64_t shape, uint64_t pos, uint64_t end);
/* Box locked, no transaction open: releases pending junk in small
 * transactions and forgets it. */
void mps_junk_drain(struct mps_seg_header *h, struct mps_box *b);
/* Bulk operations: in a transaction of its own, allocates size bytes and
 * makes them b's junk with the empty range [pos, pos). 0 or ENOSPC. */
int  mps_stage_open(struct mps_seg_header *h, struct mps_box *b, size_t size, uint64_t shape,
                    uint64_t pos, uint64_t *off);
/* Fills records of the staging block in transactions of a few: make(i,
 * record) fills record number b->junk.end with at most 2 journal entries.
 * On failure the staging block is drained and the error returned. */
typedef int (*mps_stage_fn)(struct mps_seg_header *h, struct mps_journal *j, void *arg,
                            uint64_t i, struct mps_slot *record);
int  mps_stage_fill(struct mps_seg_header *h, struct mps_box *b, uint64_t end, mps_stage_fn make,
                    void *arg);

/* ---- local copies (var.c) ---- */

/* Values copied out of a container into this process's memory: bytes in
 * one buffer, references retained (mps_snap_free drops them). */
struct mps_snap {
	mps_var_t *vars;
	size_t n;
	char *bytes;
	size_t used, cap;
	struct mps_seg_header *h;
	bool borrowed;   /* references not taken: valid while the source's guard is held */
};
int  mps_snap_init(struct mps_snap *s, struct mps_seg_header *h, size_t nvars, size_t nbytes);
void mps_snap_add(struct mps_snap *s, const struct mps_slot *slot);
void mps_snap_free(struct mps_snap *s);
/* Bytes a snapshot of s needs (text plus a NUL). */
static inline size_t mps_snap_need(const struct mps_slot *s)
{
	return mps_slot_is_text(s) ? (size_t)mps_slot_len(s) + 1 : 0;
}

/* dict.c, for Namespace and copies: every pair (key, value, key, ...). */
int  mps_dict_snapshot(mps_dict_t *d, struct mps_snap *s);
/* Stores m pairs (keys[2i], values[2i+1]) as one atomic update. */
int  mps_dict_set_many(mps_dict_t *d, const mps_var_t *pairs, size_t m);

#endif
