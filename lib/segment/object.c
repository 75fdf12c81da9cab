/* Objects: creation by name, references, destruction.
 *
 * Encoding: struct mps_object before each payload: magic (MPS_OBJ_MAGIC
 * while alive, 0 once freed), kind, refs, self (the payload's offset, which
 * is how any function finds the segment from a payload pointer), and next,
 * the link of the one list the object may be on: h->doomed (count 0, not
 * yet torn down) or h->nursery (unnamed, being built, guard held by its
 * builder).
 *
 * Protocol: creation is one transaction of the segment guard: allocate the
 * block, fill its header, run the kind's init on the zeroed payload, set
 * magic (journalled, so an undone creation leaves no live-looking object),
 * insert the name. A process killed anywhere in it leaves no trace; a bad
 * parameter found by init aborts it the same way.
 *
 * refs changes only under the segment guard, by journalled stores: the
 * directory name holds one, every container slot one, every caller that
 * obtained an object from a container or by mps_segment_get or created it
 * unnamed one. A count is never raised from 0 (ESTALE). The store that takes
 * it to 0 and the push onto h->doomed are one segment transaction, and so
 * are a name's removal and the release of its reference, and (guard.c) a
 * container journal's RETAINED/RELEASE entry and the count it stands for.
 *
 * Destruction: the reaper (one at a time, h->reaper) takes the first doomed
 * object, runs its kind's teardown, which is resumable (a series of
 * transactions under the object's own guard, each replayed or finished by
 * the next taker), then in one segment transaction unlinks it, clears magic,
 * counts it out and frees its block. Whoever next takes an object guard,
 * lets go of a container guard, releases a reference or enters the segment
 * through a name reaps first, so a process killed anywhere in a destruction
 * leaves it to the next writer, which finishes it exactly once. A nursery
 * object whose builder died (its guard's holder dead) is doomed by the
 * reaper: the copy it was is undone whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../arch/atomic.h"
#include "../sync/owner.h"
#include "seg.h"

static const char *const kind_names[MPS_KIND_COUNT] = {
	[MPS_KIND_NONE] = "none",
	[MPS_KIND_LOCK] = "Lock",
	[MPS_KIND_RLOCK] = "RLock",
	[MPS_KIND_SEMAPHORE] = "Semaphore",
	[MPS_KIND_BOUNDED_SEMAPHORE] = "BoundedSemaphore",
	[MPS_KIND_EVENT] = "Event",
	[MPS_KIND_CONDITION] = "Condition",
	[MPS_KIND_BARRIER] = "Barrier",
	[MPS_KIND_VALUE] = "Value",
	[MPS_KIND_ARRAY] = "Array",
	[MPS_KIND_QUEUE] = "Queue",
	[MPS_KIND_JOINABLE_QUEUE] = "JoinableQueue",
	[MPS_KIND_DICT] = "dict",
	[MPS_KIND_LIST] = "list",
	[MPS_KIND_NAMESPACE] = "Namespace",
};

const char *mps_kind_name(enum mps_kind kind)
{
	return (unsigned)kind < MPS_KIND_COUNT ? kind_names[kind] : "unknown";
}

struct mps_seg_header *mps_obj_segment(const void *payload)
{
	if (!payload || (uintptr_t)payload % MPS_BLOCK_ALIGN)
		return NULL;
	const struct mps_object *o = mps_obj_header(payload);
	if (o->magic != MPS_OBJ_MAGIC || o->self > (uintptr_t)payload)
		return NULL;
	struct mps_seg_header *h = (struct mps_seg_header *)((char *)payload - o->self);
	if (h->magic != MPS_SEG_MAGIC || o->self >= h->size)
		return NULL;
	return h;
}

void *mps_obj_at(const struct mps_seg_header *h, uint64_t off)
{
	if (off < h->heap_start + sizeof(struct mps_block) + sizeof(struct mps_object) ||
	    off >= h->heap_end || off % MPS_BLOCK_ALIGN)
		return NULL;
	void *payload = mps_seg_ptr(h, off);
	const struct mps_object *o = mps_obj_header(payload);
	if (o->magic != MPS_OBJ_MAGIC || o->self != off)
		return NULL;
	return payload;
}

static void teardown(struct mps_seg_header *h, enum mps_kind kind, void *payload)
{
	switch (kind) {
	case MPS_KIND_VALUE:
	case MPS_KIND_ARRAY:
		mps_value_teardown(h, payload);
		break;
	case MPS_KIND_QUEUE:
	case MPS_KIND_JOINABLE_QUEUE:
		mps_queue_teardown(h, payload);
		break;
	case MPS_KIND_DICT:
		mps_dict_teardown(h, payload);
		break;
	case MPS_KIND_LIST:
		mps_list_teardown(h, payload);
		break;
	case MPS_KIND_NAMESPACE:
		mps_namespace_teardown(h, payload);
		break;
	default:
		break;   /* the primitives hold nothing */
	}
}

static struct mps_object *header_at(struct mps_seg_header *h, uint64_t off)
{
	return mps_obj_header(mps_seg_ptr(h, off));
}

/* Segment guard held: takes off out of the list that starts at *head. */
static void unlink_locked(struct mps_seg_header *h, uint64_t *head, uint64_t off)
{
	struct mps_journal *j = &h->guard.journal;
	uint64_t *link = head;
	for (uint64_t steps = 0; *link && steps <= h->size / MPS_BLOCK_ALIGN; steps++) {
		if (*link == off) {
			mps_journal_store64(h, j, link, header_at(h, off)->next);
			return;
		}
		link = &header_at(h, *link)->next;
	}
}

static void push_locked(struct mps_seg_header *h, uint64_t *head, struct mps_object *o)
{
	struct mps_journal *j = &h->guard.journal;
	mps_journal_store64(h, j, &o->next, *head);
	mps_journal_store64(h, j, head, o->self);
}

int mps_obj_retain_locked(struct mps_seg_header *h, uint64_t off)
{
	void *p = mps_obj_at(h, off);
	if (!p)
		return EINVAL;
	struct mps_object *o = mps_obj_header(p);
	if (o->refs == 0)
		return ESTALE;
	mps_journal_store32(h, &h->guard.journal, &o->refs, o->refs + 1);
	return 0;
}

void mps_obj_release_locked(struct mps_seg_header *h, uint64_t off)
{
	void *p = mps_obj_at(h, off);
	if (!p)
		return;
	struct mps_object *o = mps_obj_header(p);
	if (o->refs == 0)
		return;   /* doomed already: a count never goes below 0 */
	mps_journal_store32(h, &h->guard.journal, &o->refs, o->refs - 1);
	if (o->refs == 0)
		push_locked(h, &h->doomed, o);
}

int mps_obj_retain_at(struct mps_seg_header *h, uint64_t off)
{
	bool took = mps_seg_enter(h);
	int r = mps_obj_retain_locked(h, off);
	mps_seg_leave(h, took);
	return r;
}

void mps_obj_release_at(struct mps_seg_header *h, uint64_t off)
{
	bool took = mps_seg_enter(h);
	mps_obj_release_locked(h, off);
	mps_seg_leave(h, took);
	mps_obj_reap(h);
}

/* The teardown of a doomed object is resumable (each kind's is a series of
 * transactions under its own guard, repeated from where a killed reaper
 * stopped); the last transaction takes it off the doomed list and frees
 * its block, so it is finished exactly once. */
static void finish(struct mps_seg_header *h, uint64_t off)
{
	struct mps_object *o = header_at(h, off);
	teardown(h, (enum mps_kind)o->kind, mps_obj_payload(o));
	bool took = mps_seg_enter(h);
	unlink_locked(h, &h->doomed, off);
	mps_journal_store32(h, &h->guard.journal, &o->magic, 0);
	mps_journal_store32(h, &h->guard.journal, &h->objects, h->objects - 1);
	mps_heap_free_locked(h, mps_seg_off(h, o));
	mps_seg_leave(h, took);
}

/* A nursery object whose builder died: its guard has a dead holder. It
 * moves to the doomed list with its count (the builder's reference) at 0,
 * in one segment transaction; its teardown takes the guard from the dead
 * builder, which replays the builder's last transaction first. */
static bool orphaned(const struct mps_object *o)
{
	const struct mps_guard *g = mps_obj_payload(o);
	uint32_t owner = (uint32_t)mps_lock_owner(&g->lock);
	return owner != 0 && !mps_tid_alive(owner);
}

/* One orphan per segment transaction (a journal holds 24 entries). */
static bool adopt_orphan(struct mps_seg_header *h)
{
	bool took = mps_seg_enter(h), found = false;
	uint64_t off = h->nursery;
	for (uint64_t steps = 0; off && !found && steps <= h->size / MPS_BLOCK_ALIGN; steps++) {
		struct mps_object *o = header_at(h, off);
		found = orphaned(o);
		if (found) {
			unlink_locked(h, &h->nursery, off);
			mps_journal_store32(h, &h->guard.journal, &o->refs, 0);
			push_locked(h, &h->doomed, o);
		}
		off = o->next;
	}
	mps_seg_leave(h, took);
	return found;
}

static void adopt_orphans(struct mps_seg_header *h)
{
	while (adopt_orphan(h))
		;
}

static bool nothing_to_reap(struct mps_seg_header *h)
{
	return __atomic_load_n(&h->doomed, __ATOMIC_ACQUIRE) == 0 &&
	       __atomic_load_n(&h->nursery, __ATOMIC_ACQUIRE) == 0;
}

/* One reaper at a time (h->reaper), so that nobody waits for the guard of
 * an object another reaper is about to free. A reaper killed midway leaves
 * the reaper lock with a dead holder and its work in the journals: the
 * next one (EOWNERDEAD) simply starts again. */
void mps_obj_reap(struct mps_seg_header *h)
{
	if (nothing_to_reap(h))
		return;
	uint32_t self = mps_self_tid();
	if ((uint32_t)mps_lock_owner(&h->reaper) == self ||
	    (uint32_t)mps_lock_owner(&h->guard.lock) == self)
		return;
	int saved = errno, r;
	while ((r = mps_lock_acquire(&h->reaper, MPS_FOREVER)) != 0 && r != EOWNERDEAD)
		;
	if (h->nursery)
		adopt_orphans(h);
	for (;;) {
		bool took = mps_seg_enter(h);
		uint64_t off = h->doomed;
		mps_seg_leave(h, took);
		if (!off)
			break;
		finish(h, off);
	}
	mps_lock_release(&h->reaper);
	errno = saved;
}

int mps_object_retain(void *object)
{
	struct mps_seg_header *h = mps_obj_segment(object);
	if (!h)
		return EINVAL;
	return mps_obj_retain_at(h, mps_obj_offset(object));
}

int mps_object_release(void *object)
{
	struct mps_seg_header *h = mps_obj_segment(object);
	if (!h)
		return EINVAL;
	mps_obj_release_at(h, mps_obj_offset(object));
	return 0;
}

enum mps_kind mps_object_kind(const void *object)
{
	if (!mps_obj_segment(object))
		return MPS_KIND_NONE;
	return (enum mps_kind)mps_obj_header(object)->kind;
}

uint64_t mps_object_serial(const void *object)
{
	if (!mps_obj_segment(object))
		return 0;
	return mps_obj_header(object)->serial;
}

unsigned mps_object_refs(const void *object)
{
	if (!mps_obj_segment(object))
		return 0;
	return a_load(&mps_obj_header(object)->refs);
}

/* Segment lock held, transaction running: a new object with one reference. */
static int create_locked(struct mps_seg_header *h, enum mps_kind kind, size_t payload_size,
                         mps_obj_init_fn init, void *arg, void **out)
{
	uint64_t off;
	size_t total = sizeof(struct mps_object) + payload_size;
	if (payload_size > h->size)
		return ENOSPC;
	int r = mps_heap_alloc_locked(h, total, &off);
	if (r)
		return r;
	struct mps_object *o = mps_seg_ptr(h, off);
	memset(o, 0, total);
	o->kind = (uint16_t)kind;
	o->refs = 1;
	o->self = off + sizeof(struct mps_object);
	o->size = payload_size;
	if (init && (r = init(h, mps_obj_payload(o), arg)) != 0)
		return r;
	/* The serial tells this object from a later one in the same block
	 * (mps_segment_retain_at): births only grows, and is rolled back with
	 * the creation. */
	mps_journal_store64(h, &h->guard.journal, &h->births, h->births + 1);
	o->serial = h->births;
	mps_journal_store32(h, &h->guard.journal, &o->magic, MPS_OBJ_MAGIC);
	mps_journal_store32(h, &h->guard.journal, &h->objects, h->objects + 1);
	*out = mps_obj_payload(o);
	return 0;
}

static int find_or_create_locked(struct mps_seg_header *h, const char *name,
                                 enum mps_open_mode mode, enum mps_kind kind,
                                 size_t payload_size, mps_obj_init_fn init, void *arg,
                                 void **out, bool *created)
{
	struct mps_dir_entry *e = mps_dir_find(h, name);
	if (e) {
		if (e->kind != (uint32_t)kind)
			return EPROTOTYPE;
		if (mode == MPS_CREATE_ONLY)
			return EEXIST;
		*out = mps_seg_ptr(h, e->object);
		return 0;
	}
	if (mode == MPS_OPEN_ONLY)
		return ENOENT;
	int r = create_locked(h, kind, payload_size, init, arg, out);
	if (r == 0)
		r = mps_dir_insert(h, name, kind, mps_obj_offset(*out));
	if (r == 0)
		*created = true;
	return r;
}

static int check_name(const char *name)
{
	if (!name)
		return 0;
	size_t n = strnlen(name, MPS_OBJ_NAME_MAX + 1);
	if (n == 0)
		return EINVAL;
	return n > MPS_OBJ_NAME_MAX ? ENAMETOOLONG : 0;
}

/* Ends a creation transaction: committed on success; on failure undone
 * when this call began it (an enclosing transaction undoes its own). */
static int finish_creation(struct mps_seg_header *h, bool took, int r)
{
	if (r && took) {
		mps_seg_abort(h);
		return r;
	}
	mps_seg_leave(h, took);
	return r;
}

int mps_seg_object(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                   enum mps_kind kind, size_t payload_size, mps_obj_init_fn init, void *arg,
                   void **out, bool *created)
{
	bool dummy;
	if (!created)
		created = &dummy;
	*created = false;
	if (!seg || !out || kind <= MPS_KIND_NONE || kind >= MPS_KIND_COUNT ||
	    (unsigned)mode > MPS_OPEN_ONLY)
		return EINVAL;
	int r = check_name(name);
	if (r)
		return r;
	struct mps_seg_header *h = seg->h;
	mps_obj_reap(h);
	bool took = mps_seg_enter(h);
	void *obj = NULL;
	if (name) {
		r = find_or_create_locked(h, name, mode, kind, payload_size, init, arg, &obj, created);
	} else {
		r = create_locked(h, kind, payload_size, init, arg, &obj);
		*created = r == 0;
	}
	r = finish_creation(h, took, r);
	if (r == 0)
		*out = obj;
	return r;
}

int mps_obj_new(struct mps_seg_header *h, enum mps_kind kind, size_t payload_size,
                mps_obj_init_fn init, void *arg, void **out)
{
	bool took = mps_seg_enter(h);
	return finish_creation(h, took, create_locked(h, kind, payload_size, init, arg, out));
}

int mps_obj_nurse(struct mps_seg_header *h, enum mps_kind kind, size_t payload_size,
                  void **out)
{
	bool took = mps_seg_enter(h);
	int r = create_locked(h, kind, payload_size, NULL, NULL, out);
	if (r == 0) {
		/* a fresh lock nobody else can reach: taken at once, inside the
		 * creation, so that the nursery never holds an unheld object */
		struct mps_guard *g = *out;
		(void)mps_lock_acquire(&g->lock, MPS_FOREVER);
		push_locked(h, &h->nursery, mps_obj_header(*out));
	}
	return finish_creation(h, took, r);
}

void mps_obj_adopt(struct mps_seg_header *h, void *payload)
{
	bool took = mps_seg_enter(h);
	unlink_locked(h, &h->nursery, mps_obj_offset(payload));
	mps_seg_leave(h, took);
}

/* The name's entry while the segment lock is held: its object's count is
 * at least the name's own reference, so retaining it cannot fail. */
static int lookup(mps_segment_t *seg, const char *name, void **object, enum mps_kind *kind,
                  bool take)
{
	if (!seg || !name || !object)
		return EINVAL;
	int r = check_name(name);
	if (r)
		return r;
	struct mps_seg_header *h = seg->h;
	mps_obj_reap(h);
	bool took = mps_seg_enter(h);
	struct mps_dir_entry *e = mps_dir_find(h, name);
	r = e ? 0 : ENOENT;
	if (e && take)
		r = mps_obj_retain_at(h, e->object);
	if (r == 0) {
		*object = mps_seg_ptr(h, e->object);
		if (kind)
			*kind = (enum mps_kind)e->kind;
	}
	mps_seg_leave(h, took);
	return r;
}

int mps_segment_find(mps_segment_t *seg, const char *name, void **object, enum mps_kind *kind)
{
	return lookup(seg, name, object, kind, false);
}

int mps_segment_get(mps_segment_t *seg, const char *name, void **object, enum mps_kind *kind)
{
	return lookup(seg, name, object, kind, true);
}

/* The block at offset is checked to be a live object (mps_obj_at: in the
 * heap, aligned, its magic and its own offset) with that serial before it is
 * retained, all under the segment lock: an object destroyed meanwhile, and
 * another one made in its block, are both ENOENT. */
int mps_segment_retain_at(mps_segment_t *seg, uint64_t offset, uint64_t serial, void **object,
                          enum mps_kind *kind)
{
	if (!seg || !object || serial == 0)
		return EINVAL;
	struct mps_seg_header *h = seg->h;
	bool took = mps_seg_enter(h);
	void *p = mps_obj_at(h, offset);
	int r = p && mps_obj_header(p)->serial == serial ? mps_obj_retain_locked(h, offset) : ENOENT;
	if (r == 0) {
		*object = p;
		if (kind)
			*kind = (enum mps_kind)mps_obj_header(p)->kind;
	}
	mps_seg_leave(h, took);
	return r == ESTALE ? ENOENT : r;
}

int mps_segment_remove(mps_segment_t *seg, const char *name)
{
	if (!seg || !name)
		return EINVAL;
	int r = check_name(name);
	if (r)
		return r;
	struct mps_seg_header *h = seg->h;
	mps_obj_reap(h);
	bool took = mps_seg_enter(h);
	struct mps_dir_entry *e = mps_dir_find(h, name);
	uint64_t off = e ? e->object : 0;
	if (e) {   /* the name and its reference go together */
		mps_dir_delete(h, e);
		mps_obj_release_locked(h, off);
	}
	mps_seg_leave(h, took);
	mps_obj_reap(h);
	return off ? 0 : ENOENT;
}

int mps_segment_foreach(mps_segment_t *seg, mps_segment_visit_fn fn, void *arg)
{
	if (!seg || !fn)
		return EINVAL;
	struct mps_seg_header *h = seg->h;
	int saved = errno;   /* the caller's, even when malloc fails (SPEC §2) */
	struct mps_dir_entry *copy = malloc(sizeof *copy * h->dir_capacity);
	errno = saved;
	if (!copy)
		return ENOMEM;
	bool took = mps_seg_enter(h);
	uint32_t n = mps_dir_snapshot(h, copy, h->dir_capacity);
	mps_seg_leave(h, took);
	for (uint32_t i = 0; i < n; i++) {
		void *obj = mps_obj_at(h, copy[i].object);
		if (obj && fn(copy[i].name, (enum mps_kind)copy[i].kind, obj, arg))
			break;
	}
	free(copy);
	return 0;
}
