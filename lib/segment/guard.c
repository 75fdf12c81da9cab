/* Guards of the objects (queues, containers): a Lock and the journal of the
 * transactions it protects, with the entries that need the allocator or a
 * reference count. This file sits above journal.c, heap.c and object.c and
 * gives the journal its settle function; nothing below calls up into it.
 *
 * Which journal may log stores into what (docs/design.md §11.4):
 *   an object guard's journal   words of its own object only (its fields,
 *                               its slots, its blocks' contents)
 *   the segment guard's journal the heap, the directory, the header counts
 *                               and lists, object headers, a doomed Value's
 *                               lock word, and two words of the journal
 *                               of the one object guard the same thread
 *                               holds: its n (an ALLOC or RETAINED entry
 *                               counted in the same transaction that
 *                               allocates the block or raises the count)
 *                               and an entry's done flag (a block freed or
 *                               a count dropped in the transaction that
 *                               marks it done)
 * So the segment guard's journal may refer to an object's journal, never
 * the other way round, and recovery follows the references: before an
 * object journal left by a dead holder is replayed, the segment guard is
 * taken once, which replays its journal first if its holder died too.
 * That holder was then the same dead thread (it held both guards), and its
 * segment transaction is undone before anyone reads the object's journal:
 * a segment replay can never write into an object journal that a live
 * transaction has begun to use again.
 *
 * Reference entries are settled like blocks: a count changes only under
 * the segment guard (object.c), so RETAINED is counted in the segment
 * transaction that raises the count, and a RELEASE (or an undone RETAINED)
 * is marked done in the segment transaction that drops it. A count reaching
 * 0 there dooms its object in that same transaction; the reaper finishes it
 * when this thread lets go of the container guard. */
#include <errno.h>
#include <string.h>

#include "seg.h"

/* Frees e's block and marks e done in one segment transaction, so that a
 * replay never frees it twice. */
static void free_settled(struct mps_seg_header *h, struct mps_journal_entry *e)
{
	bool took = mps_seg_enter(h);
	if (!e->done) {
		mps_heap_free_locked(h, e->off);
		mps_journal_store32(h, &h->guard.journal, &e->done, 1);
	}
	mps_seg_leave(h, took);
}

/* Drops e's reference and marks e done in one segment transaction: the
 * count and the flag change together. A count reaching 0 dooms its object
 * in that transaction; the reaper finishes it once this thread lets go of
 * the guard (mps_guard_release). */
static void release_settled(struct mps_seg_header *h, struct mps_journal_entry *e)
{
	bool took = mps_seg_enter(h);
	if (!e->done) {
		mps_obj_release_locked(h, e->off);
		mps_journal_store32(h, &h->guard.journal, &e->done, 1);
	}
	mps_seg_leave(h, took);
}

static void settle(struct mps_seg_header *h, struct mps_journal_entry *e, bool undo)
{
	switch (e->kind) {
	case MPS_JE_ALLOC:
		if (undo)
			free_settled(h, e);
		break;
	case MPS_JE_FREE:
		if (!undo)
			free_settled(h, e);
		break;
	case MPS_JE_RETAINED:
		if (undo)
			release_settled(h, e);
		break;
	case MPS_JE_RELEASE:
		if (!undo)
			release_settled(h, e);
		break;
	default:
		break;
	}
}

/* The segment transaction allocates the block and counts the ALLOC entry
 * in j (a store of j->n logged in the segment journal): both happen or
 * neither. */
int mps_journal_alloc(struct mps_seg_header *h, struct mps_journal *j, size_t size, uint64_t *off)
{
	bool took = mps_seg_enter(h);
	int r = mps_heap_alloc_locked(h, size, off);
	if (r == 0) {
		mps_journal_prepare(j, MPS_JE_ALLOC, *off);
		mps_journal_store32(h, &h->guard.journal, &j->n, j->n + 1);
	}
	mps_seg_leave(h, took);
	if (r == 0)
		memset(mps_seg_ptr(h, *off), 0, size);
	return r;
}

void mps_journal_free(struct mps_seg_header *h, struct mps_journal *j, uint64_t off)
{
	(void)h;
	mps_journal_log(j, MPS_JE_FREE, off);
}

/* As mps_journal_alloc: the count rises and the RETAINED entry is counted
 * in one segment transaction. */
int mps_journal_retain(struct mps_seg_header *h, struct mps_journal *j, uint64_t off)
{
	bool took = mps_seg_enter(h);
	int r = mps_obj_retain_locked(h, off);
	if (r == 0) {
		mps_journal_prepare(j, MPS_JE_RETAINED, off);
		mps_journal_store32(h, &h->guard.journal, &j->n, j->n + 1);
	}
	mps_seg_leave(h, took);
	return r;
}

void mps_journal_release(struct mps_seg_header *h, struct mps_journal *j, uint64_t off)
{
	(void)h;
	mps_journal_log(j, MPS_JE_RELEASE, off);
}

void mps_journal_commit(struct mps_seg_header *h, struct mps_journal *j)
{
	mps_journal_close(h, j, settle);
}

void mps_journal_abort(struct mps_seg_header *h, struct mps_journal *j)
{
	mps_journal_undo(h, j, settle);
}

/* A dead holder's journal, replayed after the segment journal it may be
 * referred to from (see the top of this file). */
static void recover(struct mps_seg_header *h, struct mps_guard *g)
{
	mps_seg_leave(h, mps_seg_enter(h));
	mps_journal_replay(h, &g->journal, settle);
}

/* Each keeps errno as the caller left it (SPEC §2): futex calls and owner
 * probes underneath may change it. */
int mps_guard_acquire(struct mps_seg_header *h, struct mps_guard *g, double timeout)
{
	int saved = errno;
	mps_obj_reap(h);
	int r = mps_lock_acquire(&g->lock, timeout);
	if (r == EOWNERDEAD) {
		recover(h, g);
		r = 0;
	}
	errno = saved;
	return r;
}

void mps_guard_release(struct mps_guard *g)
{
	int saved = errno;
	mps_lock_release(&g->lock);
	errno = saved;
}

int mps_guard_wait(struct mps_seg_header *h, struct mps_guard *g, mps_cond_t *c, double timeout)
{
	int saved = errno;
	int r = mps_cond_wait_lock(c, &g->lock, timeout);
	if (r == EOWNERDEAD) {
		recover(h, g);
		r = 0;
	}
	errno = saved;
	return r;
}
