#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "segtest.h"

/* No unlink first: the harness gives every area a fresh name and unlinks
 * it afterwards, so a name already taken is a failure worth seeing (and
 * test_segment relies on creation under a name it freed). */
mps_segment_t *segtest_create(const char *name, size_t size)
{
	mps_segment_t *seg = NULL;
	int r = mps_segment_create(name, size, &seg);
	cr_assert(r == 0, "mps_segment_create(%s): %s", name, mps_strerror(r));
	return seg;
}

mps_segment_t *segtest_named(struct mps_area *area, size_t size)
{
	return segtest_create(area->segname, size);
}

mps_segment_t *segtest_anon(size_t size)
{
	mps_segment_t *seg = NULL;
	int r = mps_segment_create_anonymous(size, &seg);
	cr_assert(r == 0, "mps_segment_create_anonymous: %s", mps_strerror(r));
	return seg;
}

void segtest_end(struct mps_area *area, mps_segment_t *seg)
{
	cr_assert(mps_segment_close(seg) == 0);
	mps_area_destroy(area);
}

void *segtest_snap(mps_segment_t *seg)
{
	size_t n = mps_segment_size(seg);
	void *c = malloc(n);
	cr_assert(c);
	memcpy(c, mps_segment_base(seg), n);
	return c;
}

void segtest_same(mps_segment_t *seg, void *snap, const char *what)
{
	cr_assert(memcmp(snap, mps_segment_base(seg), mps_segment_size(seg)) == 0,
	          "%s changed the segment's bytes", what);
	free(snap);
}

void segtest_join(struct mps_workers *w, double timeout, const char *what)
{
	int failed = mps_workers_join_report(w, 0, timeout, what);
	cr_assert(failed == 0, "%s (%s): %d of %d workers failed", what,
	          mps_flavour_name(w->flavour), failed, w->n);
}

mps_segment_t *segtest_open(const struct mps_area *area)
{
	mps_segment_t *seg = NULL;
	return mps_segment_open(area->segname, &seg) == 0 ? seg : NULL;
}

void *segtest_find(mps_segment_t *seg, const char *name, enum mps_kind want)
{
	void *obj = NULL;
	enum mps_kind kind = MPS_KIND_NONE;
	if (mps_segment_find(seg, name, &obj, &kind) != 0 || kind != want)
		return NULL;
	return obj;
}

/* The child stops itself right after PTRACE_TRACEME, so that the parent
 * gains control before the first instruction of interest; exit code 3
 * says that the kernel (or a seccomp policy) refused the tracing. */
pid_t segtest_traced_child(void)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
			_exit(3);
		raise(SIGSTOP);
		return 0;
	}
	int st;
	cr_assert(waitpid(pid, &st, 0) == pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
		cr_skip_test("ptrace is not available here");
	cr_assert(WIFSTOPPED(st));
	return pid;
}
