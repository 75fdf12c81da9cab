/* Test harness: run the same role function in workers of three flavours.
 *
 *   MPS_THREADS  threads of this process, over the area's mapping
 *   MPS_FORK     forked children (same addresses as the parent)
 *   MPS_SPAWN    this test binary started again with posix_spawn; it attaches
 *                to the area's POSIX shm segment by name and maps it at a
 *                different address (checked: the view address is recorded)
 *
 * Roles report through their return value (0 = pass) and through the area;
 * only the parent asserts. Every wait in a role is bounded. */
#ifndef MPS_TEST_HARNESS_H
#define MPS_TEST_HARNESS_H

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <mpsync.h>
#include <stdint.h>
#include <sys/types.h>

enum mps_flavour { MPS_THREADS, MPS_FORK, MPS_SPAWN };

#define MPS_MAX_WORKERS 64

/* Everything a scenario shares. Zero-filled at creation, so Lock, RLock,
 * Event and Condition are ready; Semaphore and Barrier need their init. */
struct mps_area {
	mps_lock_t lock, lock2;
	mps_rlock_t rlock;
	mps_sem_t sem;
	mps_event_t event, go, done;
	mps_cond_t cond;
	mps_barrier_t barrier, barrier2;
	uint32_t counter[16];          /* use with the mps_count_* helpers */
	int64_t value[64];             /* scenario data */
	int32_t result[MPS_MAX_WORKERS];
	double elapsed[MPS_MAX_WORKERS];
	uintptr_t view[MPS_MAX_WORKERS];  /* where each worker mapped the area */
	int32_t pid[MPS_MAX_WORKERS];
	int64_t arg;                   /* scenario parameter */
	char segname[80];              /* a free mpsync segment name for this test */
};

typedef int (*mps_role_fn)(struct mps_area *area, int index);

struct mps_workers {
	enum mps_flavour flavour;
	int n, first_index;
	struct mps_area *area;
	pid_t pids[MPS_MAX_WORKERS];
	void *threads[MPS_MAX_WORKERS];
};

/* A fresh zero-filled area in a uniquely named shm segment. A test that
 * fails before mps_area_destroy leaves the segment to the harness, which
 * unlinks it when the test's process exits. */
struct mps_area *mps_area_create(void);
void mps_area_destroy(struct mps_area *area);

/* Starts n workers running role(area, first_index + i). */
void mps_workers_start(struct mps_workers *w, enum mps_flavour f, struct mps_area *area,
                       mps_role_fn role, int n, int first_index);
/* Waits up to timeout seconds; kills stragglers. Returns how many workers
 * failed (non-zero result, crash, or still running). */
int mps_workers_join(struct mps_workers *w, double timeout);
/* Sends sig to every process worker (threads: not supported, returns -1). */
int mps_workers_kill(struct mps_workers *w, int sig);
/* As mps_workers_join; when the number failed differs from expected, it also
 * logs each worker's result (naming the line of a failed MPS_CHECK), so that
 * the caller's assert on the returned count says which check went wrong. */
int mps_workers_join_report(struct mps_workers *w, int expected, double timeout,
                            const char *what);
/* Whether worker index has returned: mps_workers_start sets its result to -1. */
bool mps_worker_done(const struct mps_area *area, int index);

/* A role's check: on failure the role returns (line << 8) | 1, so that a
 * process worker's exit status is never 0 and the parent can name the line. */
#define MPS_CHECK(cond) do { if (!(cond)) return (__LINE__ << 8) | 1; } while (0)

/* Shared counters that work across processes. */
uint32_t mps_count_add(uint32_t *c, uint32_t n);   /* returns the new value */
uint32_t mps_count_get(const uint32_t *c);
/* Polls until *c >= target or timeout seconds; returns whether reached. */
bool mps_count_await(const uint32_t *c, uint32_t target, double timeout);
/* Zeroes all of area->counter; only between batches, when no worker runs. */
void mps_count_reset(struct mps_area *area);

/* The scheduler state letter of a thread or process from /proc/<tid>/stat
 * ('S' asleep, 'T' stopped, 'Z' zombie), 0 once it is gone: how a test
 * knows that another party blocks, instead of sleeping on a guess.
 * /proc/<tid> reaches threads that are not group leaders too. */
char mps_task_state(pid_t tid);
/* Polls until mps_task_state(tid) is one of states, in which '-' stands for
 * "gone"; returns whether that happened within timeout seconds. */
bool mps_await_task_state(pid_t tid, const char *states, double timeout);

double mps_now(void);                 /* CLOCK_MONOTONIC seconds */
void mps_sleep(double seconds);       /* only to let time pass, never for ordering */
double mps_slack(void);               /* upper timing slack: larger under sanitizers */
double mps_quick(void);               /* "immediately": 50 ms, or mps_slack() if larger */

/* The three flavours as Criterion parameters:
 *   MPS_FLAVOURS(suite, name)
 *   ParameterizedTest(enum mps_flavour *f, suite, name) { ... *f ... } */
#define MPS_FLAVOURS(suite, name) \
	ParameterizedTestParameters(suite, name) { \
		static enum mps_flavour flavours[] = { MPS_THREADS, MPS_FORK, MPS_SPAWN }; \
		return cr_make_param_array(enum mps_flavour, flavours, 3); \
	}

/* Only the process flavours, for what threads cannot do (be killed, stay
 * unreaped as a zombie). */
#define MPS_PROCESS_FLAVOURS(suite, name) \
	ParameterizedTestParameters(suite, name) { \
		static enum mps_flavour flavours[] = { MPS_FORK, MPS_SPAWN }; \
		return cr_make_param_array(enum mps_flavour, flavours, 2); \
	}

const char *mps_flavour_name(enum mps_flavour f);

#endif
