/* Segments: create, open, close, unlink; the header and the attach slots.
 *
 * Creation order (why a half-made segment is always recognised): the shm
 * object is created O_EXCL, its whole size is reserved with posix_fallocate
 * (a full /dev/shm fails here with ENOSPC, never later with SIGBUS), the
 * header fields, directory and heap are written, the header checksum is
 * computed, and only then is magic stored with release order. From right
 * after shm_open until magic is stored the creator holds flock(LOCK_EX) on
 * its descriptor; the kernel drops that lock when the creator dies, even
 * before it has recorded its pid. An opener that finds no magic waits a
 * little (2 s) for the creator; then the verdict is EAGAIN while a creator
 * lives (its lock held, or its recorded pid alive) and ENOTRECOVERABLE once
 * none does. A magic of another value, or another layout version, is EPROTO; a
 * header whose checksum or ranges are wrong is EBADMSG; another PID
 * namespace is EXDEV, since owner tids in lock words would name strangers.
 *
 * Attach slots: each process that opens or creates the segment claims a
 * slot (CAS on pid, from 0 or from a dead process's pid) and clears it on
 * close. The slots are advisory (mpsync rm refuses a segment with a live
 * attached process); a crash leaves a slot that the next claimer, or the
 * liveness check (pid plus start time), recognises as dead. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../arch/atomic.h"
#include "../sync/deadline.h"
#include "../sync/owner.h"
#include "seg.h"

#define OPEN_WAIT_NS (2 * 1000000000LL)   /* how long an opener waits for a live creator */


static uint64_t header_check(const struct mps_seg_header *h)
{
	const unsigned char *p = (const unsigned char *)&h->layout_version;
	const unsigned char *end = (const unsigned char *)&h->check;
	uint64_t x = 1469598103934665603ull;
	for (; p < end; p++)
		x = (x ^ *p) * 1099511628211ull;
	return x;
}

static uint64_t pid_namespace(void)
{
	struct stat st;
	return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

bool mps_process_alive(int pid, uint64_t start)
{
	return mps_pid_alive_since(pid, start);
}

static int attach(struct mps_seg_header *h)
{
	int pid = getpid();
	uint64_t start = mps_process_start(pid);
	for (int i = 0; i < MPS_SEG_ATTACH_SLOTS; i++) {
		struct mps_attach_slot *s = &h->attached[i];
		uint32_t old = a_load((uint32_t *)&s->pid);
		if (old != 0 && mps_process_alive((int)old, s->start))
			continue;
		if (a_cas((uint32_t *)&s->pid, old, (uint32_t)pid) == old) {
			s->start = start;
			return i;
		}
	}
	return -1;   /* all slots taken by live processes: attach unrecorded */
}

static void detach(struct mps_seg_header *h, int slot)
{
	if (slot < 0)
		return;
	uint32_t pid = (uint32_t)getpid();
	a_cas((uint32_t *)&h->attached[slot].pid, pid, 0);
}

static uint32_t dir_capacity_for(size_t size)
{
	uint32_t cap = 64;
	while (cap < 65536 && (uint64_t)cap * 8192 < size)
		cap *= 2;
	return cap;
}

static void format(struct mps_seg_header *h, size_t size)
{
	h->layout_version = MPS_SEG_LAYOUT;
	h->header_size = MPS_SEG_HEADER_SIZE;
	h->size = size;
	h->creator_pid = getpid();
	h->creator_start = mps_process_start(h->creator_pid);
	h->pid_namespace = pid_namespace();
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->created_unix_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	h->check = header_check(h);
	h->dir_capacity = dir_capacity_for(size);
	h->dir_offset = MPS_SEG_HEADER_SIZE;
	uint64_t heap = h->dir_offset + (uint64_t)h->dir_capacity * sizeof(struct mps_dir_entry);
	heap = (heap + 4095) & ~4095ull;
	mps_heap_format(h, heap, size);
	__atomic_store_n(&h->magic, MPS_SEG_MAGIC, __ATOMIC_RELEASE);
}

/* "name" or "/name" -> "/name"; EINVAL for "" or another '/'. */
static int shm_path(const char *name, char *path)
{
	if (!name)
		return EINVAL;
	if (name[0] == '/')
		name++;
	size_t n = strnlen(name, MPS_SEG_NAME_MAX + 1);
	if (n == 0 || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return EINVAL;
	if (n > MPS_SEG_NAME_MAX)
		return ENAMETOOLONG;
	path[0] = '/';
	memcpy(path + 1, name, n + 1);
	return 0;
}

static int new_handle(struct mps_seg_header *h, size_t size, bool anonymous, mps_segment_t **out)
{
	mps_segment_t *s = calloc(1, sizeof *s);
	if (!s) {
		munmap(h, size);
		return ENOMEM;
	}
	s->h = h;
	s->size = size;
	s->anonymous = anonymous;
	s->slot = anonymous ? -1 : attach(h);
	*out = s;
	return 0;
}

static size_t round_size(size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	return (size + (size_t)page - 1) / (size_t)page * (size_t)page;
}

static int segment_create(const char *name, size_t size, mps_segment_t **out)
{
	char path[MPS_SEG_NAME_MAX + 2];
	int r = shm_path(name, path);
	if (r)
		return r;
	if (!out || size < MPS_SEG_MIN_SIZE || size > (size_t)1 << 46)
		return EINVAL;
	size = round_size(size);
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	flock(fd, LOCK_EX);   /* "being created"; released by close or by death */
	r = posix_fallocate(fd, 0, (off_t)size);
	if (r) {
		close(fd);
		shm_unlink(path);
		return r == EFBIG || r == ENOSPC ? ENOSPC : r;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r = errno;
		close(fd);
		shm_unlink(path);
		return r;
	}
	format(p, size);
	close(fd);
	return new_handle(p, size, false, out);
}

static int segment_create_anonymous(size_t size, mps_segment_t **out)
{
	if (!out || size < MPS_SEG_MIN_SIZE || size > (size_t)1 << 46)
		return EINVAL;
	size = round_size(size);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE,
	               -1, 0);
	if (p == MAP_FAILED)
		return errno == ENOMEM ? ENOSPC : errno;
	format(p, size);
	return new_handle(p, size, true, out);
}

/* The verdict on a mapped header whose magic is set. */
static int validate(const struct mps_seg_header *h, size_t file_size)
{
	if (h->magic != MPS_SEG_MAGIC || h->layout_version != MPS_SEG_LAYOUT)
		return EPROTO;
	if (h->check != header_check(h) || h->header_size != MPS_SEG_HEADER_SIZE ||
	    h->size != file_size || h->heap_start >= h->heap_end || h->heap_end > h->size ||
	    h->dir_capacity == 0 || (h->dir_capacity & (h->dir_capacity - 1)) ||
	    h->dir_offset + (uint64_t)h->dir_capacity * sizeof(struct mps_dir_entry) > h->heap_start)
		return EBADMSG;
	if (h->pid_namespace && h->pid_namespace != pid_namespace())
		return EXDEV;
	return 0;
}

/* A creator is still at work: it holds the creation lock, or the pid it
 * recorded runs. The lock covers a creator killed before recording its pid. */
static bool creator_lives(int fd, int32_t creator)
{
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		flock(fd, LOCK_UN);
	else if (errno == EWOULDBLOCK)
		return true;
	return creator > 0 && mps_process_alive(creator, 0);
}

/* 0 with the size once magic is stored; EAGAIN while it is not; EPROTO for
 * a file too small for a header that holds something. */
static int read_magic(int fd, size_t *size)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return errno;
	uint64_t magic = 0;
	if (st.st_size >= (off_t)sizeof magic && pread(fd, &magic, sizeof magic, 0) != sizeof magic)
		return EIO;
	if (!magic)
		return EAGAIN;
	if ((size_t)st.st_size < MPS_SEG_HEADER_SIZE)
		return EPROTO;   /* written, yet too small for a header: not ours */
	*size = (size_t)st.st_size;
	return 0;
}

/* Waits for a creator still writing the segment; the final size and magic.
 * Each round judges the creator before reading magic: a creator seen gone
 * has stored all it ever will, so no magic after that means it died. */
static int await_ready(int fd, size_t *size)
{
	int64_t give_up = mps_monotonic_ns() + OPEN_WAIT_NS;
	for (;;) {
		int32_t creator = 0;
		if (pread(fd, &creator, sizeof creator, offsetof(struct mps_seg_header, creator_pid)) !=
		    sizeof creator)
			creator = 0;
		int verdict = 0;   /* what no magic means this round; 0: wait on */
		if (creator > 0 && !mps_process_alive(creator, 0))
			verdict = ENOTRECOVERABLE;
		else if (mps_monotonic_ns() > give_up)
			verdict = creator_lives(fd, creator) ? EAGAIN : ENOTRECOVERABLE;
		int r = read_magic(fd, size);
		if (r != EAGAIN)
			return r;
		if (verdict)
			return verdict;
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
}

static int segment_open(const char *name, mps_segment_t **out)
{
	char path[MPS_SEG_NAME_MAX + 2];
	int r = shm_path(name, path);
	if (r)
		return r;
	if (!out)
		return EINVAL;
	int fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	size_t size = 0;
	r = await_ready(fd, &size);
	if (r) {
		close(fd);
		return r;
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	r = errno;
	close(fd);
	if (p == MAP_FAILED)
		return r;
	r = validate(p, size);
	if (r) {
		munmap(p, size);
		return r;
	}
	return new_handle(p, size, false, out);
}

int mps_segment_open_or_create(const char *name, size_t size, mps_segment_t **out)
{
	for (int tries = 0; tries < 8; tries++) {
		int r = mps_segment_create(name, size, out);
		if (r != EEXIST)
			return r;
		r = mps_segment_open(name, out);
		if (r != ENOENT)
			return r;   /* removed in between: try again */
	}
	return EAGAIN;
}

static int segment_close(mps_segment_t *seg)
{
	if (!seg)
		return EINVAL;
	detach(seg->h, seg->slot);
	munmap(seg->h, seg->size);
	free(seg);
	return 0;
}

static int segment_unlink(const char *name)
{
	char path[MPS_SEG_NAME_MAX + 2];
	int r = shm_path(name, path);
	if (r)
		return r;
	return shm_unlink(path) == 0 ? 0 : errno;
}

void *mps_segment_base(const mps_segment_t *seg)
{
	return seg ? seg->h : NULL;
}

size_t mps_segment_size(const mps_segment_t *seg)
{
	return seg ? seg->size : 0;
}

size_t mps_segment_free_bytes(mps_segment_t *seg)
{
	if (!seg)
		return 0;
	bool took = mps_seg_enter(seg->h);
	size_t n = seg->h->free_bytes;
	mps_seg_leave(seg->h, took);
	return n;
}

static int segment_info(mps_segment_t *seg, struct mps_segment_info *info)
{
	if (!seg || !info)
		return EINVAL;
	struct mps_seg_header *h = seg->h;
	memset(info, 0, sizeof *info);
	info->layout_version = h->layout_version;
	info->size = h->size;
	info->creator_pid = h->creator_pid;
	info->creator_start = h->creator_start;
	info->creator_alive = mps_process_alive(h->creator_pid, h->creator_start);
	info->pid_namespace = h->pid_namespace;
	info->created_unix_ns = h->created_unix_ns;
	bool took = mps_seg_enter(h);
	info->free_bytes = h->free_bytes;
	info->objects = h->objects;
	info->names = h->names;
	mps_seg_leave(h, took);
	for (int i = 0; i < MPS_SEG_ATTACH_SLOTS; i++) {
		int pid = (int)a_load((uint32_t *)&h->attached[i].pid);
		if (pid && mps_process_alive(pid, h->attached[i].start))
			info->attached_pids[info->attached++] = pid;
	}
	return 0;
}

/* ---- errno ---- */

/* The entry points that reach the C library keep errno as the caller left
 * it (SPEC §2): shm_open, flock, mmap, /proc reads... report through it. */

int mps_segment_create(const char *name, size_t size, mps_segment_t **out)
{
	int saved = errno;
	int r = segment_create(name, size, out);
	errno = saved;
	return r;
}

int mps_segment_create_anonymous(size_t size, mps_segment_t **out)
{
	int saved = errno;
	int r = segment_create_anonymous(size, out);
	errno = saved;
	return r;
}

int mps_segment_open(const char *name, mps_segment_t **out)
{
	int saved = errno;
	int r = segment_open(name, out);
	errno = saved;
	return r;
}

int mps_segment_close(mps_segment_t *seg)
{
	int saved = errno;
	int r = segment_close(seg);
	errno = saved;
	return r;
}

int mps_segment_unlink(const char *name)
{
	int saved = errno;
	int r = segment_unlink(name);
	errno = saved;
	return r;
}

int mps_segment_info(mps_segment_t *seg, struct mps_segment_info *info)
{
	int saved = errno;
	int r = segment_info(seg, info);
	errno = saved;
	return r;
}
