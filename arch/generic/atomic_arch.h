/* Generic C11 atomics: the fallback for any architecture, and the path that
 * sanitizer builds use so ThreadSanitizer sees every atomic operation.
 * Objects keep plain uint32_t/uint64_t words (the public headers stay free of
 * _Atomic); the casts below are how C11 code operates on such words. */
#include <stdatomic.h>

#define A32(p) ((_Atomic uint32_t *)(p))
#define A64(p) ((_Atomic uint64_t *)(p))

#define a_load a_load
static inline uint32_t a_load(const uint32_t *p)
{ return atomic_load_explicit(A32(p), memory_order_acquire); }

#define a_load_relaxed a_load_relaxed
static inline uint32_t a_load_relaxed(const uint32_t *p)
{ return atomic_load_explicit(A32(p), memory_order_relaxed); }

#define a_store a_store
static inline void a_store(uint32_t *p, uint32_t v)
{ atomic_store_explicit(A32(p), v, memory_order_release); }

#define a_cas a_cas
static inline uint32_t a_cas(uint32_t *p, uint32_t expected, uint32_t desired)
{
	atomic_compare_exchange_strong_explicit(A32(p), &expected, desired,
		memory_order_seq_cst, memory_order_acquire);
	return expected;
}

#define a_swap a_swap
static inline uint32_t a_swap(uint32_t *p, uint32_t v)
{ return atomic_exchange_explicit(A32(p), v, memory_order_seq_cst); }

#define a_fetch_add a_fetch_add
static inline uint32_t a_fetch_add(uint32_t *p, uint32_t v)
{ return atomic_fetch_add_explicit(A32(p), v, memory_order_seq_cst); }

#define a_fetch_or a_fetch_or
static inline uint32_t a_fetch_or(uint32_t *p, uint32_t v)
{ return atomic_fetch_or_explicit(A32(p), v, memory_order_seq_cst); }

#define a_load64 a_load64
static inline uint64_t a_load64(const uint64_t *p)
{ return atomic_load_explicit(A64(p), memory_order_acquire); }

#define a_cas64 a_cas64
static inline uint64_t a_cas64(uint64_t *p, uint64_t expected, uint64_t desired)
{
	atomic_compare_exchange_strong_explicit(A64(p), &expected, desired,
		memory_order_seq_cst, memory_order_acquire);
	return expected;
}

#define a_fetch_add64 a_fetch_add64
static inline uint64_t a_fetch_add64(uint64_t *p, uint64_t v)
{ return atomic_fetch_add_explicit(A64(p), v, memory_order_seq_cst); }

#undef A32
#undef A64
