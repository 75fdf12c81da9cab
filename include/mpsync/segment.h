/* Segments: a fixed-size shared memory area, named (POSIX shm, attached by
 * name from unrelated processes) or anonymous (inherited over fork), holding
 * an allocator and a directory of named objects. Python's SyncManager without
 * its server: objects are used in place, at memory speed.
 *
 * Every object in a segment is reached through a pointer into the caller's
 * own mapping; the segment itself holds offsets only, so each process may
 * map it at a different address. Objects carry their own offset, so the
 * functions of value.h, queue.h and container.h need no segment handle.
 *
 * Results follow SPEC §2: 0 or a positive errno value. Segment-specific:
 *   EEXIST        create-only, and the name exists
 *   ENOENT        open-only, and the name does not exist
 *   ENAMETOOLONG  a segment name over MPS_SEG_NAME_MAX, an object name over
 *                 MPS_OBJ_NAME_MAX
 *   ENOSPC        /dev/shm cannot hold the segment (found at creation, never
 *                 as SIGBUS later); or the segment's own space is used up
 *   EPROTO        not an mpsync segment, or another layout version
 *   EBADMSG       the header is corrupt (fields out of range)
 *   EAGAIN        the segment is still being initialised by a live creator
 *                 (after waiting 2 s for it to finish)
 *   ENOTRECOVERABLE  its creator died before finishing initialisation
 *   EXDEV         created in another PID namespace (owner tids would lie)
 *   EPROTOTYPE    an object of another kind exists under that name
 *   ESTALE        a reference asked for on an object whose count already
 *                 reached 0 (mps_object_retain, a REF stored in a
 *                 container, a Value given that lock): it is being destroyed
 */
#ifndef MPSYNC_SEGMENT_H
#define MPSYNC_SEGMENT_H

#include <stddef.h>
#include "common.h"
#include "lock.h"
#include "rlock.h"
#include "sem.h"
#include "event.h"
#include "cond.h"
#include "barrier.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MPS_SEG_NAME_MAX 200     /* bytes, without the leading '/' */
#define MPS_OBJ_NAME_MAX 63      /* bytes of an object name */
#define MPS_SEG_MIN_SIZE 65536   /* smallest segment */

/* A process-local handle (heap memory); the segment never points to it. */
typedef struct mps_segment mps_segment_t;

/* Segment names follow shm_open: "name" or "/name", no other '/'. */
int  mps_segment_create(const char *name, size_t size, mps_segment_t **out);
int  mps_segment_open(const char *name, mps_segment_t **out);
int  mps_segment_open_or_create(const char *name, size_t size, mps_segment_t **out);
/* MAP_SHARED|MAP_ANONYMOUS: shared with children forked after this call. */
int  mps_segment_create_anonymous(size_t size, mps_segment_t **out);
/* Unmaps and frees the handle; objects stay for the other processes. */
int  mps_segment_close(mps_segment_t *seg);
/* Removes the name; processes already attached keep their mapping. */
int  mps_segment_unlink(const char *name);

void  *mps_segment_base(const mps_segment_t *seg);
size_t mps_segment_size(const mps_segment_t *seg);
size_t mps_segment_free_bytes(mps_segment_t *seg);   /* sum of free blocks */

/* Kinds of objects a segment holds. */
enum mps_kind {
	MPS_KIND_NONE = 0,
	MPS_KIND_LOCK, MPS_KIND_RLOCK, MPS_KIND_SEMAPHORE, MPS_KIND_BOUNDED_SEMAPHORE,
	MPS_KIND_EVENT, MPS_KIND_CONDITION, MPS_KIND_BARRIER,
	MPS_KIND_VALUE, MPS_KIND_ARRAY, MPS_KIND_QUEUE, MPS_KIND_JOINABLE_QUEUE,
	MPS_KIND_DICT, MPS_KIND_LIST, MPS_KIND_NAMESPACE,
	MPS_KIND_COUNT
};
const char *mps_kind_name(enum mps_kind kind);

/* How a constructor treats an existing name. */
enum mps_open_mode {
	MPS_OPEN_OR_CREATE = 0,  /* find it, or create it if absent */
	MPS_CREATE_ONLY = 1,     /* EEXIST if it exists */
	MPS_OPEN_ONLY = 2,       /* ENOENT if it does not */
};

/* Object lifetime. Each object counts its references: a directory name holds
 * one, a container slot holding it holds one, and so does a caller that got
 * it from a container or from mps_segment_get or created it without a name
 * (release it with mps_object_release). When the count reaches 0 the object
 * is destroyed and its space reused. A pointer obtained by name (find, the
 * constructors) is valid while the name exists; to keep it longer, get it
 * with mps_segment_get, which takes the reference in the same step as the
 * lookup. mps_object_retain on a pointer you hold no reference to races
 * with its removal: it fails with ESTALE once the count reached 0 (the
 * object is being destroyed; a count is never raised from 0), but once the
 * block is reused the pointer names another object. */
int  mps_object_retain(void *object);
int  mps_object_release(void *object);
enum mps_kind mps_object_kind(const void *object);   /* MPS_KIND_NONE if not an object */
unsigned mps_object_refs(const void *object);
/* Which object this is: a number its segment gave it at creation (1, 2, ...)
 * and never gives again, so that with the object's offset it names this
 * object and no later one made in the same space. 0 if not an object. */
uint64_t mps_object_serial(const void *object);

/* Looks a name up: the object and its kind. ENOENT if absent. */
int  mps_segment_find(mps_segment_t *seg, const char *name, void **object, enum mps_kind *kind);
/* The same, and the object comes retained (the caller releases it): the
 * lookup and the reference are one step under the segment lock, so the
 * object stays valid after its name is removed. ENOENT if absent. */
int  mps_segment_get(mps_segment_t *seg, const char *name, void **object, enum mps_kind *kind);
/* An object by place instead of name, retained (the caller releases it):
 * the one at payload offset `offset` (object - mps_segment_base) whose serial
 * is `serial`, looked up and retained in one step under the segment lock, as
 * another process rebuilds a reference it was sent (Python's pickles).
 * ENOENT when no live object with that serial is there (destroyed, or its
 * space reused by another); EINVAL for a NULL argument or serial 0. */
int  mps_segment_retain_at(mps_segment_t *seg, uint64_t offset, uint64_t serial, void **object,
                           enum mps_kind *kind);
/* Drops the name (and its reference). ENOENT if absent. */
int  mps_segment_remove(mps_segment_t *seg, const char *name);

/* The primitives of SPEC §3, by name. A NULL name creates an unnamed object
 * (its reference belongs to the caller). Parameters of an existing object
 * are not compared; its kind is (EPROTOTYPE). */
int mps_segment_lock(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                     mps_lock_t **out);
int mps_segment_rlock(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      mps_rlock_t **out);
int mps_segment_semaphore(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                          unsigned value, mps_sem_t **out);
int mps_segment_bounded_semaphore(mps_segment_t *seg, const char *name,
                                  enum mps_open_mode mode, unsigned value, mps_sem_t **out);
int mps_segment_event(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      mps_event_t **out);
int mps_segment_condition(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                          mps_cond_t **out);
int mps_segment_barrier(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                        unsigned parties, double timeout, mps_barrier_t **out);

/* Visiting every named object (for the mpsync tool and for tests). The
 * callback runs without any segment lock held; return non-zero to stop. */
typedef int (*mps_segment_visit_fn)(const char *name, enum mps_kind kind, void *object,
                                    void *arg);
int mps_segment_foreach(mps_segment_t *seg, mps_segment_visit_fn fn, void *arg);

/* What the header says (mpsync show). */
struct mps_segment_info {
	uint32_t layout_version;
	uint64_t size;
	int32_t  creator_pid;
	uint64_t creator_start;       /* creator's start time, clock ticks since boot */
	bool     creator_alive;       /* that process (pid and start time) still runs */
	uint64_t pid_namespace;       /* inode of the creator's /proc/self/ns/pid */
	int64_t  created_unix_ns;     /* CLOCK_REALTIME at creation, for display */
	uint64_t free_bytes;
	uint32_t objects;             /* live objects, named or not */
	uint32_t names;               /* directory entries */
	uint32_t attached;            /* processes recorded as attached and alive */
	int32_t  attached_pids[32];   /* the first of them */
};
int mps_segment_info(mps_segment_t *seg, struct mps_segment_info *info);

#ifdef __cplusplus
}
#endif

#endif
