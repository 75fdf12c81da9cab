/* The library's exported out-of-line copies of the inline fast paths
 * (lib/sync/inline.c), called by name as an FFI calls them. */
#ifndef MPS_HARNESS_OUTLINE_H
#define MPS_HARNESS_OUTLINE_H

/* Uncontended Lock, RLock, Semaphore(1), Event and Condition operations
 * through the exported copies, on objects in their initial state (sem: value
 * 1). 0, or 70 + the step that failed. */
int outline_ops(void *lock, void *rlock, void *sem, void *event, void *cond);

#endif
