/* Condition: two groups of waiters in one 64-bit word, a futex sequence word,
 * and the lock's offset for notify_all's requeue.
 *
 * Encoding of groups (64 bits):
 *   bits  0..11  unsignalled  G1 members not yet chosen by a notify
 *   bits 12..23  signalled    G1 members chosen, not yet returned
 *   bits 24..35  g2_count     G2 members (waiters newer than G1)
 *   bits 36..63  g2_id        G2's group number; G1 is g2_id - 1 (mod 2^28)
 * seq: the futex word; bumped by every notify that chooses anyone.
 * lock_offset: lock word minus this object; 0 unknown, 1 conflicting.
 *
 * Why groups: notify(n) must wake exactly min(n, waiters) of the threads
 * waiting at that moment. A plain permit counter lets a thread that starts
 * waiting later take a permit meant for an earlier one (a woken waiter that
 * waits again steals its neighbour's wake-up, and CPython's test_notify sees
 * it). So a waiter joins G2; notify chooses from G1, and only when G1 has no
 * unchosen member left does it close G1 and promote G2 to G1. Within G1 the
 * choices are anonymous: any G1 member may return for any G1 choice, since
 * all of them waited before every such notify.
 *
 * Who changes what (every change is one CAS on groups; the caller holds the
 * lock for wait and notify, as Python requires):
 *   wait     reads seq, joins G2 (g2_count+1, remembers g2_id as its group),
 *            releases the lock fully, sleeps on seq with the futex bitset bit
 *            (group & 31), then on every wake-up decides:
 *              group closed (neither G1 nor G2)     -> chosen: return 0
 *              in G1 and signalled > 0              -> take one: return 0
 *              timed out or interrupted, in G1      -> unsignalled-1
 *              timed out or interrupted, in G2      -> g2_count-1
 *              otherwise                            -> sleep again
 *            A waiter that times out while a choice is pending takes the
 *            choice, so a notify is never lost. Then it re-acquires the lock
 *            (fully, at the old RLock depth), on every path.
 *   notify   moves up to n from unsignalled to signalled (promoting G2 when G1
 *            runs out), bumps seq, and wakes exactly that many sleepers of the
 *            chosen group's bit. Nobody waiting: one load, no syscall, and
 *            nothing is remembered.
 *   notify_all  closes both groups in one CAS (g2_id += 2, counts 0), bumps
 *            seq, and with the lock held by the caller moves every sleeper
 *            onto the lock word with FUTEX_CMP_REQUEUE (after setting the lock's
 *            WAITERS bit): O(1) syscalls, no herd into a held lock.
 * No sleeper of G1 is left behind: at most `unsignalled` G1 members sleep
 * (each choice wakes one sleeper, and a member re-sleeps only when no choice
 * is pending), so G1 is closed only when none of its members sleeps.
 * Different bitset bits keep a wake for G1 from landing on a G2 sleeper.
 * A waiter that dies leaves a count one high: a later notify may choose it
 * (a lost notify for a dead thread), never a hang. */
#include <errno.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include <mpsync/cond.h>
#include "deadline.h"
#include "futex.h"
#include "interrupt.h"
#include "lockword.h"
#include "owner.h"

_Static_assert(sizeof(mps_cond_t) <= 16, "Condition is at most 16 bytes (ABI)");

#define COUNT_BITS   12
#define COUNT_MAX    ((1u << COUNT_BITS) - 1)
#define UNSIG_SHIFT  0
#define SIG_SHIFT    12
#define G2N_SHIFT    24
#define G2ID_SHIFT   36
#define ID_MASK      0xfffffffu
#define OFFSET_UNKNOWN   0
#define OFFSET_CONFLICT  1

struct groups {
	uint32_t unsignalled, signalled, g2_count, g2_id;
};

static struct groups unpack(uint64_t w)
{
	struct groups g = {
		(uint32_t)(w >> UNSIG_SHIFT) & COUNT_MAX,
		(uint32_t)(w >> SIG_SHIFT) & COUNT_MAX,
		(uint32_t)(w >> G2N_SHIFT) & COUNT_MAX,
		(uint32_t)(w >> G2ID_SHIFT) & ID_MASK,
	};
	return g;
}

static uint64_t pack(struct groups g)
{
	return (uint64_t)g.unsignalled << UNSIG_SHIFT | (uint64_t)g.signalled << SIG_SHIFT
	     | (uint64_t)g.g2_count << G2N_SHIFT | (uint64_t)(g.g2_id & ID_MASK) << G2ID_SHIFT;
}

static uint32_t g1_id(struct groups g) { return (g.g2_id - 1) & ID_MASK; }
static uint32_t group_bit(uint32_t id) { return 1u << (id & 31); }

void mps_cond_init(mps_cond_t *c)
{
	c->groups = 0;
	c->lock_offset = OFFSET_UNKNOWN;
	a_store(&c->seq, 0);
}

/* Remembers where the lock is, for notify_all; waiters that disagree
 * (different locks, or mappings laid out differently) turn requeue off. */
static void note_lock(mps_cond_t *c, uint32_t *lockword)
{
	intptr_t diff = (char *)lockword - (char *)c;
	uint32_t *slot = (uint32_t *)&c->lock_offset;
	uint32_t want = (diff > INT32_MIN && diff < INT32_MAX) ? (uint32_t)(int32_t)diff : OFFSET_CONFLICT;
	uint32_t cur = a_load_relaxed(slot);
	if (cur == want || cur == OFFSET_CONFLICT)
		return;
	if (cur == OFFSET_UNKNOWN && a_cas(slot, OFFSET_UNKNOWN, want) == OFFSET_UNKNOWN)
		return;
	a_swap(slot, OFFSET_CONFLICT);
}

/* Joins G2; returns the group id, or -1 when the waiter count is at its limit. */
static int64_t join(mps_cond_t *c)
{
	uint64_t w = a_load64(&c->groups), seen;
	for (;;) {
		struct groups g = unpack(w);
		if (g.g2_count == COUNT_MAX || g.unsignalled + g.signalled + g.g2_count >= COUNT_MAX)
			return -1;
		g.g2_count++;
		seen = a_cas64(&c->groups, w, pack(g));
		if (seen == w)
			return g.g2_id;
		w = seen;
	}
}

enum verdict { CHOSEN, CHOSEN_CLOSED, LEFT, SLEEP };

/* Decides after a wake-up; leaving is only allowed when give_up is set. */
static enum verdict decide(mps_cond_t *c, uint32_t mine, bool give_up)
{
	uint64_t w = a_load64(&c->groups), seen;
	for (;;) {
		struct groups g = unpack(w);
		enum verdict v;
		if (mine == g.g2_id) {
			if (!give_up)
				return SLEEP;
			g.g2_count--;
			v = LEFT;
		} else if (mine == g1_id(g)) {
			if (g.signalled) {
				g.signalled--;
				v = CHOSEN;
			} else if (give_up) {
				g.unsignalled--;
				v = LEFT;
			} else {
				return SLEEP;
			}
		} else {
			return CHOSEN_CLOSED;
		}
		seen = a_cas64(&c->groups, w, pack(g));
		if (seen == w)
			return v;
		w = seen;
	}
}

/* Sleeps until chosen or given up; returns the verdict and, in *why, the
 * reason for giving up (ETIMEDOUT or EINTR). */
static enum verdict await(mps_cond_t *c, uint32_t mine, uint32_t seq,
                          const struct mps_deadline *deadline, int *why)
{
	struct mps_deadline slice;
	struct mps_sigguard guard = { .on = false };
	for (;;) {
		/* In slices: notify_all may have moved this sleeper onto the lock
		 * word, where it must notice a dead lock owner like any sleeper;
		 * and a chosen waiter that died leaves its choice to a living one. */
		int r = EINTR;
		if (!mps_sigguard_leave(&guard)) {
			mps_deadline_slice(deadline, MPS_SLICE_NS, &slice);
			r = mps_futex_wait(&c->seq, seq, &slice, group_bit(mine));
		}
		if (r == ETIMEDOUT && !mps_deadline_passed(deadline)) {
			mps_sigguard_enter(&guard);
			r = 0;
		}
		bool give_up = r == ETIMEDOUT || r == EINTR;
		seq = a_load(&c->seq);
		enum verdict v = decide(c, mine, give_up);
		if (v != SLEEP) {
			mps_sigguard_leave(&guard);
			*why = r;
			return v;
		}
	}
}

/* Takes the lock back after a wait, never interrupted, never timed out. */
static int reacquire(uint32_t *lockword, uint32_t self, bool moved_to_lock)
{
	bool was = mps_set_interruptible(false);
	int err = 0;
	if (moved_to_lock || a_cas(lockword, 0, self) != 0)
		err = mps_lockword_acquire_slow(lockword, self, MPS_FOREVER, moved_to_lock);
	mps_set_interruptible(was);
	return err;
}

static int wait_deadline(mps_cond_t *c, uint32_t *lockword, uint32_t *depth,
                         const struct mps_deadline *deadline)
{
	uint32_t self = mps_self_tid();
	if ((a_load_relaxed(lockword) & LW_TID_MASK) != self)
		return EPERM;
	if (deadline->kind == MPS_DEADLINE_POLL)
		return ETIMEDOUT;
	uint32_t seq = a_load(&c->seq);
	int64_t mine = join(c);
	if (mine < 0)
		return EOVERFLOW;
	note_lock(c, lockword);
	uint32_t saved = depth ? *depth : 0;
	if (depth)
		*depth = 0;
	mps_lockword_release(lockword);

	int why = 0;
	enum verdict v = await(c, (uint32_t)mine, seq, deadline, &why);

	int err = reacquire(lockword, self, v == CHOSEN_CLOSED);
	if (depth)
		*depth = saved;
	if (err)
		return err;
	return v == LEFT ? why : 0;
}

static int wait_checked(mps_cond_t *c, uint32_t *lockword, uint32_t *depth, double timeout)
{
	if (mps_timeout_invalid(timeout))
		return EINVAL;
	struct mps_deadline deadline;
	mps_deadline_init(&deadline, timeout);
	return wait_deadline(c, lockword, depth, &deadline);
}

int mps_cond_wait_lock(mps_cond_t *c, mps_lock_t *lock, double timeout)
{
	return wait_checked(c, &lock->word, NULL, timeout);
}

int mps_cond_wait_rlock(mps_cond_t *c, mps_rlock_t *lock, double timeout)
{
	return wait_checked(c, &lock->word, &lock->count, timeout);
}

/* One deadline for the whole loop; the predicate runs with the lock held. */
static int wait_for(mps_cond_t *c, uint32_t *lockword, uint32_t *depth,
                    mps_predicate_fn pred, void *arg, double timeout)
{
	if (mps_timeout_invalid(timeout))
		return EINVAL;
	if ((a_load_relaxed(lockword) & LW_TID_MASK) != mps_self_tid())
		return EPERM;
	if (pred(arg))
		return 0;      /* no clock read when nothing waits */
	struct mps_deadline deadline;
	mps_deadline_init(&deadline, timeout);
	for (;;) {
		if (mps_deadline_passed(&deadline))
			return ETIMEDOUT;
		int err = wait_deadline(c, lockword, depth, &deadline);
		if (err && err != ETIMEDOUT)
			return err;
		if (pred(arg))
			return 0;
	}
}

int mps_cond_wait_for_lock(mps_cond_t *c, mps_lock_t *lock,
                           mps_predicate_fn pred, void *arg, double timeout)
{
	return wait_for(c, &lock->word, NULL, pred, arg, timeout);
}

int mps_cond_wait_for_rlock(mps_cond_t *c, mps_rlock_t *lock,
                            mps_predicate_fn pred, void *arg, double timeout)
{
	return wait_for(c, &lock->word, &lock->count, pred, arg, timeout);
}

static unsigned take(uint32_t *from, uint32_t *to, unsigned n)
{
	unsigned k = n < *from ? n : *from;
	*from -= k;
	*to += k;
	return k;
}

int mps_cond_notify(mps_cond_t *c, unsigned n)
{
	uint64_t w = a_load64(&c->groups), seen;
	unsigned old_chosen, new_chosen;
	uint32_t old_g1, new_g1;
	for (;;) {
		struct groups g = unpack(w);
		if (n == 0 || (g.unsignalled == 0 && g.g2_count == 0))
			return 0;
		old_g1 = new_g1 = g1_id(g);
		old_chosen = take(&g.unsignalled, &g.signalled, n);
		new_chosen = 0;
		if (old_chosen < n && g.g2_count) {
			new_g1 = g.g2_id;
			g = (struct groups){ g.g2_count, 0, 0, g.g2_id + 1 };
			new_chosen = take(&g.unsignalled, &g.signalled, n - old_chosen);
		}
		seen = a_cas64(&c->groups, w, pack(g));
		if (seen == w)
			break;
		w = seen;
	}
	a_fetch_add(&c->seq, 1);
	if (old_chosen)
		mps_futex_wake(&c->seq, (int)old_chosen, group_bit(old_g1));
	if (new_chosen)
		mps_futex_wake(&c->seq, (int)new_chosen, group_bit(new_g1));
	return 0;
}

/* Reads a word that may lie outside any mapping without faulting. */
static bool read_word(uint32_t *p, uint32_t *out)
{
	struct iovec local = { out, sizeof *out }, remote = { p, sizeof *out };
	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)sizeof *out;
}

/* The lock word notify_all may requeue onto: only the lock the caller holds,
 * at the offset every waiter recorded. In the same page as the Condition it
 * is mapped wherever the Condition is; elsewhere it is read without faulting. */
static uint32_t *requeue_target(mps_cond_t *c)
{
	int32_t off = (int32_t)a_load_relaxed((uint32_t *)&c->lock_offset);
	if (off == OFFSET_UNKNOWN || (off & 3))   /* 1 = conflict; others corrupt */
		return NULL;
	uint32_t *lockword = (uint32_t *)((char *)c + off);
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uint32_t v;
	if (((uintptr_t)c & ~(page - 1)) == ((uintptr_t)lockword & ~(page - 1)))
		v = a_load(lockword);
	else if (!read_word(lockword, &v))
		return NULL;
	return (v & LW_TID_MASK) == mps_self_tid() ? lockword : NULL;
}

int mps_cond_notify_all(mps_cond_t *c)
{
	uint64_t w = a_load64(&c->groups), seen;
	for (;;) {
		struct groups g = unpack(w);
		if (g.unsignalled == 0 && g.g2_count == 0)
			return 0;
		struct groups closed = { 0, 0, 0, g.g2_id + 2 };
		seen = a_cas64(&c->groups, w, pack(closed));
		if (seen == w)
			break;
		w = seen;
	}
	uint32_t seq = a_fetch_add(&c->seq, 1) + 1;
	uint32_t *lockword = requeue_target(c);
	if (lockword) {
		a_fetch_or(lockword, LW_WAITERS);
		if (mps_futex_cmp_requeue(&c->seq, seq, 0, lockword, INT_MAX) >= 0)
			return 0;
	}
	mps_futex_wake(&c->seq, INT_MAX, MPS_FUTEX_ANY);
	return 0;
}

unsigned mps_cond_n_waiting(const mps_cond_t *c)
{
	struct groups g = unpack(a_load64(&c->groups));
	return g.unsignalled + g.g2_count;
}
