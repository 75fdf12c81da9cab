/* Journal: the undo/redo log that makes every multi-word change in a segment
 * survive its writer being killed at any instruction. It is the bottom of
 * the segment layer: it knows words and entries, nothing of blocks or
 * reference counts. Entries of the other kinds are settled by the caller's
 * settle function (guard.c's, for the containers' guards); the segment
 * guard's own journal holds stores only and is replayed with none.
 *
 * State (struct mps_journal, inside the guarded structure, changed only by
 * the guard's holder):
 *   state  IDLE -> ACTIVE (begin) -> COMMITTED (commit) -> IDLE
 *   n      entries logged so far; an entry counts once n covers it
 *   e[i]   STORE32/STORE64: the word's old value (undo)
 *          ALLOC, FREE, RETAINED, RELEASE: settled by the settle function,
 *          undone (ALLOC, RETAINED) or finished (FREE, RELEASE)
 *
 * Order of writes, the whole argument: an entry is written, then n is
 * raised, then the target changes. A writer killed before n rises changed
 * nothing; killed after, its entry restores the old value. commit sets
 * COMMITTED in one store: before it, recovery undoes everything (reverse
 * order); after it, recovery finishes the deferred entries. Replaying twice
 * (a recoverer killed too) writes the same old values again; the settle
 * function keeps its own entries idempotent with their done flags.
 *
 * Only the death of a process matters here, not a power cut: every store a
 * killed thread executed becomes visible (signal delivery enters the
 * kernel, a full barrier), so program order is the order recovery sees.
 * The compiler barrier keeps the compiler from changing that order. */
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

struct mps_journal_entry *mps_journal_prepare(struct mps_journal *j, uint32_t kind, uint64_t off)
{
	if (j->n >= MPS_JOURNAL_MAX)
		__builtin_trap();   /* an operation logs more than it was designed to */
	struct mps_journal_entry *e = &j->e[j->n];
	e->off = off;
	e->old = 0;
	e->kind = kind;
	e->done = 0;
	keep_order();
	return e;
}

void mps_journal_count(struct mps_journal *j)
{
	keep_order();
	j->n++;
	keep_order();
}

static void log_entry(struct mps_journal *j, uint32_t kind, uint64_t off, uint64_t old)
{
	mps_journal_prepare(j, kind, off)->old = old;
	mps_journal_count(j);
}

void mps_journal_log(struct mps_journal *j, uint32_t kind, uint64_t off)
{
	log_entry(j, kind, off, 0);
}

void mps_journal_store32(struct mps_seg_header *h, struct mps_journal *j, uint32_t *p, uint32_t v)
{
	log_entry(j, MPS_JE_STORE32, mps_seg_off(h, p), *p);
	/* Atomic: some words (counts, the doomed list) are read without the
	 * guard; relaxed is enough, the guard's release orders the rest. */
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

void mps_journal_store64(struct mps_seg_header *h, struct mps_journal *j, uint64_t *p, uint64_t v)
{
	log_entry(j, MPS_JE_STORE64, mps_seg_off(h, p), *p);
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static bool is_store(const struct mps_journal_entry *e)
{
	return e->kind == MPS_JE_STORE32 || e->kind == MPS_JE_STORE64;
}

static void finish(struct mps_journal *j)
{
	keep_order();
	j->state = MPS_J_IDLE;
	j->n = 0;
	keep_order();
}

/* Runs the deferred part of a committed transaction. */
static void roll_forward(struct mps_seg_header *h, struct mps_journal *j, mps_settle_fn settle)
{
	for (uint32_t i = 0; i < j->n; i++)
		if (settle && !is_store(&j->e[i]))
			settle(h, &j->e[i], false);
	finish(j);
}

static void undo_entry(struct mps_seg_header *h, struct mps_journal_entry *e, mps_settle_fn settle)
{
	if (e->kind == MPS_JE_STORE32)
		*(volatile uint32_t *)mps_seg_ptr(h, e->off) = (uint32_t)e->old;
	else if (e->kind == MPS_JE_STORE64)
		*(volatile uint64_t *)mps_seg_ptr(h, e->off) = e->old;
	else if (settle)
		settle(h, e, true);
}

static void roll_back(struct mps_seg_header *h, struct mps_journal *j, mps_settle_fn settle)
{
	for (uint32_t i = j->n; i-- > 0;)
		undo_entry(h, &j->e[i], settle);
	finish(j);
}

void mps_journal_close(struct mps_seg_header *h, struct mps_journal *j, mps_settle_fn settle)
{
	keep_order();
	j->state = MPS_J_COMMITTED;
	keep_order();
	roll_forward(h, j, settle);
}

void mps_journal_undo(struct mps_seg_header *h, struct mps_journal *j, mps_settle_fn settle)
{
	roll_back(h, j, settle);
}

void mps_journal_replay(struct mps_seg_header *h, struct mps_journal *j, mps_settle_fn settle)
{
	if (j->n > MPS_JOURNAL_MAX)
		j->n = MPS_JOURNAL_MAX;   /* corrupt count: undo what can be read */
	if (j->state == MPS_J_COMMITTED)
		roll_forward(h, j, settle);
	else if (j->state == MPS_J_ACTIVE)
		roll_back(h, j, settle);
	else
		finish(j);
}
