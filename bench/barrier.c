/* Barrier: p parties (2..ncpu; --full also up to 2 x ncpu) pass one barrier
 * in a loop. Passes per second = passes / (max end - min start). The pass
 * count is fixed per run (parties must agree on it), calibrated by the
 * warm-up run to last about --duration. */
#include <pthread.h>
#include <string.h>

#include <mpsync.h>
#include "bench.h"

#define WARM_PASSES 300

struct bar {
	_Alignas(64) mps_barrier_t b;
	_Alignas(64) pthread_barrier_t pb;
};

struct bar_impl {
	const char *name;
	enum role role;
	int (*pass)(struct bar *b);     /* 0 on success */
	uint64_t (*futex_calls)(void);
};

static int mps_pass(struct bar *b)
{
	return mps_barrier_wait(&b->b, MPS_FOREVER, NULL);
}

static int pth_pass(struct bar *b)
{
	int r = pthread_barrier_wait(&b->pb);
	return r == PTHREAD_BARRIER_SERIAL_THREAD ? 0 : r;
}

static const struct bar_impl impls[] = {
	{ "mpsync", ROLE_MPS, mps_pass, mps_calls },
	{ "pthread", ROLE_REF, pth_pass, NULL },
};

static const struct bar_impl *cur;

static void worker(struct arena *a, int idx)
{
	struct bar *b = (struct bar *)a->obj;
	uint64_t f0 = cur->futex_calls ? cur->futex_calls() : 0;
	worker_ready(a, idx);
	for (long i = 0; i < a->p.rounds; i++) {
		int err = cur->pass(b);
		if (err) {
			worker_error(a, idx, err);
			break;
		}
	}
	worker_done(a, idx);
	a->w[idx].futex = cur->futex_calls ? cur->futex_calls() - f0 : 0;
}

struct rep {
	double rate, futex;
	bool failed;
};

static void run_once(const struct bar_impl *im, enum mode m, int parties, long passes,
                     struct rep *r)
{
	struct arena *a = arena_new();
	struct bar *b = (struct bar *)a->obj;
	pthread_barrierattr_t at;
	pthread_barrierattr_init(&at);
	pthread_barrierattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&b->pb, &at, (unsigned)parties);
	pthread_barrierattr_destroy(&at);
	mps_barrier_init(&b->b, (unsigned)parties, MPS_FOREVER);
	cur = im;
	a->p.rounds = passes;
	r->failed = team_run(a, m, parties, worker, 0) != 0 || team_error(a, parties);
	r->rate = (double)passes * 1e9 / (double)team_elapsed(a, parties);
	uint64_t f = 0;
	for (int i = 0; i < parties; i++)
		f += a->w[i].futex;
	r->futex = im->futex_calls ? (double)f / ((double)passes * parties) : __builtin_nan("");
	pthread_barrier_destroy(&b->pb);
	arena_free(a);
}

static long calibrate(const struct bar_impl *im, enum mode m, int parties, double duration)
{
	struct rep r;
	run_once(im, m, parties, WARM_PASSES, &r);
	double want = duration * r.rate;
	if (want < 100)
		return 100;
	return want > 2e6 ? 2000000 : (long)want;
}

static void record(int k, enum mode m, int parties, const struct rep *reps, int n)
{
	struct result res;
	double rate[64], futex[64];
	bool failed = false;
	for (int i = 0; i < n; i++) {
		rate[i] = reps[i].rate;
		futex[i] = reps[i].futex;
		failed |= reps[i].failed;
	}
	result_init(&res, "barrier", m, parties, impls[k].name, impls[k].role, UNIT_RATE, HIGHER_BETTER);
	result_set_reps(&res, rate, n);
	res.futex_op = median(futex, n);
	if (impls[k].futex_calls)
		snprintf(res.method, sizeof res.method, "mps_debug_futex_calls");
	if (failed)
		snprintf(res.note, sizeof res.note, "a worker failed");
	results_add(&res);
}

static void run_point(const struct opts *o, enum mode m, int parties)
{
	static struct rep reps[2][64];
	long passes[2];
	int n = o->reps > 64 ? 64 : o->reps;
	for (int k = 0; k < 2; k++)
		passes[k] = calibrate(&impls[k], m, parties, o->duration);
	for (int r = 0; r < n; r++) {
		progress("barrier %s parties=%d  rep %d/%d", mode_name(m), parties, r + 1, n);
		for (int j = 0; j < 2; j++) {
			int k = (j + r) % 2;
			run_once(&impls[k], m, parties, passes[k], &reps[k][r]);
		}
	}
	for (int k = 0; k < 2; k++)
		record(k, m, parties, reps[k], n);
}

void run_barrier(const struct opts *o)
{
	enum mode modes[2];
	int nm = mode_count(o, modes);
	int top = o->full ? 2 * o->ncpu : o->ncpu;
	if (top < 2)
		top = 2;
	if (!want(o, "barrier"))
		return;
	for (int mi = 0; mi < nm; mi++)
		for (int p = 2; p <= top && p <= MAX_WORKERS; p++)
			run_point(o, modes[mi], p);
}
