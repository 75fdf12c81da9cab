/* Heap: the segment's block allocator. First fit over one free list sorted
 * by offset, split on allocation, merged with both neighbours on free.
 *
 * Encoding: a block is [struct mps_block][payload], its size (header
 * included) a multiple of 16. A free block has MPS_BLOCK_FREE in size_flags
 * and the offset of the next free block (0 ends the list) in next_free; a
 * used one has MPS_BLOCK_USED there. h->free_head is the first free block,
 * h->free_bytes the sum of free block sizes.
 *
 * Protocol: only the holder of the segment lock (h->guard) changes any of
 * it, and only through h->guard.journal, inside a transaction that the
 * caller began: a process killed mid-split or mid-merge is undone whole by
 * the next holder. The only unjournalled write is the header of a block
 * split off a free one, which lies inside that free block until the
 * journalled link makes it a block of its own.
 *
 * mps_seg_alloc/mps_seg_free are the entry points for objects: a caller that
 * already holds the segment lock (an object's init running inside the
 * creation transaction) joins that transaction instead of deadlocking.
 *
 * The segment guard's journal holds stores only (journal.c replays it with
 * no settle function): this file and directory.c, object.c and guard.c log
 * into it, and nothing here calls up into them. */
#include <errno.h>
#include <string.h>

#include "seg.h"

#define MIN_BLOCK 32u

static struct mps_block *block_at(struct mps_seg_header *h, uint64_t off)
{
	return (struct mps_block *)mps_seg_ptr(h, off);
}

static uint64_t block_size(const struct mps_block *b)
{
	return b->size_flags & ~(uint64_t)(MPS_BLOCK_ALIGN - 1);
}

static bool in_heap(const struct mps_seg_header *h, uint64_t off)
{
	return off >= h->heap_start && off < h->heap_end && off % MPS_BLOCK_ALIGN == 0;
}

static uint64_t round_block(size_t payload)
{
	uint64_t n = ((uint64_t)payload + sizeof(struct mps_block) + MPS_BLOCK_ALIGN - 1)
	             & ~(uint64_t)(MPS_BLOCK_ALIGN - 1);
	return n < MIN_BLOCK ? MIN_BLOCK : n;
}

/* Links a new free list successor: either free_head or prev->next_free. */
static void set_next(struct mps_seg_header *h, uint64_t prev, uint64_t next)
{
	struct mps_journal *j = &h->guard.journal;
	if (prev)
		mps_journal_store64(h, j, &block_at(h, prev)->next_free, next);
	else
		mps_journal_store64(h, j, &h->free_head, next);
}

int mps_heap_alloc_locked(struct mps_seg_header *h, size_t size, uint64_t *off)
{
	struct mps_journal *j = &h->guard.journal;
	if (size > h->size)
		return ENOSPC;
	uint64_t need = round_block(size);
	uint64_t prev = 0, cur = h->free_head;
	for (uint64_t steps = 0; cur; steps++) {
		if (!in_heap(h, cur) || steps > h->size / MIN_BLOCK)
			return EBADMSG;
		struct mps_block *b = block_at(h, cur);
		uint64_t have = block_size(b);
		if (have >= need) {
			uint64_t next = b->next_free;
			if (have - need >= MIN_BLOCK) {
				struct mps_block *rest = block_at(h, cur + need);
				rest->size_flags = (have - need) | MPS_BLOCK_FREE;
				rest->next_free = next;
				set_next(h, prev, cur + need);
			} else {
				need = have;
				set_next(h, prev, next);
			}
			mps_journal_store64(h, j, &b->size_flags, need);
			mps_journal_store64(h, j, &b->next_free, MPS_BLOCK_USED);
			mps_journal_store64(h, j, &h->free_bytes, h->free_bytes - need);
			*off = cur + sizeof(struct mps_block);
			return 0;
		}
		prev = cur;
		cur = b->next_free;
	}
	return ENOSPC;
}

void mps_heap_free_locked(struct mps_seg_header *h, uint64_t payload)
{
	struct mps_journal *j = &h->guard.journal;
	uint64_t off = payload - sizeof(struct mps_block);
	if (!in_heap(h, off))
		return;
	struct mps_block *b = block_at(h, off);
	if (b->next_free != MPS_BLOCK_USED)
		return;   /* not a used block: never free twice */
	uint64_t size = block_size(b);
	uint64_t prev = 0, next = h->free_head;
	while (next && next < off && in_heap(h, next)) {
		prev = next;
		next = block_at(h, next)->next_free;
	}
	mps_journal_store64(h, j, &h->free_bytes, h->free_bytes + size);
	if (next && off + size == next) {       /* merge with the following block */
		struct mps_block *n = block_at(h, next);
		size += block_size(n);
		mps_journal_store64(h, j, &b->next_free, n->next_free);
	} else {
		mps_journal_store64(h, j, &b->next_free, next);
	}
	if (prev && prev + block_size(block_at(h, prev)) == off) {   /* merge with the previous */
		struct mps_block *p = block_at(h, prev);
		mps_journal_store64(h, j, &p->size_flags, (block_size(p) + size) | MPS_BLOCK_FREE);
		mps_journal_store64(h, j, &p->next_free, b->next_free);
		return;
	}
	mps_journal_store64(h, j, &b->size_flags, size | MPS_BLOCK_FREE);
	set_next(h, prev, off);
}

/* Takes the segment lock unless this thread holds it already (an init
 * running inside a creation); returns whether it was taken here. */
bool mps_seg_enter(struct mps_seg_header *h)
{
	if (mps_lock_is_mine(&h->guard.lock))   /* not merely our tid: a dead holder may have had it */
		return false;
	int saved = errno, r;   /* errno is the caller's (SPEC §2) */
	while ((r = mps_lock_acquire(&h->guard.lock, MPS_FOREVER)) != 0 && r != EOWNERDEAD)
		;   /* EINTR of an interruptible thread: the segment lock is internal */
	if (r == EOWNERDEAD)
		mps_journal_replay(h, &h->guard.journal, NULL);   /* stores only */
	mps_journal_begin(&h->guard.journal);
	errno = saved;
	return true;
}

void mps_seg_leave(struct mps_seg_header *h, bool took)
{
	if (!took)
		return;
	int saved = errno;
	mps_journal_close(h, &h->guard.journal, NULL);
	mps_lock_release(&h->guard.lock);
	errno = saved;
}

void mps_seg_abort(struct mps_seg_header *h)
{
	int saved = errno;
	mps_journal_undo(h, &h->guard.journal, NULL);
	mps_lock_release(&h->guard.lock);
	errno = saved;
}

int mps_seg_alloc(struct mps_seg_header *h, size_t size, uint64_t *off)
{
	bool took = mps_seg_enter(h);
	int r = mps_heap_alloc_locked(h, size, off);
	mps_seg_leave(h, took);
	if (r == 0)
		memset(mps_seg_ptr(h, *off), 0, size);
	return r;
}

void mps_seg_free(struct mps_seg_header *h, uint64_t off)
{
	bool took = mps_seg_enter(h);
	mps_heap_free_locked(h, off);
	mps_seg_leave(h, took);
}

/* The whole heap as one free block (creation). */
void mps_heap_format(struct mps_seg_header *h, uint64_t start, uint64_t end)
{
	h->heap_start = start;
	h->heap_end = end;
	struct mps_block *b = block_at(h, start);
	b->size_flags = (end - start) | MPS_BLOCK_FREE;
	b->next_free = 0;
	h->free_head = start;
	h->free_bytes = end - start;
}

/* Walks every block (segment lock held): sizes tile the heap exactly, the
 * free list is sorted, holds exactly the free blocks, and matches
 * free_bytes. EBADMSG otherwise. For tests and the mpsync tool. */
int mps_heap_check(struct mps_seg_header *h, uint64_t *used_blocks, uint64_t *free_blocks)
{
	uint64_t used = 0, nfree = 0, free_sum = 0, expect_free = h->free_head;
	for (uint64_t off = h->heap_start; off < h->heap_end;) {
		struct mps_block *b = block_at(h, off);
		uint64_t size = block_size(b);
		if (size < MIN_BLOCK || off + size > h->heap_end)
			return EBADMSG;
		if (b->size_flags & MPS_BLOCK_FREE) {
			if (off != expect_free)
				return EBADMSG;
			expect_free = b->next_free;
			nfree++;
			free_sum += size;
		} else if (b->next_free != MPS_BLOCK_USED) {
			return EBADMSG;
		} else {
			used++;
		}
		off += size;
	}
	if (expect_free != 0 || free_sum != h->free_bytes)
		return EBADMSG;
	if (used_blocks)
		*used_blocks = used;
	if (free_blocks)
		*free_blocks = nfree;
	return 0;
}
