/* lock.pml: the Lock word protocol.
 *
 * Mirrors lib/sync/lock.c: mps_lock_acquire (fast path CAS 0 -> tid),
 * mps_lockword_acquire_slow, wait_loop, spin_for_free, try_take, cas_take,
 * hand_on, announce, sleep_once, give_up, take_from_dead,
 * mps_lockword_release; lib/sync/lockword.h: lw_held, lw_owner, lw_handoff,
 * LW_WAITERS, LW_HANDOFF_REQUESTED, LW_WATCHED, LW_HANDOFF; the futex calls
 * of lib/sync/futex.c (mps_futex_wait, mps_futex_wake). RLock
 * (lib/sync/rlock.c) and the re-acquire of Condition (lib/sync/cond.c:
 * reacquire) use the same two functions.
 *
 * Modelling (spin checks protocol logic under sequential consistency):
 *   the word      one byte; tid 1..3 in bits 0..2, 7 = every tid bit (so
 *                 HANDOFF = WAITERS | 7 as in lockword.h), WAITERS bit 3,
 *                 HANDOFF_REQUESTED bit 4, WATCHED bit 5
 *   CAS / load    one atomic step each
 *   futex_wait    atomically: if word == expected, enter the queue, else
 *                 EAGAIN; then block until woken, or (when a timeout is
 *                 possible) leave the queue with ETIMEDOUT at any moment
 *   futex_wake(n) atomically takes up to n processes out of the queue (the
 *                 kernel's FIFO order is one of the choices)
 *   slices        with DEATH, only the watcher's sleeps may end on a timer
 *                 (its 20 ms slice, at any moment); every other sleeper
 *                 sleeps until woken: the 10 s backstop is NOT modelled, so
 *                 every liveness result below holds without it. Without
 *                 DEATH there is no timer at all (only process 0's deadline):
 *                 the wakes alone must deliver every hand-over, so a lost
 *                 wake-up shows as a process asleep forever, not as a delay
 *                 the watcher's next slice would hide.
 *   spinning      at most SPIN_ROUNDS rounds, the time budget may end any time
 *   starving      after any sleep a waiter may become starving (the 1 ms)
 * Not modelled: EINTR (it leaves through the same give_up as a passed
 * deadline), the signal guard, RLock's depth count, the held record and tid
 * reuse (take_from_former_self needs a dead thread with the caller's tid),
 * the start-time check of take_from_dead.
 *
 * Configurations (spin -D...):
 *   default       3 processes x ITER acquire/release; process 0 uses a finite
 *                 timeout (its deadline may pass at the end of any sleep),
 *                 1 and 2 wait forever. Nobody dies. Checks: mutual
 *                 exclusion; no lost wake-up (a process asleep forever is an
 *                 invalid end state); a free word at the end with nobody
 *                 asleep and no WATCHED bit left behind; hand-over: a HANDOFF
 *                 word is only ever taken by a process that has slept on it,
 *                 and never left behind.
 *   DEATH         process 0 takes the lock once and may die at any step
 *                 (in acquire, as the watcher, holding it, in the middle of
 *                 release); 1 and 2 wait forever. Checks: mutual exclusion
 *                 among the living; EOWNERDEAD only from a dead owner; ltl
 *                 `survivors`: under weak fairness the survivors always get
 *                 the lock and finish, with the watcher as the only poller.
 *   REACH_HANDOFF_GRANTED, REACH_OWNERDEAD, REACH_WITHDRAW (a waiter giving
 *                 up withdraws its hand-over request), REACH_HAND_ON (a
 *                 leaving watcher wakes a successor): assert that the path is
 *                 never taken; hand_on only matters for a second death (the
 *                 watcher that took a dead owner's lock dies too), which
 *                 needs more processes than this model has; tools/models.sh expects these to FAIL (the
 *                 paths are reachable, so the checks above are not vacuous).
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
#define WATCHED 32
#define HANDOFF 15   /* WAITERS | TIDMASK: free, reserved for a sleeper */

#define held(v)    (((v) & TIDMASK) != 0)
#define owner(v)   ((((v) & TIDMASK) == TIDMASK) -> 0 : ((v) & TIDMASK))
#define handoff(v) (((v) & ~WATCHED) == HANDOFF)
#define still_watching(v) (watching && ((v) & WATCHED) && ((v) & TIDMASK) == watched)

/* results */
#define OK         0
#define ETIMEDOUT  1
#define EOWNERDEAD 2
#define EAGAIN     3

#ifdef DEATH
#define VICTIM 0
#define TIMED_PID 99   /* nobody has a finite timeout */
#define WATCH_TIMER 1  /* the watcher's slice may end at any moment */
#else
#define VICTIM 99
#define TIMED_PID 0
#define WATCH_TIMER 0  /* no timer at all: wakes alone must do */
#endif

#ifdef MUT_WAKE_ONE
#define RELEASE_WAKES 1
#else
#define RELEASE_WAKES 2
#endif

byte word;
bool sleeping[NPROC];      /* in the futex queue of word */
bool dead[NPROC + 1];      /* by tid */
byte in_cs;                /* living holders */
bool killed;               /* the killer has struck */
byte survivors_done;
byte finished;             /* processes that returned or died */
byte grants, robbed, withdrawals, hand_ons;

/* The path counters exist only for the REACH_* check that reads them: a
 * counter nobody reads would only multiply the states. */
#ifdef REACH_HANDOFF_GRANTED
#define NOTE_GRANT grants++
#else
#define NOTE_GRANT skip
#endif
#ifdef REACH_OWNERDEAD
#define NOTE_ROBBED robbed++
#else
#define NOTE_ROBBED skip
#endif
#ifdef REACH_WITHDRAW
#define NOTE_WITHDRAW withdrawals++
#else
#define NOTE_WITHDRAW skip
#endif
#ifdef REACH_HAND_ON
#define NOTE_HAND_ON hand_ons++
#else
#define NOTE_HAND_ON skip
#endif

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

/* Takes one sleeper out of the queue, if any (within an atomic block). */
inline wake_one()
{
	if
	:: sleeping[0] -> sleeping[0] = false
	:: sleeping[1] -> sleeping[1] = false
	:: sleeping[2] -> sleeping[2] = false
	:: else
	fi
}

inline futex_wake(n)
{
	atomic {
		wake_one();
		if
		:: n > 1 -> wake_one()
		:: else
		fi
	}
}

/* Called atomically with a successful CAS that takes the lock from prev:
 * newcomers keep off a hand-over. */
inline took(prev)
{
	assert(!handoff(prev) || has_slept);
	if
	:: handoff(prev) -> NOTE_GRANT
	:: else
	fi
}

/* ---- lib/sync/lock.c ------------------------------------------------------------ */

/* hand_on: a watcher about to take the word wakes one sleeper first. */
inline hand_on()
{
#ifndef MUT_NO_HAND_ON
	if
	:: watching -> futex_wake(1); NOTE_HAND_ON
	:: else
	fi
#else
	skip
#endif
}

/* try_take: one attempt at a word that is free or handed over: the decision
 * is local (on v); a watcher hands on first; the CAS is the one shared step. */
#ifdef MUT_BARGE_HANDOFF
#define MAY_TAKE_HANDOFF true
#else
#define MAY_TAKE_HANDOFF has_slept
#endif
inline try_take(v, ok)
{
	if
	:: handoff(v) && MAY_TAKE_HANDOFF -> mine = tid | WAITERS
	:: handoff(v) && !(MAY_TAKE_HANDOFF) -> mine = 0
	:: !handoff(v) && held(v) -> mine = 0
	:: !handoff(v) && !held(v) ->
		mine = tid | ((has_slept || (v & WAITERS)) -> WAITERS : 0)
	fi;
	if
	:: mine != 0 -> hand_on()
	:: else
	fi;
	atomic {
		ok = (mine != 0 && word == v);
		if
		:: ok -> word = mine; took(v)
		:: else
		fi;
		mine = 0
	}
}

/* give_up: leaving without the lock (deadline passed): a last try_take on a
 * fresh load, as one that has slept; then one CAS withdraws a hand-over
 * request it made and the watcher role it holds, and hands the role on. */
inline give_up(taken)
{
	v = word;
	do
	:: try_take(v, taken);
	   if
	   :: taken -> break
	   :: else
	   fi;
	   if
	   :: atomic { word != v -> v = word }      /* changed meanwhile: look again */
	   :: atomic { word == v ->
		next = v;
		if
		:: starving && !handoff(v) -> next = next & ~HREQ
		:: else
		fi;
		in_role = still_watching(v);
		if
		:: in_role -> next = next & ~WATCHED
		:: else
		fi
	      };
	      if
	      :: next == v -> break
	      :: else
	      fi;
	      atomic {
		cas_ok = (word == v);
		if
		:: cas_ok -> word = next;
			if
			:: (v & HREQ) && !(next & HREQ) -> NOTE_WITHDRAW
			:: else
			fi
		:: else -> v = word
		fi
	      };
	      if
	      :: cas_ok ->
		if
		:: in_role -> hand_on()
		:: else
		fi;
		break
	      :: else
	      fi
	   fi
	od;
	next = 0; cas_ok = false; in_role = false
}

/* take_from_dead: at the end of the watcher's slice. The probe
 * (mps_tid_alive_as) and the take are two steps; the take hands on first. */
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
		hand_on();
		atomic {
			ok = (word == v);
			if
			:: ok -> word = tid | WAITERS; assert(dead[o]); NOTE_ROBBED
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

/* After a wake-up or a failed step: load and decide what the loop does;
 * announce: the bits to set before sleeping, claiming WATCHED if clear. */
#define RETRY  0
#define SET_W  1
#define SLEEP  2
inline load_and_decide(v, act)
{
	atomic {
		v = word;
		if
		:: !held(v) || (handoff(v) && has_slept) -> act = RETRY
		:: else ->
#ifdef MUT_SLEEP_WITHOUT_WAITERS
			want = v;
#else
			want = v | WAITERS;
#endif
			if
			:: starving && !handoff(v) -> want = want | HREQ
			:: else
			fi;
			claim = !(v & WATCHED);
#ifdef MUT_NO_WATCHER
			claim = false;
#endif
			if
			:: claim -> want = want | WATCHED
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
	watching = false;
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
			atomic {
				if
				:: claim -> watching = true; watched = v & TIDMASK
				:: !claim && !still_watching(v) -> watching = false
				:: else
				fi;
				claim = false
			};
			futex_wait(want, timed || (watching && WATCH_TIMER), r);
			atomic { has_slept = true; v = word; want = 0 };
			if
			:: r == ETIMEDOUT && timed ->                    /* deadline passed */
				give_up(ok);
				res = (ok -> OK : ETIMEDOUT);
				break
			:: r == ETIMEDOUT && watching && WATCH_TIMER ->  /* a slice ended */
				take_from_dead(v, ok);
				if
				:: ok -> res = EOWNERDEAD; break
				:: else -> v = word
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
	r = 0; act = 0; want = 0; watching = false; watched = 0
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

/* release: the publishing CAS, then only the futex call (destruction
 * safety): no write after it on any path. */
inline release()
{
	v = word;
	do
	:: atomic {
		assert(held(v) && !handoff(v));
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
#ifndef MUT_NO_WAKE
	:: v & WAITERS -> futex_wake(RELEASE_WAKES)
#endif
	:: else
	fi;
	v = 0; next = 0; ok = false
}

/* ---- processes ---------------------------------------------------------- */

inline critical_section()
{
	atomic { in_cs++; in_mine = true; assert(in_cs == 1) };
	atomic { in_cs--; in_mine = false }
}

/* The timed process does one round: its deadline may pass at the end of any
 * sleep, which alone multiplies the states; the others do ITER. */
inline one_process()
{
	iter = 0;
	do
	:: iter < ITER && !(timed && iter > 0) ->
		acquire(res);
		if
		:: res == OK || res == EOWNERDEAD ->
			assert(res == OK || VICTIM != 99);
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
	byte v, want, mine, next, o, res, r, k, iter, act, watched;
	bool has_slept, starving, ok, taken, in_mine, watching, claim, in_role, cas_ok;
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
	assert(word == 0);    /* no HANDOFF, no WATCHED left behind */
#endif
#ifdef REACH_HANDOFF_GRANTED
	assert(grants == 0);
#endif
#ifdef REACH_HAND_ON
	assert(hand_ons == 0);
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
 *   MUT_BARGE_HANDOFF         newcomers may take a HANDOFF word
 *   MUT_NO_DEAD_PROBE         (with DEATH) the watcher never robs a dead owner
 *   MUT_NO_WATCHER            nobody ever claims WATCHED: no sleeper polls,
 *                             and a HANDOFF whose requester gave up, or a
 *                             dead owner, is never found */
