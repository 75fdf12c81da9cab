/* issue 9, contract C5: destruction safety. Once a releaser (Lock, RLock
 * release, Semaphore release, Event set, Condition notify and notify_all,
 * the last party of a Barrier) has published what lets a waiter go, the waiter may claim, finish and make
 * the memory go away: after that atomic the releaser touches nothing but the
 * futex syscall, which fails harmlessly on unmapped memory.
 *
 * How the memory is made to go away at exactly that point: the object lives
 * in a one-page memfd mapping. The releaser is the main thread of a child
 * process; a second thread of that child waits on a pipe to munmap the
 * page. A waiter in another process (its own mapping) blocks on the object.
 * This process seizes the releaser thread alone (PTRACE_SEIZE, INTERRUPT),
 * lets it start the release and single-steps it until the object, seen
 * through this process's own mapping, shows the release published (Lock and
 * RLock no longer owned by it, permits up, event set, no waiter left
 * unchosen). Then the second thread unmaps the page, and only then does the
 * releaser run on, untraced. It must return 0, not fault. The waiter is
 * stopped (SIGSTOP) over the release, out of the futex queue as a waiter
 * between two sleeps is, so the releaser's wake finds nobody; continued, it
 * must get through at once (nothing lost). The page is gone for the releaser's whole
 * process, as when the claiming party is another thread of it that frees
 * the memory; a waiter process unmapping its own view could not show this.
 *
 * For the Lock and RLock, the waiter first waits long enough (100 ms, time
 * passing, not ordering) to count as starving on the code before the fix,
 * so that the release goes through its hand-over path.
 *
 * How each failed on the code before the fix (f15d62e), release preset:
 *   release_safety.unmapped_after_publish (lock)  "lock: the releaser faulted
 *       after its publishing atomic (signal 11)" (the HANDOFF cancel CAS;
 *       "(exit status 1)" under ASan, whose handler reports the SEGV)
 *   (rlock)       the same
 *   (notify)      "notify: the releaser faulted ..." (seq bump after the
 *                 groups CAS)
 *   (notify_all)  the same (seq bump, and the lock offset read for the
 *                 requeue, after the groups CAS)
 *   (semaphore), (event), (barrier: the last party trips it): passed
 *                 already (nothing after the atomic but the futex wake).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define PAGE      4096
#define SETTLE    10.0
#define STARVE    0.1        /* a waiter that waited this long counts as starving */
#define MAX_STEPS 1000000

enum op { OP_LOCK, OP_RLOCK, OP_SEMAPHORE, OP_EVENT, OP_NOTIFY, OP_NOTIFY_ALL, OP_BARRIER,
          OP_COUNT };
static const char *op_names[] = { "lock", "rlock", "semaphore", "event", "notify",
                                  "notify_all", "barrier" };

/* The page that goes away. */
struct objects {
	mps_lock_t lock;
	mps_rlock_t rlock;
	mps_sem_t sem;
	mps_event_t event;
	mps_cond_t cond;
	mps_lock_t cond_lock;
	mps_barrier_t barrier;
};

/* area->value slots */
enum { V_GO, V_RC, V_WAITER_RC, V_WAITER_TID, V_RETURNED };

struct releaser {
	struct mps_area *a;
	struct objects *o;
	int command, ack;  /* the unmapper's pipes */
};

/* ------------------------------------------------------------ the waiter */

static int wait_for(struct objects *o, enum op op)
{
	int rc;
	switch (op) {
	case OP_LOCK:
		rc = mps_lock_acquire(&o->lock, 30);
		return rc ? rc : mps_lock_release(&o->lock);
	case OP_RLOCK:
		rc = mps_rlock_acquire(&o->rlock, 30);
		return rc ? rc : mps_rlock_release(&o->rlock);
	case OP_SEMAPHORE:
		return mps_sem_acquire(&o->sem, 30);
	case OP_EVENT:
		return mps_event_wait(&o->event, 30);
	case OP_BARRIER:
		return mps_barrier_wait(&o->barrier, 30, NULL);
	default:
		rc = mps_lock_acquire(&o->cond_lock, 30);
		if (rc)
			return rc;
		rc = mps_cond_wait(&o->cond, &o->cond_lock, 30);
		mps_lock_release(&o->cond_lock);
		return rc;
	}
}

static void waiter(struct mps_area *a, struct objects *o, enum op op)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);  /* no stopped orphan if the test dies */
	a->value[V_WAITER_TID] = gettid();
	mps_count_add(&a->counter[1], 1);
	int rc = wait_for(o, op);
	a->value[V_WAITER_RC] = rc;
	_exit(rc == 0 ? 0 : 2);
}

/* ---------------------------------------------------------- the releaser */

static void *unmapper(void *p)
{
	struct releaser *r = p;
	char c;
	if (read(r->command, &c, 1) == 1 && munmap(r->o, PAGE) == 0)
		c = 'u';
	else
		c = 'x';
	if (write(r->ack, &c, 1) != 1)
		_exit(5);
	return NULL;
}

static int release(struct objects *o, enum op op)
{
	switch (op) {
	case OP_LOCK: return mps_lock_release(&o->lock);
	case OP_RLOCK: return mps_rlock_release(&o->rlock);
	case OP_SEMAPHORE: return mps_sem_release(&o->sem, 1);
	case OP_EVENT: mps_event_set(&o->event); return 0;
	case OP_NOTIFY: return mps_cond_notify(&o->cond, 1);
	case OP_BARRIER: return mps_barrier_wait(&o->barrier, 30, NULL);  /* the last party */
	default: return mps_cond_notify_all(&o->cond);
	}
}

/* The child's main thread: takes what it will release, starts the
 * unmapper, says ready, spins until told to go (this is where it is seized),
 * releases, and never touches the page again. */
static void releaser(struct releaser *r, enum op op)
{
	if (op == OP_LOCK && mps_lock_acquire(&r->o->lock, 0) != 0)
		_exit(2);
	if (op == OP_RLOCK && mps_rlock_acquire(&r->o->rlock, 0) != 0)
		_exit(2);
	pthread_t t;
	if (pthread_create(&t, NULL, unmapper, r) != 0)
		_exit(3);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	mps_count_add(&r->a->counter[0], 1);
	double end = mps_now() + 60;
	while (!__atomic_load_n(&r->a->value[V_GO], __ATOMIC_ACQUIRE))
		if (mps_now() > end)
			_exit(6);
	int rc = release(r->o, op);
	r->a->value[V_RC] = rc;
	r->a->value[V_RETURNED] = 1;
	pthread_join(t, NULL);
	_exit(rc == 0 ? 0 : 4);
}

/* ------------------------------------------------------------ the tracer */

/* Whether the release is visible in this process's view of the page. */
static bool published(const struct objects *o, enum op op, pid_t releaser_tid)
{
	switch (op) {
	case OP_LOCK: return mps_lock_owner(&o->lock) != releaser_tid;
	case OP_RLOCK: return mps_rlock_owner(&o->rlock) != releaser_tid;
	case OP_SEMAPHORE: return mps_sem_value(&o->sem) > 0;
	case OP_EVENT: return mps_event_is_set(&o->event);
	case OP_BARRIER: return mps_barrier_n_waiting(&o->barrier) == 0;
	default: return mps_cond_n_waiting(&o->cond) == 0;
	}
}

static int wait_stop(pid_t tid)
{
	int st;
	cr_assert_eq(waitpid(tid, &st, __WALL), tid);
	return st;
}

/* Seizes the releaser while it spins, lets it go, and single-steps it to
 * the instruction after its publishing atomic; leaves it stopped there.
 * Returns the steps taken, or -1 when it cannot be traced here. */
static long stop_after_publish(struct mps_area *a, const struct objects *o, enum op op,
                               pid_t tid)
{
	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0)
		return -1;
	cr_assert_eq(ptrace(PTRACE_INTERRUPT, tid, NULL, NULL), 0);
	int st = wait_stop(tid);
	cr_assert(WIFSTOPPED(st), "the releaser did not stop (%#x)", st);
	__atomic_store_n(&a->value[V_GO], 1, __ATOMIC_RELEASE);
	long steps = 0;
	while (!published(o, op, tid)) {
		cr_assert_eq(ptrace(PTRACE_SINGLESTEP, tid, NULL, NULL), 0);
		st = wait_stop(tid);
		cr_assert(WIFSTOPPED(st), "%s: the releaser ended before publishing (%#x)",
		          op_names[op], st);
		cr_assert(++steps < MAX_STEPS, "%s: not published after %ld steps", op_names[op], steps);
	}
	return steps;
}

static bool read_byte(int fd, char *c, double timeout)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, (int)(timeout * 1000)) == 1 && read(fd, c, 1) == 1;
}

static int reap(pid_t pid, double timeout)
{
	int st;
	double end = mps_now() + timeout;
	pid_t r;
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && mps_now() < end)
		mps_sleep(0.001);
	if (r != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return -1;
	}
	return st;
}

static struct objects *map_objects(void)
{
	int fd = memfd_create("mps-release-safety", MFD_CLOEXEC);
	cr_assert(fd >= 0, "memfd_create: %s", strerror(errno));
	cr_assert_eq(ftruncate(fd, PAGE), 0);
	struct objects *o = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert(o != MAP_FAILED);
	cr_assert_eq(mps_sem_init(&o->sem, 0), 0);
	cr_assert_eq(mps_barrier_init(&o->barrier, 2, 60), 0);
	return o;
}

/* The waiter blocks on the object (and, for notify, is counted waiting). */
static pid_t start_waiter(struct mps_area *a, struct objects *o, enum op op)
{
	pid_t w = fork();
	cr_assert(w >= 0);
	if (w == 0)
		waiter(a, o, op);
	cr_assert(mps_count_await(&a->counter[1], 1, SETTLE));
	cr_assert(mps_await_task_state((pid_t)a->value[V_WAITER_TID], "S", SETTLE),
	          "%s: the waiter never slept", op_names[op]);
	if (op == OP_NOTIFY || op == OP_NOTIFY_ALL) {
		double end = mps_now() + SETTLE;
		while (mps_cond_n_waiting(&o->cond) != 1 && mps_now() < end)
			mps_sleep(0.001);
		cr_assert_eq(mps_cond_n_waiting(&o->cond), 1);
	}
	if (op == OP_BARRIER)
		cr_assert_eq(mps_barrier_n_waiting(&o->barrier), 1);
	if (op == OP_LOCK || op == OP_RLOCK)
		mps_sleep(STARVE);
	/* Out of the kernel's futex queue, as a waiter between two sleeps: the
	 * releaser's wake finds nobody, and the waiter's restarted sleep must
	 * see the published change. */
	cr_assert_eq(kill(w, SIGSTOP), 0);
	cr_assert(mps_await_task_state(w, "T", SETTLE), "%s: the waiter did not stop", op_names[op]);
	return w;
}

ParameterizedTestParameters(release_safety, unmapped_after_publish)
{
	static enum op ops[] = { OP_LOCK, OP_RLOCK, OP_SEMAPHORE, OP_EVENT, OP_NOTIFY,
	                         OP_NOTIFY_ALL, OP_BARRIER };
	return cr_make_param_array(enum op, ops, OP_COUNT);
}

ParameterizedTest(enum op *op, release_safety, unmapped_after_publish, .timeout = 60)
{
	const char *name = op_names[*op];
	struct mps_area *a = mps_area_create();
	struct objects *o = map_objects();
	int command[2], ack[2];
	cr_assert_eq(pipe(command), 0);
	cr_assert_eq(pipe(ack), 0);
	struct releaser r = { a, o, command[0], ack[1] };

	pid_t rel = fork();
	cr_assert(rel >= 0);
	if (rel == 0)
		releaser(&r, *op);
	cr_assert(mps_count_await(&a->counter[0], 1, SETTLE), "%s: the releaser never got ready",
	          name);
	pid_t w = start_waiter(a, o, *op);

	long steps = stop_after_publish(a, o, *op, rel);
	if (steps < 0) {
		int err = errno;
		kill(rel, SIGKILL);
		kill(w, SIGKILL);
		reap(rel, SETTLE);
		reap(w, SETTLE);
		cr_skip_test("%s: PTRACE_SEIZE refused here (%s): not counted as a pass", name,
		             strerror(err));
	}
	char c = 'm';
	cr_assert_eq(write(command[1], &c, 1), 1);
	cr_assert(read_byte(ack[0], &c, SETTLE) && c == 'u', "%s: the page was not unmapped", name);
	cr_assert_eq(ptrace(PTRACE_DETACH, rel, NULL, NULL), 0);
	cr_log_info("%s: published after %ld steps; page unmapped there", name, steps);

	int st = reap(rel, SETTLE);
	/* Under ASan a fault ends the process with exit status 1, not a signal. */
	if (!a->value[V_RETURNED])
		cr_expect_fail("%s: the releaser faulted after its publishing atomic (%s %d)", name,
		               WIFSIGNALED(st) ? "signal" : "exit status",
		               WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	else
		cr_expect(a->value[V_RC] == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		          "%s: the release returned %s (status %#x)", name,
		          mps_strerror((int)a->value[V_RC]), st);
	cr_assert_eq(kill(w, SIGCONT), 0);
	st = reap(w, SETTLE);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: the waiter did not get through: %s "
	          "(status %#x)", name, mps_strerror((int)a->value[V_WAITER_RC]), st);
	munmap(o, PAGE);
	mps_area_destroy(a);
}
