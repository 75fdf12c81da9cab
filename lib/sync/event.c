/* Event: one 32-bit word.
 *
 * Encoding: bit 0 SET, bit 1 WAITERS, bits 2..31 generation (counts sets).
 *
 * Who changes what:
 *   set    if SET is clear: one CAS that sets SET, clears WAITERS and bumps
 *          the generation; FUTEX_WAKE(all) only if WAITERS was set. When the
 *          event is already set, set() is a single load.
 *   clear  CAS that clears SET; wakes no one.
 *   wait   returns at once if SET. Otherwise (after a brief spin) CASes
 *          WAITERS in and sleeps on exactly that value; it returns 0 once
 *          SET is seen or the generation differs from the one it started
 *          with. So a set() during the wait counts even if clear() follows
 *          at once (Python's threading rule): the generation, not the flag,
 *          decides.
 * No lost wakeup: set() changes the word, so a waiter between its check and
 * its sleep gets EAGAIN. The generation wraps after 2^30 sets; a waiter would
 * have to sleep through exactly that many to miss one. A dead waiter leaves
 * WAITERS set: one extra wake at the next set(), nothing more. */
#include <errno.h>
#include <limits.h>

#include <mpsync/event.h>
#include "deadline.h"
#include "futex.h"
#include "interrupt.h"
#include "spin.h"

#define EV_SET     MPS_EV_SET   /* ABI: <mpsync/abi.h> */
#define EV_WAITERS 2u
#define EV_GEN_ONE 4u

_Static_assert(sizeof(mps_event_t) == 4, "Event is 4 bytes (ABI)");

static inline uint32_t generation(uint32_t v) { return v & ~(EV_SET | EV_WAITERS); }

void mps_event_init(mps_event_t *e)
{
	a_store(&e->word, 0);
}

/* The inline fast path (<mpsync/event.h>) returns when SET is seen. */
void mps_event_set_slow(mps_event_t *e)
{
	uint32_t v = a_load(&e->word), seen;
	for (;;) {
		if (v & EV_SET)
			return;
		uint32_t next = (generation(v) + EV_GEN_ONE) | EV_SET;
		seen = a_cas(&e->word, v, next);
		if (seen == v)
			break;
		v = seen;
	}
	if (v & EV_WAITERS)
		mps_futex_wake(&e->word, INT_MAX, MPS_FUTEX_ANY);
}

void mps_event_clear(mps_event_t *e)
{
	uint32_t v = a_load(&e->word), seen;
	while (v & EV_SET) {
		seen = a_cas(&e->word, v, v & ~EV_SET);
		if (seen == v)
			return;
		v = seen;
	}
}

static bool signalled(uint32_t v, uint32_t start)
{
	return (v & EV_SET) || generation(v) != generation(start);
}

static uint32_t spin_for_set(mps_event_t *e, uint32_t start)
{
	struct mps_spin spin;
	uint32_t v = start;
	if (!mps_spin_begin(&spin))
		return v;
	do {
		v = a_load_relaxed(&e->word);
		if (signalled(v, start) || (v & EV_WAITERS))
			break;
	} while (mps_spin_more(&spin));
	return a_load(&e->word);
}

/* Sleeps until set, without slices: setters wake every sleeper, and
 * there is no owner to watch. */
static int sleep_for_set(mps_event_t *e, uint32_t start, const struct mps_deadline *deadline,
                         struct mps_sigguard *guard)
{
	uint32_t v = spin_for_set(e, start);
	for (;;) {
		if (signalled(v, start))
			return 0;
		if (!(v & EV_WAITERS)) {
			uint32_t seen = a_cas(&e->word, v, v | EV_WAITERS);
			if (seen != v) {
				v = seen;
				continue;
			}
			v |= EV_WAITERS;
		}
		int r = mps_futex_wait(&e->word, v, deadline, MPS_FUTEX_ANY, guard);
		v = a_load(&e->word);
		if (signalled(v, start))
			return 0;
		if (r == ETIMEDOUT || r == EINTR)
			return r;
	}
}

int mps_event_wait(mps_event_t *e, double timeout)
{
	if (mps_timeout_invalid(timeout))
		return EINVAL;
	uint32_t start = a_load(&e->word);
	if (start & EV_SET)
		return 0;
	struct mps_deadline deadline;
	mps_deadline_init(&deadline, timeout);
	if (deadline.kind == MPS_DEADLINE_POLL)
		return ETIMEDOUT;
	/* From here on a handler that runs gives EINTR (interrupt.h). */
	struct mps_sigguard guard = { .on = false };
	mps_sigguard_enter(&guard);
	int err = sleep_for_set(e, start, &deadline, &guard);
	mps_sigguard_leave(&guard);
	return err;
}
