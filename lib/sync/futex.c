/* futex(2) with FUTEX_WAIT_BITSET and absolute CLOCK_MONOTONIC deadlines, so a
 * retry after a spurious wake or a signal reuses the caller's deadline and
 * wall-clock jumps change nothing. Only shared futex operations: a private
 * one would never wake a waiter in another process. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "futex.h"
#include "interrupt.h"
#include <mpsync/debug.h>

static _Thread_local uint64_t futex_calls __attribute__((tls_model("initial-exec")));

uint64_t mps_debug_futex_calls(void)
{
	return futex_calls;
}

/* The result, or -errno; errno itself is left as the caller had it. */
static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *ts,
                  uint32_t *word2, uint32_t val3)
{
	int saved = errno;
	futex_calls++;
	long r = syscall(SYS_futex, word, op, val, ts, word2, val3);
	if (r < 0)
		r = -errno;
	errno = saved;
	return r;
}

static int wait_result(long r)
{
	if (r == 0)
		return 0;
	switch (-r) {
	case EAGAIN:
		return EAGAIN;
	case ETIMEDOUT:
		return ETIMEDOUT;
	case EINTR:
		return mps_interruptible() ? EINTR : 0;
	default:
		/* EFAULT or EINVAL: the word is not usable memory; callers treat
		 * it as a spurious wake and re-check their state. */
		return 0;
	}
}

int mps_futex_wait(uint32_t *word, uint32_t expected, const struct mps_deadline *deadline,
                   uint32_t bitset, struct mps_sigguard *guard)
{
	const struct timespec *at = NULL;

	if (deadline->kind == MPS_DEADLINE_POLL)
		return ETIMEDOUT;
	if (deadline->kind == MPS_DEADLINE_AT)
		at = &deadline->at;
	/* The residual window: a handler that runs after this check and before
	 * the syscall puts the thread to sleep is not seen (design.md §9). */
	if (guard && mps_sigguard_leave(guard))
		return EINTR;
	long r = futex(word, FUTEX_WAIT_BITSET, expected, at, NULL, bitset);
	if (guard)
		mps_sigguard_enter(guard);
	return wait_result(r);
}

int mps_futex_wake(uint32_t *word, int n, uint32_t bitset)
{
	long r = futex(word, FUTEX_WAKE_BITSET, (uint32_t)n, NULL, NULL, bitset);
	return r < 0 ? 0 : (int)r;
}

int mps_futex_cmp_requeue(uint32_t *word, uint32_t expected, int n_wake,
                          uint32_t *target, int n_requeue)
{
	/* The kernel takes the requeue count in the timeout argument's slot. */
	long r = futex(word, FUTEX_CMP_REQUEUE, (uint32_t)n_wake,
	               (const struct timespec *)(uintptr_t)n_requeue, target, expected);
	return r < 0 ? -1 : (int)r;
}
