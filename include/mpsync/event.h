/* Event: Python's multiprocessing.Event. 4 bytes; all-zero bytes are an
 * unset Event. */
#ifndef MPSYNC_EVENT_H
#define MPSYNC_EVENT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mps_event {
	uint32_t word;        /* set bit, waiters bit, generation: docs/design.md */
} mps_event_t;

#define MPS_EVENT_INIT {0}

void mps_event_init(mps_event_t *e);
void mps_event_set(mps_event_t *e);
void mps_event_clear(mps_event_t *e);
bool mps_event_is_set(const mps_event_t *e);
int  mps_event_wait(mps_event_t *e, double timeout);  /* 0 ETIMEDOUT EINTR EINVAL */

#ifdef __cplusplus
}
#endif

#endif
