/* lock.pml: the Lock word protocol.
 *
 * Mirrors lib/sync/lock.c: mps_lock_acquire (fast path CAS 0 -> tid),
 * mps_lockword_acquire_slow, wait_loop, spin_for_free, try_take, give_up,
 * withdraw_request, take_from_dead, mps_lockword_release, cancel_handoff; lib/lockword.h: lw_held, lw_owner,
 * LW_WAITERS, LW_HANDOFF_REQUESTED, LW_HANDOFF; the futex calls of
 * lib/sync/futex.c (mps_futex_wait, mps_futex_wake). RLock (lib/rlock.c) and the
 * re-acquire of Condition (lib/sync/cond.c: reacquire) use the same two functions.
 *
 * Modelling (spin checks protocol logic under sequential consistency):
 *   the word      one byte; tid 1..3 in bits 0..2, 7 = every tid bit (so
 *                 HANDOFF = WAITERS | 7 as in lockword.h), WAITERS bit 3,
 *                 HANDOFF_REQUESTED bit 4
 *   CAS / load    one atomic step each
 *   futex_wait    atomically: if word == expected, enter the queue, else
 *                 EAGAIN; then block until woken, or (when a timeout is
 *                 possible) leave the queue with ETIMEDOUT at any moment
 *   futex_wake(1) atomically takes any one process out of the queue (the
 *                 kernel's FIFO order is one of the choices) and returns 1,
 *                 or 0 when the queue is empty
 *   spinning      at most SPIN_ROUNDS rounds, the time budget may end any time
 *   starving      after any sleep a waiter may become starving (the 1 ms)
 * Not modelled: EINTR (it leaves through the same give_up as a passed
 * deadline), the signal guard, RLock's depth count.
 *
 * Configurations (spin -D...):
 *   default       3 processes x ITER acquire/release; process 0 uses a finite
 *                 timeout (its futex waits may time out at any moment and its
 *                 deadline may pass at any such moment), 1 and 2 wait forever
 *                 with no sleep slices at all: so any lost wake-up is a
 *                 process asleep forever, which spin reports as an invalid
 *                 end state. Checks: mutual exclusion; no lost wake-up; a
 *                 free word at the end with nobody asleep; hand-over: a
 *                 HANDOFF word is only ever taken by a process that has slept
 *                 on the word, and is granted or cancelled (never left behind).
 *   DEATH         process 0 takes the lock once and may die at any step
 *                 (in acquire, holding it, in the middle of release); 1 and 2
 *                 wait forever but sleep in slices (a slice may end at any
 *                 moment) and probe the owner at the end of each slice.
 *                 Checks: mutual exclusion among the living; EOWNERDEAD only
 *                 from a dead owner; ltl `survivors`: under weak fairness
 *                 the survivors always get the lock and finish.
 *   REACH_HANDOFF_GRANTED, REACH_HANDOFF_CANCELLED, REACH_OWNERDEAD,
 *   REACH_WITHDRAW (a waiter giving up withdraws its hand-over request): assert
 *                 that the path is never taken; tools/models.sh expects these
 *                 to FAIL (the paths are reachable, so the checks above are
 *                 not vacuous).
 *   MUT_*         deliberately broken protocols; tools/models.sh expects
 *                 spin to find each (see the end of this file's comments).
 */

#define NPROC 3
#ifndef ITER
#define ITER 2
#endif
#ifndef SPIN_ROUNDS
#define SPIN_ROUNDS 1
#endif

#define TIDMASK 7
#define WAITERS 8
#define HREQ    16
#define HANDOFF 15   /* WAITERS | TIDMASK: free, reserved for a sleeper */

#define held(v)  (((v) & TIDMASK) != 0)
#define owner(v) ((((v) & TIDMASK) == TIDMASK) -> 0 : ((v) & TIDMASK))

/* results */
#define OK         0
#define ETIMEDOUT  1
#define EOWNERDEAD 2
#define EAGAIN     3

#ifdef DEATH
#define VICTIM 0
#define SLICES 1
#define TIMED_PID 99   /* nobody has a finite timeout */
#else
#define VICTIM 99
#define SLICES 0
#define TIMED_PID 0
#endif

byte word;
bool sleeping[NPROC];      /* in the futex queue of word */
bool dead[NPROC + 1];      /* by tid */
byte in_cs;                /* living holders */
bool killed;               /* the killer has struck */
byte survivors_done;
byte finished;             /* processes that returned or died */
byte grants, cancels, robbed, withdrawals;

/* ---- atomics and futex -------------------------------------------------- */

/* Blocks while in the queue; can_time_out: a timeout may end the wait. */
inline futex_wait(expected, can_time_out, r)
{
	atomic {
		if
		:: word == expected -> sleeping[me] = true; r = OK
		:: else -> r = EAGAIN
		fi
	};
	if
	:: r == OK ->
		if
		:: atomic { !sleeping[me] -> skip }                 /* woken */
		:: atomic { (can_time_out) && sleeping[me] -> sleeping[me] = false; r = ETIMEDOUT }
		fi
	:: else
	fi
}

inline futex_wake1(woke)
{
	atomic {
		woke = 0;
		if
		:: sleeping[0] -> sleeping[0] = false; woke = 1
		:: sleeping[1] -> sleeping[1] = false; woke = 1
		:: sleeping[2] -> sleeping[2] = false; woke = 1
		:: else
		fi
	}
}

/* Called atomically with a successful CAS that takes the lock from prev:
 * newcomers keep off a hand-over. */
inline took(prev)
{
	assert(prev != HANDOFF || has_slept);
	if
	:: prev == HANDOFF -> grants++
	:: else
	fi
}

/* ---- lib/sync/lock.c ------------------------------------------------------------ */

/* try_take: one attempt at a word that is free or handed over: the decision
 * is local (on v), the CAS is the one shared step. */
#ifdef MUT_BARGE_HANDOFF
#define MAY_TAKE_HANDOFF true
#else
#define MAY_TAKE_HANDOFF has_slept
#endif
inline try_take(v, ok)
{
	atomic {
		if
		:: v == HANDOFF && MAY_TAKE_HANDOFF -> mine = tid | WAITERS
		:: v == HANDOFF && !(MAY_TAKE_HANDOFF) -> mine = 0
		:: v != HANDOFF && held(v) -> mine = 0
		:: v != HANDOFF && !held(v) ->
			mine = tid | ((has_slept || (v & WAITERS)) -> WAITERS : 0)
		fi;
		ok = (mine != 0 && word == v);
		if
		:: ok -> word = mine; took(v)
		:: else
		fi;
		mine = 0
	}
}

/* withdraw_request: a waiter giving up clears HANDOFF_REQUESTED (unless the
 * word is already handed over), so the next release is a plain one. */
inline withdraw_request()
{
	v = word;
	do
	:: (v & HREQ) && v != HANDOFF ->
		atomic {
			ok = (word == v);
			if
			:: ok -> word = v & ~HREQ; withdrawals++
			:: else -> v = word
			fi
		};
		if
		:: ok -> break
		:: else
		fi
	:: else -> break
	od;
	ok = false
}

/* give_up: leaving without the lock (deadline passed): one last try_take on
 * a fresh load, as one that has slept; then withdraw a request it made. */
inline give_up(taken)
{
	v = word;
	try_take(v, taken);
	if
	:: !taken && starving -> withdraw_request()
	:: else
	fi
}

/* take_from_dead: at the end of a sleep slice. The probe (mps_tid_alive)
 * and the CAS are two steps. */
inline take_from_dead(v, ok)
{
#ifdef MUT_NO_DEAD_PROBE
	ok = false;
#else
	atomic {
		o = owner(v);
		ok = !(o == 0 || o == tid || !dead[o])
	};
	if
	:: ok ->
		atomic {
			ok = (word == v);
			if
			:: ok -> word = tid | WAITERS; assert(dead[o]); robbed++
			:: else
			fi;
			o = 0
		}
	:: else -> o = 0
	fi
#endif
}

/* spin_for_free: only while nobody sleeps (WAITERS clear); the fast path
 * CAS 0 -> tid when the word is seen free. */
inline spin_for_free(v, taken)
{
	taken = false;
	k = 0;
	do
	:: k < SPIN_ROUNDS ->
		atomic {
			v = word;
			if
			:: v == 0 -> word = tid; taken = true; took(0)
			:: else
			fi;
			k++
		};
		if
		:: taken || (v & WAITERS) -> break
		:: else
		fi
	:: true -> break                         /* the time budget ran out */
	od;
	k = 0
}

/* After a wake-up or a failed step: load and decide what the loop does. */
#define RETRY  0
#define SET_W  1
#define SLEEP  2
inline load_and_decide(v, act)
{
	atomic {
		v = word;
		if
		:: !held(v) || (v == HANDOFF && has_slept) -> act = RETRY
		:: else ->
#ifdef MUT_SLEEP_WITHOUT_WAITERS
			want = v;
#else
			want = v | WAITERS;
#endif
			if
			:: starving && v != HANDOFF -> want = want | HREQ
			:: else
			fi;
			act = ((want != v) -> SET_W : SLEEP)
		fi
	}
}

inline acquire_slow(res)
{
	/* mps_lockword_acquire_slow and wait_loop */
	starving = false;
	if
	:: !has_slept -> spin_for_free(v, taken)
	:: else -> v = word; taken = false
	fi;
	do
	:: taken -> res = OK; break
	:: else ->
		try_take(v, ok);
		if
		:: ok -> res = OK; break
		:: else
		fi;
		load_and_decide(v, act);
		if
		:: act == SET_W ->
			atomic {
				if
				:: word == v -> word = want; act = SLEEP
				:: else -> act = RETRY
				fi
			};
			if
			:: act == RETRY -> v = word; want = 0
			:: else
			fi
		:: else
		fi;
		if
		:: act == SLEEP ->
			futex_wait(want, timed || SLICES, r);
			atomic { has_slept = true; v = word; want = 0 };
			if
			:: r == ETIMEDOUT && timed ->                    /* deadline passed */
				give_up(ok);
				res = (ok -> OK : ETIMEDOUT);
				break
			:: r == ETIMEDOUT ->                             /* a slice ended */
				take_from_dead(v, ok);
				if
				:: ok -> res = EOWNERDEAD; break
				:: else
				fi
			:: else
			fi;
			r = 0;
			if
			:: !starving -> starving = true
			:: true
			fi
		:: else
		fi;
		act = 0
	od;
	r = 0; act = 0; want = 0
}

inline acquire(res)
{
	has_slept = false;
	atomic {
		ok = (word == 0);
		if
		:: ok -> word = tid; took(0)
		:: else
		fi
	};
	if
	:: ok -> res = OK
	:: else -> acquire_slow(res)
	fi;
	v = 0; ok = false; taken = false; starving = false
}

inline cancel_handoff()
{
	atomic {
		ok = (word == HANDOFF);
		if
		:: ok -> word = 0; cancels++
		:: else
		fi
	};
	if
	:: ok -> futex_wake1(woke)
	:: else
	fi
}

inline release()
{
	v = word;
	do
	:: atomic {
		assert(held(v) && v != HANDOFF);
		next = ((v & HREQ) -> HANDOFF : 0);
		ok = (word == v);
		if
		:: ok -> word = next
		:: else -> v = word
		fi
	   };
	   if
	   :: ok -> break
	   :: else
	   fi
	od;
	if
	:: next == HANDOFF ->
		futex_wake1(woke);
		if
#ifndef MUT_NO_CANCEL
		:: woke == 0 -> cancel_handoff()
#endif
		:: else
		fi
	:: next != HANDOFF && (v & WAITERS) ->
#ifndef MUT_NO_WAKE
		futex_wake1(woke)
#else
		skip
#endif
	:: else
	fi;
	v = 0; next = 0; woke = 0; ok = false
}

/* ---- processes ---------------------------------------------------------- */

inline critical_section()
{
	atomic { in_cs++; in_mine = true; assert(in_cs == 1) };
	atomic { in_cs--; in_mine = false }
}

inline one_process()
{
	iter = 0;
	do
	:: iter < ITER ->
		acquire(res);
		if
		:: res == OK || res == EOWNERDEAD ->
			assert(res == OK || SLICES);
			critical_section();
			release()
		:: else -> assert(res == ETIMEDOUT && timed)
		fi;
		iter++
	:: else -> break
	od
}

active [NPROC] proctype acquirer()
{
	byte me = _pid, tid = _pid + 1;
	byte v, want, mine, next, o, res, r, k, woke, iter, act;
	bool has_slept, starving, ok, taken, in_mine;
	bool timed = (_pid == TIMED_PID);

	if
	:: _pid == VICTIM ->
		{
			acquire(res);
			critical_section();
			release()
		} unless {
			killed ->
			atomic {
				dead[tid] = true;
				sleeping[me] = false;       /* the kernel drops a dead sleeper */
				if
				:: in_mine -> in_cs--
				:: else
				fi
			}
		}
	:: else ->
		one_process();
		survivors_done++
	fi;
	finished++
}

#ifdef DEATH
active proctype killer()
{
	killed = true
}

ltl survivors { <> (survivors_done == NPROC - 1) }
#endif

/* At the end: nobody asleep, and the word free (or, with DEATH, left held
 * or handed over by the dead process after the survivors finished). */
active proctype monitor()
{
	finished == NPROC + 0;
	assert(!sleeping[0] && !sleeping[1] && !sleeping[2]);
#ifdef DEATH
	assert(word == 0 || word == HANDOFF || owner(word) == VICTIM + 1);
#else
	assert(word == 0);
#endif
#ifdef REACH_HANDOFF_GRANTED
	assert(grants == 0);
#endif
#ifdef REACH_HANDOFF_CANCELLED
	assert(cancels == 0);
#endif
#ifdef REACH_OWNERDEAD
	assert(robbed == 0);
#endif
#ifdef REACH_WITHDRAW
	assert(withdrawals == 0);
#endif
}

/* Deliberately broken variants (tools/models.sh runs each and requires spin
 * to report an error):
 *   MUT_NO_WAKE               release does not wake when WAITERS is set
 *   MUT_SLEEP_WITHOUT_WAITERS a waiter sleeps without setting WAITERS
 *   MUT_NO_CANCEL             a hand-over that finds no sleeper stays
 *   MUT_BARGE_HANDOFF         newcomers may take a HANDOFF word
 *   MUT_NO_DEAD_PROBE         (with DEATH) sleepers never rob a dead owner */
