/* issue 9, contract C8 (SPEC §2): no public call of the primitives changes
 * errno, whatever it returns: success, bad input, a poll or a timed wait that
 * times out, owner death, an interrupted wait. Each call runs with errno set
 * to a value no syscall ever sets, and errno must still hold it afterwards.
 *
 * How each test failed on the code before the fix (f15d62e), release preset
 * (the errno check is cr_expect, so every row of a test reports):
 *   keeps_errno.timed_out_waits   "mps_lock_acquire(&a->lock, T_WAIT) (timed out on
 *                                 a held Lock) left errno = 110"; the same for the
 *                                 RLock, Semaphore, Event, Condition, Barrier rows
 *   keeps_errno.owner_death       "mps_lock_acquire(&a->lock, SETTLE) (owner died)
 *                                 left errno = 2" (the /proc probe's ENOENT), RLock too
 *   keeps_errno.owner_alive       "mps_owner_alive(pid) (dead) left errno = 2"
 *   keeps_errno.interrupted_wait  "mps_lock_acquire(&l, 30) (interrupted) left
 *                                 errno = 4"
 *   keeps_errno.quick_calls       passed already (no syscall fails on those paths).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define MARK   12345          /* an errno value no call sets */
#define T_WAIT 0.05           /* timed waits that must time out */
#define SETTLE 10.0

/* Runs one call with errno = MARK and asserts that errno is unchanged. The
 * call's own result is checked by the caller (want). */
#define KEEPS_ERRNO(call, want, what) do { \
		errno = MARK; \
		int got_ = (int)(call); \
		int err_ = errno; \
		cr_expect_eq(err_, MARK, "%s (%s) left errno = %d (%s)", #call, what, err_, \
		             strerror(err_)); \
		cr_assert_eq(got_, (int)(want), "%s (%s) returned %d", #call, what, got_); \
	} while (0)

/* The same for calls whose result is not an int code. */
#define KEEPS_ERRNO_VOID(call, what) do { \
		errno = MARK; \
		call; \
		int err_ = errno; \
		cr_expect_eq(err_, MARK, "%s (%s) left errno = %d (%s)", #call, what, err_, \
		             strerror(err_)); \
	} while (0)

/* Success, queries and bad input on every primitive: one thread. */
Test(keeps_errno, quick_calls, .timeout = 60)
{
	mps_lock_t l;
	KEEPS_ERRNO_VOID(mps_lock_init(&l), "init");
	KEEPS_ERRNO(mps_lock_acquire(&l, 0), 0, "free");
	KEEPS_ERRNO(mps_lock_locked(&l), true, "held");
	KEEPS_ERRNO(mps_lock_owner(&l), gettid(), "held");
	KEEPS_ERRNO(mps_lock_acquire(&l, NAN), EINVAL, "NaN");
	KEEPS_ERRNO(mps_lock_acquire(&l, 0), ETIMEDOUT, "poll of a held lock");
	KEEPS_ERRNO(mps_lock_release(&l), 0, "held");
	KEEPS_ERRNO(mps_lock_release(&l), EPERM, "free");

	mps_rlock_t r;
	KEEPS_ERRNO_VOID(mps_rlock_init(&r), "init");
	KEEPS_ERRNO(mps_rlock_acquire(&r, MPS_FOREVER), 0, "free");
	KEEPS_ERRNO(mps_rlock_acquire(&r, 0), 0, "re-entry");
	KEEPS_ERRNO(mps_rlock_count(&r), 2, "depth 2");
	KEEPS_ERRNO(mps_rlock_is_owned(&r), true, "owner");
	KEEPS_ERRNO(mps_rlock_owner(&r), gettid(), "owner");
	KEEPS_ERRNO(mps_rlock_locked(&r), true, "held");
	KEEPS_ERRNO(mps_rlock_acquire(&r, NAN), EINVAL, "NaN");
	KEEPS_ERRNO(mps_rlock_release(&r), 0, "depth 2");
	KEEPS_ERRNO(mps_rlock_release(&r), 0, "depth 1");
	KEEPS_ERRNO(mps_rlock_release(&r), EPERM, "not owned");

	mps_sem_t s;
	KEEPS_ERRNO(mps_sem_init(&s, MPS_SEM_VALUE_MAX + 1u), EINVAL, "value too large");
	KEEPS_ERRNO(mps_sem_init(&s, 1), 0, "init");
	KEEPS_ERRNO(mps_sem_acquire(&s, 0), 0, "a permit");
	KEEPS_ERRNO(mps_sem_acquire(&s, 0), ETIMEDOUT, "poll, no permit");
	KEEPS_ERRNO(mps_sem_acquire(&s, NAN), EINVAL, "NaN");
	KEEPS_ERRNO(mps_sem_release(&s, 0), EINVAL, "n = 0");
	KEEPS_ERRNO(mps_sem_release(&s, 2), 0, "n = 2");
	KEEPS_ERRNO(mps_sem_value(&s), 2, "value");
	KEEPS_ERRNO(mps_sem_init_bounded(&s, 1), 0, "bounded init");
	KEEPS_ERRNO(mps_sem_release(&s, 1), EOVERFLOW, "past the bound");
	KEEPS_ERRNO(mps_sem_is_bounded(&s), true, "bounded");
	KEEPS_ERRNO(mps_sem_bound(&s), 1, "bound");

	mps_event_t e;
	KEEPS_ERRNO_VOID(mps_event_init(&e), "init");
	KEEPS_ERRNO(mps_event_wait(&e, 0), ETIMEDOUT, "poll, unset");
	KEEPS_ERRNO(mps_event_wait(&e, NAN), EINVAL, "NaN");
	KEEPS_ERRNO_VOID(mps_event_set(&e), "set");
	KEEPS_ERRNO(mps_event_is_set(&e), true, "set");
	KEEPS_ERRNO(mps_event_wait(&e, MPS_FOREVER), 0, "set");
	KEEPS_ERRNO_VOID(mps_event_clear(&e), "clear");

	mps_cond_t c;
	KEEPS_ERRNO_VOID(mps_cond_init(&c), "init");
	KEEPS_ERRNO(mps_cond_wait(&c, &l, 1), EPERM, "lock not held");
	KEEPS_ERRNO(mps_lock_acquire(&l, 0), 0, "for the condition");
	KEEPS_ERRNO(mps_cond_wait(&c, &l, NAN), EINVAL, "NaN");
	KEEPS_ERRNO(mps_cond_wait(&c, &l, 0), ETIMEDOUT, "poll");
	KEEPS_ERRNO(mps_cond_notify(&c, 1), 0, "nobody waits");
	KEEPS_ERRNO(mps_cond_notify_all(&c), 0, "nobody waits");
	KEEPS_ERRNO(mps_cond_n_waiting(&c), 0, "nobody waits");
	KEEPS_ERRNO(mps_lock_release(&l), 0, "after the condition");

	mps_barrier_t b;
	unsigned index = 99;
	KEEPS_ERRNO(mps_barrier_init(&b, 0, 1), EINVAL, "no parties");
	KEEPS_ERRNO(mps_barrier_init(&b, 1, 1), 0, "one party");
	KEEPS_ERRNO(mps_barrier_wait(&b, 1, &index), 0, "one party");
	KEEPS_ERRNO(mps_barrier_wait(&b, NAN, &index), EINVAL, "NaN");
	KEEPS_ERRNO(mps_barrier_parties(&b), 1, "parties");
	KEEPS_ERRNO(mps_barrier_n_waiting(&b), 0, "nobody waits");
	KEEPS_ERRNO(mps_barrier_abort(&b), 0, "abort");
	KEEPS_ERRNO(mps_barrier_broken(&b), true, "aborted");
	KEEPS_ERRNO(mps_barrier_wait(&b, 1, &index), MPS_EBROKEN, "aborted");
	KEEPS_ERRNO(mps_barrier_reset(&b), 0, "reset");

	KEEPS_ERRNO(mps_owner_alive(gettid()), true, "this thread");
	KEEPS_ERRNO(mps_owner_alive(0), false, "tid 0");
	KEEPS_ERRNO(mps_set_interruptible(false), false, "default");
	errno = MARK;
	const char *name = mps_strerror(ETIMEDOUT);
	cr_assert_eq(errno, MARK, "mps_strerror changed errno");
	cr_assert(name && *name);
}

/* Holds a->lock and a->rlock until `done` is set. */
static int role_hold(struct mps_area *a, int i)
{
	(void)i;
	MPS_CHECK(mps_lock_acquire(&a->lock, SETTLE) == 0);
	MPS_CHECK(mps_rlock_acquire(&a->rlock, SETTLE) == 0);
	mps_count_add(&a->counter[0], 1);
	MPS_CHECK(mps_event_wait(&a->done, 30) == 0);
	MPS_CHECK(mps_rlock_release(&a->rlock) == 0);
	MPS_CHECK(mps_lock_release(&a->lock) == 0);
	return 0;
}

/* Timed waits that run into their deadline, blocked by another party. */
Test(keeps_errno, timed_out_waits, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	mps_workers_start(&w, MPS_THREADS, a, role_hold, 1, 0);
	cr_assert(mps_count_await(&a->counter[0], 1, SETTLE));

	KEEPS_ERRNO(mps_lock_acquire(&a->lock, T_WAIT), ETIMEDOUT, "timed out on a held Lock");
	KEEPS_ERRNO(mps_rlock_acquire(&a->rlock, T_WAIT), ETIMEDOUT, "timed out on a held RLock");
	cr_assert_eq(mps_sem_init(&a->sem, 0), 0);
	KEEPS_ERRNO(mps_sem_acquire(&a->sem, T_WAIT), ETIMEDOUT, "no permit");
	KEEPS_ERRNO(mps_event_wait(&a->event, T_WAIT), ETIMEDOUT, "unset");
	cr_assert_eq(mps_lock_acquire(&a->lock2, 0), 0);
	KEEPS_ERRNO(mps_cond_wait(&a->cond, &a->lock2, T_WAIT), ETIMEDOUT, "nobody notifies");
	cr_assert_eq(mps_lock_release(&a->lock2), 0);
	cr_assert_eq(mps_barrier_init(&a->barrier, 2, 1), 0);
	KEEPS_ERRNO(mps_barrier_wait(&a->barrier, T_WAIT, NULL), ETIMEDOUT, "one of two parties");

	mps_event_set(&a->done);
	cr_assert_eq(mps_workers_join(&w, SETTLE), 0);
	mps_area_destroy(a);
}

static int role_hold_exit(struct mps_area *a, int i)
{
	(void)i;
	MPS_CHECK(mps_lock_acquire(&a->lock, SETTLE) == 0);
	MPS_CHECK(mps_rlock_acquire(&a->rlock, SETTLE) == 0);
	a->value[0] = gettid();
	return 0;
}

/* The holder thread exited holding both: EOWNERDEAD, errno untouched. */
Test(keeps_errno, owner_death, .timeout = 60)
{
	struct mps_area *a = mps_area_create();
	struct mps_workers w;
	mps_workers_start(&w, MPS_THREADS, a, role_hold_exit, 1, 0);
	cr_assert_eq(mps_workers_join(&w, SETTLE), 0);
	pid_t dead = (pid_t)a->value[0];
	cr_assert(mps_await_task_state(dead, "-", SETTLE), "thread %d never went away", dead);
	KEEPS_ERRNO(mps_lock_acquire(&a->lock, SETTLE), EOWNERDEAD, "owner died");
	KEEPS_ERRNO(mps_rlock_acquire(&a->rlock, SETTLE), EOWNERDEAD, "owner died");
	KEEPS_ERRNO(mps_rlock_release(&a->rlock), 0, "recovered");
	KEEPS_ERRNO(mps_lock_release(&a->lock), 0, "recovered");
	mps_area_destroy(a);
}

/* A dead process's pid: forked, exited and reaped. */
Test(keeps_errno, owner_alive, .timeout = 60)
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	KEEPS_ERRNO(mps_owner_alive(pid), false, "dead");
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct interrupter {
	pid_t target;
	_Atomic int waiting, fired;
};

/* Sends one SIGUSR1 once the target thread sleeps. */
static void *interrupt_once(void *p)
{
	struct interrupter *in = p;
	/* After `waiting` the target can only sleep in the call under test. */
	while (!in->waiting)
		mps_sleep(0.0005);
	if (mps_await_task_state(in->target, "S", SETTLE)) {
		tgkill(getpid(), in->target, SIGUSR1);
		in->fired = 1;
	}
	return NULL;
}

/* An interruptible wait ended by a signal: EINTR, errno untouched. */
Test(keeps_errno, interrupted_wait, .timeout = 60)
{
	struct sigaction sa = { .sa_handler = on_usr1 };  /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	mps_lock_t l = MPS_LOCK_INIT;
	cr_assert_eq(mps_lock_acquire(&l, 0), 0);
	struct interrupter in = { .target = gettid() };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, interrupt_once, &in), 0);
	mps_set_interruptible(true);
	in.waiting = 1;
	KEEPS_ERRNO(mps_lock_acquire(&l, 30), EINTR, "interrupted");
	mps_set_interruptible(false);
	pthread_join(t, NULL);
	cr_assert(in.fired);
	cr_assert_eq(mps_lock_release(&l), 0);
}
