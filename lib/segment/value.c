/* Value and Array: typed cells in a segment object, with Python's lock
 * options (value.h).
 *
 * Payload (after the 32-byte object header, so the cells are 16-aligned):
 *
 *   typecode  u8    one of "cbBuhHiIlLqQfd", fixed at creation
 *   tc        u8    its index in typecodes[] (no search on the fast path)
 *   reserved  u16
 *   sync      u32   enum mps_sync, fixed at creation
 *   length    u64   elements (1 for a Value), fixed at creation
 *   lock      u64   payload offset of the given Lock/RLock object, else 0
 *   own       mps_rlock_t   the RLock of MPS_SYNC_RLOCK (zero bytes: unlocked)
 *   cells     length * size bytes, padded to 8
 *
 * Only the cells ever change. Protocol: every get/set/slice takes the
 * object's lock (own, or given) for that one access and drops it, as
 * Python's synchronized wrapper does; raw objects take none. Each element is
 * read and written with one relaxed atomic access of its own size (cells are
 * naturally aligned), so a raw reader never sees a torn element and a
 * process killed inside a slice leaves every element either old or new. The
 * lock is what makes multi-element and read-modify-write operations atomic;
 * nothing is journalled, as in Python: a holder that dies mid-slice leaves a
 * half-written slice and the next locker learns it from EOWNERDEAD, which
 * get/set pass on after doing their own work (a bad-input error such as
 * ERANGE wins over it: the caller must learn that nothing was written).
 * Raw add_i64 is a compare-and-swap loop on the element.
 *
 * Lifetime: a given lock is an object of the same segment; the value holds a
 * reference to it (taken just before the creation transaction by the CAS
 * that never raises a count from 0: ESTALE for a lock being destroyed;
 * given back unless a new value adopted it; dropped in teardown), so
 * removing the lock's name cannot free it under the value. A creator killed
 * between the two leaks one reference of the lock. Reopening an
 * existing name returns the existing object as it is: typecode, length, sync
 * and init are not compared (like the primitives' parameters); its kind is
 * (EPROTOTYPE). Arguments are still checked first (EINVAL).
 *
 * A given Lock is not recursive: get/set inside mps_value_acquire on such a
 * value wait for themselves forever, exactly as in Python; use the own RLock
 * (the default) or a given RLock for read-modify-write blocks.
 *
 * Nothing sleeps here except inside the lock calls; the uncontended path is
 * the lock's CAS, the element access and the release: no syscall. */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include <mpsync/value.h>
#include "../../arch/atomic.h"
#include "seg.h"

struct cells {
	char typecode;
	uint8_t tc;
	uint16_t reserved;
	uint32_t sync;
	uint64_t length;
	uint64_t lock;
	mps_rlock_t own;
	uint64_t data[];
};

_Static_assert(sizeof(struct cells) == 32, "Value/Array payload header");

enum tc_class { TC_SIGNED, TC_UNSIGNED, TC_FLOAT, TC_CHAR, TC_WCHAR };

struct tc_info {
	char code;
	unsigned char size;
	unsigned char cls;
};

static const struct tc_info typecodes[] = {
	{ 'c', 1, TC_CHAR }, { 'b', 1, TC_SIGNED }, { 'B', 1, TC_UNSIGNED },
	{ 'u', 4, TC_WCHAR }, { 'h', 2, TC_SIGNED }, { 'H', 2, TC_UNSIGNED },
	{ 'i', 4, TC_SIGNED }, { 'I', 4, TC_UNSIGNED }, { 'l', 8, TC_SIGNED },
	{ 'L', 8, TC_UNSIGNED }, { 'q', 8, TC_SIGNED }, { 'Q', 8, TC_UNSIGNED },
	{ 'f', 4, TC_FLOAT }, { 'd', 8, TC_FLOAT },
};

#define N_TYPECODES (sizeof typecodes / sizeof typecodes[0])

static const struct tc_info *tc_find(char code)
{
	for (size_t i = 0; i < N_TYPECODES; i++)
		if (typecodes[i].code == code)
			return &typecodes[i];
	return NULL;
}

size_t mps_typecode_size(char typecode)
{
	const struct tc_info *t = tc_find(typecode);
	return t ? t->size : 0;
}

/* ---- element access: one relaxed atomic of the element's size ---- */

static uint64_t load_bits(const void *cell, size_t size)
{
	switch (size) {
	case 1: return atomic_load_explicit((_Atomic uint8_t *)cell, memory_order_relaxed);
	case 2: return atomic_load_explicit((_Atomic uint16_t *)cell, memory_order_relaxed);
	case 4: return atomic_load_explicit((_Atomic uint32_t *)cell, memory_order_relaxed);
	default: return atomic_load_explicit((_Atomic uint64_t *)cell, memory_order_relaxed);
	}
}

static void store_bits(void *cell, size_t size, uint64_t bits)
{
	switch (size) {
	case 1: atomic_store_explicit((_Atomic uint8_t *)cell, (uint8_t)bits, memory_order_relaxed); break;
	case 2: atomic_store_explicit((_Atomic uint16_t *)cell, (uint16_t)bits, memory_order_relaxed); break;
	case 4: atomic_store_explicit((_Atomic uint32_t *)cell, (uint32_t)bits, memory_order_relaxed); break;
	default: atomic_store_explicit((_Atomic uint64_t *)cell, bits, memory_order_relaxed); break;
	}
}

/* Replaces old by new; false when the element no longer holds old. */
static bool cas_bits(void *cell, size_t size, uint64_t old, uint64_t new)
{
	switch (size) {
	case 1:
	case 2:
		return a_cas_narrow(cell, (unsigned)size, (uint32_t)old, (uint32_t)new);
	case 4:
		return a_cas(cell, (uint32_t)old, (uint32_t)new) == (uint32_t)old;
	default:
		return a_cas64(cell, old, new) == old;
	}
}

/* Caller's (possibly unaligned) memory and the bits of one element. */
static uint64_t mem_bits(const void *p, size_t size)
{
	uint8_t b1; uint16_t b2; uint32_t b4; uint64_t b8;
	switch (size) {
	case 1: memcpy(&b1, p, 1); return b1;
	case 2: memcpy(&b2, p, 2); return b2;
	case 4: memcpy(&b4, p, 4); return b4;
	default: memcpy(&b8, p, 8); return b8;
	}
}

static void bits_mem(void *p, size_t size, uint64_t bits)
{
	uint8_t b1 = (uint8_t)bits; uint16_t b2 = (uint16_t)bits; uint32_t b4 = (uint32_t)bits;
	switch (size) {
	case 1: memcpy(p, &b1, 1); break;
	case 2: memcpy(p, &b2, 2); break;
	case 4: memcpy(p, &b4, 4); break;
	default: memcpy(p, &bits, 8); break;
	}
}

/* ---- conversions between element bits and int64/double ---- */

static double bits_double(const struct tc_info *t, uint64_t bits)
{
	if (t->size == 4) {
		float f;
		uint32_t b = (uint32_t)bits;
		memcpy(&f, &b, 4);
		return f;
	}
	double d;
	memcpy(&d, &bits, 8);
	return d;
}

static uint64_t double_bits(const struct tc_info *t, double d)
{
	if (t->size == 4) {
		float f = (float)d;
		uint32_t b;
		memcpy(&b, &f, 4);
		return b;
	}
	uint64_t b;
	memcpy(&b, &d, 8);
	return b;
}

static int64_t sign_extend(uint64_t bits, size_t size)
{
	unsigned shift = 64 - 8 * (unsigned)size;
	return (int64_t)(bits << shift) >> shift;
}

/* Truncation toward zero, like Python's int(x); ERANGE for NaN, inf and
 * numbers outside int64. */
static int double_i64(double d, int64_t *out)
{
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
		return ERANGE;
	*out = (int64_t)d;
	return 0;
}

static int bits_i64(const struct tc_info *t, uint64_t bits, int64_t *out)
{
	switch (t->cls) {
	case TC_SIGNED:
		*out = sign_extend(bits, t->size);
		return 0;
	case TC_FLOAT:
		return double_i64(bits_double(t, bits), out);
	default:   /* unsigned, 'c' byte, 'u' code unit */
		if (bits > INT64_MAX)
			return ERANGE;
		*out = (int64_t)bits;
		return 0;
	}
}

static uint64_t unsigned_max(size_t size)
{
	return size == 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
}

/* 'u' holds a code point (wchar_t is 32-bit UCS-4 on Linux). */
#define WCHAR_MAX_CODE 0x10ffff

static int i64_bits(const struct tc_info *t, int64_t i, uint64_t *bits)
{
	switch (t->cls) {
	case TC_SIGNED:
		if (t->size < 8) {
			int64_t lim = (int64_t)1 << (8 * t->size - 1);
			if (i < -lim || i >= lim)
				return ERANGE;
		}
		*bits = (uint64_t)i & unsigned_max(t->size);
		return 0;
	case TC_FLOAT:
		*bits = double_bits(t, (double)i);   /* rounds, as Python's float(int) */
		return 0;
	default:
		if (i < 0 || (uint64_t)i > (t->cls == TC_WCHAR ? WCHAR_MAX_CODE : unsigned_max(t->size)))
			return ERANGE;
		*bits = (uint64_t)i;
		return 0;
	}
}

static int bits_f64(const struct tc_info *t, uint64_t bits, double *out)
{
	switch (t->cls) {
	case TC_FLOAT:    *out = bits_double(t, bits); return 0;
	case TC_SIGNED:   *out = (double)sign_extend(bits, t->size); return 0;
	case TC_UNSIGNED: *out = (double)bits; return 0;
	default:          return EINVAL;
	}
}

/* Integer elements take only whole numbers in range (Python refuses to store
 * 2.5 in a c_int); 'f' refuses finite numbers beyond FLT_MAX, as struct.pack
 * does, and keeps inf and NaN. */
static int f64_bits(const struct tc_info *t, double d, uint64_t *bits)
{
	if (t->cls == TC_CHAR || t->cls == TC_WCHAR)
		return EINVAL;
	if (t->cls == TC_FLOAT) {
		if (t->size == 4 && isfinite(d) && fabs(d) > FLT_MAX)
			return ERANGE;
		*bits = double_bits(t, d);
		return 0;
	}
	if (d != trunc(d))
		return ERANGE;   /* NaN and fractions */
	if (t->cls == TC_UNSIGNED && d >= 9223372036854775808.0) {
		if (d >= 18446744073709551616.0 || d > (double)unsigned_max(t->size))
			return ERANGE;
		*bits = (uint64_t)d;
		return 0;
	}
	int64_t i;
	if (double_i64(d, &i))
		return ERANGE;
	return i64_bits(t, i, bits);
}

/* ---- objects ---- */

/* The cells of a live object of kind, NULL for anything else; fields that
 * index or point are range-checked so that a stray pointer gets EINVAL. */
static struct cells *cells_of(const void *p, enum mps_kind kind)
{
	if (!p)
		return NULL;
	const struct mps_object *o = mps_obj_header(p);
	struct cells *c = (struct cells *)(void *)p;
	if (o->magic != MPS_OBJ_MAGIC || o->kind != kind || c->tc >= N_TYPECODES)
		return NULL;
	if (c->sync > MPS_SYNC_GIVEN_RLOCK || (c->sync >= MPS_SYNC_LOCK) != (c->lock != 0))
		return NULL;
	return c;
}

static const struct tc_info *tc_of(const struct cells *c)
{
	return &typecodes[c->tc];
}

static void *cell_at(struct cells *c, size_t index)
{
	return (char *)c->data + index * tc_of(c)->size;
}

/* The given lock object; the object header's self offset gives the base. */
static void *given_lock(struct cells *c)
{
	char *base = (char *)c - mps_obj_header(c)->self;
	return base + c->lock;
}

/* 0 or EOWNERDEAD: the lock is held (none is for raw); else not held. */
static int take_lock(struct cells *c, double timeout)
{
	switch (c->sync) {
	case MPS_SYNC_NONE:  return 0;
	case MPS_SYNC_RLOCK: return mps_rlock_acquire(&c->own, timeout);
	case MPS_SYNC_LOCK:  return mps_lock_acquire(given_lock(c), timeout);
	default:             return mps_rlock_acquire(given_lock(c), timeout);
	}
}

static int drop_lock(struct cells *c)
{
	switch (c->sync) {
	case MPS_SYNC_NONE:  return 0;
	case MPS_SYNC_RLOCK: return mps_rlock_release(&c->own);
	case MPS_SYNC_LOCK:  return mps_lock_release(given_lock(c));
	default:             return mps_rlock_release(given_lock(c));
	}
}

/* The two keep errno as the caller left it (SPEC §2): futex calls and
 * owner probes underneath may change it. */
static int take(struct cells *c, double timeout)
{
	int saved = errno;
	int r = take_lock(c, timeout);
	errno = saved;
	return r;
}

static int drop(struct cells *c)
{
	int saved = errno;
	int r = drop_lock(c);
	errno = saved;
	return r;
}

/* take's result: whether the lock is held now. */
static bool held(int lk)
{
	return !lk || lk == EOWNERDEAD;
}

/* Drops the lock after an access: the access's own error first (the
 * caller must learn that nothing was written), then EOWNERDEAD. */
static int finish(struct cells *c, int err, int lk)
{
	drop(c);
	return err ? err : lk;
}

static int read_cells(struct cells *c, size_t start, size_t count, void *out)
{
	size_t size = tc_of(c)->size;
	for (size_t i = 0; i < count; i++)
		bits_mem((char *)out + i * size, size, load_bits(cell_at(c, start + i), size));
	return 0;
}

static int write_cells(struct cells *c, size_t start, size_t count, const void *in)
{
	size_t size = tc_of(c)->size;
	for (size_t i = 0; i < count; i++)
		store_bits(cell_at(c, start + i), size, mem_bits((const char *)in + i * size, size));
	return 0;
}

static int store_one(struct cells *c, size_t index, uint64_t bits)
{
	store_bits(cell_at(c, index), tc_of(c)->size, bits);
	return 0;
}

/* *out is written only on success. */
static int get_i64(struct cells *c, size_t index, int64_t *out)
{
	const struct tc_info *t = tc_of(c);
	int64_t v;
	int err = bits_i64(t, load_bits(cell_at(c, index), t->size), &v);
	if (!err)
		*out = v;
	return err;
}

static int get_f64(struct cells *c, size_t index, double *out)
{
	const struct tc_info *t = tc_of(c);
	double v;
	int err = bits_f64(t, load_bits(cell_at(c, index), t->size), &v);
	if (!err)
		*out = v;
	return err;
}

/* One attempt at element += delta; EAGAIN when a raw element changed under
 * the compare-and-swap. */
static int add_once(struct cells *c, int64_t delta, int64_t *result)
{
	const struct tc_info *t = tc_of(c);
	void *cell = cell_at(c, 0);
	uint64_t old = load_bits(cell, t->size), bits;
	int64_t cur, sum;
	int err = bits_i64(t, old, &cur);
	if (err)
		return err;
	if (__builtin_add_overflow(cur, delta, &sum) || i64_bits(t, sum, &bits))
		return ERANGE;
	if (c->sync == MPS_SYNC_NONE) {
		if (!cas_bits(cell, t->size, old, bits))
			return EAGAIN;
	} else {
		store_bits(cell, t->size, bits);
	}
	if (result)
		*result = sum;
	return 0;
}

static int add_loop(struct cells *c, int64_t delta, int64_t *result)
{
	int err;
	while ((err = add_once(c, delta, result)) == EAGAIN) {
	}
	return err;
}

/* ---- creation ---- */

struct cells_init {
	const struct tc_info *t;
	enum mps_sync sync;
	size_t length;
	const void *init;
	uint64_t lock;
};

static enum mps_kind lock_kind(enum mps_sync sync)
{
	return sync == MPS_SYNC_LOCK ? MPS_KIND_LOCK : MPS_KIND_RLOCK;
}

/* Runs inside the creation transaction (segment lock held). The given
 * lock's reference was taken before it (make_cells): the new Value adopts
 * it; the segment journal holds stores only. */
static int init_cells(struct mps_seg_header *h, void *payload, void *arg)
{
	struct cells_init *a = arg;
	struct cells *c = payload;
	/* The given lock's reference is taken inside the creation transaction:
	 * a creator killed anywhere leaves both the Value and the reference,
	 * or neither. ESTALE at count 0; EINVAL if its block was reused by
	 * another kind (the retain is then undone with the creation). */
	if (a->lock) {
		int r = mps_obj_retain_locked(h, a->lock);
		if (r)
			return r;
		if (mps_object_kind(mps_seg_ptr(h, a->lock)) != lock_kind(a->sync))
			return EINVAL;
	}
	c->typecode = a->t->code;
	c->tc = (uint8_t)(a->t - typecodes);
	c->sync = (uint32_t)a->sync;
	c->length = a->length;
	c->lock = a->lock;
	if (a->init)
		memcpy(c->data, a->init, a->length * a->t->size);
	return 0;
}

/* The payload offset of a Lock/RLock object of seg matching sync; 0 when
 * there is none to check (raw, own RLock) and the lock is NULL as it must
 * be. The pointer is checked by address before anything is read through it,
 * so a pointer into other memory is refused, not followed. */
static int lock_offset(mps_segment_t *seg, enum mps_sync sync, void *lock, uint64_t *off)
{
	*off = 0;
	if (sync == MPS_SYNC_RLOCK || sync == MPS_SYNC_NONE)
		return lock ? EINVAL : 0;
	if (sync != MPS_SYNC_LOCK && sync != MPS_SYNC_GIVEN_RLOCK)
		return EINVAL;
	struct mps_seg_header *h = mps_segment_base(seg);
	uintptr_t base = (uintptr_t)h, p = (uintptr_t)lock;
	if (!lock || p <= base || p >= base + mps_segment_size(seg))
		return EINVAL;
	uint64_t o = (uint64_t)(p - base);
	if (mps_obj_at(h, o) != lock || mps_object_kind(lock) != lock_kind(sync))
		return EINVAL;
	*off = o;
	return 0;
}

static int make_cells(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      enum mps_kind kind, char typecode, size_t length, const void *init,
                      enum mps_sync sync, void *lock, void **out)
{
	struct cells_init a = { tc_find(typecode), sync, length, init, 0 };
	if (!seg || !out || !a.t)
		return EINVAL;
	int err = lock_offset(seg, sync, lock, &a.lock);
	if (err)
		return err;
	size_t bytes;
	if (__builtin_mul_overflow(length, (size_t)a.t->size, &bytes) || bytes > SIZE_MAX - 64)
		return ENOSPC;
	size_t payload = sizeof(struct cells) + ((bytes + 7) & ~(size_t)7);
	return mps_seg_object(seg, name, mode, kind, payload, init_cells, &a, out, NULL);
}

int mps_segment_value(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      char typecode, const void *init, enum mps_sync sync, void *lock,
                      mps_value_t **out)
{
	return make_cells(seg, name, mode, MPS_KIND_VALUE, typecode, 1, init, sync, lock,
	                  (void **)out);
}

int mps_segment_array(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      char typecode, size_t length, const void *init, enum mps_sync sync,
                      void *lock, mps_array_t **out)
{
	return make_cells(seg, name, mode, MPS_KIND_ARRAY, typecode, length, init, sync, lock,
	                  (void **)out);
}

/* The given Lock's reference and the word that holds it go in one
 * segment transaction: a reaper killed before it leaves both, after it
 * neither. */
void mps_value_teardown(struct mps_seg_header *h, void *payload)
{
	struct cells *c = payload;
	bool took = mps_seg_enter(h);
	if (c->lock) {
		mps_obj_release_locked(h, c->lock);
		mps_journal_store64(h, &h->guard.journal, &c->lock, 0);
	}
	mps_seg_leave(h, took);
}

/* ---- shared by Value and Array: c is NULL for a bad handle ---- */

static bool in_range(const struct cells *c, size_t start, size_t count)
{
	return start <= c->length && count <= c->length - start;
}

/* EINVAL for a bad handle or a missing buffer, ERANGE for elements past the
 * end: found before any lock is taken. */
static int check(const struct cells *c, size_t start, size_t count, bool has_buf)
{
	if (!c || (!has_buf && count))
		return EINVAL;
	return in_range(c, start, count) ? 0 : ERANGE;
}

static int cells_read(struct cells *c, size_t start, size_t count, void *out)
{
	int err = check(c, start, count, out != NULL);
	if (err)
		return err;
	int lk = take(c, MPS_FOREVER);
	if (!held(lk))
		return lk;
	return finish(c, read_cells(c, start, count, out), lk);
}

static int cells_write(struct cells *c, size_t start, size_t count, const void *in)
{
	int err = check(c, start, count, in != NULL);
	if (err)
		return err;
	int lk = take(c, MPS_FOREVER);
	if (!held(lk))
		return lk;
	return finish(c, write_cells(c, start, count, in), lk);
}

static int cells_get_i64(struct cells *c, size_t index, int64_t *out)
{
	int err = check(c, index, 1, out != NULL);
	if (err)
		return err;
	int lk = take(c, MPS_FOREVER);
	if (!held(lk))
		return lk;
	return finish(c, get_i64(c, index, out), lk);
}

/* The conversion is checked before locking: a refused number never waits. */
static int cells_set_i64(struct cells *c, size_t index, int64_t in)
{
	uint64_t bits;
	int err = check(c, index, 1, true);
	if (!err)
		err = i64_bits(tc_of(c), in, &bits);
	if (err)
		return err;
	int lk = take(c, MPS_FOREVER);
	if (!held(lk))
		return lk;
	return finish(c, store_one(c, index, bits), lk);
}

static int cells_acquire(struct cells *c, double timeout)
{
	if (!c || c->sync == MPS_SYNC_NONE)
		return EINVAL;
	return take(c, timeout);
}

static int cells_release(struct cells *c)
{
	if (!c || c->sync == MPS_SYNC_NONE)
		return EINVAL;
	return drop(c);
}

static void *cells_lock(struct cells *c)
{
	if (!c || c->sync == MPS_SYNC_NONE)
		return NULL;
	return c->sync == MPS_SYNC_RLOCK ? (void *)&c->own : given_lock(c);
}

/* ---- Value ---- */

static struct cells *value_cells(const mps_value_t *v)
{
	return cells_of(v, MPS_KIND_VALUE);
}

char mps_value_typecode(const mps_value_t *v)
{
	const struct cells *c = value_cells(v);
	return c ? c->typecode : 0;
}

int mps_value_get(mps_value_t *v, void *out)
{
	return cells_read(value_cells(v), 0, 1, out);
}

int mps_value_set(mps_value_t *v, const void *in)
{
	return cells_write(value_cells(v), 0, 1, in);
}

int mps_value_get_i64(mps_value_t *v, int64_t *out)
{
	return cells_get_i64(value_cells(v), 0, out);
}

int mps_value_set_i64(mps_value_t *v, int64_t in)
{
	return cells_set_i64(value_cells(v), 0, in);
}

int mps_value_get_f64(mps_value_t *v, double *out)
{
	struct cells *c = value_cells(v);
	int err = check(c, 0, 1, out != NULL);
	if (err)
		return err;
	if (tc_of(c)->cls == TC_CHAR || tc_of(c)->cls == TC_WCHAR)
		return EINVAL;
	int lk = take(c, MPS_FOREVER);
	if (!held(lk))
		return lk;
	return finish(c, get_f64(c, 0, out), lk);
}

int mps_value_set_f64(mps_value_t *v, double in)
{
	struct cells *c = value_cells(v);
	uint64_t bits;
	int err = check(c, 0, 1, true);
	if (!err)
		err = f64_bits(tc_of(c), in, &bits);
	if (err)
		return err;
	int lk = take(c, MPS_FOREVER);
	if (!held(lk))
		return lk;
	return finish(c, store_one(c, 0, bits), lk);
}

/* Integer typecodes only: Python refuses += on c_char and c_wchar, and a
 * float Value is read-modify-written with acquire + get_f64/set_f64. */
int mps_value_add_i64(mps_value_t *v, int64_t delta, int64_t *result)
{
	struct cells *c = value_cells(v);
	if (!c || (tc_of(c)->cls != TC_SIGNED && tc_of(c)->cls != TC_UNSIGNED))
		return EINVAL;
	int lk = take(c, MPS_FOREVER);
	if (!held(lk))
		return lk;
	return finish(c, add_loop(c, delta, result), lk);
}

int mps_value_acquire(mps_value_t *v, double timeout)
{
	return cells_acquire(value_cells(v), timeout);
}

int mps_value_release(mps_value_t *v)
{
	return cells_release(value_cells(v));
}

enum mps_sync mps_value_sync(const mps_value_t *v)
{
	const struct cells *c = value_cells(v);
	return c ? (enum mps_sync)c->sync : MPS_SYNC_NONE;
}

void *mps_value_lock(mps_value_t *v)
{
	return cells_lock(value_cells(v));
}

/* ---- Array ---- */

static struct cells *array_cells(const mps_array_t *a)
{
	return cells_of(a, MPS_KIND_ARRAY);
}

char mps_array_typecode(const mps_array_t *a)
{
	const struct cells *c = array_cells(a);
	return c ? c->typecode : 0;
}

size_t mps_array_len(const mps_array_t *a)
{
	const struct cells *c = array_cells(a);
	return c ? c->length : 0;
}

int mps_array_get(mps_array_t *a, size_t index, void *out)
{
	return cells_read(array_cells(a), index, 1, out);
}

int mps_array_set(mps_array_t *a, size_t index, const void *in)
{
	return cells_write(array_cells(a), index, 1, in);
}

int mps_array_read(mps_array_t *a, size_t start, size_t count, void *out)
{
	return cells_read(array_cells(a), start, count, out);
}

int mps_array_write(mps_array_t *a, size_t start, size_t count, const void *in)
{
	return cells_write(array_cells(a), start, count, in);
}

int mps_array_get_i64(mps_array_t *a, size_t index, int64_t *out)
{
	return cells_get_i64(array_cells(a), index, out);
}

int mps_array_set_i64(mps_array_t *a, size_t index, int64_t in)
{
	return cells_set_i64(array_cells(a), index, in);
}

int mps_array_acquire(mps_array_t *a, double timeout)
{
	return cells_acquire(array_cells(a), timeout);
}

int mps_array_release(mps_array_t *a)
{
	return cells_release(array_cells(a));
}

enum mps_sync mps_array_sync(const mps_array_t *a)
{
	const struct cells *c = array_cells(a);
	return c ? (enum mps_sync)c->sync : MPS_SYNC_NONE;
}

void *mps_array_lock(mps_array_t *a)
{
	return cells_lock(array_cells(a));
}
