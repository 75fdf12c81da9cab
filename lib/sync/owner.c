/* Owner identity is the kernel tid, the same number in every process of one
 * PID namespace. Three things make it sound (docs/design.md §10):
 *
 * Who am I. gettid() is a syscall, so the tid is cached in TLS. A child
 * process inherits the copy of the thread that made it; libc's atfork
 * handlers run only for fork(), not for _Fork() or a raw clone(). So the
 * cache is trusted only while a stamp in a MADV_WIPEONFORK page is set: the
 * kernel zeroes that page in every child however it was made, and the child's
 * next call re-reads its tid. An atfork handler clears the stamp too, which
 * covers fork() where MADV_WIPEONFORK is missing (kernels before 4.14) or
 * ignored (qemu-user).
 *
 * What do I hold. A word holding my tid is mine only if I put it there: a
 * dead thread whose tid the kernel later gave me may have left it. Every
 * acquire pushes the word's address on a small per-thread record and its
 * release pops it (top of the record on the common path: a few TLS loads and
 * stores). When the record is full, entries whose word no longer holds my
 * tid are dropped, read with process_vm_readv, which cannot fault on an
 * address that was unmapped since; still full sets overflowed, and the thread
 * then treats every word with its tid as its own (the old behaviour). A word
 * missing from the record may still be one of its entries mapped at a second
 * address: the (device, inode, offset) of both, from /proc/self/maps, decide.
 *
 * Is that thread alive. kill(tid, 0) tells gone (ESRCH) from present (0 or
 * EPERM, another user's) for any tid, whatever /proc shows. A present thread
 * is dead only if /proc/<tid>/stat shows it a zombie (Z, X: an exited process
 * not reaped yet) or exiting (PF_EXITING: do_exit has begun; its joiners may
 * already have returned, and it will never run user code again). Where /proc hides it (hidepid=2, another user), it counts
 * as alive, zombie or not, until it is reaped: never robbing a living owner
 * matters more than a prompt recovery from an unreaped one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <mpsync/common.h>
#include <mpsync/debug.h>

#include "lockword.h"
#include "owner.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

#define STAMP_PAGE 4096

_Static_assert(MPS_STAMP_WORDS * sizeof(uint32_t) == STAMP_PAGE, "the stamp is one page");

__thread struct mps_held mps_tls_held __attribute__((tls_model("initial-exec")));

/* A whole page of .bss: beyond the file's last page, so privately anonymous,
 * which MADV_WIPEONFORK requires. A fixed address keeps the check one load.
 * Exported, since the inline fast paths read it: a program linked with the
 * shared library gets a copy relocation, a page-aligned page of its own .bss
 * (the linker keeps the alignment of the definition), and the library uses
 * that copy too. */
uint32_t mps_stamp_page[MPS_STAMP_WORDS] __attribute__((aligned(STAMP_PAGE)));

static pthread_once_t stamp_once = PTHREAD_ONCE_INIT;
static uint64_t held_overflows;

uint64_t mps_debug_held_overflows(void)
{
	return a_load64(&held_overflows);
}

static void clear_stamp_in_child(void)
{
	a_store(&mps_stamp_page[0], 0);
}

/* The atfork handler as well: qemu-user (7.2) accepts MADV_WIPEONFORK and
 * ignores it, and kernels before 4.14 refuse it; fork() children are then
 * still covered, _Fork() and clone() children are not. */
static void arm_stamp(void)
{
	madvise(mps_stamp_page, STAMP_PAGE, MADV_WIPEONFORK);
	pthread_atfork(NULL, NULL, clear_stamp_in_child);
}

uint32_t mps_self_tid_slow(void)
{
	int saved = errno;
	pthread_once(&stamp_once, arm_stamp);
	if (!a_load_relaxed(&mps_stamp_page[0])) {
		/* A child (or the first call in this process): what the parent's
		 * thread held is not ours. */
		memset(&mps_tls_held, 0, sizeof mps_tls_held);
	}
	uint32_t tid = (uint32_t)gettid();
	mps_tls_held.tid = tid;
	a_store(&mps_stamp_page[0], 1);
	errno = saved;
	return tid;
}

bool mps_read_word(const void *p, uint32_t *out)
{
	int saved = errno;
	struct iovec local = { out, sizeof *out }, remote = { (void *)p, sizeof *out };
	bool ok = process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)sizeof *out;
	errno = saved;
	return ok;
}

static void held_remove(struct mps_held *h, uint32_t i)
{
	memmove(&h->at[i], &h->at[i + 1], (h->n - i - 1) * sizeof h->at[0]);
	h->n--;
}

static bool held_find(const struct mps_held *h, const void *word, uint32_t *index)
{
	for (uint32_t i = h->n; i-- > 0;) {
		if (h->at[i] == word) {
			*index = i;
			return true;
		}
	}
	return false;
}

/* Drops entries whose word no longer holds this thread's tid: released by
 * another thread (Python lets any thread release a Lock), or unmapped. */
static void held_prune(struct mps_held *h)
{
	uint32_t self = mps_self_tid(), v;
	for (uint32_t i = h->n; i-- > 0;) {
		if (!mps_read_word(h->at[i], &v) || lw_owner(v) != self)
			held_remove(h, i);
	}
}

void mps_held_push_slow(const void *word)
{
	struct mps_held *h = &mps_tls_held;
	uint32_t i;
	if (held_find(h, word, &i))
		return;
	held_prune(h);
	if (h->n < MPS_HELD_MAX) {
		h->at[h->n++] = word;
		return;
	}
	h->overflowed = true;
	a_fetch_add64(&held_overflows, 1);
}

void mps_held_pop_slow(const void *word)
{
	struct mps_held *h = &mps_tls_held;
	uint32_t i;
	if (held_find(h, word, &i))
		held_remove(h, i);
}

struct mapping {
	uint64_t dev_major, dev_minor, inode, offset;
};

/* The file bytes behind address p, from /proc/self/maps; false when p is in
 * no mapping, in an anonymous private one (it cannot be mapped twice), or
 * the file cannot be read. */
static bool mapping_of(const void *p, struct mapping *m)
{
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return false;
	uintptr_t a = (uintptr_t)p;
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof line, f)) {
		uintptr_t lo, hi;
		uint64_t off, maj, min, ino;
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %*s %" SCNx64 " %" SCNx64 ":%" SCNx64 " %" SCNu64,
		           &lo, &hi, &off, &maj, &min, &ino) != 6 || a < lo || a >= hi)
			continue;
		*m = (struct mapping){ maj, min, ino, off + (a - lo) };
		found = ino != 0;
		break;
	}
	fclose(f);
	return found;
}

static bool same_bytes(const void *a, const void *b)
{
	struct mapping ma, mb;
	return mapping_of(a, &ma) && mapping_of(b, &mb) && memcmp(&ma, &mb, sizeof ma) == 0;
}

/* A private copy of the single header (MPSYNC_STATIC, or one whose symbols
 * are hidden) keeps a record of its own, and another copy in this process
 * may have taken the word in this thread: such a copy cannot tell that from
 * a dead thread's word, and, as with an overflowed record, takes every word
 * with its tid for its own. */
#ifdef MPS_PRIVATE_RECORD
#define RECORD_IS_PRIVATE true
#else
#define RECORD_IS_PRIVATE false
#endif

bool mps_held_by_self(const void *word)
{
	struct mps_held *h = &mps_tls_held;
	uint32_t i;
	if (RECORD_IS_PRIVATE || h->overflowed || held_find(h, word, &i))
		return true;
	int saved = errno;
	bool alias = false;
	for (i = 0; i < h->n && !alias; i++)
		alias = same_bytes(word, h->at[i]);
	errno = saved;
	return alias;
}

/* Reads /proc/<id>/stat into buf; -1 when the file cannot be opened, else
 * the bytes read. The one /proc reader of the library. Threads that are not
 * group leaders are not listed in /proc but are reachable there by tid. */
static ssize_t read_stat(uint32_t id, char *buf, size_t cap)
{
	char path[32];
	snprintf(path, sizeof path, "/proc/%" PRIu32 "/stat", id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	int err = errno;
	close(fd);
	errno = err;
	buf[n > 0 ? n : 0] = 0;
	return n;
}

/* "tid (comm) S ...": comm may hold ')', so the state is the first letter
 * after the last ')'. NULL when the text is not that shape. */
static const char *state_field(const char *buf)
{
	const char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren + 2 : NULL;
}

static bool zombie_state(char s)
{
	return s == 'Z' || s == 'X' || s == 'x';
}

#define PF_EXITING 0x4   /* task->flags: do_exit has begun */

/* The n-th space-separated field of stat (3 = state), counted from the
 * space before the state letter; NULL when the text is shorter. */
static const char *stat_field(const char *state, int n)
{
	const char *p = state - 1;
	for (int field = 3; p && field < n; field++)
		p = strchr(p + 1, ' ');
	return p ? p + 1 : NULL;
}

/* Whether tid exists and will run user code again: not gone, not a zombie,
 * not exiting (PF_EXITING is set at the start of do_exit, before the thread's
 * joiners are woken, so an exiting owner never releases anything); *start
 * gets its start time when /proc shows it (0 when hidden). */
static bool probe(uint32_t tid, uint64_t *start)
{
	*start = 0;
	if (tid == 0 || tid > INT_MAX)
		return false;
	if (kill((pid_t)tid, 0) != 0 && errno == ESRCH)
		return false;
	char buf[1024];
	ssize_t n = read_stat(tid, buf, sizeof buf);
	if (n < 0 && errno == ENOENT) {
		/* Hidden from us (hidepid), or gone since kill looked: ask again. */
		return !(kill((pid_t)tid, 0) != 0 && errno == ESRCH);
	}
	if (n <= 0)
		return n < 0 && errno != ESRCH;   /* opened but unreadable: going */
	const char *state = state_field(buf);
	if (!state)
		return true;
	if (zombie_state(*state))
		return false;
	const char *flags = stat_field(state, 9);
	if (flags && (strtoul(flags, NULL, 10) & PF_EXITING))
		return false;
	const char *st = stat_field(state, 22);
	*start = st ? strtoull(st, NULL, 10) : 0;
	return true;
}

bool mps_tid_alive(uint32_t tid)
{
	int saved = errno;
	uint64_t start;
	bool alive = probe(tid, &start);
	errno = saved;
	return alive;
}

bool mps_tid_alive_as(uint32_t tid, uint64_t *start)
{
	int saved = errno;
	uint64_t now;
	bool alive = probe(tid, &now);
	errno = saved;
	if (!alive)
		return false;
	if (*start == 0)
		*start = now;
	return now == 0 || now == *start;
}

bool mps_owner_alive(pid_t tid)
{
	return tid > 0 && mps_tid_alive((uint32_t)tid);
}

/* Start time in clock ticks since boot (field 22 of stat): with the id it
 * names one thread or process, so a reused id is not taken for a recorded
 * one. */
uint64_t mps_process_start(int pid)
{
	int saved = errno;
	uint64_t start = 0;
	probe(pid > 0 ? (uint32_t)pid : 0, &start);
	errno = saved;
	return start;
}

bool mps_pid_alive_since(int pid, uint64_t start)
{
	uint64_t seen = start;
	return pid > 0 && mps_tid_alive_as((uint32_t)pid, &seen);
}
