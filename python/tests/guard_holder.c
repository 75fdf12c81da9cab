/* Test helper for python/tests/test_processes.py (ContainerWaits): attaches
 * to segment argv[1], takes the internal guard of the container named
 * argv[2] (a dict, list, Namespace or Queue: struct mps_guard at payload
 * offset 0, lib/segment/seg.h) and, with it held, prints "held PID" and
 * waits. It never releases the guard: it is killed holding it, or dies of
 * its own SIGALRM after argv[3] seconds (default 20), so a test that hangs
 * because of it still ends. Uses the library's internals on purpose: no
 * public call holds a container's guard while another process looks on. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpsync.h>
#include "seg.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s SEGMENT OBJECT [SECONDS]\n", argv[0]);
		return 2;
	}
	mps_segment_t *seg;
	void *obj;
	enum mps_kind kind;
	int err = mps_segment_open(argv[1], &seg);
	if (!err)
		err = mps_segment_get(seg, argv[2], &obj, &kind);
	if (!err)
		err = mps_guard_acquire(seg->h, obj, MPS_FOREVER);
	if (err) {
		fprintf(stderr, "guard_holder: %s\n", mps_strerror(err));
		return 1;
	}
	alarm(argc > 3 ? (unsigned)atoi(argv[3]) : 20);
	printf("held %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
