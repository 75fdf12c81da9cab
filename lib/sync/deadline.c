#include "deadline.h"

#define NS_PER_S 1000000000LL

/* Beyond this (31 years) a wait is as good as forever, and deadlines in
 * nanoseconds stay far from the int64_t limit (9.2e18). */
#define MAX_TIMEOUT_S 1e9

int64_t mps_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static struct timespec to_timespec(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / NS_PER_S, .tv_nsec = ns % NS_PER_S };
	return ts;
}

void mps_deadline_init(struct mps_deadline *d, double timeout)
{
	if (!(timeout > 0)) {
		d->kind = MPS_DEADLINE_POLL;
		return;
	}
	if (timeout >= MAX_TIMEOUT_S) {
		d->kind = MPS_DEADLINE_NEVER;
		return;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double whole = (double)(int64_t)timeout;
	int64_t sec = (int64_t)whole;
	int64_t nsec = now.tv_nsec + (int64_t)((timeout - whole) * NS_PER_S);
	d->kind = MPS_DEADLINE_AT;
	d->at.tv_sec = now.tv_sec + sec + nsec / NS_PER_S;
	d->at.tv_nsec = nsec % NS_PER_S;
}

static int64_t deadline_ns(const struct mps_deadline *d)
{
	return (int64_t)d->at.tv_sec * NS_PER_S + d->at.tv_nsec;
}

bool mps_deadline_passed(const struct mps_deadline *d)
{
	if (d->kind == MPS_DEADLINE_POLL)
		return true;
	if (d->kind == MPS_DEADLINE_NEVER)
		return false;
	return mps_monotonic_ns() >= deadline_ns(d);
}

void mps_deadline_slice(const struct mps_deadline *d, int64_t ns, struct mps_deadline *slice)
{
	*slice = *d;
	if (d->kind == MPS_DEADLINE_POLL)
		return;
	int64_t end = mps_monotonic_ns() + ns;
	if (d->kind == MPS_DEADLINE_AT && deadline_ns(d) <= end)
		return;
	slice->kind = MPS_DEADLINE_AT;
	slice->at = to_timespec(end);
}
