/* Result rows, and the CSV: one row per scenario x mode x implementation x
 * worker count. */
#include <math.h>
#include <string.h>

#include "bench.h"

#define MAX_RESULTS 2048

static struct result rows[MAX_RESULTS];
static int nrows;

void result_init(struct result *r, const char *scenario, enum mode m, int n,
                 const char *impl, enum role role, enum unit u, enum better b)
{
	memset(r, 0, sizeof *r);
	snprintf(r->scenario, sizeof r->scenario, "%s", scenario);
	snprintf(r->impl, sizeof r->impl, "%s", impl);
	r->mode = m;
	r->n = n;
	r->role = role;
	r->unit = u;
	r->better = b;
	r->value = r->p50 = r->p99 = r->max = NAN;
	r->min_share = r->max_share = NAN;
	r->futex_op = r->futex_notifier = NAN;
	r->cpu_ns = NAN;
	r->mean = NAN;
	r->rep_min = r->rep_max = NAN;
	r->busy = NAN;
}

void result_set_reps(struct result *r, const double *v, int n)
{
	r->reps = n;
	r->value = median(v, n);
	for (int i = 0; i < n; i++) {
		if (i == 0 || v[i] < r->rep_min)
			r->rep_min = v[i];
		if (i == 0 || v[i] > r->rep_max)
			r->rep_max = v[i];
	}
}

double result_ratio(const struct result *m, const struct result *x)
{
	if (!m || !x || !(x->value > 0))
		return NAN;
	return m->value / x->value;
}

void results_add(const struct result *r)
{
	if (nrows < MAX_RESULTS)
		rows[nrows++] = *r;
}

int results_count(void)
{
	return nrows;
}

struct result *results_at(int i)
{
	return &rows[i];
}

struct result *results_find(const char *scenario, enum mode m, int n, enum role role)
{
	for (int i = 0; i < nrows; i++) {
		struct result *r = &rows[i];
		if (r->mode == m && r->n == n && r->role == role && !strcmp(r->scenario, scenario))
			return r;
	}
	return NULL;
}

static const char *role_name(enum role r)
{
	static const char *names[] = { "mpsync", "counterpart", "floor", "context" };
	return names[r];
}

/* Empty field for NaN, so spreadsheets see a blank. */
static void num(FILE *f, double v)
{
	if (isnan(v))
		fputc(',', f);
	else
		fprintf(f, ",%.6g", v);
}

static double ratio_to(const struct result *r, enum role other)
{
	if (r->role != ROLE_MPS)
		return NAN;
	return result_ratio(r, results_find(r->scenario, r->mode, r->n, other));
}

static void write_row(FILE *f, const struct result *r)
{
	fprintf(f, "%s,%s,%d,%s,%s,%s,%s", r->scenario, mode_name(r->mode), r->n,
	        r->impl, role_name(r->role), r->unit == UNIT_NS ? "ns" : "per_s",
	        r->better == LOWER_BETTER ? "lower" : "higher");
	num(f, r->value);
	num(f, r->p50);
	num(f, r->p99);
	num(f, r->max);
	num(f, r->mean);
	num(f, r->min_share);
	num(f, r->max_share);
	num(f, r->futex_op);
	num(f, r->futex_notifier);
	num(f, r->cpu_ns);
	num(f, r->busy);
	fprintf(f, ",%s,%d", r->method, r->reps);
	num(f, r->rep_min);
	num(f, r->rep_max);
	num(f, ratio_to(r, ROLE_REF));
	num(f, ratio_to(r, ROLE_FLOOR));
	fputs(",\"", f);
	for (const char *p = r->note; *p; p++) {
		if (*p == '"')
			fputc('"', f);   /* CSV: a quote inside is doubled */
		fputc(*p, f);
	}
	fputs("\"\n", f);
}

int results_write_csv(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("scenario,mode,workers,impl,role,unit,better,value,p50_ns,p99_ns,max_ns,mean_ns,"
	      "min_share,max_share,futex_per_op,futex_notifier,cpu_ns_per_op,busy,futex_method,reps,rep_min,rep_max,"
	      "ratio_vs_counterpart,ratio_vs_floor,note\n", f);
	for (int i = 0; i < nrows; i++)
		write_row(f, &rows[i]);
	return fclose(f);
}
