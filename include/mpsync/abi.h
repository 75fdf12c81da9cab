/* What the inline fast paths of lock.h, rlock.h, sem.h, event.h and cond.h
 * read and write: the bits of the words they test, and the calling thread's
 * state (its tid and held record). Those paths are compiled into the
 * programs that use mpsync, so everything here, with the object layouts and
 * word protocols (docs/design.md), is ABI: a change bumps MPS_LAYOUT_VERSION
 * and the library's SONAME major. Names with the mps_fp_ prefix are for the
 * headers' own use. */
#ifndef MPSYNC_ABI_H
#define MPSYNC_ABI_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Layout 2: issue 9's Lock word (WATCHED, HANDOFF 0x8fffffff), the
 * Condition's futex word in the low half of groups, and this per-thread
 * state. docs/design.md §1. */
#define MPS_LAYOUT_VERSION 2

/* Linkage of the public functions defined in the headers: static inline for
 * their users. lib/sync/inline.c defines it empty, to export one out-of-line
 * copy of each under the same name (dlsym, other languages). */
#ifndef MPS_INLINE
#define MPS_INLINE static inline
#endif

/* Lock word (Lock, RLock): owner tid | flags, docs/design.md §3. */
#define MPS_LW_WAITERS   0x80000000u
#define MPS_LW_RESERVED  0x40000000u
#define MPS_LW_HANDOFF_REQUESTED 0x20000000u
#define MPS_LW_WATCHED   0x10000000u
#define MPS_LW_TID_MASK  0x0fffffffu

/* Event word: bit 0 set, bit 1 waiters, the rest a generation (§6). */
#define MPS_EV_SET       1u

/* Condition groups: the two waiter counts (G1 unsignalled, G2 count), §7. */
#define MPS_COND_WAITING ((uint64_t)0xfff | ((uint64_t)0xfff << 32))

/* The calling thread: its tid (0 until its first call into the library) and
 * the held record, the lock words it took and has not released, most recent
 * last. One TLS object: a fast path finds both from one thread-pointer
 * offset. owner.c says why the record exists. */
#define MPS_HELD_MAX 32

/* tid and n are 64-bit although they hold 32-bit values: a fast path's
 * store to an object field (an RLock's uint32_t count) then cannot alias
 * them under C's type rules, so the compiler keeps them in registers from a
 * nested acquire to its release instead of reloading them (a nested RLock
 * pair: 1.5 -> 1.0 ns, design.md §4). */
struct mps_held {
	uint64_t tid;
	uint64_t n;
	bool overflowed;      /* an acquire went unrecorded: stay conservative */
	const void *at[MPS_HELD_MAX];
};

/* __thread, not _Thread_local: the same spelling in C and C++. The fast
 * paths name its fields directly, never through a pointer to it: gcc 12's
 * UBSan null check of such a pointer tests the wrong flags (a false "member
 * access within null pointer" whenever the record held one entry). */
extern __thread struct mps_held mps_tls_held __attribute__((tls_model("initial-exec")));

/* A page advised MADV_WIPEONFORK: word 0 is nonzero in the process that set
 * it and zero in every child, made by fork(), _Fork() or clone() alike. */
#define MPS_STAMP_WORDS 1024
extern uint32_t mps_stamp_page[MPS_STAMP_WORDS];

/* The atomics of the fast paths, as arch/atomic.h gives them to the library:
 * read-modify-writes sequentially consistent, loads acquire, and relaxed
 * loads a volatile load (as arch/<arch>/atomic_arch.h does: one aligned load
 * on every supported CPU, and no compiler barrier, so that the RLock
 * re-entry keeps the record's fields in registers: 1.04 instead of 1.13 ns
 * per nested pair). ThreadSanitizer builds use the __atomic builtin, which
 * it models. */
#if defined(__SANITIZE_THREAD__)
#define MPS_FP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MPS_FP_TSAN 1
#endif
#endif

static inline uint32_t mps_fp_load(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline uint32_t mps_fp_load_relaxed(const uint32_t *p)
{
#ifdef MPS_FP_TSAN
	return __atomic_load_n(p, __ATOMIC_RELAXED);
#else
	return *(const volatile uint32_t *)p;
#endif
}

static inline uint64_t mps_fp_load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline bool mps_fp_cas(uint32_t *p, uint32_t expected, uint32_t desired)
{
	return __atomic_compare_exchange_n(p, &expected, desired, false,
	                                   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

static inline bool mps_fp_cas64(uint64_t *p, uint64_t expected, uint64_t desired)
{
	return __atomic_compare_exchange_n(p, &expected, desired, false,
	                                   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/* NaN is EINVAL: left to the slow path. */
static inline bool mps_fp_timeout_ok(double timeout)
{
	return timeout == timeout;
}

/* Word 0 of the stamp: atomic, since each thread sets it on its first call
 * while others read it here. */
static inline uint32_t mps_fp_stamp(void)
{
	return mps_fp_load_relaxed(&mps_stamp_page[0]);
}

/* The cached tid, or 0 when this thread has none yet or this process is a
 * child that inherited a parent's copy. Two loads; no syscall. */
static inline uint32_t mps_fp_tid(void)
{
	uint32_t tid = mps_tls_held.tid;
	return mps_fp_stamp() ? tid : 0;
}

#ifdef __cplusplus
}
#endif

#endif
