/* event.pml: the Event word with its generation.
 *
 * Mirrors lib/sync/event.c: mps_event_set, mps_event_clear, mps_event_wait,
 * spin_for_set, signalled, generation; the futex calls of lib/sync/futex.c.
 *
 * Modelling (sequential consistency):
 *   the word      one byte: SET bit 0, WAITERS bit 1, generation in bits 2..7
 *                 (+4 per set; no run makes enough sets to wrap it)
 *   CAS / load    one atomic step each; CAS loops retry on the value seen
 *   futex_wait    atomically: if word == expected, join the queue, else EAGAIN;
 *                 then block until woken, or with TIMED time out at any moment
 *   futex_wake    FUTEX_WAKE(INT_MAX): atomically empties the queue
 *   spinning      at most one round of loads, the budget may end at once
 *
 * Scenario: the setter makes SETOPS calls, each set() or clear() (spin tries
 * every sequence); waiter 1 waits twice, waiter 2 once.
 *
 * Checks (ghost: a wait is "in progress" from its first load of the word to
 * the load it decides on; a set() whose CAS lands in between is "seen"):
 *   signalled     a wait that returns 0 saw a set() during it, or read SET
 *                 (it never returns 0 spuriously)
 *   generation    a wait in progress when set() happens returns 0 even if
 *                 clear() follows at once: with TIMED, a wait that returns
 *                 ETIMEDOUT saw no set()
 *   no lost wake-up  when no process can move (spin's timeout), nobody sleeps
 *                 whose wait saw a set() or while the event is set; waiters
 *                 that legitimately wait forever (no set came) are valid end
 *                 states
 *   DEATH         waiter 1 may die at any step; the setter and waiter 2 are
 *                 never held up (same checks; a dead waiter leaves WAITERS)
 *   SETTER_DEATH  the setter may die at any step. A known limitation, checked
 *                 as must FAIL: a setter killed between its CAS (which
 *                 publishes SET and clears WAITERS) and its FUTEX_WAKE leaves
 *                 the sleepers asleep for good: a later set() of a set event
 *                 is one load, and after clear() + set() WAITERS is clear.
 *   REACH_GENERATION  must FAIL: a wait returns 0 on the generation alone,
 *                 with SET already cleared again (the race is explored)
 *   MUT_*         broken protocols that must FAIL (end of file)
 */

#define NP 3
#ifndef SETOPS
#define SETOPS 4
#endif

#define EV_SET     1
#define EV_WAITERS 2
#define EV_GEN_ONE 4
#define generation(v) ((v) & ~(EV_SET | EV_WAITERS))
#ifdef MUT_FLAG_ONLY
#define signalled(v, start) (((v) & EV_SET) != 0)
#else
#define signalled(v, start) (((v) & EV_SET) || generation(v) != generation(start))
#endif

#define OK        0
#define ETIMEDOUT 1
#define EAGAIN    2

#ifdef TIMED
#define TIMEOUTS 1
#else
#define TIMEOUTS 0
#endif
#ifdef DEATH
#define VICTIM 1
#else
#define VICTIM 99
#endif
#ifdef SETTER_DEATH
#define SETTER_DIES 1
#else
#define SETTER_DIES 0
#endif

byte word;
bool sleeping[NP];
bool dead[NP];
bool killed;
byte finished;

/* ghost */
bool in_wait[NP], saw_set[NP];
byte gen_only_returns;

inline futex_wake_all()
{
	atomic {
		sleeping[0] = false;
		sleeping[1] = false;
		sleeping[2] = false
	}
}

/* ---- lib/sync/event.c ------------------------------------------------------------ */

inline ev_set()
{
	v = word;
	do
	:: v & EV_SET -> break
	:: else ->
		atomic {
			ok = (word == v);
			if
			:: ok ->
				word = (generation(v) + EV_GEN_ONE) | EV_SET;
				saw_set[1] = saw_set[1] || in_wait[1];
				saw_set[2] = saw_set[2] || in_wait[2]
			:: else -> v = word
			fi
		};
		if
		:: ok ->
#ifndef MUT_NO_WAKE
			if
			:: v & EV_WAITERS -> futex_wake_all()
			:: else
			fi;
#endif
			break
		:: else
		fi
	od;
	v = 0; ok = false
}

inline ev_clear()
{
	v = word;
	do
	:: v & EV_SET ->
		atomic {
			ok = (word == v);
			if
			:: ok -> word = v & ~EV_SET
			:: else -> v = word
			fi
		};
		if
		:: ok -> break
		:: else
		fi
	:: else -> break
	od;
	v = 0; ok = false
}

/* A value the wait decides on (a load, or the value a failed CAS saw): the
 * ghost checks happen in the same atomic step. done: the wait returns, 0 or
 * (timed_out) ETIMEDOUT. */
inline decide_on(val, timed_out)
{
	atomic {
		v = val;
		if
		:: signalled(v, start) ->
			assert(saw_set[me] || (v & EV_SET));   /* never a spurious 0 */
			gen_only_returns = gen_only_returns + ((v & EV_SET) == 0);
			in_wait[me] = false;
			res = OK;
			done = true
		:: !signalled(v, start) && (timed_out) ->
			assert(!saw_set[me]);     /* a set() during the wait was missed */
			in_wait[me] = false;
			res = ETIMEDOUT;
			done = true
		:: else
		fi
	}
}

/* Expanded once per proctype: its sleep carries the end label (a waiter no
 * set() reached may sleep forever; the monitor checks the rest). */
inline ev_wait(res)
{
	done = false;
	res = OK;
	atomic {
		start = word;
		if
		:: start & EV_SET -> done = true
		:: else -> in_wait[me] = true; saw_set[me] = false
		fi
	};
	if
	:: !done ->
		if
		:: v = start                       /* no spinning: v is start */
		:: decide_on(word, false)          /* spin_for_set's closing a_load */
		fi;
		do
		:: done -> break
		:: else ->
			if
			:: !(v & EV_WAITERS) ->
#ifdef MUT_SLEEP_WITHOUT_WAITERS
				ok = true
#else
				atomic {
					ok = (word == v);
					if
					:: ok -> word = v | EV_WAITERS; v = v | EV_WAITERS
					:: else -> decide_on(word, false)   /* v = seen; continue */
					fi
				}
#endif
			:: else -> ok = true
			fi;
			if
			:: ok ->
				atomic {
					if
					:: word == v -> sleeping[me] = true; r = OK
					:: else -> r = EAGAIN
					fi
				};
				if
				:: r == OK ->
end_sleep:				if
					:: atomic { !sleeping[me] -> skip }
					:: atomic { TIMEOUTS && sleeping[me] -> sleeping[me] = false; r = ETIMEDOUT }
					fi
				:: else
				fi;
				decide_on(word, r == ETIMEDOUT);
				r = OK
			:: else
			fi;
			ok = false
		od
	:: else
	fi;
	v = 0; start = 0; done = false
}

/* ---- processes ---------------------------------------------------------- */

active proctype setter()
{
	byte v, i;
	bool ok;
	{
		for (i : 1 .. SETOPS) {
			if
			:: ev_set()
			:: ev_clear()
			fi
		}
	} unless {
		SETTER_DIES && killed -> skip
	};
	finished++
}

active [2] proctype waiter()
{
	byte me = _pid, v, start, r, res, n;
	bool ok, done;

	n = ((me == 1) -> 2 : 1);
	{
		do
		:: n > 0 -> ev_wait(res); n--
		:: else -> break
		od
	} unless {
		me == VICTIM && killed ->
		atomic { dead[me] = true; sleeping[me] = false; in_wait[me] = false }
	};
	finished++
}

#if defined(DEATH) || defined(SETTER_DEATH)
active proctype killer()
{
	killed = true
}
#endif

/* When nothing can move: a sleeper must be one that no set() reached, and
 * then the event is not set. */
active proctype monitor()
{
end:	do
	:: timeout ->
		assert(!(sleeping[1] && saw_set[1]) && !(sleeping[2] && saw_set[2]));
		assert(!(word & EV_SET) || (!sleeping[1] && !sleeping[2]));
		break
	:: finished == NP ->
#ifdef REACH_GENERATION
		assert(gen_only_returns == 0);
#endif
		break
	od
}

/* Deliberately broken variants (tools/models.sh requires spin to report each):
 *   MUT_FLAG_ONLY              a wait looks at SET only, not the generation
 *                              (with TIMED: a wait that saw set+clear times
 *                              out; untimed: it sleeps through the set)
 *   MUT_NO_WAKE                set() does not wake the sleepers
 *   MUT_SLEEP_WITHOUT_WAITERS  a wait sleeps without setting WAITERS */
