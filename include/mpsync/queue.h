/* Queue and JoinableQueue: Python's multiprocessing.Queue / JoinableQueue in
 * a segment. Items are byte strings of any length up to the queue's byte
 * capacity (less an 8-byte record header); a put is visible to every getter
 * when it returns, and the FIFO order is total (stronger than Python, whose
 * feeder thread may lag and reorder producers).
 *
 * A queue is bounded by count (maxsize; 0 = only by bytes) and by bytes
 * (capacity, decided at creation): full() reports either limit, so Full can
 * come before maxsize items when items are large.
 *
 * Results: 0; ETIMEDOUT (Full / Empty: after the timeout, or at once for a
 * timeout <= 0: put_nowait / get_nowait); EMSGSIZE (item larger than the
 * queue can ever hold; or, on get, a buffer too small: *len says how large,
 * the item stays queued); ESHUTDOWN (after shutdown); EOVERFLOW (task_done
 * more often than items were got); ENOTSUP (task_done/join on a plain
 * Queue); EINTR; EINVAL. */
#ifndef MPSYNC_QUEUE_H
#define MPSYNC_QUEUE_H

#include "segment.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mps_queue mps_queue_t;

#define MPS_QUEUE_RECORD_HEADER 8u   /* bytes each item costs beyond its length */

int mps_segment_queue(mps_segment_t *seg, const char *name, enum mps_open_mode mode,
                      unsigned maxsize, size_t capacity, mps_queue_t **out);
int mps_segment_joinable_queue(mps_segment_t *seg, const char *name,
                               enum mps_open_mode mode, unsigned maxsize, size_t capacity,
                               mps_queue_t **out);

int    mps_queue_put(mps_queue_t *q, const void *item, size_t len, double timeout);
int    mps_queue_get(mps_queue_t *q, void *buf, size_t cap, size_t *len, double timeout);
size_t mps_queue_qsize(mps_queue_t *q);
bool   mps_queue_empty(mps_queue_t *q);
bool   mps_queue_full(mps_queue_t *q);
size_t mps_queue_max_item(const mps_queue_t *q);   /* the largest item a put accepts */
unsigned mps_queue_maxsize(const mps_queue_t *q);
size_t mps_queue_capacity(const mps_queue_t *q);
size_t mps_queue_bytes(mps_queue_t *q);            /* bytes of queued records */

int    mps_queue_task_done(mps_queue_t *q);
int    mps_queue_join(mps_queue_t *q, double timeout);
size_t mps_queue_unfinished(mps_queue_t *q);
/* Python 3.13's shutdown: later puts fail with ESHUTDOWN; gets drain what is
 * left, then fail with ESHUTDOWN. immediate also discards what is left,
 * counting each discarded item as done for join(). Wakes every waiter. */
int    mps_queue_shutdown(mps_queue_t *q, bool immediate);
bool   mps_queue_is_shutdown(mps_queue_t *q);
/* Waiters, for diagnostics (mpsync show). */
unsigned mps_queue_getters_waiting(mps_queue_t *q);
unsigned mps_queue_putters_waiting(mps_queue_t *q);

#ifdef __cplusplus
}
#endif

#endif
