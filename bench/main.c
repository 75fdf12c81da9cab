/* mpsync-bench: every mpsync primitive against its closest glibc
 * counterpart (and a raw futex floor), in the same run, as ratios.
 *
 *   mpsync-bench [--quick | --full] [--threads] [--procs] [--only PREFIX]
 *                [--duration S] [--reps N] [--out DIR]
 *
 * Writes a table to stdout (and DIR/report.txt), DIR/results.csv, and PNG
 * plots through gnuplot; a progress line goes to stderr. */
#include <errno.h>
#include <gnu/libc-version.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <mpsync.h>
#include "bench.h"

static const char usage[] =
"usage: mpsync-bench [options]\n"
"Measures every mpsync primitive against its glibc counterpart (process-shared\n"
"pthread mutex normal and recursive, sem_t, pthread_cond_t, pthread_barrier_t)\n"
"and a raw futex floor (Drepper's mutex3; futex wait/wake ping-pong), with\n"
"workers as threads and as forked processes, in the same run. Prints a table\n"
"of mpsync/counterpart ratios and the targets; writes CSV and PNG plots.\n"
"\n"
"  --quick          short run, under a minute on 2 CPUs (default)\n"
"  --full           all worker counts 1..2 x ncpu, longer runs\n"
"  --threads        workers as threads only\n"
"  --procs          workers as processes only (fork, MAP_SHARED objects)\n"
"  --only PREFIX    only scenarios whose name starts with PREFIX: uncontended/,\n"
"                   contended/, handoff/, barrier, notify_all, idle/, urcu/, manager/,\n"
"                   python/ (the mpsync package against multiprocessing)\n"
"                   (e.g. --only contended/lock-short, --only handoff)\n"
"  --duration S     seconds per timed measurement (quick 0.05, full 0.3)\n"
"  --reps N         repetitions per measurement; the median is reported\n"
"                   (quick 5, full 7)\n"
"  --out DIR        output directory (default ./bench-out)\n"
"  --help           this text\n"
"\n"
"The manager/ rows (queue, dict, value) compare objects in a segment with\n"
"Python's SyncManager, POSIX mq, a pipe and multiprocessing.Queue/Value; they\n"
"always use processes, and run manager.py (next to this program) with the\n"
"python3 on PATH: without it the Python rows are marked not run.\n"
"\n"
"Outputs: DIR/report.txt (the table), DIR/results.csv, DIR/throughput.png,\n"
"DIR/p99.png, DIR/notify_all.png (when gnuplot is installed; else a note).\n"
"glibc's futex syscall counts come from re-running a scenario under\n"
"strace -f when strace is installed; otherwise they read '-'.\n";

const char *mode_name(enum mode m)
{
	return m == MODE_THREADS ? "threads" : m == MODE_PROCS ? "procs" : "-";
}

/* A scenario runs when it starts with --only, or (for a family check)
 * when --only starts with it. */
bool want(const struct opts *o, const char *scenario)
{
	if (!o->only)
		return true;
	size_t a = strlen(o->only), b = strlen(scenario);
	return !strncmp(scenario, o->only, a < b ? a : b);
}

int mode_count(const struct opts *o, enum mode modes[2])
{
	int n = 0;
	if (o->threads)
		modes[n++] = MODE_THREADS;
	if (o->procs)
		modes[n++] = MODE_PROCS;
	return n;
}

static int usable_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static void defaults(struct opts *o, bool full)
{
	o->full = full;
	o->duration = full ? 0.3 : 0.05;
	o->reps = full ? 7 : 5;
	o->batch = full ? 4000000 : 1000000;
	o->episodes = full ? 40 : 10;
}

static double number(const char *s, const char *what)
{
	char *end;
	double v = strtod(s ? s : "", &end);
	if (!s || *end || !(v > 0)) {
		fprintf(stderr, "mpsync-bench: %s needs a positive number\n", what);
		exit(2);
	}
	return v;
}

static void parse(struct opts *o, int argc, char **argv)
{
	double duration = 0, reps = 0;
	bool full = false, threads = false, procs = false;
	const char *out = "bench-out", *only = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			exit(0);
		} else if (!strcmp(a, "--quick")) {
			full = false;
		} else if (!strcmp(a, "--full")) {
			full = true;
		} else if (!strcmp(a, "--threads")) {
			threads = true;
		} else if (!strcmp(a, "--procs")) {
			procs = true;
		} else if (!strcmp(a, "--only") && next) {
			only = argv[++i];
		} else if (!strcmp(a, "--duration")) {
			duration = number(next, "--duration");
			i++;
		} else if (!strcmp(a, "--reps")) {
			reps = number(next, "--reps");
			i++;
		} else if (!strcmp(a, "--out") && next) {
			out = argv[++i];
		} else {
			fprintf(stderr, "mpsync-bench: unknown or incomplete option '%s'\n%s", a, usage);
			exit(2);
		}
	}
	defaults(o, full);
	o->threads = threads || !procs;
	o->procs = procs || !threads;
	o->only = only;
	o->out = out;
	if (duration > 0)
		o->duration = duration;
	if (reps > 0)
		o->reps = reps > 64 ? 64 : (int)reps;
	o->ncpu = usable_cpus();
}

static void make_dir(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(buf, 0755);
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "mpsync-bench: cannot create %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

static void cpu_model(char *b, size_t n)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	snprintf(b, n, "unknown CPU");
	while (f && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (colon && !strncmp(line, "model name", 10)) {
			snprintf(b, n, "%s", colon + 2);
			b[strcspn(b, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
}

static char load_start[64], load_end[64];

static void loadavg(char *b, size_t n)
{
	FILE *f = fopen("/proc/loadavg", "r");
	b[0] = 0;
	if (f) {
		if (fgets(b, (int)n, f))
			b[strcspn(b, "\n")] = 0;
		fclose(f);
	}
}

static void header(FILE *f, const struct opts *o)
{
	char cpu[256];
	struct utsname u;
	uname(&u);
	cpu_model(cpu, sizeof cpu);
	fprintf(f, "mpsync-bench %d.%d.%d %s%s%s: %d usable CPUs (%s), Linux %s %s, glibc %s\n",
	        MPSYNC_VERSION_MAJOR, MPSYNC_VERSION_MINOR, MPSYNC_VERSION_PATCH,
	        o->full ? "--full" : "--quick", o->only ? " --only " : "", o->only ? o->only : "",
	        o->ncpu, cpu, u.release, u.machine, gnu_get_libc_version());
	fprintf(f, "settings: %d repetitions (median reported), %.3g s per timed run, %ld ops per "
	           "uncontended batch, %d notify_all episodes per repetition; CLOCK_MONOTONIC; "
	           "not pinned; implementations interleaved in rotating order; busy work "
	           "calibrated at %.3g iterations/ns\n",
	        o->reps, o->duration, o->batch, o->episodes, burn_rate());
	fprintf(f, "load average (/proc/loadavg) at start: %s; at end: %s\n", load_start, load_end);
	if (atof(load_start) > o->ncpu || atof(load_end) > o->ncpu)
		fprintf(f, "WARNING: the load average exceeds the %d usable CPUs: other jobs shared the "
		           "machine, so wall-clock figures are inflated and noisy; read the ratios, the "
		           "medians, and (uncontended) the CPU-time column\n", o->ncpu);
	fprintf(f, "liburcu comparison: %s; glibc futex counts: %s\n",
	        urcu_available() ? "built in (liburcu-memb)" : "not built (liburcu-memb not found at configure time)",
	        strace_available() ? "strace -f re-run" : "n/a (strace not found)");
	fprintf(f, "every ratio is mpsync / counterpart measured in this same run (ratio of the "
	           "medians); each table says which direction is better\n");
}

static int strace_child(const char *arg)
{
	int waiters, episodes;
	if (!strcmp(arg, "uncontended")) {
		uncontended_strace_child();
		return 0;
	}
	if (sscanf(arg, "notify_all:%d:%d", &waiters, &episodes) == 2) {
		notify_strace_child(waiters, episodes);
		return 0;
	}
	return 2;
}

static void finish(const struct opts *o, int64_t started)
{
	char path[4200];
	FILE *txt;
	progress_done();
	loadavg(load_end, sizeof load_end);
	header(stdout, o);
	report_print(stdout, o);
	snprintf(path, sizeof path, "%s/report.txt", o->out);
	if ((txt = fopen(path, "w"))) {
		header(txt, o);
		report_print(txt, o);
		fclose(txt);
	}
	snprintf(path, sizeof path, "%s/results.csv", o->out);
	printf("\n");
	if (results_write_csv(path) != 0)
		printf("note: could not write %s\n", path);
	else
		printf("csv: %s (%d rows)\n", path, results_count());
	if (!strace_available())
		printf("note: strace not found: glibc futex syscall counts read '-'\n");
	plot_all(o, stdout);
	printf("report: %s/report.txt; run time %.1f s\n", o->out, (double)(now_ns() - started) / 1e9);
}

int main(int argc, char **argv)
{
	static struct opts o;
	if (argc == 3 && !strcmp(argv[1], "--strace-child"))
		return strace_child(argv[2]);
	int64_t started = now_ns();
	parse(&o, argc, argv);
	ssize_t len = readlink("/proc/self/exe", o.self, sizeof o.self - 1);
	if (len <= 0)
		snprintf(o.self, sizeof o.self, "%s", argv[0]);
	make_dir(o.out);
	loadavg(load_start, sizeof load_start);
	burn_calibrate();
	run_uncontended(&o);
	run_contended(&o);
	run_handoff(&o);
	run_barrier(&o);
	run_notify(&o);
	run_idle(&o);
	run_urcu(&o);
	run_manager(&o);
	run_python_family(&o);
	finish(&o, started);
	return 0;
}
