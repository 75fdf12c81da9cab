/* The lock-word protocol shared by Lock, RLock and Condition's re-acquire.
 * lock.c opens with the full description. */
#ifndef MPS_LIB_LOCKWORD_H
#define MPS_LIB_LOCKWORD_H

#include <stdbool.h>
#include <stdint.h>
#include <mpsync/abi.h>
#include "../../arch/atomic.h"

/* The bits are ABI, defined in <mpsync/abi.h> for the inline fast paths. */
#define LW_WAITERS   MPS_LW_WAITERS   /* someone may sleep on the word: release must wake */
#define LW_RESERVED  MPS_LW_RESERVED  /* kept clear: the kernel's FUTEX_OWNER_DIED bit */
#define LW_HANDOFF_REQUESTED MPS_LW_HANDOFF_REQUESTED /* a waiter starves: next release hands over */
#define LW_WATCHED   MPS_LW_WATCHED   /* one sleeper (the watcher) polls the owner for death */
#define LW_TID_MASK  MPS_LW_TID_MASK  /* owner tid; pid_max is at most 2^22 */
#define LW_HANDOFF   (LW_WAITERS | LW_TID_MASK) /* free, reserved for a sleeper */

static inline uint32_t lw_owner(uint32_t word)
{
	uint32_t tid = word & LW_TID_MASK;
	return tid == LW_TID_MASK ? 0 : tid;
}

static inline bool lw_held(uint32_t word)
{
	return (word & LW_TID_MASK) != 0;
}

static inline bool lw_handoff(uint32_t word)
{
	return (word & ~LW_WATCHED) == LW_HANDOFF;
}

/* The slow path of acquire. has_slept: the caller already slept on this word
 * (or was moved onto it by notify_all), so it must take the lock with
 * LW_WAITERS set and may claim a hand-over. Returns 0, ETIMEDOUT, EOWNERDEAD
 * (acquired; the previous owner died) or EINTR. On 0 and EOWNERDEAD the word
 * is on the caller's held record. */
__attribute__((noinline, cold))
int mps_lockword_acquire_slow(uint32_t *word, uint32_t self, double timeout, bool has_slept);

/* 0, or EPERM when the word is not held; after the publishing CAS it makes
 * at most one futex call. The caller pops the word off its held record. */
int mps_lockword_release(uint32_t *word);

/* Whether the word holds the caller's tid and the caller took it. */
bool mps_lockword_mine(const uint32_t *word);

#endif
