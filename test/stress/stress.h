/* Shared scaffolding of the stress executables: options, clock, threads,
 * violation counting and the closing "N passed, N failed" line.
 *
 * Plain C11 + pthreads (no Criterion), so the executables run under
 * ThreadSanitizer and under qemu-user when cross-built.
 *
 * A stress program runs a few timed phases. Worker threads report broken
 * invariants with stress_violation(); each phase ends with one
 * stress_expect() that counts as one passed or failed check. Every blocking
 * call in a worker is bounded by stress_hang_timeout(), so a bug fails the
 * run instead of hanging it, and a watchdog ends a run that hangs anyway. */
#ifndef MPS_STRESS_H
#define MPS_STRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STRESS_MAX_THREADS 32

struct stress_config {
	double seconds;   /* whole run; phases split it */
	int threads;      /* worker threads, 3..STRESS_MAX_THREADS */
};

/* Reads --seconds S and --threads N, else MPS_STRESS_SECONDS and
 * MPS_STRESS_THREADS, else 2 s and 8 threads; starts the watchdog. */
void stress_setup(int argc, char **argv, const char *name, struct stress_config *cfg);

double stress_now(void);              /* CLOCK_MONOTONIC seconds */
void stress_sleep(double seconds);
/* The timeout of a wait that must not run out: running out is a bug. */
double stress_hang_timeout(void);
/* A wait started at `started` took nearly the whole hang timeout: even if it
 * returned 0 (a permit or a set found at the deadline), a wake-up was lost. */
bool stress_overdue(double started);
pid_t stress_tid(void);
uint32_t stress_rand(uint32_t *state);   /* xorshift32; state must not be 0 */

/* Runs fn(base + i * size) in n threads and joins them. */
void stress_run(int n, void *(*fn)(void *), void *base, size_t size);

/* Polls until *counter >= target or timeout; returns whether it got there. */
bool stress_await(atomic_uint *counter, unsigned target, double timeout);

/* True when thread tid is blocked in futex(2) on word (from
 * /proc/self/task/tid/syscall). False when it is not, or when the system
 * does not say (stress_blocked_supported() then turns false). */
bool stress_blocked_on(pid_t tid, const void *word);
bool stress_blocked_supported(void);

/* Records a broken invariant (thread-safe; the first few are printed). */
void stress_violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Violations since the last call, and resets the count. */
unsigned stress_take_violations(void);

/* One check: prints "PASS what" or "FAIL what" and counts it. */
bool stress_expect(bool ok, const char *what, ...) __attribute__((format(printf, 2, 3)));
void stress_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "N passed, N failed" and returns the exit status. */
int stress_finish(void);

#endif
