/* The primitives of SPEC §3 by name in a segment: each is an object whose
 * payload is the primitive itself, so the pointer handed out is the
 * primitive's own address in the caller's mapping. Semaphore and Barrier
 * run their init inside the creation transaction; a bad parameter aborts
 * it and nothing is created. */
#include <errno.h>

#include "seg.h"

struct sem_args { unsigned value; bool bounded; };
struct barrier_args { unsigned parties; double timeout; };

static int init_sem(struct mps_seg_header *h, void *payload, void *arg)
{
	(void)h;
	struct sem_args *a = arg;
	return a->bounded ? mps_sem_init_bounded(payload, a->value) : mps_sem_init(payload, a->value);
}

static int init_barrier(struct mps_seg_header *h, void *payload, void *arg)
{
	(void)h;
	struct barrier_args *a = arg;
	return mps_barrier_init(payload, a->parties, a->timeout);
}

static int make(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                enum mps_kind kind, size_t size, mps_obj_init_fn init, void *arg, void **out)
{
	if (!out)
		return EINVAL;
	return mps_seg_object(seg, name, mode, kind, size, init, arg, out, NULL);
}

int mps_segment_lock(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                     mps_lock_t **out)
{
	return make(seg, name, mode, MPS_KIND_LOCK, sizeof **out, NULL, NULL, (void **)out);
}

int mps_segment_rlock(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      mps_rlock_t **out)
{
	return make(seg, name, mode, MPS_KIND_RLOCK, sizeof **out, NULL, NULL, (void **)out);
}

int mps_segment_semaphore(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                          unsigned value, mps_sem_t **out)
{
	struct sem_args a = { value, false };
	return make(seg, name, mode, MPS_KIND_SEMAPHORE, sizeof **out, init_sem, &a, (void **)out);
}

int mps_segment_bounded_semaphore(mps_segment_t *seg, const char *name,
                                  enum mps_open_mode mode, unsigned value, mps_sem_t **out)
{
	struct sem_args a = { value, true };
	return make(seg, name, mode, MPS_KIND_BOUNDED_SEMAPHORE, sizeof **out, init_sem, &a,
	            (void **)out);
}

int mps_segment_event(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      mps_event_t **out)
{
	return make(seg, name, mode, MPS_KIND_EVENT, sizeof **out, NULL, NULL, (void **)out);
}

int mps_segment_condition(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                          mps_cond_t **out)
{
	return make(seg, name, mode, MPS_KIND_CONDITION, sizeof **out, NULL, NULL, (void **)out);
}

int mps_segment_barrier(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                        unsigned parties, double timeout, mps_barrier_t **out)
{
	struct barrier_args a = { parties, timeout };
	return make(seg, name, mode, MPS_KIND_BARRIER, sizeof **out, init_barrier, &a, (void **)out);
}
