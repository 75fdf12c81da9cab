/* Barrier: Python's multiprocessing.Barrier. 24 bytes; needs mps_barrier_init. */
#ifndef MPSYNC_BARRIER_H
#define MPSYNC_BARRIER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mps_barrier {
	uint64_t state;       /* generation (low half, the futex word) | count and flags */
	uint32_t parties;
	uint32_t flags;
	double   timeout;     /* default timeout given at init */
} mps_barrier_t;

/* The most parties a Barrier may have. */
#define MPS_BARRIER_MAX_PARTIES 0xffffu

int      mps_barrier_init(mps_barrier_t *b, unsigned parties, double timeout); /* 0 EINVAL */
int      mps_barrier_wait(mps_barrier_t *b, double timeout, unsigned *index);
                          /* 0 ETIMEDOUT MPS_EBROKEN EINTR EINVAL; index may be NULL */
int      mps_barrier_wait_action(mps_barrier_t *b, double timeout,
                                 int (*action)(void *), void *arg, unsigned *index);
int      mps_barrier_abort(mps_barrier_t *b);
int      mps_barrier_reset(mps_barrier_t *b);
bool     mps_barrier_broken(const mps_barrier_t *b);
unsigned mps_barrier_n_waiting(const mps_barrier_t *b);
unsigned mps_barrier_parties(const mps_barrier_t *b);
double   mps_barrier_timeout(const mps_barrier_t *b);

#ifdef __cplusplus
}
#endif

#endif
