/* Time and busy work. Every timestamp is CLOCK_MONOTONIC (vDSO, about 26 ns
 * on the reference VM), comparable across the processes of one machine. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static double iters_per_ns = 1.0;

int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void sleep_ns(int64_t ns)
{
	struct timespec ts = { ns / 1000000000LL, ns % 1000000000LL };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Lives in its own file so the compiler cannot fold it into a caller. */
void burn(uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		__asm__ __volatile__("" ::: "memory");
}

/* The fastest of many short runs: noise (preemption, a host that steals the
 * vCPU) only ever makes a run slower. */
void burn_calibrate(void)
{
	const uint64_t n = 500000;
	int64_t best = INT64_MAX;
	for (int i = 0; i < 40; i++) {
		int64_t t0 = now_ns();
		burn(n);
		int64_t dt = now_ns() - t0;
		if (dt < best)
			best = dt;
	}
	iters_per_ns = best > 0 ? (double)n / (double)best : 1.0;
}

double burn_rate(void)
{
	return iters_per_ns;
}

uint64_t burn_iters(double ns)
{
	return ns > 0 ? (uint64_t)(ns * iters_per_ns + 0.5) : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* NaNs are ignored; all-NaN gives NaN. */
double median(const double *v, int n)
{
	double s[64];
	int k = 0;
	for (int i = 0; i < n && k < 64; i++)
		if (v[i] == v[i])
			s[k++] = v[i];
	if (k == 0)
		return __builtin_nan("");
	qsort(s, (size_t)k, sizeof s[0], cmp_double);
	return k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
}
