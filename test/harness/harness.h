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
};

typedef int (*mps_role_fn)(struct mps_area *area, int index);

struct mps_workers {
	enum mps_flavour flavour;
	int n, first_index;
	struct mps_area *area;
	pid_t pids[MPS_MAX_WORKERS];
	void *threads[MPS_MAX_WORKERS];
};

/* A fresh zero-filled area in a uniquely named shm segment. */
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

/* Shared counters that work across processes. */
uint32_t mps_count_add(uint32_t *c, uint32_t n);   /* returns the new value */
uint32_t mps_count_get(const uint32_t *c);
/* Polls until *c >= target or timeout seconds; returns whether reached. */
bool mps_count_await(const uint32_t *c, uint32_t target, double timeout);

double mps_now(void);                 /* CLOCK_MONOTONIC seconds */
void mps_sleep(double seconds);       /* only to let time pass, never for ordering */
double mps_slack(void);               /* upper timing slack: larger under sanitizers */

/* The three flavours as Criterion parameters:
 *   MPS_FLAVOURS(suite, name)
 *   ParameterizedTest(enum mps_flavour *f, suite, name) { ... *f ... } */
#define MPS_FLAVOURS(suite, name) \
	ParameterizedTestParameters(suite, name) { \
		static enum mps_flavour flavours[] = { MPS_THREADS, MPS_FORK, MPS_SPAWN }; \
		return cr_make_param_array(enum mps_flavour, flavours, 3); \
	}

const char *mps_flavour_name(enum mps_flavour f);

#endif
