/* Condition: two groups of waiters in one 64-bit word whose low half is the
 * futex word, and the lock's offset for notify_all's requeue.
 *
 * Encoding of groups (64 bits):
 *   bits  0..11  unsignalled  G1 members not yet chosen by a notify
 *   bits 12..23  signalled    G1 members chosen, not yet returned
 *   bits 24..31  seq          bumped by every notify that chooses anyone
 *   bits 32..43  g2_count     G2 members (waiters newer than G1)
 *   bits 44..63  g2_id        G2's group number; G1 is g2_id - 1 (mod 2^20)
 * Bits 0..31 are the futex word: the notify's one CAS both chooses and
 * changes what sleepers sleep on, so nothing is written after it.
 * seq (the 32-bit field): unused since layout 2, left zero.
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
 *   wait     joins G2 (g2_count+1, remembers g2_id as its group; the futex
 *            half is unchanged), releases the lock fully, sleeps on the
 *            futex half it saw with the futex bitset bit (group & 31), then
 *            on every wake-up decides:
 *              group closed (neither G1 nor G2)     -> chosen: return 0
 *              in G1 and signalled > 0              -> take one: return 0
 *              timed out or interrupted, in G1      -> unsignalled-1
 *              timed out or interrupted, in G2      -> g2_count-1
 *              otherwise                            -> sleep again on the
 *                                                      futex half it decided on
 *            A waiter that times out while a choice is pending takes the
 *            choice, so a notify is never lost. Then it re-acquires the lock
 *            (fully, at the old RLock depth), on every path.
 *   notify   moves up to n from unsignalled to signalled (promoting G2 when G1
 *            runs out) and bumps seq in the same CAS, then wakes that many
 *            sleepers of the chosen group's bit, plus one (below): after the
 *            CAS only futex calls (destruction safety). Nobody waiting: one
 *            load, no syscall.
 *   notify_all  first sets the WAITERS bit of the lock the caller holds, then
 *            closes both groups in one CAS (g2_id += 2, counts 0, seq+1), and
 *            moves the sleepers onto the lock word with FUTEX_CMP_REQUEUE,
 *            waking one of them: that one becomes the lock's watcher
 *            (lock.c), the rest sleep on the lock word as its waiters. O(1)
 *            syscalls, no herd into a held lock.
 * No lost wake-up: a sleeper sleeps on a value of the futex half that it read
 * no earlier than its last decision, and every notify that could choose it
 * changes seq; only 256 notifies that also restore both counts, all between
 * a decision and the sleep, could hide one (design.md §7).
 * No sleeper of G1 is left behind: at most `unsignalled` G1 members sleep
 * (each choice wakes one sleeper, and a member re-sleeps only when no choice
 * is pending), so G1 is closed only when none of its members sleeps.
 * Different bitset bits keep a wake for G1 from landing on a G2 sleeper.
 * Sleepers do not poll. A woken waiter that dies before it takes its choice
 * leaves it to the extra sleeper notify woke; they sleep in slices of
 * MPS_BACKSTOP_NS only for the double failure (both die). A waiter that dies leaves a count one high: a later notify may
 * choose it (a lost notify for a dead thread), never a hang. */
#include <errno.h>
#include <limits.h>
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
#define SEQ_SHIFT    24
#define SEQ_MASK     0xffu
#define G2N_SHIFT    32
#define G2ID_SHIFT   44
#define ID_MASK      0xfffffu
#define OFFSET_UNKNOWN   0
#define OFFSET_CONFLICT  1

struct groups {
	uint32_t unsignalled, signalled, g2_count, g2_id, seq;
};

static struct groups unpack(uint64_t w)
{
	struct groups g = {
		(uint32_t)(w >> UNSIG_SHIFT) & COUNT_MAX,
		(uint32_t)(w >> SIG_SHIFT) & COUNT_MAX,
		(uint32_t)(w >> G2N_SHIFT) & COUNT_MAX,
		(uint32_t)(w >> G2ID_SHIFT) & ID_MASK,
		(uint32_t)(w >> SEQ_SHIFT) & SEQ_MASK,
	};
	return g;
}

static uint64_t pack(struct groups g)
{
	return (uint64_t)g.unsignalled << UNSIG_SHIFT | (uint64_t)g.signalled << SIG_SHIFT
	     | (uint64_t)(g.seq & SEQ_MASK) << SEQ_SHIFT
	     | (uint64_t)g.g2_count << G2N_SHIFT | (uint64_t)(g.g2_id & ID_MASK) << G2ID_SHIFT;
}

/* The futex word: the low half of groups (arch/atomic.h: little-endian only). */
static uint32_t *futex_word(mps_cond_t *c) { return (uint32_t *)&c->groups; }
static uint32_t futex_half(uint64_t w) { return (uint32_t)w; }

static uint32_t g1_id(struct groups g) { return (g.g2_id - 1) & ID_MASK; }
static uint32_t group_bit(uint32_t id) { return 1u << (id & 31); }

void mps_cond_init(mps_cond_t *c)
{
	c->lock_offset = OFFSET_UNKNOWN;
	c->seq = 0;
	c->groups = 0;
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

#define JOIN_FULL UINT64_MAX

/* Joins G2; returns the groups word it wrote, or JOIN_FULL when the waiter
 * count is at its limit. */
static uint64_t join(mps_cond_t *c)
{
	uint64_t w = a_load64(&c->groups), seen;
	for (;;) {
		struct groups g = unpack(w);
		if (g.g2_count == COUNT_MAX || g.unsignalled + g.signalled + g.g2_count >= COUNT_MAX)
			return JOIN_FULL;
		g.g2_count++;
		uint64_t next = pack(g);
		seen = a_cas64(&c->groups, w, next);
		if (seen == w)
			return next;
		w = seen;
	}
}

enum verdict { CHOSEN, CHOSEN_CLOSED, LEFT, SLEEP };

/* Decides after a wake-up; leaving is only allowed when give_up is set. On
 * SLEEP, *futex is the futex half the decision was made on. */
static enum verdict decide(mps_cond_t *c, uint32_t mine, bool give_up, uint32_t *futex)
{
	uint64_t w = a_load64(&c->groups), seen;
	for (;;) {
		struct groups g = unpack(w);
		enum verdict v;
		*futex = futex_half(w);
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
static enum verdict await(mps_cond_t *c, uint32_t mine, uint32_t futex,
                          const struct mps_deadline *deadline, int *why,
                          struct mps_sigguard *guard)
{
	struct mps_deadline slice;
	for (;;) {
		mps_deadline_slice(deadline, MPS_BACKSTOP_NS, &slice);
		int r = mps_futex_wait(futex_word(c), futex, &slice, group_bit(mine), guard);
		if (r == ETIMEDOUT && !mps_deadline_passed(deadline))
			r = 0;
		bool give_up = r == ETIMEDOUT || r == EINTR;
		enum verdict v = decide(c, mine, give_up, &futex);
		if (v != SLEEP) {
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
	if (!moved_to_lock && a_cas(lockword, 0, self) == 0)
		mps_held_push(lockword);
	else
		err = mps_lockword_acquire_slow(lockword, self, MPS_FOREVER, moved_to_lock);
	mps_set_interruptible(was);
	return err;
}

static int wait_deadline(mps_cond_t *c, uint32_t *lockword, uint32_t *depth,
                         const struct mps_deadline *deadline)
{
	uint32_t self = mps_self_tid();
	if (!mps_lockword_mine(lockword))
		return EPERM;
	if (deadline->kind == MPS_DEADLINE_POLL)
		return ETIMEDOUT;
	/* From here on a handler that runs gives EINTR (interrupt.h). */
	struct mps_sigguard guard = { .on = false };
	mps_sigguard_enter(&guard);
	uint64_t joined = join(c);
	if (joined == JOIN_FULL) {
		mps_sigguard_leave(&guard);
		return EOVERFLOW;
	}
	uint32_t mine = unpack(joined).g2_id;
	note_lock(c, lockword);
	uint32_t saved = depth ? *depth : 0;
	if (depth)
		*depth = 0;
	mps_held_pop(lockword);
	mps_lockword_release(lockword);

	int why = 0;
	enum verdict v = await(c, mine, futex_half(joined), deadline, &why, &guard);
	mps_sigguard_leave(&guard);

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
	if (!mps_lockword_mine(lockword))
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

static int notify_some(mps_cond_t *c, unsigned n, uint64_t w)
{
	uint32_t *word = futex_word(c);
	uint64_t seen;
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
			g = (struct groups){ g.g2_count, 0, 0, g.g2_id + 1, g.seq };
			new_chosen = take(&g.unsignalled, &g.signalled, n - old_chosen);
		}
		g.seq++;
		seen = a_cas64(&c->groups, w, pack(g));
		if (seen == w)
			break;
		w = seen;
	}
	/* Published: from here only futex calls, on an address computed before. */
	/* One more than chosen: a woken waiter that dies before it takes its
	 * choice leaves it to the extra one; one that finds no choice pending
	 * sleeps again, so exactly the chosen number return. */
	if (old_chosen)
		mps_futex_wake(word, (int)old_chosen + 1, group_bit(old_g1));
	if (new_chosen)
		mps_futex_wake(word, (int)new_chosen + 1, group_bit(new_g1));
	return 0;
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
	else if (!mps_read_word(lockword, &v))
		return NULL;
	return lw_owner(v) == mps_self_tid() ? lockword : NULL;
}

static int notify_everyone(mps_cond_t *c, uint64_t w)
{
	uint32_t *word = futex_word(c);
	uint64_t seen, closed;
	/* Before the publishing CAS: after it a woken waiter may return and
	 * free both objects. A WAITERS bit set for nothing costs one wake. */
	uint32_t *lockword = requeue_target(c);
	if (lockword)
		a_fetch_or(lockword, LW_WAITERS);
	for (;;) {
		struct groups g = unpack(w);
		if (g.unsignalled == 0 && g.g2_count == 0)
			return 0;
		closed = pack((struct groups){ 0, 0, 0, g.g2_id + 2, g.seq + 1 });
		seen = a_cas64(&c->groups, w, closed);
		if (seen == w)
			break;
		w = seen;
	}
	/* One woken sleeper becomes the lock's watcher; the rest wait on the
	 * lock word. If the word changed meanwhile, everyone is woken instead. */
	if (lockword && mps_futex_cmp_requeue(word, futex_half(closed), 1, lockword, INT_MAX) >= 0)
		return 0;
	mps_futex_wake(word, INT_MAX, MPS_FUTEX_ANY);
	return 0;
}

_Static_assert(MPS_COND_WAITING == (((uint64_t)COUNT_MAX << UNSIG_SHIFT) | ((uint64_t)COUNT_MAX << G2N_SHIFT)),
               "the inline notify tests the two waiter counts (ABI)");

/* The inline fast paths (<mpsync/cond.h>) return when nobody waits. */
int mps_cond_notify_slow(mps_cond_t *c, unsigned n)
{
	uint64_t w = a_load64(&c->groups);
	if (n == 0 || !(w & MPS_COND_WAITING))
		return 0;
	return notify_some(c, n, w);
}

int mps_cond_notify_all_slow(mps_cond_t *c)
{
	uint64_t w = a_load64(&c->groups);
	if (!(w & MPS_COND_WAITING))
		return 0;
	return notify_everyone(c, w);
}

unsigned mps_cond_n_waiting(const mps_cond_t *c)
{
	struct groups g = unpack(a_load64(&c->groups));
	return g.unsignalled + g.g2_count;
}
