/* Event: Python's multiprocessing.Event. 4 bytes; all-zero bytes are an
 * unset Event. */
#ifndef MPSYNC_EVENT_H
#define MPSYNC_EVENT_H

#include "abi.h"
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mps_event {
	uint32_t word;        /* set bit, waiters bit, generation: docs/design.md */
} mps_event_t;

#define MPS_EVENT_INIT {0}

void mps_event_init(mps_event_t *e);
/*   mps_event_set(e)                                    (inline, below) */
void mps_event_clear(mps_event_t *e);
/*   mps_event_is_set(e)                                 (inline, below) */
int  mps_event_wait(mps_event_t *e, double timeout);  /* 0 ETIMEDOUT EINTR EINVAL */

/* A set() that finds the event clear, out of line. */
void mps_event_set_slow(mps_event_t *e);

/* Already set: one load. */
MPS_INLINE void mps_event_set(mps_event_t *e)
{
	if (!(mps_fp_load(&e->word) & MPS_EV_SET))
		mps_event_set_slow(e);
}

MPS_INLINE bool mps_event_is_set(const mps_event_t *e)
{
	return mps_fp_load(&e->word) & MPS_EV_SET;
}

#ifdef __cplusplus
}
#endif

#endif
