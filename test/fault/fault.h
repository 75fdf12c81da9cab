/* Fault injection: forked children hammer one primitive in a MAP_SHARED
 * anonymous mapping; the parent SIGKILLs one or two of them at a random
 * moment and checks that the survivors finish, that the invariants hold, and
 * that a dead owner's lock is handed on with EOWNERDEAD exactly once.
 *
 * Kill procedure: SIGSTOP, wait until stopped, read the victim's phase and
 * the object's state (exact: the victim cannot move), mark it killed, then
 * SIGKILL. A process stopped this way is out of every futex queue, so the
 * stop itself cannot swallow a wake-up; dying right after a wake-up is
 * tested separately and deterministically (fault_wake.c, under ptrace).
 *
 * Plain C11 (no Criterion): children report broken invariants through the
 * shared arena; only the parent decides pass or fail. */
#ifndef MPS_FAULT_H
#define MPS_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <mpsync.h>

#define FAULT_MAX_CHILDREN 8
#define FAULT_QUEUE_CAP    4
#define FAULT_MAX_ITEMS    512     /* per producer */
#define FAULT_SLOTS        4       /* barrier pass slots, reused modulo */

/* Where a child is; written by the child, read by the parent at kill time. */
enum fault_phase {
	PH_OUTSIDE,        /* between operations */
	PH_ACQUIRING,      /* inside acquire (Lock, RLock, Semaphore) */
	PH_HOLDING,        /* acquire returned; critical section */
	PH_RELEASING,      /* about to release / inside release */
	PH_COND_WAIT,      /* inside mps_cond_wait */
	PH_EVENT_WAIT,     /* inside mps_event_wait */
	PH_SETTING,        /* Event setter: clear/set */
	PH_BARRIER_WAIT,   /* between Barrier arrival and return */
	PH_BARRIER_ACTION, /* the last arriver runs the action */
	PH_AFTER_RETURN,   /* checking what a wait returned */
	PH_RESYNC,         /* Barrier broken: waiting for the parent's reset */
	PH_COUNT
};

enum fault_prim {
	PRIM_LOCK, PRIM_RLOCK, PRIM_SEM, PRIM_EVENT, PRIM_COND, PRIM_BARRIER, PRIM_COUNT
};

struct fault_child {
	_Atomic int phase;
	_Atomic int killed;      /* set by the parent before the SIGKILL */
	_Atomic int broken;      /* Barrier: this child saw the break */
	_Atomic long ops;        /* completed operations */
	int32_t pid;
	int role;                /* scenario-defined (producer/consumer, setter) */
};

/* Everything a round shares; fresh and zero-filled every round. */
struct fault_arena {
	_Atomic int go, stop, ready, running;
	_Atomic unsigned violations;
	_Atomic int msg_taken;
	char msg[256];
	_Atomic unsigned eownerdead;     /* EOWNERDEAD results, by anyone */
	_Atomic unsigned stalls;         /* waits far longer than the scenario allows */
	uint64_t seed;
	int nchildren;
	double hang;                     /* a wait this long is a hang */
	_Atomic int watcher_lost;        /* a victim died waiting: maybe a lock's watcher */
	struct fault_child child[FAULT_MAX_CHILDREN];

	mps_lock_t lock;
	mps_rlock_t rlock;
	mps_sem_t sem;
	mps_event_t event, stage2;
	mps_cond_t not_empty, not_full;
	mps_barrier_t barrier;

	/* Lock, RLock: index+1 of the child in the critical section */
	_Atomic int cs_owner;

	/* Semaphore: bit i = child i between acquire and release */
	_Atomic unsigned sem_mask;
	unsigned permits;

	/* Event */
	_Atomic unsigned long sets;

	/* Condition: bounded queue under lock */
	_Atomic uint32_t head, tail;
	int32_t buf[FAULT_QUEUE_CAP];
	int32_t next_seq[FAULT_MAX_CHILDREN];
	int32_t quota[FAULT_MAX_CHILDREN];
	_Atomic int prod_done;
	_Atomic unsigned char seen[FAULT_MAX_CHILDREN * FAULT_MAX_ITEMS];

	/* Barrier: stage 0 (all parties, broken by the kill), stage 1 (survivors) */
	_Atomic int stage;
	_Atomic unsigned arrived[2][FAULT_SLOTS];
	_Atomic unsigned idx_mask[2][FAULT_SLOTS];
	_Atomic unsigned passes[2];
	unsigned parties[2];
	double pass_timeout;
	_Atomic unsigned timeouts;       /* stage 0 waits that returned ETIMEDOUT */
	_Atomic int abandon;             /* a survivor never came out: no stage 1 */
	int stage1_passes;
};

struct fault_round;

struct fault_scenario {
	const char *name;
	enum fault_prim prim;
	int children;
	void (*setup)(struct fault_round *r);
	int (*child)(struct fault_arena *a, int me);
	bool (*killable)(const struct fault_round *r, int idx);
	void (*on_kill)(struct fault_round *r, int victim);   /* victim stopped */
	void (*drive)(struct fault_round *r);                 /* lead survivors to the end */
	void (*check)(struct fault_round *r);                 /* survivors have exited */
};

/* Parent-side state of one round. */
struct fault_round {
	const struct fault_scenario *sc;
	struct fault_arena *a;
	int number;
	uint64_t rng;
	pid_t pid[FAULT_MAX_CHILDREN];
	bool killed[FAULT_MAX_CHILDREN];
	bool reaped[FAULT_MAX_CHILDREN];
	bool zombies;                 /* leave victims unreaped until the end */
	int nkilled;
	int kill_phase[2];
	int expected_eod;             /* deaths while owning the lock word */
	int eod_ambiguous;            /* a victim may have taken one unrecorded */
	int sem_donated, sem_ambiguous;
	int lost_items_allowed;       /* Condition: consumer deaths mid-pop */
	int killed_role[2];           /* Condition: victims per role */
	bool abort_mode;              /* Barrier: abort() rather than timeouts */
	int failures;
};

/* Only one waiter of a lock polls its owner for death (the watcher); the
 * others sleep in slices of the library's backstop, 10 s (MPS_BACKSTOP_NS,
 * lib/sync/deadline.h). A victim that died waiting may have been the watcher:
 * if the holder dies too, recovery takes up to one backstop (design.md §10).
 * Waits use fault_wait_s as their timeout and fault_stall_ms as the bound. */
#define FAULT_BACKSTOP_S 10.0

double fault_wait_s(const struct fault_arena *a);
double fault_stall_ms(struct fault_arena *a);

/* fault_util.c */
int64_t fault_now_ns(void);
double fault_ms_since(int64_t t0);
void fault_sleep_ns(int64_t ns);
void fault_pause_ns(int64_t ns);           /* spin for short, sleep for long */
uint64_t fault_rand(uint64_t *state);      /* xorshift64*; state != 0 */
int64_t fault_rand_delay_ns(uint64_t *state, int64_t max_ns); /* log-uniform from 1 us */
double fault_slack(void);                  /* 1 + MPS_TEST_SLACK */
void fault_set_phase(struct fault_arena *a, int me, enum fault_phase p);
void fault_violation(struct fault_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void fault_fail(struct fault_round *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char fault_proc_state(pid_t pid);          /* from /proc/pid/stat; 0 if unknown */
const char *fault_phase_name(int phase);
const char *fault_code(int code);          /* short name of a result code */
bool fault_verbose(void);
void fault_set_verbose(bool on);

/* fault_round.c */
bool fault_run_round(const struct fault_scenario *sc, int number, uint64_t seed);
void fault_print_table(void);
/* Bounded waits used by the drive hooks. */
bool fault_wait_exit(struct fault_round *r, int idx, int64_t deadline_ns);
bool fault_alive(const struct fault_round *r, int idx);
int fault_survivors(const struct fault_round *r);
/* Lock-death bookkeeping for on_kill: owner is the word's tid now. */
void fault_note_lock_death(struct fault_round *r, int victim, pid_t owner);
/* Parent-side final acquire of a Lock: 0 or EOWNERDEAD is counted. */
void fault_final_lock_check(struct fault_round *r, mps_lock_t *l);

/* Scenarios */
extern const struct fault_scenario fault_lock_scenario, fault_rlock_scenario,
	fault_sem_scenario, fault_event_scenario, fault_cond_scenario,
	fault_barrier_scenario;

/* fault_latency.c: owner-death recovery latency; returns failures. */
int fault_latency(int samples, uint64_t seed);

/* fault_wake.c: a waiter killed right after its wake-up; returns failures,
 * counts the cases run in *passed. */
int fault_wake_tests(int *passed);

#endif
