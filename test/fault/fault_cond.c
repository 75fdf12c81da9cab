/* Condition: a bounded queue (4 slots) under a Lock, with not_empty and
 * not_full Conditions. Even children produce a quota of items, odd children
 * consume; at most one producer and one consumer die, so both roles
 * survive. Victims die waiting in a Condition (leaving a waiter count behind:
 * SPEC 5), holding the lock (the next acquirer, or a waiter's re-acquire,
 * gets EOWNERDEAD), or elsewhere.
 *
 * Push and pop each commit with one store of tail / head under the lock, so
 * a death leaves the queue consistent. A consumer that dies between its pop
 * and recording the item takes that item with it: at most one per consumer
 * killed "holding". Everything else every producer committed must be consumed
 * exactly once by the survivors (no duplicates, nothing left in the queue),
 * and a surviving producer must finish its quota.
 *
 * No lost wake-up: with a producer and a consumer alive, a wait that runs out
 * its (long) timeout, or lasts anywhere near it, is a failure. When the
 * surviving producers have exited, the parent sets prod_done and notifies
 * all, so consumers then drain the queue and leave. */
#include <errno.h>

#include "fault.h"

#define ROLE_PRODUCER 0
#define ROLE_CONSUMER 1
#define MIN_QUOTA 150

static bool lock_queue(struct fault_arena *a, int me)
{
	fault_set_phase(a, me, PH_ACQUIRING);
	int64_t t0 = fault_now_ns();
	int rc = mps_lock_acquire(&a->lock, fault_wait_s(a));
	if (rc == EOWNERDEAD)
		atomic_fetch_add(&a->eownerdead, 1);
	else if (rc != 0) {
		fault_violation(a, "child %d: lock returned %s after %.0f ms", me, fault_code(rc),
		                fault_ms_since(t0));
		return false;
	}
	fault_set_phase(a, me, PH_HOLDING);
	return true;
}

static void unlock_queue(struct fault_arena *a, int me)
{
	fault_set_phase(a, me, PH_RELEASING);
	int rc = mps_lock_release(&a->lock);
	if (rc != 0)
		fault_violation(a, "child %d: unlock returned %s", me, fault_code(rc));
	fault_set_phase(a, me, PH_OUTSIDE);
}

static unsigned queued(struct fault_arena *a)
{
	return atomic_load(&a->tail) - atomic_load(&a->head);
}

/* One wait; false on a lost wake-up or an error (the lock is held either way). */
static bool wait_on(struct fault_arena *a, int me, mps_cond_t *c, const char *what)
{
	fault_set_phase(a, me, PH_COND_WAIT);
	int64_t t0 = fault_now_ns();
	int rc = mps_cond_wait(c, &a->lock, fault_wait_s(a));
	double ms = fault_ms_since(t0);
	fault_set_phase(a, me, PH_HOLDING);
	if (rc == EOWNERDEAD)
		atomic_fetch_add(&a->eownerdead, 1);
	else if (rc != 0) {
		fault_violation(a, "child %d: %s wait returned %s after %.0f ms (queue %u/%d, "
		                "producers done %d)", me, what, fault_code(rc), ms, queued(a),
		                FAULT_QUEUE_CAP, atomic_load(&a->prod_done));
		return false;
	}
	if (ms > fault_stall_ms(a))
		fault_violation(a, "child %d: %s wait took %.0f ms (lost wake-up?)", me, what, ms);
	return true;
}

static void push(struct fault_arena *a, int me, int32_t seq)
{
	uint32_t tail = atomic_load(&a->tail);
	a->buf[tail % FAULT_QUEUE_CAP] = me * FAULT_MAX_ITEMS + seq;
	atomic_store(&a->tail, tail + 1);   /* commit */
	a->next_seq[me] = seq + 1;
}

static void pop(struct fault_arena *a, int me)
{
	uint32_t head = atomic_load(&a->head);
	int32_t id = a->buf[head % FAULT_QUEUE_CAP];
	atomic_store(&a->head, head + 1);   /* commit */
	if (id < 0 || id >= FAULT_MAX_CHILDREN * FAULT_MAX_ITEMS) {
		fault_violation(a, "child %d popped garbage %d", me, (int)id);
		return;
	}
	if (atomic_fetch_add(&a->seen[id], 1) != 0)
		fault_violation(a, "item %d of producer %d consumed twice", (int)(id % FAULT_MAX_ITEMS),
		                (int)(id / FAULT_MAX_ITEMS));
}

static int producer(struct fault_arena *a, int me)
{
	for (int32_t seq = 0; seq < a->quota[me]; seq++) {
		if (!lock_queue(a, me))
			return 1;
		while (queued(a) >= FAULT_QUEUE_CAP) {
			if (!wait_on(a, me, &a->not_full, "not_full")) {
				unlock_queue(a, me);
				return 1;
			}
		}
		push(a, me, seq);
		mps_cond_notify(&a->not_empty, 1);
		unlock_queue(a, me);
		atomic_fetch_add(&a->child[me].ops, 1);
	}
	return 0;
}

static int consumer(struct fault_arena *a, int me)
{
	for (;;) {
		if (!lock_queue(a, me))
			return 1;
		while (queued(a) == 0 && !atomic_load(&a->prod_done)) {
			if (!wait_on(a, me, &a->not_empty, "not_empty")) {
				unlock_queue(a, me);
				return 1;
			}
		}
		if (queued(a) == 0) {
			unlock_queue(a, me);
			return 0;
		}
		pop(a, me);
		mps_cond_notify(&a->not_full, 1);
		unlock_queue(a, me);
		atomic_fetch_add(&a->child[me].ops, 1);
	}
}

static int cond_child(struct fault_arena *a, int me)
{
	return a->child[me].role == ROLE_PRODUCER ? producer(a, me) : consumer(a, me);
}

static void setup(struct fault_round *r)
{
	for (int i = 0; i < r->sc->children; i++) {
		r->a->child[i].role = i % 2 ? ROLE_CONSUMER : ROLE_PRODUCER;
		r->a->quota[i] = MIN_QUOTA + (int32_t)(fault_rand(&r->rng) % (FAULT_MAX_ITEMS - MIN_QUOTA));
	}
}

static bool killable(const struct fault_round *r, int idx)
{
	return r->killed_role[r->a->child[idx].role] == 0;
}

static void on_kill(struct fault_round *r, int victim)
{
	struct fault_arena *a = r->a;
	int role = a->child[victim].role;
	fault_note_lock_death(r, victim, mps_lock_owner(&a->lock));
	if (role == ROLE_CONSUMER && atomic_load(&a->child[victim].phase) == PH_HOLDING)
		r->lost_items_allowed++;
	r->killed_role[role]++;
}

/* When every surviving producer has exited: prod_done, and wake everyone. */
static void drive(struct fault_round *r)
{
	struct fault_arena *a = r->a;
	int64_t deadline = fault_now_ns() + (int64_t)((2.5 * a->hang
		+ (atomic_load(&a->watcher_lost) ? FAULT_BACKSTOP_S : 0)) * 1e9);
	for (int i = 0; i < r->sc->children; i++)
		if (a->child[i].role == ROLE_PRODUCER && !r->killed[i] && !fault_wait_exit(r, i, deadline))
			fault_fail(r, "producer %d did not finish (stuck %s, %d of %d items)", i,
			           fault_phase_name(atomic_load(&a->child[i].phase)), (int)a->next_seq[i],
			           (int)a->quota[i]);
	int rc = mps_lock_acquire(&a->lock, fault_wait_s(a));
	if (rc == EOWNERDEAD)
		atomic_fetch_add(&a->eownerdead, 1);
	else if (rc != 0)
		fault_fail(r, "parent's lock returned %s", fault_code(rc));
	atomic_store(&a->prod_done, 1);
	mps_cond_notify_all(&a->not_empty);
	mps_cond_notify_all(&a->not_full);
	if (rc == 0 || rc == EOWNERDEAD)
		mps_lock_release(&a->lock);
}

/* Items of producer p: committed ones consumed once; none beyond. */
static int missing_items(struct fault_round *r, int p)
{
	struct fault_arena *a = r->a;
	int32_t n = a->next_seq[p], missing = 0;
	if (!r->killed[p] && n != a->quota[p])
		fault_fail(r, "surviving producer %d made %d of %d items", p, (int)n, (int)a->quota[p]);
	for (int32_t seq = 0; seq < FAULT_MAX_ITEMS; seq++) {
		unsigned s = atomic_load(&a->seen[p * FAULT_MAX_ITEMS + seq]);
		if (seq < n && s == 0)
			missing++;
		else if (s != 0 && (seq > n || (seq == n && !r->killed[p])))
			fault_fail(r, "item %d of producer %d consumed but never committed", (int)seq, p);
	}
	return missing;
}

static void check(struct fault_round *r)
{
	struct fault_arena *a = r->a;
	fault_final_lock_check(r, &a->lock);
	if (queued(a) != 0)
		fault_fail(r, "%u items left in the queue", queued(a));
	int missing = 0;
	for (int p = 0; p < r->sc->children; p += 2)
		missing += missing_items(r, p);
	if (missing > r->lost_items_allowed)
		fault_fail(r, "%d committed items never consumed (%d consumer deaths mid-pop)",
		           missing, r->lost_items_allowed);
}

const struct fault_scenario fault_cond_scenario = {
	.name = "Cond", .prim = PRIM_COND, .children = 4,
	.setup = setup, .child = cond_child, .killable = killable, .on_kill = on_kill,
	.drive = drive, .check = check,
};
