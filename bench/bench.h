/* mpsync-bench: declarations shared by the scenario files.
 *
 * Layout of bench/:
 *   main.c        command line, the run plan
 *   clock.c       CLOCK_MONOTONIC, busy work, medians
 *   hist.c        latency histogram (log-linear buckets)
 *   team.c        the shared arena; workers as threads or forked processes
 *   futex3.c      the floor: Drepper's mutex3 and a raw futex wait/wake
 *   glibc.c       pshared pthread objects, and the lock table for scenarios
 *   uncontended.c contended.c handoff.c barrier.c notify.c idle.c urcu.c
 *                 one file per scenario family (urcu_none.c replaces
 *                 urcu.c when liburcu-memb is not found)
 *   uncontended_sh.c  the uncontended loops built against the single header
 *   manager.c     the manager family: segment objects against Python's
 *                 SyncManager; its rows come from segment.c (mpsync, public
 *                 API only), ipc.c (POSIX mq, pipe) and python.c, which runs
 *                 manager.py (installed next to the executable)
 *   strace.c      futex syscall counts for glibc, by re-running under strace
 *   results.c     result rows and the CSV
 *   report.c      the human table and the targets
 *   plot.c        gnuplot
 *   progress.c    the progress line on stderr */
#ifndef MPS_BENCH_H
#define MPS_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define MAX_WORKERS   64
#define HIST_BUCKETS  1216
#define SAMPLE_EVERY  16     /* contended: time one acquisition in this many */

enum mode { MODE_NONE, MODE_THREADS, MODE_PROCS };
/* mpsync, counterpart, floor; ALT: context rows (manager: other IPC, other
 * mpsync calls), shown with their ratio but not in any target */
enum role { ROLE_MPS, ROLE_REF, ROLE_FLOOR, ROLE_ALT };
enum unit { UNIT_NS, UNIT_RATE };               /* ns per op; ops per second */
enum better { LOWER_BETTER, HIGHER_BETTER };

/* ---- options (main.c) ---- */
struct opts {
	bool full;
	bool threads, procs;        /* which worker modes to run */
	const char *only;           /* scenario-name prefix, or NULL */
	double duration;            /* seconds per timed measurement */
	int reps;                   /* repetitions; the median is reported */
	long batch;                 /* ops per uncontended batch */
	int episodes;               /* notify_all episodes per repetition */
	const char *out;            /* output directory */
	int ncpu;
	char self[4096];            /* this executable, for the strace re-run */
};

bool want(const struct opts *o, const char *scenario);
int  mode_count(const struct opts *o, enum mode modes[2]);
const char *mode_name(enum mode m);

/* ---- clock.c ---- */
int64_t now_ns(void);
int64_t cpu_ns(void);                  /* CLOCK_THREAD_CPUTIME_ID */
void    sleep_ns(int64_t ns);
void    burn(uint64_t iters);           /* busy work, not optimised away */
void    burn_calibrate(void);
uint64_t burn_iters(double ns);         /* iterations of burn() for about ns */
double  burn_rate(void);                /* calibrated iterations per ns */
double  median(const double *v, int n);

/* ---- hist.c ---- */
struct hist {
	uint64_t n;
	uint64_t max;
	uint32_t b[HIST_BUCKETS];
};
void   hist_clear(struct hist *h);
void   hist_add(struct hist *h, int64_t ns);
void   hist_merge(struct hist *dst, const struct hist *src);
double hist_pct(const struct hist *h, double p);   /* p in 0..1, ns */

/* ---- team.c ---- */
struct wstat {
	_Alignas(64) uint64_t count;   /* operations done */
	uint64_t futex;                /* futex syscalls counted in the worker */
	uint64_t futex_aux;            /* a second count (notify_all: notifier part) */
	int64_t  t_start, t_end;       /* CLOCK_MONOTONIC ns */
	int64_t  c_start, c_end;       /* the worker thread's CPU time, ns */
	int      err;                  /* first error code from the primitive */
	atomic_int finished;
	struct hist hist;
};

struct params {
	int      impl;                 /* index into the scenario's table */
	int      n;                    /* workers in this run */
	uint64_t cs_iters, out_iters;  /* contended: burn() inside / outside */
	long     rounds;               /* count-based scenarios */
	bool     mark;                 /* emit strace window markers */
};

struct ctl {
	_Alignas(64) atomic_int ready;
	_Alignas(64) atomic_int go;
	_Alignas(64) atomic_int stop;
};

/* Everything a measurement shares: one MAP_SHARED anonymous mapping made
 * before any worker starts, so threads and forked processes see the same
 * objects. Fresh (zeroed) for every run. */
struct arena {
	struct ctl ctl;
	_Alignas(64) unsigned char obj[2048];  /* the objects under test */
	_Alignas(64) uint64_t data[8];         /* data the lock protects */
	_Alignas(64) atomic_int sync[16];      /* scenario-private counters */
	_Alignas(64) int64_t stamp[4];         /* scenario-private timestamps */
	struct params p;
	struct wstat w[MAX_WORKERS];
};

typedef void (*worker_fn)(struct arena *a, int idx);

struct arena *arena_new(void);
void arena_free(struct arena *a);
/* Starts n workers, waits until all are ready, lets them go; if duration > 0
 * sets stop after that long. Returns the number of workers that failed. */
int  team_run(struct arena *a, enum mode m, int n, worker_fn fn, double duration);
void worker_ready(struct arena *a, int idx);   /* announce, wait for go, stamp start */
void worker_done(struct arena *a, int idx);    /* stamp end */
static inline bool worker_stop(struct arena *a)
{
	return atomic_load_explicit(&a->ctl.stop, memory_order_relaxed);
}
void worker_error(struct arena *a, int idx, int err);
int64_t team_elapsed(const struct arena *a, int n);  /* max end - min start */
int64_t team_cpu(const struct arena *a, int first, int n); /* CPU ns of workers first.. */
int  team_error(const struct arena *a, int n);       /* first error, or 0 */
void wait_count(atomic_int *c, int target);          /* polls with short sleeps */
int  child_status(pid_t pid);  /* reaps it: exit status, 128 + signal, or -1 */
void spin_count(atomic_int *c, int target);          /* spins with sched_yield */
void strace_mark(bool on, int window);               /* window >= 0 opens, < 0 closes */

/* ---- futex3.c ---- */
void     futex3_lock(atomic_uint *w);
void     futex3_unlock(atomic_uint *w);
void     raw_futex_wait(atomic_uint *w, unsigned val);
void     raw_futex_wake(atomic_uint *w, int n);
uint64_t futex3_calls(void);           /* futex syscalls by this thread, here */

/* ---- glibc.c ---- */
struct lock_impl {
	const char *name;
	enum role role;
	void (*init)(void *obj);
	void (*lock)(void *obj);
	void (*unlock)(void *obj);
	void (*destroy)(void *obj);
	uint64_t (*futex_calls)(void);     /* NULL when not countable in-process */
};
extern const struct lock_impl lock_mpsync, lock_pthread, lock_futex3, lock_sem_mpsync, lock_sem_t;
void pmutex_init(void *m, bool recursive);
void pcond_init(void *c);
uint64_t mps_calls(void);              /* mps_debug_futex_calls() */

/* A pthread event: process-shared mutex + condvar + flag (the obvious way
 * to build Python's Event on pthreads). */
struct pev;
size_t pev_size(void);
void pev_init(struct pev *e);
void pev_destroy(struct pev *e);
void pev_set(struct pev *e);
void pev_clear(struct pev *e);
bool pev_is_set(struct pev *e);
void pev_wait(struct pev *e);

/* ---- results.c ---- */
struct result {
	char scenario[48];
	enum mode mode;
	int n;                     /* workers, parties, waiters, readers */
	char impl[24];
	enum role role;
	enum unit unit;
	enum better better;
	double value;              /* median over repetitions */
	double p50, p99, max;      /* latency ns, NAN if none */
	double mean;               /* mean latency ns, NAN if none */
	double min_share, max_share;
	double futex_op;           /* futex syscalls per operation (or episode) */
	double futex_notifier;     /* notify_all: by the notifier per episode */
	double cpu_ns;             /* CPU time of the workers per op, NAN if none */
	double busy;               /* contended: workers' CPU time / (elapsed x usable CPUs) */
	char method[40];           /* how futex_op was counted */
	int reps;
	double rep_min, rep_max;   /* smallest and largest repetition */
	char note[96];
};
void result_init(struct result *r, const char *scenario, enum mode m, int n,
                 const char *impl, enum role role, enum unit u, enum better b);
void results_add(const struct result *r);
int  results_count(void);
struct result *results_at(int i);
struct result *results_find(const char *scenario, enum mode m, int n, enum role role);
int  results_write_csv(const char *path);
/* mpsync / other, as the ratio of the two medians; NAN when either is
 * missing. (Not the median of per-repetition ratios: on a shared machine
 * the noise is independent heavy-tailed spikes, which a median of each
 * series rejects, while a ratio of a pair is spoiled by a spike on either
 * side. Interleaving the repetitions takes care of slow drift.) */
double result_ratio(const struct result *m, const struct result *other);
/* The median of the repetitions' values becomes the primary value. */
void result_set_reps(struct result *r, const double *v, int n);

/* ---- scenario families ---- */
void run_uncontended(const struct opts *o);
void run_contended(const struct opts *o);
void run_handoff(const struct opts *o);
void run_barrier(const struct opts *o);
void run_notify(const struct opts *o);
void run_idle(const struct opts *o);
bool urcu_available(void);
void run_urcu(const struct opts *o);
void run_manager(const struct opts *o);
void run_python_family(const struct opts *o);   /* python/: the mpsync package */
/* Entry points of the re-run under strace: the same code, with markers. */
void uncontended_strace_child(void);
void notify_strace_child(int waiters, int episodes);

/* ---- manager family: segment.c, ipc.c, python.c ---- */
#define MGR_ITEM 64       /* bytes of a queue item */
#define MGR_KEYS 1000     /* distinct dict keys, cycled */

/* A channel from a producer process to a consumer process: opened before
 * the fork and inherited. Results are 0 or an errno value; note says how
 * the channel was set up (its depth). */
struct chan_impl {
	const char *name;
	enum role role;
	int  (*open)(void **ctx, char *note, size_t n);
	int  (*put)(void *ctx, const void *item);       /* MGR_ITEM bytes */
	int  (*get)(void *ctx, void *item);
	void (*close)(void *ctx);
};

/* A single-process loop of n operations: 0 or the first error. */
struct loop_impl {
	const char *name;
	enum role role;
	int  (*open)(void **ctx, char *note, size_t n);
	int  (*loop)(void *ctx, long n);
	void (*close)(void *ctx);
};

extern const struct chan_impl chan_mps_queue, chan_mq, chan_pipe;
extern const struct loop_impl loop_mps_dict, loop_mps_value, loop_mps_value_add;
extern const struct loop_impl loop_mps_retain, loop_mps_get;
const char *err_text(int code);        /* strerror, or mpsync's own codes */

/* One row of manager.py: ns per operation for each repetition, or error. */
struct py_row {
	char row[16];
	char impl[24];
	long n;                 /* operations per repetition (mean) */
	int reps;
	double v[64];
	char error[96];
};
/* Runs manager.py for the rows named in rows ("queue,dict,value"); fills
 * out[] and *count. Non-zero with why when python3 or the script is
 * missing, or the run failed before any row. */
int python_run(const struct opts *o, const char *rows, struct py_row *out, int max, int *count,
               char *why, size_t n);
const char *python_info(void);          /* version line, "" when not run */

/* ---- strace.c ---- */
#define STRACE_WINDOWS 64
struct strace_counts {
	bool ok;
	char why[96];                        /* when !ok */
	uint64_t in_window[STRACE_WINDOWS];  /* futex calls inside each window id */
	uint64_t opened[STRACE_WINDOWS];     /* how many times each window opened */
};
bool find_in_path(const char *name, char *out, size_t n);
bool strace_available(void);
void strace_run(const struct opts *o, const char *child_arg, struct strace_counts *out);

/* ---- report.c, plot.c ---- */
void report_print(FILE *f, const struct opts *o);
void plot_all(const struct opts *o, FILE *note);

/* ---- progress.c ---- */
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void progress_done(void);

#endif
