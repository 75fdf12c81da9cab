/* Owner death (SPEC §5) for the lock-like primitives, written once for the
 * Lock and the RLock suites: a holder that dies (a thread returns holding,
 * a process _exits or is SIGKILLed and left unreaped as a zombie) makes the
 * next acquirer get EOWNERDEAD holding the lock, and a waiter already asleep
 * notices within OD_DEATH_BOUND.
 *
 * A suite describes its primitive with a struct od_ops. Roles cannot take
 * that struct as an argument (a spawned worker gets only the area and its
 * index), so each suite defines one-line roles that pass its ops to od_hold,
 * od_hold_exit and od_wait_for_death, and names them in the struct.
 *
 * Area use, shared with the rest of both suites: counter[0] holders ready,
 * counter[1] waiters ready, value[OD_TID + i] worker i's kernel tid,
 * value[OD_RC + i] a result code it got, elapsed[i] the CLOCK_MONOTONIC time
 * a waiter returned. Also here: the small helpers both suites use around
 * their scenarios. */
#ifndef MPS_TEST_OWNER_DEATH_H
#define MPS_TEST_OWNER_DEATH_H

#include "harness.h"

enum { OD_TID = 16, OD_RC = 32 };      /* value[] slots, see above */
#define OD_SETTLE      10.0            /* bound for a party to get ready */
#define OD_DEATH_BOUND 1.0             /* owner death noticed within this */

/* One lock-like primitive in the area (a->lock or a->rlock). */
struct od_ops {
	const char *name;        /* "lock", "rlock": heads the log lines */
	unsigned depth;          /* how deep a holder takes it before it dies */
	int (*acquire)(struct mps_area *a, double timeout);
	int (*release)(struct mps_area *a);
	bool (*locked)(struct mps_area *a);
	pid_t (*owner)(struct mps_area *a);
	/* The calling thread's view: whether it owns it and how deep. A Lock
	 * has no depth: owned means its owner is this thread, at depth 1. */
	bool (*is_owned)(struct mps_area *a);
	unsigned (*count)(struct mps_area *a);
	/* The suite's roles around od_hold, od_hold_exit, od_wait_for_death. */
	mps_role_fn hold, hold_exit, wait_for_death;
};

/* Roles. Takes it ops->depth deep, records its tid, counts itself ready on
 * counter[0], then waits for `done` and returns WITHOUT releasing. */
int od_hold(const struct od_ops *ops, struct mps_area *a, int i);
/* As od_hold, but returns (exits holding) as soon as it is ready. */
int od_hold_exit(const struct od_ops *ops, struct mps_area *a, int i);
/* Counts itself ready on counter[1] and blocks on the held lock; records its
 * result and the time it returned; on success checks depth 1 and releases. */
int od_wait_for_death(const struct od_ops *ops, struct mps_area *a, int i);

/* The scenarios, two rounds each, on a fresh area. */
void od_owner_exits_holding(const struct od_ops *ops, enum mps_flavour f);
void od_owner_killed_zombie(const struct od_ops *ops, enum mps_flavour f);  /* processes */
void od_sleeping_waiter_gets_ownerdead(const struct od_ops *ops, enum mps_flavour f);

/* Helpers both suites share. */
/* Clears the counters and `done` between rounds (no worker runs). */
void od_reset(struct mps_area *a);
/* od_reset, then starts role in worker 0 and waits until it counts itself
 * ready on counter[0]; returns the tid it recorded. */
pid_t od_start_one(struct mps_workers *w, enum mps_flavour f, struct mps_area *a,
                   mps_role_fn role);
/* Starts role in n workers from index first, waits until all n counted
 * themselves on *ready, then until each sleeps (by its value[OD_TID + i]). */
void od_start_asleep(struct mps_workers *w, enum mps_flavour f, struct mps_area *a,
                     mps_role_fn role, int n, int first, uint32_t *ready);
/* Waits until tid sleeps in the kernel: after its "ready" signal the only
 * place a role can sleep is the futex wait of the call under test. */
void od_await_asleep(pid_t tid);
/* Waits until a holder is dead: a process must be a zombie (nobody has
 * reaped it), a thread gone. */
void od_await_dead(enum mps_flavour f, pid_t tid);
/* Joins w and asserts that exactly `failures` workers failed. */
void od_join_expect(struct mps_workers *w, int failures, const char *what);

#endif
