/* dict, list and Namespace: Python's SyncManager containers in a segment.
 *
 * They hold typed values (mps_var_t): None, integers, floats, bytes, strings,
 * and references to other objects of the same segment (containers, queues,
 * values, locks...), so nesting works as in Python 3.6+: a dict holding a
 * list shares that list, it does not copy it. Storing a reference takes one
 * on the object; removing the slot drops it. A reference read out of a
 * container is the caller's: release it with mps_object_release.
 *
 * Keys (dict) are None, integers, floats, bytes or strings, equal when type
 * and bytes are equal (1 and 1.0 are different keys; no Python hashing).
 * Dicts keep insertion order. A list may hold itself; removing the last
 * outside reference to such a cycle leaks it rather than hang.
 *
 * Reading bytes/strings out: the caller passes a buffer; EMSGSIZE when it is
 * too small (var->len then says how large, nothing changes).
 *
 * Results: 0; ENOENT (KeyError / value not in list); ERANGE (IndexError);
 * ESTALE (container changed during iteration; or a REF stored to an object
 * whose reference count already reached 0, being destroyed: the container
 * is unchanged); EMSGSIZE; ENOSPC (segment
 * full; the container is unchanged); EINVAL (bad var, REF to an object of
 * another segment, REF as a key); EOWNERDEAD is never returned: a container
 * whose updater died is rolled back to its state before that update. */
#ifndef MPSYNC_CONTAINER_H
#define MPSYNC_CONTAINER_H

#include "segment.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mps_type { MPS_NONE = 0, MPS_INT, MPS_FLOAT, MPS_BYTES, MPS_STR, MPS_REF };

/* A value in the caller's memory. For MPS_BYTES/MPS_STR, data/len; a string
 * is UTF-8 without a terminating NUL in len (reads add one when it fits). */
typedef struct mps_var {
	enum mps_type type;
	int64_t i;
	double f;
	const void *data;
	size_t len;
	void *ref;            /* an object of the segment */
} mps_var_t;

static inline mps_var_t mps_none(void) { mps_var_t v = {MPS_NONE, 0, 0, 0, 0, 0}; return v; }
static inline mps_var_t mps_int(int64_t i) { mps_var_t v = {MPS_INT, i, 0, 0, 0, 0}; return v; }
static inline mps_var_t mps_float(double f) { mps_var_t v = {MPS_FLOAT, 0, f, 0, 0, 0}; return v; }
static inline mps_var_t mps_bytes(const void *p, size_t n) { mps_var_t v = {MPS_BYTES, 0, 0, p, n, 0}; return v; }
mps_var_t mps_str(const char *s);   /* strlen(s) bytes */
static inline mps_var_t mps_ref(void *object) { mps_var_t v = {MPS_REF, 0, 0, 0, 0, object}; return v; }

/* Equality as the containers use it (type and bytes; REF by identity). */
bool mps_var_equal(const mps_var_t *a, const mps_var_t *b);

/* A buffer that reads of bytes/strings copy into. */
typedef struct mps_out {
	void *buf;
	size_t cap;
} mps_out_t;

typedef struct mps_dict mps_dict_t;
typedef struct mps_list mps_list_t;
typedef struct mps_namespace mps_namespace_t;

int mps_segment_dict(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                     mps_dict_t **out);
int mps_segment_list(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                     mps_list_t **out);
int mps_segment_namespace(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                          mps_namespace_t **out);

/* dict (conformance §10.7-10.11) */
size_t mps_dict_len(mps_dict_t *d);
int  mps_dict_set(mps_dict_t *d, const mps_var_t *key, const mps_var_t *value);
int  mps_dict_get(mps_dict_t *d, const mps_var_t *key, mps_var_t *value, mps_out_t out);
bool mps_dict_contains(mps_dict_t *d, const mps_var_t *key);
int  mps_dict_del(mps_dict_t *d, const mps_var_t *key);
int  mps_dict_pop(mps_dict_t *d, const mps_var_t *key, mps_var_t *value, mps_out_t out);
/* The last inserted pair; ENOENT when empty. */
int  mps_dict_popitem(mps_dict_t *d, mps_var_t *key, mps_out_t key_out,
                      mps_var_t *value, mps_out_t value_out);
/* Stores dflt if key is absent; *value gets what the dict then holds. */
int  mps_dict_setdefault(mps_dict_t *d, const mps_var_t *key, const mps_var_t *dflt,
                         mps_var_t *value, mps_out_t out);
/* d.update(other) / d |= other: every pair of other, in its order. */
int  mps_dict_update(mps_dict_t *d, mps_dict_t *other);
int  mps_dict_clear(mps_dict_t *d);
/* Copies every pair of src into a new unnamed dict (plain copy semantics for
 * bytes; references are shared). The caller owns the new dict's reference. */
int  mps_dict_copy(mps_dict_t *src, mps_dict_t **out);

/* Iteration in insertion order: pos starts at 0 and is advanced; ENOENT at
 * the end; ESTALE when the dict changed size since the first step. */
typedef struct mps_dict_iter {
	mps_dict_t *dict;
	uint64_t version;
	size_t pos;
	bool reverse;
} mps_dict_iter_t;
void mps_dict_iter_begin(mps_dict_t *d, mps_dict_iter_t *it, bool reverse);
int  mps_dict_iter_next(mps_dict_iter_t *it, mps_var_t *key, mps_out_t key_out,
                        mps_var_t *value, mps_out_t value_out);

/* list (conformance §10.1-10.6). Indexes may be negative (from the end). */
size_t mps_list_len(mps_list_t *l);
int  mps_list_append(mps_list_t *l, const mps_var_t *value);
int  mps_list_insert(mps_list_t *l, int64_t index, const mps_var_t *value);  /* clamps like Python */
int  mps_list_get(mps_list_t *l, int64_t index, mps_var_t *value, mps_out_t out);
int  mps_list_set(mps_list_t *l, int64_t index, const mps_var_t *value);
int  mps_list_del(mps_list_t *l, int64_t index);
int  mps_list_pop(mps_list_t *l, int64_t index, mps_var_t *value, mps_out_t out);
int  mps_list_remove(mps_list_t *l, const mps_var_t *value);            /* first equal */
int  mps_list_index(mps_list_t *l, const mps_var_t *value, size_t *index);
size_t mps_list_count(mps_list_t *l, const mps_var_t *value);
bool mps_list_contains(mps_list_t *l, const mps_var_t *value);
int  mps_list_extend(mps_list_t *l, const mps_var_t *values, size_t n);
int  mps_list_extend_list(mps_list_t *l, mps_list_t *other);   /* l += other (other may be l) */
int  mps_list_repeat(mps_list_t *l, size_t times);             /* l *= times; 0 clears */
int  mps_list_reverse(mps_list_t *l);
/* Sorts INT/FLOAT by number, then BYTES/STR bytewise; EINVAL (unchanged)
 * for NONE/REF or mixed numbers and strings, as Python's TypeError. */
int  mps_list_sort(mps_list_t *l, bool reverse);
int  mps_list_clear(mps_list_t *l);
/* Slice [start, stop) clamped like Python's a[start:stop], into vars[]
 * (at most n; *got says how many); strings/bytes go to out, packed. */
int  mps_list_slice(mps_list_t *l, int64_t start, int64_t stop, mps_var_t *vars, size_t n,
                    size_t *got, mps_out_t out);
int  mps_list_copy(mps_list_t *src, mps_list_t **out);          /* new unnamed list */

/* Namespace (conformance §10.13): attributes by name. Names starting with
 * '_' are not shared (Python keeps them on the proxy): EINVAL. */
int  mps_namespace_set(mps_namespace_t *ns, const char *attr, const mps_var_t *value);
int  mps_namespace_get(mps_namespace_t *ns, const char *attr, mps_var_t *value, mps_out_t out);
int  mps_namespace_del(mps_namespace_t *ns, const char *attr);
bool mps_namespace_has(mps_namespace_t *ns, const char *attr);
size_t mps_namespace_len(mps_namespace_t *ns);
/* "Namespace(a=1, name='Bob')": public attributes sorted by name, values as
 * Python's repr would show them. ERANGE when cap is too small. */
int  mps_namespace_repr(mps_namespace_t *ns, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
