/* fault_inject: SIGKILL children of mpsync at random moments (see fault.h).
 *
 *   fault_inject [--rounds N] [--seed S] [--latency N] [--only NAME] [--no-wake]
 *                [--verbose] [N]
 *
 * Environment: FAULT_ROUNDS, FAULT_SEED, FAULT_LATENCY_SAMPLES, FAULT_VERBOSE,
 * MPS_TEST_SLACK (stretches every time bound). Defaults: 200 rounds spread
 * over Lock, RLock, Semaphore, Event, Condition and Barrier; 40 latency
 * samples; a seed from the clock (printed, so a run's choices can be
 * replayed; the timing of course cannot).
 *
 * Each round, each latency run and each wake-up case is one check; the last
 * line is "N passed, N failed"; the exit status is non-zero on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"

struct options {
	int rounds, latency;
	uint64_t seed;
	bool wake;
	const char *only;   /* run only this scenario */
};

static const struct fault_scenario *const scenarios[] = {
	&fault_lock_scenario, &fault_rlock_scenario, &fault_sem_scenario,
	&fault_event_scenario, &fault_cond_scenario, &fault_barrier_scenario,
};
#define N_SCENARIOS ((int)(sizeof scenarios / sizeof scenarios[0]))

static uint64_t splitmix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

static long env_long(const char *name, long fallback)
{
	const char *s = getenv(name);
	return s && *s ? strtol(s, NULL, 0) : fallback;
}

static void usage(void)
{
	fprintf(stderr, "usage: fault_inject [--rounds N] [--seed S] [--latency N] [--only NAME] "
	                "[--no-wake] [--verbose] [N]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct options *o)
{
	o->rounds = (int)env_long("FAULT_ROUNDS", 200);
	o->latency = (int)env_long("FAULT_LATENCY_SAMPLES", 40);
	const char *seed = getenv("FAULT_SEED");
	o->seed = seed && *seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL);
	o->wake = true;
	o->only = NULL;
	fault_set_verbose(env_long("FAULT_VERBOSE", 0) != 0);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		bool more = i + 1 < argc;
		if (!strcmp(arg, "--rounds") && more)
			o->rounds = atoi(argv[++i]);
		else if (!strcmp(arg, "--seed") && more)
			o->seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(arg, "--latency") && more)
			o->latency = atoi(argv[++i]);
		else if (!strcmp(arg, "--only") && more)
			o->only = argv[++i];
		else if (!strcmp(arg, "--no-wake"))
			o->wake = false;
		else if (!strcmp(arg, "--verbose") || !strcmp(arg, "-v"))
			fault_set_verbose(true);
		else if (arg[0] >= '0' && arg[0] <= '9')
			o->rounds = atoi(arg);
		else
			usage();
	}
	if (o->rounds < 0 || o->latency < 0)
		usage();
}

/* Round i's scenario: round-robin, or the one named by --only. */
static const struct fault_scenario *pick(const struct options *o, int i)
{
	if (!o->only)
		return scenarios[i % N_SCENARIOS];
	for (int k = 0; k < N_SCENARIOS; k++)
		if (!strcmp(scenarios[k]->name, o->only))
			return scenarios[k];
	fprintf(stderr, "fault_inject: no scenario %s (Lock RLock Sem Event Cond Barrier)\n", o->only);
	exit(2);
}

int main(int argc, char **argv)
{
	struct options o;
	parse(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("fault_inject: %d rounds, seed 0x%llx (FAULT_SEED=0x%llx replays the choices)\n",
	       o.rounds, (unsigned long long)o.seed, (unsigned long long)o.seed);
	int passed = 0, failed = 0;
	for (int i = 0; i < o.rounds; i++) {
		const struct fault_scenario *sc = pick(&o, i);
		bool ok = fault_run_round(sc, i, splitmix(o.seed + (uint64_t)i));
		passed += ok;
		failed += !ok;
	}
	fault_print_table();
	if (o.latency > 0) {
		int f = fault_latency(o.latency, splitmix(o.seed ^ 0x1a7e));
		passed += f == 0;
		failed += f != 0;
	}
	if (o.wake)
		failed += fault_wake_tests(&passed);
	printf("\n%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
