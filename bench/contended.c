/* Contended throughput: n workers (1..2 x ncpu) hammer one lock in the
 * shared arena for --duration seconds. Per repetition: acquisitions per
 * second (all workers, over max end - min start), fairness (each worker's
 * share of the acquisitions relative to the mean: min and max), and the
 * acquire latency (one acquisition in SAMPLE_EVERY timed: p50/p99/max).
 *
 * Shapes: short = the critical section increments one shared counter and
 * the worker comes straight back; long = about 1 us of work inside and 1 us
 * outside the lock. The shared counter doubles as a mutual-exclusion check.
 * The CSV also gets the workers' CPU time per acquisition (spinning shows
 * there, and it is immune to other jobs holding the CPU). */
#include <math.h>
#include <string.h>

#include "bench.h"

struct shape {
	const char *scenario;
	double cs_ns, out_ns;
	const struct lock_impl *impl[3];
	int nimpl;
	bool full_only;
};

static const struct shape shapes[] = {
	{ "contended/lock-short", 0, 0, { &lock_mpsync, &lock_pthread, &lock_futex3 }, 3, false },
	{ "contended/lock-long", 1000, 1000, { &lock_mpsync, &lock_pthread, &lock_futex3 }, 3, false },
	{ "contended/sem-short", 0, 0, { &lock_sem_mpsync, &lock_sem_t }, 2, true },
};

#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* The implementation under test; inherited by forked workers. */
static const struct lock_impl *cur;

struct rep {
	double tput, p50, p99, max, min_share, max_share, futex, cpu, busy;
	bool broken;
};

static void timed_lock(void *obj, struct hist *h)
{
	int64_t t0 = now_ns();
	cur->lock(obj);
	hist_add(h, now_ns() - t0);
}

static void worker(struct arena *a, int idx)
{
	struct wstat *w = &a->w[idx];
	void *obj = a->obj;
	uint64_t cs = a->p.cs_iters, out = a->p.out_iters, n = 0;
	uint64_t f0 = cur->futex_calls ? cur->futex_calls() : 0;
	worker_ready(a, idx);
	while (!worker_stop(a)) {
		if (n % SAMPLE_EVERY == 0)
			timed_lock(obj, &w->hist);
		else
			cur->lock(obj);
		a->data[0]++;
		if (cs)
			burn(cs);
		cur->unlock(obj);
		if (out)
			burn(out);
		n++;
	}
	worker_done(a, idx);
	w->count = n;
	w->futex = cur->futex_calls ? cur->futex_calls() - f0 : 0;
}

/* busy: the share of the CPUs the workers could use (min(n, ncpu)) that
 * they did use. Well below 1, other jobs held the CPUs and the run measured
 * the scheduler more than the lock. */
static void summarise(const struct arena *a, int n, int ncpu, struct rep *r)
{
	struct hist h;
	uint64_t total = 0, lo = UINT64_MAX, hi = 0, futex = 0;
	hist_clear(&h);
	for (int i = 0; i < n; i++) {
		uint64_t c = a->w[i].count;
		total += c;
		futex += a->w[i].futex;
		lo = c < lo ? c : lo;
		hi = c > hi ? c : hi;
		hist_merge(&h, &a->w[i].hist);
	}
	double mean = (double)total / n;
	r->tput = (double)total * 1e9 / (double)team_elapsed(a, n);
	r->min_share = mean > 0 ? (double)lo / mean : NAN;
	r->max_share = mean > 0 ? (double)hi / mean : NAN;
	r->p50 = hist_pct(&h, 0.50);
	r->p99 = hist_pct(&h, 0.99);
	r->max = (double)h.max;
	r->futex = cur->futex_calls && total ? (double)futex / (double)total : NAN;
	r->cpu = total ? (double)team_cpu(a, 0, n) / (double)total : NAN;
	r->busy = (double)team_cpu(a, 0, n) / ((double)team_elapsed(a, n) * (n < ncpu ? n : ncpu));
	r->broken = a->data[0] != total;
}

static void run_once(const struct shape *s, const struct lock_impl *li, enum mode m,
                     int n, int ncpu, double duration, struct rep *r)
{
	struct arena *a = arena_new();
	cur = li;
	li->init(a->obj);
	a->p.cs_iters = burn_iters(s->cs_ns);
	a->p.out_iters = burn_iters(s->out_ns);
	int failed = team_run(a, m, n, worker, duration);
	summarise(a, n, ncpu, r);
	r->broken |= failed != 0;
	li->destroy(a->obj);
	arena_free(a);
}

static void record(const struct shape *s, int k, enum mode m, int n, const struct rep *r, int reps)
{
	const struct lock_impl *li = s->impl[k];
	struct result res;
	double v[9][64];
	bool broken = false;
	for (int i = 0; i < reps; i++) {
		v[0][i] = r[i].tput;
		v[1][i] = r[i].p50;
		v[2][i] = r[i].p99;
		v[3][i] = r[i].max;
		v[4][i] = r[i].min_share;
		v[5][i] = r[i].max_share;
		v[6][i] = r[i].futex;
		v[7][i] = r[i].cpu;
		v[8][i] = r[i].busy;
		broken |= r[i].broken;
	}
	result_init(&res, s->scenario, m, n, li->name, li->role, UNIT_RATE, HIGHER_BETTER);
	result_set_reps(&res, v[0], reps);
	res.p50 = median(v[1], reps);
	res.p99 = median(v[2], reps);
	res.max = median(v[3], reps);
	res.min_share = median(v[4], reps);
	res.max_share = median(v[5], reps);
	res.futex_op = median(v[6], reps);
	res.cpu_ns = median(v[7], reps);
	res.busy = median(v[8], reps);
	if (li->futex_calls)
		snprintf(res.method, sizeof res.method, "%s",
		         li->role == ROLE_MPS ? "mps_debug_futex_calls" : "self-count");
	if (broken)
		snprintf(res.note, sizeof res.note, "MUTUAL EXCLUSION CHECK FAILED or worker died");
	results_add(&res);
}

static void run_point(const struct opts *o, const struct shape *s, enum mode m, int n)
{
	static struct rep reps[3][64];
	int nrep = o->reps > 64 ? 64 : o->reps;
	double warm = o->duration / 4 > 0.01 ? o->duration / 4 : 0.01;
	for (int k = 0; k < s->nimpl; k++)
		run_once(s, s->impl[k], m, n, o->ncpu, warm, &reps[k][0]);
	for (int r = 0; r < nrep; r++) {
		progress("%s %s n=%d  rep %d/%d", s->scenario, mode_name(m), n, r + 1, nrep);
		for (int j = 0; j < s->nimpl; j++) {
			int k = (j + r) % s->nimpl;
			run_once(s, s->impl[k], m, n, o->ncpu, o->duration, &reps[k][r]);
		}
	}
	for (int k = 0; k < s->nimpl; k++)
		record(s, k, m, n, reps[k], nrep);
}

/* 1..2 x ncpu; --quick keeps 1, ncpu and 2 x ncpu. */
static int worker_counts(const struct opts *o, int *out)
{
	int k = 0, top = 2 * o->ncpu;
	for (int n = 1; n <= top && n <= MAX_WORKERS; n++)
		if (o->full || n == 1 || n == o->ncpu || n == top)
			out[k++] = n;
	return k;
}

void run_contended(const struct opts *o)
{
	enum mode modes[2];
	int counts[MAX_WORKERS], nm = mode_count(o, modes), nc = worker_counts(o, counts);
	for (int i = 0; i < NSHAPES; i++) {
		const struct shape *s = &shapes[i];
		if (!want(o, s->scenario) || (s->full_only && !o->full && !o->only))
			continue;
		for (int mi = 0; mi < nm; mi++)
			for (int c = 0; c < nc; c++)
				run_point(o, s, modes[mi], counts[c]);
	}
}
