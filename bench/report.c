/* The human report: one table per scenario family, each saying which
 * direction is better, with mpsync / counterpart ratios from the same run;
 * then every target of the issue, marked met or MISSED with its number.
 * Targets are shown, never asserted: the exit status does not depend on them. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "bench.h"

enum status { MET, MISSED, NOT_MEASURED };

/* ---- formatting ---- */

static const char *fmt_ns(char *b, size_t n, double v)
{
	if (isnan(v))
		snprintf(b, n, "-");
	else if (v < 1e3)
		snprintf(b, n, "%.1f ns", v);
	else if (v < 1e6)
		snprintf(b, n, "%.2f us", v / 1e3);
	else
		snprintf(b, n, "%.2f ms", v / 1e6);
	return b;
}

static const char *fmt_rate(char *b, size_t n, double v)
{
	if (isnan(v))
		snprintf(b, n, "-");
	else if (v >= 1e6)
		snprintf(b, n, "%.2f M/s", v / 1e6);
	else
		snprintf(b, n, "%.1f k/s", v / 1e3);
	return b;
}

static const char *fmt_value(char *b, size_t n, const struct result *r)
{
	if (!r) {
		snprintf(b, n, "-");
		return b;
	}
	return r->unit == UNIT_NS ? fmt_ns(b, n, r->value) : fmt_rate(b, n, r->value);
}

static const char *fmt_ratio(char *b, size_t n, double v)
{
	if (isnan(v))
		snprintf(b, n, "-");
	else
		snprintf(b, n, "%.2fx", v);
	return b;
}

static const char *fmt_count(char *b, size_t n, double v)
{
	if (isnan(v))
		snprintf(b, n, "-");
	else if (v == 0)
		snprintf(b, n, "0");
	else
		snprintf(b, n, "%.3g", v);
	return b;
}

static double value_ratio(const struct result *m, const struct result *x)
{
	return result_ratio(m, x);
}

static double field_ratio(double m, double x)
{
	return x > 0 ? m / x : NAN;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static const struct result *other(const struct result *m, enum role role)
{
	return results_find(m->scenario, m->mode, m->n, role);
}

/* ---- the tables ---- */

static void table_uncontended(FILE *f)
{
	char a[32], b[32], c[32], d[32], e[32], g[32], h[32], k[32];
	bool any = false;
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || !starts(m->scenario, "uncontended/"))
			continue;
		if (!any) {
			fprintf(f, "\n== Uncontended: one thread, objects in a MAP_SHARED mapping; ns per "
			           "operation (wall clock), LOWER is better (mps/cp < 1.00x: mpsync faster) ==\n");
			fprintf(f, "   cpu = the same batches in thread CPU time (preemption by other load "
			           "excluded); futex/op must read 0\n");
			fprintf(f, "%-22s %9s %9s %-14s %9s %7s | %8s %8s | %s\n", "operation", "mpsync",
			        "cp", "(counterpart)", "floor", "mps/cp", "cpu mps", "cpu cp",
			        "futex/op mps | cp");
			any = true;
		}
		const struct result *x = other(m, ROLE_REF), *fl = other(m, ROLE_FLOOR);
		fprintf(f, "%-22s %9s %9s %-14s %9s %7s | %8s %8s | %5s | %s\n", m->scenario + 12,
		        fmt_value(a, sizeof a, m), fmt_value(b, sizeof b, x), x ? x->impl : "",
		        fmt_value(c, sizeof c, fl), fmt_ratio(d, sizeof d, value_ratio(m, x)),
		        fmt_ns(h, sizeof h, m->cpu_ns), fmt_ns(k, sizeof k, x ? x->cpu_ns : NAN),
		        fmt_count(e, sizeof e, m->futex_op), fmt_count(g, sizeof g, x ? x->futex_op : NAN));
	}
}

static const char *shape_text(const char *scenario)
{
	if (!strcmp(scenario, "contended/lock-long"))
		return "about 1 us of work inside the lock and 1 us outside";
	if (!strcmp(scenario, "contended/sem-short"))
		return "Semaphore(1) as a lock; one counter increment inside, nothing outside";
	return "one counter increment inside the lock, nothing outside";
}

static void contended_header(FILE *f, const struct result *m, const struct result *x,
                             const struct result *fl)
{
	fprintf(f, "\n== %s: %s ==\n", m->scenario, shape_text(m->scenario));
	fprintf(f, "   throughput = acquisitions/s, HIGHER is better (mps/cp > 1.00x: mpsync faster); "
	           "p99 = acquire latency, LOWER is better; sh = min worker share of the mean;\n"
	           "   cpu/acq = workers' CPU time per acquisition, LOWER is better; busy = share of "
	           "min(n, ncpu) CPUs the workers got (mpsync run; << 1: other jobs held the CPUs)\n");
	fprintf(f, "%-8s %2s %10s %10s %10s %6s | %8s %8s %6s | %4s %4s | %8s %8s | %4s | %s\n",
	        "mode", "n", "mpsync", x ? x->impl : "cp", fl ? fl->impl : "floor", "mps/cp", "p99 mps",
	        "p99 cp", "mps/cp", "sh m", "sh c", "cpu/acq m", "cpu/acq c", "busy", "futex/acq m");
}

static void table_contended(FILE *f)
{
	char a[32], b[32], c[32], d[32], e[32], g[32], h[32], k[32], l[32], o[32];
	const char *last = "";
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || !starts(m->scenario, "contended/"))
			continue;
		const struct result *x = other(m, ROLE_REF), *fl = other(m, ROLE_FLOOR);
		if (strcmp(last, m->scenario))
			contended_header(f, m, x, fl);
		last = m->scenario;
		fprintf(f, "%-8s %2d %10s %10s %10s %6s | %8s %8s %6s | %4.2f %4.2f | %9s %9s | %4.2f | %s\n",
		        mode_name(m->mode), m->n, fmt_value(a, sizeof a, m), fmt_value(b, sizeof b, x),
		        fmt_value(c, sizeof c, fl), fmt_ratio(d, sizeof d, value_ratio(m, x)),
		        fmt_ns(e, sizeof e, m->p99), fmt_ns(g, sizeof g, x ? x->p99 : NAN),
		        fmt_ratio(h, sizeof h, field_ratio(m->p99, x ? x->p99 : NAN)), m->min_share,
		        x ? x->min_share : NAN, fmt_ns(l, sizeof l, m->cpu_ns),
		        fmt_ns(o, sizeof o, x ? x->cpu_ns : NAN), m->busy, fmt_count(k, sizeof k, m->futex_op));
	}
}

static void table_handoff(FILE *f)
{
	char a[32], b[32], c[32], d[32], e[32], g[32], h[32], k[32], l[32];
	bool any = false;
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || !starts(m->scenario, "handoff/"))
			continue;
		if (!any) {
			fprintf(f, "\n== Hand-off: ping-pong between 2 workers, median round trip, LOWER is better "
			           "(mps/cp, mps/floor < 1.00x: mpsync faster); floor = raw futex wait/wake ==\n");
			fprintf(f, "%-14s %-8s %10s %10s %-13s %10s %7s %9s | %9s %9s | %s\n", "scenario", "mode",
			        "mpsync", "counterpart", "", "floor", "mps/cp", "mps/floor", "p99 mps", "p99 cp",
			        "futex/rtt mps | floor");
			any = true;
		}
		const struct result *x = other(m, ROLE_REF), *fl = other(m, ROLE_FLOOR);
		fprintf(f, "%-14s %-8s %10s %10s %-13s %10s %7s %9s | %9s %9s | %5s | %s\n", m->scenario + 8,
		        mode_name(m->mode), fmt_value(a, sizeof a, m), fmt_value(b, sizeof b, x),
		        x ? x->impl : "", fmt_value(c, sizeof c, fl),
		        fmt_ratio(d, sizeof d, value_ratio(m, x)), fmt_ratio(e, sizeof e, value_ratio(m, fl)),
		        fmt_ns(g, sizeof g, m->p99), fmt_ns(h, sizeof h, x ? x->p99 : NAN),
		        fmt_count(k, sizeof k, m->futex_op), fmt_count(l, sizeof l, fl ? fl->futex_op : NAN));
	}
}

static void table_barrier(FILE *f)
{
	char a[32], b[32], c[32], d[32];
	bool any = false;
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || strcmp(m->scenario, "barrier"))
			continue;
		if (!any) {
			fprintf(f, "\n== Barrier: passes/s, HIGHER is better (mps/cp > 1.00x: mpsync faster); "
			           "counterpart pthread_barrier_t (pshared) ==\n");
			fprintf(f, "%-8s %7s %10s %10s %7s  %s\n", "mode", "parties", "mpsync", "pthread",
			        "mps/cp", "futex/pass mps");
			any = true;
		}
		const struct result *x = other(m, ROLE_REF);
		fprintf(f, "%-8s %7d %10s %10s %7s  %s\n", mode_name(m->mode), m->n,
		        fmt_value(a, sizeof a, m), fmt_value(b, sizeof b, x),
		        fmt_ratio(c, sizeof c, value_ratio(m, x)), fmt_count(d, sizeof d, m->futex_op));
	}
}

static void table_notify(FILE *f)
{
	char a[32], b[32], c[32], d[32], e[32], g[32], h[32];
	bool any = false;
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || strcmp(m->scenario, "notify_all"))
			continue;
		const struct result *x = other(m, ROLE_REF);
		if (!any) {
			fprintf(f, "\n== notify_all with N waiters: time until all N hold the lock again (p50 of "
			           "episodes), LOWER is better; futex syscalls per episode, LOWER is better ==\n");
			fprintf(f, "   futex counts: mpsync by mps_debug_futex_calls(); pthread by %s\n",
			        x && x->method[0] ? x->method : "n/a");
			fprintf(f, "%-8s %3s %10s %10s %7s | %-17s | %s\n", "mode", "N", "mpsync", "pthread",
			        "mps/cp", "notifier mps | cp", "total mps | cp");
			any = true;
		}
		fprintf(f, "%-8s %3d %10s %10s %7s | %7s | %-7s | %6s | %s\n", mode_name(m->mode), m->n,
		        fmt_value(a, sizeof a, m), fmt_value(b, sizeof b, x),
		        fmt_ratio(c, sizeof c, value_ratio(m, x)), fmt_count(d, sizeof d, m->futex_notifier),
		        fmt_count(e, sizeof e, x ? x->futex_notifier : NAN), fmt_count(g, sizeof g, m->futex_op),
		        fmt_count(h, sizeof h, x ? x->futex_op : NAN));
	}
}

static void table_idle(FILE *f)
{
	char a[32], b[32], c[32], d[32];
	bool any = false;
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || !starts(m->scenario, "idle/") || m->mode != MODE_THREADS)
			continue;
		const struct result *x = other(m, ROLE_REF);
		if (!any) {
			fprintf(f, "\n== Idle: %d threads blocked on one object that nobody releases; wake-ups "
			           "per second of all of them together and their CPU time in %% of one CPU, "
			           "LOWER is better ==\n", m->n);
			fprintf(f, "%-12s %14s %14s | %10s %10s | %s\n", "object", "wake/s mps", "wake/s cp",
			        "cpu% mps", "cpu% cp", "counterpart");
			any = true;
		}
		snprintf(a, sizeof a, "%.1f", m->value);
		snprintf(b, sizeof b, "%.1f", x ? x->value : NAN);
		snprintf(c, sizeof c, "%.3f", m->busy);
		snprintf(d, sizeof d, "%.3f", x ? x->busy : NAN);
		fprintf(f, "%-12s %14s %14s | %10s %10s | %s\n", m->scenario + 5, a, b, c, d,
		        x ? x->impl : "-");
	}
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || !starts(m->scenario, "idle/recovery"))
			continue;
		const struct result *x = other(m, ROLE_REF);
		fprintf(f, "%s: %d waiter process(es), SIGKILL of the holder -> first EOWNERDEAD: mpsync "
		           "p50 %s p99 %s (%d samples); robust pthread mutex p50 %s p99 %s\n",
		        m->scenario, m->n, fmt_ns(a, sizeof a, m->p50), fmt_ns(b, sizeof b, m->p99), m->reps,
		        fmt_ns(c, sizeof c, x ? x->p50 : NAN), fmt_ns(d, sizeof d, x ? x->p99 : NAN));
	}
}

static void table_urcu(FILE *f)
{
	char a[32], b[32], c[32], d[32], e[32];
	bool any = false;
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || !starts(m->scenario, "urcu/"))
			continue;
		if (!any) {
			fprintf(f, "\n== urcu/read-mostly -- IN-PROCESS ONLY, NOT CROSS-PROCESS: reads/s with a "
			           "writer every 1 ms, HIGHER is better; mpsync Lock vs liburcu-memb ==\n");
			fprintf(f, "   cpu/read = the readers' CPU time per read (other jobs' share excluded), "
			           "LOWER is better\n");
			fprintf(f, "%-8s %7s %10s %12s %9s | %s\n", "mode", "readers", "mpsync", "liburcu-memb",
			        "mps/urcu", "cpu/read mps | urcu");
			any = true;
		}
		const struct result *x = other(m, ROLE_REF);
		fprintf(f, "%-8s %7d %10s %12s %9s | %8s | %s\n", mode_name(m->mode), m->n,
		        fmt_value(a, sizeof a, m), fmt_value(b, sizeof b, x),
		        fmt_ratio(c, sizeof c, value_ratio(m, x)), fmt_ns(d, sizeof d, m->cpu_ns),
		        fmt_ns(e, sizeof e, x ? x->cpu_ns : NAN));
	}
}

/* "x" values: how many times slower than mpsync a row is */
static const char *fmt_times(char *b, size_t n, double v)
{
	if (isnan(v))
		snprintf(b, n, "-");
	else if (v >= 100)
		snprintf(b, n, "%.0fx", v);
	else if (v >= 10)
		snprintf(b, n, "%.1fx", v);
	else
		snprintf(b, n, "%.2fx", v);
	return b;
}

static void manager_row(FILE *f, const struct result *r, const struct result *m)
{
	char a[32], b[32], c[32];
	fprintf(f, "%-8s %-15s %10s %8s %9s | %s\n", r->scenario + 8, r->impl,
	        fmt_value(a, sizeof a, r), fmt_times(b, sizeof b, value_ratio(r, m)),
	        fmt_ns(c, sizeof c, r->cpu_ns), r->note);
}

static void manager_header(FILE *f)
{
	const char *py = python_info();
	fprintf(f, "\n== Manager objects: segment objects vs Python's SyncManager; ns per operation, "
	           "LOWER is better; x mps = that row / mpsync (how many times faster mpsync is) ==\n");
	fprintf(f, "   queue: a put + a get of a %d-byte item, producer and consumer processes; "
	           "dict: d[k] = i then d[k], %d int keys; value: v.value += 1 under its lock\n",
	        MGR_ITEM, MGR_KEYS);
	fprintf(f, "   retain: a reference to the Value taken and dropped (retain + release, or "
	           "lookup by name + release), under the segment guard; no SyncManager row\n");
	if (py[0])
		fprintf(f, "   Python rows: %s, one python3 run after the C rows (own warm-up and "
		           "repetitions)\n", py);
	else
		fprintf(f, "   Python rows: not run (see their notes)\n");
	fprintf(f, "   cpu/op: the C rows' CPU time per operation (queue: both processes)\n");
	fprintf(f, "%-8s %-15s %10s %8s %9s | %s\n", "scenario", "impl", "ns/op", "x mps", "cpu/op",
	        "note");
}

static void table_manager(FILE *f)
{
	bool any = false;
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || !starts(m->scenario, "manager/"))
			continue;
		if (!any)
			manager_header(f);
		any = true;
		manager_row(f, m, m);
		for (int j = 0; j < results_count(); j++) {
			const struct result *r = results_at(j);
			if (r != m && !strcmp(r->scenario, m->scenario))
				manager_row(f, r, m);
		}
	}
}

/* The mpsync package from Python: each row against multiprocessing and
 * SyncManager, measured in the same python3 process. */
static void python_row(FILE *f, const struct result *r, const struct result *m)
{
	char a[32], b[32];
	fprintf(f, "%-7s %-16s %10s %9s | %s\n", r->scenario + 7, r->impl,
	        fmt_value(a, sizeof a, r), fmt_times(b, sizeof b, value_ratio(r, m)), r->note);
}

static void table_python(FILE *f)
{
	bool any = false;
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || !starts(m->scenario, "python/"))
			continue;
		if (!any) {
			const char *py = python_info();
			fprintf(f, "\n== Python: the mpsync package against multiprocessing and "
			           "SyncManager, from Python; ns per operation, LOWER is better; x mps = "
			           "that row / mpsync ==\n");
			fprintf(f, "   lock: acquire() + release(); queue: a put + a get of a %d-byte "
			           "item, producer and consumer processes; dict: d[k] = i then d[k], "
			           "%d int keys;\n   value: with v.get_lock(): v.value += 1 "
			           "(SyncManager's Value: v.value += 1, it has no lock)\n",
			        MGR_ITEM, MGR_KEYS);
			fprintf(f, "   %s; all rows of a scenario in one python3 run\n",
			        py[0] ? py : "Python rows not run (see their notes)");
			fprintf(f, "%-7s %-16s %10s %9s | %s\n", "row", "impl", "ns/op", "x mps", "note");
			any = true;
		}
		python_row(f, m, m);
		for (int j = 0; j < results_count(); j++) {
			const struct result *r = results_at(j);
			if (r != m && !strcmp(r->scenario, m->scenario))
				python_row(f, r, m);
		}
	}
}

/* ---- the targets ---- */

static void target(FILE *f, enum status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void target(FILE *f, enum status s, const char *fmt, ...)
{
	va_list ap;
	fprintf(f, "  %-8s ", s == MET ? "[met]" : s == MISSED ? "[MISSED]" : "[n/a]");
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

static void target_ratio(FILE *f, const char *scenario, double limit, const char *text)
{
	const struct result *m = results_find(scenario, MODE_NONE, 1, ROLE_MPS);
	const struct result *x = m ? other(m, ROLE_REF) : NULL;
	double r = value_ratio(m, x);
	char a[32], b[32];
	if (isnan(r)) {
		target(f, NOT_MEASURED, "%s: not measured in this run", text);
		return;
	}
	/* The floor's own ratio says what no implementation can beat: two
	 * atomic read-modify-writes per acquire and release. */
	const struct result *fl = other(m, ROLE_FLOOR);
	char floor[96] = "";
	if (fl && !isnan(value_ratio(fl, x)))
		snprintf(floor, sizeof floor, "; floor (%s) %.2fx, in CPU time %.2fx", fl->impl,
		         value_ratio(fl, x), field_ratio(fl->cpu_ns, x->cpu_ns));
	target(f, r <= limit ? MET : MISSED, "%s: %.2fx (%s vs %s; in thread CPU time %.2fx%s)", text, r,
	       fmt_ns(a, sizeof a, m->value), fmt_ns(b, sizeof b, x->value),
	       field_ratio(m->cpu_ns, x->cpu_ns), floor);
}

static void target_zero_syscalls(FILE *f)
{
	double worst = 0, worst_ref = 0;
	int rows = 0;
	for (int i = 0; i < results_count(); i++) {
		const struct result *r = results_at(i);
		if (!starts(r->scenario, "uncontended/") || isnan(r->futex_op))
			continue;
		if (r->role == ROLE_MPS) {
			rows++;
			worst = r->futex_op > worst ? r->futex_op : worst;
		} else if (r->role == ROLE_REF && r->futex_op > worst_ref) {
			worst_ref = r->futex_op;
		}
	}
	if (!rows) {
		target(f, NOT_MEASURED, "zero futex syscalls in uncontended rows: not measured");
		return;
	}
	target(f, worst == 0 ? MET : MISSED,
	       "zero futex syscalls in all uncontended rows: mpsync max %.3g per op over %d rows "
	       "(glibc max %.3g)", worst, rows, worst_ref);
}

struct worst {
	double v;
	const struct result *at;
};

static void keep_min(struct worst *w, double v, const struct result *at)
{
	if (!isnan(v) && (!w->at || v < w->v)) {
		w->v = v;
		w->at = at;
	}
}

static void target_contended(FILE *f, int ncpu)
{
	struct worst high = { 0, NULL }, all = { 0, NULL }, share = { 0, NULL };
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || !starts(m->scenario, "contended/lock"))
			continue;
		double r = value_ratio(m, other(m, ROLE_REF));
		keep_min(&all, r, m);
		if (m->n >= 4 && m->n <= 16)
			keep_min(&high, r, m);
		if (m->n >= 2)
			keep_min(&share, m->min_share, m);
	}
	if (high.at)
		target(f, high.v >= 1.5 ? MET : MISSED,
		       "contended Lock >= 1.5x pthread at 4..16 workers (this machine: up to %d): "
		       "worst %.2fx (%s, %s, n=%d)", 2 * ncpu, high.v, high.at->scenario,
		       mode_name(high.at->mode), high.at->n);
	else
		target(f, NOT_MEASURED, "contended Lock >= 1.5x pthread at 4..16 workers: not measured");
	if (all.at)
		target(f, all.v >= 1.0 ? MET : MISSED,
		       "contended Lock never below 1.0x pthread: worst %.2fx (%s, %s, n=%d)", all.v,
		       all.at->scenario, mode_name(all.at->mode), all.at->n);
	else
		target(f, NOT_MEASURED, "contended Lock never below 1.0x pthread: not measured");
	if (share.at)
		target(f, share.v >= 0.25 ? MET : MISSED,
		       "contended Lock min worker share >= 0.25x the mean: worst %.2f (%s, %s, n=%d)",
		       share.v, share.at->scenario, mode_name(share.at->mode), share.at->n);
	else
		target(f, NOT_MEASURED, "contended Lock min share >= 0.25x the mean: not measured");
}

static void target_handoff(FILE *f)
{
	static const char *names[] = { "handoff/event", "handoff/cond", "handoff/sem" };
	for (int i = 0; i < 3; i++) {
		const struct result *m = results_find(names[i], MODE_PROCS, 2, ROLE_MPS);
		const struct result *fl = m ? other(m, ROLE_FLOOR) : NULL;
		double r = value_ratio(m, fl);
		char a[32], b[32];
		if (isnan(r))
			target(f, NOT_MEASURED, "two-process hand-off (%s) within 1.1x of the raw futex floor: "
			       "not measured", names[i] + 8);
		else
			target(f, r <= 1.1 ? MET : MISSED,
			       "two-process hand-off (%s) within 1.1x of the raw futex floor: %.2fx "
			       "(%s vs %s round trip)", names[i] + 8, r, fmt_ns(a, sizeof a, m->value),
			       fmt_ns(b, sizeof b, fl->value));
	}
}

static void target_barrier(FILE *f)
{
	struct worst w = { 0, NULL };
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role == ROLE_MPS && !strcmp(m->scenario, "barrier"))
			keep_min(&w, value_ratio(m, other(m, ROLE_REF)), m);
	}
	if (!w.at)
		target(f, NOT_MEASURED, "Barrier >= 2x pthread_barrier_wait: not measured");
	else
		target(f, w.v >= 2.0 ? MET : MISSED,
		       "Barrier >= 2x pthread_barrier_wait: worst %.2fx (%s, parties=%d)", w.v,
		       mode_name(w.at->mode), w.at->n);
}

static void span(double v, double *lo, double *hi)
{
	if (isnan(v))
		return;
	*lo = v < *lo ? v : *lo;
	*hi = v > *hi ? v : *hi;
}

static void target_notify(FILE *f)
{
	double lo = INFINITY, hi = -INFINITY, glo = INFINITY, ghi = -INFINITY;
	int nlo = 0, nhi = 0;
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || strcmp(m->scenario, "notify_all") || isnan(m->futex_notifier))
			continue;
		const struct result *x = other(m, ROLE_REF);
		span(m->futex_notifier, &lo, &hi);
		span(x ? x->futex_notifier : NAN, &glo, &ghi);
		nlo = nlo == 0 || m->n < nlo ? m->n : nlo;
		nhi = m->n > nhi ? m->n : nhi;
	}
	if (nhi == 0) {
		target(f, NOT_MEASURED, "notify_all: O(1) futex syscalls for the notifier: not measured");
		return;
	}
	target(f, hi <= 2.05 ? MET : MISSED,
	       "notify_all: O(1) futex syscalls for the notifier (criterion: <= 2 per episode at every "
	       "N): %.2f..%.2f per episode for N=%d..%d (glibc %.2f..%.2f)", lo, hi, nlo, nhi,
	       isinf(glo) ? NAN : glo, isinf(ghi) ? NAN : ghi);
}

static void target_manager(FILE *f)
{
	char list[400] = "", b[32], c[32], d[32];
	double worst = INFINITY;
	int rows = 0, missing = 0;
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		/* retain has no SyncManager counterpart to be faster than. */
		if (m->role != ROLE_MPS || !starts(m->scenario, "manager/") ||
		    !strcmp(m->scenario, "manager/retain"))
			continue;
		const struct result *x = other(m, ROLE_REF);
		double r = value_ratio(x, m);
		size_t len = strlen(list);
		if (isnan(r))
			snprintf(list + len, sizeof list - len, "%s%s not measured", rows ? ", " : "",
			         m->scenario + 8);
		else
			snprintf(list + len, sizeof list - len, "%s%s %s (%s vs %s)", rows ? ", " : "",
			         m->scenario + 8, fmt_times(b, sizeof b, r), fmt_ns(c, sizeof c, x->value),
			         fmt_ns(d, sizeof d, m->value));
		rows++;
		missing += isnan(r);
		worst = isnan(r) || r > worst ? worst : r;
	}
	if (!rows) {
		target(f, NOT_MEASURED, "manager: >= 100x faster than SyncManager on every row: "
		       "not measured");
		return;
	}
	enum status s = worst < 100 ? MISSED : missing ? NOT_MEASURED : MET;
	target(f, s, "manager: >= 100x faster than SyncManager on every row (SyncManager / mpsync): "
	       "%s", list);
}

static const struct result *python_impl(const char *scenario, const char *impl)
{
	for (int i = 0; i < results_count(); i++) {
		const struct result *r = results_at(i);
		if (!strcmp(r->scenario, scenario) && !strcmp(r->impl, impl))
			return r;
	}
	return NULL;
}

/* want: "faster" (counterpart / mpsync >= bound) or "ratio" (mpsync /
 * counterpart <= bound). */
static void target_python_one(FILE *f, const char *scenario, const char *impl, bool ratio,
                              double bound, const char *text)
{
	const struct result *m = python_impl(scenario, "mpsync"), *x = python_impl(scenario, impl);
	char b[32], c[32];
	if (!m || !x || isnan(m->value) || isnan(x->value)) {
		if (m || x)
			target(f, NOT_MEASURED, "%s: not measured", text);
		return;
	}
	double v = ratio ? value_ratio(m, x) : value_ratio(x, m);
	bool met = ratio ? v <= bound : v >= bound;
	target(f, met ? MET : MISSED, "%s: %.2fx (%s vs %s)", text, v, fmt_ns(b, sizeof b, m->value),
	       fmt_ns(c, sizeof c, x->value));
}

static void target_python(FILE *f)
{
	target_python_one(f, "python/lock", "multiprocessing", true, 1.0,
	                  "python: Lock acquire+release <= 1.0x multiprocessing.Lock (mpsync / mp)");
	target_python_one(f, "python/queue", "multiprocessing", false, 2.0,
	                  "python: Queue put+get >= 2x faster than multiprocessing.Queue");
	target_python_one(f, "python/queue", "SyncManager", false, 50.0,
	                  "python: Queue put+get >= 50x faster than a SyncManager Queue");
	target_python_one(f, "python/dict", "SyncManager", false, 50.0,
	                  "python: dict set+get >= 50x faster than SyncManager");
	target_python_one(f, "python/value", "SyncManager", false, 50.0,
	                  "python: Value += 1 >= 50x faster than SyncManager");
}

/* Issue 9: 100 waiters cost <= 100 wake-ups/s and <= 1% of a CPU per
 * object; recovery p99 <= 50 ms with 1 and with 100 waiters. */
static void target_idle(FILE *f)
{
	bool any = false;
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || !starts(m->scenario, "idle/"))
			continue;
		any = true;
		if (m->mode == MODE_THREADS) {
			bool ok = m->value <= 100 && m->busy <= 1.0;
			target(f, ok ? MET : MISSED, "%s: %d waiters <= 100 wake-ups/s and <= 1%% CPU: "
			       "%.1f/s, %.3f%%", m->scenario, m->n, m->value, m->busy);
		} else {
			bool ok = !isnan(m->p99) && m->p99 <= 50e6;
			target(f, ok ? MET : MISSED, "%s: recovery after SIGKILL p99 <= 50 ms: %.1f ms",
			       m->scenario, m->p99 / 1e6);
		}
	}
	if (!any)
		target(f, NOT_MEASURED, "idle waiters <= 100 wake-ups/s, <= 1%% CPU; recovery p99 "
		       "<= 50 ms: not measured");
}

static void targets(FILE *f, const struct opts *o)
{
	fprintf(f, "\n== Targets (shown, not asserted; ratios are mpsync / counterpart unless said) ==\n");
	target_ratio(f, "uncontended/lock", 0.9, "uncontended Lock <= 0.9x pthread pshared mutex");
	target_ratio(f, "uncontended/rlock-nested", 0.3, "nested RLock <= 0.3x recursive pthread mutex");
	target_ratio(f, "uncontended/sem", 0.9, "Semaphore <= 0.9x sem_t");
	target_ratio(f, "uncontended/sh:lock", 0.9, "single header: Lock <= 0.9x pthread pshared mutex");
	target_ratio(f, "uncontended/sh:rlock-nested", 0.3,
	             "single header: nested RLock <= 0.3x recursive pthread mutex");
	target_ratio(f, "uncontended/sh:sem", 0.9, "single header: Semaphore <= 0.9x sem_t");
	target_zero_syscalls(f);
	target_contended(f, o->ncpu);
	target_handoff(f);
	target_barrier(f);
	target_notify(f);
	target_idle(f);
	target_manager(f);
	target_python(f);
}

void report_print(FILE *f, const struct opts *o)
{
	table_uncontended(f);
	table_contended(f);
	table_handoff(f);
	table_barrier(f);
	table_notify(f);
	table_idle(f);
	table_urcu(f);
	table_manager(f);
	table_python(f);
	targets(f, o);
}
