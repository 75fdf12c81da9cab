/* One round: map, fork, kill, lead the survivors to the end, check, clean up.
 * Also the kills-per-phase table. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault.h"

#define MAX_DELAY_NS 4000000LL   /* kills land 1 us .. 4 ms after the start */
#define POLL_NS      200000LL

struct prim_stats {
	long rounds, failed, kills, zombie_kills, deaths_holding, eownerdead;
};

static long table[PRIM_COUNT][PH_COUNT];
static struct prim_stats stats[PRIM_COUNT];
static const char *const prim_names[PRIM_COUNT] = {
	"Lock", "RLock", "Sem", "Event", "Cond", "Barrier"
};

static struct fault_arena *arena_create(void)
{
	void *p = mmap(NULL, sizeof(struct fault_arena), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("fault_inject: mmap");
		exit(2);
	}
	return p;
}

static void child_main(struct fault_round *r, int me)
{
	struct fault_arena *a = r->a;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	a->child[me].pid = getpid();
	atomic_fetch_add(&a->ready, 1);
	while (!atomic_load(&a->go))
		fault_sleep_ns(20000);
	atomic_fetch_add(&a->running, 1);
	_exit(r->sc->child(a, me));
}

static bool start_children(struct fault_round *r)
{
	fflush(stdout);
	for (int i = 0; i < r->sc->children; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			fault_fail(r, "fork: %s", strerror(errno));
			return false;
		}
		if (pid == 0)
			child_main(r, i);
		r->pid[i] = pid;
	}
	int64_t deadline = fault_now_ns() + (int64_t)(r->a->hang * 1e9);
	while (atomic_load(&r->a->ready) < r->sc->children) {
		if (fault_now_ns() > deadline) {
			fault_fail(r, "children did not start");
			return false;
		}
		fault_sleep_ns(20000);
	}
	return true;
}

bool fault_alive(const struct fault_round *r, int idx)
{
	return !r->killed[idx] && !r->reaped[idx];
}

int fault_survivors(const struct fault_round *r)
{
	int n = 0;
	for (int i = 0; i < r->sc->children; i++)
		n += !r->killed[i];
	return n;
}

/* A survivor's exit status: 0, or a failure. */
static void judge_exit(struct fault_round *r, int idx, int status)
{
	r->reaped[idx] = true;
	if (r->killed[idx])
		return;
	if (WIFSIGNALED(status))
		fault_fail(r, "child %d died of signal %d (phase %s)", idx, WTERMSIG(status),
		           fault_phase_name(atomic_load(&r->a->child[idx].phase)));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		fault_fail(r, "child %d exited with status %d", idx, WEXITSTATUS(status));
}

bool fault_wait_exit(struct fault_round *r, int idx, int64_t deadline_ns)
{
	if (r->reaped[idx])
		return true;
	for (;;) {
		int status;
		pid_t w = waitpid(r->pid[idx], &status, WNOHANG);
		if (w == r->pid[idx]) {
			judge_exit(r, idx, status);
			return true;
		}
		if (w < 0 && errno != EINTR) {
			r->reaped[idx] = true;
			return true;
		}
		if (fault_now_ns() > deadline_ns)
			return false;
		fault_sleep_ns(POLL_NS);
	}
}

/* Stops the child; false (and its status judged) if it had already exited. */
static bool stop_child(struct fault_round *r, int idx)
{
	int status;
	kill(r->pid[idx], SIGSTOP);
	for (;;) {
		pid_t w = waitpid(r->pid[idx], &status, WUNTRACED);
		if (w == r->pid[idx])
			break;
		if (errno != EINTR)
			return false;
	}
	if (WIFSTOPPED(status))
		return true;
	judge_exit(r, idx, status);
	return false;
}

static void kill_one(struct fault_round *r, int v)
{
	struct fault_arena *a = r->a;
	if (!stop_child(r, v))
		return;
	int phase = atomic_load(&a->child[v].phase);
	atomic_store(&a->child[v].killed, 1);
	if (phase == PH_ACQUIRING || phase == PH_COND_WAIT)
		atomic_store(&a->watcher_lost, 1);
	if (r->sc->on_kill)
		r->sc->on_kill(r, v);
	kill(r->pid[v], SIGKILL);
	r->killed[v] = true;
	r->kill_phase[r->nkilled++] = phase;
	table[r->sc->prim][phase]++;
	stats[r->sc->prim].kills++;
	if (r->zombies) {
		stats[r->sc->prim].zombie_kills++;
		return;
	}
	int status;
	while (waitpid(r->pid[v], &status, 0) < 0 && errno == EINTR) {
	}
	r->reaped[v] = true;
}

static int pick_victim(struct fault_round *r)
{
	int cand[FAULT_MAX_CHILDREN], n = 0;
	for (int i = 0; i < r->sc->children; i++)
		if (fault_alive(r, i) && (!r->sc->killable || r->sc->killable(r, i)))
			cand[n++] = i;
	return n ? cand[fault_rand(&r->rng) % (uint64_t)n] : -1;
}

static void kill_all(struct fault_round *r)
{
	for (int i = 0; i < r->sc->children; i++) {
		if (r->reaped[i] || r->killed[i])
			continue;   /* victims are dead already; reap_zombies() reaps them */
		kill(r->pid[i], SIGKILL);
		waitpid(r->pid[i], NULL, 0);
		r->reaped[i] = true;
	}
}

/* Every survivor must finish within the bound; past it, everyone dies. */
static bool supervise(struct fault_round *r)
{
	double bound = 2.5 * r->a->hang + (atomic_load(&r->a->watcher_lost) ? FAULT_BACKSTOP_S : 0);
	int64_t deadline = fault_now_ns() + (int64_t)(bound * 1e9);
	bool ok = true;
	for (int i = 0; i < r->sc->children; i++) {
		if (r->killed[i] || fault_wait_exit(r, i, deadline))
			continue;
		fault_fail(r, "child %d did not finish within %.1f s (stuck %s)", i, bound,
		           fault_phase_name(atomic_load(&r->a->child[i].phase)));
		ok = false;
	}
	if (!ok)
		kill_all(r);
	return ok;
}

/* Victims left unreaped: once dead (waitid WNOWAIT leaves them unreaped)
 * they must be zombies, killed by our SIGKILL; then reap them. */
static void reap_zombies(struct fault_round *r)
{
	for (int i = 0; i < r->sc->children; i++) {
		if (r->reaped[i])
			continue;
		siginfo_t info = { 0 };
		int rc = waitid(P_PID, (id_t)r->pid[i], &info, WEXITED | WNOWAIT);
		char s = fault_proc_state(r->pid[i]);
		if (rc != 0 || info.si_code != CLD_KILLED || info.si_status != SIGKILL || s != 'Z')
			fault_fail(r, "killed child %d: state %c, si_code %d, signal %d", i, s ? s : '?',
			           info.si_code, info.si_status);
		waitpid(r->pid[i], NULL, 0);
		r->reaped[i] = true;
	}
}

/* The random delays count from the moment every child is in its loop. */
static void await_running(struct fault_round *r)
{
	int64_t deadline = fault_now_ns() + (int64_t)(r->a->hang * 1e9);
	while (atomic_load(&r->a->running) < r->sc->children && fault_now_ns() < deadline)
		fault_pause_ns(2000);
}

static void kill_phase(struct fault_round *r)
{
	await_running(r);
	int victims = 1 + (int)(fault_rand(&r->rng) % 2);
	for (int k = 0; k < victims; k++) {
		fault_pause_ns(fault_rand_delay_ns(&r->rng, MAX_DELAY_NS));
		int v = pick_victim(r);
		if (v >= 0)
			kill_one(r, v);
	}
}

static void report_round(const struct fault_round *r)
{
	if (!fault_verbose() && !r->failures)
		return;
	printf("round %3d %-7s killed %d%s:", r->number, r->sc->name, r->nkilled,
	       r->zombies ? " (zombies)" : "");
	for (int k = 0; k < r->nkilled; k++)
		printf(" [%s]", fault_phase_name(r->kill_phase[k]));
	printf(" eownerdead %u/%d -> %s\n", atomic_load(&r->a->eownerdead), r->expected_eod,
	       r->failures ? "FAIL" : "ok");
}

static void finish_round(struct fault_round *r)
{
	struct fault_arena *a = r->a;
	unsigned v = atomic_load(&a->violations);
	if (v)
		fault_fail(r, "%u violation(s); first: %s", v, a->msg);
	reap_zombies(r);
	struct prim_stats *s = &stats[r->sc->prim];
	s->rounds++;
	s->failed += r->failures != 0;
	s->deaths_holding += r->expected_eod;
	s->eownerdead += atomic_load(&a->eownerdead);
	report_round(r);
}

bool fault_run_round(const struct fault_scenario *sc, int number, uint64_t seed)
{
	struct fault_round r;
	memset(&r, 0, sizeof r);
	r.sc = sc;
	r.number = number;
	r.rng = seed | 1;
	r.a = arena_create();
	r.a->seed = seed;
	r.a->nchildren = sc->children;
	r.a->hang = 2.0 * fault_slack();
	r.zombies = fault_rand(&r.rng) % 2;
	sc->setup(&r);
	if (start_children(&r)) {
		atomic_store(&r.a->go, 1);
		kill_phase(&r);
		if (sc->drive)
			sc->drive(&r);
		if (supervise(&r))
			sc->check(&r);
	}
	kill_all(&r);
	finish_round(&r);
	munmap(r.a, sizeof *r.a);
	return r.failures == 0;
}

void fault_note_lock_death(struct fault_round *r, int victim, pid_t owner)
{
	if (owner != r->pid[victim])
		return;
	struct fault_arena *a = r->a;
	int phase = atomic_load(&a->child[victim].phase);
	bool unclaimed = r->expected_eod > (int)atomic_load(&a->eownerdead);
	/* It took the lock inside acquire or a Condition's re-acquire and has not
	 * published the result: if an earlier death was still unclaimed, the
	 * EOWNERDEAD for it dies unrecorded with this victim. */
	if (unclaimed && (phase == PH_ACQUIRING || phase == PH_COND_WAIT))
		r->eod_ambiguous++;
	r->expected_eod++;
}

static void check_eod_count(struct fault_round *r)
{
	int seen = (int)atomic_load(&r->a->eownerdead);
	if (seen > r->expected_eod || seen + r->eod_ambiguous < r->expected_eod)
		fault_fail(r, "EOWNERDEAD returned %d time(s) for %d death(s) holding the lock "
		           "(%d possibly unrecorded)", seen, r->expected_eod, r->eod_ambiguous);
}

void fault_final_lock_check(struct fault_round *r, mps_lock_t *l)
{
	int rc = mps_lock_acquire(l, fault_wait_s(r->a));
	if (rc == EOWNERDEAD)
		atomic_fetch_add(&r->a->eownerdead, 1);
	else if (rc != 0)
		fault_fail(r, "parent's final acquire returned %s", fault_code(rc));
	check_eod_count(r);
	if (rc != 0 && rc != EOWNERDEAD)
		return;
	if (mps_lock_owner(l) != getpid())
		fault_fail(r, "after the final acquire the owner is %d", (int)mps_lock_owner(l));
	rc = mps_lock_release(l);
	if (rc != 0 || mps_lock_locked(l))
		fault_fail(r, "final release returned %s, locked %d", fault_code(rc), mps_lock_locked(l));
}

void fault_print_table(void)
{
	printf("\nrounds and kills per primitive\n");
	printf("  %-8s %6s %6s %6s %8s %14s %11s\n", "", "rounds", "failed", "kills", "zombies",
	       "died holding", "EOWNERDEAD");
	for (int p = 0; p < PRIM_COUNT; p++) {
		const struct prim_stats *s = &stats[p];
		printf("  %-8s %6ld %6ld %6ld %8ld %14ld %11ld\n", prim_names[p], s->rounds,
		       s->failed, s->kills, s->zombie_kills, s->deaths_holding, s->eownerdead);
	}
	printf("  (died holding: victims that owned the lock word when killed;\n"
	       "   EOWNERDEAD: results seen by the next acquirers, parent included)\n");
	printf("\nkills per phase (phase published by the victim when it was stopped and killed)\n");
	printf("  %-24s", "phase");
	for (int p = 0; p < PRIM_COUNT; p++)
		printf(" %7s", prim_names[p]);
	printf("\n");
	for (int ph = 0; ph < PH_COUNT; ph++) {
		printf("  %-24s", fault_phase_name(ph));
		for (int p = 0; p < PRIM_COUNT; p++)
			printf(" %7ld", table[p][ph]);
		printf("\n");
	}
}
