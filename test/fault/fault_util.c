/* Clock, randomness, phases and failure reporting for the fault suite. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"

static bool verbose;

int64_t fault_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double fault_ms_since(int64_t t0)
{
	return (double)(fault_now_ns() - t0) / 1e6;
}

void fault_sleep_ns(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

void fault_pause_ns(int64_t ns)
{
	if (ns >= 100000) {
		fault_sleep_ns(ns);
		return;
	}
	int64_t end = fault_now_ns() + ns;
	while (fault_now_ns() < end) {
	}
}

uint64_t fault_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* 1 us << k plus jitter: every scale from microseconds to max_ns is as likely. */
int64_t fault_rand_delay_ns(uint64_t *state, int64_t max_ns)
{
	int scales = 0;
	while ((1000LL << (scales + 1)) <= max_ns)
		scales++;
	int64_t base = 1000LL << (fault_rand(state) % (uint64_t)(scales + 1));
	return base + (int64_t)(fault_rand(state) % (uint64_t)base);
}

double fault_slack(void)
{
	const char *s = getenv("MPS_TEST_SLACK");
	double slack = s ? atof(s) : 0;
	return 1.0 + (slack > 0 ? slack : 0);
}

void fault_set_phase(struct fault_arena *a, int me, enum fault_phase p)
{
	atomic_store(&a->child[me].phase, (int)p);
}

void fault_violation(struct fault_arena *a, const char *fmt, ...)
{
	atomic_fetch_add(&a->violations, 1);
	int expected = 0;
	if (!atomic_compare_exchange_strong(&a->msg_taken, &expected, 1))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->msg, sizeof a->msg, fmt, ap);
	va_end(ap);
}

void fault_fail(struct fault_round *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	printf("FAIL round %d (%s, seed 0x%llx): %s\n", r->number, r->sc->name,
	       (unsigned long long)r->a->seed, msg);
	fflush(stdout);
	r->failures++;
}

/* The state letter after the last ')' of /proc/pid/stat. */
char fault_proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *paren = strrchr(buf, ')');
	return (paren && paren[1] == ' ') ? paren[2] : 0;
}

static const char *const phase_names[PH_COUNT] = {
	[PH_OUTSIDE] = "outside",
	[PH_ACQUIRING] = "acquiring",
	[PH_HOLDING] = "holding",
	[PH_RELEASING] = "releasing",
	[PH_COND_WAIT] = "in cond wait",
	[PH_EVENT_WAIT] = "in event wait",
	[PH_SETTING] = "setting/clearing",
	[PH_BARRIER_WAIT] = "arrived, not returned",
	[PH_BARRIER_ACTION] = "running barrier action",
	[PH_AFTER_RETURN] = "after wait returned",
	[PH_RESYNC] = "broken, awaiting reset",
};

const char *fault_phase_name(int phase)
{
	return phase >= 0 && phase < PH_COUNT ? phase_names[phase] : "?";
}

const char *fault_code(int code)
{
	switch (code) {
	case 0: return "0";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EOWNERDEAD: return "EOWNERDEAD";
	case EPERM: return "EPERM";
	case EINVAL: return "EINVAL";
	case EINTR: return "EINTR";
	case EOVERFLOW: return "EOVERFLOW";
	case MPS_EBROKEN: return "MPS_EBROKEN";
	default: return mps_strerror(code);
	}
}

bool fault_verbose(void)
{
	return verbose;
}

void fault_set_verbose(bool on)
{
	verbose = on;
}

double fault_wait_s(const struct fault_arena *a)
{
	return a->hang + FAULT_BACKSTOP_S;
}

double fault_stall_ms(struct fault_arena *a)
{
	return a->hang * 500 + (atomic_load(&a->watcher_lost) ? FAULT_BACKSTOP_S * 1000 : 0);
}
