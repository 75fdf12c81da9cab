/* Owner death scenarios for Lock and RLock: see owner_death.h. Roles return
 * (line << 8) | 1 on a failed check; the line is one of this file's. Only
 * the parent asserts. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "owner_death.h"

/* ---------------------------------------------------------------- helpers */

void od_reset(struct mps_area *a)
{
	memset(a->counter, 0, sizeof a->counter);
	mps_event_clear(&a->done);
}

pid_t od_start_one(struct mps_workers *w, enum mps_flavour f, struct mps_area *a,
                   mps_role_fn role)
{
	od_reset(a);
	mps_workers_start(w, f, a, role, 1, 0);
	cr_assert(mps_count_await(&a->counter[0], 1, OD_SETTLE));
	return (pid_t)a->value[OD_TID + 0];
}

void od_start_asleep(struct mps_workers *w, enum mps_flavour f, struct mps_area *a,
                     mps_role_fn role, int n, int first, uint32_t *ready)
{
	mps_workers_start(w, f, a, role, n, first);
	cr_assert(mps_count_await(ready, (uint32_t)n, OD_SETTLE));
	for (int i = first; i < first + n; i++)
		od_await_asleep((pid_t)a->value[OD_TID + i]);
}

void od_await_asleep(pid_t tid)
{
	cr_assert(mps_await_task_state(tid, "S", OD_SETTLE),
	          "tid %d never went to sleep (state %c)", (int)tid, mps_task_state(tid));
}

void od_await_dead(enum mps_flavour f, pid_t tid)
{
	char s;
	/* A thread's /proc entry may linger a moment as 'Z' or 'X'. */
	cr_assert(mps_await_task_state(tid, f == MPS_THREADS ? "-ZX" : "Z", OD_SETTLE),
	          "%s holder %d did not die (state %c)", mps_flavour_name(f), (int)tid,
	          (s = mps_task_state(tid)) ? s : '-');
}

void od_join_expect(struct mps_workers *w, int failures, const char *what)
{
	int failed = mps_workers_join_report(w, failures, 3 * OD_SETTLE, what);
	cr_assert_eq(failed, failures, "%s (%s): %d workers failed, expected %d", what,
	             mps_flavour_name(w->flavour), failed, failures);
}

/* This thread's view of the primitive when it holds it n deep (n = 0: it
 * does not hold it). */
static void expect_own_view(const struct od_ops *ops, struct mps_area *a, unsigned n)
{
	cr_assert_eq(ops->is_owned(a), n > 0, "%s: is_owned at depth %u", ops->name, n);
	unsigned count = ops->count(a);
	cr_assert_eq(count, n, "%s: count: %u, expected %u", ops->name, count, n);
	if (n > 0) {
		cr_assert(ops->locked(a), "%s: locked() false at depth %u", ops->name, n);
		cr_assert_eq(ops->owner(a), gettid(), "%s: owner() not this thread at depth %u",
		             ops->name, n);
	}
}

/* ------------------------------------------------------------------ roles */

/* Takes it ops->depth deep and records this thread's tid. */
static int take_deep(const struct od_ops *ops, struct mps_area *a, int i)
{
	for (unsigned k = 0; k < ops->depth; k++)
		MPS_CHECK(ops->acquire(a, OD_SETTLE) == 0);
	a->value[OD_TID + i] = gettid();
	MPS_CHECK(ops->locked(a));
	MPS_CHECK(ops->owner(a) == gettid());
	MPS_CHECK(ops->count(a) == ops->depth);
	return 0;
}

int od_hold_exit(const struct od_ops *ops, struct mps_area *a, int i)
{
	int failed = take_deep(ops, a, i);
	if (failed)
		return failed;
	mps_count_add(&a->counter[0], 1);
	return 0;
}

int od_hold(const struct od_ops *ops, struct mps_area *a, int i)
{
	int failed = od_hold_exit(ops, a, i);
	if (failed)
		return failed;
	MPS_CHECK(mps_event_wait(&a->done, 20) == 0);
	return 0;
}

int od_wait_for_death(const struct od_ops *ops, struct mps_area *a, int i)
{
	a->value[OD_TID + i] = gettid();
	mps_count_add(&a->counter[1], 1);
	int rc = ops->acquire(a, OD_SETTLE);
	a->elapsed[i] = mps_now();  /* CLOCK_MONOTONIC: comparable across processes */
	a->value[OD_RC + i] = rc;
	if (rc == 0 || rc == EOWNERDEAD) {
		MPS_CHECK(ops->locked(a));
		MPS_CHECK(ops->is_owned(a));
		MPS_CHECK(ops->count(a) == 1);  /* not the dead holder's depth */
		MPS_CHECK(ops->owner(a) == gettid());
		MPS_CHECK(ops->release(a) == 0);
		MPS_CHECK(!ops->is_owned(a));
	}
	return 0;
}

/* -------------------------------------------------------------- scenarios */

/* The holder `dead` died at `since`, still holding: this thread's acquire
 * gets EOWNERDEAD at once and holds at depth 1, whatever depth the dead one
 * had, and one release frees it. */
static void expect_ownerdead(const struct od_ops *ops, struct mps_area *a,
                             enum mps_flavour f, pid_t dead, double since, const char *how)
{
	const char *fl = mps_flavour_name(f);
	cr_assert(ops->locked(a), "%s: no auto-release on exit", fl);
	cr_assert_eq(ops->owner(a), dead);
	expect_own_view(ops, a, 0);
	int rc = ops->acquire(a, 5);
	double latency = mps_now() - since;
	cr_assert_eq(rc, EOWNERDEAD, "%s: acquire after the holder %s: %s", fl, how,
	             mps_strerror(rc));
	expect_own_view(ops, a, 1);
	if (f != MPS_THREADS)
		cr_assert_eq(mps_task_state(dead), 'Z', "%s: holder reaped too soon: not a zombie test",
		             fl);
	cr_log_info("%s %s: holder %s, EOWNERDEAD after %.1f ms", ops->name, fl, how,
	            latency * 1e3);
	cr_assert(latency < OD_DEATH_BOUND, "%s: owner death took %.3f s to notice", fl, latency);
	cr_assert_eq(ops->release(a), 0, "one release undoes the recovered depth");
	expect_own_view(ops, a, 0);
	cr_assert(!ops->locked(a));
}

/* A holder that exits (a thread returns, a process _exits and is left
 * unreaped) is dead. */
void od_owner_exits_holding(const struct od_ops *ops, enum mps_flavour f)
{
	struct mps_area *a = mps_area_create();
	for (int round = 0; round < 2; round++) {
		struct mps_workers w;
		pid_t dead = od_start_one(&w, f, a, ops->hold_exit);
		od_await_dead(f, dead);
		expect_ownerdead(ops, a, f, dead, mps_now(), "exited");
		od_join_expect(&w, 0, "exited holder");
	}
	mps_area_destroy(a);
}

/* A holder SIGKILLed and not reaped (a zombie) is dead. Processes only:
 * a thread cannot be killed alone. */
void od_owner_killed_zombie(const struct od_ops *ops, enum mps_flavour f)
{
	struct mps_area *a = mps_area_create();
	for (int round = 0; round < 2; round++) {
		struct mps_workers w;
		pid_t dead = od_start_one(&w, f, a, ops->hold);
		cr_assert_eq(dead, w.pids[0]);
		double killed = mps_now();
		cr_assert_eq(mps_workers_kill(&w, SIGKILL), 0);
		od_await_dead(f, dead);
		expect_ownerdead(ops, a, f, dead, killed, "was killed");
		od_join_expect(&w, 1, "killed holder");
	}
	mps_area_destroy(a);
}

/* Of the two waiters (workers 1 and 2), exactly one got EOWNERDEAD and the
 * other 0; returns how long after `died` the first one returned. */
static double one_saw_death(struct mps_area *a, enum mps_flavour f, double died)
{
	const char *fl = mps_flavour_name(f);
	int dead_seen = 0, plain = 0;
	double latency = 0;
	for (int i = 1; i <= 2; i++) {
		int rc = (int)a->value[OD_RC + i];
		if (rc == EOWNERDEAD) {
			dead_seen++;
			latency = a->elapsed[i] - died;
		} else if (rc == 0) {
			plain++;
		} else {
			cr_assert_fail("%s: waiter %d got %s", fl, i, mps_strerror(rc));
		}
	}
	cr_assert_eq(dead_seen, 1, "%s: %d waiters got EOWNERDEAD", fl, dead_seen);
	cr_assert_eq(plain, 1);
	return latency;
}

/* Two waiters already asleep when the holder dies (a thread exits, a process
 * is killed and left unreaped): one gets EOWNERDEAD and holds at depth 1,
 * the other then gets it normally. */
void od_sleeping_waiter_gets_ownerdead(const struct od_ops *ops, enum mps_flavour f)
{
	const char *fl = mps_flavour_name(f);
	struct mps_area *a = mps_area_create();
	for (int round = 0; round < 2; round++) {
		struct mps_workers holder, waiters;
		pid_t dead = od_start_one(&holder, f, a, ops->hold);
		od_start_asleep(&waiters, f, a, ops->wait_for_death, 2, 1, &a->counter[1]);

		double died = mps_now();
		if (f == MPS_THREADS)
			mps_event_set(&a->done);  /* the holder thread returns holding it */
		else
			cr_assert_eq(mps_workers_kill(&holder, SIGKILL), 0);  /* reaped below */
		od_join_expect(&waiters, 0, "waiters");

		double latency = one_saw_death(a, f, died);
		if (f != MPS_THREADS)
			cr_assert_eq(mps_task_state(dead), 'Z', "%s: holder reaped too soon", fl);
		cr_log_info("%s %s: sleeping waiter got EOWNERDEAD %.1f ms after the holder died",
		            ops->name, fl, latency * 1e3);
		cr_assert(latency < OD_DEATH_BOUND, "%s: owner death took %.3f s to notice", fl,
		          latency);
		cr_assert(!ops->locked(a));
		od_join_expect(&holder, f == MPS_THREADS ? 0 : 1, "holder");
	}
	mps_area_destroy(a);
}
