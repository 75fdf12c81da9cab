/* arch/atomic.h: the one atomic layer of mpsync, in the manner of musl.
 *
 * Each arch/<arch>/atomic_arch.h defines only what its CPU does natively and
 * announces every operation with "#define a_x a_x". This file picks the
 * header and derives the rest, so lib/ can rely on this full set:
 *
 *   a_load, a_load64        acquire load
 *   a_load_relaxed          relaxed load (spin loops, owner-only fields)
 *   a_store                 release store
 *   a_cas, a_cas64          compare-and-swap, returns the old value
 *   a_cas_narrow            compare-and-swap of a byte or halfword (true when
 *                           it swapped), on the 32-bit word that holds it
 *   a_swap, a_fetch_add, a_fetch_or, a_fetch_add64
 *   a_spin                  pause hint for a spin loop
 *   a_cycles                cheap monotonic counter for time-bounded spinning
 *
 * Read-modify-write operations are sequentially consistent (acquire+release
 * at least, which is what the protocols in lib/ need; docs/design.md says why).
 * Sanitizer builds and MPS_ARCH_GENERIC take the C11 path so that
 * ThreadSanitizer models every atomic. */
#ifndef MPS_ARCH_ATOMIC_H
#define MPS_ARCH_ATOMIC_H

#include <stdint.h>

#if defined(__SANITIZE_THREAD__)
#define MPS_ARCH_GENERIC 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPS_ARCH_GENERIC 1
#endif
#endif

#if defined(MPS_ARCH_GENERIC)
#include "generic/atomic_arch.h"
#elif defined(__x86_64__)
#include "x86_64/atomic_arch.h"
#elif defined(__aarch64__)
#include "aarch64/atomic_arch.h"
#elif defined(__riscv) && __riscv_xlen == 64
#include "riscv64/atomic_arch.h"
#else
#include "generic/atomic_arch.h"
#endif

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mpsync places 32-bit futex words in the low half of 64-bit words: little-endian only"
#endif

/* Derived from load-linked/store-conditional. */
#if defined(a_ll) && !defined(a_cas)
#define a_cas a_cas
static inline uint32_t a_cas(uint32_t *p, uint32_t expected, uint32_t desired)
{
	uint32_t old;
	do {
		old = a_ll(p);
		if (old != expected) {
			a_clear_exclusive();
			break;
		}
	} while (!a_sc(p, desired));
	return old;
}
#endif

#if defined(a_ll) && !defined(a_swap)
#define a_swap a_swap
static inline uint32_t a_swap(uint32_t *p, uint32_t v)
{
	uint32_t old;
	do old = a_ll(p);
	while (!a_sc(p, v));
	return old;
}
#endif

#if defined(a_ll) && !defined(a_fetch_add)
#define a_fetch_add a_fetch_add
static inline uint32_t a_fetch_add(uint32_t *p, uint32_t v)
{
	uint32_t old;
	do old = a_ll(p);
	while (!a_sc(p, old + v));
	return old;
}
#endif

#if defined(a_ll64) && !defined(a_cas64)
#define a_cas64 a_cas64
static inline uint64_t a_cas64(uint64_t *p, uint64_t expected, uint64_t desired)
{
	uint64_t old;
	do {
		old = a_ll64(p);
		if (old != expected) {
			a_clear_exclusive();
			break;
		}
	} while (!a_sc64(p, desired));
	return old;
}
#endif

#if defined(a_ll64) && !defined(a_fetch_add64)
#define a_fetch_add64 a_fetch_add64
static inline uint64_t a_fetch_add64(uint64_t *p, uint64_t v)
{
	uint64_t old;
	do old = a_ll64(p);
	while (!a_sc64(p, old + v));
	return old;
}
#endif

/* Derived from compare-and-swap. */
#ifndef a_cas
#error "arch/: no a_cas for this architecture"
#endif

#ifndef a_swap
#define a_swap a_swap
static inline uint32_t a_swap(uint32_t *p, uint32_t v)
{
	uint32_t old = a_load_relaxed(p), seen;
	while ((seen = a_cas(p, old, v)) != old) old = seen;
	return old;
}
#endif

#ifndef a_fetch_add
#define a_fetch_add a_fetch_add
static inline uint32_t a_fetch_add(uint32_t *p, uint32_t v)
{
	uint32_t old = a_load_relaxed(p), seen;
	while ((seen = a_cas(p, old, old + v)) != old) old = seen;
	return old;
}
#endif

#ifndef a_fetch_or
#define a_fetch_or a_fetch_or
static inline uint32_t a_fetch_or(uint32_t *p, uint32_t v)
{
	uint32_t old = a_load_relaxed(p), seen;
	while ((seen = a_cas(p, old, old | v)) != old) old = seen;
	return old;
}
#endif

#ifndef a_fetch_add64
#define a_fetch_add64 a_fetch_add64
static inline uint64_t a_fetch_add64(uint64_t *p, uint64_t v)
{
	uint64_t old = a_load64(p), seen;
	while ((seen = a_cas64(p, old, old + v)) != old) old = seen;
	return old;
}
#endif

/* A byte or a naturally aligned halfword, swapped through the aligned
 * 32-bit word around it (little-endian: byte k of the word is bits 8k..8k+7):
 * riscv64 has no narrower CAS, and the compiler would call libatomic, one
 * more library for everyone who links mpsync statically. A neighbour's change
 * makes the word CAS fail and is retried; only our bytes decide the result. */
static inline int a_cas_narrow(void *p, unsigned size, uint32_t expected, uint32_t desired)
{
	uintptr_t addr = (uintptr_t)p;
	uint32_t *word = (uint32_t *)(addr & ~(uintptr_t)3);
	unsigned shift = (unsigned)(addr & 3) * 8;
	uint32_t mask = (size == 1 ? 0xffu : 0xffffu) << shift;
	uint32_t cur = a_load_relaxed(word), seen;
	for (;;) {
		if ((cur & mask) != ((expected << shift) & mask))
			return 0;
		seen = a_cas(word, cur, (cur & ~mask) | ((desired << shift) & mask));
		if (seen == cur)
			return 1;
		cur = seen;
	}
}

#ifndef a_spin
#define a_spin a_spin
static inline void a_spin(void) { __asm__ __volatile__ ("" ::: "memory"); }
#endif

/* No cycle counter: lib/spin.c then measures time with clock_gettime. */
#ifndef a_cycles
#define MPS_ARCH_NO_CYCLES 1
#endif

#endif
