/* The manager family: objects in a segment against Python's SyncManager,
 * whose every operation is a round trip to its server process. One
 * operation is:
 *
 *   manager/queue  a put + a get of a MGR_ITEM-byte item between a producer
 *                  and a consumer, two forked processes (always processes,
 *                  whatever --threads says): ns per item from the start
 *                  signal to the consumer's last get, and both workers' CPU
 *                  time per item (the cost on a busy machine). The consumer
 *                  checks the sequence number in each item. mpsync Queue
 *                  against SyncManager().Queue(); POSIX mq, a pipe (ipc.c)
 *                  and multiprocessing.Queue as context
 *   manager/dict   d[k] = i then d[k], MGR_KEYS int keys cycling; one process
 *   manager/value  v.value += 1 under the value's lock; one process; mpsync
 *                  as acquire + get + set + release, and add_i64 as context;
 *                  SyncManager().Value('i') (a get and a set through the
 *                  proxy; it has no get_lock) and multiprocessing.Value('i')
 *                  under get_lock() as context
 *
 * The C rows are measured like the other families: a warm-up run that also
 * sizes the runs (--duration each), then --reps repetitions with the
 * implementations in rotating order; the median is reported. The Python
 * rows come from one run of manager.py after the C rows (its own warm-up,
 * then --reps repetitions of 0.2 s each, 0.5 s with --full); without
 * python3 they are recorded as not run, with the reason. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "bench.h"

#define MAX_REPS    64
#define WARM_ITEMS  2000L
#define MAX_ITEMS   4000000L

struct row {
	double v[MAX_REPS], cpu[MAX_REPS];
	long ops;
	int err;
	char note[96];
};

/* ---- manager/queue ---- */

static const struct chan_impl *const queue_impls[] = { &chan_mps_queue, &chan_mq, &chan_pipe };
#define NQUEUE ((int)(sizeof queue_impls / sizeof queue_impls[0]))

static const struct chan_impl *chan;   /* the run's channel, inherited by the workers */
static void *chan_ctx;

/* Worker 0 produces, worker 1 consumes; item i carries i. */
static void queue_worker(struct arena *a, int idx)
{
	unsigned char item[MGR_ITEM] = { 0 };
	long n = a->p.rounds;
	int err = 0;
	worker_ready(a, idx);
	for (long i = 0; i < n && !err; i++) {
		if (idx == 0) {
			memcpy(item, &i, sizeof i);
			err = chan->put(chan_ctx, item);
		} else {
			err = chan->get(chan_ctx, item);
			if (!err && memcmp(item, &i, sizeof i))
				err = EBADMSG;   /* lost, repeated or out of order */
		}
	}
	worker_done(a, idx);
	a->w[idx].count = (uint64_t)n;
	worker_error(a, idx, err);
}

/* One run of n items: ns per item (and both workers' CPU time per item in
 * *cpu); on failure NAN, with r->err and r->note. */
static double queue_once(const struct chan_impl *im, long n, struct row *r, double *cpu)
{
	void *ctx;
	int err = im->open(&ctx, r->note, sizeof r->note);
	if (err) {
		r->err = err;
		return NAN;
	}
	struct arena *a = arena_new();
	chan = im;
	chan_ctx = ctx;
	a->p.rounds = n;
	int failed = team_run(a, MODE_PROCS, 2, queue_worker, 0);
	err = team_error(a, 2);
	double ns = (double)team_elapsed(a, 2) / (double)n;
	*cpu = (double)team_cpu(a, 0, 2) / (double)n;
	arena_free(a);
	im->close(ctx);
	if (err)
		snprintf(r->note, sizeof r->note, "%s: a worker failed: %s", im->name, err_text(err));
	else if (failed)
		snprintf(r->note, sizeof r->note, "%s: a worker died or hung", im->name);
	if (err || failed) {
		r->err = err ? err : ECHILD;
		return NAN;
	}
	return ns;
}

static long size_run(double ns, double duration, long lo)
{
	double want = duration * 1e9 / (ns > 1 ? ns : 1);
	return want < lo ? lo : want > MAX_ITEMS ? MAX_ITEMS : (long)want;
}

static void record(const char *scenario, enum mode m, int n, const char *impl, enum role role,
                   const struct row *r, int reps)
{
	struct result res;
	result_init(&res, scenario, m, n, impl, role, UNIT_NS, LOWER_BETTER);
	if (r->err) {
		snprintf(res.note, sizeof res.note, "no result: %.84s", r->note);
	} else {
		result_set_reps(&res, r->v, reps);
		res.cpu_ns = median(r->cpu, reps);
		snprintf(res.note, sizeof res.note, "%.50s; %ld ops per rep", r->note, r->ops);
	}
	results_add(&res);
}

static void run_queue(const struct opts *o)
{
	static struct row rows[NQUEUE];
	int reps = o->reps > MAX_REPS ? MAX_REPS : o->reps;
	memset(rows, 0, sizeof rows);
	for (int k = 0; k < NQUEUE; k++) {
		progress("manager/queue %s  warm-up", queue_impls[k]->name);
		double cpu, ns = queue_once(queue_impls[k], WARM_ITEMS, &rows[k], &cpu);
		if (!rows[k].err)
			rows[k].ops = size_run(ns, o->duration, WARM_ITEMS);
	}
	for (int r = 0; r < reps; r++) {
		progress("manager/queue procs  rep %d/%d", r + 1, reps);
		for (int j = 0; j < NQUEUE; j++) {
			struct row *w = &rows[(j + r) % NQUEUE];
			if (!w->err)
				w->v[r] = queue_once(queue_impls[(j + r) % NQUEUE], w->ops, w, &w->cpu[r]);
		}
	}
	for (int k = 0; k < NQUEUE; k++)
		record("manager/queue", MODE_PROCS, 2, queue_impls[k]->name, queue_impls[k]->role,
		       &rows[k], reps);
}

/* ---- manager/dict, manager/value: one process ---- */

struct loop_case {
	const char *scenario;
	const struct loop_impl *impl[2];
	int nimpl;
};

static const struct loop_case loops[] = {
	{ "manager/dict", { &loop_mps_dict }, 1 },
	{ "manager/value", { &loop_mps_value, &loop_mps_value_add }, 2 },
	{ "manager/retain", { &loop_mps_retain, &loop_mps_get }, 2 },
};
#define NLOOPS ((int)(sizeof loops / sizeof loops[0]))

static void loop_once(const struct loop_impl *im, void *ctx, struct row *w, int r)
{
	int64_t c0 = cpu_ns(), t0 = now_ns();
	int err = im->loop(ctx, w->ops);
	int64_t t1 = now_ns(), c1 = cpu_ns();
	w->v[r] = (double)(t1 - t0) / (double)w->ops;
	w->cpu[r] = (double)(c1 - c0) / (double)w->ops;
	if (err) {
		w->err = err;
		snprintf(w->note, sizeof w->note, "%s: %s", im->name, err_text(err));
	}
}

static void run_loop(const struct opts *o, const struct loop_case *c)
{
	static struct row rows[2];
	void *ctx[2] = { NULL, NULL };
	int reps = o->reps > MAX_REPS ? MAX_REPS : o->reps;
	memset(rows, 0, sizeof rows);
	for (int k = 0; k < c->nimpl; k++) {
		progress("%s %s  warm-up", c->scenario, c->impl[k]->name);
		rows[k].err = c->impl[k]->open(&ctx[k], rows[k].note, sizeof rows[k].note);
		if (rows[k].err)
			continue;
		rows[k].ops = WARM_ITEMS;
		loop_once(c->impl[k], ctx[k], &rows[k], 0);
		if (!rows[k].err)
			rows[k].ops = size_run(rows[k].v[0], o->duration, WARM_ITEMS);
	}
	for (int r = 0; r < reps; r++) {
		progress("%s  rep %d/%d", c->scenario, r + 1, reps);
		for (int j = 0; j < c->nimpl; j++) {
			int k = (j + r) % c->nimpl;
			if (!rows[k].err)
				loop_once(c->impl[k], ctx[k], &rows[k], r);
		}
	}
	for (int k = 0; k < c->nimpl; k++) {
		record(c->scenario, MODE_NONE, 1, c->impl[k]->name, c->impl[k]->role, &rows[k], reps);
		if (ctx[k])
			c->impl[k]->close(ctx[k]);
	}
}

/* ---- the Python rows ---- */

struct py_expect {
	const char *row, *impl, *scenario;
	enum role role;
};

static const struct py_expect expected[] = {
	{ "queue", "mp.Queue", "manager/queue", ROLE_ALT },
	{ "queue", "SyncManager", "manager/queue", ROLE_REF },
	{ "dict", "SyncManager", "manager/dict", ROLE_REF },
	{ "value", "SyncManager", "manager/value", ROLE_REF },
	{ "value", "mp.Value", "manager/value", ROLE_ALT },
};
#define NEXPECTED ((int)(sizeof expected / sizeof expected[0]))

/* The python family: the mpsync package from Python against
 * multiprocessing and SyncManager, all three in one manager.py run. */
static const struct py_expect expected_py[] = {
	{ "pylock", "mpsync", "python/lock", ROLE_MPS },
	{ "pylock", "multiprocessing", "python/lock", ROLE_ALT },
	{ "pylock", "SyncManager", "python/lock", ROLE_REF },
	{ "pyqueue", "mpsync", "python/queue", ROLE_MPS },
	{ "pyqueue", "multiprocessing", "python/queue", ROLE_ALT },
	{ "pyqueue", "SyncManager", "python/queue", ROLE_REF },
	{ "pydict", "mpsync", "python/dict", ROLE_MPS },
	{ "pydict", "SyncManager", "python/dict", ROLE_REF },
	{ "pyvalue", "mpsync", "python/value", ROLE_MPS },
	{ "pyvalue", "multiprocessing", "python/value", ROLE_ALT },
	{ "pyvalue", "SyncManager", "python/value", ROLE_REF },
};
#define NEXPECTED_PY ((int)(sizeof expected_py / sizeof expected_py[0]))

static const struct py_row *py_find(const struct py_row *got, int n, const struct py_expect *e)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(got[i].row, e->row) && !strcmp(got[i].impl, e->impl))
			return &got[i];
	return NULL;
}

static void py_record(const struct py_expect *e, const struct py_row *p, const char *why)
{
	struct result res;
	bool queue = !strcmp(e->row, "queue");
	queue = queue || !strcmp(e->row, "pyqueue");
	result_init(&res, e->scenario, queue ? MODE_PROCS : MODE_NONE, queue ? 2 : 1, e->impl,
	            e->role, UNIT_NS, LOWER_BETTER);
	if (p && !p->error[0]) {
		result_set_reps(&res, p->v, p->reps);
		snprintf(res.note, sizeof res.note, "python3; %ld ops per rep", p->n);
	} else {
		snprintf(res.note, sizeof res.note, "not run: %.86s",
		         p ? p->error : why[0] ? why : "no result from manager.py");
	}
	results_add(&res);
}

static void run_python(const struct opts *o)
{
	static struct py_row got[NEXPECTED + 4];
	char rows[32] = "", why[160];
	const char *names[] = { "queue", "dict", "value" };
	int count = 0;
	for (int i = 0; i < 3; i++) {
		char scenario[32];
		snprintf(scenario, sizeof scenario, "manager/%s", names[i]);
		if (want(o, scenario))
			snprintf(rows + strlen(rows), sizeof rows - strlen(rows), "%s%s",
			         rows[0] ? "," : "", names[i]);
	}
	if (!rows[0])
		return;
	progress("manager: python3 manager.py --rows %s", rows);
	if (python_run(o, rows, got, NEXPECTED + 4, &count, why, sizeof why) != 0 || why[0]) {
		progress_done();
		fprintf(stderr, "mpsync-bench: %s\n", why);
	}
	for (int i = 0; i < NEXPECTED; i++)
		if (want(o, expected[i].scenario))
			py_record(&expected[i], py_find(got, count, &expected[i]), why);
}

void run_python_family(const struct opts *o)
{
	static struct py_row got[NEXPECTED_PY + 4];
	char rows[64] = "", why[160];
	int count = 0;
	for (int i = 0; i < NEXPECTED_PY; i++)
		if (want(o, expected_py[i].scenario) && !strstr(rows, expected_py[i].row))
			snprintf(rows + strlen(rows), sizeof rows - strlen(rows), "%s%s",
			         rows[0] ? "," : "", expected_py[i].row);
	if (!rows[0])
		return;
	progress("python: python3 manager.py --rows %s", rows);
	if (python_run(o, rows, got, NEXPECTED_PY + 4, &count, why, sizeof why) != 0 || why[0]) {
		progress_done();
		fprintf(stderr, "mpsync-bench: %s\n", why);
	}
	for (int i = 0; i < NEXPECTED_PY; i++)
		if (want(o, expected_py[i].scenario))
			py_record(&expected_py[i], py_find(got, count, &expected_py[i]), why);
}

void run_manager(const struct opts *o)
{
	if (!want(o, "manager/"))
		return;
	if (want(o, "manager/queue"))
		run_queue(o);
	for (int i = 0; i < NLOOPS; i++)
		if (want(o, loops[i].scenario))
			run_loop(o, &loops[i]);
	run_python(o);
}
