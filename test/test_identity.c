/* Owner identity (lib/sync/owner.c, design.md §10): the held record that
 * tells a word this thread took from one a dead thread with the same tid left
 * behind, the tid cache in children made without atfork handlers, and errno.
 * The contract tests of issue 9 (hidepid, real tid reuse, exec, unmapping
 * releasers, signals) live in their own suites; these pin the internals. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mpsync.h>
#include <mpsync/debug.h>

#include "harness.h"

/* A word that holds the caller's tid but that the caller never took: what a
 * dead thread leaves when the kernel later gives its tid to this thread. */
static void plant_own_tid(uint32_t *word)
{
	__atomic_store_n(word, (uint32_t)gettid(), __ATOMIC_SEQ_CST);
}

Test(identity, lock_with_own_tid_not_taken_is_eownerdead)
{
	mps_lock_t l = MPS_LOCK_INIT;
	mps_lock_acquire(&l, 0);     /* caches the tid */
	mps_lock_release(&l);
	plant_own_tid(&l.word);
	cr_assert(!mps_lock_is_mine(&l));
	/* Before the held record: the thread waited for itself (ETIMEDOUT). */
	cr_assert_eq(mps_lock_acquire(&l, 0.5), EOWNERDEAD);
	cr_assert(mps_lock_is_mine(&l));
	cr_assert_eq(mps_lock_owner(&l), gettid());
	cr_assert_eq(mps_lock_release(&l), 0);
	cr_assert(!mps_lock_locked(&l));
}

Test(identity, lock_reacquired_by_its_holder_still_waits)
{
	mps_lock_t l = MPS_LOCK_INIT;
	cr_assert_eq(mps_lock_acquire(&l, 1), 0);
	cr_assert(mps_lock_is_mine(&l));
	cr_assert_eq(mps_lock_acquire(&l, 0.05), ETIMEDOUT);
	cr_assert_eq(mps_lock_acquire(&l, 0), ETIMEDOUT);
	cr_assert_eq(mps_lock_release(&l), 0);
}

Test(identity, rlock_with_own_tid_not_taken_is_not_reentered)
{
	mps_rlock_t r = MPS_RLOCK_INIT;
	mps_rlock_acquire(&r, 0);
	mps_rlock_release(&r);
	plant_own_tid(&r.word);
	r.count = 5;                 /* the dead owner's depth */
	cr_assert(!mps_rlock_is_owned(&r));
	cr_assert_eq(mps_rlock_count(&r), 0);
	cr_assert_eq(mps_rlock_release(&r), EPERM);
	/* Before the held record: a silent re-entry at depth 6. */
	cr_assert_eq(mps_rlock_acquire(&r, 0.5), EOWNERDEAD);
	cr_assert_eq(mps_rlock_count(&r), 1);
	cr_assert_eq(mps_rlock_acquire(&r, 0.5), 0);
	cr_assert_eq(mps_rlock_count(&r), 2);
	cr_assert_eq(mps_rlock_release(&r), 0);
	cr_assert_eq(mps_rlock_release(&r), 0);
	cr_assert(!mps_rlock_locked(&r));
}

/* The same bytes at two addresses: a word taken through one is ours through
 * the other (no EOWNERDEAD for an alias). */
Test(identity, alias_of_a_held_word_is_ours)
{
	int fd = memfd_create("identity", 0);
	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	char *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert(a != MAP_FAILED && b != MAP_FAILED && a != b);
	mps_lock_t *la = (mps_lock_t *)a, *lb = (mps_lock_t *)b;
	mps_rlock_t *ra = (mps_rlock_t *)(a + 64), *rb = (mps_rlock_t *)(b + 64);
	cr_assert_eq(mps_lock_acquire(la, 1), 0);
	cr_assert(mps_lock_is_mine(lb));
	cr_assert_eq(mps_lock_acquire(lb, 0.05), ETIMEDOUT);
	cr_assert_eq(mps_rlock_acquire(ra, 1), 0);
	cr_assert_eq(mps_rlock_acquire(rb, 1), 0);
	cr_assert_eq(mps_rlock_count(rb), 2);
	cr_assert_eq(mps_rlock_release(rb), 0);
	cr_assert_eq(mps_rlock_release(ra), 0);
	cr_assert_eq(mps_lock_release(lb), 0);
	munmap(a, 4096);
	munmap(b, 4096);
	close(fd);
}

/* More locks held at once than the record has room for: the thread stays
 * correct (conservative: its own words stay its own) and counts it. */
Test(identity, held_record_overflow_is_counted_and_conservative)
{
	enum { N = 40 };
	static mps_lock_t l[N];
	uint64_t before = mps_debug_held_overflows();
	for (int i = 0; i < N; i++)
		cr_assert_eq(mps_lock_acquire(&l[i], 1), 0);
	cr_assert_geq(mps_debug_held_overflows(), before + 1);
	for (int i = 0; i < N; i++)
		cr_assert(mps_lock_is_mine(&l[i]), "lock %d", i);
	for (int i = N; i-- > 0;)
		cr_assert_eq(mps_lock_release(&l[i]), 0);
}

/* Locks released by another thread (Python allows it) leave stale entries
 * behind; pruning reclaims them, so no overflow follows. */
static void *release_it(void *arg)
{
	return (void *)(intptr_t)mps_lock_release(arg);
}

Test(identity, entries_released_elsewhere_are_pruned)
{
	enum { N = 100 };
	static mps_lock_t l[N];
	uint64_t before = mps_debug_held_overflows();
	for (int i = 0; i < N; i++) {
		cr_assert_eq(mps_lock_acquire(&l[i], 1), 0);
		pthread_t t;
		void *rc;
		cr_assert_eq(pthread_create(&t, NULL, release_it, &l[i]), 0);
		cr_assert_eq(pthread_join(t, &rc), 0);
		cr_assert_eq((intptr_t)rc, 0);
	}
	cr_assert_eq(mps_debug_held_overflows(), before);
}

/* A child made without atfork handlers: _Fork() and a raw clone(SIGCHLD). */
static mps_lock_t *child_lock;
static mps_rlock_t *child_rlock;

static int child_body(void)
{
	if (mps_lock_acquire(child_lock, 1) != 0)
		return 1;
	if (mps_lock_owner(child_lock) != getpid())
		return 2;
	if (mps_lock_release(child_lock) != 0)
		return 3;
	/* The parent holds the RLock: the child must not re-enter it. */
	if (mps_rlock_acquire(child_rlock, 0.1) != ETIMEDOUT)
		return 4;
	return 0;
}

static void shared_objects(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(p != MAP_FAILED);
	child_lock = p;
	child_rlock = (mps_rlock_t *)((char *)p + 64);
	mps_lock_init(child_lock);
	mps_rlock_init(child_rlock);
	cr_assert_eq(mps_rlock_acquire(child_rlock, 1), 0);   /* caches the parent's tid */
}

static int reap(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

Test(identity, underscore_fork_child_uses_its_own_tid)
{
	shared_objects();
	pid_t pid = _Fork();
	if (pid == 0)
		_exit(child_body());
	cr_assert(pid > 0);
	cr_assert_eq(reap(pid), 0, "before the stamp: the child used the parent's tid");
	cr_assert_eq(mps_rlock_release(child_rlock), 0);
}

Test(identity, raw_clone_child_uses_its_own_tid)
{
	shared_objects();
	long pid = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (pid == 0)
		_exit(child_body());
	cr_assert(pid > 0);
	cr_assert_eq(reap((pid_t)pid), 0, "before the stamp: the child used the parent's tid");
	cr_assert_eq(mps_rlock_release(child_rlock), 0);
}

/* errno: every call preserves it, timed-out and slow paths included. */
Test(identity, errno_is_preserved)
{
	mps_lock_t l = MPS_LOCK_INIT;
	mps_sem_t s;
	mps_event_t e = MPS_EVENT_INIT;
	mps_sem_init(&s, 0);
	cr_assert_eq(mps_lock_acquire(&l, 1), 0);
	errno = 4242;
	cr_assert_eq(mps_lock_acquire(&l, 0.02), ETIMEDOUT);
	cr_assert_eq(errno, 4242, "Lock: errno %d", errno);
	cr_assert_eq(mps_sem_acquire(&s, 0.02), ETIMEDOUT);
	cr_assert_eq(errno, 4242, "Semaphore: errno %d", errno);
	cr_assert_eq(mps_event_wait(&e, 0.02), ETIMEDOUT);
	cr_assert_eq(errno, 4242, "Event: errno %d", errno);
	cr_assert(!mps_owner_alive(0x3fffff));
	cr_assert_eq(errno, 4242, "mps_owner_alive: errno %d", errno);
	cr_assert_eq(mps_lock_release(&l), 0);
}
