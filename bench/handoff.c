/* Hand-off latency: two workers ping-pong through a primitive; worker A
 * times every round trip (send, then wait for the answer). Reported: the
 * median round trip (p50 of each repetition, median over repetitions; on a
 * shared machine the mean is dominated by preemptions of milliseconds, so
 * it is kept in the CSV only), p99/max, and futex syscalls per round trip
 * where countable. The floor is a raw futex
 * ping-pong: one word, FUTEX_WAIT while it is not our turn, FUTEX_WAKE
 * after every turn, no spinning. The target compares processes.
 *
 *   event  mpsync: two Events, set / wait / clear; counterpart: two pthread
 *          events (pshared mutex + condvar + flag)
 *   cond   one lock + condition + turn variable; mpsync Lock + Condition
 *          against pshared pthread_mutex_t + pthread_cond_t
 *   sem    two semaphores, release / acquire; mpsync against sem_t */
#include <pthread.h>
#include <semaphore.h>
#include <string.h>

#include <mpsync.h>
#include "bench.h"

#define WARM_ROUNDS 300

struct ho {
	_Alignas(64) mps_event_t ev0;
	_Alignas(64) mps_event_t ev1;
	_Alignas(64) unsigned char pev0[128];
	_Alignas(64) unsigned char pev1[128];
	_Alignas(64) mps_lock_t lock;
	mps_cond_t cond;
	atomic_int turn;
	_Alignas(64) pthread_mutex_t m;
	pthread_cond_t pc;
	atomic_int pturn;
	_Alignas(64) mps_sem_t s0;
	_Alignas(64) mps_sem_t s1;
	_Alignas(64) sem_t ps0;
	_Alignas(64) sem_t ps1;
	_Alignas(64) atomic_uint fturn;
};

struct ho_impl {
	const char *name;
	enum role role;
	void (*send)(struct ho *h, int side);   /* side 0 is A, 1 is B */
	void (*recv)(struct ho *h, int side);
	uint64_t (*futex_calls)(void);
};

struct ho_case {
	const char *scenario;
	struct ho_impl impl[3];
};

static struct pev *pev(struct ho *h, int i) { return (struct pev *)(i ? h->pev1 : h->pev0); }
static mps_event_t *ev(struct ho *h, int i) { return i ? &h->ev1 : &h->ev0; }

/* ---- Event: A sets ev0 and waits on ev1; B the other way round ---- */
static void mev_send(struct ho *h, int side) { mps_event_set(ev(h, side)); }
static void mev_recv(struct ho *h, int side)
{
	mps_event_wait(ev(h, !side), MPS_FOREVER);
	mps_event_clear(ev(h, !side));
}

static void pev_send(struct ho *h, int side) { pev_set(pev(h, side)); }
static void pev_recv(struct ho *h, int side)
{
	pev_wait(pev(h, !side));
	pev_clear(pev(h, !side));
}

/* ---- Condition: turn says who may go; send = hand the turn over ---- */
static void mcond_send(struct ho *h, int side)
{
	mps_lock_acquire(&h->lock, MPS_FOREVER);
	atomic_store_explicit(&h->turn, !side, memory_order_relaxed);
	mps_cond_notify(&h->cond, 1);
	mps_lock_release(&h->lock);
}

static void mcond_recv(struct ho *h, int side)
{
	mps_lock_acquire(&h->lock, MPS_FOREVER);
	while (atomic_load_explicit(&h->turn, memory_order_relaxed) != side)
		mps_cond_wait(&h->cond, &h->lock, MPS_FOREVER);
	mps_lock_release(&h->lock);
}

static void pcond_send(struct ho *h, int side)
{
	pthread_mutex_lock(&h->m);
	atomic_store_explicit(&h->pturn, !side, memory_order_relaxed);
	pthread_cond_signal(&h->pc);
	pthread_mutex_unlock(&h->m);
}

static void pcond_recv(struct ho *h, int side)
{
	pthread_mutex_lock(&h->m);
	while (atomic_load_explicit(&h->pturn, memory_order_relaxed) != side)
		pthread_cond_wait(&h->pc, &h->m);
	pthread_mutex_unlock(&h->m);
}

/* ---- Semaphore: A posts s0 and takes s1 ---- */
static void msem_send(struct ho *h, int side) { mps_sem_release(side ? &h->s1 : &h->s0, 1); }
static void msem_recv(struct ho *h, int side) { mps_sem_acquire(side ? &h->s0 : &h->s1, MPS_FOREVER); }
static void psem_send(struct ho *h, int side) { sem_post(side ? &h->ps1 : &h->ps0); }
static void psem_recv(struct ho *h, int side)
{
	while (sem_wait(side ? &h->ps0 : &h->ps1) != 0)
		;
}

/* ---- the floor: fturn is 0 on A's turn, 1 on B's ---- */
static void raw_send(struct ho *h, int side)
{
	atomic_store(&h->fturn, side ? 0u : 1u);
	raw_futex_wake(&h->fturn, 1);
}

static void raw_recv(struct ho *h, int side)
{
	unsigned other = side ? 0u : 1u;
	while (atomic_load(&h->fturn) == other)
		raw_futex_wait(&h->fturn, other);
}

static const struct ho_case cases[] = {
	{ "handoff/event", { { "mpsync", ROLE_MPS, mev_send, mev_recv, mps_calls },
	  { "pthread-event", ROLE_REF, pev_send, pev_recv, NULL },
	  { "raw-futex", ROLE_FLOOR, raw_send, raw_recv, futex3_calls } } },
	{ "handoff/cond", { { "mpsync", ROLE_MPS, mcond_send, mcond_recv, mps_calls },
	  { "pthread", ROLE_REF, pcond_send, pcond_recv, NULL },
	  { "raw-futex", ROLE_FLOOR, raw_send, raw_recv, futex3_calls } } },
	{ "handoff/sem", { { "mpsync", ROLE_MPS, msem_send, msem_recv, mps_calls },
	  { "sem_t", ROLE_REF, psem_send, psem_recv, NULL },
	  { "raw-futex", ROLE_FLOOR, raw_send, raw_recv, futex3_calls } } },
};

#define NCASES ((int)(sizeof cases / sizeof cases[0]))

static const struct ho_impl *cur;

static void setup(struct ho *h)
{
	memset(h, 0, sizeof *h);
	pev_init(pev(h, 0));
	pev_init(pev(h, 1));
	pmutex_init(&h->m, false);
	pcond_init(&h->pc);
	mps_sem_init(&h->s0, 0);
	mps_sem_init(&h->s1, 0);
	sem_init(&h->ps0, 1, 0);
	sem_init(&h->ps1, 1, 0);
}

static void teardown(struct ho *h)
{
	sem_destroy(&h->ps1);
	sem_destroy(&h->ps0);
	pthread_cond_destroy(&h->pc);
	pthread_mutex_destroy(&h->m);
	pev_destroy(pev(h, 1));
	pev_destroy(pev(h, 0));
}

static void worker(struct arena *a, int idx)
{
	struct ho *h = (struct ho *)a->obj;
	struct wstat *w = &a->w[idx];
	uint64_t f0 = cur->futex_calls ? cur->futex_calls() : 0;
	worker_ready(a, idx);
	for (long r = 0; r < a->p.rounds; r++) {
		if (idx == 0) {
			int64_t t0 = now_ns();
			cur->send(h, 0);
			cur->recv(h, 0);
			hist_add(&w->hist, now_ns() - t0);
		} else {
			cur->recv(h, 1);
			cur->send(h, 1);
		}
	}
	worker_done(a, idx);
	w->count = (uint64_t)a->p.rounds;
	w->futex = cur->futex_calls ? cur->futex_calls() - f0 : 0;
}

struct rep {
	double rtt, p50, p99, max, futex;
	bool failed;
};

static void run_once(const struct ho_impl *im, enum mode m, long rounds, struct rep *r)
{
	struct arena *a = arena_new();
	struct ho *h = (struct ho *)a->obj;
	_Static_assert(sizeof(struct ho) <= sizeof a->obj, "arena object area");
	setup(h);
	cur = im;
	a->p.rounds = rounds;
	r->failed = team_run(a, m, 2, worker, 0) != 0;
	r->rtt = (double)(a->w[0].t_end - a->w[0].t_start) / (double)rounds;
	r->p50 = hist_pct(&a->w[0].hist, 0.50);
	r->p99 = hist_pct(&a->w[0].hist, 0.99);
	r->max = (double)a->w[0].hist.max;
	r->futex = im->futex_calls ? (double)(a->w[0].futex + a->w[1].futex) / (double)rounds
	                           : __builtin_nan("");
	teardown(h);
	arena_free(a);
}

static long calibrate(const struct ho_impl *im, enum mode m, double duration)
{
	struct rep r;
	run_once(im, m, WARM_ROUNDS, &r);
	double want = duration * 1e9 / (r.rtt > 1 ? r.rtt : 1);
	if (want < 100)
		return 100;
	return want > 2e6 ? 2000000 : (long)want;
}

static void record(const struct ho_case *c, int k, enum mode m, struct rep *reps, int n)
{
	struct result res;
	double v[5][64];
	bool failed = false;
	for (int i = 0; i < n; i++) {
		v[0][i] = reps[i].p50;
		v[1][i] = reps[i].rtt;
		v[2][i] = reps[i].p99;
		v[3][i] = reps[i].max;
		v[4][i] = reps[i].futex;
		failed |= reps[i].failed;
	}
	result_init(&res, c->scenario, m, 2, c->impl[k].name, c->impl[k].role, UNIT_NS, LOWER_BETTER);
	result_set_reps(&res, v[0], n);
	res.p50 = res.value;
	res.mean = median(v[1], n);
	res.p99 = median(v[2], n);
	res.max = median(v[3], n);
	res.futex_op = median(v[4], n);
	if (c->impl[k].futex_calls)
		snprintf(res.method, sizeof res.method, "%s",
		         c->impl[k].role == ROLE_MPS ? "mps_debug_futex_calls" : "self-count");
	if (failed)
		snprintf(res.note, sizeof res.note, "a worker failed");
	results_add(&res);
}

static void run_case(const struct opts *o, const struct ho_case *c, enum mode m)
{
	static struct rep reps[3][64];
	long rounds[3];
	int n = o->reps > 64 ? 64 : o->reps;
	for (int k = 0; k < 3; k++)
		rounds[k] = calibrate(&c->impl[k], m, o->duration);
	for (int r = 0; r < n; r++) {
		progress("%s %s  rep %d/%d", c->scenario, mode_name(m), r + 1, n);
		for (int j = 0; j < 3; j++) {
			int k = (j + r) % 3;
			run_once(&c->impl[k], m, rounds[k], &reps[k][r]);
		}
	}
	for (int k = 0; k < 3; k++)
		record(c, k, m, reps[k], n);
}

void run_handoff(const struct opts *o)
{
	enum mode modes[2];
	int nm = mode_count(o, modes);
	for (int i = 0; i < NCASES; i++) {
		if (!want(o, cases[i].scenario))
			continue;
		for (int mi = 0; mi < nm; mi++)
			run_case(o, &cases[i], modes[mi]);
	}
}
