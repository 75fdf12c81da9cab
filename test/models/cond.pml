/* cond.pml: the two-group Condition.
 *
 * Mirrors lib/sync/cond.c: wait_deadline (join, lock release), join, await,
 * decide, reacquire, notify_some (take, promotion of G2, seq bumped in the
 * same CAS, wakes of chosen + 1), notify_everyone (requeue_target and the
 * a_fetch_or of the lock's WAITERS bit BEFORE the closing CAS, which bumps
 * seq; mps_futex_cmp_requeue waking one and moving the rest, or wake all),
 * group_bit; and of lib/sync/lock.c the parts the Condition relies on:
 * mps_lockword_release (FUTEX_WAKE(2)), mps_lockword_acquire_slow with
 * has_slept (a waiter moved onto the lock word takes it with WAITERS set, so
 * its release wakes the next one).
 *
 * Modelling (sequential consistency; each CAS loop of cond.c is one atomic
 * step, the one where its CAS succeeds or its early return reads):
 *   groups        unsig, sig, g2n, g2id as separate bytes changed together;
 *                 ids start at 1 (G1 = g2id - 1 = 0 for the all-zero object)
 *   the futex word  the low half of groups: unsig, sig and seq, read as FW;
 *                 a notify changes it in the same atomic step that chooses
 *                 (after that step a notifier only makes futex calls);
 *                 the futex bitset of group id is 1 << (id & 7) (cond.c:
 *                 id & 31); no run uses 8 ids, which is asserted, so bits
 *                 never collide here either
 *   the Lock      a futex mutex: word = tid | WAITERS (bit 2); sleepers on it
 *                 are in futex queue QLOCK; no spinning, no hand-over (both
 *                 verified in lock.pml)
 *   futex_wait    atomically: if *word == expected, join the queue with a
 *                 bitset, else EAGAIN; then block until woken or requeued and
 *                 woken; with TIMED the deadline may pass at any moment
 *                 (ETIMEDOUT: give up); a sleep slice or a signal ending the
 *                 wait early is a spurious return (SPURIOUS of them in all)
 *   futex_wake    atomically takes exactly min(n, matching sleepers) of the
 *                 queue, any of them (FIFO is one of the choices)
 *   CMP_REQUEUE   atomically: if FW == expected, wake one seq sleeper and
 *                 move every other to the lock word's queue, else fail (-1)
 *   requeue_target may or may not be usable (offset unknown or conflicting):
 *                 both paths of notify_all are explored
 *
 * The scenario is Python's: consumers take items under the lock and wait while
 * there is none; the producer adds one item and notifies under the lock:
 *   waiter 1 (pid 1) consumes 2 items (it re-enters wait after a wake-up),
 *   waiter 2 (pid 2) consumes 1, the notifier (pid 0) adds 3 items, each
 *   followed by notify(1) or notify(2) (spin tries both), or with NOTIFY_ALL
 *   by notify(1), notify_all, notify(2) (spin tries both orders of kinds).
 *
 * Checks:
 *   no lost wake-up   waits are untimed unless TIMED, so a choice that never
 *                     reaches a sleeper leaves a process asleep forever: an
 *                     invalid end state
 *   exact counts      ghost bookkeeping, independent of the groups: each
 *                     notify k records owed[k] = min(n, waiters not yet chosen
 *                     at that moment); a waiter that returns chosen must take
 *                     a choice of a notify made after it started waiting
 *                     (era), never one meant for earlier waiters only; a
 *                     waiter that gives up must be one of the unchosen; at
 *                     the end every choice has been taken and nobody is left:
 *                     exactly min(n, W) of the waiters of that moment return.
 *   TIMED             waits may give up at any moment; a consumer that times
 *                     out stops; the same exactness checks.
 *   DEATH             waiter 1 may die at any step (also holding the lock:
 *                     the lock then goes to the next acquirer, EOWNERDEAD, as
 *                     verified in lock.pml); the notifier does notify(1) then
 *                     notify_all. Checks: the notifier never blocks and
 *                     waiter 2 always finishes; no choice is made twice.
 *   REACH_*           assert that a path is never taken; must FAIL (so the
 *                     promotion, requeue and timed-out-but-chosen paths are
 *                     really explored).
 *   MUT_*             broken protocols that must FAIL (end of file).
 */

#define NW 2
#define NP 3
#ifndef SPURIOUS
#define SPURIOUS 1
#endif
#define MAXNOT 4

/* the lock word */
#define TIDMASK 3
#define LW 4
#define held(v)  (((v) & TIDMASK) != 0)
#define owner(v) ((v) & TIDMASK)

/* futex queues */
#define QNONE 0
#define QSEQ  1
#define QLOCK 2
#define ANY   255

#define OK         0
#define ETIMEDOUT  1
#define EAGAIN     2
#define EOWNERDEAD 3

/* verdicts of decide() */
#define CHOSEN        0
#define CHOSEN_CLOSED 1
#define LEFT          2
#define SLEEP         3

#ifdef TIMED
#define TIMEOUTS 1
#else
#define TIMEOUTS 0
#endif
#ifdef DEATH
#define VICTIM 1
#define DEATHS 1
#else
#define VICTIM 99
#define DEATHS 0
#endif

/* notify wakes one more than it chose (cond.c); with two waiters that extra
 * wake would hide MUT_SAME_BIT, so that mutation runs with exact wakes. */
#ifdef MUT_SAME_BIT
#define EXTRA_WAKE 0
#else
#define EXTRA_WAKE 1
#endif
#ifdef MUT_SAME_BIT
#define group_bit(id) 1
#else
#define group_bit(id) (1 << ((id) & 7))
#endif
#define min(a, b) (((a) < (b)) -> (a) : (b))

byte L;                          /* lock word */
byte unsig, sig, g2n, g2id = 1;  /* groups */
byte seq;                        /* bits 24..31 of groups */
#define FW (unsig + 4 * sig + 16 * seq)  /* the futex word (unsig, sig < 4) */
byte q[NP], fb[NP];              /* futex queue and bitset of each process */
bool dead[NP + 1];               /* by tid */
bool killed;
byte spurious = SPURIOUS;
byte items;
byte finished;

/* ghost: the specification's bookkeeping */
byte nnot;                       /* notify calls so far */
byte owed[MAXNOT + 1];           /* choices of notify k not yet returned */
byte unchosen;                   /* waiting, not chosen by any notify */
byte era[NP];                    /* nnot when the waiter joined */
byte promotions, requeued, late_takes;

/* ---- futex -------------------------------------------------------------- */

inline futex_wake(queue, n, bits, woke)
{
	atomic {
		woke = 0;
		do
		:: woke < n && q[0] == queue && (fb[0] & (bits)) -> q[0] = QNONE; woke++
		:: woke < n && q[1] == queue && (fb[1] & (bits)) -> q[1] = QNONE; woke++
		:: woke < n && q[2] == queue && (fb[2] & (bits)) -> q[2] = QNONE; woke++
		:: else -> break
		od
	}
}

/* A sleeper on the lock word may end a slice early when the owner is dead or
 * the word free (DEATH only: then the lock's own recovery applies). */
#define SLICE_ENDS (DEATHS && q[me] == QLOCK && (dead[owner(L)] || !held(L)))

inline futex_block(timed, r)
{
	if
	:: atomic { q[me] == QNONE -> skip }                                  /* woken */
	:: atomic { (timed) && q[me] != QNONE -> q[me] = QNONE; r = ETIMEDOUT }  /* deadline */
	:: atomic { spurious > 0 && q[me] != QNONE -> q[me] = QNONE; spurious-- }  /* slice, signal */
	:: atomic { SLICE_ENDS -> q[me] = QNONE }
	fi
}

/* ---- the lock (lib/sync/lock.c, reduced to a futex mutex) ----------------------- */

/* One atomic step per round: take a free word (with WAITERS when the caller
 * has slept, the rule that chains a requeued herd: each taker's release
 * wakes the next), or rob a dead owner (DEATH; lock.pml verifies how), or
 * set WAITERS and join the lock word's queue. Merging the CAS that sets
 * WAITERS with the futex compare drops only interleavings that end in
 * EAGAIN and a retry. */
inline lock_acquire_slow(has_slept, res)
{
	res = OK;
	do
	:: atomic {
		if
		:: !held(L) -> L = tid | ((has_slept || (L & LW)) -> LW : 0); act = 0
		:: held(L) && DEATHS && dead[owner(L)] -> L = tid | LW; res = EOWNERDEAD; act = 0
		:: else -> L = L | LW; q[me] = QLOCK; fb[me] = ANY; act = 1
		fi
	   };
	   if
	   :: act == 0 -> break
	   :: else -> futex_block(false, r); has_slept = true; r = OK
	   fi
	od;
	act = 0
}

inline lock_acquire(res)
{
	has_slept = false;
	lock_acquire_slow(has_slept, res)
}

inline lock_release()
{
	atomic { v = L; assert(owner(v) == tid); L = 0 };
	if
	:: v & LW -> futex_wake(QLOCK, 2, ANY, woke)
	:: else
	fi;
	v = 0; woke = 0
}

/* ---- ghost ---------------------------------------------------------------- */

inline ghost_notify(n)
{
	nnot++;
	assert(nnot <= MAXNOT);
	owed[nnot] = min(n, unchosen);
	unchosen = unchosen - owed[nnot]
}

/* The waiter returns chosen: it takes the earliest choice made after it
 * joined (the earliest is always the best assignment: a later notify's
 * choice may go to strictly more waiters). */
inline ghost_chosen()
{
	k = era[me] + 1;
	do
	:: k > nnot -> assert(false)     /* no notify since it joined owes it */
	:: k <= nnot && owed[k] == 0 -> k++
	:: k <= nnot && owed[k] > 0 -> owed[k]--; break
	od;
	k = 0
}

inline ghost_left()
{
	assert(unchosen > 0);   /* else a choice meant for a waiter is lost */
	unchosen--
}

/* ---- lib/sync/cond.c ------------------------------------------------------------- */

/* decide(): one CAS (or a load) on the groups. */
inline decide(give_up, verdict)
{
	atomic {
#ifndef MUT_LATE_READ
		seq0 = FW;
#endif
		if
		:: mine == g2id ->
			if
			:: give_up -> g2n--; verdict = LEFT; ghost_left()
			:: else -> verdict = SLEEP
			fi
		:: mine == g2id - 1 ->
			if
#ifdef MUT_LEAVE_WITH_CHOICE
			:: sig > 0 && !give_up -> sig--; verdict = CHOSEN; ghost_chosen()
			:: give_up -> unsig = unsig - (unsig > 0); verdict = LEFT; ghost_left()
#else
			:: sig > 0 -> sig--; verdict = CHOSEN; ghost_chosen();
				late_takes = late_takes + give_up
			:: sig == 0 && give_up -> unsig--; verdict = LEFT; ghost_left()
#endif
			:: sig == 0 && !give_up -> verdict = SLEEP
			fi
		:: else -> verdict = CHOSEN_CLOSED; ghost_chosen()
		fi
	}
}

/* mps_cond_wait with the lock held; res = 0 or ETIMEDOUT. */
inline cond_wait(res)
{
	atomic {                                      /* join(): FW unchanged */
		seq0 = FW;                                /* (no notify can come */
		unchosen++;                               /* between: lock held) */
		era[me] = nnot;
#ifdef MUT_JOIN_G1
		unsig++;
		mine = g2id - 1
#else
		g2n++;
		mine = g2id
#endif
	};
	lock_release();
	do                                            /* await() */
	:: atomic {
		if
		:: FW == seq0 -> q[me] = QSEQ; fb[me] = group_bit(mine); r = OK
		:: else -> r = EAGAIN
		fi
	   };
	   if
	   :: r == OK -> futex_block(TIMEOUTS, r)
	   :: else
	   fi;
	   give_up = (r == ETIMEDOUT);
	   decide(give_up, verdict);                 /* sets seq0 = FW it decided on */
#ifdef MUT_LATE_READ
	   seq0 = FW;                                /* read after deciding */
#endif
	   give_up = false;
	   r = OK;
	   if
	   :: verdict != SLEEP -> break
	   :: else
	   fi
	od;
	/* reacquire(): a waiter moved to the lock word takes it as one that slept */
	if
	:: verdict == CHOSEN_CLOSED -> has_slept = true; lock_acquire_slow(has_slept, res)
	:: else -> lock_acquire(res)
	fi;
	assert(res == OK || DEATHS);
	res = ((verdict == LEFT) -> ETIMEDOUT : OK);
	verdict = 0; mine = 0; seq0 = 0; has_slept = false
}

inline notify(n)
{
	atomic {
		if
		:: unsig == 0 && g2n == 0 -> oc = 0; nc = 0
		:: else ->
			og = g2id - 1;
			ng = og;
#ifdef MUT_WAKE_EXTRA
			oc = min(n + 1, unsig);
#else
			oc = min(n, unsig);
#endif
			unsig = unsig - oc;
			sig = sig + oc;
			nc = 0;
			if
			:: oc < n && g2n > 0 ->
				ng = g2id;
				unsig = g2n; sig = 0; g2n = 0; g2id++;
#ifdef MUT_WAKE_EXTRA
				nc = min(n + 1 - oc, unsig);
#else
				nc = min(n - oc, unsig);
#endif
				unsig = unsig - nc;
				sig = nc;
				promotions++
			:: else
			fi;
			assert(g2id < 8);
#ifndef MUT_NO_SEQ_BUMP
			seq = ((oc + nc > 0) -> seq + 1 : seq)
#else
			skip
#endif
		fi;
		ghost_notify(n)
	};
	if                                  /* published: only futex calls now */
	:: oc + nc > 0 ->
		if
		:: oc > 0 -> futex_wake(QSEQ, oc + EXTRA_WAKE, group_bit(og), woke)
		:: else
		fi;
		if
		:: nc > 0 -> futex_wake(QSEQ, nc + EXTRA_WAKE, group_bit(ng), woke)
		:: else
		fi
	:: else
	fi;
	oc = 0; nc = 0; og = 0; ng = 0; woke = 0
}

inline notify_all()
{
	if                                          /* requeue_target usable? */
	:: ok = true
	:: ok = false
	fi;
#ifndef MUT_REQUEUE_NO_WAITERS
	if
	:: ok && !(unsig == 0 && g2n == 0) -> atomic { L = L | LW }   /* a_fetch_or, before the CAS */
	:: else
	fi;
#endif
	atomic {
		if
		:: unsig == 0 && g2n == 0 -> oc = 0
		:: else -> oc = 1; unsig = 0; sig = 0; g2n = 0; g2id = g2id + 2; seq++;
			seq0 = FW; assert(g2id < 8)
		fi;
		ghost_notify(ANY)
	};
	if                                          /* published: only futex calls now */
	:: oc && ok ->
		atomic {                                 /* FUTEX_CMP_REQUEUE(wake 1) */
			if
			:: FW == seq0 ->
				woke = 0;
				if                               /* the one woken: any of them */
				:: q[1] == QSEQ -> q[1] = QNONE
				:: q[2] == QSEQ -> q[2] = QNONE
				:: else
				fi;
				do
				:: q[1] == QSEQ -> q[1] = QLOCK; woke++
				:: q[2] == QSEQ -> q[2] = QLOCK; woke++
				:: else -> break
				od;
				requeued = requeued + woke;
				ok = true
			:: else -> ok = false
			fi
		};
		if
		:: !ok -> futex_wake(QSEQ, ANY, ANY, woke)
		:: else
		fi
	:: oc && !ok -> futex_wake(QSEQ, ANY, ANY, woke)   /* no target: wake all */
	:: else
	fi;
	oc = 0; seq0 = 0; woke = 0; ok = false
}

/* ---- processes ---------------------------------------------------------- */

#ifdef DEATH
#define PRODUCE 2
#else
#define PRODUCE 3
#endif

active proctype notifier()
{
	byte me = _pid, tid = _pid + 1;
	byte v, act, r, res, woke, oc, nc, og, ng, k, seq0, i, n;
	bool ok, has_slept;

	assert(me == 0);
	for (i : 1 .. PRODUCE) {
		n = 0;
		lock_acquire(res);
		items++;
#if defined(DEATH)
		if
		:: i == 1 -> notify(1)
		:: else -> notify_all()
		fi;
#elif defined(NOTIFY_ALL)
		if
		:: i == 2 -> notify_all()
		:: else -> if :: n = 1 :: n = 2 fi; notify(n)
		fi;
#else
		if
		:: n = 1
		:: n = 2
		fi;
		notify(n);
#endif
		lock_release()
	}
	finished++
}

inline consume()
{
	lock_acquire(res);
	do
	:: items > 0 -> items--; break
	:: items == 0 ->
		cond_wait(res);
		if
		:: res == ETIMEDOUT -> break     /* gives up this item */
		:: else
		fi
	od;
	lock_release()
}

active [NW] proctype waiter()
{
	byte me = _pid, tid = _pid + 1;
	byte v, act, r, res, woke, k, seq0, mine, verdict, n;
	bool ok, has_slept, give_up;

	n = ((me == 1 && !DEATHS) -> 2 : 1);
	if
	:: me == VICTIM ->
		{
			consume()
		} unless {
			killed ->
			atomic { dead[tid] = true; q[me] = QNONE }
		}
	:: else ->
		do
		:: n > 0 -> consume(); n--
		:: else -> break
		od
	fi;
	finished++
}

#ifdef DEATH
active proctype killer()
{
	killed = true
}
#endif

active proctype monitor()
{
	byte k;
	finished == NP;
	assert(q[0] == QNONE && q[1] == QNONE && q[2] == QNONE);
#ifndef DEATH
	assert(unchosen == 0);
	for (k : 1 .. MAXNOT) {
		assert(owed[k] == 0)
	}
#endif
#ifdef REACH_PROMOTE
	assert(promotions == 0);
#endif
#ifdef REACH_REQUEUE
	assert(requeued == 0);
#endif
#ifdef REACH_TIMEOUT_TAKES_CHOICE
	assert(late_takes == 0);
#endif
}

/* Deliberately broken variants (tools/models.sh requires spin to report each):
 *   MUT_WAKE_EXTRA          notify chooses one more than n (waking one more
 *                           sleeper than chosen is harmless by design: the
 *                           extra sleeper finds no choice and sleeps again)
 *   MUT_JOIN_G1             waiters join G1 directly (a plain permit count:
 *                           a waiter that waits again takes a choice meant
 *                           for an earlier waiter)
 *   MUT_LEAVE_WITH_CHOICE   (TIMED) a waiter that times out leaves even when
 *                           a choice is pending for its group
 *   MUT_NO_SEQ_BUMP         notify does not bump seq (a waiter between join
 *                           and sleep may miss the wake-up when the counts
 *                           alone come back to the value it sleeps on)
 *   MUT_LATE_READ           a waiter sleeps again on a futex value it read
 *                           after its decision (a notify in between is lost)
 *   (MUT_REQUEUE_NO_WAITERS, notify_all requeuing without setting the lock's
 *   WAITERS bit first, is no longer caught here: the one sleeper the requeue
 *   wakes sets it when it re-acquires. The bit still matters when that one
 *   dies on its way out of the kernel: the requeued sleepers would then wait
 *   for the 10 s backstop; design.md §7.)
 *   MUT_SAME_BIT            one futex bit for every group: a wake meant for
 *                           G1 may land on a G2 sleeper (run with exact wakes,
 *                           see EXTRA_WAKE) */
