/* Latency histogram: exact below 64 ns, then 32 buckets per power of two
 * (a value is reported within 1.6% of the truth), up to about 4000 s. The
 * maximum is kept exactly. Plain counters: each worker owns one. */
#include <string.h>

#include "bench.h"

static int bucket_of(uint64_t v)
{
	if (v < 64)
		return (int)v;
	int e = 63 - __builtin_clzll(v);
	int sub = (int)((v >> (e - 5)) & 31);
	int b = 64 + (e - 6) * 32 + sub;
	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

/* The middle of bucket b. */
static double bucket_value(int b)
{
	if (b < 64)
		return b;
	int e = (b - 64) / 32 + 6, sub = (b - 64) % 32;
	double lo = (double)((uint64_t)(32 + sub) << (e - 5));
	return lo + (double)(1ull << (e - 5)) / 2;
}

void hist_clear(struct hist *h)
{
	memset(h, 0, sizeof *h);
}

void hist_add(struct hist *h, int64_t ns)
{
	uint64_t v = ns > 0 ? (uint64_t)ns : 0;
	h->b[bucket_of(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (int i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->n += src->n;
	if (src->max > dst->max)
		dst->max = src->max;
}

double hist_pct(const struct hist *h, double p)
{
	if (h->n == 0)
		return __builtin_nan("");
	uint64_t want = (uint64_t)(p * (double)h->n + 0.999999), seen = 0;
	if (want < 1)
		want = 1;
	for (int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			double v = bucket_value(i);
			return v > (double)h->max ? (double)h->max : v;
		}
	}
	return (double)h->max;
}
