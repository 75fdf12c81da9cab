/* The one futex wrapper. Shared futex operations only: every object may live
 * in memory mapped by several processes, where a private futex never wakes. */
#ifndef MPS_LIB_FUTEX_H
#define MPS_LIB_FUTEX_H

#include <stdint.h>
#include "deadline.h"
#include "interrupt.h"

#define MPS_FUTEX_ANY 0xffffffffu   /* bitset that matches every waiter */

/* Sleeps while *word == expected, until woken or the deadline.
 * 0: woken, or a signal interrupted a non-interruptible thread (re-check and
 *    wait again with the same deadline);
 * EAGAIN: *word differed;  ETIMEDOUT;  EINTR: interrupted, thread is interruptible.
 * guard (entered by the caller at the start of its slow path) is left just
 * before the syscall, giving EINTR for a handler that ran since, and entered
 * again right after it. Every call preserves errno. */
int mps_futex_wait(uint32_t *word, uint32_t expected, const struct mps_deadline *deadline,
                   uint32_t bitset, struct mps_sigguard *guard);

/* Wakes up to n waiters whose bitset intersects bitset; returns how many woke. */
int mps_futex_wake(uint32_t *word, int n, uint32_t bitset);

/* If *word == expected: wakes n_wake waiters and moves up to n_requeue others
 * onto target. Returns woken + moved, or -1 when *word differed or target
 * could not be used. */
int mps_futex_cmp_requeue(uint32_t *word, uint32_t expected, int n_wake,
                          uint32_t *target, int n_requeue);

#endif
