#include "stress.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PRINTED_VIOLATIONS 10

static atomic_uint violations;
static atomic_uint violations_total;
static atomic_uint passed, failed;
static atomic_bool blocked_unsupported;
static double watchdog_after;
static const char *program = "stress";

double stress_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void stress_sleep(double seconds)
{
	struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

double stress_hang_timeout(void)
{
	const char *s = getenv("MPS_TEST_SLACK");
	double slack = s ? atof(s) : 0.25;
	return 10.0 * (1.0 + (slack > 0 ? slack : 0));
}

bool stress_overdue(double started)
{
	return stress_now() - started > 0.9 * stress_hang_timeout();
}

pid_t stress_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

uint32_t stress_rand(uint32_t *state)
{
	uint32_t x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

void stress_run(int n, void *(*fn)(void *), void *base, size_t size)
{
	pthread_t threads[STRESS_MAX_THREADS];
	for (int i = 0; i < n; i++) {
		if (pthread_create(&threads[i], NULL, fn, (char *)base + (size_t)i * size) != 0) {
			fprintf(stderr, "%s: pthread_create failed\n", program);
			exit(2);
		}
	}
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
}

bool stress_await(atomic_uint *counter, unsigned target, double timeout)
{
	double end = stress_now() + timeout;
	while (atomic_load(counter) < target) {
		if (stress_now() > end)
			return false;
		stress_sleep(50e-6);
	}
	return true;
}

/* Reads /proc/self/task/<tid>/syscall: "nr arg0 ..." while blocked in a
 * syscall, "running" or "-1 ..." otherwise. */
static bool read_syscall(pid_t tid, long *nr, unsigned long long *arg0)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	if (strncmp(buf, "running", 7) == 0) {
		*nr = -1;
		return true;
	}
	return sscanf(buf, "%ld %llx", nr, arg0) >= 1;
}

bool stress_blocked_on(pid_t tid, const void *word)
{
	long nr;
	unsigned long long addr = 0;
	if (tid <= 0 || !stress_blocked_supported() || !read_syscall(tid, &nr, &addr))
		return false;
	return nr == SYS_futex && addr == (unsigned long long)(uintptr_t)word;
}

bool stress_blocked_supported(void)
{
	return !atomic_load(&blocked_unsupported);
}

void stress_violation(const char *fmt, ...)
{
	unsigned n = atomic_fetch_add(&violations, 1);
	atomic_fetch_add(&violations_total, 1);
	if (n >= PRINTED_VIOLATIONS)
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: violation: %s\n", program, msg);
}

unsigned stress_take_violations(void)
{
	return atomic_exchange(&violations, 0);
}

bool stress_expect(bool ok, const char *what, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, what);
	vsnprintf(msg, sizeof msg, what, ap);
	va_end(ap);
	atomic_fetch_add(ok ? &passed : &failed, 1);
	printf("%s %s: %s\n", ok ? "PASS" : "FAIL", program, msg);
	fflush(stdout);
	return ok;
}

void stress_note(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	printf("     %s: %s\n", program, msg);
	fflush(stdout);
}

int stress_finish(void)
{
	unsigned p = atomic_load(&passed), f = atomic_load(&failed);
	if (atomic_load(&violations_total) && !f)
		f = 1;   /* a violation outside any phase check still fails the run */
	printf("%u passed, %u failed\n", p, f);
	fflush(stdout);
	return f ? 1 : 0;
}

static void *watchdog(void *arg)
{
	(void)arg;
	stress_sleep(watchdog_after);
	fprintf(stderr, "%s: watchdog: still running after %.0f s, a wait is stuck\n",
	        program, watchdog_after);
	printf("%u passed, %u failed\n", atomic_load(&passed), atomic_load(&failed) + 1);
	fflush(stdout);
	_exit(1);
}

static void start_watchdog(double seconds)
{
	pthread_t t;
	watchdog_after = seconds;
	if (pthread_create(&t, NULL, watchdog, NULL) == 0)
		pthread_detach(t);
}

static void usage(void)
{
	fprintf(stderr, "usage: %s [--seconds S] [--threads N]\n"
	        "  environment: MPS_STRESS_SECONDS, MPS_STRESS_THREADS, MPS_TEST_SLACK\n",
	        program);
	exit(2);
}

static double env_number(const char *name, double fallback)
{
	const char *s = getenv(name);
	return s && *s ? atof(s) : fallback;
}

void stress_setup(int argc, char **argv, const char *name, struct stress_config *cfg)
{
	program = name;
	cfg->seconds = env_number("MPS_STRESS_SECONDS", 2.0);
	cfg->threads = (int)env_number("MPS_STRESS_THREADS", 8);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			cfg->seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			cfg->threads = atoi(argv[++i]);
		else
			usage();
	}
	if (!(cfg->seconds > 0) || cfg->threads < 3 || cfg->threads > STRESS_MAX_THREADS)
		usage();
	printf("     %s: %d threads, %.2f s\n", program, cfg->threads, cfg->seconds);
	fflush(stdout);
	long nr;
	unsigned long long arg0;
	if (!read_syscall(stress_tid(), &nr, &arg0))
		atomic_store(&blocked_unsupported, true);
	start_watchdog(cfg->seconds + 4 * stress_hang_timeout() + 30);
}
