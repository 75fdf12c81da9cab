/* Segment internals shared by the segment, allocator, directory, journal and
 * every object kind. Layout (all offsets from the segment's first byte):
 *
 *   0       struct mps_seg_header (one page): identity, attach slots, the
 *           segment lock with its journal, allocator and directory roots
 *   4096    directory: dir_capacity entries (open addressing by name hash)
 *   ...     heap: blocks of [16-byte block header][payload], 16-aligned
 *
 * An object is a heap block whose payload starts with struct mps_object; a
 * user pointer points just past it (mps_obj_payload). The object records its
 * own offset, so base = payload - offset: no segment handle is needed to
 * allocate from inside an object's operation.
 *
 * Crash safety: every multi-word change is a journalled transaction
 * (journal.c). The segment lock (allocator and directory) and each object
 * that needs one own a lock + journal pair (struct mps_guard); whoever gets
 * EOWNERDEAD on that lock replays the journal before going on, so a process
 * killed at any instruction leaves the structure as before or as after its
 * operation. Lock order: object guard, then the segment lock; replay order
 * the reverse (guard.c says why). Files call down only: journal.c <- heap.c,
 * directory.c <- object.c <- guard.c <- the objects. */
#ifndef MPS_LIB_SEG_H
#define MPS_LIB_SEG_H

#include <stddef.h>
#include <stdint.h>
#include <mpsync/segment.h>

#define MPS_SEG_MAGIC     0x4745534e5953504dull   /* "MPSYNSEG" */
#define MPS_SEG_LAYOUT    2u
#define MPS_SEG_HEADER_SIZE 4096u
#define MPS_SEG_ATTACH_SLOTS 32
#define MPS_OBJ_MAGIC     0x4f53504du             /* "MPSO" */
#define MPS_BLOCK_ALIGN   16u

/* ---- journal (journal.c) ---- */

enum mps_journal_state { MPS_J_IDLE = 0, MPS_J_ACTIVE = 1, MPS_J_COMMITTED = 2 };

enum mps_journal_kind {
	MPS_JE_STORE32 = 1,  /* undo: *off = old (32 bits) */
	MPS_JE_STORE64,      /* undo: *off = old */
	MPS_JE_ALLOC,        /* block at off allocated in this transaction; undo frees it */
	MPS_JE_FREE,         /* block at off to free once committed */
	MPS_JE_RETAINED,     /* object at off got a reference; undo drops it */
	MPS_JE_RELEASE,      /* object at off loses a reference once committed */
};

struct mps_journal_entry {
	uint64_t off;
	uint64_t old;
	uint32_t kind;
	uint32_t done;       /* ALLOC/FREE/RETAINED/RELEASE already settled */
};

#define MPS_JOURNAL_MAX 24

struct mps_journal {
	uint32_t state;
	uint32_t n;
	struct mps_journal_entry e[MPS_JOURNAL_MAX];
};

/* A lock and the journal of the transactions it protects. */
struct mps_guard {
	mps_lock_t lock;
	uint32_t reserved;
	struct mps_journal journal;
};

struct mps_seg_header;

/* journal.c: the log itself, below everything else of this layer. Entries
 * other than stores are handed to settle (undo true: the transaction is
 * undone; false: it committed); NULL for the segment guard's journal,
 * which holds stores only. */
typedef void (*mps_settle_fn)(struct mps_seg_header *h, struct mps_journal_entry *e, bool undo);
void mps_journal_begin(struct mps_journal *j);
/* Stores through the journal: the old value is logged first. */
void mps_journal_store32(struct mps_seg_header *h, struct mps_journal *j, uint32_t *p, uint32_t v);
void mps_journal_store64(struct mps_seg_header *h, struct mps_journal *j, uint64_t *p, uint64_t v);
/* Logs an entry of kind for off (n covers it when this returns). */
void mps_journal_log(struct mps_journal *j, uint32_t kind, uint64_t off);
/* Fills the next entry without counting it: the caller raises n, with
 * mps_journal_count or a store of its own. */
struct mps_journal_entry *mps_journal_prepare(struct mps_journal *j, uint32_t kind, uint64_t off);
void mps_journal_count(struct mps_journal *j);
void mps_journal_close(struct mps_seg_header *h, struct mps_journal *j, mps_settle_fn settle);
void mps_journal_undo(struct mps_seg_header *h, struct mps_journal *j, mps_settle_fn settle);
/* After EOWNERDEAD: finish a committed transaction or undo an active one. */
void mps_journal_replay(struct mps_seg_header *h, struct mps_journal *j, mps_settle_fn settle);

/* guard.c: the objects' guards, above the heap and the objects. */
/* Allocates size payload bytes (zero-filled); ENOSPC. Undone on abort. */
int  mps_journal_alloc(struct mps_seg_header *h, struct mps_journal *j, size_t size, uint64_t *off);
/* Frees the block at off (a payload offset) once the transaction commits. */
void mps_journal_free(struct mps_seg_header *h, struct mps_journal *j, uint64_t off);
/* Takes a reference on the object at payload offset off now; dropped on
 * abort. ESTALE (nothing logged) when its count already reached 0. */
int  mps_journal_retain(struct mps_seg_header *h, struct mps_journal *j, uint64_t off);
/* Drops a reference on the object at payload offset off once committed. */
void mps_journal_release(struct mps_seg_header *h, struct mps_journal *j, uint64_t off);
void mps_journal_commit(struct mps_seg_header *h, struct mps_journal *j);
/* Undoes everything since begin (bad input found late, ENOSPC). */
void mps_journal_abort(struct mps_seg_header *h, struct mps_journal *j);

/* Lock g and replay a dead holder's journal, the segment guard's first;
 * returns 0, ETIMEDOUT, EINTR (never EOWNERDEAD: the structure is
 * consistent again). Not for the segment guard (mps_seg_enter). */
int  mps_guard_acquire(struct mps_seg_header *h, struct mps_guard *g, double timeout);
void mps_guard_release(struct mps_guard *g);
/* mps_cond_wait_lock on g->lock with recovery when the re-acquire reports a
 * dead holder; result as mps_cond_wait_lock less EOWNERDEAD. */
int  mps_guard_wait(struct mps_seg_header *h, struct mps_guard *g, mps_cond_t *c, double timeout);

/* ---- header, blocks, objects ---- */

struct mps_attach_slot {
	int32_t pid;
	uint32_t reserved;
	uint64_t start;        /* start time (clock ticks), so a reused pid is not taken for ours */
};

struct mps_dir_entry {
	char name[MPS_OBJ_NAME_MAX + 1];
	uint64_t object;       /* payload offset; 0 empty; 1 deleted */
	uint32_t kind;
	uint32_t hash;
};

struct mps_seg_header {
	uint64_t magic;                 /* written last, release order */
	uint32_t layout_version;
	uint32_t header_size;
	uint64_t size;
	int32_t  creator_pid;
	uint32_t reserved0;
	uint64_t creator_start;
	uint64_t pid_namespace;
	int64_t  created_unix_ns;
	uint64_t check;                 /* mps_seg_check() of the fields above */
	struct mps_attach_slot attached[MPS_SEG_ATTACH_SLOTS];
	struct mps_guard guard;         /* allocator and directory */
	uint64_t heap_start, heap_end;  /* block area */
	uint64_t free_head;             /* first free block (block offset), sorted by offset */
	uint64_t free_bytes;
	uint32_t objects;               /* live objects */
	uint32_t names;                 /* live directory entries */
	uint64_t dir_offset;
	uint32_t dir_capacity;          /* power of two */
	uint32_t dir_used;              /* live + deleted slots */
	uint64_t doomed;                /* objects whose count reached 0, linked by next */
	uint64_t nursery;               /* unnamed objects being built, linked by next */
	mps_lock_t reaper;              /* held by whoever finishes doomed objects */
	uint32_t reserved1;
	uint64_t births;                /* objects ever created: the last one's serial */
};

_Static_assert(sizeof(struct mps_seg_header) <= MPS_SEG_HEADER_SIZE, "segment header");

/* Block header: size includes the header; FREE blocks link by offset. */
struct mps_block {
	uint64_t size_flags;            /* size | MPS_BLOCK_FREE */
	uint64_t next_free;             /* free: next free block offset; used: MPS_BLOCK_USED */
};
#define MPS_BLOCK_FREE 1ull
#define MPS_BLOCK_USED 0x4b434f4c42535055ull

struct mps_object {
	uint32_t magic;                 /* MPS_OBJ_MAGIC while alive */
	uint16_t kind;                  /* enum mps_kind */
	uint16_t flags;
	uint32_t refs;                  /* changed under the segment guard, journalled */
	uint32_t reserved;
	uint64_t self;                  /* payload offset of this object */
	uint64_t size;                  /* payload bytes after this header */
	uint64_t next;                  /* doomed or nursery list: next payload offset */
	uint64_t serial;                /* h->births at its creation: never reused */
};

_Static_assert(sizeof(struct mps_object) == 48, "object header");
_Static_assert(sizeof(struct mps_block) == 16, "block header");

static inline void *mps_seg_ptr(const struct mps_seg_header *h, uint64_t off)
{
	return (char *)h + off;
}

static inline uint64_t mps_seg_off(const struct mps_seg_header *h, const void *p)
{
	return (uint64_t)((const char *)p - (const char *)h);
}

/* The object header of a user pointer, and back. */
static inline struct mps_object *mps_obj_header(const void *payload)
{
	return (struct mps_object *)((char *)payload - sizeof(struct mps_object));
}

static inline void *mps_obj_payload(const struct mps_object *o)
{
	return (char *)o + sizeof(struct mps_object);
}

/* The segment of a live object (NULL if p is not one). */
struct mps_seg_header *mps_obj_segment(const void *payload);
/* The payload offset of an object, for storing references. */
static inline uint64_t mps_obj_offset(const void *payload)
{
	return mps_obj_header(payload)->self;
}
/* An object of h at payload offset off, NULL unless it is a live object. */
void *mps_obj_at(const struct mps_seg_header *h, uint64_t off);

/* Raw allocation under the segment lock (its own transaction). */
int  mps_seg_alloc(struct mps_seg_header *h, size_t size, uint64_t *off);
void mps_seg_free(struct mps_seg_header *h, uint64_t off);
/* Seg lock held: allocation steps journalled in the segment's journal. */
int  mps_heap_alloc_locked(struct mps_seg_header *h, size_t size, uint64_t *off);
void mps_heap_free_locked(struct mps_seg_header *h, uint64_t off);
void mps_heap_format(struct mps_seg_header *h, uint64_t start, uint64_t end);
/* Consistency walk (segment lock held): 0 or EBADMSG. */
int  mps_heap_check(struct mps_seg_header *h, uint64_t *used_blocks, uint64_t *free_blocks);
/* Takes the segment lock and begins its transaction, unless this thread
 * holds it already (then joins the running transaction); returns whether
 * it took it, for mps_seg_leave to commit and release. */
bool mps_seg_enter(struct mps_seg_header *h);
void mps_seg_leave(struct mps_seg_header *h, bool took);
/* Undoes the segment transaction this thread began and releases the lock. */
void mps_seg_abort(struct mps_seg_header *h);

/* Directory (directory.c); segment lock held, inside its transaction. */
uint32_t mps_dir_hash(const char *name);
struct mps_dir_entry *mps_dir_find(struct mps_seg_header *h, const char *name);
int  mps_dir_insert(struct mps_seg_header *h, const char *name, enum mps_kind kind,
                    uint64_t object);
void mps_dir_delete(struct mps_seg_header *h, struct mps_dir_entry *e);
uint32_t mps_dir_snapshot(struct mps_seg_header *h, struct mps_dir_entry *out, uint32_t max);

/* Creates or finds an object of kind in the directory. payload_size bytes
 * follow the object header, zero-filled; init (may be NULL) runs on a new
 * object before it becomes visible, with arg. *created says which happened.
 * name NULL: an unnamed object whose reference belongs to the caller. */
typedef int (*mps_obj_init_fn)(struct mps_seg_header *h, void *payload, void *arg);
int mps_seg_object(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                   enum mps_kind kind, size_t payload_size, mps_obj_init_fn init, void *arg,
                   void **out, bool *created);
/* The same from inside another object (dict_copy): unnamed, caller's ref. */
int mps_obj_new(struct mps_seg_header *h, enum mps_kind kind, size_t payload_size,
                mps_obj_init_fn init, void *arg, void **out);

/* Per-kind teardown of a doomed object, run by the reaper: drop the
 * references the object holds and free its extra blocks (its own block is
 * freed after). Resumable: run again after a reaper was killed in it, it
 * does exactly the rest. A container takes its own guard first, replaying
 * a dead updater's journal; no live thread can hold it, as nobody holds a
 * reference. */
void mps_value_teardown(struct mps_seg_header *h, void *payload);
void mps_queue_teardown(struct mps_seg_header *h, void *payload);
void mps_dict_teardown(struct mps_seg_header *h, void *payload);
void mps_list_teardown(struct mps_seg_header *h, void *payload);
void mps_namespace_teardown(struct mps_seg_header *h, void *payload);

/* Drops one reference to the object at payload offset off, then finishes
 * any doomed object (mps_obj_reap). */
void mps_obj_release_at(struct mps_seg_header *h, uint64_t off);
/* Segment guard held, inside its transaction: the count changes by a
 * journalled store, and a count reaching 0 puts the object on the doomed
 * list in the same transaction. retain: 0, EINVAL (not a live object),
 * ESTALE (count at 0: doomed). */
int  mps_obj_retain_locked(struct mps_seg_header *h, uint64_t off);
void mps_obj_release_locked(struct mps_seg_header *h, uint64_t off);
/* Finishes every doomed object (teardown, then its block freed) and dooms
 * the nursery objects whose builder died. Call holding no guard; returns at
 * once when there is nothing to do or when this thread is reaping already
 * or holds the segment guard (the loop it is inside of finishes the rest). */
void mps_obj_reap(struct mps_seg_header *h);
/* An unnamed object built over several transactions (copy): created with
 * its guard (a struct mps_guard at payload offset 0) held by this thread
 * and on the nursery list, so that a builder killed before mps_obj_adopt
 * leaves it to the reaper; mps_obj_adopt takes it off the list (the guard
 * stays held: the caller releases it after). */
int  mps_obj_nurse(struct mps_seg_header *h, enum mps_kind kind, size_t payload_size,
                   void **out);
void mps_obj_adopt(struct mps_seg_header *h, void *payload);
/* Takes one: EINVAL if off is not a live object, ESTALE once its count
 * reached 0 (a count is never raised from 0). */
int  mps_obj_retain_at(struct mps_seg_header *h, uint64_t off);

/* Liveness of pid if it still has start time start (segment.c; start time
 * from mps_process_start in owner.h). */
bool mps_process_alive(int pid, uint64_t start);

/* The header of a handle. */
struct mps_segment {
	struct mps_seg_header *h;
	size_t size;
	int anonymous;
	int slot;                       /* attach slot taken, -1 if none */
};

#endif
