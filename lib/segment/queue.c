/* Queue and JoinableQueue: a byte ring inline in one segment object, under
 * one guard (lock + journal), with three Conditions on the guard's lock.
 *
 * State (struct mps_queue; "fixed" fields are written once, by init, before
 * the object is visible):
 *   capacity    ring bytes, a multiple of 8 (fixed)
 *   maxsize     count bound, 0 = bytes only (fixed); joinable (fixed)
 *   head        ring offset of the oldest record, < capacity, a multiple of 8
 *   bytes       ring bytes holding records, <= capacity; the records are the
 *               bytes [head, head + bytes) mod capacity, so the tail is
 *               derived, never stored, and empty/full need no extra bit
 *   count       records queued
 *   unfinished  items put and not yet task_done'd (JoinableQueue only)
 *   shutdown    0/1, set once
 *   getters, putters, byte_waiters
 *               threads inside a wait (byte_waiters: putters blocked by
 *               bytes rather than by maxsize); hints, see below
 *   ring        capacity bytes
 * A record is an 8-byte header (the item length, 64 bits) and the item,
 * padded to 8. The header never straddles the ring's end (everything is a
 * multiple of 8); the item may, and is then copied in two pieces. So no
 * byte is wasted: an item of up to capacity - 8 bytes fits in an empty ring,
 * and "fits" is exactly bytes + record <= capacity.
 *
 * Invariants, whenever the guard is free: head < capacity; bytes <=
 * capacity; the count records chained from head by their headers cover
 * exactly bytes; unfinished >= count on a JoinableQueue.
 *
 * Protocol. Every operation holds the guard. put writes its record into the
 * free bytes after the tail (unreachable: no reader looks past head + bytes,
 * and only the guard holder writes), then commits bytes, count (and
 * unfinished) through the journal. get copies the record at head out and
 * commits head, bytes, count. task_done commits unfinished; shutdown commits
 * shutdown and, when immediate, head/bytes/count/unfinished of an emptied
 * queue. At most five journal entries per transaction.
 *
 * Crash safety: a process killed at any instruction either had not committed
 * (the next guard acquirer, mps_guard_acquire or mps_guard_wait, undoes the
 * active journal: a half-written record past the tail stays unreachable and
 * is overwritten later; a get's copy is simply lost with its process and the
 * item stays queued) or had committed (recovery finishes the commit). So the
 * queue is as before or as after the operation, never in between (test:
 * killed_at_every_store kills a process after each of its stores in turn).
 * The waiter counters are single words stored by their owner under the
 * guard, outside every transaction; a waiter killed while asleep leaves its
 * counter one high: getters_waiting says one too many, and wakers call
 * notify needlessly (a load, once the Condition has spent the dead waiter's
 * place).
 *
 * Sleeping and waking. A getter sleeps on not_empty while count == 0; a
 * putter on not_full while count >= maxsize (maxsize > 0) or its record does
 * not fit; a joiner on all_done while unfinished > 0. Every wait re-checks
 * its predicate after every return, and sleeps at most RECHECK_NS at a time:
 * a process killed between its commit and its notify, or a dead waiter that
 * absorbs a notify (cond.c), then delays a living waiter by at most that,
 * never forever. The deadline is computed once, when the first sleep is due
 * (no clock read on a path that does not sleep), after the guard is held,
 * as Python's queue.Queue does; the guard itself is awaited for at most the
 * timeout, so a timed call lasts at most about twice its timeout.
 *   put    commit, release, then notify(not_empty, 1) if a getter waits
 *          (after the release, so the getter does not wake into a held
 *          lock): one item, one getter. Uncontended: no syscall, no clock
 *          read.
 *   get    commit; if a putter waits on bytes, notify_all(not_full) under the
 *          guard (each needs an unknown amount of room; notify_all requeues
 *          them onto the lock), else release and notify(not_full, 1) (one
 *          slot, one putter, as Python). A putter woken for a slot that then
 *          finds its record too large passes the wake on once, so a smaller
 *          item behind it is not left asleep. A getter whose buffer is too
 *          small (EMSGSIZE) passes its wake to another getter.
 *   task_done  notify_all(all_done) when unfinished reaches 0.
 *   shutdown   notify_all on all three (all_done only when immediate, since
 *          only then can unfinished change), under the guard.
 * A wait that times out while chosen by a notify takes the choice (cond.c),
 * and re-checks before it reports ETIMEDOUT, so no wake is lost to timeouts.
 *
 * Queries (qsize, empty, full, bytes, unfinished, is_shutdown) take the
 * guard, so that they see a recovered, committed state (bounded: see look);
 * the waiter counters are single loads.
 *
 * A process stopped (SIGSTOP) inside the guard stops the queue, as a stopped
 * SyncManager server would: polls and queries wait for it (queries at most
 * QUERY_WAIT_S), timed calls give up with ETIMEDOUT. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <mpsync/queue.h>
#include "../../arch/atomic.h"
#include "../sync/deadline.h"
#include "seg.h"

#define RECORD        ((uint64_t)MPS_QUEUE_RECORD_HEADER)
#define RECHECK_NS    (500 * 1000000LL)
#define NS_PER_S      1000000000LL
#define QUERY_WAIT_S  1.0
#define CAPACITY_MAX  (1ull << 48)   /* far beyond any segment; keeps sizes from overflowing */

struct mps_queue {
	uint64_t capacity;
	uint64_t head;
	uint64_t bytes;
	uint64_t count;
	uint64_t unfinished;
	uint32_t maxsize;
	uint32_t joinable;
	uint32_t shutdown;
	uint32_t getters;
	uint32_t putters;
	uint32_t byte_waiters;
	struct mps_guard guard;
	mps_cond_t not_empty, not_full, all_done;
	unsigned char ring[];
};

_Static_assert(offsetof(struct mps_queue, ring) % 8 == 0, "ring is 8-aligned");
_Static_assert(MPS_QUEUE_RECORD_HEADER == 8, "record header is one 64-bit length");

enum block { ROOM, BY_COUNT, BY_BYTES };

/* ---- helpers ---- */

static uint64_t pad8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static uint64_t record_size(uint64_t len)
{
	return RECORD + pad8(len);
}

/* x < 2 * capacity. */
static uint64_t wrap(const mps_queue_t *q, uint64_t x)
{
	return x >= q->capacity ? x - q->capacity : x;
}

/* The segment of a live queue, NULL for anything else. */
static struct mps_seg_header *seg_of(const mps_queue_t *q)
{
	if (!q)
		return NULL;
	struct mps_seg_header *h = mps_obj_segment(q);
	if (!h)
		return NULL;
	uint16_t kind = mps_obj_header(q)->kind;
	return kind == MPS_KIND_QUEUE || kind == MPS_KIND_JOINABLE_QUEUE ? h : NULL;
}

static void ring_write(mps_queue_t *q, uint64_t at, const void *src, uint64_t n)
{
	uint64_t first = q->capacity - at;
	if (n == 0)
		return;
	if (n <= first) {
		memcpy(q->ring + at, src, n);
		return;
	}
	memcpy(q->ring + at, src, first);
	memcpy(q->ring, (const char *)src + first, n - first);
}

static void ring_read(const mps_queue_t *q, uint64_t at, void *dst, uint64_t n)
{
	uint64_t first = q->capacity - at;
	if (n == 0)
		return;
	if (n <= first) {
		memcpy(dst, q->ring + at, n);
		return;
	}
	memcpy(dst, q->ring + at, first);
	memcpy((char *)dst + first, q->ring, n - first);
}

/* A poll must not fail because another party holds the guard for a moment;
 * a timed call gives up on a guard held (stopped) for longer than it. */
static double guard_timeout(double timeout)
{
	return timeout > 0 ? timeout : MPS_FOREVER;
}

static int64_t deadline_ns(const struct mps_deadline *d)
{
	return (int64_t)d->at.tv_sec * NS_PER_S + d->at.tv_nsec;
}

/* Seconds the next sleep may last: what is left of the deadline (fixed on
 * the first call), at most RECHECK_NS; 0 when nothing is left. */
static double next_sleep(struct mps_deadline *d, double timeout)
{
	if (d->kind == MPS_DEADLINE_UNSET)
		mps_deadline_init(d, timeout);
	if (d->kind == MPS_DEADLINE_POLL)
		return 0;
	int64_t left = RECHECK_NS;
	if (d->kind == MPS_DEADLINE_AT) {
		int64_t rest = deadline_ns(d) - mps_monotonic_ns();
		if (rest <= 0)
			return 0;
		if (rest < left)
			left = rest;
	}
	return (double)left / NS_PER_S;
}

static void count_add(uint32_t *c, int32_t d)
{
	a_store(c, a_load_relaxed(c) + (uint32_t)d);
}

/* The condition already holds the most waiters it can count: wait a moment
 * without it. The guard comes back without interruption, as after a
 * Condition wait. */
static void crowded(struct mps_seg_header *h, mps_queue_t *q)
{
	struct timespec ms = { 0, 1000000 };
	mps_guard_release(&q->guard);
	nanosleep(&ms, NULL);
	bool was = mps_set_interruptible(false);
	mps_guard_acquire(h, &q->guard, MPS_FOREVER);
	mps_set_interruptible(was);
}

/* Guard held on entry and on return. One sleep on c (counted in waiters and,
 * if not NULL, extra); 0 means "check again", ETIMEDOUT that the deadline
 * had passed before any sleep, else the wait's error (EINTR). */
static int sleep_once(struct mps_seg_header *h, mps_queue_t *q, mps_cond_t *c,
                      uint32_t *waiters, uint32_t *extra, struct mps_deadline *d, double timeout)
{
	double s = next_sleep(d, timeout);
	if (s <= 0)
		return ETIMEDOUT;
	if (waiters)
		count_add(waiters, 1);
	if (extra)
		count_add(extra, 1);
	int err = mps_guard_wait(h, &q->guard, c, s);
	if (extra)
		count_add(extra, -1);
	if (waiters)
		count_add(waiters, -1);
	if (err == EOVERFLOW) {
		crowded(h, q);
		err = 0;
	}
	return err == ETIMEDOUT ? 0 : err;
}

/* ---- creation ---- */

struct init_arg {
	uint64_t capacity;
	unsigned maxsize;
	bool joinable;
};

static int queue_init(struct mps_seg_header *h, void *payload, void *arg)
{
	const struct init_arg *a = arg;
	mps_queue_t *q = payload;
	(void)h;
	if (a->capacity < RECORD)
		return EINVAL;
	q->capacity = a->capacity;
	q->maxsize = a->maxsize;
	q->joinable = a->joinable;
	mps_cond_init(&q->not_empty);
	mps_cond_init(&q->not_full);
	mps_cond_init(&q->all_done);
	return 0;
}

/* capacity matters only when the queue is created; open-only ignores it. */
static int open_queue(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      unsigned maxsize, size_t capacity, bool joinable, mps_queue_t **out)
{
	if (!seg || !out)
		return EINVAL;
	size_t size = sizeof(struct mps_queue);
	if (mode != MPS_OPEN_ONLY) {
		if (capacity > CAPACITY_MAX)
			return ENOSPC;
		size += (size_t)pad8(capacity);
	}
	struct init_arg a = { pad8(capacity), maxsize, joinable };
	void *p;
	bool created;
	int err = mps_seg_object(seg, name, mode,
	                         joinable ? MPS_KIND_JOINABLE_QUEUE : MPS_KIND_QUEUE,
	                         size, queue_init, &a, &p, &created);
	if (err)
		return err;
	*out = p;
	return 0;
}

int mps_segment_queue(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      unsigned maxsize, size_t capacity, mps_queue_t **out)
{
	return open_queue(seg, name, mode, maxsize, capacity, false, out);
}

int mps_segment_joinable_queue(mps_segment_t *seg, const char *name,
                               enum mps_open_mode mode, unsigned maxsize, size_t capacity,
                               mps_queue_t **out)
{
	return open_queue(seg, name, mode, maxsize, capacity, true, out);
}

/* The ring is inline in the object's own block: nothing else to free. */
void mps_queue_teardown(struct mps_seg_header *h, void *payload)
{
	(void)h;
	(void)payload;
}

/* ---- put ---- */

static enum block blocked(const mps_queue_t *q, uint64_t rec)
{
	if (q->maxsize && q->count >= q->maxsize)
		return BY_COUNT;
	return q->bytes + rec > q->capacity ? BY_BYTES : ROOM;
}

static int await_room(struct mps_seg_header *h, mps_queue_t *q, uint64_t rec, double timeout)
{
	struct mps_deadline d = { .kind = MPS_DEADLINE_UNSET };
	enum block was = ROOM;
	for (;;) {
		if (q->shutdown)
			return ESHUTDOWN;
		enum block now = blocked(q, rec);
		if (now == ROOM)
			return 0;
		/* Woken for a slot this record cannot use: a smaller one may. */
		if (was == BY_COUNT && now == BY_BYTES)
			mps_cond_notify(&q->not_full, 1);
		was = now;
		int err = sleep_once(h, q, &q->not_full, &q->putters,
		                     now == BY_BYTES ? &q->byte_waiters : NULL, &d, timeout);
		if (err)
			return err;
	}
}

/* Room checked. The record goes past the tail first (unreachable until the
 * commit publishes it). */
static void push(struct mps_seg_header *h, mps_queue_t *q, const void *item, uint64_t len,
                 uint64_t rec)
{
	struct mps_journal *j = &q->guard.journal;
	uint64_t tail = wrap(q, q->head + q->bytes);
	ring_write(q, tail, &len, RECORD);
	ring_write(q, wrap(q, tail + RECORD), item, len);
	mps_journal_begin(j);
	mps_journal_store64(h, j, &q->bytes, q->bytes + rec);
	mps_journal_store64(h, j, &q->count, q->count + 1);
	if (q->joinable)
		mps_journal_store64(h, j, &q->unfinished, q->unfinished + 1);
	mps_journal_commit(h, j);
}

static int queue_put(mps_queue_t *q, const void *item, size_t len, double timeout)
{
	struct mps_seg_header *h = seg_of(q);
	if (!h || (len && !item) || mps_timeout_invalid(timeout))
		return EINVAL;
	if (len > q->capacity - RECORD)
		return EMSGSIZE;
	int err = mps_guard_acquire(h, &q->guard, guard_timeout(timeout));
	if (err)
		return err;
	uint64_t rec = record_size(len);
	bool wake = false;
	err = await_room(h, q, rec, timeout);
	if (!err) {
		push(h, q, item, len, rec);
		wake = a_load_relaxed(&q->getters) != 0;
	}
	mps_guard_release(&q->guard);
	if (wake)
		mps_cond_notify(&q->not_empty, 1);
	return err;
}

/* ---- get ---- */

static int await_item(struct mps_seg_header *h, mps_queue_t *q, double timeout)
{
	struct mps_deadline d = { .kind = MPS_DEADLINE_UNSET };
	for (;;) {
		if (q->count)
			return 0;
		if (q->shutdown)
			return ESHUTDOWN;
		int err = sleep_once(h, q, &q->not_empty, &q->getters, NULL, &d, timeout);
		if (err)
			return err;
	}
}

/* count > 0. A header that contradicts bytes is corruption: EINVAL, nothing
 * changed. */
static int pop(struct mps_seg_header *h, mps_queue_t *q, void *buf, size_t cap, size_t *len)
{
	struct mps_journal *j = &q->guard.journal;
	uint64_t n;
	ring_read(q, q->head, &n, RECORD);
	if (n > q->capacity - RECORD || record_size(n) > q->bytes)
		return EINVAL;
	*len = (size_t)n;
	if (n > cap)
		return EMSGSIZE;
	uint64_t rec = record_size(n);
	ring_read(q, wrap(q, q->head + RECORD), buf, n);
	mps_journal_begin(j);
	mps_journal_store64(h, j, &q->head, wrap(q, q->head + rec));
	mps_journal_store64(h, j, &q->bytes, q->bytes - rec);
	mps_journal_store64(h, j, &q->count, q->count - 1);
	mps_journal_commit(h, j);
	return 0;
}

static int queue_get(mps_queue_t *q, void *buf, size_t cap, size_t *len, double timeout)
{
	struct mps_seg_header *h = seg_of(q);
	if (!h || !len || (cap && !buf) || mps_timeout_invalid(timeout))
		return EINVAL;
	int err = mps_guard_acquire(h, &q->guard, guard_timeout(timeout));
	if (err)
		return err;
	mps_cond_t *wake = NULL;
	err = await_item(h, q, timeout);
	if (!err)
		err = pop(h, q, buf, cap, len);
	if (!err && a_load_relaxed(&q->putters)) {
		if (a_load_relaxed(&q->byte_waiters))
			mps_cond_notify_all(&q->not_full);
		else
			wake = &q->not_full;
	} else if (err == EMSGSIZE && a_load_relaxed(&q->getters)) {
		wake = &q->not_empty;   /* the item stays: another getter may take it */
	}
	mps_guard_release(&q->guard);
	if (wake)
		mps_cond_notify(wake, 1);
	return err;
}

/* ---- queries ---- */

struct view {
	uint64_t count, bytes, unfinished;
	uint32_t shutdown;
};

/* A consistent, recovered snapshot under the guard, taken without
 * interruption. A holder that does not let go within QUERY_WAIT_S is
 * stopped (a dead one is noticed far sooner): then single loads, so that a
 * diagnostic (mpsync show) never hangs on a stopped process. */
static bool look(mps_queue_t *q, struct view *v)
{
	struct mps_seg_header *h = seg_of(q);
	memset(v, 0, sizeof *v);
	if (!h)
		return false;
	bool was = mps_set_interruptible(false);
	bool locked = mps_guard_acquire(h, &q->guard, QUERY_WAIT_S) == 0;
	mps_set_interruptible(was);
	v->count = a_load64(&q->count);
	v->bytes = a_load64(&q->bytes);
	v->unfinished = a_load64(&q->unfinished);
	v->shutdown = a_load(&q->shutdown);
	if (locked)
		mps_guard_release(&q->guard);
	return true;
}

size_t mps_queue_qsize(mps_queue_t *q)
{
	struct view v;
	look(q, &v);
	return (size_t)v.count;
}

bool mps_queue_empty(mps_queue_t *q)
{
	struct view v;
	look(q, &v);
	return v.count == 0;
}

/* Full: maxsize reached, or not even an empty item would fit. */
bool mps_queue_full(mps_queue_t *q)
{
	struct view v;
	if (!look(q, &v))
		return false;
	return (q->maxsize && v.count >= q->maxsize) || v.bytes + RECORD > q->capacity;
}

size_t mps_queue_bytes(mps_queue_t *q)
{
	struct view v;
	look(q, &v);
	return (size_t)v.bytes;
}

size_t mps_queue_unfinished(mps_queue_t *q)
{
	struct view v;
	look(q, &v);
	return (size_t)v.unfinished;
}

bool mps_queue_is_shutdown(mps_queue_t *q)
{
	struct view v;
	look(q, &v);
	return v.shutdown != 0;
}

size_t mps_queue_max_item(const mps_queue_t *q)
{
	return seg_of(q) ? (size_t)(q->capacity - RECORD) : 0;
}

unsigned mps_queue_maxsize(const mps_queue_t *q)
{
	return seg_of(q) ? q->maxsize : 0;
}

size_t mps_queue_capacity(const mps_queue_t *q)
{
	return seg_of(q) ? (size_t)q->capacity : 0;
}

unsigned mps_queue_getters_waiting(mps_queue_t *q)
{
	return seg_of(q) ? a_load(&q->getters) : 0;
}

unsigned mps_queue_putters_waiting(mps_queue_t *q)
{
	return seg_of(q) ? a_load(&q->putters) : 0;
}

/* ---- JoinableQueue ---- */

static int queue_task_done(mps_queue_t *q)
{
	struct mps_seg_header *h = seg_of(q);
	if (!h)
		return EINVAL;
	if (!q->joinable)
		return ENOTSUP;
	int err = mps_guard_acquire(h, &q->guard, MPS_FOREVER);
	if (err)
		return err;
	if (q->unfinished == 0) {
		err = EOVERFLOW;
	} else {
		struct mps_journal *j = &q->guard.journal;
		mps_journal_begin(j);
		mps_journal_store64(h, j, &q->unfinished, q->unfinished - 1);
		mps_journal_commit(h, j);
		if (q->unfinished == 0)
			mps_cond_notify_all(&q->all_done);
	}
	mps_guard_release(&q->guard);
	return err;
}

static int queue_join(mps_queue_t *q, double timeout)
{
	struct mps_seg_header *h = seg_of(q);
	if (!h || mps_timeout_invalid(timeout))
		return EINVAL;
	if (!q->joinable)
		return ENOTSUP;
	int err = mps_guard_acquire(h, &q->guard, guard_timeout(timeout));
	if (err)
		return err;
	struct mps_deadline d = { .kind = MPS_DEADLINE_UNSET };
	while (q->unfinished && !err)
		err = sleep_once(h, q, &q->all_done, NULL, NULL, &d, timeout);
	mps_guard_release(&q->guard);
	return err;
}

/* ---- shutdown ---- */

/* Empties the queue; each discarded item counts as done. */
static void discard(struct mps_seg_header *h, mps_queue_t *q)
{
	struct mps_journal *j = &q->guard.journal;
	mps_journal_store64(h, j, &q->head, wrap(q, q->head + q->bytes));
	mps_journal_store64(h, j, &q->bytes, 0);
	if (q->joinable) {
		uint64_t n = q->count < q->unfinished ? q->count : q->unfinished;
		mps_journal_store64(h, j, &q->unfinished, q->unfinished - n);
	}
	mps_journal_store64(h, j, &q->count, 0);
}

static int queue_shutdown(mps_queue_t *q, bool immediate)
{
	struct mps_seg_header *h = seg_of(q);
	if (!h)
		return EINVAL;
	int err = mps_guard_acquire(h, &q->guard, MPS_FOREVER);
	if (err)
		return err;
	struct mps_journal *j = &q->guard.journal;
	mps_journal_begin(j);
	if (!q->shutdown)
		mps_journal_store32(h, j, &q->shutdown, 1);
	if (immediate && q->count)
		discard(h, q);
	mps_journal_commit(h, j);
	mps_cond_notify_all(&q->not_empty);
	mps_cond_notify_all(&q->not_full);
	if (immediate)
		mps_cond_notify_all(&q->all_done);
	mps_guard_release(&q->guard);
	return 0;
}

/* ---- errno ---- */

/* The calls that wait or wake keep errno as the caller left it (SPEC §2):
 * futex calls, owner probes and the crowded sleep may change it. */

int mps_queue_put(mps_queue_t *q, const void *item, size_t len, double timeout)
{
	int saved = errno;
	int r = queue_put(q, item, len, timeout);
	errno = saved;
	return r;
}

int mps_queue_get(mps_queue_t *q, void *buf, size_t cap, size_t *len, double timeout)
{
	int saved = errno;
	int r = queue_get(q, buf, cap, len, timeout);
	errno = saved;
	return r;
}

int mps_queue_task_done(mps_queue_t *q)
{
	int saved = errno;
	int r = queue_task_done(q);
	errno = saved;
	return r;
}

int mps_queue_join(mps_queue_t *q, double timeout)
{
	int saved = errno;
	int r = queue_join(q, timeout);
	errno = saved;
	return r;
}

int mps_queue_shutdown(mps_queue_t *q, bool immediate)
{
	int saved = errno;
	int r = queue_shutdown(q, immediate);
	errno = saved;
	return r;
}
