/* Journal: the undo/redo log that makes every multi-word change in a segment
 * survive its writer being killed at any instruction.
 *
 * State (struct mps_journal, inside the guarded object, changed only by the
 * guard's holder):
 *   state  IDLE -> ACTIVE (begin) -> COMMITTED (commit) -> IDLE
 *   n      entries logged so far; an entry counts once n covers it
 *   e[i]   STORE32/STORE64: the word's old value (undo)
 *          ALLOC: a block allocated by this transaction (undo: free it)
 *          FREE: a block to free once committed
 *          RETAINED: a reference taken (undo: drop it)
 *          RELEASE: a reference to drop once committed
 *
 * Order of writes, the whole argument: an entry is written, then n is
 * raised, then the target changes. A writer killed before n rises changed
 * nothing; killed after, its entry restores the old value. commit sets
 * COMMITTED in one store: before it, recovery undoes everything (reverse
 * order); after it, recovery finishes the deferred FREE/RELEASE entries.
 * Each FREE (and each undo of an ALLOC) runs in the segment lock's own
 * transaction together with setting that entry's done flag, so a block is
 * never freed twice. RETAINED/RELEASE change a shared count with an atomic
 * add that cannot share a transaction: the entry is logged after the count
 * rises and marked done before it falls, so a death in between leaks one
 * reference rather than free a live object.
 *
 * Only the death of a process matters here, not a power cut: every store a
 * killed thread executed becomes visible (signal delivery enters the
 * kernel, a full barrier), so program order is the order recovery sees.
 * The compiler barrier keeps the compiler from changing that order. */
#include <errno.h>
#include <string.h>

#include "../sync/deadline.h"
#include "seg.h"

static inline void keep_order(void)
{
	__asm__ __volatile__ ("" ::: "memory");
}

void mps_journal_begin(struct mps_journal *j)
{
	j->n = 0;
	keep_order();
	j->state = MPS_J_ACTIVE;
	keep_order();
}

static struct mps_journal_entry *next_entry(struct mps_journal *j)
{
	if (j->n >= MPS_JOURNAL_MAX)
		__builtin_trap();   /* an operation logs more than it was designed to */
	return &j->e[j->n];
}

static void log_entry(struct mps_journal *j, uint32_t kind, uint64_t off, uint64_t old)
{
	struct mps_journal_entry *e = next_entry(j);
	e->off = off;
	e->old = old;
	e->kind = kind;
	e->done = 0;
	keep_order();
	j->n++;
	keep_order();
}

void mps_journal_store32(struct mps_seg_header *h, struct mps_journal *j, uint32_t *p, uint32_t v)
{
	log_entry(j, MPS_JE_STORE32, mps_seg_off(h, p), *p);
	*(volatile uint32_t *)p = v;
}

void mps_journal_store64(struct mps_seg_header *h, struct mps_journal *j, uint64_t *p, uint64_t v)
{
	log_entry(j, MPS_JE_STORE64, mps_seg_off(h, p), *p);
	*(volatile uint64_t *)p = v;
}

/* The segment lock's transaction allocates the block and appends the ALLOC
 * entry to j: both happen or neither. */
int mps_journal_alloc(struct mps_seg_header *h, struct mps_journal *j, size_t size, uint64_t *off)
{
	struct mps_guard *g = &h->guard;
	bool took = mps_seg_enter(h);
	int r = mps_heap_alloc_locked(h, size, off);
	if (r == 0) {
		struct mps_journal_entry *e = next_entry(j);
		e->off = *off;
		e->old = 0;
		e->kind = MPS_JE_ALLOC;
		e->done = 0;
		keep_order();
		mps_journal_store32(h, &g->journal, &j->n, j->n + 1);
	}
	mps_seg_leave(h, took);
	if (r == 0)
		memset(mps_seg_ptr(h, *off), 0, size);
	return r;
}

void mps_journal_free(struct mps_seg_header *h, struct mps_journal *j, uint64_t off)
{
	(void)h;
	log_entry(j, MPS_JE_FREE, off, 0);
}

void mps_journal_retain(struct mps_seg_header *h, struct mps_journal *j, uint64_t off)
{
	mps_obj_retain_at(h, off);
	log_entry(j, MPS_JE_RETAINED, off, 0);
}

void mps_journal_release(struct mps_seg_header *h, struct mps_journal *j, uint64_t off)
{
	(void)h;
	log_entry(j, MPS_JE_RELEASE, off, 0);
}

/* Frees e's block and marks e done in one segment-lock transaction. */
static void free_settled(struct mps_seg_header *h, struct mps_journal_entry *e)
{
	bool took = mps_seg_enter(h);
	if (!e->done) {
		mps_heap_free_locked(h, e->off);
		mps_journal_store32(h, &h->guard.journal, &e->done, 1);
	}
	mps_seg_leave(h, took);
}

static void release_settled(struct mps_seg_header *h, struct mps_journal_entry *e)
{
	if (e->done)
		return;
	e->done = 1;
	keep_order();
	mps_obj_release_at(h, e->off);
}

static void finish(struct mps_journal *j)
{
	keep_order();
	j->state = MPS_J_IDLE;
	j->n = 0;
	keep_order();
}

/* Runs the deferred part of a committed transaction. */
static void roll_forward(struct mps_seg_header *h, struct mps_journal *j)
{
	for (uint32_t i = 0; i < j->n; i++) {
		struct mps_journal_entry *e = &j->e[i];
		if (e->kind == MPS_JE_FREE)
			free_settled(h, e);
		else if (e->kind == MPS_JE_RELEASE)
			release_settled(h, e);
	}
	finish(j);
}

static void undo_entry(struct mps_seg_header *h, struct mps_journal_entry *e)
{
	switch (e->kind) {
	case MPS_JE_STORE32:
		*(volatile uint32_t *)mps_seg_ptr(h, e->off) = (uint32_t)e->old;
		break;
	case MPS_JE_STORE64:
		*(volatile uint64_t *)mps_seg_ptr(h, e->off) = e->old;
		break;
	case MPS_JE_ALLOC:
		free_settled(h, e);
		break;
	case MPS_JE_RETAINED:
		release_settled(h, e);
		break;
	default:
		break;   /* FREE / RELEASE: deferred, nothing happened yet */
	}
}

static void roll_back(struct mps_seg_header *h, struct mps_journal *j)
{
	for (uint32_t i = j->n; i-- > 0;)
		undo_entry(h, &j->e[i]);
	finish(j);
}

void mps_journal_commit(struct mps_seg_header *h, struct mps_journal *j)
{
	keep_order();
	j->state = MPS_J_COMMITTED;
	keep_order();
	roll_forward(h, j);
}

void mps_journal_abort(struct mps_seg_header *h, struct mps_journal *j)
{
	roll_back(h, j);
}

void mps_journal_recover(struct mps_seg_header *h, struct mps_journal *j)
{
	if (j->n > MPS_JOURNAL_MAX)
		j->n = MPS_JOURNAL_MAX;   /* corrupt count: undo what can be read */
	if (j->state == MPS_J_COMMITTED)
		roll_forward(h, j);
	else if (j->state == MPS_J_ACTIVE)
		roll_back(h, j);
	else
		finish(j);
}

int mps_guard_acquire(struct mps_seg_header *h, struct mps_guard *g, double timeout)
{
	int r = mps_lock_acquire(&g->lock, timeout);
	if (r == EOWNERDEAD) {
		mps_journal_recover(h, &g->journal);
		r = 0;
	}
	return r;
}

void mps_guard_release(struct mps_guard *g)
{
	mps_lock_release(&g->lock);
}

int mps_guard_wait(struct mps_seg_header *h, struct mps_guard *g, mps_cond_t *c, double timeout)
{
	int r = mps_cond_wait_lock(c, &g->lock, timeout);
	if (r == EOWNERDEAD) {
		mps_journal_recover(h, &g->journal);
		r = 0;
	}
	return r;
}
