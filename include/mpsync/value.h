/* Value and Array: Python's multiprocessing.Value / Array (and RawValue /
 * RawArray) in a segment. Typecodes are those of Python's array module
 * except 'w', plus 'c' (one char):
 *
 *   c b B  1 byte     h H  2 bytes    i I f  4 bytes    u  4 bytes (wchar_t)
 *   l L q Q d  8 bytes
 *
 * Locking (Python's lock argument): MPS_SYNC_RLOCK gives the object its own
 * RLock (lock=True, the default); MPS_SYNC_NONE gives none (lock=False,
 * RawValue); MPS_SYNC_LOCK / MPS_SYNC_GIVEN_RLOCK use a Lock / RLock that
 * lives in the same segment (lock=<lock>). Every get and set takes the lock
 * for that one access, as Python's synchronized wrapper does; a
 * read-modify-write needs mps_value_acquire around it (Value.get_lock()).
 * A lock whose previous holder died makes get/set return EOWNERDEAD after
 * doing their work: the cell itself is always whole. */
#ifndef MPSYNC_VALUE_H
#define MPSYNC_VALUE_H

#include "segment.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mps_sync {
	MPS_SYNC_RLOCK = 0,      /* own RLock (default) */
	MPS_SYNC_NONE = 1,       /* raw */
	MPS_SYNC_LOCK = 2,       /* the given mps_lock_t */
	MPS_SYNC_GIVEN_RLOCK = 3,/* the given mps_rlock_t */
};

typedef struct mps_value mps_value_t;
typedef struct mps_array mps_array_t;

/* Bytes of one element of typecode, 0 if typecode is not valid. */
size_t mps_typecode_size(char typecode);

/* init: typecode_size bytes, or NULL for zero. lock: NULL unless sync is
 * MPS_SYNC_LOCK or MPS_SYNC_GIVEN_RLOCK; then an object of this segment.
 * EINVAL: bad typecode, or a lock missing, of the wrong kind or elsewhere.
 * ESTALE: the lock's reference count already reached 0 (it is being
 * destroyed; the new object would hold a lock about to be freed).
 * An existing name gives the existing object: typecode, length, init and
 * sync are not compared (as the primitives' parameters); its kind is. */
int mps_segment_value(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      char typecode, const void *init, enum mps_sync sync, void *lock,
                      mps_value_t **out);
/* length elements, from init (length elements) or zero-filled. */
int mps_segment_array(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      char typecode, size_t length, const void *init, enum mps_sync sync,
                      void *lock, mps_array_t **out);

char   mps_value_typecode(const mps_value_t *v);
int    mps_value_get(mps_value_t *v, void *out);          /* typecode_size bytes */
int    mps_value_set(mps_value_t *v, const void *in);
/* Conversions for the integer and float typecodes; EINVAL for 'c'/'u' on the
 * float calls; ERANGE (state unchanged) when the number does not fit. A
 * float read as int64 is truncated toward zero, as Python's int(); an
 * integer typecode takes whole numbers only. */
int    mps_value_get_i64(mps_value_t *v, int64_t *out);
int    mps_value_set_i64(mps_value_t *v, int64_t in);
int    mps_value_get_f64(mps_value_t *v, double *out);
int    mps_value_set_f64(mps_value_t *v, double in);
/* v += delta under the value's lock (ERANGE on overflow, unchanged).
 * Integer typecodes only (EINVAL otherwise). */
int    mps_value_add_i64(mps_value_t *v, int64_t delta, int64_t *result);
/* Value.get_lock(): acquire/release the value's lock (EINVAL when raw).
 * With a given (non-recursive) Lock, get/set inside acquire wait for
 * themselves, as in Python: use an RLock for read-modify-write blocks. */
int    mps_value_acquire(mps_value_t *v, double timeout);
int    mps_value_release(mps_value_t *v);
enum mps_sync mps_value_sync(const mps_value_t *v);
void  *mps_value_lock(mps_value_t *v);   /* the lock (mps_lock_t or mps_rlock_t), NULL if raw */

char   mps_array_typecode(const mps_array_t *a);
size_t mps_array_len(const mps_array_t *a);
/* ERANGE when index >= len. */
int    mps_array_get(mps_array_t *a, size_t index, void *out);
int    mps_array_set(mps_array_t *a, size_t index, const void *in);
/* Slices: elements [start, start + count); ERANGE past the end. One lock
 * acquisition for the whole slice. */
int    mps_array_read(mps_array_t *a, size_t start, size_t count, void *out);
int    mps_array_write(mps_array_t *a, size_t start, size_t count, const void *in);
int    mps_array_get_i64(mps_array_t *a, size_t index, int64_t *out);
int    mps_array_set_i64(mps_array_t *a, size_t index, int64_t in);
int    mps_array_acquire(mps_array_t *a, double timeout);
int    mps_array_release(mps_array_t *a);
enum mps_sync mps_array_sync(const mps_array_t *a);
void  *mps_array_lock(mps_array_t *a);

#ifdef __cplusplus
}
#endif

#endif
