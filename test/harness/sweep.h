/* Kill at every store: the crash-safety sweep of SPEC §6 (issue 11).
 *
 * An operation (a holder) runs in a forked child that this process traces
 * and single-steps; a store is a step after which some byte of the segment
 * differs. The run is captured once, store by store; then for every store
 * k the segment is rebuilt as the holder left it after store k, with the
 * holder dead (a zombie, so that its tid reads as dead and cannot be
 * reused), which is what a SIGKILL right after store k leaves: shared
 * memory is all a killed process leaves behind. Some points are also
 * killed for real (stepped to store k again and SIGKILLed) and must leave
 * the same. A survivor then does a write of its own first, as real programs
 * do, and the whole segment is observed through the public API and the
 * heap walk: every named object with its kind, reference count and content
 * (reference targets with theirs), the object and name counts, the free
 * bytes, used blocks. That text must equal exactly the one of "before" (the
 * operation never ran) or of "after" (it ran to its end), both computed the
 * same way on a fresh segment.
 *
 * A chain kills up to SWEEP_CHAIN_MAX holders in a row: holder i runs on
 * the state the holders before it left, each killed at its own point; the
 * expected states are then every subset of the chain run to completion, in
 * order.
 *
 * Every run starts from a fresh anonymous segment of the same size built by
 * the same setup, so addresses, free bytes and the stores an operation makes
 * repeat exactly; the survivor and the observation run in a forked child
 * under a time bound (several at once: taking a lock from a dead holder
 * waits for the end of a 20 ms sleep slice), so that a wedged or corrupt
 * segment is reported with its kill point instead of hanging or crashing
 * the suite. Holders and survivors find their objects with sweep_obj,
 * without the segment lock, as a program that looked them up earlier. */
#ifndef MPS_TEST_SWEEP_H
#define MPS_TEST_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

#define SWEEP_CHAIN_MAX 3
#define SWEEP_TEXT_MAX  16384

typedef void (*sweep_setup_fn)(mps_segment_t *seg);
/* The operation, in the traced child: 0 on success. */
typedef int (*sweep_run_fn)(mps_segment_t *seg);
/* Whether a kill at this point is of interest (chains): seg as the child
 * left it after a store, tid the child's. */
typedef bool (*sweep_filter_fn)(mps_segment_t *seg, pid_t tid);

struct sweep_holder {
	const char *name;
	sweep_run_fn run;
	sweep_filter_fn filter;   /* earlier holders of a chain: NULL = every point */
};

/* The crash costs docs/design.md §11.4 documents, which a case may allow:
 * SWEEP_LEAK_REF: one reference leaked (a count taken or about to drop,
 *   and the process dies before its journal entry says so): "before" or
 *   "after" but one object's count is one higher, nothing else differs;
 * SWEEP_LEAK_OWN: what the dying process itself held leaks (an unnamed
 *   object it created, an object whose name it removed): "before" or
 *   "after" but reference counts higher, at most one more object, fewer
 *   free bytes, more used blocks; heap walk clean.
 * Each such point is counted (stats.leaked) and logged by the suite;
 * MPS_SWEEP_STRICT=1 counts them as bad instead. */
enum { SWEEP_LEAK_NONE = 0, SWEEP_LEAK_REF = 1, SWEEP_LEAK_OWN = 2 };

struct sweep_case {
	const char *name;
	size_t size;              /* segment bytes; 0: MPS_SEG_MIN_SIZE */
	sweep_setup_fn setup;     /* "before": the objects, by name */
	sweep_setup_fn survive;   /* the survivor's first write; asserts nothing,
	                             must not hang; its result is part of the text */
	struct sweep_holder holder[SWEEP_CHAIN_MAX];
	int n;                    /* holders: 1 (one operation) to SWEEP_CHAIN_MAX */
	bool unchanged;           /* "after" observes as "before" (a lookup) */
	int leak;                 /* SWEEP_LEAK_*: the documented leak allowed */
};

/* How much is killed. Every store of every holder is a kill point, and
 * every point of the last holder is replayed (the segment rebuilt as the
 * holder left it after that store, the holder itself a zombie so that its
 * tid reads as dead). Besides, some points are killed for real (the holder
 * started again, stepped to the store and SIGKILLed), which must leave
 * exactly what the replay left: `kills` points of a single operation and
 * `chain_kills` of a chain (in its first combination), by a stride with an
 * offset seeded by the case's name (MPS_SWEEP_SEED changes it), the last
 * point always. The earlier holders of a chain stop at `chain_points` of
 * the points their filter accepts (half that each in a chain of three).
 * MPS_SWEEP=full: every point of a single operation killed for real, every
 * accepted point of the first holder of a chain of two, and four times the
 * default in a chain of three. MPS_SWEEP_TRACE=1 prints every observation
 * (stderr). */
struct sweep_plan {
	bool full;
	bool strict;              /* MPS_SWEEP_STRICT=1: no leak allowed */
	int kills;
	int chain_points;
	int chain_kills;
	unsigned seed;
};
struct sweep_plan sweep_plan_from_env(void);

struct sweep_stats {
	int stores;               /* stores of a single holder */
	int points;               /* kill points of the last holder (over the chain choices) */
	int killed;               /* points replayed */
	int real;                 /* points killed for real */
	int as_before, as_after;
	int leaked;               /* a documented leak (the case's leak kind) */
	int bad;                  /* neither: each reported with cr_log_error */
	double seconds;
	long steps;               /* single steps taken */
};

/* Sweeps c as plan says; failures are logged (cr_log_error, with op, store
 * index and the difference) and counted in stats->bad, which the caller
 * asserts on, so that one run reports every bad point. */
void sweep_case(const struct sweep_case *c, const struct sweep_plan *plan,
                struct sweep_stats *stats);

/* The observation text of seg (used by the suite's own checks). */
void sweep_observe(mps_segment_t *seg, char *text, size_t cap);

/* The object called name, found without taking the segment lock: as a
 * program that looked its objects up before holds their pointers, so that
 * a holder or survivor touches nothing but the structure it works on
 * (a lookup would recover a dead holder's segment lock first). NULL when
 * absent. */
void *sweep_obj(mps_segment_t *seg, const char *name);

/* Whether got (an observation) is want but for a leak of kind leak
 * (SWEEP_LEAK_*): sweep_leak.c. */
bool sweep_leak_match(const char *got, const char *want, int leak);

/* Whether thread tid holds lock (a filter reads a stopped holder's locks). */
bool sweep_holds(const mps_lock_t *lock, pid_t tid);

#endif
