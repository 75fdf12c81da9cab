/* notify_all with N waiters: N workers wait on a condition (each arrives
 * with the lock held and calls wait); the notifier takes the lock once all
 * N are waiting, stamps t0, bumps the generation, calls notify_all and
 * unlocks. The time reported is t0 -> the N-th waiter holding the lock
 * again, per episode (p50 of the episodes of a repetition, median over
 * repetitions). Waiters start the next episode only after the last one is
 * back, so episodes do not overlap.
 *
 * Futex syscalls per episode: "notifier" = notify_all + unlock; "total" =
 * that plus everything each waiter spends from its arrival (lock) to its
 * unlock after re-acquiring. mpsync by mps_debug_futex_calls(); glibc by
 * the same episodes re-run under strace with windows around exactly those
 * spans (processes, so nothing else runs in a traced worker). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <mpsync.h>
#include "bench.h"

enum { ARRIVED, REACQUIRED, GEN };

struct nt {
	_Alignas(64) mps_lock_t lock;
	mps_cond_t cond;
	_Alignas(64) pthread_mutex_t m;
	pthread_cond_t pc;
};

struct nt_impl {
	const char *name;
	enum role role;
	void (*lock)(struct nt *h);
	void (*unlock)(struct nt *h);
	void (*wait)(struct nt *h);
	void (*notify_all)(struct nt *h);
	uint64_t (*futex_calls)(void);
	int win_notifier, win_waiter;      /* strace windows */
};

static void mlock(struct nt *h) { mps_lock_acquire(&h->lock, MPS_FOREVER); }
static void munlock(struct nt *h) { mps_lock_release(&h->lock); }
static void mwait(struct nt *h) { mps_cond_wait(&h->cond, &h->lock, MPS_FOREVER); }
static void mnotify_all(struct nt *h) { mps_cond_notify_all(&h->cond); }
static void plock(struct nt *h) { pthread_mutex_lock(&h->m); }
static void punlock(struct nt *h) { pthread_mutex_unlock(&h->m); }
static void pwait(struct nt *h) { pthread_cond_wait(&h->pc, &h->m); }
static void pbroadcast(struct nt *h) { pthread_cond_broadcast(&h->pc); }

static const struct nt_impl impls[] = {
	{ "mpsync", ROLE_MPS, mlock, munlock, mwait, mnotify_all, mps_calls, 3, 4 },
	{ "pthread", ROLE_REF, plock, punlock, pwait, pbroadcast, NULL, 1, 2 },
};

static const struct nt_impl *cur;

static uint64_t calls(void)
{
	return cur->futex_calls ? cur->futex_calls() : 0;
}

static void waiter(struct arena *a, int idx)
{
	struct nt *h = (struct nt *)a->obj;
	int n = a->p.n - 1;
	bool mark = a->p.mark;
	for (long e = 0; e < a->p.rounds; e++) {
		strace_mark(mark, cur->win_waiter);
		uint64_t f0 = calls();
		cur->lock(h);
		int g = atomic_load(&a->sync[GEN]);
		atomic_fetch_add(&a->sync[ARRIVED], 1);
		while (atomic_load(&a->sync[GEN]) == g)
			cur->wait(h);
		/* Under the lock: the stamp is written before the count that
		 * tells the notifier to read it. */
		int back = atomic_load(&a->sync[REACQUIRED]) + 1;
		if (back == n * (e + 1))
			a->stamp[0] = now_ns();
		atomic_store(&a->sync[REACQUIRED], back);
		cur->unlock(h);
		a->w[idx].futex += calls() - f0;
		strace_mark(mark, -1);
		wait_count(&a->sync[REACQUIRED], (int)(n * (e + 1)));
	}
}

static void notifier(struct arena *a, int idx)
{
	struct nt *h = (struct nt *)a->obj;
	struct wstat *w = &a->w[idx];
	int n = a->p.n - 1;
	for (long e = 0; e < a->p.rounds; e++) {
		wait_count(&a->sync[ARRIVED], (int)(n * (e + 1)));
		cur->lock(h);
		strace_mark(a->p.mark, cur->win_notifier);
		uint64_t f0 = calls();
		int64_t t0 = now_ns();
		atomic_fetch_add(&a->sync[GEN], 1);
		cur->notify_all(h);
		cur->unlock(h);
		w->futex_aux += calls() - f0;
		strace_mark(a->p.mark, -1);
		wait_count(&a->sync[REACQUIRED], (int)(n * (e + 1)));
		hist_add(&w->hist, a->stamp[0] - t0);
	}
}

static void worker(struct arena *a, int idx)
{
	worker_ready(a, idx);
	if (idx == 0)
		notifier(a, idx);
	else
		waiter(a, idx);
	worker_done(a, idx);
}

struct rep {
	double p50, p99, max, notifier, total;
	bool failed;
};

static void run_once(const struct nt_impl *im, enum mode m, int waiters, long episodes,
                     bool mark, struct rep *r)
{
	struct arena *a = arena_new();
	struct nt *h = (struct nt *)a->obj;
	mps_lock_init(&h->lock);
	mps_cond_init(&h->cond);
	pmutex_init(&h->m, false);
	pcond_init(&h->pc);
	cur = im;
	a->p.rounds = episodes;
	a->p.mark = mark;
	r->failed = team_run(a, m, waiters + 1, worker, 0) != 0;
	struct hist *hs = &a->w[0].hist;
	r->p50 = hist_pct(hs, 0.50);
	r->p99 = hist_pct(hs, 0.99);
	r->max = (double)hs->max;
	uint64_t total = a->w[0].futex_aux;
	for (int i = 1; i <= waiters; i++)
		total += a->w[i].futex;
	r->notifier = (double)a->w[0].futex_aux / (double)episodes;
	r->total = (double)total / (double)episodes;
	pthread_cond_destroy(&h->pc);
	pthread_mutex_destroy(&h->m);
	arena_free(a);
}

/* glibc rows get the counts; mpsync rows keep their own and get strace's
 * as a cross-check in the note. */
static void apply_counts(const struct strace_counts *sc, const struct nt_impl *im, int waiters)
{
	double ep = sc->ok ? (double)sc->opened[im->win_notifier] : 0;
	double nf = ep > 0 ? (double)sc->in_window[im->win_notifier] / ep : NAN;
	double tot = ep > 0 ? nf + (double)sc->in_window[im->win_waiter] / ep : NAN;
	for (int mi = MODE_THREADS; mi <= MODE_PROCS; mi++) {
		struct result *r = results_find("notify_all", (enum mode)mi, waiters, im->role);
		if (!r)
			continue;
		if (im->role == ROLE_MPS) {
			if (sc->ok)
				snprintf(r->note, sizeof r->note, "strace: notifier %.2f total %.2f", nf, tot);
			continue;
		}
		r->futex_notifier = nf;
		r->futex_op = tot;
		snprintf(r->method, sizeof r->method, "%s",
		         sc->ok ? "strace -f (trace=futex) procs" : "n/a");
		snprintf(r->note, sizeof r->note, "%s", sc->ok ? "" : sc->why);
	}
}

static void strace_fill(const struct opts *o, int waiters, long episodes)
{
	struct strace_counts sc;
	char arg[64];
	snprintf(arg, sizeof arg, "notify_all:%d:%ld", waiters, episodes);
	progress("notify_all n=%d: futex syscalls under strace", waiters);
	strace_run(o, arg, &sc);
	for (int k = 0; k < 2; k++)
		apply_counts(&sc, &impls[k], waiters);
}

static void record(int k, enum mode m, int waiters, const struct rep *reps, int n)
{
	struct result res;
	double v[5][64];
	bool failed = false;
	for (int i = 0; i < n; i++) {
		v[0][i] = reps[i].p50;
		v[1][i] = reps[i].p99;
		v[2][i] = reps[i].max;
		v[3][i] = reps[i].notifier;
		v[4][i] = reps[i].total;
		failed |= reps[i].failed;
	}
	result_init(&res, "notify_all", m, waiters, impls[k].name, impls[k].role, UNIT_NS, LOWER_BETTER);
	result_set_reps(&res, v[0], n);
	res.p50 = res.value;
	res.p99 = median(v[1], n);
	res.max = median(v[2], n);
	if (impls[k].futex_calls) {
		res.futex_notifier = median(v[3], n);
		res.futex_op = median(v[4], n);
		snprintf(res.method, sizeof res.method, "mps_debug_futex_calls");
	}
	if (failed)
		snprintf(res.note, sizeof res.note, "a worker failed");
	results_add(&res);
}

static void run_point(const struct opts *o, enum mode m, int waiters)
{
	static struct rep reps[2][64];
	int n = o->reps > 64 ? 64 : o->reps;
	for (int k = 0; k < 2; k++)
		run_once(&impls[k], m, waiters, 3, false, &reps[k][0]);
	for (int r = 0; r < n; r++) {
		progress("notify_all %s waiters=%d  rep %d/%d", mode_name(m), waiters, r + 1, n);
		for (int j = 0; j < 2; j++) {
			int k = (j + r) % 2;
			run_once(&impls[k], m, waiters, o->episodes, false, &reps[k][r]);
		}
	}
	for (int k = 0; k < 2; k++)
		record(k, m, waiters, reps[k], n);
}

static int waiter_counts(const struct opts *o, int *out)
{
	int k = 0;
	if (!o->full) {
		out[k++] = o->ncpu;
		out[k++] = 4 * o->ncpu < MAX_WORKERS ? 4 * o->ncpu : MAX_WORKERS - 1;
		return k;
	}
	for (int w = 1; w < MAX_WORKERS && w <= 16 * o->ncpu; w *= 2)
		out[k++] = w;
	return k;
}

void run_notify(const struct opts *o)
{
	enum mode modes[2];
	int counts[16], nm = mode_count(o, modes), nc = waiter_counts(o, counts);
	if (!want(o, "notify_all"))
		return;
	for (int c = 0; c < nc; c++) {
		for (int mi = 0; mi < nm; mi++)
			run_point(o, modes[mi], counts[c]);
		strace_fill(o, counts[c], 20);
	}
}

/* Under strace: both implementations, processes, windows marked. */
void notify_strace_child(int waiters, int episodes)
{
	struct rep r;
	for (int k = 0; k < 2; k++)
		run_once(&impls[k], MODE_PROCS, waiters, episodes, true, &r);
}
