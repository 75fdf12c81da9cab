/* PNG plots drawn by gnuplot: contended throughput and p99 acquire latency
 * against the worker count (one panel per shape and mode), and notify_all
 * time against the number of waiters. The data files and the script stay
 * in <out>/plot/, so a plot can be redrawn by hand. Without gnuplot the run
 * still writes the CSV and the table, with a note. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define MAX_PANELS 16

struct panel {
	char scenario[48];
	enum mode mode;
	char file[96];
	char ref[24], floor[24];
};

static void file_name(char *b, size_t n, const char *scenario, enum mode m)
{
	snprintf(b, n, "%s-%s.dat", scenario, mode_name(m));
	for (char *p = b; *p; p++)
		if (*p == '/')
			*p = '-';
}

static bool have_panel(const struct panel *p, int n, const struct result *r)
{
	for (int i = 0; i < n; i++)
		if (p[i].mode == r->mode && !strcmp(p[i].scenario, r->scenario))
			return true;
	return false;
}

/* Panels for every scenario (with this prefix) and mode that has mpsync rows. */
static int collect(const char *prefix, struct panel *p)
{
	int n = 0;
	for (int i = 0; i < results_count() && n < MAX_PANELS; i++) {
		const struct result *r = results_at(i);
		if (r->role != ROLE_MPS || strncmp(r->scenario, prefix, strlen(prefix)))
			continue;
		if (have_panel(p, n, r))
			continue;
		struct panel *q = &p[n++];
		memset(q, 0, sizeof *q);
		snprintf(q->scenario, sizeof q->scenario, "%s", r->scenario);
		q->mode = r->mode;
		file_name(q->file, sizeof q->file, r->scenario, r->mode);
		const struct result *x = results_find(r->scenario, r->mode, r->n, ROLE_REF);
		const struct result *fl = results_find(r->scenario, r->mode, r->n, ROLE_FLOOR);
		snprintf(q->ref, sizeof q->ref, "%s", x ? x->impl : "");
		snprintf(q->floor, sizeof q->floor, "%s", fl ? fl->impl : "");
	}
	return n;
}

static double val(const struct result *r, bool p99)
{
	return r ? (p99 ? r->p99 : r->value) : NAN;
}

/* Columns: n, value mps/ref/floor, p99 mps/ref/floor. */
static int write_data(const char *dir, const struct panel *p)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/%s", dir, p->file);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "# %s %s: n mpsync %s %s p99_mpsync p99_%s p99_%s\n", p->scenario,
	        mode_name(p->mode), p->ref, p->floor, p->ref, p->floor);
	for (int i = 0; i < results_count(); i++) {
		const struct result *m = results_at(i);
		if (m->role != ROLE_MPS || m->mode != p->mode || strcmp(m->scenario, p->scenario))
			continue;
		const struct result *x = results_find(m->scenario, m->mode, m->n, ROLE_REF);
		const struct result *fl = results_find(m->scenario, m->mode, m->n, ROLE_FLOOR);
		fprintf(f, "%d %g %g %g %g %g %g\n", m->n, m->value, val(x, false), val(fl, false),
		        m->p99, val(x, true), val(fl, true));
	}
	return fclose(f);
}

static void plot_line(FILE *g, const struct panel *p, int col, const char *scale)
{
	fprintf(g, "plot \"%s\" u 1:($%d%s) w lp pt 7 t \"mpsync\"", p->file, col, scale);
	if (p->ref[0])
		fprintf(g, ", \"\" u 1:($%d%s) w lp pt 5 t \"%s\"", col + 1, scale, p->ref);
	if (p->floor[0])
		fprintf(g, ", \"\" u 1:($%d%s) w lp pt 9 t \"%s\"", col + 2, scale, p->floor);
	fputc('\n', g);
}

static void multiplot(FILE *g, const char *png, const char *title, const char *ylabel,
                      const struct panel *p, int n, int col, const char *scale, bool logy)
{
	int cols = n > 1 ? 2 : 1, rows = (n + cols - 1) / cols;
	fprintf(g, "set output \"../%s\"\n", png);
	fprintf(g, "%s\n", logy ? "set logscale y" : "unset logscale y");
	fprintf(g, "set multiplot layout %d,%d title \"%s\"\n", rows, cols, title);
	fprintf(g, "set ylabel \"%s\"\n", ylabel);
	for (int i = 0; i < n; i++) {
		fprintf(g, "set title \"%s, %s\"\n", p[i].scenario, mode_name(p[i].mode));
		plot_line(g, &p[i], col, scale);
	}
	fprintf(g, "unset multiplot\n");
}

static void preamble(FILE *g, int panels)
{
	int h = panels > 4 ? 720 : 520;
	fprintf(g, "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) "
	           "{ set terminal pngcairo noenhanced size 820,%d font \",8\" } "
	           "else { set terminal png noenhanced size 820,%d }\n", h, h);
	fprintf(g, "set datafile missing \"nan\"\nset grid\nset key top right opaque\n");
	fprintf(g, "set xlabel \"workers\"\nset xtics 1\nset yrange [0:*]\n");
}

static int write_script(const char *dir, const struct panel *c, int nc, const struct panel *nt, int nn)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/plots.gp", dir);
	FILE *g = fopen(path, "w");
	if (!g)
		return -1;
	preamble(g, nc);
	if (nc) {
		multiplot(g, "throughput.png", "Contended: acquisitions/s against workers (higher is better)",
		          "M acquisitions/s", c, nc, 2, "/1e6", false);
		fprintf(g, "set yrange [*:*]\n");
		multiplot(g, "p99.png", "Contended: p99 acquire latency against workers (lower is better)",
		          "p99 latency, us (log)", c, nc, 5, "/1e3", true);
	}
	if (nn) {
		fprintf(g, "set yrange [*:*]\nset xtics auto\nset logscale x 2\nset xlabel \"waiters\"\n");
		multiplot(g, "notify_all.png", "notify_all: time until all N waiters re-acquired (lower is better)",
		          "us (log)", nt, nn, 2, "/1e3", true);
	}
	return fclose(g);
}

static int run_gnuplot(const char *exe, const char *dir)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (chdir(dir) != 0)
			_exit(126);
		int err = open("gnuplot.err", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (err >= 0)
			dup2(err, 2);
		execl(exe, "gnuplot", "plots.gp", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	return child_status(pid);
}

void plot_all(const struct opts *o, FILE *note)
{
	static struct panel c[MAX_PANELS], nt[MAX_PANELS];
	char dir[4200], exe[4096];
	int nc = collect("contended/", c), nn = collect("notify_all", nt);
	if (!nc && !nn)
		return;
	snprintf(dir, sizeof dir, "%s/plot", o->out);
	mkdir(dir, 0755);
	for (int i = 0; i < nc; i++)
		write_data(dir, &c[i]);
	for (int i = 0; i < nn; i++)
		write_data(dir, &nt[i]);
	if (write_script(dir, c, nc, nt, nn) != 0) {
		fprintf(note, "note: could not write %s/plots.gp; no plots\n", dir);
		return;
	}
	if (!find_in_path("gnuplot", exe, sizeof exe)) {
		fprintf(note, "note: gnuplot not found: plots skipped (CSV and table written; "
		              "install gnuplot-nox and run: cd %s && gnuplot plots.gp)\n", dir);
		return;
	}
	int rc = run_gnuplot(exe, dir);
	if (rc != 0) {
		fprintf(note, "note: gnuplot failed (exit %d), see %s/gnuplot.err\n", rc, dir);
		return;
	}
	fprintf(note, "plots:");
	if (nc)
		fprintf(note, " %s/throughput.png %s/p99.png", o->out, o->out);
	if (nn)
		fprintf(note, " %s/notify_all.png", o->out);
	fputc('\n', note);
}
