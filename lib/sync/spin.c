#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "spin.h"

#define SPIN_NS 1500
#define CALIBRATE_NS 200000

static pthread_once_t budget_once = PTHREAD_ONCE_INIT;
static uint64_t budget;
static unsigned cpus;

static unsigned count_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 2;
	return (unsigned)CPU_COUNT(&set);
}

/* Units of mps_spin_now() per SPIN_NS, from a short busy interval. */
static uint64_t calibrate(void)
{
#ifdef MPS_ARCH_NO_CYCLES
	return SPIN_NS;
#else
	int64_t t0 = mps_monotonic_ns(), t1;
	uint64_t c0 = a_cycles(), c1;
	do {
		t1 = mps_monotonic_ns();
		c1 = a_cycles();
	} while (t1 - t0 < CALIBRATE_NS);
	uint64_t units = (c1 - c0) * SPIN_NS / (uint64_t)(t1 - t0);
	return units ? units : 1;
#endif
}

static void compute_budget(void)
{
	int saved = errno;     /* no public call changes errno (SPEC §2) */
	cpus = count_cpus();
	budget = cpus > 1 ? calibrate() : 0;
	errno = saved;
}

uint64_t mps_spin_budget(void)
{
	pthread_once(&budget_once, compute_budget);
	return budget;
}

unsigned mps_usable_cpus(void)
{
	pthread_once(&budget_once, compute_budget);
	return cpus;
}
