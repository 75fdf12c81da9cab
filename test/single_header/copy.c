/* One "library" that carries a private copy of mpsync: MPSYNC_STATIC makes
 * every mpsync function and object of this file static. Built twice by
 * run.sh, with -DCOPY_OPS=copy_a and -DCOPY_OPS=copy_b. */
#define MPSYNC_STATIC
#define MPSYNC_IMPLEMENTATION
#include "copy.h"

const struct copy_ops COPY_OPS = {
	.name = COPY_NAME,
	.segment_create = mps_segment_create,
	.segment_open = mps_segment_open,
	.segment_close = mps_segment_close,
	.segment_unlink = mps_segment_unlink,
	.segment_lock = mps_segment_lock,
	.segment_event = mps_segment_event,
	.segment_dict = mps_segment_dict,
	.lock_acquire = mps_lock_acquire,
	.lock_release = mps_lock_release,
	.lock_locked = mps_lock_locked,
	.event_set = mps_event_set,
	.event_wait = mps_event_wait,
	.dict_set = mps_dict_set,
	.dict_get = mps_dict_get,
};
