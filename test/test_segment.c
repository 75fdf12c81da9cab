/* Segments: lib/segment/segment.c, heap.c, directory.c, object.c, journal.c and
 * primitives.c through include/mpsync/segment.h, with white-box checks
 * through lib/segment/seg.h (header fields, the block walk of mps_heap_check, the
 * directory table, the segment lock word).
 *
 *   lifecycle   create/open/close/unlink, names, sizes, /dev/shm full,
 *               an anonymous segment shared with a forked child
 *   header      every verdict of mps_segment_open on a doctored header or
 *               file: EPROTO, EBADMSG, EXDEV, ENOTRECOVERABLE, EAGAIN, a
 *               creator that finishes while an opener waits, and the real
 *               creator killed at each of its system calls (ptrace)
 *   allocator   fill to ENOSPC, free in several orders (coalescing on both
 *               sides), a random sequence checked against a model
 *   directory   many names, tombstone reuse, a full directory, name
 *               lengths, open modes and kinds, foreach, info counts
 *   references  unnamed objects, a retained object outliving its name,
 *               pointers that are not objects
 *   by name     workers of the three flavours open the segment by name
 *   crash       workers killed at random moments and inside the segment
 *               lock; the segment must stay usable, consistent, and leak
 *               no more than the design allows
 *
 * Nothing here sleeps to create an order: a worker's progress is a shared
 * counter, "a thread waits" is its /proc state, "a process is stopped" too. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "segtest.h"
#include "../lib/segment/seg.h"

#define LONG_WAIT 60.0   /* a role's "forever": every wait in a role is bounded */
#define JOIN_S    60.0
#define SETTLE_S  20.0
#define SMALL     ((size_t)MPS_SEG_MIN_SIZE)
#define MIB       ((size_t)1 << 20)

/* ---------------------------------------------------------------- helpers */

static struct mps_seg_header *hdr(mps_segment_t *s)
{
	return mps_segment_base(s);
}

static uint64_t heap_total(const struct mps_seg_header *h)
{
	return h->heap_end - h->heap_start;
}

static uint64_t off_of(mps_segment_t *s, const void *p)
{
	return (uint64_t)((const char *)p - (const char *)mps_segment_base(s));
}

static struct mps_dir_entry *dir_table(struct mps_seg_header *h)
{
	return (struct mps_dir_entry *)mps_seg_ptr(h, h->dir_offset);
}

static struct mps_block *block_of(struct mps_seg_header *h, uint64_t payload)
{
	return (struct mps_block *)mps_seg_ptr(h, payload - sizeof(struct mps_block));
}

static uint64_t block_bytes(struct mps_seg_header *h, uint64_t payload)
{
	return block_of(h, payload)->size_flags & ~(uint64_t)(MPS_BLOCK_ALIGN - 1);
}

/* heap.c's rounding: header included, 16-aligned, at least 32 bytes. */
static uint64_t need_for(size_t size)
{
	uint64_t n = ((uint64_t)size + sizeof(struct mps_block) + 15) & ~(uint64_t)15;
	return n < 32 ? 32 : n;
}

/* The FNV-1a of segment.c's header_check, over layout_version .. check. */
static uint64_t fnv_header(const struct mps_seg_header *h)
{
	const unsigned char *p = (const unsigned char *)&h->layout_version;
	const unsigned char *end = (const unsigned char *)&h->check;
	uint64_t x = 1469598103934665603ull;
	for (; p < end; p++)
		x = (x ^ *p) * 1099511628211ull;
	return x;
}

struct heap_state {
	int check;
	uint64_t used, nfree, largest, free_bytes, free_head;
	uint32_t objects, names, dir_used;
};

/* Everything about the heap and directory counters, read under the lock. */
static struct heap_state heap_state(struct mps_seg_header *h)
{
	struct heap_state s = { 0 };
	bool took = mps_seg_enter(h);
	s.check = mps_heap_check(h, &s.used, &s.nfree);
	for (uint64_t b = h->free_head, n = 0; b && n < h->size / 32; n++) {
		struct mps_block *blk = mps_seg_ptr(h, b);
		uint64_t size = blk->size_flags & ~(uint64_t)15;
		if (size > s.largest)
			s.largest = size;
		b = blk->next_free;
	}
	s.free_bytes = h->free_bytes;
	s.free_head = h->free_head;
	s.objects = h->objects;
	s.names = h->names;
	s.dir_used = h->dir_used;
	mps_seg_leave(h, took);
	return s;
}

static struct heap_state heap_ok(struct mps_seg_header *h, const char *what)
{
	struct heap_state s = heap_state(h);
	cr_assert(s.check == 0, "%s: mps_heap_check failed", what);
	return s;
}

/* The heap is back to one free block spanning it, which can be allocated. */
static void heap_pristine(struct mps_seg_header *h, const char *what)
{
	struct heap_state s = heap_ok(h, what);
	cr_assert(s.free_bytes == heap_total(h), "%s: free %llu of %llu", what,
	          (unsigned long long)s.free_bytes, (unsigned long long)heap_total(h));
	cr_assert(s.used == 0 && s.nfree == 1, "%s: %llu used, %llu free blocks", what,
	          (unsigned long long)s.used, (unsigned long long)s.nfree);
	uint64_t off;
	cr_assert(mps_seg_alloc(h, heap_total(h) - sizeof(struct mps_block), &off) == 0,
	          "%s: the whole heap is not one block", what);
	cr_assert(off == h->heap_start + sizeof(struct mps_block));
	mps_seg_free(h, off);
	cr_assert(heap_ok(h, what).free_bytes == heap_total(h));
}

/* The end of a test on a segment of its own: nothing leaked, the heap is
 * one free block again, and the segment closes. */
static void close_pristine(mps_segment_t *s, const char *what)
{
	heap_pristine(hdr(s), what);
	cr_assert(mps_segment_close(s) == 0);
}

/* p is no object: every object call refuses it without touching memory. */
static void expect_not_object(void *p, const char *what)
{
	cr_assert(mps_object_retain(p) == EINVAL, "retain of %s", what);
	cr_assert(mps_object_release(p) == EINVAL, "release of %s", what);
	cr_assert(mps_object_kind(p) == MPS_KIND_NONE, "kind of %s", what);
	cr_assert(mps_object_refs(p) == 0, "refs of %s", what);
	cr_assert(mps_obj_segment(p) == NULL, "segment of %s", what);
}

/* Names of /dev/shm files a test makes beside area->segname: unlinked when
 * the test's process exits, even after a failed assert. */
static char extra_names[8][96];
static int n_extra;
static pid_t extra_owner;

static const char *extra_name(const struct mps_area *a, const char *suffix)
{
	cr_assert(n_extra < 8);
	extra_owner = getpid();
	char *n = extra_names[n_extra++];
	snprintf(n, sizeof extra_names[0], "%s-%s", a->segname, suffix);
	return n;
}

__attribute__((destructor)) static void unlink_extra_names(void)
{
	if (extra_owner != getpid())
		return;
	for (int i = 0; i < n_extra; i++)
		mps_segment_unlink(extra_names[i]);
}

static bool shm_exists(const char *name)
{
	char path[300];
	snprintf(path, sizeof path, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
	return access(path, F_OK) == 0;
}

/* A /dev/shm file of size bytes beginning with the n bytes at data. */
static void shm_file(const char *name, size_t size, const void *data, size_t n)
{
	char path[300];
	snprintf(path, sizeof path, "/%s", name);
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	cr_assert(fd >= 0, "shm_open %s: %s", path, strerror(errno));
	cr_assert(ftruncate(fd, (off_t)size) == 0);
	cr_assert(pwrite(fd, data, n, 0) == (ssize_t)n);
	close(fd);
}

/* A pid that was ours and is gone (reaped). */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(0);
	int st;
	cr_assert(waitpid(pid, &st, 0) == pid);
	return pid;
}

static int wait_child(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ------------------------------------------------------------- lifecycle */

Test(segment, lifecycle)
{
	struct mps_area *a = mps_area_create();
	char slashed[100];
	snprintf(slashed, sizeof slashed, "/%s", a->segname);
	mps_segment_t *s = segtest_named(a, SMALL);
	struct mps_seg_header *h = hdr(s);
	cr_assert(mps_segment_size(s) == SMALL);
	cr_assert(h->magic == MPS_SEG_MAGIC && h->size == SMALL);
	cr_assert(mps_segment_free_bytes(s) == heap_total(h) && heap_total(h) > 0);
	mps_lock_t *x;
	cr_assert(mps_segment_lock(s, "x", MPS_CREATE_ONLY, &x) == 0);

	/* "/name" is the same segment: a second mapping that sees "x". */
	mps_segment_t *s2 = NULL;
	cr_assert(mps_segment_open(slashed, &s2) == 0);
	cr_assert(mps_segment_base(s2) != mps_segment_base(s));
	cr_assert(mps_segment_size(s2) == SMALL);
	void *found;
	enum mps_kind kind;
	cr_assert(mps_segment_find(s2, "x", &found, &kind) == 0);
	cr_assert(kind == MPS_KIND_LOCK && off_of(s2, found) == off_of(s, x));

	/* Create on an existing name: EEXIST, the segment untouched. */
	mps_segment_t *sentinel = (mps_segment_t *)&found, *out = sentinel;
	cr_assert(mps_segment_create(slashed, SMALL, &out) == EEXIST && out == sentinel);
	cr_assert(mps_segment_create(a->segname, 2 * SMALL, &out) == EEXIST && out == sentinel);
	cr_assert(mps_segment_find(s, "x", &found, NULL) == 0 && found == x);

	/* open_or_create opens the existing one, at its own size. */
	mps_segment_t *s3 = NULL;
	cr_assert(mps_segment_open_or_create(a->segname, 4 * SMALL, &s3) == 0);
	cr_assert(mps_segment_size(s3) == SMALL);
	cr_assert(mps_segment_find(s3, "x", &found, NULL) == 0 && off_of(s3, found) == off_of(s, x));
	cr_assert(mps_segment_close(s2) == 0 && mps_segment_close(s3) == 0);

	/* Unlink: the name goes, the mapping stays usable. */
	cr_assert(mps_segment_unlink(slashed) == 0);
	cr_assert(!shm_exists(a->segname));
	cr_assert(mps_segment_open(a->segname, &out) == ENOENT && out == sentinel);
	cr_assert(mps_segment_unlink(a->segname) == ENOENT);
	mps_event_t *e;
	cr_assert(mps_segment_event(s, "e", MPS_CREATE_ONLY, &e) == 0);
	cr_assert(mps_segment_find(s, "x", &found, NULL) == 0 && found == x);

	/* open_or_create on a missing name creates a fresh, empty segment. */
	cr_assert(mps_segment_open_or_create(a->segname, 2 * SMALL, &s3) == 0);
	cr_assert(mps_segment_size(s3) == 2 * SMALL);
	cr_assert(mps_segment_find(s3, "x", &found, NULL) == ENOENT);
	cr_assert(mps_segment_close(s3) == 0);
	cr_assert(mps_segment_unlink(a->segname) == 0);

	cr_assert(mps_segment_close(s) == 0);
	cr_assert(mps_segment_close(NULL) == EINVAL);
	cr_assert(mps_segment_base(NULL) == NULL && mps_segment_size(NULL) == 0);
	cr_assert(mps_segment_free_bytes(NULL) == 0);
	mps_area_destroy(a);
}

Test(segment, names)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *sentinel = (mps_segment_t *)a, *out = sentinel;
	const char *bad[] = { "", "/", "a/b", "/a/b", "a/", ".", "..", "/.." };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert(mps_segment_create(bad[i], SMALL, &out) == EINVAL, "create '%s'", bad[i]);
		cr_assert(mps_segment_open(bad[i], &out) == EINVAL, "open '%s'", bad[i]);
		cr_assert(mps_segment_open_or_create(bad[i], SMALL, &out) == EINVAL, "ooc '%s'", bad[i]);
		cr_assert(mps_segment_unlink(bad[i]) == EINVAL, "unlink '%s'", bad[i]);
	}
	cr_assert(mps_segment_create(NULL, SMALL, &out) == EINVAL);
	cr_assert(mps_segment_open(NULL, &out) == EINVAL);
	cr_assert(mps_segment_unlink(NULL) == EINVAL);
	cr_assert(out == sentinel);

	/* 200 bytes (with or without '/') is the longest name; 201 is refused
	 * before anything reaches /dev/shm. */
	char n200[MPS_SEG_NAME_MAX + 1], n201[MPS_SEG_NAME_MAX + 2], s201[MPS_SEG_NAME_MAX + 3];
	memset(n200, 'q', MPS_SEG_NAME_MAX);
	n200[MPS_SEG_NAME_MAX] = 0;
	snprintf(n200, 9, "%08x", (unsigned)getpid() * 2654435761u);
	n200[8] = 'q';
	snprintf(n201, sizeof n201, "%sr", n200);
	snprintf(s201, sizeof s201, "/%s", n201);
	cr_assert(strlen(n200) == MPS_SEG_NAME_MAX && strlen(n201) == MPS_SEG_NAME_MAX + 1);
	mps_segment_unlink(n200);
	mps_segment_t *s = segtest_create(n200, SMALL);
	cr_assert(shm_exists(n200));
	cr_assert(mps_segment_close(s) == 0);
	char s200[MPS_SEG_NAME_MAX + 2];
	snprintf(s200, sizeof s200, "/%s", n200);
	cr_assert(mps_segment_open(s200, &s) == 0 && mps_segment_close(s) == 0);
	cr_assert(mps_segment_unlink(s200) == 0 && !shm_exists(n200));
	cr_assert(mps_segment_create(n201, SMALL, &out) == ENAMETOOLONG);
	cr_assert(mps_segment_create(s201, SMALL, &out) == ENAMETOOLONG);
	cr_assert(mps_segment_open(n201, &out) == ENAMETOOLONG);
	cr_assert(mps_segment_open_or_create(n201, SMALL, &out) == ENAMETOOLONG);
	cr_assert(mps_segment_unlink(n201) == ENAMETOOLONG);
	cr_assert(out == sentinel && !shm_exists(n201));

	/* No out pointer: EINVAL, and no file made. */
	cr_assert(mps_segment_create(a->segname, SMALL, NULL) == EINVAL);
	cr_assert(!shm_exists(a->segname));
	mps_area_destroy(a);
}

Test(segment, sizes)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *sentinel = (mps_segment_t *)a, *out = sentinel;
	size_t bad[] = { 0, 1, 4096, MPS_SEG_MIN_SIZE - 1 };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert(mps_segment_create(a->segname, bad[i], &out) == EINVAL, "size %zu", bad[i]);
		cr_assert(mps_segment_open_or_create(a->segname, bad[i], &out) == EINVAL);
		cr_assert(mps_segment_create_anonymous(bad[i], &out) == EINVAL);
		cr_assert(!shm_exists(a->segname) && out == sentinel);
	}
	cr_assert(mps_segment_create_anonymous(SMALL, NULL) == EINVAL);
	/* Sizes round up to whole pages; the file has exactly that size. */
	mps_segment_t *s = segtest_named(a, SMALL + 1);
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	cr_assert(mps_segment_size(s) == SMALL + page && hdr(s)->size == SMALL + page);
	struct stat st;
	char path[200];
	snprintf(path, sizeof path, "/dev/shm/%s", a->segname);
	cr_assert(stat(path, &st) == 0 && (size_t)st.st_size == SMALL + page);
	cr_assert(mps_segment_close(s) == 0);
	cr_assert(mps_segment_create_anonymous(SMALL + 1, &s) == 0);
	cr_assert(mps_segment_size(s) == SMALL + page);
	heap_pristine(hdr(s), "anonymous");
	segtest_end(a, s);
}

Test(segment, no_space)
{
	struct mps_area *a = mps_area_create();
	struct statvfs v;
	cr_assert(statvfs("/dev/shm", &v) == 0);
	if (v.f_blocks == 0)
		cr_skip_test("/dev/shm has no size limit");
	/* Over the whole file system, not just over its free space: tmpfs then
	 * refuses at once instead of filling /dev/shm before it gives up. */
	size_t size = (size_t)v.f_blocks * v.f_frsize + MIB;
	cr_assert(size > (size_t)v.f_bavail * v.f_frsize);
	mps_segment_t *sentinel = (mps_segment_t *)a, *out = sentinel;
	cr_assert(mps_segment_create(a->segname, size, &out) == ENOSPC);
	cr_assert(!shm_exists(a->segname), "a failed create left its name in /dev/shm");
	cr_assert(mps_segment_open_or_create(a->segname, size, &out) == ENOSPC);
	cr_assert(!shm_exists(a->segname) && out == sentinel);
	/* The name is free again: a small segment under it works. */
	mps_segment_t *s = segtest_named(a, SMALL);
	segtest_end(a, s);
}

Test(segment, anonymous_fork)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *s = segtest_anon(MIB);
	struct mps_seg_header *h = hdr(s);
	cr_assert(!shm_exists(a->segname));
	mps_event_t *ev;
	cr_assert(mps_segment_event(s, "ready", MPS_CREATE_ONLY, &ev) == 0);
	uint64_t free0 = mps_segment_free_bytes(s);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		/* The child works through the inherited handle: objects, a raw block. */
		mps_sem_t *sem;
		uint64_t off;
		if (mps_segment_semaphore(s, "sem", MPS_CREATE_ONLY, 3, &sem) != 0 ||
		    mps_sem_acquire(sem, 0) != 0 || mps_seg_alloc(h, 64, &off) != 0)
			_exit(1);
		strcpy(mps_seg_ptr(h, off), "written by the child");
		a->value[0] = (int64_t)off;
		mps_event_set(ev);
		_exit(0);
	}
	cr_assert(wait_child(pid) == 0);
	cr_assert(mps_event_is_set(ev));
	void *obj = segtest_find(s, "sem", MPS_KIND_SEMAPHORE);
	cr_assert(obj && mps_sem_value(obj) == 2);
	uint64_t off = (uint64_t)a->value[0];
	cr_assert(strcmp(mps_seg_ptr(h, off), "written by the child") == 0);
	struct mps_segment_info info;
	cr_assert(mps_segment_info(s, &info) == 0);
	cr_assert(info.objects == 2 && info.names == 2);
	cr_assert(info.free_bytes < free0);
	mps_seg_free(h, off);
	cr_assert(mps_segment_remove(s, "sem") == 0);
	cr_assert(mps_segment_free_bytes(s) == free0);
	segtest_end(a, s);
}

/* ---------------------------------------------------------------- header */

/* mps_segment_open(name) gives want; a failed open claims no attach slot. */
static void expect_open(const char *name, struct mps_seg_header *h, int want, const char *what)
{
	struct mps_attach_slot before[MPS_SEG_ATTACH_SLOTS];
	if (h)
		memcpy(before, h->attached, sizeof before);
	mps_segment_t *s = NULL;
	int r = mps_segment_open(name, &s);
	if (r == 0 && want != 0)
		mps_segment_close(s);
	cr_assert(r == want, "%s: open gave %s, not %s", what, mps_strerror(r), mps_strerror(want));
	if (want == 0) {
		cr_assert(mps_segment_close(s) == 0);
	} else if (h) {
		cr_assert(memcmp(before, h->attached, sizeof before) == 0, "%s: slot taken", what);
	}
}

enum mutation {
	M_MAGIC, M_LAYOUT, M_LAYOUT_RESEALED, M_CREATED, M_CREATOR, M_SIZE, M_HEADER_SIZE,
	M_PIDNS, M_PIDNS_RESEALED, M_DIR_CAP, M_HEAP_END, M_HEAP_EMPTY, M_COUNT
};

static int mutate(struct mps_seg_header *h, enum mutation m)
{
	switch (m) {
	case M_MAGIC: h->magic = 0x1122334455667788ull; return EPROTO;
	case M_LAYOUT: h->layout_version = MPS_SEG_LAYOUT + 1; return EPROTO;
	case M_LAYOUT_RESEALED: h->layout_version = 0; h->check = fnv_header(h); return EPROTO;
	case M_CREATED: h->created_unix_ns ^= 1; return EBADMSG;
	case M_CREATOR: h->creator_pid ^= 1; return EBADMSG;
	case M_SIZE: h->size += 4096; h->check = fnv_header(h); return EBADMSG;
	case M_HEADER_SIZE: h->header_size = 8192; h->check = fnv_header(h); return EBADMSG;
	case M_PIDNS: h->pid_namespace ^= 1; return EBADMSG;
	case M_PIDNS_RESEALED: h->pid_namespace ^= 1; h->check = fnv_header(h); return EXDEV;
	case M_DIR_CAP: h->dir_capacity = 48; return EBADMSG;
	case M_HEAP_END: h->heap_end = h->size + 16; return EBADMSG;
	case M_HEAP_EMPTY: h->heap_start = h->heap_end; return EBADMSG;
	default: return 0;
	}
}

Test(segment, header_fields)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *s = segtest_named(a, SMALL);
	struct mps_seg_header *h = hdr(s);
	mps_lock_t *x;
	cr_assert(mps_segment_lock(s, "x", MPS_CREATE_ONLY, &x) == 0);
	cr_assert(h->check == fnv_header(h), "the test's copy of header_check disagrees");
	struct stat st;
	cr_assert(stat("/proc/self/ns/pid", &st) == 0 && h->pid_namespace == st.st_ino);
	static unsigned char saved[MPS_SEG_HEADER_SIZE];
	memcpy(saved, h, sizeof saved);
	for (int m = 0; m < M_COUNT; m++) {
		int want = mutate(h, (enum mutation)m);
		char what[32];
		snprintf(what, sizeof what, "mutation %d", m);
		expect_open(a->segname, h, want, what);
		memcpy(h, saved, sizeof saved);
		/* Restored, it opens: the mutation alone made the difference. */
		expect_open(a->segname, NULL, 0, what);
		memcpy(h, saved, sizeof saved);   /* drop the slot the open took */
	}
	void *found;
	cr_assert(mps_segment_find(s, "x", &found, NULL) == 0 && found == x);
	segtest_end(a, s);
}

Test(segment, file_size_mismatch)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *s = segtest_named(a, SMALL);
	char path[100];
	snprintf(path, sizeof path, "/%s", a->segname);
	int fd = shm_open(path, O_RDWR, 0);
	cr_assert(fd >= 0);
	cr_assert(ftruncate(fd, (off_t)(SMALL + 4096)) == 0);
	expect_open(a->segname, hdr(s), EBADMSG, "file grown");
	cr_assert(ftruncate(fd, (off_t)SMALL) == 0);
	expect_open(a->segname, NULL, 0, "file back to size");
	close(fd);
	segtest_end(a, s);
}

Test(segment, foreign_magic)
{
	struct mps_area *a = mps_area_create();
	static struct mps_seg_header fake;
	memset(&fake, 0, sizeof fake);
	fake.magic = 0x0807060504030201ull;      /* somebody else's file */
	fake.creator_pid = getpid();
	shm_file(a->segname, SMALL, &fake, sizeof fake);
	expect_open(a->segname, NULL, EPROTO, "foreign magic");
	mps_segment_t *out = NULL;
	cr_assert(mps_segment_open_or_create(a->segname, SMALL, &out) == EPROTO);
	cr_assert(mps_segment_create(a->segname, SMALL, &out) == EEXIST);
	/* The right magic on a garbage header is corrupt, not foreign. */
	const char *n2 = extra_name(a, "2");
	fake.magic = MPS_SEG_MAGIC;
	fake.layout_version = MPS_SEG_LAYOUT;
	shm_file(n2, SMALL, &fake, sizeof fake);
	expect_open(n2, NULL, EBADMSG, "zero header");
	mps_area_destroy(a);
}

/* A header-sized file, magic 0, made by creator: a creation cut short. */
static void half_made(const char *name, pid_t creator)
{
	static struct mps_seg_header fake;
	memset(&fake, 0, sizeof fake);
	fake.creator_pid = creator;
	fake.layout_version = MPS_SEG_LAYOUT;
	shm_file(name, MPS_SEG_HEADER_SIZE, &fake, sizeof fake);
}

Test(segment, half_init_dead_creator)
{
	struct mps_area *a = mps_area_create();
	half_made(a->segname, dead_pid());
	double t0 = mps_now();
	expect_open(a->segname, NULL, ENOTRECOVERABLE, "dead creator");
	cr_assert(mps_now() - t0 < 10.0);
	mps_segment_t *out = NULL;
	cr_assert(mps_segment_open_or_create(a->segname, SMALL, &out) == ENOTRECOVERABLE);
	mps_area_destroy(a);
}

Test(segment, half_init_live_creator)
{
	struct mps_area *a = mps_area_create();
	half_made(a->segname, getpid());
	double t0 = mps_now();
	expect_open(a->segname, NULL, EAGAIN, "live creator");
	double dt = mps_now() - t0;
	cr_assert(dt > 1.5 && dt < 10.0, "waited %.3f s for a live creator, not about 2", dt);
	mps_area_destroy(a);
}

/* A creator killed before it recorded its pid: the creation lock it held
 * (flock on its descriptor) is what tells the opener. Here a child plays the
 * first steps of mps_segment_create (shm_open O_EXCL, then the lock); while
 * it lives the opener waits and gets EAGAIN, once it is dead ENOTRECOVERABLE. */
Test(segment, half_init_creation_lock, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char path[100];
		snprintf(path, sizeof path, "/%s", a->segname);
		int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || flock(fd, LOCK_EX) != 0)
			_exit(1);
		mps_count_add(&a->counter[0], 1);
		_exit(mps_count_await(&a->counter[1], 1, LONG_WAIT) ? 0 : 2);
	}
	cr_assert(mps_count_await(&a->counter[0], 1, JOIN_S));
	double t0 = mps_now();
	expect_open(a->segname, NULL, EAGAIN, "creator alive, no pid recorded");
	double dt = mps_now() - t0;
	cr_assert(dt > 1.5 && dt < 10.0, "waited %.3f s for a live creator, not about 2", dt);
	cr_assert(kill(pid, SIGKILL) == 0);
	cr_assert(wait_child(pid) == 128 + SIGKILL);
	expect_open(a->segname, NULL, ENOTRECOVERABLE, "creator dead, no pid recorded");
	mps_area_destroy(a);
}

/* The creator's pid field as the file holds it, 0 when absent or short. */
static int32_t file_creator(const char *name)
{
	char path[100];
	snprintf(path, sizeof path, "/%s", name);
	int fd = shm_open(path, O_RDONLY, 0);
	int32_t pid = 0;
	if (fd >= 0) {
		if (pread(fd, &pid, sizeof pid, offsetof(struct mps_seg_header, creator_pid)) !=
		    sizeof pid)
			pid = 0;
		close(fd);
	}
	return pid;
}

/* Size of the shm file, -1 when there is none. */
static off_t file_size(const char *name)
{
	char path[300];
	snprintf(path, sizeof path, "/dev/shm/%s", name);
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Forks a traced child that creates the segment, stops it at the entry of
 * its k-th system call inside mps_segment_create and kills it there; true
 * when it finished creating before that. Before the kill, a stopped creator
 * that has reserved the space but not yet recorded its pid must still be
 * taken for alive (its creation lock): EAGAIN; *probed counts those. */
static bool create_killed_at_syscall(const char *name, int k, int *probed)
{
	pid_t pid = segtest_traced_child();
	if (pid == 0) {
		mps_segment_t *s;
		_exit(mps_segment_create(name, SMALL, &s) == 0 ? 0 : 4);
	}
	int st;
	/* Needed for PTRACE_GET_SYSCALL_INFO to tell entry from exit. */
	cr_assert(ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)PTRACE_O_TRACESYSGOOD) == 0);
	for (int entries = 0;;) {
		cr_assert(ptrace(PTRACE_SYSCALL, pid, NULL, NULL) == 0);
		cr_assert(waitpid(pid, &st, 0) == pid);
		if (WIFEXITED(st)) {
			cr_assert(WEXITSTATUS(st) == 0, "the traced creator failed");
			return true;
		}
		cr_assert(WIFSTOPPED(st));
		struct __ptrace_syscall_info info;
		long n = ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof info, &info);
		cr_assert(n > 0, "PTRACE_GET_SYSCALL_INFO: %s", strerror(errno));
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY && entries++ == k)
			break;
	}
	if (file_size(name) > 0 && file_creator(name) == 0) {
		expect_open(name, NULL, EAGAIN, "stopped creator, no pid recorded yet");
		++*probed;
	}
	kill(pid, SIGKILL);
	cr_assert(waitpid(pid, &st, 0) == pid);
	return false;
}

/* The real creator killed at the entry of each of its system calls, every
 * one in turn. Whatever the point, an opener gets a final answer: ENOENT
 * (nothing made yet), ENOTRECOVERABLE (a file without magic: at once when
 * the dead creator's pid is recorded, after the 2 s wait when it is not),
 * or the finished, usable segment; never EAGAIN, which would mean "wait for
 * a creator" that no longer exists. */
Test(segment, creator_killed_at_every_syscall, .timeout = 300)
{
	struct mps_area *a = mps_area_create();
	int absent = 0, unrecorded = 0, recorded = 0, done = 0, probed = 0;
	for (int k = 0;; k++) {
		bool finished = create_killed_at_syscall(a->segname, k, &probed);
		int32_t creator = file_creator(a->segname);
		mps_segment_t *s = NULL;
		double t0 = mps_now();
		int r = mps_segment_open(a->segname, &s);
		double dt = mps_now() - t0;
		cr_assert(r == 0 || r == ENOENT || r == ENOTRECOVERABLE,
		          "killed at syscall %d: open gave %s", k, mps_strerror(r));
		cr_assert(!finished || r == 0, "finished, yet open gave %s", mps_strerror(r));
		if (r == 0) {
			mps_lock_t *l;
			cr_assert(mps_segment_lock(s, "l", MPS_CREATE_ONLY, &l) == 0);
			cr_assert(mps_lock_acquire(l, 0) == 0 && mps_lock_release(l) == 0);
			cr_assert(mps_segment_close(s) == 0);
			done++;
		} else if (r == ENOENT) {
			absent++;
		} else if (creator > 0) {
			cr_assert(dt < 1.0, "a dead recorded creator was waited for %.3f s", dt);
			recorded++;
		} else {
			cr_assert(dt > 1.5 && dt < 10.0, "waited %.3f s, not about 2", dt);
			unrecorded++;
		}
		mps_segment_unlink(a->segname);
		if (finished)
			break;
		cr_assert(k < 200, "mps_segment_create makes over 200 system calls");
	}
	cr_log_info("creation killed at each syscall: %d none made, %d no pid yet, %d pid "
	            "recorded, %d finished; %d stopped creators seen alive",
	            absent, unrecorded, recorded, done, probed);
	cr_assert(absent >= 1 && unrecorded >= 1 && recorded >= 1 && done >= 1 && probed >= 1);
	mps_area_destroy(a);
}

struct opener {
	const char *name;
	_Atomic int64_t tid;
	int result;
	double elapsed;
	mps_segment_t *seg;
};

static void *opener_main(void *p)
{
	struct opener *o = p;
	o->tid = syscall(SYS_gettid);
	double t0 = mps_now();
	/* From here the only way this thread sleeps is await_ready's pause. */
	o->result = mps_segment_open(o->name, &o->seg);
	o->elapsed = mps_now() - t0;
	return NULL;
}

Test(segment, creator_finishes_during_wait)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *s = segtest_named(a, SMALL);
	struct mps_seg_header *h = hdr(s);
	mps_lock_t *x;
	cr_assert(mps_segment_lock(s, "x", MPS_CREATE_ONLY, &x) == 0);
	/* The creator has not published yet: magic is the last word written. */
	__atomic_store_n(&h->magic, 0, __ATOMIC_SEQ_CST);
	struct opener o = { .name = a->segname };
	pthread_t t;
	cr_assert(pthread_create(&t, NULL, opener_main, &o) == 0);
	while (o.tid == 0)
		sched_yield();
	cr_assert(mps_await_task_state((pid_t)o.tid, "S", SETTLE_S), "opener never waited");
	__atomic_store_n(&h->magic, MPS_SEG_MAGIC, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	cr_assert(o.result == 0, "open during creation: %s", mps_strerror(o.result));
	cr_assert(o.elapsed < 2.0, "the opener saw the creator finish only after %.3f s", o.elapsed);
	void *found;
	cr_assert(mps_segment_find(o.seg, "x", &found, NULL) == 0);
	cr_assert(off_of(o.seg, found) == off_of(s, x));
	cr_assert(mps_segment_close(o.seg) == 0 && mps_segment_close(s) == 0);
	mps_area_destroy(a);
}

/* ------------------------------------------------------------- allocator */

struct blk {
	uint64_t off, bytes;
	size_t size;
	uint8_t fill;
};

static void blk_fill(struct mps_seg_header *h, const struct blk *b)
{
	memset(mps_seg_ptr(h, b->off), b->fill, b->size);
}

static bool blk_intact(struct mps_seg_header *h, const struct blk *b)
{
	const uint8_t *p = mps_seg_ptr(h, b->off);
	for (size_t i = 0; i < b->size; i++)
		if (p[i] != b->fill)
			return false;
	return true;
}

/* One allocation checked against the heap before it: ENOSPC exactly when
 * no free block fits, else a fresh zeroed block of the right size. */
static int checked_alloc(struct mps_seg_header *h, size_t size, struct blk *b, uint8_t fill)
{
	struct heap_state before = heap_ok(h, "before alloc");
	uint64_t off = 0;
	int r = mps_seg_alloc(h, size, &off);
	struct heap_state after = heap_ok(h, "after alloc");
	uint64_t need = need_for(size);
	if (r == ENOSPC) {
		cr_assert(before.largest < need, "ENOSPC for %zu with a %llu free block", size,
		          (unsigned long long)before.largest);
		cr_assert(after.free_bytes == before.free_bytes && after.free_head == before.free_head);
		return r;
	}
	cr_assert(r == 0);
	cr_assert(before.largest >= need);
	cr_assert(off % MPS_BLOCK_ALIGN == 0 && off >= h->heap_start + sizeof(struct mps_block));
	cr_assert(off + size <= h->heap_end);
	uint64_t bytes = block_bytes(h, off);
	cr_assert(bytes >= need && bytes < need + 32, "block of %llu for %zu",
	          (unsigned long long)bytes, size);
	cr_assert(after.free_bytes == before.free_bytes - bytes);
	const uint8_t *p = mps_seg_ptr(h, off);
	for (size_t i = 0; i < size; i++)
		cr_assert(p[i] == 0, "allocated memory not zeroed");
	*b = (struct blk){ off, bytes, size, fill };
	blk_fill(h, b);
	return 0;
}

static void checked_free(struct mps_seg_header *h, const struct blk *b)
{
	cr_assert(blk_intact(h, b), "block at %llu overwritten", (unsigned long long)b->off);
	uint64_t before = heap_ok(h, "before free").free_bytes;
	mps_seg_free(h, b->off);
	cr_assert(heap_ok(h, "after free").free_bytes == before + b->bytes);
}

static void shuffle(int *ix, int n, unsigned *seed)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(rand_r(seed) % (unsigned)(i + 1)), t = ix[i];
		ix[i] = ix[j];
		ix[j] = t;
	}
}

/* Free order k: ascending, descending, random, evens then odds (each odd
 * block then merges with free neighbours on both sides). */
static void free_order(int *ix, int n, int k, unsigned *seed)
{
	for (int i = 0; i < n; i++)
		ix[i] = k == 1 ? n - 1 - i : i;
	if (k == 2)
		shuffle(ix, n, seed);
	if (k == 3) {
		int m = 0;
		for (int i = 0; i < n; i += 2)
			ix[m++] = i;
		for (int i = 1; i < n; i += 2)
			ix[m++] = i;
	}
}

#define MAX_BLKS 4096

Test(segment, alloc_fill_and_coalesce)
{
	mps_segment_t *s = segtest_anon(4 * SMALL);
	struct mps_seg_header *h = hdr(s);
	static struct blk b[MAX_BLKS];
	static int ix[MAX_BLKS];
	unsigned seed = 12345;
	heap_pristine(h, "fresh");
	for (int order = 0; order < 4; order++) {
		int n = 0;
		while (n < MAX_BLKS && checked_alloc(h, 1 + rand_r(&seed) % 3000, &b[n],
		                                     (uint8_t)(n + 1)) == 0)
			n++;
		/* Then the crumbs, down to nothing at all. */
		while (n < MAX_BLKS && checked_alloc(h, 1, &b[n], (uint8_t)(n + 1)) == 0)
			n++;
		cr_assert(n < MAX_BLKS);
		cr_assert(mps_segment_free_bytes(s) == 0, "ENOSPC for 1 byte with %zu free",
		          mps_segment_free_bytes(s));
		for (int i = 0; i < n; i++)
			cr_assert(blk_intact(h, &b[i]), "blocks overlap");
		free_order(ix, n, order, &seed);
		for (int i = 0; i < n; i++)
			checked_free(h, &b[ix[i]]);
		heap_pristine(h, "all freed");
	}
	cr_assert(mps_segment_close(s) == 0);
}

Test(segment, alloc_random_model)
{
	mps_segment_t *s = segtest_anon(4 * SMALL);
	struct mps_seg_header *h = hdr(s);
	static struct blk live[512];
	int n = 0, enospc = 0;
	uint64_t total = heap_total(h), in_use = 0;
	unsigned seed = 777;
	for (int step = 0; step < 4000; step++) {
		if (n < 512 && (n == 0 || rand_r(&seed) % 100 < 55)) {
			size_t size = rand_r(&seed) % 4 ? 1 + rand_r(&seed) % 300 : 1 + rand_r(&seed) % 20000;
			struct blk nb;
			if (checked_alloc(h, size, &nb, (uint8_t)(step | 1)) == ENOSPC) {
				enospc++;
				continue;
			}
			for (int i = 0; i < n; i++)
				cr_assert(nb.off + nb.bytes <= live[i].off || live[i].off + live[i].bytes <= nb.off,
				          "block overlaps a live one");
			live[n++] = nb;
			in_use += nb.bytes;
		} else {
			int k = (int)(rand_r(&seed) % (unsigned)n);
			checked_free(h, &live[k]);
			in_use -= live[k].bytes;
			live[k] = live[--n];
		}
		cr_assert(mps_segment_free_bytes(s) == total - in_use);
	}
	cr_assert(enospc > 0, "the model never reached ENOSPC: the test is too gentle");
	while (n > 0)
		checked_free(h, &live[--n]);
	close_pristine(s, "model done");
}

Test(segment, alloc_bad_input)
{
	mps_segment_t *s = segtest_anon(SMALL);
	struct mps_seg_header *h = hdr(s);
	uint64_t off = 99;
	cr_assert(mps_seg_alloc(h, (size_t)-1, &off) == ENOSPC && off == 99);
	cr_assert(mps_seg_alloc(h, heap_total(h), &off) == ENOSPC && off == 99);
	uint64_t a1, a2, a3;
	cr_assert(mps_seg_alloc(h, 100, &a1) == 0 && mps_seg_alloc(h, 100, &a2) == 0);
	cr_assert(mps_seg_alloc(h, 100, &a3) == 0);
	mps_seg_free(h, a2);
	struct heap_state before = heap_ok(h, "before");
	/* Not blocks: ignored, state unchanged. A double free is one of them. */
	uint64_t junk[] = { 0, 1, 16, h->heap_start, h->heap_start + 8, a1 + 16, a2, a1 - 8,
	                    h->heap_end, h->heap_end + 4096, h->size, (uint64_t)-16 };
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
		mps_seg_free(h, junk[i]);
		struct heap_state now = heap_ok(h, "junk free");
		cr_assert(now.free_bytes == before.free_bytes && now.used == before.used &&
		          now.nfree == before.nfree, "freeing junk offset %zu changed the heap", i);
	}
	mps_seg_free(h, a1);
	mps_seg_free(h, a3);
	close_pristine(s, "bad input");
}

/* ------------------------------------------------------------- directory */

static int make_kind(mps_segment_t *s, const char *name, enum mps_open_mode mode, int k,
                     void **out)
{
	switch (k % 7) {
	case 0: return mps_segment_lock(s, name, mode, (mps_lock_t **)out);
	case 1: return mps_segment_rlock(s, name, mode, (mps_rlock_t **)out);
	case 2: return mps_segment_semaphore(s, name, mode, 2, (mps_sem_t **)out);
	case 3: return mps_segment_bounded_semaphore(s, name, mode, 2, (mps_sem_t **)out);
	case 4: return mps_segment_event(s, name, mode, (mps_event_t **)out);
	case 5: return mps_segment_condition(s, name, mode, (mps_cond_t **)out);
	default: return mps_segment_barrier(s, name, mode, 1, MPS_FOREVER, (mps_barrier_t **)out);
	}
}

static const enum mps_kind kind_of[7] = {
	MPS_KIND_LOCK, MPS_KIND_RLOCK, MPS_KIND_SEMAPHORE, MPS_KIND_BOUNDED_SEMAPHORE,
	MPS_KIND_EVENT, MPS_KIND_CONDITION, MPS_KIND_BARRIER,
};

/* Uses the object as its kind allows; false if it misbehaves. */
static bool use_kind(int k, void *o)
{
	switch (k % 7) {
	case 0: return mps_lock_acquire(o, 0) == 0 && mps_lock_release(o) == 0;
	case 1: return mps_rlock_acquire(o, 0) == 0 && mps_rlock_acquire(o, 0) == 0 &&
	               mps_rlock_release(o) == 0 && mps_rlock_release(o) == 0;
	case 2:
	case 3: return mps_sem_acquire(o, 0) == 0 && mps_sem_value(o) == 1 &&
	               mps_sem_release(o, 1) == 0;
	case 4: mps_event_set(o); return mps_event_is_set(o);
	case 5: return mps_cond_notify(o, 1) == 0;
	default: return mps_barrier_wait(o, 1.0, NULL) == 0;
	}
}

struct visit {
	int seen[1024];
	int calls, bad;
	mps_segment_t *seg;
};

static int count_visit(const char *name, enum mps_kind kind, void *object, void *arg)
{
	struct visit *v = arg;
	int i;
	v->calls++;
	void *found;
	enum mps_kind fk;
	if (sscanf(name, "obj-%d", &i) != 1 || i < 0 || i >= 1024 ||
	    mps_segment_find(v->seg, name, &found, &fk) != 0 || found != object || fk != kind ||
	    mps_object_kind(object) != kind) {
		v->bad++;
		return 0;
	}
	v->seen[i]++;
	return 0;
}

static int stop_visit(const char *name, enum mps_kind kind, void *object, void *arg)
{
	(void)name, (void)kind, (void)object;
	return ++*(int *)arg;
}

Test(segment, many_names_and_foreach)
{
	mps_segment_t *s = segtest_anon(4 * MIB);
	struct mps_seg_header *h = hdr(s);
	enum { N = 300 };
	cr_assert(N < h->dir_capacity * 3 / 4);
	static void *obj[N];
	char name[32];
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "obj-%d", i);
		cr_assert(make_kind(s, name, MPS_CREATE_ONLY, i, &obj[i]) == 0, "%s", name);
	}
	struct visit *v = calloc(1, sizeof *v);
	v->seg = s;
	cr_assert(mps_segment_foreach(s, count_visit, v) == 0);
	cr_assert(v->calls == N && v->bad == 0);
	for (int i = 0; i < N; i++)
		cr_assert(v->seen[i] == 1, "obj-%d visited %d times", i, v->seen[i]);
	int stops = 0;
	cr_assert(mps_segment_foreach(s, stop_visit, &stops) == 0 && stops == 1);
	cr_assert(mps_segment_foreach(s, NULL, NULL) == EINVAL);
	cr_assert(mps_segment_foreach(NULL, stop_visit, &stops) == EINVAL);

	/* Remove every third; the others stay findable through the tombstones. */
	for (int i = 0; i < N; i += 3) {
		snprintf(name, sizeof name, "obj-%d", i);
		cr_assert(mps_segment_remove(s, name) == 0);
		cr_assert(mps_segment_remove(s, name) == ENOENT);
	}
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "obj-%d", i);
		void *found;
		enum mps_kind k;
		int r = mps_segment_find(s, name, &found, &k);
		if (i % 3 == 0) {
			cr_assert(r == ENOENT, "%s found after removal", name);
		} else {
			cr_assert(r == 0 && found == obj[i] && k == kind_of[i % 7], "%s lost", name);
		}
	}
	/* Re-create the removed ones as another kind. */
	for (int i = 0; i < N; i += 3) {
		snprintf(name, sizeof name, "obj-%d", i);
		cr_assert(make_kind(s, name, MPS_CREATE_ONLY, i + 1, &obj[i]) == 0);
		cr_assert(mps_object_kind(obj[i]) == kind_of[(i + 1) % 7]);
	}
	memset(v->seen, 0, sizeof v->seen);
	v->calls = 0;
	cr_assert(mps_segment_foreach(s, count_visit, v) == 0 && v->calls == N && v->bad == 0);
	struct mps_segment_info info;
	cr_assert(mps_segment_info(s, &info) == 0 && info.names == N && info.objects == N);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "obj-%d", i);
		cr_assert(mps_segment_remove(s, name) == 0);
	}
	free(v);
	close_pristine(s, "names removed");
}

Test(segment, tombstone_reuse)
{
	mps_segment_t *s = segtest_anon(SMALL);
	struct mps_seg_header *h = hdr(s);
	cr_assert(h->dir_capacity == 64);
	mps_lock_t *l;
	/* One name over and over: its slot is reused, the table does not fill. */
	cr_assert(mps_segment_lock(s, "again", MPS_CREATE_ONLY, &l) == 0);
	uint32_t used = heap_state(h).dir_used;
	cr_assert(mps_segment_remove(s, "again") == 0);
	for (int i = 0; i < 1000; i++) {
		cr_assert(mps_segment_lock(s, "again", MPS_CREATE_ONLY, &l) == 0, "round %d", i);
		cr_assert(heap_state(h).dir_used <= used);
		cr_assert(mps_segment_remove(s, "again") == 0);
	}
	/* Many distinct names, one alive at a time: 16 times the capacity. */
	char name[32];
	for (int i = 0; i < 1024; i++) {
		snprintf(name, sizeof name, "distinct-%d", i);
		int r = mps_segment_lock(s, name, MPS_CREATE_ONLY, &l);
		cr_assert(r == 0, "name %d of a churn with one name alive: %s (dir_used %u)", i,
		          mps_strerror(r), heap_state(h).dir_used);
		cr_assert(mps_segment_remove(s, name) == 0);
	}
	struct heap_state st = heap_state(h);
	cr_assert(st.names == 0 && st.objects == 0);
	cr_assert(st.dir_used == 0, "%u slots still used by tombstones of an empty directory",
	          st.dir_used);
	close_pristine(s, "churn");
}

struct dir_snapshot {
	struct heap_state st;
	struct mps_dir_entry table[64];
	struct mps_block first;
};

static void snap(struct mps_seg_header *h, struct dir_snapshot *d)
{
	d->st = heap_ok(h, "snapshot");
	memcpy(d->table, dir_table(h), sizeof d->table);
	d->first = *(struct mps_block *)mps_seg_ptr(h, d->st.free_head);
}

static void same_snapshot(struct mps_seg_header *h, const struct dir_snapshot *d, const char *what)
{
	struct dir_snapshot now;
	snap(h, &now);
	cr_assert(now.st.free_bytes == d->st.free_bytes && now.st.free_head == d->st.free_head &&
	          now.st.objects == d->st.objects && now.st.names == d->st.names &&
	          now.st.dir_used == d->st.dir_used && now.st.used == d->st.used, "%s: counters", what);
	cr_assert(memcmp(now.table, d->table, sizeof d->table) == 0, "%s: directory changed", what);
	cr_assert(memcmp(&now.first, &d->first, sizeof d->first) == 0, "%s: free block", what);
}

Test(segment, directory_full)
{
	mps_segment_t *s = segtest_anon(SMALL);
	struct mps_seg_header *h = hdr(s);
	cr_assert(h->dir_capacity == 64);
	char name[32];
	void *o, *sentinel = &o;
	int n = 0;
	for (;; n++) {
		snprintf(name, sizeof name, "full-%d", n);
		struct dir_snapshot d;
		snap(h, &d);
		o = sentinel;
		int r = make_kind(s, name, MPS_CREATE_ONLY, n, &o);
		if (r == 0)
			continue;
		cr_assert(r == ENOSPC, "name %d: %s", n, mps_strerror(r));
		cr_assert(o == sentinel);
		same_snapshot(h, &d, "directory full");
		/* The same with an init (Semaphore) and an unusual kind (Barrier). */
		cr_assert(make_kind(s, name, MPS_OPEN_OR_CREATE, 2, &o) == ENOSPC && o == sentinel);
		cr_assert(make_kind(s, name, MPS_OPEN_OR_CREATE, 6, &o) == ENOSPC && o == sentinel);
		same_snapshot(h, &d, "directory full, init kinds");
		expect_not_object((char *)h + d.st.free_head + 16 + sizeof(struct mps_object), "an undone creation");
		break;
	}
	cr_assert(n == 48, "directory of 64 slots held %d names, not 48", n);
	/* Existing names still open; unnamed objects need no slot. */
	cr_assert(make_kind(s, "full-7", MPS_OPEN_ONLY, 7, &o) == 0);
	cr_assert(mps_segment_event(s, NULL, MPS_OPEN_OR_CREATE, (mps_event_t **)&o) == 0);
	cr_assert(mps_object_release(o) == 0);
	/* Remove one name, and any other name fits again. */
	for (int i = 0; i < 48; i += 5) {
		snprintf(name, sizeof name, "full-%d", i);
		cr_assert(mps_segment_remove(s, name) == 0);
		snprintf(name, sizeof name, "other-%d", i);
		int r = make_kind(s, name, MPS_CREATE_ONLY, i, &o);
		cr_assert(r == 0, "after a removal at %d names: %s", 47, mps_strerror(r));
	}
	cr_assert(mps_segment_close(s) == 0);
}

Test(segment, object_names)
{
	mps_segment_t *s = segtest_anon(SMALL);
	struct mps_seg_header *h = hdr(s);
	char n63[MPS_OBJ_NAME_MAX + 1], n64[MPS_OBJ_NAME_MAX + 2];
	memset(n63, 'n', MPS_OBJ_NAME_MAX);
	n63[MPS_OBJ_NAME_MAX] = 0;
	snprintf(n64, sizeof n64, "%sX", n63);
	mps_lock_t *l, *sentinel = (mps_lock_t *)&l;
	cr_assert(mps_segment_lock(s, n63, MPS_CREATE_ONLY, &l) == 0);
	struct dir_snapshot d;
	snap(h, &d);
	mps_lock_t *out = sentinel;
	/* 64 bytes is refused, not cut to the 63-byte name it starts with. */
	cr_assert(mps_segment_lock(s, n64, MPS_OPEN_OR_CREATE, &out) == ENAMETOOLONG);
	cr_assert(mps_segment_lock(s, n64, MPS_OPEN_ONLY, &out) == ENAMETOOLONG);
	cr_assert(mps_segment_event(s, n64, MPS_CREATE_ONLY, (mps_event_t **)&out) == ENAMETOOLONG);
	void *found;
	cr_assert(mps_segment_find(s, n64, &found, NULL) == ENAMETOOLONG);
	cr_assert(mps_segment_remove(s, n64) == ENAMETOOLONG);
	cr_assert(mps_segment_lock(s, "", MPS_OPEN_OR_CREATE, &out) == EINVAL);
	cr_assert(mps_segment_find(s, "", &found, NULL) == EINVAL);
	cr_assert(mps_segment_find(s, NULL, &found, NULL) == EINVAL);
	cr_assert(mps_segment_find(s, n63, NULL, NULL) == EINVAL);
	cr_assert(mps_segment_remove(s, NULL) == EINVAL && mps_segment_remove(NULL, n63) == EINVAL);
	cr_assert(out == sentinel);
	same_snapshot(h, &d, "bad names");
	cr_assert(mps_segment_find(s, n63, &found, NULL) == 0 && found == l);
	cr_assert(mps_segment_lock(s, n63, MPS_OPEN_ONLY, &out) == 0 && out == l);
	cr_assert(mps_segment_remove(s, n63) == 0);
	close_pristine(s, "object names");
}

Test(segment, modes_and_kinds)
{
	mps_segment_t *s = segtest_anon(SMALL);
	struct mps_seg_header *h = hdr(s);
	void *o, *first, *sentinel = &o;
	bool created = false;
	cr_assert(mps_seg_object(s, "m", MPS_OPEN_ONLY, MPS_KIND_LOCK, 4, NULL, NULL, &o, &created)
	          == ENOENT && !created);
	cr_assert(mps_seg_object(s, "m", MPS_CREATE_ONLY, MPS_KIND_LOCK, 4, NULL, NULL, &first,
	                         &created) == 0 && created);
	cr_assert(mps_seg_object(s, "m", MPS_OPEN_OR_CREATE, MPS_KIND_LOCK, 4, NULL, NULL, &o,
	                         &created) == 0 && !created && o == first);
	cr_assert(mps_seg_object(s, "m", MPS_OPEN_ONLY, MPS_KIND_LOCK, 4, NULL, NULL, &o,
	                         &created) == 0 && !created && o == first);
	o = sentinel;
	cr_assert(mps_seg_object(s, "m", MPS_CREATE_ONLY, MPS_KIND_LOCK, 4, NULL, NULL, &o,
	                         &created) == EEXIST && o == sentinel && !created);
	cr_assert(mps_object_refs(first) == 1, "finding a name must not take a reference");
	struct dir_snapshot d;
	snap(h, &d);
	/* Another kind under the name: EPROTOTYPE in every mode. */
	for (int k = 1; k < 7; k++)
		for (int mode = 0; mode <= MPS_OPEN_ONLY; mode++) {
			cr_assert(make_kind(s, "m", (enum mps_open_mode)mode, k, &o) == EPROTOTYPE,
			          "kind %d mode %d", k, mode);
			cr_assert(o == sentinel);
		}
	cr_assert(mps_segment_lock(s, "m", (enum mps_open_mode)3, (mps_lock_t **)&o) == EINVAL);
	cr_assert(mps_segment_lock(NULL, "m", MPS_OPEN_OR_CREATE, (mps_lock_t **)&o) == EINVAL);
	cr_assert(mps_segment_lock(s, "m", MPS_OPEN_OR_CREATE, NULL) == EINVAL);
	cr_assert(mps_seg_object(s, "z", 0, MPS_KIND_NONE, 4, NULL, NULL, &o, NULL) == EINVAL);
	cr_assert(mps_seg_object(s, "z", 0, MPS_KIND_COUNT, 4, NULL, NULL, &o, NULL) == EINVAL);
	/* A bad parameter found by init creates nothing. */
	cr_assert(mps_segment_semaphore(s, "z", 0, MPS_SEM_VALUE_MAX + 1u, (mps_sem_t **)&o) == EINVAL);
	cr_assert(mps_segment_bounded_semaphore(s, NULL, 0, MPS_SEM_VALUE_MAX + 1u,
	                                        (mps_sem_t **)&o) == EINVAL);
	cr_assert(mps_segment_barrier(s, "z", 0, 0, 1.0, (mps_barrier_t **)&o) == EINVAL);
	cr_assert(mps_segment_barrier(s, NULL, 0, 2, NAN, (mps_barrier_t **)&o) == EINVAL);
	cr_assert(o == sentinel);
	same_snapshot(h, &d, "refused constructors");
	cr_assert(mps_segment_find(s, "z", &o, NULL) == ENOENT);
	/* Each kind: created with its kind and usable in place. */
	for (int k = 0; k < 7; k++) {
		char name[32];
		snprintf(name, sizeof name, "kind-%d", k);
		cr_assert(make_kind(s, name, MPS_CREATE_ONLY, k, &o) == 0);
		cr_assert(mps_object_kind(o) == kind_of[k] && mps_object_refs(o) == 1);
		cr_assert(use_kind(k, o), "%s does not work", mps_kind_name(kind_of[k]));
		enum mps_kind fk;
		cr_assert(mps_segment_find(s, name, &first, &fk) == 0 && first == o && fk == kind_of[k]);
		cr_assert(mps_segment_remove(s, name) == 0);
	}
	cr_assert(strcmp(mps_kind_name(MPS_KIND_BOUNDED_SEMAPHORE), "BoundedSemaphore") == 0);
	cr_assert(strcmp(mps_kind_name(MPS_KIND_COUNT), "unknown") == 0);
	cr_assert(mps_segment_remove(s, "m") == 0);
	close_pristine(s, "modes");
}

static bool has_pid(const struct mps_segment_info *info, pid_t pid)
{
	for (uint32_t i = 0; i < info->attached && i < 32; i++)
		if (info->attached_pids[i] == pid)
			return true;
	return false;
}

Test(segment, info_counts)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *s = segtest_named(a, MIB);
	struct mps_seg_header *h = hdr(s);
	struct mps_segment_info info;
	cr_assert(mps_segment_info(s, &info) == 0);
	cr_assert(info.layout_version == MPS_SEG_LAYOUT && info.size == MIB);
	cr_assert(info.creator_pid == getpid() && info.creator_start != 0 && info.creator_alive);
	cr_assert(info.pid_namespace == h->pid_namespace && info.created_unix_ns > 0);
	cr_assert(info.free_bytes == heap_total(h));
	cr_assert(info.objects == 0 && info.names == 0);
	cr_assert(info.attached == 1 && info.attached_pids[0] == getpid());
	cr_assert(mps_segment_info(NULL, &info) == EINVAL && mps_segment_info(s, NULL) == EINVAL);

	mps_lock_t *l;
	mps_event_t *e;
	cr_assert(mps_segment_lock(s, "a", MPS_CREATE_ONLY, &l) == 0);
	cr_assert(mps_segment_lock(s, "b", MPS_CREATE_ONLY, &l) == 0);
	cr_assert(mps_segment_event(s, NULL, MPS_CREATE_ONLY, &e) == 0);
	cr_assert(mps_segment_info(s, &info) == 0 && info.objects == 3 && info.names == 2);
	cr_assert(info.free_bytes == mps_segment_free_bytes(s) && info.free_bytes < heap_total(h));

	/* A child attaches by name, is counted, dies without closing: not counted. */
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		mps_segment_t *mine;
		if (mps_segment_open(a->segname, &mine) != 0)
			_exit(1);
		mps_count_add(&a->counter[0], 1);
		_exit(mps_count_await(&a->counter[1], 1, LONG_WAIT) ? 0 : 2);
	}
	cr_assert(mps_count_await(&a->counter[0], 1, JOIN_S));
	cr_assert(mps_segment_info(s, &info) == 0);
	cr_assert(info.attached == 2 && has_pid(&info, getpid()) && has_pid(&info, pid));
	mps_count_add(&a->counter[1], 1);
	cr_assert(wait_child(pid) == 0);
	cr_assert(mps_segment_info(s, &info) == 0);
	cr_assert(info.attached == 1 && !has_pid(&info, pid), "a dead child counts as attached");
	/* A handle closed is a slot given back; ours reopened counts once more. */
	mps_segment_t *s2 = NULL;
	cr_assert(mps_segment_open(a->segname, &s2) == 0);
	cr_assert(mps_segment_info(s, &info) == 0 && info.attached == 2);
	cr_assert(mps_segment_close(s2) == 0);
	cr_assert(mps_segment_info(s, &info) == 0 && info.attached == 1);
	cr_assert(mps_object_release(e) == 0);
	cr_assert(mps_segment_info(s, &info) == 0 && info.objects == 2 && info.names == 2);
	segtest_end(a, s);
}

/* The creator's liveness is the recorded process (pid and start time), so
 * a segment outliving its creator says so. */
Test(segment, info_creator_alive_after_creator_exit)
{
	struct mps_area *a = mps_area_create();
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		mps_segment_t *mine;
		_exit(mps_segment_create(a->segname, MIB, &mine) != 0);
	}
	cr_assert(wait_child(pid) == 0);
	mps_segment_t *s;
	cr_assert(mps_segment_open(a->segname, &s) == 0);
	struct mps_segment_info info;
	cr_assert(mps_segment_info(s, &info) == 0);
	cr_assert(info.creator_pid == pid && !info.creator_alive);
	cr_assert(info.attached == 1 && info.attached_pids[0] == getpid());
	segtest_end(a, s);
}

/* An init that allocates and frees inside the creation transaction, so the
 * transaction stores free_head and free_bytes more than once: undoing
 * it must go in reverse order. arg: NULL succeeds, else its int is the
 * error to fail with after the churn (a late error: the whole creation
 * must be undone). White-box: a primitive kind with a test init. */
static int churn_init(struct mps_seg_header *h, void *payload, void *arg)
{
	(void)payload;
	uint64_t a;
	if (mps_seg_alloc(h, 200, &a) != 0)
		return ENOSPC;
	mps_seg_free(h, a);   /* 8 journal entries: a named creation stays under 24 */
	return arg ? *(int *)arg : 0;
}

Test(segment, late_init_failure_undone)
{
	mps_segment_t *s = segtest_anon(SMALL);
	struct mps_seg_header *h = hdr(s);
	mps_lock_t *l;
	uint64_t raw;
	cr_assert(mps_segment_lock(s, "before", MPS_CREATE_ONLY, &l) == 0);
	cr_assert(mps_seg_alloc(h, 100, &raw) == 0);
	struct dir_snapshot d;
	snap(h, &d);
	int fail = ERANGE;
	void *o = NULL;
	bool created = true;
	cr_assert(mps_seg_object(s, "late", MPS_OPEN_OR_CREATE, MPS_KIND_EVENT, sizeof(mps_event_t),
	                         churn_init, &fail, &o, &created) == ERANGE);
	cr_assert(o == NULL && !created);
	same_snapshot(h, &d, "late init failure");
	/* The undone object is no object, in its block or anywhere free. */
	expect_not_object((char *)h + d.st.free_head + 16 + sizeof(struct mps_object), "an undone creation");
	cr_assert(mps_seg_object(s, NULL, 0, MPS_KIND_EVENT, sizeof(mps_event_t), churn_init, &fail,
	                         &o, NULL) == ERANGE);
	same_snapshot(h, &d, "late init failure, unnamed");
	/* Succeeding, the churn leaves just the object. */
	cr_assert(mps_seg_object(s, "late", 0, MPS_KIND_EVENT, sizeof(mps_event_t), churn_init, NULL,
	                         &o, &created) == 0 && created);
	struct heap_state st = heap_ok(h, "churned");
	cr_assert(st.used == d.st.used + 1 && st.objects == d.st.objects + 1);
	cr_assert(mps_segment_remove(s, "late") == 0 && mps_segment_remove(s, "before") == 0);
	mps_seg_free(h, raw);
	close_pristine(s, "late init");
}

/* ------------------------------------------------------------ references */

Test(segment, unnamed_release)
{
	mps_segment_t *s = segtest_anon(SMALL);
	struct mps_seg_header *h = hdr(s);
	for (int k = 0; k < 7; k++) {
		uint64_t free0 = mps_segment_free_bytes(s);
		void *o;
		cr_assert(make_kind(s, NULL, MPS_OPEN_OR_CREATE, k, &o) == 0);
		struct heap_state st = heap_ok(h, "unnamed");
		cr_assert(st.objects == 1 && st.names == 0 && st.free_bytes < free0);
		cr_assert(mps_object_kind(o) == kind_of[k] && mps_object_refs(o) == 1);
		cr_assert(mps_obj_segment(o) == h && mps_obj_at(h, mps_obj_offset(o)) == o);
		cr_assert(use_kind(k, o));
		cr_assert(mps_object_retain(o) == 0 && mps_object_refs(o) == 2);
		cr_assert(mps_object_release(o) == 0 && mps_object_refs(o) == 1);
		cr_assert(mps_object_kind(o) == kind_of[k] && heap_state(h).objects == 1);
		cr_assert(mps_object_release(o) == 0);
		/* Destroyed: the space is back and the pointer is no object. */
		st = heap_ok(h, "released");
		cr_assert(st.objects == 0 && st.free_bytes == free0);
		cr_assert(mps_object_kind(o) == MPS_KIND_NONE && mps_object_refs(o) == 0);
		cr_assert(mps_object_release(o) == EINVAL && mps_object_retain(o) == EINVAL);
		cr_assert(heap_ok(h, "second release").free_bytes == free0);
	}
	close_pristine(s, "unnamed");
}

Test(segment, named_survives_remove)
{
	mps_segment_t *s = segtest_anon(SMALL);
	struct mps_seg_header *h = hdr(s);
	mps_lock_t *l;
	cr_assert(mps_segment_lock(s, "n", MPS_CREATE_ONLY, &l) == 0);
	cr_assert(mps_object_refs(l) == 1);
	cr_assert(mps_object_retain(l) == 0 && mps_object_refs(l) == 2);
	cr_assert(mps_segment_remove(s, "n") == 0);
	void *found;
	cr_assert(mps_segment_find(s, "n", &found, NULL) == ENOENT);
	cr_assert(mps_segment_remove(s, "n") == ENOENT);
	cr_assert(mps_object_refs(l) == 1 && mps_object_kind(l) == MPS_KIND_LOCK);
	struct heap_state st = heap_ok(h, "removed");
	cr_assert(st.objects == 1 && st.names == 0);
	cr_assert(mps_lock_acquire(l, 0) == 0 && mps_lock_release(l) == 0);
	/* The name is free for a new object while the old one lives on. */
	mps_lock_t *l2;
	cr_assert(mps_segment_lock(s, "n", MPS_CREATE_ONLY, &l2) == 0 && l2 != l);
	cr_assert(mps_object_release(l) == 0);
	cr_assert(mps_object_kind(l) == MPS_KIND_NONE && mps_object_kind(l2) == MPS_KIND_LOCK);
	cr_assert(mps_segment_remove(s, "n") == 0);
	close_pristine(s, "survivor released");
}

Test(segment, garbage_pointers)
{
	mps_segment_t *s = segtest_anon(SMALL);
	struct mps_seg_header *h = hdr(s);
	char *base = (char *)h;
	mps_lock_t *l;
	mps_event_t *gone;
	uint64_t raw;
	cr_assert(mps_segment_lock(s, "live", MPS_CREATE_ONLY, &l) == 0);
	cr_assert(mps_segment_event(s, NULL, MPS_CREATE_ONLY, &gone) == 0);
	cr_assert(mps_object_release(gone) == 0);
	cr_assert(mps_seg_alloc(h, 256, &raw) == 0);
	struct dir_snapshot d;
	snap(h, &d);
	expect_not_object(NULL, "NULL");
	expect_not_object(base + 64, "the segment header");
	expect_not_object(base + 48 + 1, "a misaligned pointer");
	expect_not_object(base + h->dir_offset + 32, "the directory");
	expect_not_object(base + h->heap_start, "a block header");
	expect_not_object((char *)l + 16, "the middle of an object");
	expect_not_object((char *)l + 1, "an object plus one");
	expect_not_object(gone, "a destroyed object");
	expect_not_object(base + raw, "a raw block");
	expect_not_object(base + raw + 64, "inside a raw block");
	expect_not_object(base + h->size - 16, "the end of the segment");
	/* Outside any segment: a zeroed buffer, then forged object headers. */
	char *buf = aligned_alloc(64, 512);
	memset(buf, 0, 512);
	expect_not_object(buf + 128, "a malloc'd buffer");
	struct mps_object *forged = (struct mps_object *)(buf + 96);
	forged->magic = MPS_OBJ_MAGIC;
	forged->kind = MPS_KIND_LOCK;
	forged->refs = 1;
	forged->self = 128;   /* "segment" at buf: no segment magic there */
	expect_not_object(buf + 128, "a forged object");
	forged->self = (uint64_t)(uintptr_t)(buf + 128) + 4096;   /* segment before address 0 */
	expect_not_object(buf + 128, "a forged object with a wild offset");
	cr_assert(forged->refs == 1);
	free(buf);
	same_snapshot(h, &d, "garbage pointers");
	cr_assert(mps_object_refs(l) == 1);
	mps_seg_free(h, raw);
	cr_assert(mps_segment_remove(s, "live") == 0);
	close_pristine(s, "garbage");
}

/* ------------------------------------------------------------- by name */

enum { C_READY, C_GO, C_CORRUPT, C_STOP, C_OPS0, C_OPS1 };
#define N_BYNAME   6
#define ITERS      200
#define V_LOCK     0      /* value[]: offset of the parent's "plock" */
#define V_SEM      1      /* offset of "psem" */
#define V_BASE     2      /* parent's base address */
#define V_SIZE     3
#define V_SUM1     4      /* counter under plock */
#define V_SUM2     5      /* counter under psem */
#define V_SAME     8      /* + i: offset of "same" seen by worker i */
#define V_OWN      20     /* + i: offset of worker i's own object */
#define V_WBASE    32     /* + i: worker i's base address */

/* A place where the parent's mapping is, so this process cannot map the
 * segment there: a spawned worker is sure to use another address. */
static void *reserve_parent_range(struct mps_area *a)
{
	void *want = (void *)(uintptr_t)a->value[V_BASE];
	size_t size = (size_t)a->value[V_SIZE];
	void *p = mmap(want, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
	               -1, 0);
	if (p != MAP_FAILED && p != want) {
		munmap(p, size);   /* an old kernel took it as a hint */
		p = MAP_FAILED;
	}
	return p;
}

static bool gate(struct mps_area *a)
{
	mps_count_add(&a->counter[C_READY], 1);
	double end = mps_now() + LONG_WAIT;
	while (!mps_count_get(&a->counter[C_GO])) {
		if (mps_now() > end)
			return false;
		sched_yield();
	}
	return true;
}

/* Increments *v without an atomic: only the exclusion makes it exact. */
static void slow_increment(int64_t *v)
{
	int64_t x = __atomic_load_n(v, __ATOMIC_RELAXED);
	sched_yield();
	__atomic_store_n(v, x + 1, __ATOMIC_RELAXED);
}

static int by_name_role(struct mps_area *a, int i)
{
	void *reserved = reserve_parent_range(a);
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	a->value[V_WBASE + i] = (int64_t)(uintptr_t)mps_segment_base(seg);
	mps_lock_t *plock = segtest_find(seg, "plock", MPS_KIND_LOCK);
	MPS_CHECK(plock);
	MPS_CHECK((int64_t)off_of(seg, plock) == a->value[V_LOCK]);
	mps_sem_t *psem;
	MPS_CHECK(mps_segment_semaphore(seg, "psem", MPS_OPEN_ONLY, 0, &psem) == 0);
	MPS_CHECK((int64_t)off_of(seg, psem) == a->value[V_SEM]);
	MPS_CHECK(gate(a));
	mps_lock_t *same;
	MPS_CHECK(mps_segment_lock(seg, "same", MPS_OPEN_OR_CREATE, &same) == 0);
	a->value[V_SAME + i] = (int64_t)off_of(seg, same);
	char name[16];
	snprintf(name, sizeof name, "own-%d", i);
	mps_event_t *own;
	MPS_CHECK(mps_segment_event(seg, name, MPS_CREATE_ONLY, &own) == 0);
	mps_event_set(own);
	a->value[V_OWN + i] = (int64_t)off_of(seg, own);
	for (int k = 0; k < ITERS; k++) {
		MPS_CHECK(mps_lock_acquire(plock, LONG_WAIT) == 0);
		slow_increment(&a->value[V_SUM1]);
		MPS_CHECK(mps_lock_release(plock) == 0);
		MPS_CHECK(mps_sem_acquire(psem, LONG_WAIT) == 0);
		slow_increment(&a->value[V_SUM2]);
		MPS_CHECK(mps_sem_release(psem, 1) == 0);
	}
	MPS_CHECK(mps_segment_close(seg) == 0);
	if (reserved != MAP_FAILED)
		munmap(reserved, (size_t)a->value[V_SIZE]);
	return 0;
}

MPS_FLAVOURS(segment, by_name)
ParameterizedTest(enum mps_flavour *f, segment, by_name)
{
	struct mps_area *a = mps_area_create();
	mps_segment_t *s = segtest_named(a, MIB);
	a->value[V_BASE] = (int64_t)(uintptr_t)mps_segment_base(s);
	a->value[V_SIZE] = (int64_t)MIB;
	mps_lock_t *plock;
	mps_sem_t *psem;
	cr_assert(mps_segment_lock(s, "plock", MPS_CREATE_ONLY, &plock) == 0);
	cr_assert(mps_segment_semaphore(s, "psem", MPS_CREATE_ONLY, 1, &psem) == 0);
	a->value[V_LOCK] = (int64_t)off_of(s, plock);
	a->value[V_SEM] = (int64_t)off_of(s, psem);
	struct mps_workers w;
	mps_workers_start(&w, *f, a, by_name_role, N_BYNAME, 0);
	cr_assert(mps_count_await(&a->counter[C_READY], N_BYNAME, JOIN_S));
	mps_count_add(&a->counter[C_GO], 1);
	cr_assert(mps_workers_join_report(&w, 0, JOIN_S, "by_name") == 0);

	void *same;
	cr_assert(mps_segment_find(s, "same", &same, NULL) == 0);
	for (int i = 0; i < N_BYNAME; i++) {
		cr_assert(a->value[V_SAME + i] == (int64_t)off_of(s, same), "worker %d: another 'same'", i);
		cr_assert(a->value[V_WBASE + i] != a->value[V_BASE], "worker %d mapped at our address", i);
		char name[16];
		snprintf(name, sizeof name, "own-%d", i);
		void *own = segtest_find(s, name, MPS_KIND_EVENT);
		cr_assert(own);
		cr_assert(a->value[V_OWN + i] == (int64_t)off_of(s, own));
		cr_assert(mps_event_is_set(own));
	}
	struct mps_segment_info info;
	cr_assert(mps_segment_info(s, &info) == 0);
	cr_assert(info.objects == 3 + N_BYNAME && info.names == 3 + N_BYNAME,
	          "%u objects, %u names: 'same' made more than once", info.objects, info.names);
	cr_assert(a->value[V_SUM1] == N_BYNAME * ITERS, "Lock: %lld", (long long)a->value[V_SUM1]);
	cr_assert(a->value[V_SUM2] == N_BYNAME * ITERS, "Semaphore: %lld", (long long)a->value[V_SUM2]);
	cr_assert(info.attached == 1, "workers that closed still count as attached");
	heap_ok(hdr(s), "by name");
	segtest_end(a, s);
}

/* ------------------------------------------------------------- crashes */

/* Workers churn the segment until told to stop; the parent kills them.
 * value[V_RAW + slot] is the raw block a worker holds (0 none): set after
 * mps_seg_alloc returns, cleared before mps_seg_free, so a recorded block
 * is always allocated and the parent may free it. */
#define V_RAW      40
#define V_COMMON   44

static bool raw_op(struct mps_area *a, struct mps_seg_header *h, int slot, uint32_t n,
                   unsigned *seed)
{
	size_t size = 1 + rand_r(seed) % 3000;
	uint64_t off;
	if (mps_seg_alloc(h, size, &off) != 0)
		return false;
	__atomic_store_n(&a->value[V_RAW + slot], (int64_t)off, __ATOMIC_SEQ_CST);
	/* Bytes >= 0x80: never an object magic, so no block is taken for one. */
	uint8_t fill = (uint8_t)(0x80 | (n & 0x7f)), *p = mps_seg_ptr(h, off);
	bool ok = p[0] == 0 && p[size - 1] == 0;
	memset(p, fill, size);
	for (size_t i = 0; i < size; i++)
		ok &= p[i] == fill;
	__atomic_store_n(&a->value[V_RAW + slot], 0, __ATOMIC_SEQ_CST);
	mps_seg_free(h, off);
	return ok;
}

static bool named_op(mps_segment_t *seg, int slot, uint32_t n, bool keep)
{
	char name[40];
	snprintf(name, sizeof name, "w%d-%d-%u", slot, (int)getpid(), n);
	int k = (int)(n % 7);
	void *o;
	if (make_kind(seg, name, MPS_CREATE_ONLY, k, &o) != 0 || !use_kind(k, o))
		return false;
	if (keep && mps_object_retain(o) != 0)
		return false;
	if (mps_segment_remove(seg, name) != 0)
		return false;
	if (!keep)
		return true;
	bool ok = mps_object_kind(o) == kind_of[k] && mps_object_refs(o) == 1 && use_kind(k, o);
	return mps_object_release(o) == 0 && ok;
}

static bool unnamed_op(mps_segment_t *seg, uint32_t n)
{
	int k = (int)(n % 7);
	void *o;
	if (make_kind(seg, NULL, MPS_OPEN_OR_CREATE, k, &o) != 0)
		return false;
	bool ok = mps_object_kind(o) == kind_of[k] && mps_object_refs(o) == 1 && use_kind(k, o);
	return mps_object_release(o) == 0 && ok;
}

static bool common_op(struct mps_area *a, mps_segment_t *seg)
{
	mps_lock_t *l;
	if (mps_segment_lock(seg, "common", MPS_OPEN_ONLY, &l) != 0 ||
	    (int64_t)off_of(seg, l) != a->value[V_COMMON])
		return false;
	int r = mps_lock_acquire(l, LONG_WAIT);   /* a killed holder: EOWNERDEAD */
	return (r == 0 || r == EOWNERDEAD) && mps_lock_release(l) == 0;
}

static bool crash_op(struct mps_area *a, mps_segment_t *seg, int slot, uint32_t n,
                     unsigned *seed)
{
	struct mps_seg_header *h = mps_segment_base(seg);
	struct mps_segment_info info;
	int fail = EDOM;
	void *obj;
	switch (rand_r(seed) % 7) {
	case 5:
		/* Creations whose undo must run in reverse: some succeed, some fail. */
		if (mps_seg_object(seg, NULL, 0, MPS_KIND_EVENT, sizeof(mps_event_t), churn_init,
		                   n % 2 ? &fail : NULL, &obj, NULL) != (n % 2 ? EDOM : 0))
			return false;
		return n % 2 || mps_object_release(obj) == 0;
	case 0: return named_op(seg, slot, n, false);
	case 1: return named_op(seg, slot, n, true);
	case 2: return unnamed_op(seg, n);
	case 3: return raw_op(a, h, slot, n, seed);
	case 4: return common_op(a, seg);
	default: break;
	}
	/* Lookups; info rarely: its /proc reads would keep the worker outside
	 * the segment lock most of the time. */
	if (n % 64 == 0)
		return mps_segment_info(seg, &info) == 0 && info.names >= 1;
	void *o = segtest_find(seg, "common", MPS_KIND_LOCK);
	return o && (int64_t)off_of(seg, o) == a->value[V_COMMON] && mps_segment_free_bytes(seg) > 0;
}

static int crash_role(struct mps_area *a, int slot)
{
	mps_segment_t *seg = segtest_open(a);
	MPS_CHECK(seg);
	unsigned seed = (unsigned)getpid() * 2654435761u;
	double end = mps_now() + LONG_WAIT;
	for (uint32_t n = 0; !mps_count_get(&a->counter[C_STOP]) && mps_now() < end; n++) {
		if (!crash_op(a, seg, slot, n, &seed))
			mps_count_add(&a->counter[C_CORRUPT], 1);
		mps_count_add(&a->counter[C_OPS0 + slot], 1);
	}
	MPS_CHECK(mps_segment_close(seg) == 0);
	return 0;
}

struct crash {
	struct mps_area *a;
	mps_segment_t *seg;
	struct mps_seg_header *h;
	enum mps_flavour f;
	struct mps_workers w[2];
	int kills, inside, attempts;
	double worst_recovery;
};

/* Under the segment lock: the heap walks clean, every name is a live object
 * of its kind with a reference, and the counters match what is there. */
static void check_segment(struct mps_seg_header *h, const char *what)
{
	bool took = mps_seg_enter(h);
	uint64_t used, nfree;
	int check = mps_heap_check(h, &used, &nfree);
	uint32_t live = 0, bad = 0, objects = 0;
	struct mps_dir_entry *t = dir_table(h);
	for (uint32_t k = 0; k < h->dir_capacity; k++) {
		if (t[k].object <= 1)
			continue;
		live++;
		void *p = mps_obj_at(h, t[k].object);
		if (!p || mps_object_kind(p) != (enum mps_kind)t[k].kind || mps_object_refs(p) == 0 ||
		    t[k].hash != mps_dir_hash(t[k].name))
			bad++;
	}
	uint32_t ghosts = 0;
	for (uint64_t off = h->heap_start; check == 0 && off < h->heap_end;) {
		struct mps_block *b = mps_seg_ptr(h, off);
		uint64_t size = b->size_flags & ~(uint64_t)15;
		if (!(b->size_flags & MPS_BLOCK_FREE) && mps_obj_at(h, off + 16 + sizeof(struct mps_object)))
			objects++;
		/* Free memory holds nothing that passes for a live object. */
		for (uint64_t p = off + 16 + sizeof(struct mps_object); (b->size_flags & MPS_BLOCK_FREE) && p < off + size; p += 16)
			ghosts += mps_obj_at(h, p) != NULL;
		off += size;
	}
	uint32_t names = h->names, hobjects = h->objects;
	mps_seg_leave(h, took);
	cr_assert(check == 0, "%s: heap check failed", what);
	cr_assert(bad == 0, "%s: %u directory entries name no live object", what, bad);
	cr_assert(ghosts == 0, "%s: %u live-looking objects in free blocks", what, ghosts);
	cr_assert(live == names, "%s: %u live entries, names says %u", what, live, names);
	cr_assert(objects == hobjects, "%s: %u objects in the heap, objects says %u", what,
	          objects, hobjects);
}

struct names {
	char (*v)[MPS_OBJ_NAME_MAX + 1];
	int n, cap;
	const char *prefix;
};

static int collect_name(const char *name, enum mps_kind kind, void *object, void *arg)
{
	(void)kind, (void)object;
	struct names *ns = arg;
	if (strncmp(name, ns->prefix, strlen(ns->prefix)) == 0 && ns->n < ns->cap)
		snprintf(ns->v[ns->n++], MPS_OBJ_NAME_MAX + 1, "%s", name);
	return 0;
}

/* Removes every name that starts with prefix; returns how many. */
static int remove_names(mps_segment_t *seg, const char *prefix)
{
	static char v[1024][MPS_OBJ_NAME_MAX + 1];
	struct names ns = { v, 0, 1024, prefix };
	cr_assert(mps_segment_foreach(seg, collect_name, &ns) == 0);
	for (int i = 0; i < ns.n; i++)
		cr_assert(mps_segment_remove(seg, v[i]) == 0, "remove %s", v[i]);
	return ns.n;
}

static void crash_start(struct crash *c, int slot)
{
	mps_workers_start(&c->w[slot], c->f, c->a, crash_role, 1, slot);
}

/* After SIGKILL of slot's worker: reap it, prove the segment usable within
 * a bound and consistent, clear what the dead worker left, start another. */
static void crash_recover(struct crash *c, int slot)
{
	c->kills++;
	mps_workers_join(&c->w[slot], JOIN_S);
	double t0 = mps_now();
	mps_lock_t *probe;
	cr_assert(mps_segment_lock(c->seg, "probe", MPS_OPEN_OR_CREATE, &probe) == 0);
	double dt = mps_now() - t0;
	if (dt > c->worst_recovery)
		c->worst_recovery = dt;
	cr_assert(dt < 10.0, "segment wedged %.3f s after a kill", dt);
	check_segment(c->h, "after a kill");
	char prefix[8];
	snprintf(prefix, sizeof prefix, "w%d-", slot);
	remove_names(c->seg, prefix);
	uint64_t raw = (uint64_t)__atomic_load_n(&c->a->value[V_RAW + slot], __ATOMIC_SEQ_CST);
	if (raw) {
		cr_assert(block_of(c->h, raw)->next_free == MPS_BLOCK_USED,
		          "a block the dead worker held was freed by recovery");
		mps_seg_free(c->h, raw);
		c->a->value[V_RAW + slot] = 0;
	}
	check_segment(c->h, "after clearing a dead worker's objects");
	crash_start(c, slot);
}

static void await_progress(struct crash *c, int slot, uint32_t ops)
{
	uint32_t base = mps_count_get(&c->a->counter[C_OPS0 + slot]);
	cr_assert(mps_count_await(&c->a->counter[C_OPS0 + slot], base + ops, JOIN_S),
	          "worker %d made no progress (wedged segment?)", slot);
}

/* Kills at whatever moment k operations after now turns out to be. */
static void kill_anywhere(struct crash *c, int rounds)
{
	for (int r = 0; r < rounds; r++) {
		int slot = r % 2;
		await_progress(c, slot, 1 + (uint32_t)(r * 7) % 40);
		kill(c->w[slot].pids[0], SIGKILL);
		crash_recover(c, slot);
	}
}

/* Stops a worker; kills it only if it stopped holding the segment lock. */
static void kill_inside_lock(struct crash *c, int want, double seconds)
{
	double end = mps_now() + seconds;
	while (c->inside < want && mps_now() < end) {
		int slot = c->attempts++ % 2;
		await_progress(c, slot, 1);
		pid_t pid = c->w[slot].pids[0];
		cr_assert(kill(pid, SIGSTOP) == 0);
		cr_assert(mps_await_task_state(pid, "Tt", SETTLE_S), "worker never stopped");
		if (mps_lock_owner(&c->h->guard.lock) == pid) {
			kill(pid, SIGKILL);
			c->inside++;
			crash_recover(c, slot);
		} else {
			kill(pid, SIGCONT);
		}
	}
}

/* Everything named is removed; what stays allocated is a leak. Objects
 * leak when a worker dies holding an unnamed object's reference, between a
 * name's removal and its release, or after refs reached 0 and before the
 * block was freed; raw blocks leak when it dies between mps_seg_alloc and
 * recording the block, or between unrecording and mps_seg_free. A worker
 * does one such thing at a time: at most one leak per kill. A leaked object
 * holds at most 2 references (a retained one whose name's release was cut
 * off); released that often, each must go, and the heap be whole again. */
static void crash_account(struct crash *c, uint64_t free0)
{
	remove_names(c->seg, "");
	check_segment(c->h, "all names removed");
	struct mps_segment_info info;
	cr_assert(mps_segment_info(c->seg, &info) == 0 && info.names == 0);
	static uint64_t objs[256], raws[256];
	int nobj = 0, nraw = 0;
	bool took = mps_seg_enter(c->h);
	for (uint64_t off = c->h->heap_start; off < c->h->heap_end;) {
		struct mps_block *b = mps_seg_ptr(c->h, off);
		if (!(b->size_flags & MPS_BLOCK_FREE)) {
			if (mps_obj_at(c->h, off + 16 + sizeof(struct mps_object)) && nobj < 256)
				objs[nobj++] = off + 16 + sizeof(struct mps_object);
			else if (nraw < 256)
				raws[nraw++] = off + 16;
		}
		off += b->size_flags & ~(uint64_t)15;
	}
	mps_seg_leave(c->h, took);
	cr_assert((uint32_t)nobj == info.objects, "leaked objects: walk %d, info %u", nobj,
	          info.objects);
	fprintf(stderr, "crash (%s): %d kills, %d inside the segment lock (%d stops), leaked %d "
	        "objects and %d raw blocks, slowest recovery %.1f ms\n", mps_flavour_name(c->f),
	        c->kills, c->inside, c->attempts, nobj, nraw, c->worst_recovery * 1e3);
	cr_assert(nobj + nraw <= c->kills, "%d leaks from %d kills", nobj + nraw, c->kills);
	/* Leaks are only leaks: released or freed, the heap is whole again. */
	for (int i = 0; i < nobj; i++) {
		void *o = mps_seg_ptr(c->h, objs[i]);
		unsigned refs = mps_object_refs(o);
		/* 2: the worker's own reference and the name's, cut off in
		 * mps_segment_remove between the name's removal and its release. */
		cr_assert(refs <= 2, "a leaked object holds %u references", refs);
		/* 0: its destroyer died before it could free it. Nobody may
		 * raise a count from 0 (ESTALE), so the test takes the dead
		 * destroyer's place by hand: count 1, then the last release. */
		if (refs == 0) {
			cr_assert(mps_object_retain(o) == ESTALE);
			mps_obj_header(o)->refs = 1;
		}
		for (unsigned r = refs ? refs : 1; r > 0; r--)
			cr_assert(mps_object_release(o) == 0);
		cr_assert(mps_object_kind(o) == MPS_KIND_NONE);
	}
	for (int i = 0; i < nraw; i++)
		mps_seg_free(c->h, raws[i]);
	cr_assert(mps_segment_free_bytes(c->seg) == free0);
	heap_pristine(c->h, "after the crashes");
}

#define KILLS_ANYWHERE 24
#define KILLS_INSIDE   60

MPS_PROCESS_FLAVOURS(segment, crash)
ParameterizedTest(enum mps_flavour *f, segment, crash)
{
	struct mps_area *a = mps_area_create();
	static struct crash c;
	c = (struct crash){ .a = a, .f = *f };
	c.seg = segtest_named(a, MIB);
	c.h = hdr(c.seg);
	uint64_t free0 = mps_segment_free_bytes(c.seg);
	mps_lock_t *common;
	cr_assert(mps_segment_lock(c.seg, "common", MPS_CREATE_ONLY, &common) == 0);
	a->value[V_COMMON] = (int64_t)off_of(c.seg, common);
	crash_start(&c, 0);
	crash_start(&c, 1);
	kill_anywhere(&c, KILLS_ANYWHERE);
	kill_inside_lock(&c, KILLS_INSIDE, 60.0);
	mps_count_add(&a->counter[C_STOP], 1);
	cr_assert(mps_workers_join_report(&c.w[0], 0, JOIN_S, "survivor 0") == 0);
	cr_assert(mps_workers_join_report(&c.w[1], 0, JOIN_S, "survivor 1") == 0);
	cr_assert(mps_count_get(&a->counter[C_CORRUPT]) == 0, "workers saw %u misbehaving operations",
	          mps_count_get(&a->counter[C_CORRUPT]));
	cr_assert(c.inside >= KILLS_INSIDE, "only %d of %d stops landed inside the segment lock",
	          c.inside, c.attempts);
	check_segment(c.h, "survivors done");
	crash_account(&c, free0);
	segtest_end(a, c.seg);
}
