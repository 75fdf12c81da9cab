/* Helpers of the suites whose objects live in a segment (segment, value,
 * queue, container): the test's segment made under an assert, its bytes
 * compared whole, a worker's view of it by name, a traced child.
 *
 * The parent-side helpers assert. The role-side ones (segtest_open,
 * segtest_find) return NULL instead: a role reports through its return
 * value and MPS_CHECK, and a forked child must never end in an assert. */
#ifndef MPS_TEST_SEGTEST_H
#define MPS_TEST_SEGTEST_H

#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

/* A new segment of size bytes called name; asserts that it was made. */
mps_segment_t *segtest_create(const char *name, size_t size);
/* The test's segment, under area->segname: the name workers open. */
mps_segment_t *segtest_named(struct mps_area *area, size_t size);
/* An anonymous segment: shared with forked children only. */
mps_segment_t *segtest_anon(size_t size);
/* The end of a test: closes seg (asserting it closes), destroys area. */
void segtest_end(struct mps_area *area, mps_segment_t *seg);

/* "Bad input leaves the segment byte-for-byte unchanged": segtest_snap
 * copies every byte of seg; segtest_same asserts that seg holds exactly
 * those bytes again and frees the copy. */
void *segtest_snap(mps_segment_t *seg);
void segtest_same(mps_segment_t *seg, void *snap, const char *what);

/* Joins w, asserting that every worker succeeded within timeout. */
void segtest_join(struct mps_workers *w, double timeout, const char *what);

/* Role side: the test's segment opened BY NAME (area->segname), as a
 * spawned worker must, mapping it at an address of its own; NULL when it
 * cannot be opened. */
mps_segment_t *segtest_open(const struct mps_area *area);
/* Role side: the object called name when it is of kind want, else NULL. */
void *segtest_find(mps_segment_t *seg, const char *name, enum mps_kind want);

/* Forks a child that this process traces, stopped before it does anything:
 * returns 0 in the child (which ends with _exit), its pid in the parent.
 * Skips the test where ptrace is not allowed. */
pid_t segtest_traced_child(void);

#endif
