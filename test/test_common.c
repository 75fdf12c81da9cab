/* Rules common to every object (SPEC §2, §4; research/conformance.md §1 and
 * §11.1-11.2, research/ecosystem.md §5.8):
 *   - timeouts: NaN, negative, zero, free object, MPS_FOREVER and huge values,
 *     for every blocking call;
 *   - signals: EINTR when interruptible, otherwise resume with the original
 *     deadline;
 *   - one segment mapped twice in one process (shared futexes only);
 *   - no futex syscall on uncontended paths (seccomp trap and debug counter);
 *   - result codes, sizes, all-zero initial state.
 *
 * Blocking calls run in waiter threads that only record what happened; the
 * test's own thread asserts. Every wait is bounded. */
#define _GNU_SOURCE
#include <errno.h>
#include <float.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <mpsync/debug.h>
#include "harness.h"
#include "outline.h"

#define LONG_WAIT 10.0   /* bound for waits that must not time out */
#define SETTLE 0.05      /* lets a counted waiter get into its futex sleep */

static pid_t self_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* --- the objects under test -------------------------------------------- */

struct fixture {
	mps_lock_t lock;
	mps_rlock_t rlock;
	mps_sem_t sem;
	mps_event_t event;
	mps_cond_t cond;
	mps_lock_t cond_lock;
	mps_rlock_t cond_rlock;
	mps_barrier_t barrier;
};

static void fixture_init(struct fixture *fx)
{
	memset(fx, 0, sizeof *fx);
	mps_lock_init(&fx->lock);
	mps_rlock_init(&fx->rlock);
	cr_assert_eq(mps_sem_init(&fx->sem, 0), 0);
	mps_event_init(&fx->event);
	mps_cond_init(&fx->cond);
	mps_lock_init(&fx->cond_lock);
	mps_rlock_init(&fx->cond_rlock);
	cr_assert_eq(mps_barrier_init(&fx->barrier, 2, MPS_FOREVER), 0);
}

/* One blocking call and what it takes to block it and to let it through.
 *   call     the blocking call as its caller makes it; *post is set non-zero
 *            when the caller's state after it is wrong (a Condition wait must
 *            return holding its lock at the old depth; a failed acquire must
 *            not hold); leaves the object as it found it on success
 *   hold     the test thread makes the object unavailable
 *   unhold   undoes hold when no waiter took the object
 *   give     lets one blocked waiter through (0 when that went right)
 *   offer    makes the object available to one caller (NULL: never available)
 *   blocked  a waiter is counted by the object (NULL: no way to tell)
 *   quiet    nobody holds or waits, nothing broken */
struct subject {
	const char *name;
	int (*call)(struct fixture *fx, double timeout, int *post);
	void (*hold)(struct fixture *fx);
	void (*unhold)(struct fixture *fx);
	int (*give)(struct fixture *fx);
	void (*offer)(struct fixture *fx);
	bool (*blocked)(const struct fixture *fx);
	bool (*quiet)(const struct fixture *fx);
};

static void nothing(struct fixture *fx)
{
	(void)fx;
}

/* Lock */
static int lock_call(struct fixture *fx, double t, int *post)
{
	int r = mps_lock_acquire(&fx->lock, t);
	if (r == 0) {
		*post = mps_lock_owner(&fx->lock) != self_tid() || mps_lock_release(&fx->lock) != 0;
		return r;
	}
	*post = mps_lock_owner(&fx->lock) == self_tid();
	return r;
}
static void lock_hold(struct fixture *fx)
{
	cr_assert_eq(mps_lock_acquire(&fx->lock, LONG_WAIT), 0);
}
static void lock_unhold(struct fixture *fx) { cr_assert_eq(mps_lock_release(&fx->lock), 0); }
static int lock_give(struct fixture *fx) { return mps_lock_release(&fx->lock); }
static bool lock_quiet(const struct fixture *fx) { return !mps_lock_locked(&fx->lock); }

/* RLock */
static int rlock_call(struct fixture *fx, double t, int *post)
{
	int r = mps_rlock_acquire(&fx->rlock, t);
	if (r == 0) {
		*post = !mps_rlock_is_owned(&fx->rlock) || mps_rlock_count(&fx->rlock) != 1 ||
		        mps_rlock_release(&fx->rlock) != 0;
		return r;
	}
	*post = mps_rlock_is_owned(&fx->rlock);
	return r;
}
static void rlock_hold(struct fixture *fx)
{
	cr_assert_eq(mps_rlock_acquire(&fx->rlock, LONG_WAIT), 0);
}
static void rlock_unhold(struct fixture *fx) { cr_assert_eq(mps_rlock_release(&fx->rlock), 0); }
static int rlock_give(struct fixture *fx) { return mps_rlock_release(&fx->rlock); }
static bool rlock_quiet(const struct fixture *fx) { return !mps_rlock_locked(&fx->rlock); }

/* Semaphore(0) */
static int sem_call(struct fixture *fx, double t, int *post)
{
	int r = mps_sem_acquire(&fx->sem, t);
	*post = mps_sem_value(&fx->sem) != 0;
	return r;
}
static int sem_give(struct fixture *fx) { return mps_sem_release(&fx->sem, 1); }
static void sem_offer(struct fixture *fx) { cr_assert_eq(mps_sem_release(&fx->sem, 1), 0); }
static bool sem_quiet(const struct fixture *fx) { return mps_sem_value(&fx->sem) == 0; }

/* Event */
static int event_call(struct fixture *fx, double t, int *post)
{
	*post = 0;
	return mps_event_wait(&fx->event, t);
}
static void event_clear(struct fixture *fx) { mps_event_clear(&fx->event); }
static int event_give(struct fixture *fx)
{
	mps_event_set(&fx->event);
	return 0;
}
static void event_offer(struct fixture *fx) { mps_event_set(&fx->event); }
static bool event_quiet(const struct fixture *fx) { return !mps_event_is_set(&fx->event); }

/* Condition with a Lock */
static int cond_lock_call(struct fixture *fx, double t, int *post)
{
	if (mps_lock_acquire(&fx->cond_lock, LONG_WAIT) != 0) {
		*post = 1;
		return -1;
	}
	int r = mps_cond_wait(&fx->cond, &fx->cond_lock, t);
	*post = mps_lock_owner(&fx->cond_lock) != self_tid();
	mps_lock_release(&fx->cond_lock);
	return r;
}
static int cond_lock_give(struct fixture *fx)
{
	if (mps_lock_acquire(&fx->cond_lock, LONG_WAIT) != 0)
		return -1;
	int r = mps_cond_notify(&fx->cond, 1);
	return mps_lock_release(&fx->cond_lock) || r;
}
static bool cond_blocked(const struct fixture *fx) { return mps_cond_n_waiting(&fx->cond) >= 1; }
static bool cond_lock_quiet(const struct fixture *fx)
{
	return mps_cond_n_waiting(&fx->cond) == 0 && !mps_lock_locked(&fx->cond_lock);
}

/* Condition with an RLock held two levels deep */
static int cond_rlock_call(struct fixture *fx, double t, int *post)
{
	if (mps_rlock_acquire(&fx->cond_rlock, LONG_WAIT) != 0 ||
	    mps_rlock_acquire(&fx->cond_rlock, LONG_WAIT) != 0) {
		*post = 1;
		return -1;
	}
	int r = mps_cond_wait(&fx->cond, &fx->cond_rlock, t);
	*post = !mps_rlock_is_owned(&fx->cond_rlock) || mps_rlock_count(&fx->cond_rlock) != 2;
	mps_rlock_release(&fx->cond_rlock);
	mps_rlock_release(&fx->cond_rlock);
	return r;
}
static int cond_rlock_give(struct fixture *fx)
{
	if (mps_rlock_acquire(&fx->cond_rlock, LONG_WAIT) != 0)
		return -1;
	int r = mps_cond_notify(&fx->cond, 1);
	return mps_rlock_release(&fx->cond_rlock) || r;
}
static bool cond_rlock_quiet(const struct fixture *fx)
{
	return mps_cond_n_waiting(&fx->cond) == 0 && !mps_rlock_locked(&fx->cond_rlock);
}

/* Barrier(2): the caller is one party, give() is the other */
static int barrier_call(struct fixture *fx, double t, int *post)
{
	unsigned idx = 99;
	int r = mps_barrier_wait(&fx->barrier, t, &idx);
	*post = r == 0 && idx > 1;
	return r;
}
static int barrier_give(struct fixture *fx)
{
	return mps_barrier_wait(&fx->barrier, LONG_WAIT, NULL);
}
static bool barrier_blocked(const struct fixture *fx)
{
	return mps_barrier_n_waiting(&fx->barrier) >= 1;
}
static bool barrier_quiet(const struct fixture *fx)
{
	return mps_barrier_n_waiting(&fx->barrier) == 0 && !mps_barrier_broken(&fx->barrier);
}

/* The barrier is "available" when the other party is already waiting. */
static pthread_t partner_thread;
static _Atomic int partner_result;

static void *partner_main(void *p)
{
	struct fixture *fx = p;
	atomic_store(&partner_result, mps_barrier_wait(&fx->barrier, LONG_WAIT, NULL));
	return NULL;
}

static bool barrier_await_waiting(const struct fixture *fx, unsigned n)
{
	double end = mps_now() + LONG_WAIT;
	while (mps_barrier_n_waiting(&fx->barrier) < n && mps_now() < end)
		mps_sleep(0.0005);
	return mps_barrier_n_waiting(&fx->barrier) >= n;
}

static void barrier_offer(struct fixture *fx)
{
	atomic_store(&partner_result, -1);
	cr_assert_eq(pthread_create(&partner_thread, NULL, partner_main, fx), 0);
	cr_assert(barrier_await_waiting(fx, 1), "the partner never arrived");
}

static const struct subject subjects[] = {
	{ "Lock", lock_call, lock_hold, lock_unhold, lock_give, nothing, NULL, lock_quiet },
	{ "RLock", rlock_call, rlock_hold, rlock_unhold, rlock_give, nothing, NULL, rlock_quiet },
	{ "Semaphore", sem_call, nothing, nothing, sem_give, sem_offer, NULL, sem_quiet },
	{ "Event", event_call, event_clear, nothing, event_give, event_offer, NULL, event_quiet },
	{ "Condition(Lock)", cond_lock_call, nothing, nothing, cond_lock_give, NULL, cond_blocked,
	  cond_lock_quiet },
	{ "Condition(RLock)", cond_rlock_call, nothing, nothing, cond_rlock_give, NULL, cond_blocked,
	  cond_rlock_quiet },
	{ "Barrier", barrier_call, nothing, nothing, barrier_give, barrier_offer, barrier_blocked,
	  barrier_quiet },
};
#define N_SUBJECTS (sizeof subjects / sizeof subjects[0])

/* After an offer: the barrier's partner must have passed with the caller. */
static void settle_offer(const struct subject *s)
{
	if (s->offer != barrier_offer)
		return;
	pthread_join(partner_thread, NULL);
	cr_assert_eq(atomic_load(&partner_result), 0, "Barrier: the waiting partner got %d",
	             atomic_load(&partner_result));
}

/* A timed-out or polled barrier wait breaks the barrier (SPEC §3). */
static void repair(const struct subject *s, struct fixture *fx)
{
	if (s->call == barrier_call && mps_barrier_broken(&fx->barrier))
		cr_assert_eq(mps_barrier_reset(&fx->barrier), 0);
	if (s->hold == event_clear)
		mps_event_clear(&fx->event);
}

static void assert_quiet(const struct subject *s, const struct fixture *fx, const char *what)
{
	cr_assert(s->quiet(fx), "%s: %s left held, waited on or broken", s->name, what);
}

/* --- waiter threads ------------------------------------------------------ */

struct waiter {
	pthread_t thread;
	const struct subject *s;
	struct fixture *fx;
	double timeout;
	bool interruptible;
	_Atomic int state;          /* 0 starting, 1 in the call, 2 returned */
	_Atomic pid_t tid;
	int code, post;
	bool was_interruptible;
	double t_start, t_end;
	uint64_t futex_calls;       /* made by the call */
};

static void *waiter_main(void *p)
{
	struct waiter *w = p;
	atomic_store(&w->tid, self_tid());
	w->was_interruptible = mps_set_interruptible(w->interruptible);
	w->t_start = mps_now();
	uint64_t calls = mps_debug_futex_calls();
	atomic_store(&w->state, 1);
	w->code = w->s->call(w->fx, w->timeout, &w->post);
	w->t_end = mps_now();
	w->futex_calls = mps_debug_futex_calls() - calls;
	atomic_store(&w->state, 2);
	return NULL;
}

static void waiter_start(struct waiter *w, const struct subject *s, struct fixture *fx,
                         double timeout, bool interruptible)
{
	memset(w, 0, sizeof *w);
	w->s = s;
	w->fx = fx;
	w->timeout = timeout;
	w->interruptible = interruptible;
	cr_assert_eq(pthread_create(&w->thread, NULL, waiter_main, w), 0);
}

/* Until the waiter is in the call, counted by the object where it can say,
 * and has had settle seconds to fall asleep; asserts it has not returned. */
static void waiter_await_settled(struct waiter *w, double settle)
{
	double end = mps_now() + LONG_WAIT;
	while (atomic_load(&w->state) < 1 && mps_now() < end)
		mps_sleep(0.0005);
	while (w->s->blocked && !w->s->blocked(w->fx) && mps_now() < end)
		mps_sleep(0.0005);
	cr_assert(mps_now() < end, "%s: waiter never blocked", w->s->name);
	mps_sleep(settle);
	cr_assert_eq(atomic_load(&w->state), 1, "%s: the waiter returned %d before it was let through",
	             w->s->name, w->code);
}

static void waiter_await_blocked(struct waiter *w)
{
	waiter_await_settled(w, SETTLE);
}

static void waiter_join(struct waiter *w, double timeout)
{
	double end = mps_now() + timeout;
	while (atomic_load(&w->state) < 2 && mps_now() < end)
		mps_sleep(0.0005);
	cr_assert_eq(atomic_load(&w->state), 2, "%s: waiter still blocked after %.1f s", w->s->name,
	             timeout);
	pthread_join(w->thread, NULL);
}

/* Runs one call in a thread of its own, which must return on its own. */
static struct waiter *call_in_thread(const struct subject *s, struct fixture *fx, double t)
{
	static struct waiter w;
	waiter_start(&w, s, fx, t, false);
	waiter_join(&w, LONG_WAIT);
	return &w;
}

/* --- §1: timeouts, for every blocking call ------------------------------ */

/* SPEC §2: NaN -> EINVAL, and the object is left exactly as it was, whether
 * the object is available or not. */
Test(common, nan_timeout_einval_object_unchanged)
{
	struct fixture fx, before;
	fixture_init(&fx);
	for (size_t i = 0; i < N_SUBJECTS; i++) {
		const struct subject *s = &subjects[i];
		for (int held = 0; held < 2; held++) {
			if (held)
				s->hold(&fx);
			memcpy(&before, &fx, sizeof fx);
			struct waiter *w = call_in_thread(s, &fx, NAN);
			cr_assert_eq(w->code, EINVAL, "%s (held %d): NaN gave %d", s->name, held, w->code);
			cr_assert_eq(w->post, 0, "%s: state after a NaN call", s->name);
			cr_assert(memcmp(&before, &fx, sizeof fx) == 0, "%s (held %d): NaN changed bytes",
			          s->name, held);
			if (held)
				s->unhold(&fx);
			repair(s, &fx);
			assert_quiet(s, &fx, "NaN");
		}
	}
}

static const double poll_timeouts[] = { 0.0, -0.0, -1.0, -1e300, -INFINITY };
#define N_POLLS (sizeof poll_timeouts / sizeof poll_timeouts[0])

/* 1.2, 1.4, 1.5, SPEC §2: 0 polls once; a negative timeout acts as 0: an
 * unavailable object gives ETIMEDOUT at once, without sleeping. */
Test(common, poll_and_negative_timeout_unavailable, .timeout = 60)
{
	struct fixture fx;
	fixture_init(&fx);
	for (size_t i = 0; i < N_SUBJECTS; i++) {
		const struct subject *s = &subjects[i];
		for (size_t k = 0; k < N_POLLS; k++) {
			s->hold(&fx);
			struct waiter *w = call_in_thread(s, &fx, poll_timeouts[k]);
			cr_assert_eq(w->code, ETIMEDOUT, "%s, timeout %g: got %d", s->name, poll_timeouts[k],
			             w->code);
			cr_assert_eq(w->post, 0, "%s, timeout %g: wrong state after", s->name,
			             poll_timeouts[k]);
			cr_assert(w->t_end - w->t_start < mps_slack(), "%s, timeout %g: took %.3f s", s->name,
			          poll_timeouts[k], w->t_end - w->t_start);
			cr_assert_eq(w->futex_calls, 0, "%s, timeout %g: %llu futex calls in a poll (SPEC "
			             "§4: no syscall when nobody waits)", s->name, poll_timeouts[k],
			             (unsigned long long)w->futex_calls);
			s->unhold(&fx);
			repair(s, &fx);
			assert_quiet(s, &fx, "a poll");
		}
	}
}

/* 1.2, 1.8: a poll or a negative timeout still takes an available object. */
Test(common, poll_and_negative_timeout_available, .timeout = 60)
{
	struct fixture fx;
	fixture_init(&fx);
	for (size_t i = 0; i < N_SUBJECTS; i++) {
		const struct subject *s = &subjects[i];
		if (!s->offer)
			continue;  /* a Condition wait always needs a notify */
		for (size_t k = 0; k < N_POLLS; k++) {
			s->offer(&fx);
			struct waiter *w = call_in_thread(s, &fx, poll_timeouts[k]);
			settle_offer(s);
			cr_assert_eq(w->code, 0, "%s, timeout %g: got %d", s->name, poll_timeouts[k], w->code);
			cr_assert_eq(w->post, 0, "%s, timeout %g: wrong state after", s->name,
			             poll_timeouts[k]);
			repair(s, &fx);
			assert_quiet(s, &fx, "a successful poll");
		}
	}
}

static const double long_timeouts[] = { 5.0, MPS_FOREVER, 1e300, DBL_MAX, 9.3e9, 1e19 };
#define N_LONG (sizeof long_timeouts / sizeof long_timeouts[0])

/* 1.8: a free object is taken at once, never after the timeout; 1.1, 1.7:
 * MPS_FOREVER and huge values are accepted. */
Test(common, free_object_taken_at_once_with_long_timeout, .timeout = 60)
{
	struct fixture fx;
	fixture_init(&fx);
	for (size_t i = 0; i < N_SUBJECTS; i++) {
		const struct subject *s = &subjects[i];
		if (!s->offer)
			continue;
		for (size_t k = 0; k < N_LONG; k++) {
			s->offer(&fx);
			struct waiter *w = call_in_thread(s, &fx, long_timeouts[k]);
			settle_offer(s);
			cr_assert_eq(w->code, 0, "%s, timeout %g: got %d", s->name, long_timeouts[k], w->code);
			cr_assert_eq(w->post, 0, "%s: wrong state after", s->name);
			cr_assert(w->t_end - w->t_start < mps_slack(), "%s, timeout %g: took %.3f s", s->name,
			          long_timeouts[k], w->t_end - w->t_start);
			repair(s, &fx);
			assert_quiet(s, &fx, "a long wait on a free object");
		}
	}
}

/* 1.1, 1.7: a wait with MPS_FOREVER or a huge timeout blocks (asleep, not
 * spinning), and succeeds when the other party arrives. Every object once
 * per huge value. */
Test(common, forever_and_huge_timeouts_wait_for_party, .timeout = 60)
{
	struct fixture fx;
	fixture_init(&fx);
	for (size_t i = 0; i < N_SUBJECTS; i++) {
		const struct subject *s = &subjects[i];
		for (size_t k = 1; k < N_LONG; k++) {
			struct waiter w;
			s->hold(&fx);
			waiter_start(&w, s, &fx, long_timeouts[k], false);
			waiter_await_blocked(&w);
			double t_give = mps_now();
			cr_assert_eq(s->give(&fx), 0, "%s: the other party failed", s->name);
			waiter_join(&w, LONG_WAIT);
			cr_assert_eq(w.code, 0, "%s, timeout %g: got %d", s->name, long_timeouts[k], w.code);
			cr_assert_eq(w.post, 0, "%s: wrong state after", s->name);
			cr_assert(w.t_end >= t_give, "%s: returned before the other party came", s->name);
			/* blocked ~50 ms: a sleeper makes a few futex calls (Lock and
			 * Condition sleep in 20 ms slices), a spinner thousands */
			cr_assert(w.futex_calls < 50, "%s, timeout %g: %llu futex calls: it spun instead of "
			          "sleeping", s->name, long_timeouts[k], (unsigned long long)w.futex_calls);
			repair(s, &fx);
			assert_quiet(s, &fx, "a long wait");
		}
	}
}

/* --- §11.1-11.2: signals, for every blocking call ----------------------- */

static _Atomic int signals_seen;
static _Atomic pid_t signal_tid;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_seen, 1);
	atomic_store(&signal_tid, self_tid());
}

/* As Python installs its handlers: no SA_RESTART. */
static void install_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = 0;
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	atomic_store(&signals_seen, 0);
}

static void signal_waiter(struct waiter *w)
{
	int before = atomic_load(&signals_seen);
	cr_assert_eq(pthread_kill(w->thread, SIGUSR1), 0);
	double end = mps_now() + LONG_WAIT;
	while (atomic_load(&signals_seen) == before && mps_now() < end)
		mps_sleep(0.0005);
	cr_assert_eq(atomic_load(&signals_seen), before + 1, "%s: the handler never ran", w->s->name);
	cr_assert_eq(atomic_load(&signal_tid), atomic_load(&w->tid));
}

/* 11.1, SPEC §2: an interruptible thread gets EINTR promptly; a Condition
 * wait re-acquires its lock (RLock depth restored) first; a Barrier waiter
 * withdraws without breaking the barrier (11.6). Once with a long timeout,
 * once with MPS_FOREVER. */
Test(common, signal_interruptible_gets_eintr, .timeout = 60)
{
	struct fixture fx;
	fixture_init(&fx);
	install_handler();
	for (size_t i = 0; i < N_SUBJECTS; i++) {
		const struct subject *s = &subjects[i];
		for (int round = 0; round < 2; round++) {
			struct waiter w;
			s->hold(&fx);
			waiter_start(&w, s, &fx, round ? MPS_FOREVER : LONG_WAIT, true);
			waiter_await_blocked(&w);
			double t_sig = mps_now();
			signal_waiter(&w);
			waiter_join(&w, LONG_WAIT);
			cr_assert_eq(w.was_interruptible, false, "the default is not interruptible");
			cr_assert_eq(w.code, EINTR, "%s (round %d): got %d", s->name, round, w.code);
			cr_assert(w.t_end - t_sig < mps_slack(), "%s: EINTR after %.3f s", s->name,
			          w.t_end - t_sig);
			cr_assert_eq(w.post, 0, "%s: wrong state after EINTR", s->name);
			s->unhold(&fx);
			assert_quiet(s, &fx, "an interrupted wait");  /* Barrier: n_waiting dropped, not broken */
		}
	}
}

#define EINTR_ROUNDS 60

/* Signals the waiter every 5 ms until it returns (at most 20 times). A
 * handler that runs exactly as a 20 ms sleep slice ends, while the thread
 * waits for a CPU, is one the kernel gives back with ETIMEDOUT instead of
 * EINTR (docs/design.md §9); the next one must interrupt. */
static void signal_until_returned(struct waiter *w)
{
	signal_waiter(w);
	for (int i = 0; i < 20; i++) {
		double end = mps_now() + 0.005;
		while (atomic_load(&w->state) < 2 && mps_now() < end)
			mps_sleep(0.0005);
		if (atomic_load(&w->state) >= 2)
			return;
		pthread_kill(w->thread, SIGUSR1);
	}
}

/* 11.1: the same, many times, with the first signal at phases spread over
 * 20 ms (the period at which Lock and Condition sleepers wake to probe the
 * owner): a handler that runs during the call gives EINTR, promptly, not
 * only when it happens to interrupt the futex syscall itself. */
Test(common, signal_interruptible_eintr_every_time, .timeout = 60)
{
	struct fixture fx;
	fixture_init(&fx);
	install_handler();
	const size_t sliced[] = { 0, 1, 4 };  /* Lock, RLock, Condition(Lock) */
	for (size_t i = 0; i < sizeof sliced / sizeof sliced[0]; i++) {
		const struct subject *s = &subjects[sliced[i]];
		for (int round = 0; round < EINTR_ROUNDS; round++) {
			struct waiter w;
			s->hold(&fx);
			waiter_start(&w, s, &fx, 1.0, true);
			waiter_await_settled(&w, 0.025 + 0.02 * round / EINTR_ROUNDS);
			double t_sig = mps_now();
			signal_until_returned(&w);
			waiter_join(&w, LONG_WAIT);
			cr_assert_eq(w.code, EINTR, "%s, signal %d: got %d after %.3f s", s->name, round,
			             w.code, w.t_end - t_sig);
			cr_assert(w.t_end - t_sig < 0.05 + mps_slack() / 5, "%s, signal %d: EINTR only "
			          "after %.3f s", s->name, round, w.t_end - t_sig);
			cr_assert_eq(w.post, 0, "%s: wrong state after EINTR", s->name);
			s->unhold(&fx);
			assert_quiet(s, &fx, "an interrupted wait");
		}
	}
}

#define SIG_T 0.6      /* the waiter's timeout */
#define SIG_AT 0.35    /* when the signal comes; a restarted timeout would end at 0.95 */

/* 11.2, 1.10, SPEC §2: without mps_set_interruptible the call resumes after
 * the handler and keeps its original deadline: ETIMEDOUT at T, not at
 * signal + T. */
Test(common, signal_resumes_with_original_deadline, .timeout = 60)
{
	struct fixture fx;
	fixture_init(&fx);
	install_handler();
	for (size_t i = 0; i < N_SUBJECTS; i++) {
		const struct subject *s = &subjects[i];
		for (int round = 0; round < 2; round++) {
			struct waiter w;
			s->hold(&fx);
			waiter_start(&w, s, &fx, SIG_T, false);
			waiter_await_blocked(&w);
			double wait_until = w.t_start + SIG_AT - mps_now();
			if (wait_until > 0)
				mps_sleep(wait_until);
			double t_sig = mps_now() - w.t_start;
			signal_waiter(&w);
			waiter_join(&w, LONG_WAIT);
			double took = w.t_end - w.t_start;
			cr_assert_eq(w.code, ETIMEDOUT, "%s: got %d", s->name, w.code);
			cr_assert_eq(w.post, 0, "%s: wrong state after the timeout", s->name);
			cr_assert(took >= SIG_T - 0.001, "%s: returned early, %.3f s", s->name, took);
			cr_assert(took < SIG_T + mps_slack(), "%s: took %.3f s", s->name, took);
			cr_assert(took < t_sig + SIG_T - 0.05, "%s: took %.3f s: the timeout restarted at the "
			          "signal (%.3f s)", s->name, took, t_sig);
			s->unhold(&fx);
			repair(s, &fx);
			assert_quiet(s, &fx, "a timed wait");
		}
	}
}

/* 11.2: an untimed (and a long-timed) wait resumes after the handler and
 * still succeeds when the other party comes. */
Test(common, signal_untimed_wait_still_succeeds, .timeout = 60)
{
	struct fixture fx;
	fixture_init(&fx);
	install_handler();
	for (size_t i = 0; i < N_SUBJECTS; i++) {
		const struct subject *s = &subjects[i];
		for (int round = 0; round < 2; round++) {
			struct waiter w;
			s->hold(&fx);
			waiter_start(&w, s, &fx, round ? LONG_WAIT : MPS_FOREVER, false);
			waiter_await_blocked(&w);
			signal_waiter(&w);
			mps_sleep(SETTLE);
			cr_assert_eq(atomic_load(&w.state), 1, "%s: returned %d after a signal", s->name, w.code);
			cr_assert_eq(s->give(&fx), 0, "%s: the other party failed", s->name);
			waiter_join(&w, LONG_WAIT);
			cr_assert_eq(w.code, 0, "%s (round %d): got %d", s->name, round, w.code);
			cr_assert_eq(w.post, 0, "%s: wrong state after", s->name);
			repair(s, &fx);
			assert_quiet(s, &fx, "a resumed wait");
		}
	}
}

static void *read_default_interruptible(void *p)
{
	*(bool *)p = mps_set_interruptible(false);
	return NULL;
}

/* SPEC §3: mps_set_interruptible returns the previous setting, per thread. */
Test(common, set_interruptible_returns_previous)
{
	cr_assert_eq(mps_set_interruptible(true), false, "default");
	cr_assert_eq(mps_set_interruptible(true), true);
	bool other = true;
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, read_default_interruptible, &other), 0);
	pthread_join(t, NULL);
	cr_assert_eq(other, false, "another thread inherited the setting");
	cr_assert_eq(mps_set_interruptible(false), true);
	cr_assert_eq(mps_set_interruptible(false), false);
}

/* --- ecosystem.md §5.8: one segment mapped twice in one process ---------- */

struct two_views {
	struct fixture *a, *b;
	size_t bytes;
};

static struct two_views map_twice(void)
{
	struct two_views v = { NULL, NULL, 4096 };
	int fd = memfd_create("mps-double-map", 0);
	cr_assert(fd >= 0, "memfd_create: %s", strerror(errno));
	cr_assert_eq(ftruncate(fd, (off_t)v.bytes), 0);
	void *a = mmap(NULL, v.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	void *b = mmap(NULL, v.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert(a != MAP_FAILED && b != MAP_FAILED);
	cr_assert_neq(a, b, "the two views share an address");
	v.a = a;
	v.b = b;
	fixture_init(v.b);
	return v;
}

static int compare_doubles(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

#define DM_ROUNDS 11

/* Waits through view A; the other party acts through view B. Returns the
 * median time from the other party's action to the waiter's return. */
static double wake_across_views(const struct subject *s, struct two_views *v)
{
	double latency[DM_ROUNDS];
	for (int round = 0; round < DM_ROUNDS; round++) {
		struct waiter w;
		s->hold(v->b);
		waiter_start(&w, s, v->a, 5.0, false);
		waiter_await_blocked(&w);
		double t_give = mps_now();
		cr_assert_eq(s->give(v->b), 0, "%s: the other party failed", s->name);
		waiter_join(&w, LONG_WAIT);
		cr_assert_eq(w.code, 0, "%s: the waiter on view A got %d", s->name, w.code);
		cr_assert_eq(w.post, 0, "%s: wrong state after", s->name);
		latency[round] = w.t_end - t_give;
		cr_assert(latency[round] < mps_slack(), "%s: woke %.3f s after the other party", s->name,
		          latency[round]);
		repair(s, v->b);
		assert_quiet(s, v->b, "a wait across views");
	}
	qsort(latency, DM_ROUNDS, sizeof latency[0], compare_doubles);
	return latency[DM_ROUNDS / 2];
}

/* A private futex (or a pointer stored in the object) never wakes a waiter
 * through another view. Event, Semaphore and Barrier waiters sleep until
 * woken, so they would time out (5 s). Lock and Condition sleepers also wake
 * every 20 ms to probe for a dead owner, so for them a missed wake shows as
 * latency: the median over 11 rounds would be ~10 ms instead of well under
 * 4 ms. */
Test(common, double_mapping_wakes_across_views, .timeout = 60)
{
	struct two_views v = map_twice();
	for (size_t i = 0; i < N_SUBJECTS; i++) {
		const struct subject *s = &subjects[i];
		double median = wake_across_views(s, &v);
		cr_assert(median < 0.004, "%s: median wake latency across views %.4f s", s->name, median);
	}
	munmap(v.a, v.bytes);
	munmap(v.b, v.bytes);
}

/* notify_all requeues sleepers onto the lock: through the other view too. */
static int cond_lock_give_all(struct fixture *fx)
{
	if (mps_lock_acquire(&fx->cond_lock, LONG_WAIT) != 0)
		return -1;
	int r = mps_cond_notify_all(&fx->cond);
	return mps_lock_release(&fx->cond_lock) || r;
}

Test(common, double_mapping_notify_all_across_views, .timeout = 60)
{
	struct two_views v = map_twice();
	struct subject s = subjects[4];
	s.name = "Condition(Lock) notify_all";
	s.give = cond_lock_give_all;
	double median = wake_across_views(&s, &v);
	cr_assert(median < 0.004, "%s: median wake latency across views %.4f s", s.name, median);
	munmap(v.a, v.bytes);
	munmap(v.b, v.bytes);
}

/* --- SPEC §4: no futex syscall on uncontended paths ---------------------- */

static int lock_ops(mps_lock_t *l)
{
	const double ts[] = { MPS_FOREVER, 0.0, 5.0, -1.0 };
	for (int i = 0; i < 400; i++) {
		if (mps_lock_acquire(l, ts[i % 4]) != 0 || !mps_lock_locked(l))
			return 1;
		if (i % 8 == 0 && mps_lock_acquire(l, 0) != ETIMEDOUT)
			return 2;  /* a failed poll is no reason to sleep either */
		if (mps_lock_release(l) != 0)
			return 3;
	}
	return mps_lock_release(l) == EPERM ? 0 : 4;
}

static int rlock_ops(mps_rlock_t *r)
{
	for (int i = 0; i < 400; i++) {
		if (mps_rlock_acquire(r, i & 1 ? MPS_FOREVER : 0.0) != 0)
			return 11;
		for (int d = 0; d < 3; d++)
			if (mps_rlock_acquire(r, 5.0) != 0)
				return 12;
		if (mps_rlock_count(r) != 4)
			return 13;
		for (int d = 0; d < 4; d++)
			if (mps_rlock_release(r) != 0)
				return 14;
	}
	return mps_rlock_release(r) == EPERM ? 0 : 15;
}

static int sem_ops(mps_sem_t *s, mps_sem_t *bounded)
{
	for (int i = 0; i < 400; i++) {
		if (mps_sem_acquire(s, i & 1 ? MPS_FOREVER : 0.0) != 0 || mps_sem_release(s, 1) != 0)
			return 21;
		if (mps_sem_acquire(bounded, 5.0) != 0 || mps_sem_release(bounded, 1) != 0)
			return 22;
		if (mps_sem_release(bounded, 1) != EOVERFLOW)
			return 23;
	}
	if (mps_sem_acquire(s, 0) != 0 || mps_sem_acquire(s, 0) != ETIMEDOUT)
		return 24;  /* a failed poll */
	return mps_sem_release(s, 1);
}

static int event_ops(mps_event_t *e)
{
	for (int i = 0; i < 400; i++) {
		if (mps_event_wait(e, 0) != ETIMEDOUT)
			return 31;
		mps_event_set(e);
		mps_event_set(e);
		if (!mps_event_is_set(e) || mps_event_wait(e, MPS_FOREVER) != 0 ||
		    mps_event_wait(e, 5.0) != 0 || mps_event_wait(e, 0) != 0)
			return 32;
		mps_event_clear(e);
		mps_event_clear(e);
		if (mps_event_is_set(e))
			return 33;
	}
	return 0;
}

static int cond_ops(mps_cond_t *c, mps_lock_t *l, mps_rlock_t *r)
{
	for (int i = 0; i < 400; i++) {
		if (mps_lock_acquire(l, 5.0) != 0)
			return 41;
		if (mps_cond_notify(c, 1) != 0 || mps_cond_notify(c, 7) != 0 || mps_cond_notify_all(c) != 0)
			return 42;
		if (i % 8 == 0 && mps_cond_wait(c, l, 0) != ETIMEDOUT)
			return 43;
		mps_lock_release(l);
		if (mps_rlock_acquire(r, 5.0) != 0 || mps_rlock_acquire(r, 5.0) != 0)
			return 44;
		if (mps_cond_notify(c, 1) != 0 || mps_cond_notify_all(c) != 0)
			return 45;
		mps_rlock_release(r);
		mps_rlock_release(r);
	}
	return 0;
}

static int barrier_ops(mps_barrier_t *b)
{
	const double ts[] = { MPS_FOREVER, 0.0, 5.0, -1.0 };
	for (int i = 0; i < 400; i++) {
		unsigned idx = 99;
		if (mps_barrier_wait(b, ts[i % 4], &idx) != 0 || idx != 0)
			return 51;
	}
	return mps_barrier_n_waiting(b) == 0 && !mps_barrier_broken(b) ? 0 : 52;
}

/* Every uncontended operation; 0, or the code of the first wrong result. */
static int uncontended_ops(void)
{
	mps_lock_t lock = MPS_LOCK_INIT, cond_lock = MPS_LOCK_INIT;
	mps_rlock_t rlock = MPS_RLOCK_INIT, cond_rlock = MPS_RLOCK_INIT;
	mps_event_t event = MPS_EVENT_INIT;
	mps_cond_t cond = MPS_COND_INIT;
	mps_sem_t sem, bounded;
	mps_barrier_t barrier;
	if (mps_sem_init(&sem, 1) || mps_sem_init_bounded(&bounded, 1) ||
	    mps_barrier_init(&barrier, 1, MPS_FOREVER))
		return 60;
	int r = lock_ops(&lock);
	r = r ? r : rlock_ops(&rlock);
	r = r ? r : sem_ops(&sem, &bounded);
	r = r ? r : event_ops(&event);
	r = r ? r : cond_ops(&cond, &cond_lock, &cond_rlock);
	r = r ? r : barrier_ops(&barrier);
	/* The library's exported copies of the inline paths, and the inline
	 * paths again on objects the copies have used. */
	mps_sem_t outline_sem;
	mps_sem_init(&outline_sem, 1);
	r = r ? r : outline_ops(&lock, &rlock, &outline_sem, &event, &cond);
	r = r ? r : lock_ops(&lock);
	return r ? r : rlock_ops(&rlock);
}

static void *uncontended_thread(void *p)
{
	uint64_t *calls = p;
	uint64_t before = mps_debug_futex_calls();
	calls[1] = (uint64_t)uncontended_ops();
	calls[0] = mps_debug_futex_calls() - before;
	/* and a wait that must sleep does count */
	mps_event_t e = MPS_EVENT_INIT;
	before = mps_debug_futex_calls();
	calls[2] = (uint64_t)mps_event_wait(&e, 0.02);
	calls[3] = mps_debug_futex_calls() - before;
	return NULL;
}

/* SPEC §4 through the library's own per-thread counter, in a fresh thread
 * (first use included). */
Test(common, uncontended_paths_debug_counter_unchanged)
{
	uint64_t calls[4] = { 99, 99, 99, 0 };
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, uncontended_thread, calls), 0);
	pthread_join(t, NULL);
	cr_assert_eq(calls[1], 0, "an uncontended operation failed: step %llu",
	             (unsigned long long)calls[1]);
	cr_assert_eq(calls[0], 0, "%llu futex calls on uncontended paths", (unsigned long long)calls[0]);
	cr_assert_eq(calls[2], ETIMEDOUT);
	cr_assert(calls[3] >= 1, "a wait that slept made no futex call: the counter cannot fail");
}

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define TEST_AUDIT_ARCH AUDIT_ARCH_RISCV64
#endif

#ifdef TEST_AUDIT_ARCH

/* si_code of a seccomp SIGSYS (asm-generic/siginfo.h; not in glibc's headers) */
#define TRAP_BY_SECCOMP 1

static volatile sig_atomic_t futex_traps;

/* The trapped syscall did not run; make it return value (0: a wake that
 * found nobody, or a spurious wake-up, which every caller handles). */
static void set_syscall_result(void *context, long value)
{
	ucontext_t *uc = context;
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = value;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long)value;
#else
	uc->uc_mcontext.__gregs[REG_A0] = (unsigned long)value;
#endif
}

static void on_sigsys(int sig, siginfo_t *info, void *context)
{
	(void)sig;
	if (info->si_code == TRAP_BY_SECCOMP)
		futex_traps++;
	set_syscall_result(context, 0);
}

static struct sock_filter bpf_stmt(uint16_t code, uint32_t k)
{
	struct sock_filter f = { code, 0, 0, k };
	return f;
}

static struct sock_filter bpf_jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
	struct sock_filter f = { code, jt, jf, k };
	return f;
}

/* Traps every futex syscall of this thread; kills the process on a foreign
 * syscall ABI (the numbers would mean something else). */
static int trap_futex_syscalls(void)
{
	const unsigned nrs[] = {
		SYS_futex,
#ifdef SYS_futex_waitv
		SYS_futex_waitv,
#endif
#ifdef SYS_futex_wake
		SYS_futex_wake, SYS_futex_wait, SYS_futex_requeue,
#endif
	};
	const unsigned n = sizeof nrs / sizeof nrs[0];
	struct sock_filter f[16];
	unsigned k = 0;
	f[k++] = bpf_stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[k++] = bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0);
	f[k++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[k++] = bpf_stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (unsigned i = 0; i < n; i++)  /* a match jumps to the TRAP after the ALLOW */
		f[k++] = bpf_jump(BPF_JMP | BPF_JEQ | BPF_K, nrs[i], (uint8_t)(n - i), 0);
	f[k++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = bpf_stmt(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
	struct sock_fprog prog = { (unsigned short)k, f };

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* Child exit codes: 0 as expected; 1-99 futex traps; 100-199 an operation
 * failed (100 + step); 200+ setup failed. */
static int exit_code(int traps, int ops)
{
	if (ops)
		return 100 + (ops % 100);
	return traps > 99 ? 99 : traps;
}

static void uncontended_child(void)
{
	alarm(20);
	/* First use in a process does one-time setup (tid cache, spin budget:
	 * pthread_once, whose glibc implementation wakes a futex). Steady state
	 * is what SPEC §4 is about. */
	if (uncontended_ops() != 0)
		_exit(201);
	if (trap_futex_syscalls() != 0)
		_exit(200);
	int ops = uncontended_ops();
	_exit(exit_code(futex_traps, ops));
}

static int run_child(void (*child)(void))
{
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		child();
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died of signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* SPEC §4: a seccomp filter traps and counts every futex syscall. */
Test(common, uncontended_paths_make_no_futex_syscall, .timeout = 60)
{
	int code = run_child(uncontended_child);
	cr_assert(code < 100 || code >= 200, "an uncontended operation failed at step %d", code - 100);
	cr_assert(code < 200, "seccomp setup failed (%d)", code);
	cr_assert_eq(code, 0, "%d futex syscalls on uncontended paths", code);
}

/* The filter works: a notify with a sleeping waiter traps. The waiter thread
 * exists before the filter, which covers only the thread that installs it. */
static mps_lock_t trap_lock;
static mps_cond_t trap_cond;

static void *sleeping_waiter(void *p)
{
	(void)p;
	mps_lock_acquire(&trap_lock, LONG_WAIT);
	mps_cond_wait(&trap_cond, &trap_lock, 5.0);
	mps_lock_release(&trap_lock);
	return NULL;
}

static void contended_child(void)
{
	alarm(20);
	pthread_t t;
	if (pthread_create(&t, NULL, sleeping_waiter, NULL) != 0)
		_exit(202);
	double end = mps_now() + LONG_WAIT;
	while (mps_cond_n_waiting(&trap_cond) == 0 && mps_now() < end)
		mps_sleep(0.001);
	if (mps_cond_n_waiting(&trap_cond) == 0)
		_exit(203);
	mps_sleep(SETTLE);
	if (trap_futex_syscalls() != 0)
		_exit(200);
	int ops = mps_lock_acquire(&trap_lock, LONG_WAIT);
	ops = ops ? ops : mps_cond_notify(&trap_cond, 1);
	mps_lock_release(&trap_lock);
	_exit(exit_code(futex_traps, ops));
}

Test(common, seccomp_filter_traps_contended_futex, .timeout = 60)
{
	int code = run_child(contended_child);
	cr_assert(code < 100, "the child failed (%d)", code);
	cr_assert(code >= 1, "a notify with a sleeping waiter made no futex syscall: the filter "
	          "cannot fail");
}

#else

Test(common, uncontended_paths_make_no_futex_syscall)
{
	cr_skip_test("no seccomp audit arch known for this architecture");
}

#endif

/* --- SPEC §2: result codes ------------------------------------------------ */

Test(common, strerror_names_every_code)
{
	const int codes[] = { 0, ETIMEDOUT, EPERM, EOVERFLOW, EINVAL, EINTR, EOWNERDEAD, MPS_EBROKEN };
	const size_t n = sizeof codes / sizeof codes[0];
	const char *unknown = mps_strerror(0x7fff0123);
	for (size_t i = 0; i < n; i++) {
		const char *s = mps_strerror(codes[i]);
		cr_assert(s != NULL && s[0] != 0, "code %d has no name", codes[i]);
		cr_assert(unknown == NULL || strcmp(s, unknown) != 0, "code %d is named as unknown",
		          codes[i]);
		for (size_t j = 0; j < i; j++)
			cr_assert(strcmp(s, mps_strerror(codes[j])) != 0, "codes %d and %d share a name",
			          codes[i], codes[j]);
	}
}

static void *report_tid(void *arg)
{
	*(pid_t *)arg = gettid();
	return NULL;
}

/* mps_owner_alive: the liveness test behind EOWNERDEAD, public for tools.
 * Alive while running; dead once exited, as a zombie, and after reaping. */
Test(common, owner_alive_follows_the_thread, .timeout = 60)
{
	cr_assert(mps_owner_alive(gettid()));
	cr_assert(!mps_owner_alive(0) && !mps_owner_alive(-1));

	pid_t tid = 0;
	pthread_t t;
	cr_assert(pthread_create(&t, NULL, report_tid, &tid) == 0);
	cr_assert(pthread_join(t, NULL) == 0);
	cr_assert(tid > 0 && tid != gettid());
	cr_assert(!mps_owner_alive(tid), "an exited thread counts as alive");

	int fds[2];
	cr_assert(pipe(fds) == 0);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		char c;
		close(fds[1]);
		_exit(read(fds[0], &c, 1) < 0);
	}
	close(fds[0]);
	cr_assert(mps_owner_alive(pid), "a blocked child counts as dead");
	cr_assert(kill(pid, SIGKILL) == 0);
	siginfo_t si;
	cr_assert(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0);
	cr_assert(!mps_owner_alive(pid), "a zombie counts as alive");
	cr_assert(waitpid(pid, NULL, 0) == pid);
	cr_assert(!mps_owner_alive(pid), "a reaped child counts as alive");
	close(fds[1]);
}

/* MPS_EBROKEN lies outside the errno range (Linux errno values are below
 * 4096), so it can never be mistaken for any code the library returns. */
Test(common, ebroken_differs_from_every_errno)
{
	const int codes[] = { 0, ETIMEDOUT, EPERM, EOVERFLOW, EINVAL, EINTR, EOWNERDEAD, EAGAIN,
		              EBUSY, EDEADLK, ENOTRECOVERABLE, ECANCELED };
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		cr_assert_neq(MPS_EBROKEN, codes[i]);
	cr_assert(MPS_EBROKEN >= 4096, "MPS_EBROKEN %d is inside the errno range", MPS_EBROKEN);
}

/* --- SPEC §2: sizes and the all-zero initial state ----------------------- */

Test(common, object_sizes_are_the_abi)
{
	cr_assert_eq(sizeof(mps_lock_t), 4);
	cr_assert_eq(sizeof(mps_rlock_t), 8);
	cr_assert_eq(sizeof(mps_event_t), 4);
	cr_assert_leq(sizeof(mps_sem_t), 16);
	cr_assert_leq(sizeof(mps_cond_t), 16);
	cr_assert_leq(sizeof(mps_barrier_t), 24);
}

struct zeroed {
	mps_lock_t lock;
	mps_rlock_t rlock;
	mps_event_t event;
	mps_cond_t cond;
};

static void *zero_cond_waiter(void *p)
{
	struct zeroed *z = p;
	intptr_t r = mps_lock_acquire(&z->lock, LONG_WAIT);
	if (r == 0)
		r = mps_cond_wait(&z->cond, &z->lock, LONG_WAIT);
	mps_lock_release(&z->lock);
	return (void *)r;
}

/* Lock, RLock and Event from zero bytes, never initialised. */
static void use_zeroed_locks(struct zeroed *z)
{
	cr_assert(!mps_lock_locked(&z->lock));
	cr_assert_eq(mps_lock_acquire(&z->lock, 0), 0);
	cr_assert_eq(mps_lock_owner(&z->lock), self_tid());
	cr_assert_eq(mps_lock_acquire(&z->lock, 0), ETIMEDOUT);
	cr_assert_eq(mps_lock_release(&z->lock), 0);
	cr_assert_eq(mps_lock_release(&z->lock), EPERM);

	cr_assert_eq(mps_rlock_count(&z->rlock), 0);
	cr_assert_eq(mps_rlock_release(&z->rlock), EPERM);
	cr_assert_eq(mps_rlock_acquire(&z->rlock, 0), 0);
	cr_assert_eq(mps_rlock_acquire(&z->rlock, 0), 0);
	cr_assert_eq(mps_rlock_count(&z->rlock), 2);
	cr_assert_eq(mps_rlock_release(&z->rlock), 0);
	cr_assert_eq(mps_rlock_release(&z->rlock), 0);
	cr_assert(!mps_rlock_locked(&z->rlock));

	cr_assert(!mps_event_is_set(&z->event));
	cr_assert_eq(mps_event_wait(&z->event, 0.01), ETIMEDOUT);
	mps_event_set(&z->event);
	cr_assert_eq(mps_event_wait(&z->event, 0), 0);
}

/* Condition from zero bytes: a timed wait, then a real waiter notified. */
static void use_zeroed_cond(struct zeroed *z)
{
	cr_assert_eq(mps_cond_n_waiting(&z->cond), 0);
	cr_assert_eq(mps_lock_acquire(&z->lock, 0), 0);
	cr_assert_eq(mps_cond_wait(&z->cond, &z->lock, 0.01), ETIMEDOUT);
	cr_assert_eq(mps_lock_owner(&z->lock), self_tid());
	cr_assert_eq(mps_cond_notify(&z->cond, 1), 0);
	cr_assert_eq(mps_lock_release(&z->lock), 0);
	for (int round = 0; round < 2; round++) {
		pthread_t t;
		void *r;
		cr_assert_eq(pthread_create(&t, NULL, zero_cond_waiter, z), 0);
		double end = mps_now() + LONG_WAIT;
		while (mps_cond_n_waiting(&z->cond) == 0 && mps_now() < end)
			mps_sleep(0.0005);
		cr_assert_eq(mps_cond_n_waiting(&z->cond), 1);
		cr_assert_eq(mps_lock_acquire(&z->lock, LONG_WAIT), 0);
		cr_assert_eq(round ? mps_cond_notify_all(&z->cond) : mps_cond_notify(&z->cond, 1), 0);
		cr_assert_eq(mps_lock_release(&z->lock), 0);
		pthread_join(t, &r);
		cr_assert_eq((intptr_t)r, 0, "the notified waiter got %d", (int)(intptr_t)r);
	}
}

/* SPEC §2: all-zero bytes (a fresh shared mapping) are a valid Lock, RLock,
 * Event and Condition. */
Test(common, zero_filled_memory_is_valid, .timeout = 60)
{
	struct zeroed *z = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(z != MAP_FAILED);
	use_zeroed_locks(z);
	use_zeroed_cond(z);
	munmap(z, 4096);
}
