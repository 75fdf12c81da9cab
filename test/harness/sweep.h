/* Kill at every store: the crash-safety sweep of SPEC §6 (issue 11).
 *
 * An operation runs in a forked child that this process traces; the child
 * is single-stepped and, after its k-th store to the segment (a step after
 * which some byte of the segment differs), SIGKILLed. A survivor then does
 * a write of its own first, as real programs do, and the whole segment is
 * observed through the public API and the heap walk: every named object
 * with its kind, reference count and content (reference targets with theirs),
 * the object and name counts, the free bytes. That text must equal exactly
 * the one of "before" (the operation never ran) or of "after" (it ran to its
 * end), both computed the same way on a fresh segment.
 *
 * A chain kills up to SWEEP_CHAIN_MAX holders in a row: holder i runs on
 * the state the holders before it left, each killed at its own point; the
 * expected states are then every subset of the chain run to completion, in
 * order.
 *
 * Every run starts from a fresh anonymous segment of the same size built by
 * the same setup, so addresses, free bytes and the stores an operation makes
 * repeat exactly; the survivor and the observation run in a forked child
 * under a time bound, so that a wedged or corrupt segment is reported with
 * its kill point instead of hanging or crashing the suite. */
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

struct sweep_case {
	const char *name;
	size_t size;              /* segment bytes; 0: MPS_SEG_MIN_SIZE */
	sweep_setup_fn setup;     /* "before": the objects, by name */
	sweep_setup_fn survive;   /* the survivor's first write; asserts nothing,
	                             must not hang; its result is part of the text */
	struct sweep_holder holder[SWEEP_CHAIN_MAX];
	int n;                    /* holders: 1 (one operation) to SWEEP_CHAIN_MAX */
	bool unchanged;           /* "after" observes as "before" (a lookup) */
};

/* How much is killed. Every store of every holder is a kill point; each
 * is replayed (the segment rebuilt as the holder left it at that store,
 * the holder itself a zombie, so its tid reads as dead). Besides, `kills`
 * points of the last holder, chosen by a stride with an offset seeded by
 * the case's name, are killed for real (the holder stepped to the store and
 * SIGKILLed), which must leave exactly what the replay left; and the
 * earlier holders of a chain stop at `chain_points` of their accepted
 * points. MPS_SWEEP=full: every point for real and every chain point.
 * MPS_SWEEP_SEED changes the offsets. */
struct sweep_plan {
	bool full;
	int kills;
	int chain_points;
	unsigned seed;
};
struct sweep_plan sweep_plan_from_env(void);

struct sweep_stats {
	int stores;               /* stores of a single holder */
	int points;               /* kill points of the last holder (over the chain choices) */
	int killed;               /* points replayed */
	int real;                 /* points killed for real */
	int as_before, as_after;
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

/* Whether thread tid holds the lock word at *word. */
bool sweep_holds(const void *word, pid_t tid);

#endif
