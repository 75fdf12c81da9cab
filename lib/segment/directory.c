/* Directory: the segment's table of names, open addressing with linear
 * probing over dir_capacity entries (a power of two).
 *
 * Encoding of an entry: object 0 = never used (ends a probe), 1 = deleted
 * (a probe goes on; an insert may reuse it), else the payload offset of the
 * named object; kind and hash beside it, the name NUL-terminated.
 *
 * Protocol: only the segment lock's holder reads or changes entries, and
 * changes go through h->guard.journal inside the caller's transaction. An
 * insert writes the name into a slot that is not live (object 0 or 1) and
 * makes it live with the journalled store of object: a process killed
 * before that leaves a name nobody can see, after it the journal undoes or
 * keeps the whole insert.
 *
 * Capacity counts live names (three quarters of the slots), not live plus
 * deleted ones: deleted slots would otherwise pile up under name churn
 * until an insert that probes to an empty slot fails with few names alive.
 * A delete whose next slot is empty leaves an empty slot, not a deleted
 * one, and empties the deleted slots before it too (no probe can go on
 * past them), so churn leaves few deleted slots to lengthen probes. */
#include <errno.h>
#include <string.h>

#include "seg.h"

#define SLOT_EMPTY   0
#define SLOT_DELETED 1

uint32_t mps_dir_hash(const char *name)
{
	uint32_t x = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		x = (x ^ *p) * 16777619u;
	return x;
}

static struct mps_dir_entry *table(struct mps_seg_header *h)
{
	return (struct mps_dir_entry *)mps_seg_ptr(h, h->dir_offset);
}

/* The live entry named name, or NULL. */
struct mps_dir_entry *mps_dir_find(struct mps_seg_header *h, const char *name)
{
	struct mps_dir_entry *t = table(h);
	uint32_t mask = h->dir_capacity - 1, hash = mps_dir_hash(name);
	for (uint32_t i = 0, k = hash & mask; i < h->dir_capacity; i++, k = (k + 1) & mask) {
		if (t[k].object == SLOT_EMPTY)
			return NULL;
		if (t[k].object != SLOT_DELETED && t[k].hash == hash &&
		    strncmp(t[k].name, name, sizeof t[k].name) == 0)
			return &t[k];
	}
	return NULL;
}

/* Adds name -> object (the caller checked it is absent). ENOSPC when three
 * quarters of the slots hold live names; a slot that is not live is always
 * found then, so the probe ends. */
int mps_dir_insert(struct mps_seg_header *h, const char *name, enum mps_kind kind,
                   uint64_t object)
{
	struct mps_journal *j = &h->guard.journal;
	struct mps_dir_entry *t = table(h);
	uint32_t mask = h->dir_capacity - 1, hash = mps_dir_hash(name);
	if ((h->names + 1) * 4 > h->dir_capacity * 3)
		return ENOSPC;
	uint32_t k = hash & mask;
	while (t[k].object > SLOT_DELETED)
		k = (k + 1) & mask;
	bool fresh = t[k].object == SLOT_EMPTY;
	memset(t[k].name, 0, sizeof t[k].name);
	strncpy(t[k].name, name, sizeof t[k].name - 1);
	mps_journal_store32(h, j, &t[k].kind, kind);
	mps_journal_store32(h, j, &t[k].hash, hash);
	mps_journal_store64(h, j, &t[k].object, object);
	mps_journal_store32(h, j, &h->names, h->names + 1);
	if (fresh)
		mps_journal_store32(h, j, &h->dir_used, h->dir_used + 1);
	return 0;
}

/* Empties at most this many slots per delete: a journal holds 24 entries. */
#define SWEEP_MAX 16

void mps_dir_delete(struct mps_seg_header *h, struct mps_dir_entry *e)
{
	struct mps_journal *j = &h->guard.journal;
	struct mps_dir_entry *t = table(h);
	uint32_t mask = h->dir_capacity - 1, k = (uint32_t)(e - t), emptied = 0;
	mps_journal_store32(h, j, &h->names, h->names - 1);
	if (t[(k + 1) & mask].object != SLOT_EMPTY) {
		mps_journal_store64(h, j, &e->object, SLOT_DELETED);
		return;
	}
	do {
		mps_journal_store64(h, j, &t[k].object, SLOT_EMPTY);
		emptied++;
		k = (k - 1) & mask;
	} while (emptied < SWEEP_MAX && t[k].object == SLOT_DELETED);
	mps_journal_store32(h, j, &h->dir_used, h->dir_used - emptied);
}

/* Copies the live entries (at most max) for a visit without the lock. */
uint32_t mps_dir_snapshot(struct mps_seg_header *h, struct mps_dir_entry *out, uint32_t max)
{
	struct mps_dir_entry *t = table(h);
	uint32_t n = 0;
	for (uint32_t k = 0; k < h->dir_capacity && n < max; k++)
		if (t[k].object > SLOT_DELETED)
			out[n++] = t[k];
	return n;
}
