/* libFuzzer target: every public call of mpsync.h on objects with arbitrary
 * (corrupt) bytes, in one thread, with bounded timeouts.
 *
 * Input: the first 72 bytes are the initial bytes of one of each object
 * (Lock 4, RLock 8, Semaphore 16, Event 4, Condition 16, Barrier 24; missing
 * bytes are zero). The rest is a sequence of calls, one byte of opcode then
 * the bytes its arguments need (missing bytes read as zero); at most
 * MAX_OPS calls. Timeouts come from a table (NaN, -1, 0, -0, -inf, 1e-9, 1e-4,
 * DBL_MIN, 1 ms, ...) or from 8 raw bytes, and are capped at 1 ms (never
 * MPS_FOREVER), so nothing can block for long.
 *
 * The objects live at the start of a page of their own, as they would in
 * shared memory. Nothing may crash, hang (each call must return within
 * CALL_LIMIT_MS) or trip a sanitizer, and every result must be one SPEC
 * allows for that call; where one thread alone decides the outcome the check
 * is exact (a free Lock is taken at once; a Semaphore with value 0 cannot be
 * acquired; an unset Event cannot be waited for; a Condition wait returns
 * with the lock held at the old RLock depth; ...). A corrupt lock word may
 * name some live or dead tid as its owner: a bounded acquire then returns
 * ETIMEDOUT or EOWNERDEAD. FUZZ_TRACE=1 in the environment prints every call. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <mpsync.h>
#include <mpsync/debug.h>

#define MAX_OPS        64
#define TIMEOUT_CAP    1e-3
#define CALL_LIMIT_MS  5000.0   /* a hang, not a slow call under load */
#define TID_MASK       0x0fffffffu   /* docs/design.md §3: bit 28 is WATCHED */
#define LW_HANDOFF_REQUESTED 0x20000000u

struct objects {
	mps_lock_t lock;
	mps_rlock_t rlock;
	mps_sem_t sem;
	mps_event_t event;
	mps_cond_t cond;
	mps_barrier_t barrier;
};

/* Input bytes for the objects: each object's bytes in turn, no padding. */
#define OBJECT_BYTES 72
_Static_assert(OBJECT_BYTES == sizeof(mps_lock_t) + sizeof(mps_rlock_t) + sizeof(mps_sem_t)
               + sizeof(mps_event_t) + sizeof(mps_cond_t) + sizeof(mps_barrier_t),
               "input layout matches the object sizes");

struct ctx {
	struct objects *o;
	const uint8_t *data;
	size_t size, at;
	pid_t self;
	bool interruptible;
	bool trace;       /* FUZZ_TRACE=1: print every call and its result */
	int op;
	const char *call;
	int64_t started;
};

/* ---- input ---------------------------------------------------------------- */

static uint8_t take8(struct ctx *c)
{
	return c->at < c->size ? c->data[c->at++] : 0;
}

static uint32_t take32(struct ctx *c)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | take8(c);
	return v;
}

static double raw_double(struct ctx *c)
{
	uint64_t bits = 0;
	for (int i = 0; i < 8; i++)
		bits = bits << 8 | take8(c);
	double d;
	memcpy(&d, &bits, sizeof d);
	return d;
}

static double take_timeout(struct ctx *c)
{
	static const double table[] = {
		NAN, -1.0, 0.0, 1e-4, -INFINITY, -0.0, 1e-9, TIMEOUT_CAP, DBL_MIN, 5e-4, -1e300,
	};
	uint8_t k = take8(c) % 13;
	if (k < sizeof table / sizeof table[0])
		return table[k];
	double t = k == 11 ? take8(c) / 255.0 * TIMEOUT_CAP : raw_double(c);
	return t > TIMEOUT_CAP ? TIMEOUT_CAP : t;   /* NaN stays NaN, +inf is capped */
}

static unsigned take_count(struct ctx *c)
{
	switch (take8(c) % 8) {
	case 0: return 0;
	case 1: return 1;
	case 2: return 2 + take8(c) % 8;
	case 3: return UINT32_MAX;
	case 4: return MPS_SEM_VALUE_MAX;
	case 5: return MPS_SEM_VALUE_MAX + 1u;
	case 6: return MPS_BARRIER_MAX_PARTIES + (take8(c) % 3) - 1;
	default: return take32(c);
	}
}

/* ---- checks --------------------------------------------------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail(const struct ctx *c, const char *what, int rc)
{
	fprintf(stderr, "fuzz_ops: op %d %s: %s (result %d: %s)\n", c->op, c->call, what, rc,
	        mps_strerror(rc));
	abort();
}

static void require(const struct ctx *c, bool ok, const char *what, int rc)
{
	if (!ok)
		fail(c, what, rc);
}

static void begin(struct ctx *c, const char *call)
{
	c->call = call;
	c->started = now_ns();
}

/* Every call must come back promptly; EINTR only for an interruptible thread. */
static void finish(const struct ctx *c, int rc)
{
	double ms = (double)(now_ns() - c->started) / 1e6;
	if (c->trace)
		fprintf(stderr, "  op %2d %-18s -> %-11s %.3f ms\n", c->op, c->call, mps_strerror(rc), ms);
	require(c, ms < CALL_LIMIT_MS, "call took too long", rc);
	require(c, rc != EINTR || c->interruptible, "EINTR in a thread that is not interruptible", rc);
}

/* Allowed results, ended by -1 (never a result). */
static const int lock_acquire_codes[] = { 0, ETIMEDOUT, EOWNERDEAD, EINTR, EINVAL, -1 };
static const int rlock_acquire_codes[] = { 0, ETIMEDOUT, EOWNERDEAD, EINTR, EINVAL, EOVERFLOW, -1 };
static const int release_codes[] = { 0, EPERM, -1 };
static const int init_codes[] = { 0, EINVAL, -1 };
static const int sem_acquire_codes[] = { 0, ETIMEDOUT, EINTR, EINVAL, -1 };
static const int sem_release_codes[] = { 0, EINVAL, EOVERFLOW, -1 };
static const int event_wait_codes[] = { 0, ETIMEDOUT, EINTR, EINVAL, -1 };
static const int cond_wait_codes[] = {
	0, ETIMEDOUT, EPERM, EOWNERDEAD, EINTR, EINVAL, EOVERFLOW, -1
};
static const int zero_only[] = { 0, -1 };

static void expect(const struct ctx *c, int rc, const int *codes)
{
	finish(c, rc);
	while (*codes != -1 && *codes != rc)
		codes++;
	require(c, *codes == rc, "result not allowed by SPEC for this call", rc);
}

static void expect_nan(const struct ctx *c, double t, int rc)
{
	require(c, !isnan(t) || rc == EINVAL, "NaN timeout not refused with EINVAL", rc);
	require(c, isnan(t) || rc != EINVAL, "EINVAL for a valid timeout", rc);
}

/* ---- Lock ----------------------------------------------------------------- */

static void op_lock_init(struct ctx *c)
{
	mps_lock_init(&c->o->lock);
	require(c, !mps_lock_locked(&c->o->lock) && mps_lock_owner(&c->o->lock) == 0,
	        "lock_init left it locked", 0);
}

static void op_lock_acquire(struct ctx *c)
{
	double t = take_timeout(c);
	bool was_free = !mps_lock_locked(&c->o->lock);
	begin(c, "lock_acquire");
	int rc = mps_lock_acquire(&c->o->lock, t);
	expect(c, rc, lock_acquire_codes);
	expect_nan(c, t, rc);
	require(c, !was_free || isnan(t) || rc == 0, "a free Lock was not taken at once", rc);
	if (rc == 0 || rc == EOWNERDEAD)
		require(c, mps_lock_owner(&c->o->lock) == c->self, "acquired but not the owner", rc);
}

/* A release of a word that requests a hand-over leaves it HANDOFF (free,
 * reserved for a sleeper), which locked() reports: no write after the
 * publishing CAS may turn it back (design.md §3). */
static void op_lock_release(struct ctx *c)
{
	bool was_locked = mps_lock_locked(&c->o->lock);
	bool handover = c->o->lock.word & LW_HANDOFF_REQUESTED;
	begin(c, "lock_release");
	int rc = mps_lock_release(&c->o->lock);
	expect(c, rc, release_codes);
	require(c, was_locked || rc == EPERM, "release of an unlocked Lock succeeded", rc);
	if (rc == 0)
		require(c, handover || !mps_lock_locked(&c->o->lock), "still locked after release", rc);
}

static void op_lock_query(struct ctx *c)
{
	uint32_t word = c->o->lock.word;
	pid_t owner = mps_lock_owner(&c->o->lock);
	require(c, (uint32_t)owner <= TID_MASK, "owner outside the tid range", (int)owner);
	require(c, mps_lock_locked(&c->o->lock) == ((word & TID_MASK) != 0), "locked() disagrees", 0);
}

/* ---- RLock ---------------------------------------------------------------- */

static void op_rlock_init(struct ctx *c)
{
	mps_rlock_init(&c->o->rlock);
	require(c, !mps_rlock_locked(&c->o->rlock) && mps_rlock_count(&c->o->rlock) == 0,
	        "rlock_init left it locked", 0);
}

static void op_rlock_acquire(struct ctx *c)
{
	mps_rlock_t *r = &c->o->rlock;
	double t = take_timeout(c);
	bool owned = mps_rlock_is_owned(r), was_free = !mps_rlock_locked(r);
	unsigned depth = mps_rlock_count(r);
	begin(c, "rlock_acquire");
	int rc = mps_rlock_acquire(r, t);
	expect(c, rc, rlock_acquire_codes);
	expect_nan(c, t, rc);
	require(c, rc != EOVERFLOW || (owned && depth == UINT32_MAX), "EOVERFLOW below the limit", rc);
	require(c, !(owned && depth == UINT32_MAX) || isnan(t) || rc == EOVERFLOW,
	        "re-entry at the depth limit not refused with EOVERFLOW", rc);
	require(c, !(owned || was_free) || isnan(t) || rc == 0 || rc == EOVERFLOW,
	        "owned or free RLock not taken at once", rc);
	if (rc == 0 || rc == EOWNERDEAD)
		require(c, mps_rlock_is_owned(r) && mps_rlock_count(r) == (owned ? depth + 1 : 1),
		        "wrong owner or depth after acquire", rc);
}

static void op_rlock_release(struct ctx *c)
{
	mps_rlock_t *r = &c->o->rlock;
	bool owned = mps_rlock_is_owned(r);
	unsigned depth = mps_rlock_count(r);
	begin(c, "rlock_release");
	int rc = mps_rlock_release(r);
	expect(c, rc, release_codes);
	require(c, owned == (rc == 0), "release by the owner refused, or by a non-owner allowed", rc);
	if (rc == 0 && depth > 1)
		require(c, mps_rlock_count(r) == depth - 1, "inner release lost a level", rc);
	if (rc == 0 && depth <= 1)
		require(c, !mps_rlock_is_owned(r), "outermost release kept the lock", rc);
}

static void op_rlock_query(struct ctx *c)
{
	mps_rlock_t *r = &c->o->rlock;
	bool owned = mps_rlock_is_owned(r);
	/* Our tid in the word is not enough: a planted one (a dead thread's
	 * under a reused tid) is not ours (design.md §10). */
	require(c, !owned || mps_rlock_owner(r) == c->self, "is_owned disagrees with owner", 0);
	require(c, owned || mps_rlock_count(r) == 0, "count non-zero for a non-owner", 0);
	require(c, !owned || mps_rlock_locked(r), "owned but not locked", 0);
}

/* ---- Semaphore ------------------------------------------------------------ */

static void sem_init_checked(struct ctx *c, bool bounded)
{
	mps_sem_t *s = &c->o->sem;
	unsigned v = take_count(c);
	begin(c, bounded ? "sem_init_bounded" : "sem_init");
	int rc = bounded ? mps_sem_init_bounded(s, v) : mps_sem_init(s, v);
	expect(c, rc, init_codes);
	require(c, (rc == EINVAL) == (v > MPS_SEM_VALUE_MAX), "init refused or accepted wrongly", rc);
	if (rc == 0)
		require(c, mps_sem_value(s) == v && mps_sem_is_bounded(s) == bounded
		           && mps_sem_bound(s) == (bounded ? v : 0), "init state wrong", rc);
}

static void op_sem_init(struct ctx *c) { sem_init_checked(c, false); }
static void op_sem_init_bounded(struct ctx *c) { sem_init_checked(c, true); }

static void op_sem_acquire(struct ctx *c)
{
	mps_sem_t *s = &c->o->sem;
	double t = take_timeout(c);
	unsigned before = mps_sem_value(s);
	begin(c, "sem_acquire");
	int rc = mps_sem_acquire(s, t);
	expect(c, rc, sem_acquire_codes);
	expect_nan(c, t, rc);
	if (isnan(t))
		return;
	require(c, before == 0 || rc == 0, "a free permit was not taken at once", rc);
	require(c, before != 0 || rc != 0, "acquired from value 0 with no other thread", rc);
	if (rc == 0)
		require(c, mps_sem_value(s) == before - 1, "value not decremented by one", rc);
}

static void op_sem_release(struct ctx *c)
{
	mps_sem_t *s = &c->o->sem;
	unsigned n = take_count(c), before = mps_sem_value(s);
	begin(c, "sem_release");
	int rc = mps_sem_release(s, n);
	expect(c, rc, sem_release_codes);
	require(c, (rc == EINVAL) == (n == 0), "n == 0 must be EINVAL, and only that", rc);
	if (rc == 0)
		require(c, mps_sem_value(s) == before + n, "value not raised by n", rc);
	else
		require(c, mps_sem_value(s) == before, "refused release changed the value", rc);
}

static void op_sem_query(struct ctx *c)
{
	mps_sem_t *s = &c->o->sem;
	unsigned bound = mps_sem_bound(s);
	require(c, mps_sem_is_bounded(s) || bound == 0, "bound of an unbounded semaphore", (int)bound);
}

/* ---- Event ---------------------------------------------------------------- */

static void op_event_init(struct ctx *c)
{
	mps_event_init(&c->o->event);
	require(c, !mps_event_is_set(&c->o->event), "event_init left it set", 0);
}

static void op_event_set(struct ctx *c)
{
	begin(c, "event_set");
	mps_event_set(&c->o->event);
	finish(c, 0);
	require(c, mps_event_is_set(&c->o->event), "not set after set()", 0);
}

static void op_event_clear(struct ctx *c)
{
	begin(c, "event_clear");
	mps_event_clear(&c->o->event);
	finish(c, 0);
	require(c, !mps_event_is_set(&c->o->event), "set after clear()", 0);
}

static void op_event_wait(struct ctx *c)
{
	double t = take_timeout(c);
	bool was_set = mps_event_is_set(&c->o->event);
	begin(c, "event_wait");
	int rc = mps_event_wait(&c->o->event, t);
	expect(c, rc, event_wait_codes);
	expect_nan(c, t, rc);
	if (!isnan(t))
		require(c, was_set == (rc == 0), "wait result disagrees with the flag (one thread)", rc);
}

/* ---- Condition ------------------------------------------------------------ */

struct pred_arg {
	struct ctx *c;
	bool rlock;
	unsigned calls, true_after;
};

static bool predicate(void *arg)
{
	struct pred_arg *p = arg;
	struct objects *o = p->c->o;
	pid_t owner = p->rlock ? mps_rlock_owner(&o->rlock) : mps_lock_owner(&o->lock);
	require(p->c, owner == p->c->self, "predicate called without the lock held", 0);
	return ++p->calls > p->true_after;
}

static bool holds(struct ctx *c, bool rlock)
{
	return rlock ? mps_rlock_is_owned(&c->o->rlock) : mps_lock_is_mine(&c->o->lock);
}

static int call_wait(struct ctx *c, bool rlock, struct pred_arg *p, double t)
{
	mps_cond_t *cv = &c->o->cond;
	if (p && rlock)
		return mps_cond_wait_for(cv, &c->o->rlock, predicate, p, t);
	if (p)
		return mps_cond_wait_for(cv, &c->o->lock, predicate, p, t);
	return rlock ? mps_cond_wait(cv, &c->o->rlock, t) : mps_cond_wait(cv, &c->o->lock, t);
}

/* After any wait: NaN refused first, EPERM exactly when the lock is not held,
 * otherwise the lock is held again at the same depth. Alone, nobody can
 * notify: a plain wait cannot succeed. */
static void cond_wait_checked(struct ctx *c, bool rlock, bool with_pred)
{
	double t = take_timeout(c);
	struct pred_arg p = { c, rlock, 0, with_pred ? take8(c) % 4 : 0 };
	bool held = holds(c, rlock);
	unsigned depth = mps_rlock_count(&c->o->rlock);
	begin(c, with_pred ? "cond_wait_for" : "cond_wait");
	int rc = call_wait(c, rlock, with_pred ? &p : NULL, t);
	expect(c, rc, cond_wait_codes);
	expect_nan(c, t, rc);
	if (isnan(t))
		return;
	require(c, (rc == EPERM) == !held, "EPERM must mean: the lock is not held", rc);
	require(c, rc != 0 || (with_pred && p.calls > p.true_after), "success without a notify", rc);
	if (held)
		require(c, holds(c, rlock) && (!rlock || mps_rlock_count(&c->o->rlock) == depth),
		        "lock not restored exactly after the wait", rc);
}

static void op_cond_init(struct ctx *c)
{
	mps_cond_init(&c->o->cond);
	require(c, mps_cond_n_waiting(&c->o->cond) == 0, "waiters after init", 0);
}

static void op_cond_wait_lock(struct ctx *c) { cond_wait_checked(c, false, false); }
static void op_cond_wait_rlock(struct ctx *c) { cond_wait_checked(c, true, false); }
static void op_cond_wait_for_lock(struct ctx *c) { cond_wait_checked(c, false, true); }
static void op_cond_wait_for_rlock(struct ctx *c) { cond_wait_checked(c, true, true); }

static void op_cond_notify(struct ctx *c)
{
	unsigned n = take_count(c);
	begin(c, "cond_notify");
	int rc = mps_cond_notify(&c->o->cond, n);
	expect(c, rc, zero_only);
}

static void op_cond_notify_all(struct ctx *c)
{
	begin(c, "cond_notify_all");
	int rc = mps_cond_notify_all(&c->o->cond);
	expect(c, rc, zero_only);
}

static void op_cond_query(struct ctx *c)
{
	(void)mps_cond_n_waiting(&c->o->cond);
}

/* ---- Barrier -------------------------------------------------------------- */

struct action_arg {
	int result, calls;
};

static int action(void *arg)
{
	struct action_arg *a = arg;
	a->calls++;
	return a->result;
}

static void op_barrier_init(struct ctx *c)
{
	mps_barrier_t *b = &c->o->barrier;
	unsigned parties = take_count(c);
	double t = take8(c) % 2 ? MPS_FOREVER : take_timeout(c);   /* stored, never waited on */
	begin(c, "barrier_init");
	int rc = mps_barrier_init(b, parties, t);
	expect(c, rc, init_codes);
	bool bad = parties < 1 || parties > MPS_BARRIER_MAX_PARTIES || isnan(t);
	require(c, bad == (rc == EINVAL), "init refused or accepted wrongly", rc);
	if (rc == 0)
		require(c, mps_barrier_parties(b) == parties && !mps_barrier_broken(b)
		           && mps_barrier_n_waiting(b) == 0 && mps_barrier_timeout(b) == t,
		        "init state wrong", rc);
}

static void barrier_wait_checked(struct ctx *c, bool with_action)
{
	mps_barrier_t *b = &c->o->barrier;
	double t = take_timeout(c);
	struct action_arg a = { with_action && take8(c) % 3 == 0 ? 7 : 0, 0 };
	/* count 0, neither BROKEN nor TRIPPING (docs/design.md): Barrier(1) passes */
	bool sane_single = mps_barrier_parties(b) == 1 && ((b->state >> 32) & 0x3ffff) == 0;
	unsigned index = UINT32_MAX;
	begin(c, "barrier_wait");
	int rc = with_action ? mps_barrier_wait_action(b, t, action, &a, &index)
	                     : mps_barrier_wait(b, t, &index);
	finish(c, rc);
	require(c, rc == 0 || rc == ETIMEDOUT || rc == MPS_EBROKEN || rc == EINTR || rc == EINVAL
	           || (a.calls && rc == a.result), "result not allowed by SPEC for this call", rc);
	require(c, !isnan(t) || rc == EINVAL, "NaN timeout not refused with EINVAL", rc);
	require(c, a.calls <= 1, "action ran more than once", rc);
	if (sane_single && !isnan(t))
		require(c, a.calls == with_action && rc == (with_action ? a.result : 0) && index == 0,
		        "Barrier(1) did not pass at once", rc);
}

static void op_barrier_wait(struct ctx *c) { barrier_wait_checked(c, false); }
static void op_barrier_wait_action(struct ctx *c) { barrier_wait_checked(c, true); }

static void op_barrier_abort(struct ctx *c)
{
	begin(c, "barrier_abort");
	int rc = mps_barrier_abort(&c->o->barrier);
	expect(c, rc, init_codes);
	require(c, (rc == EINVAL) == (mps_barrier_parties(&c->o->barrier) == 0), "abort refused", rc);
	if (rc == 0)
		require(c, mps_barrier_broken(&c->o->barrier), "not broken after abort", rc);
}

static void op_barrier_reset(struct ctx *c)
{
	begin(c, "barrier_reset");
	int rc = mps_barrier_reset(&c->o->barrier);
	expect(c, rc, init_codes);
	require(c, (rc == EINVAL) == (mps_barrier_parties(&c->o->barrier) == 0), "reset refused", rc);
	if (rc == 0)
		require(c, !mps_barrier_broken(&c->o->barrier), "broken after reset", rc);
}

static void op_barrier_query(struct ctx *c)
{
	mps_barrier_t *b = &c->o->barrier;
	(void)mps_barrier_broken(b);
	(void)mps_barrier_n_waiting(b);
	(void)mps_barrier_parties(b);
	(void)mps_barrier_timeout(b);
}

/* ---- common --------------------------------------------------------------- */

static void op_interruptible(struct ctx *c)
{
	bool on = take8(c) % 2;
	require(c, mps_set_interruptible(on) == c->interruptible, "wrong previous setting", 0);
	c->interruptible = on;
}

static void op_strerror(struct ctx *c)
{
	static const int codes[] = { 0, ETIMEDOUT, EPERM, EOVERFLOW, EINVAL, EINTR, EOWNERDEAD,
	                             MPS_EBROKEN };
	uint8_t k = take8(c);
	int code = k < sizeof codes / sizeof codes[0] ? codes[k] : (int)take32(c);
	const char *s = mps_strerror(code);
	require(c, s != NULL && strlen(s) < 4096, "no name for a code", code);
	if (k < sizeof codes / sizeof codes[0])
		require(c, s[0] != 0, "empty name for a documented code", code);
}

static void op_debug(struct ctx *c)
{
	uint64_t a = mps_debug_futex_calls(), b = mps_debug_futex_calls();
	require(c, b >= a, "futex call count went backwards", 0);
}

/* Puts a chosen owner in the Lock or RLock word: ourselves (a word this
 * thread did not take: what a dead thread leaves under a reused tid), our
 * parent or init (alive), or any tid. */
static void op_plant_owner(struct ctx *c)
{
	uint8_t k = take8(c);
	uint32_t flags = (uint32_t)(take8(c) & 0xe0) << 24;
	uint32_t tid = k % 4 == 0 ? (uint32_t)c->self : k % 4 == 1 ? (uint32_t)getppid()
	             : k % 4 == 2 ? 1u : take32(c);
	uint32_t word = (tid & TID_MASK) | flags;
	if (k & 4) {
		c->o->rlock.word = word;
		c->o->rlock.count = take8(c) % 4 == 0 ? UINT32_MAX : take8(c) % 4;
	} else {
		c->o->lock.word = word;
	}
}

/* Overwrites one byte of the objects in the middle of a sequence. */
static void op_poke(struct ctx *c)
{
	uint8_t off = take8(c) % sizeof(struct objects);
	((uint8_t *)c->o)[off] = take8(c);
}

typedef void (*op_fn)(struct ctx *c);

static const op_fn ops[] = {
	op_lock_init, op_lock_acquire, op_lock_release, op_lock_query,
	op_rlock_init, op_rlock_acquire, op_rlock_release, op_rlock_query,
	op_sem_init, op_sem_init_bounded, op_sem_acquire, op_sem_release, op_sem_query,
	op_event_init, op_event_set, op_event_clear, op_event_wait,
	op_cond_init, op_cond_wait_lock, op_cond_wait_rlock, op_cond_wait_for_lock,
	op_cond_wait_for_rlock, op_cond_notify, op_cond_notify_all, op_cond_query,
	op_barrier_init, op_barrier_wait, op_barrier_wait_action, op_barrier_abort,
	op_barrier_reset, op_barrier_query,
	op_interruptible, op_strerror, op_debug, op_plant_owner, op_poke,
};

#define N_OPS (sizeof ops / sizeof ops[0])

/* The objects at the start of their own page, as in a shared segment. */
static struct objects *objects_page(void)
{
	static struct objects *page;
	if (!page) {
		void *p = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
		               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			abort();
		page = p;
	}
	return page;
}

/* Zeroes the page, then fills the objects from the input's first bytes. */
static void load_objects(struct ctx *c)
{
	uint8_t bytes[OBJECT_BYTES] = { 0 };
	size_t n = c->size < OBJECT_BYTES ? c->size : OBJECT_BYTES;
	memcpy(bytes, c->data, n);
	c->at = n;
	memset(c->o, 0, (size_t)sysconf(_SC_PAGESIZE));
	const uint8_t *p = bytes;
	memcpy(&c->o->lock, p, sizeof c->o->lock);
	p += sizeof c->o->lock;
	memcpy(&c->o->rlock, p, sizeof c->o->rlock);
	p += sizeof c->o->rlock;
	memcpy(&c->o->sem, p, sizeof c->o->sem);
	p += sizeof c->o->sem;
	memcpy(&c->o->event, p, sizeof c->o->event);
	p += sizeof c->o->event;
	memcpy(&c->o->cond, p, sizeof c->o->cond);
	p += sizeof c->o->cond;
	memcpy(&c->o->barrier, p, sizeof c->o->barrier);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = { .o = objects_page(), .data = data, .size = size,
	                 .self = (pid_t)syscall(SYS_gettid), .trace = getenv("FUZZ_TRACE") != NULL };
	load_objects(&c);
	mps_set_interruptible(false);
	for (c.op = 0; c.op < MAX_OPS && c.at < c.size; c.op++)
		ops[take8(&c) % N_OPS](&c);
	mps_set_interruptible(false);
	return 0;
}
