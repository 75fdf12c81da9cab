/* The one timeout-to-deadline helper: a relative timeout in seconds becomes,
 * once, an absolute CLOCK_MONOTONIC deadline that every retry reuses. */
#ifndef MPS_LIB_DEADLINE_H
#define MPS_LIB_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum mps_deadline_kind {
	MPS_DEADLINE_POLL,    /* timeout <= 0: one attempt, never sleep */
	MPS_DEADLINE_AT,      /* sleep until 'at' */
	MPS_DEADLINE_NEVER,   /* MPS_FOREVER, or too far away to matter */
	MPS_DEADLINE_UNSET,   /* not converted yet (converted lazily by a caller) */
};

struct mps_deadline {
	enum mps_deadline_kind kind;
	struct timespec at;
};

/* Callers have already refused NaN (EINVAL); see mps_timeout_invalid. */
void mps_deadline_init(struct mps_deadline *d, double timeout);

/* True when the deadline is POLL or has passed. */
bool mps_deadline_passed(const struct mps_deadline *d);

/* The earlier of d and now + ns: a bounded slice of a longer wait. */
void mps_deadline_slice(const struct mps_deadline *d, int64_t ns, struct mps_deadline *slice);

int64_t mps_monotonic_ns(void);

/* A lock's watcher (one sleeper per lock word) wakes this often to probe the
 * owner for death: recovery within about one slice. */
#define MPS_WATCH_NS (20 * 1000000LL)

/* Every other sleeper of a lock word, and Semaphore and Condition sleepers,
 * wake this often: only to cover a watcher, or a woken waiter, that died. */
#define MPS_BACKSTOP_NS (10 * 1000000000LL)

static inline bool mps_timeout_invalid(double timeout)
{
	return timeout != timeout;
}

#endif
