/* In-process only, not cross-process: liburcu (memb flavour) against an
 * mpsync Lock for read-mostly data. r reader threads read a two-field
 * record (checking a + b == CHECKSUM) as fast as they can while a writer
 * replaces it every 1 ms; reads per second over all readers.
 *
 * liburcu's readers touch no shared cache line, so it is expected to win by
 * a wide margin: this row shows what a lock costs readers, not a contest.
 * Threads only: liburcu's memb flavour keeps its reader registry in
 * process memory. */
#include <math.h>
#include <stdlib.h>
#include <urcu/urcu-memb.h>

#include <mpsync.h>
#include "bench.h"

#define CHECKSUM 1000000u
#define WRITE_EVERY_NS 1000000

struct record {
	uint64_t a, b;
};

static struct record *rcu_rec;          /* RCU-protected */
static struct record locked_rec;        /* protected by lock */
static mps_lock_t lock;
static bool use_rcu;

static void write_rcu(uint64_t i)
{
	struct record *fresh = malloc(sizeof *fresh), *old = rcu_rec;
	fresh->a = i % CHECKSUM;
	fresh->b = CHECKSUM - fresh->a;
	rcu_assign_pointer(rcu_rec, fresh);
	urcu_memb_synchronize_rcu();
	free(old);
}

static void write_locked(uint64_t i)
{
	mps_lock_acquire(&lock, MPS_FOREVER);
	locked_rec.a = i % CHECKSUM;
	locked_rec.b = CHECKSUM - locked_rec.a;
	mps_lock_release(&lock);
}

static uint64_t read_rcu(struct arena *a)
{
	uint64_t n = 0, bad = 0;
	urcu_memb_register_thread();
	while (!worker_stop(a)) {
		urcu_memb_read_lock();
		struct record *r = rcu_dereference(rcu_rec);
		bad += r->a + r->b != CHECKSUM;
		urcu_memb_read_unlock();
		n++;
	}
	urcu_memb_unregister_thread();
	return bad ? 0 : n;
}

static uint64_t read_locked(struct arena *a)
{
	uint64_t n = 0, bad = 0;
	while (!worker_stop(a)) {
		mps_lock_acquire(&lock, MPS_FOREVER);
		bad += locked_rec.a + locked_rec.b != CHECKSUM;
		mps_lock_release(&lock);
		n++;
	}
	return bad ? 0 : n;
}

static void worker(struct arena *a, int idx)
{
	worker_ready(a, idx);
	if (idx == 0) {
		for (uint64_t i = 1; !worker_stop(a); i++) {
			if (use_rcu)
				write_rcu(i);
			else
				write_locked(i);
			sleep_ns(WRITE_EVERY_NS);
		}
	} else {
		a->w[idx].count = use_rcu ? read_rcu(a) : read_locked(a);
	}
	worker_done(a, idx);
}

struct rep {
	double rate, cpu;           /* reads/s; readers' CPU ns per read */
};

static struct rep run_once(bool rcu, int readers, double duration)
{
	struct arena *a = arena_new();
	struct rep r;
	use_rcu = rcu;
	mps_lock_init(&lock);
	locked_rec = (struct record){ 0, CHECKSUM };
	rcu_rec = calloc(1, sizeof *rcu_rec);
	rcu_rec->b = CHECKSUM;
	team_run(a, MODE_THREADS, readers + 1, worker, duration);
	uint64_t total = 0;
	for (int i = 1; i <= readers; i++)
		total += a->w[i].count;
	r.rate = (double)total * 1e9 / (double)team_elapsed(a, readers + 1);
	r.cpu = total ? (double)team_cpu(a, 1, readers) / (double)total : NAN;
	free(rcu_rec);
	arena_free(a);
	return r;
}

bool urcu_available(void)
{
	return true;
}

static void record(const char *impl, enum role role, int readers, const struct rep *reps, int n)
{
	struct result res;
	double rate[64], cpu[64];
	for (int i = 0; i < n; i++) {
		rate[i] = reps[i].rate;
		cpu[i] = reps[i].cpu;
	}
	result_init(&res, "urcu/read-mostly", MODE_THREADS, readers, impl, role, UNIT_RATE, HIGHER_BETTER);
	result_set_reps(&res, rate, n);
	res.cpu_ns = median(cpu, n);
	snprintf(res.note, sizeof res.note, "in-process only, not cross-process");
	results_add(&res);
}

/* One repetition: both implementations back to back, alternating which
 * goes first. */
static void rep_pair(int r, int readers, double duration, struct rep *rcu, struct rep *locked)
{
	if (r % 2 == 0) {
		*rcu = run_once(true, readers, duration);
		*locked = run_once(false, readers, duration);
	} else {
		*locked = run_once(false, readers, duration);
		*rcu = run_once(true, readers, duration);
	}
}

void run_urcu(const struct opts *o)
{
	static struct rep rcu[64], locked[64];
	int n = o->reps > 64 ? 64 : o->reps;
	if (!want(o, "urcu/read-mostly") || !o->threads)
		return;
	for (int readers = o->full ? 1 : o->ncpu; readers <= o->ncpu; readers++) {
		run_once(true, readers, o->duration / 4);
		run_once(false, readers, o->duration / 4);
		for (int r = 0; r < n; r++) {
			progress("urcu/read-mostly readers=%d  rep %d/%d", readers, r + 1, n);
			rep_pair(r, readers, o->duration, &rcu[r], &locked[r]);
		}
		record("mpsync", ROLE_MPS, readers, locked, n);
		record("liburcu-memb", ROLE_REF, readers, rcu, n);
	}
}
