/* Death right after a wake-up, made deterministic with ptrace.
 *
 * Two waiters block on one object (Semaphore acquire, Lock acquire, Lock
 * acquire after a hand-over was requested, Condition wait). Both are traced
 * with PTRACE_SYSCALL. The parent then releases one permit / releases the
 * lock / notifies one waiter. The waiter whose FUTEX_WAIT_BITSET returns 0
 * (it was woken) is SIGKILLed at that syscall exit, before it runs another
 * instruction: the wake-up is spent on a process that will never use it.
 * SPEC 5 says a dead waiter never blocks wakers or other waiters, so the
 * other waiter must still get the permit / the lock / the notification
 * promptly: well within 250 ms, not when its 2 s timeout runs out.
 *
 * In a random kill (fault_round.c) the same thing happens only when a victim
 * is stopped between its wake-up and its next instruction. Without ptrace
 * (qemu-user, seccomp) the cases are skipped. */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"

#define EXIT_NO_PTRACE 3
#define ATTEMPTS 5
#define LW_HANDOFF_REQUESTED_BIT 0x20000000u   /* docs/design.md, Lock */
#define LW_HANDOFF_WORD 0x8fffffffu            /* free, reserved for a sleeper */

enum wake_kind { WAKE_SEM, WAKE_LOCK, WAKE_HANDOFF, WAKE_COND, WAKE_KINDS };

static const char *const kind_names[WAKE_KINDS] = {
	"Semaphore", "Lock", "Lock (hand-over)", "Condition",
};

struct wake_arena {
	mps_lock_t lock;
	mps_sem_t sem;
	mps_cond_t cond;
	_Atomic int rc[2];
	_Atomic int64_t returned_ns[2];
};

struct tracee {
	pid_t pid;
	bool done;
	bool in_wait;     /* between the entry and exit stops of FUTEX_WAIT_BITSET */
};

enum stop_event { EV_NONE, EV_EXIT, EV_WOKEN, EV_ERROR };

enum outcome { OUT_PASS, OUT_FAIL, OUT_INCONCLUSIVE, OUT_SKIP };

static int cond_call(struct wake_arena *w, double timeout)
{
	int rc = mps_lock_acquire(&w->lock, timeout);
	if (rc != 0)
		return rc;
	rc = mps_cond_wait(&w->cond, &w->lock, timeout);
	mps_lock_release(&w->lock);
	return rc;
}

static int blocking_call(struct wake_arena *w, enum wake_kind k, double timeout)
{
	switch (k) {
	case WAKE_SEM:
		return mps_sem_acquire(&w->sem, timeout);
	case WAKE_LOCK:
	case WAKE_HANDOFF:
		return mps_lock_acquire(&w->lock, timeout);
	default:
		return cond_call(w, timeout);
	}
}

static void waiter_main(struct wake_arena *w, enum wake_kind k, int me, double timeout)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
		_exit(EXIT_NO_PTRACE);
	raise(SIGSTOP);
	int rc = blocking_call(w, k, timeout);
	atomic_store(&w->returned_ns[me], fault_now_ns());
	atomic_store(&w->rc[me], rc);
	if ((k == WAKE_LOCK || k == WAKE_HANDOFF) && rc == 0)
		mps_lock_release(&w->lock);
	_exit(0);
}

static bool start_tracee(struct tracee *t, struct wake_arena *w, enum wake_kind k, int me,
                         double timeout)
{
	fflush(stdout);
	t->done = t->in_wait = false;
	t->pid = fork();
	if (t->pid == 0)
		waiter_main(w, k, me, timeout);
	int status;
	if (t->pid < 0 || waitpid(t->pid, &status, 0) != t->pid || !WIFSTOPPED(status)) {
		t->done = true;
		return false;
	}
	long opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL;
	if (ptrace(PTRACE_SETOPTIONS, t->pid, NULL, (void *)opts) != 0)
		return false;
	return ptrace(PTRACE_SYSCALL, t->pid, NULL, NULL) == 0;
}

static void resume(struct tracee *t, int sig)
{
	ptrace(PTRACE_SYSCALL, t->pid, NULL, (void *)(long)sig);
}

/* A syscall stop: notes futex waits; EV_WOKEN when one returned 0 (the
 * tracee is then left stopped). */
static enum stop_event syscall_stop(struct tracee *t, bool armed)
{
	struct __ptrace_syscall_info info;
	if (ptrace(PTRACE_GET_SYSCALL_INFO, t->pid, (void *)sizeof info, &info) <= 0) {
		resume(t, 0);
		return EV_ERROR;
	}
	if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
		t->in_wait = info.entry.nr == SYS_futex
		          && (info.entry.args[1] & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET;
	} else if (info.op == PTRACE_SYSCALL_INFO_EXIT) {
		bool woken = t->in_wait && info.exit.rval == 0;
		t->in_wait = false;
		if (woken && armed)
			return EV_WOKEN;
	}
	resume(t, 0);
	return EV_NONE;
}

/* Handles the tracee's next stop, if it has one. */
static enum stop_event pump(struct tracee *t, bool armed)
{
	int status;
	if (t->done || waitpid(t->pid, &status, WNOHANG) != t->pid)
		return EV_NONE;
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		t->done = true;
		return EV_EXIT;
	}
	int sig = WSTOPSIG(status);
	if (sig == (SIGTRAP | 0x80))
		return syscall_stop(t, armed);
	resume(t, sig == SIGSTOP ? 0 : sig);
	return EV_NONE;
}

static bool asleep(const struct tracee *t)
{
	return t->in_wait && fault_proc_state(t->pid) == 'S';
}

/* Services both tracees until each sleeps in its futex wait, stably. */
static bool until_asleep(struct tracee *t, int n, double seconds)
{
	int64_t deadline = fault_now_ns() + (int64_t)(seconds * 1e9);
	int stable = 0;
	while (stable < 5) {
		bool all = true;
		for (int i = 0; i < n; i++) {
			enum stop_event ev = pump(&t[i], false);
			if (ev == EV_EXIT || ev == EV_ERROR)
				return false;
			all = all && asleep(&t[i]);
		}
		stable = all ? stable + 1 : 0;
		if (fault_now_ns() > deadline)
			return false;
		fault_sleep_ns(500000);
	}
	return true;
}

/* Services the sleepers until one has waited long enough (over 1 ms, past a
 * probe slice) to ask for a hand-over: the release then reserves the lock
 * for the sleeper it wakes, and that one is killed. */
static bool until_handoff_requested(struct wake_arena *w, struct tracee *t, double seconds)
{
	int64_t deadline = fault_now_ns() + (int64_t)(seconds * 1e9);
	while (!(__atomic_load_n(&w->lock.word, __ATOMIC_ACQUIRE) & LW_HANDOFF_REQUESTED_BIT)) {
		for (int i = 0; i < 2; i++)
			if (pump(&t[i], false) != EV_NONE)
				return false;
		if (fault_now_ns() > deadline)
			return false;
		fault_sleep_ns(200000);
	}
	return until_asleep(t, 2, seconds);
}

static void wake_one(struct wake_arena *w, enum wake_kind k, double hang)
{
	switch (k) {
	case WAKE_SEM:
		mps_sem_release(&w->sem, 1);
		break;
	case WAKE_LOCK:
	case WAKE_HANDOFF:
		mps_lock_release(&w->lock);
		break;
	default:
		if (mps_lock_acquire(&w->lock, hang) == 0) {
			mps_cond_notify(&w->cond, 1);
			mps_lock_release(&w->lock);
		}
		break;
	}
}

/* After the wake: the index of the tracee killed at its wake-up, or -1. */
static int kill_woken(struct tracee *t, double seconds)
{
	int64_t deadline = fault_now_ns() + (int64_t)(seconds * 1e9);
	while (fault_now_ns() < deadline) {
		for (int i = 0; i < 2; i++) {
			enum stop_event ev = pump(&t[i], true);
			if (ev == EV_WOKEN) {
				kill(t[i].pid, SIGKILL);
				return i;
			}
			if (ev == EV_EXIT || ev == EV_ERROR)
				return -1;
		}
		fault_sleep_ns(20000);
	}
	return -1;
}

static bool until_exit(struct tracee *t, double seconds)
{
	int64_t deadline = fault_now_ns() + (int64_t)(seconds * 1e9);
	while (!t->done) {
		if (pump(t, false) == EV_NONE)
			fault_sleep_ns(20000);
		if (fault_now_ns() > deadline)
			return false;
	}
	return true;
}

static void cleanup(struct tracee *t, int n)
{
	for (int i = 0; i < n; i++) {
		if (t[i].pid <= 0)
			continue;
		kill(t[i].pid, SIGKILL);
		while (waitpid(t[i].pid, NULL, 0) < 0 && errno == EINTR) {
		}
	}
}

static void prepare(struct wake_arena *w, enum wake_kind k)
{
	mps_lock_init(&w->lock);
	mps_sem_init(&w->sem, 0);
	mps_cond_init(&w->cond);
	for (int i = 0; i < 2; i++) {
		atomic_store(&w->rc[i], -1);
		atomic_store(&w->returned_ns[i], 0);
	}
	if (k == WAKE_LOCK || k == WAKE_HANDOFF)
		mps_lock_acquire(&w->lock, 0);   /* the parent holds it; the waiters block */
}

static enum outcome judge(struct wake_arena *w, enum wake_kind k, int survivor, int64_t armed_ns,
                          double bound_ms)
{
	int rc = atomic_load(&w->rc[survivor]);
	double ms = (double)(atomic_load(&w->returned_ns[survivor]) - armed_ns) / 1e6;
	bool ok = rc == 0 && ms <= bound_ms;
	printf("  %-16s the other waiter returned %s %.1f ms after the wake-up that the killed "
	       "waiter took (bound %.0f ms): %s\n", kind_names[k], fault_code(rc), ms, bound_ms,
	       ok ? "PASS" : "FAIL");
	return ok ? OUT_PASS : OUT_FAIL;
}

static enum outcome attempt(struct wake_arena *w, enum wake_kind k)
{
	double hang = 2.0 * fault_slack(), bound = 250 * fault_slack();
	struct tracee t[2] = { { .pid = -1 }, { .pid = -1 } };
	enum outcome out = OUT_INCONCLUSIVE;
	prepare(w, k);
	for (int i = 0; i < 2; i++) {
		if (!start_tracee(&t[i], w, k, i, hang)) {
			cleanup(t, 2);
			return OUT_SKIP;
		}
		if (!until_asleep(t, i + 1, hang))
			break;
	}
	if (k == WAKE_HANDOFF && !until_handoff_requested(w, t, hang))
		out = OUT_INCONCLUSIVE;
	else if (asleep(&t[0]) && asleep(&t[1])) {
		int64_t armed = fault_now_ns();
		wake_one(w, k, hang);
		int victim = kill_woken(t, 1.0);
		uint32_t word = __atomic_load_n(&w->lock.word, __ATOMIC_ACQUIRE);
		if (k == WAKE_HANDOFF && victim >= 0 && word != LW_HANDOFF_WORD)
			victim = -1;   /* no hand-over reserved for the victim: try again */
		if (victim >= 0 && until_exit(&t[1 - victim], 2 * hang))
			out = judge(w, k, 1 - victim, armed, bound);
		else if (victim >= 0) {
			printf("  %-16s FAIL: the other waiter did not return within %.1f s\n",
			       kind_names[k], 2 * hang);
			out = OUT_FAIL;
		}
	}
	cleanup(t, 2);
	return out;
}

static enum outcome run_kind(struct wake_arena *w, enum wake_kind k)
{
	for (int i = 0; i < ATTEMPTS; i++) {
		enum outcome out = attempt(w, k);
		if (out != OUT_INCONCLUSIVE)
			return out;
	}
	printf("  %-16s inconclusive: no waiter was woken by the futex in %d attempts\n",
	       kind_names[k], ATTEMPTS);
	return OUT_INCONCLUSIVE;
}

int fault_wake_tests(int *passed)
{
	struct wake_arena *w = mmap(NULL, sizeof *w, PROT_READ | PROT_WRITE,
	                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED) {
		perror("fault_inject: mmap");
		return 1;
	}
	printf("\nwaiter killed right after its futex wake-up (ptrace syscall-exit stop)\n");
	int failures = 0;
	for (int k = 0; k < WAKE_KINDS; k++) {
		enum outcome out = run_kind(w, (enum wake_kind)k);
		if (out == OUT_SKIP) {
			printf("  skipped: ptrace is not available here\n");
			break;
		}
		*passed += out == OUT_PASS;
		failures += out == OUT_FAIL;
	}
	munmap(w, sizeof *w);
	return failures;
}
