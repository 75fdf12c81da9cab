/* Barrier in lock-step, with abort, reset, failing actions and timeouts.
 *
 * All threads are the parties of one Barrier and walk through generations
 * g = 1, 2, ...; every thread knows what generation g does:
 *   normal   each thread writes slot[g % 2][self] = g (plain memory), waits
 *            with an action; the action (last arriver, before anyone leaves)
 *            sees every slot at g, and the previous normal pass's indices
 *            0..parties-1 each exactly once; after the pass every thread sees
 *            every slot at g and the action's pass count. A waiter of pass g
 *            counted in pass g+1 would show as a stale slot.
 *   abort    one thread aborts instead of waiting: all others MPS_EBROKEN.
 *   reset    one thread waits until the others are all waiting, then resets:
 *            all others MPS_EBROKEN, and the barrier is usable again.
 *   failing  the action returns an error: its caller gets it, the rest
 *            MPS_EBROKEN.
 *   timeout  one party arrives 10 ms late, another waits only 2 ms (one in 256): either it
 *            times out (ETIMEDOUT for it, MPS_EBROKEN for all others) or the
 *            barrier tripped in time (0 for all).
 * After every special generation the threads meet on a second Barrier whose
 * action checks the outcomes and resets the first one. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include <mpsync.h>
#include "stress.h"

#define ACTION_ERROR 42

enum kind { NORMAL, ABORT, RESET, FAILING, TIMEOUT };

struct shared {
	mps_barrier_t barrier, meeting;
	unsigned parties;
	unsigned slot[2][STRESS_MAX_THREADS];   /* plain: ordered by the barrier */
	unsigned passes;                        /* plain: written by the action */
	bool stop;                              /* plain: written by the action */
	int result[STRESS_MAX_THREADS];         /* plain: outcomes of a special generation */
	atomic_uint indices[2];
	unsigned counts[5];                     /* special generations seen, by kind */
	unsigned tripped_in_time;
	double end;
};

struct worker {
	int index;
	uint32_t rng;
	unsigned gen, normal;
};

static struct shared S;

static enum kind kind_of(unsigned g)
{
	if (g % 256 == 255)
		return TIMEOUT;
	switch (g % 16) {
	case 5:
		return ABORT;
	case 9:
		return RESET;
	case 13:
		return FAILING;
	default:
		return NORMAL;
	}
}

static void check_slots(unsigned g, const char *who)
{
	for (unsigned j = 0; j < S.parties; j++)
		if (S.slot[g % 2][j] != g)
			stress_violation("%s pass %u: thread %u is at %u", who, g, j, S.slot[g % 2][j]);
}

/* Every index of the previous normal pass was handed out exactly once. */
static void check_indices(unsigned normal)
{
	if (normal == 0)
		return;
	unsigned all = S.parties == 32 ? ~0u : (1u << S.parties) - 1;
	unsigned seen = atomic_exchange(&S.indices[(normal - 1) % 2], 0);
	if (seen != all)
		stress_violation("normal pass %u handed out indices %#x, expected %#x", normal, seen, all);
}

static int action(void *arg)
{
	const struct worker *w = arg;
	enum kind k = kind_of(w->gen);
	if (k == FAILING)
		return ACTION_ERROR;
	if (k != NORMAL)
		return 0;   /* timeout generation that tripped in time */
	check_slots(w->gen, "action of");
	check_indices(w->normal);
	S.passes++;
	if (stress_now() > S.end)
		S.stop = true;
	return 0;
}

static void normal_pass(struct worker *w)
{
	unsigned g = w->gen, index = ~0u;
	S.slot[g % 2][w->index] = g;
	double started = stress_now();
	int r = mps_barrier_wait_action(&S.barrier, stress_hang_timeout(), action, w, &index);
	if (r != 0 || stress_overdue(started))
		stress_violation("pass %u: wait returned %s after %.1f s", g, mps_strerror(r),
		                 stress_now() - started);
	if (index < S.parties)
		atomic_fetch_or(&S.indices[w->normal % 2], 1u << index);
	else
		stress_violation("pass %u: index %u", g, index);
	check_slots(g, "after");
	if (S.passes != w->normal + 1)
		stress_violation("pass %u: action ran %u times, expected %u", g, S.passes, w->normal + 1);
	w->normal++;
}

static int wait_plain(struct worker *w, double timeout)
{
	double started = stress_now();
	int r = mps_barrier_wait_action(&S.barrier, timeout, action, w, NULL);
	if (timeout > 1 && stress_overdue(started))
		stress_violation("generation %u: wait took %.1f s (lost wake-up)", w->gen,
		                 stress_now() - started);
	return r;
}

/* The resetter: waits until all others are waiting, then resets. */
static int reset_when_full(void)
{
	double give_up = stress_now() + stress_hang_timeout();
	while (mps_barrier_n_waiting(&S.barrier) < S.parties - 1) {
		if (stress_now() > give_up) {
			stress_violation("n_waiting stuck at %u of %u", mps_barrier_n_waiting(&S.barrier),
			                 S.parties - 1);
			break;
		}
		stress_sleep(20e-6);
	}
	return mps_barrier_reset(&S.barrier);
}

static int special_pass(struct worker *w, enum kind k)
{
	unsigned chosen = w->gen % S.parties, me = (unsigned)w->index;
	switch (k) {
	case ABORT:
		if (me != chosen)
			return wait_plain(w, stress_hang_timeout());
		stress_sleep((stress_rand(&w->rng) % 300) * 1e-6);
		return mps_barrier_abort(&S.barrier);
	case RESET:
		return me == chosen ? reset_when_full() : wait_plain(w, stress_hang_timeout());
	case TIMEOUT:
		if (me == chosen)
			stress_sleep(10e-3);
		return wait_plain(w, me == (chosen + 1) % S.parties ? 2e-3 : stress_hang_timeout());
	default:
		return wait_plain(w, stress_hang_timeout());
	}
}

static unsigned count_results(int value)
{
	unsigned n = 0;
	for (unsigned j = 0; j < S.parties; j++)
		n += S.result[j] == value;
	return n;
}

/* Expected outcomes of a special generation, seen from the meeting's action. */
static void check_special(unsigned g, enum kind k)
{
	unsigned chosen = g % S.parties, broken = count_results(MPS_EBROKEN);
	bool tripped = count_results(0) == S.parties, ok;
	switch (k) {
	case ABORT:
	case RESET:
		ok = S.result[chosen] == 0 && broken == S.parties - 1;
		break;
	case FAILING:
		ok = count_results(ACTION_ERROR) == 1 && broken == S.parties - 1;
		break;
	default:
		S.tripped_in_time += tripped;
		ok = tripped || (S.result[(chosen + 1) % S.parties] == ETIMEDOUT && broken == S.parties - 1);
	}
	if (!ok)
		stress_violation("generation %u (kind %d): %u broken, results of 0, 1, 2: %d %d %d",
		                 g, (int)k, broken, S.result[0], S.result[1], S.result[2]);
	if (ok && k != RESET && !tripped && !mps_barrier_broken(&S.barrier))
		stress_violation("generation %u (kind %d): barrier not broken", g, (int)k);
	S.counts[k]++;
}

static int meeting_action(void *arg)
{
	const struct worker *w = arg;
	check_special(w->gen, kind_of(w->gen));
	mps_barrier_reset(&S.barrier);
	if (mps_barrier_broken(&S.barrier) || mps_barrier_n_waiting(&S.barrier) != 0)
		stress_violation("generation %u: barrier not usable after reset", w->gen);
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	double give_up = S.end + 2 * stress_hang_timeout();
	for (w->gen = 1; !S.stop; w->gen++) {
		enum kind k = kind_of(w->gen);
		if (k == NORMAL) {
			normal_pass(w);
			continue;
		}
		S.result[w->index] = special_pass(w, k);
		int r = mps_barrier_wait_action(&S.meeting, stress_hang_timeout(), meeting_action, w, NULL);
		if (r != 0)
			stress_violation("meeting after generation %u returned %s", w->gen, mps_strerror(r));
		if (stress_now() > give_up) {
			stress_violation("generation %u: never stopped", w->gen);
			break;
		}
	}
	return NULL;
}

static void check_single_party(void)
{
	mps_barrier_t one;
	unsigned index = 1;
	bool ok = mps_barrier_init(&one, 1, MPS_FOREVER) == 0;
	for (int i = 0; i < 1000 && ok; i++)
		ok = mps_barrier_wait(&one, 0, &index) == 0 && index == 0;
	stress_expect(ok && mps_barrier_n_waiting(&one) == 0 && !mps_barrier_broken(&one),
	              "Barrier(1) passes at once, index 0");
}

int main(int argc, char **argv)
{
	struct stress_config cfg;
	struct worker w[STRESS_MAX_THREADS];
	stress_setup(argc, argv, "stress_barrier", &cfg);
	for (int i = 0; i < cfg.threads; i++)
		w[i] = (struct worker){ .index = i, .rng = 0x9e3779b9u * (uint32_t)(i + 1) };
	S.parties = (unsigned)cfg.threads;
	mps_barrier_init(&S.barrier, S.parties, MPS_FOREVER);
	mps_barrier_init(&S.meeting, S.parties, MPS_FOREVER);
	S.end = stress_now() + cfg.seconds;
	stress_run(cfg.threads, worker_main, w, sizeof *w);

	stress_note("%u passes; special generations: %u abort, %u reset, %u failing action, "
	            "%u timeout (%u tripped in time)", S.passes, S.counts[ABORT], S.counts[RESET],
	            S.counts[FAILING], S.counts[TIMEOUT], S.tripped_in_time);
	stress_expect(stress_take_violations() == 0 && S.passes > 0,
	              "lock-step generations with abort, reset, failing action, timeout");
	stress_expect(!mps_barrier_broken(&S.barrier) && mps_barrier_n_waiting(&S.barrier) == 0
	              && mps_barrier_parties(&S.barrier) == S.parties,
	              "usable, empty, %u parties at the end", S.parties);
	check_single_party();
	return stress_finish();
}
