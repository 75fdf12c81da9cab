/* Semaphore and BoundedSemaphore: one 64-bit word, as in glibc.
 *
 * Encoding: state = value (low 32 bits: the futex word) | waiters << 32.
 *   value    permits available, at most bound (bounded) or MPS_SEM_VALUE_MAX
 *   waiters  threads registered in the slow path; a release wakes only if > 0
 * bound and flags are written by init and only read afterwards.
 *
 * Who changes what:
 *   acquire  CAS value -> value-1 while value > 0. Otherwise spin briefly
 *            (only while no one waits), then register (waiters+1) and loop:
 *            take a permit and unregister in one CAS (value-1, waiters-1), or
 *            sleep while value == 0. A waiter that times out or is interrupted
 *            tries once more to take a permit before unregistering, so a
 *            release whose wake it absorbed is never lost.
 *   release  CAS value -> value+n, refusing (EOVERFLOW, nothing changed) when
 *            that passes the bound: the check and the update are one atomic
 *            step. Then FUTEX_WAKE(min(n + 1, waiters)) if anyone waits (the
 *            extra one covers a woken waiter that dies before it takes its
 *            permit), and the word is not touched again (destruction safety).
 * No lost wakeup: a waiter registers before it reads value, and the release
 * reads waiters in the same CAS that publishes the permits; if value changes
 * between the waiter's read and its sleep, FUTEX_WAIT returns EAGAIN.
 * Waiters do not poll: they sleep until woken, in slices of MPS_BACKSTOP_NS
 * (10 s, deadline.h) only for the double failure: both woken waiters die
 * before taking the permit. A process
 * that dies while registered leaves waiters one too high: the only cost is a
 * futex wake that finds nobody. */
#include <errno.h>
#include <limits.h>

#include <mpsync/sem.h>
#include "deadline.h"
#include "futex.h"
#include "interrupt.h"
#include "spin.h"

#define WAITER_ONE (1ull << 32)
#define FLAG_BOUNDED 1u

_Static_assert(sizeof(mps_sem_t) <= 16, "Semaphore is at most 16 bytes (ABI)");

static inline uint32_t value_of(uint64_t st) { return (uint32_t)st; }
static inline uint32_t waiters_of(uint64_t st) { return (uint32_t)(st >> 32); }
static inline uint32_t *futex_word(mps_sem_t *s) { return (uint32_t *)&s->state; }

static int init(mps_sem_t *s, unsigned value, bool bounded)
{
	if (value > MPS_SEM_VALUE_MAX)
		return EINVAL;
	s->bound = bounded ? value : MPS_SEM_VALUE_MAX;
	s->flags = bounded ? FLAG_BOUNDED : 0;
	uint64_t old = a_load64(&s->state);
	a_cas64(&s->state, old, value);
	return 0;
}

int mps_sem_init(mps_sem_t *s, unsigned value) { return init(s, value, false); }
int mps_sem_init_bounded(mps_sem_t *s, unsigned value) { return init(s, value, true); }

/* Takes a permit if one is there; remove is WAITER_ONE for a registered waiter. */
static bool try_take(mps_sem_t *s, uint64_t remove)
{
	uint64_t st = a_load64(&s->state), seen;
	while (value_of(st) > 0) {
		seen = a_cas64(&s->state, st, st - 1 - remove);
		if (seen == st)
			return true;
		st = seen;
	}
	return false;
}

static bool spin_take(mps_sem_t *s)
{
	struct mps_spin spin;
	if (!mps_spin_begin(&spin))
		return false;
	do {
		uint64_t st = a_load64(&s->state);
		if (value_of(st) > 0 && try_take(s, 0))
			return true;
		if (waiters_of(st))
			return false;
	} while (mps_spin_more(&spin));
	return false;
}

/* Leaving without a permit: a last attempt first, since a wake-up meant for
 * this waiter may have come with the timeout or the signal. */
static int give_up(mps_sem_t *s, int why)
{
	if (try_take(s, WAITER_ONE))
		return 0;
	a_fetch_add64(&s->state, (uint64_t)0 - WAITER_ONE);
	return why;
}

/* Sleeps in slices of MPS_BACKSTOP_NS: nothing to poll for, but a woken
 * waiter that dies before it takes its permit must not strand the permit for
 * ever while others sleep. */
static int sleep_for_permit(mps_sem_t *s, const struct mps_deadline *deadline,
                            struct mps_sigguard *guard)
{
	struct mps_deadline slice;
	a_fetch_add64(&s->state, WAITER_ONE);
	for (;;) {
		if (try_take(s, WAITER_ONE))
			return 0;
		mps_deadline_slice(deadline, MPS_BACKSTOP_NS, &slice);
		int r = mps_futex_wait(futex_word(s), 0, &slice, MPS_FUTEX_ANY, guard);
		if (r == EINTR || (r == ETIMEDOUT && mps_deadline_passed(deadline)))
			return give_up(s, r);
	}
}

/* The inline fast paths are in <mpsync/sem.h>; these take every other case. */
int mps_sem_acquire_slow(mps_sem_t *s, double timeout)
{
	if (mps_timeout_invalid(timeout))
		return EINVAL;
	if (try_take(s, 0))
		return 0;
	struct mps_deadline deadline;
	mps_deadline_init(&deadline, timeout);
	if (deadline.kind == MPS_DEADLINE_POLL)
		return ETIMEDOUT;
	/* From here on a handler that runs gives EINTR (interrupt.h). */
	struct mps_sigguard guard = { .on = false };
	mps_sigguard_enter(&guard);
	int err = spin_take(s) ? 0 : sleep_for_permit(s, &deadline, &guard);
	mps_sigguard_leave(&guard);
	return err;
}

int mps_sem_release_slow(mps_sem_t *s, unsigned n)
{
	if (n == 0)
		return EINVAL;
	uint32_t bound = s->bound;
	uint64_t st = a_load64(&s->state), seen;
	for (;;) {
		if (n > bound || value_of(st) > bound - n)
			return EOVERFLOW;
		seen = a_cas64(&s->state, st, st + n);
		if (seen == st)
			break;
		st = seen;
	}
	/* One more than the permits: if a woken waiter dies before it takes its
	 * permit, the extra one takes it instead of sleeping on (SPEC 5). */
	uint32_t waiters = waiters_of(st);
	if (waiters)
		mps_futex_wake(futex_word(s), (int)(n < waiters ? n + 1 : waiters), MPS_FUTEX_ANY);
	return 0;
}

unsigned mps_sem_value(const mps_sem_t *s)
{
	return value_of(a_load64(&s->state));
}

bool mps_sem_is_bounded(const mps_sem_t *s)
{
	return s->flags & FLAG_BOUNDED;
}

unsigned mps_sem_bound(const mps_sem_t *s)
{
	return mps_sem_is_bounded(s) ? s->bound : 0;
}
