/* barrier.pml: the Barrier's epochs with outcome history.
 *
 * Mirrors lib/sync/barrier.c: mps_barrier_wait_action (the arrival loop, the wait
 * out of a TRIPPING epoch that gives up breaking nothing, the own-epoch
 * loop), sleep_through, trip, break_epoch, end_epoch (trips and breaks
 * counted apart), outcome, wake_if_sleepers, end_with (mps_barrier_abort,
 * mps_barrier_reset); the futex calls of lib/sync/futex.c.
 * Not modelled: EINTR and withdraw(), spinning (loads only), polls (a wait
 * whose deadline passes at once is one of the TIMED runs), init.
 *
 * Modelling (sequential consistency; each CAS loop is one atomic step, the
 * one where its CAS succeeds or its early return reads):
 *   the state     one int with barrier.c's layout scaled down: epoch bits
 *                 0..5 (the futex word: trips 0..2, breaks 3..5), count
 *                 6..8, BROKEN 9, TRIPPING 10, SLEEPERS 11, history 12..24
 *                 (13 outcomes, as in barrier.c); no run ends 7 passes, so
 *                 neither counter wraps
 *   futex_wait    atomically: if epoch == mine, join the queue, else EAGAIN;
 *                 then block until woken, or with TIMED time out at any
 *                 moment; once the deadline has passed every later wait
 *                 times out at once (one deadline for the whole call)
 *   futex_wake    FUTEX_WAKE(INT_MAX): atomically empties the queue
 *   the action    ACTION_FAILS: the last arriver's action may fail
 *
 * Scenario: parties = 2; waiter 0 waits twice, waiters 1 and 2 once (four
 * arrivals: two full passes when nothing breaks).
 *   default       untimed waits, nothing breaks; with ACTION_FAILS
 *   TIMED         every wait may time out at any moment
 *   CONTROL       a controller calls abort() and/or reset() at any moments
 *   DEATH         waiter 1 may die at any step, the controller aborts once;
 *                 the others must all return
 *
 * Checks (ghost bookkeeping per pass, i.e. per epoch value in the order the
 * epochs end: members, count, outcome, breaker):
 *   passes        an epoch trips only with exactly `parties` members, each
 *                 counted once, with distinct indexes 0..parties-1; the
 *                 state's count always equals the members counted
 *   never counted in the next pass: a waiter's result is its own epoch's
 *                 outcome: 0 only if that epoch tripped ok, MPS_EBROKEN only
 *                 if it ended broken, ETIMEDOUT only if this waiter broke it
 *                 (however late it reads it: REACH_LATE_OUTCOME must FAIL,
 *                 so reads after later epochs ended are explored); an
 *                 arrival that times out while waiting out another pass's
 *                 trip returns ETIMEDOUT and changes nothing
 *                 (REACH_NEWCOMER_TIMEOUT must FAIL: the path is explored)
 *   who may break a pass: a timeout breaks only an epoch the waiter is a
 *                 member of, and only before all parties have arrived
 *                 (TRIPPING: Python runs the action under the Condition's
 *                 lock, so no timeout can break a pass once it is
 *                 complete); abort/reset and a failed action break any
 *   BROKEN        only ever with count 0 and no TRIPPING
 *   no lost wake-up  when no process can move (spin's timeout), every
 *                 sleeper sleeps on the current epoch, and the epoch is
 *                 genuinely incomplete (a waiter left alone may sleep
 *                 forever: that sleep is a valid end state)
 *   DEATH         abort() never blocks, and after it every live waiter
 *                 returns (no valid sleep is left: all live waiters finish)
 *   MUT_*         broken protocols that must FAIL (end of file)
 */

#define NW 3
#define PARTIES 2
#ifndef ARRIVALS0
#define ARRIVALS0 2      /* waits of waiter 0 */
#endif

/* epoch: trips in bits 0..2 (barrier.c: 0..23), breaks in bits 3..5 (24..31) */
#define EPOCH_MASK 63
#define TRIP_MASK 7
#define BREAK_ONE 8
#define COUNT_SHIFT 6
#define COUNT_ONE 64
#define BROKEN 512
#define TRIPPING 1024
#define SLEEPERS 2048
#define HIST_SHIFT 12
#define HIST_BITS 13
#define HIST_MASK 8191

#define epoch_of(st) ((st) & EPOCH_MASK)
#define count_of(st) (((st) >> COUNT_SHIFT) & 7)

#define OK        0
#define ETIMEDOUT 1
#define EAGAIN    2
#define EBROKEN   3
#define ACTFAIL   4

/* ghost outcomes */
#define PENDING 0
#define WENT_OK 1
#define WENT_BROKEN 2

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
/* lib/sync/barrier.c lets a timeout break an epoch even while its action runs
 * (break_epoch does not look at TRIPPING): no waiter waits for a party that
 * may have died. */
#define FIX 0
/* The deadline applies to this sleep (with the fix: not once it has passed
 * while the waiter's own pass was tripping: the trip is then waited out). */
#define DEADLINE_APPLIES (!(FIX && patient))

int S;                            /* the state word */
bool sleeping[NW];
byte sleep_epoch[NW];
bool killed;
byte finished;

/* ghost, per pass (the n-th end of an epoch ends pass n) */
byte g_pass;
byte g_members[8], g_count[8], g_indexes[8], g_out[8], g_breaker[8];
byte late_reads, newcomer_timeouts;

#define INVARIANT(st) assert(!((st) & BROKEN) || (count_of(st) == 0 && !((st) & TRIPPING)))

inline futex_wake_all()
{
	atomic { sleeping[0] = false; sleeping[1] = false; sleeping[2] = false }
}

/* end_epoch(): the next epoch (a trip bumps the trips, a break the breaks),
 * with this one's outcome pushed into the history. */
#define next_epoch(e, broken) \
	((broken) -> (((e) + BREAK_ONE) & EPOCH_MASK) : (((e) & ~TRIP_MASK) | (((e) + 1) & TRIP_MASK)))
#ifdef MUT_NO_HISTORY
#define end_epoch(st, broken) next_epoch(epoch_of(st), broken)
#else
#define end_epoch(st, broken) (next_epoch(epoch_of(st), broken) | \
	(((((st) >> HIST_SHIFT) << 1) | (broken)) & HIST_MASK) << HIST_SHIFT)
#endif

/* Ghost: the current pass ends with outcome o (in the ending atomic step). */
inline ghost_end(o, breaker)
{
	assert(g_out[g_pass] == PENDING);
	g_out[g_pass] = o;
	g_breaker[g_pass] = breaker;
	g_pass++;
	assert(g_pass < 7)     /* within the ghost arrays; no field wraps */
}

/* outcome(): for a waiter of epoch mine once the epoch has moved on. */
inline outcome(st, res)
{
	trips = (epoch_of(st) - mine) & TRIP_MASK;
	breaks = ((epoch_of(st) - (mine & ~TRIP_MASK)) & EPOCH_MASK) >> 3;
	late_reads = late_reads + (g_pass - gmine >= 2);
	if
	:: breaks == 0 -> res = OK
	:: breaks != 0 && trips == 0 -> res = EBROKEN
	:: breaks != 0 && trips != 0 && trips + breaks > HIST_BITS -> res = EBROKEN
	:: breaks != 0 && trips != 0 && trips + breaks <= HIST_BITS ->
		res = (((st >> (HIST_SHIFT + trips + breaks - 1)) & 1) -> EBROKEN : OK)
	fi;
	trips = 0; breaks = 0
}

/* mps_barrier_wait_action as a machine of atomic steps, one per shared
 * access of the C code (local work merged into the step before it):
 *   ARRIVE    the arrival CAS loop (BROKEN -> MPS_EBROKEN; TRIPPING -> wait
 *             the trip out; else count in, TRIPPING if last)
 *   TRIP      the action, then trip()'s CAS ending the epoch
 *   WAIT_*    sleep_through(target): load, set SLEEPERS (one CAS, retried
 *             on the value seen), futex_wait, load after a timeout
 *   BREAK     break_epoch(target) after a timeout
 *   WAKE      wake_if_sleepers after the CAS that ended an epoch
 *   DONE      the result, checked against the ghost outcome */
#define ARRIVE     0
#define WAIT_LOAD  1
#define WAIT_CMP   2
#define WAIT_SLEEP 3
#define TRIP       4
#define BREAK      5
#define WAKE       6
#define DONE       7

/* sleep_through returned (st loaded, r = ETIMEDOUT or OK): what next. */
inline after_sleep()
{
	if
	:: !own && r != ETIMEDOUT -> phase = ARRIVE    /* the trip ended: arrive again */
	:: !own && r == ETIMEDOUT -> res = ETIMEDOUT; phase = DONE; newcomer_timeouts++  /* breaks nothing */
	:: own && epoch_of(st) != mine -> outcome(st, res); phase = DONE
	:: own && epoch_of(st) == mine -> assert(r == ETIMEDOUT); phase = BREAK
	fi;
	r = OK
}

inline barrier_wait(res)
{
	phase = ARRIVE;
	do
	:: atomic {
		phase == ARRIVE ->
		st = S;
		patient = false;
		if
		:: st & BROKEN -> res = EBROKEN; phase = DONE
#ifndef MUT_NO_TRIPPING
		:: !(st & BROKEN) && (st & TRIPPING) -> target = epoch_of(st); own = false; phase = WAIT_LOAD
#endif
		:: else ->
			mine = epoch_of(st);
			gmine = g_pass;
			index = count_of(st);
			S = st + COUNT_ONE;
			if
			:: index + 1 == PARTIES -> S = S | TRIPPING
			:: else
			fi;
			/* ghost: a new member of the current pass */
			assert(!(g_members[gmine] & (1 << me)));
			assert(!(g_indexes[gmine] & (1 << index)));
			g_members[gmine] = g_members[gmine] | (1 << me);
			g_indexes[gmine] = g_indexes[gmine] | (1 << index);
			g_count[gmine]++;
			assert(count_of(S) == g_count[gmine] && g_count[gmine] <= PARTIES);
			assert(g_out[gmine] == PENDING);
			INVARIANT(S);
			target = mine;
			own = true;
			phase = ((index + 1 == PARTIES) -> TRIP : WAIT_LOAD)
		fi
	   }
	:: atomic {
		phase == TRIP ->
		if
		:: result = OK
#ifdef ACTION_FAILS
		:: result = ACTFAIL
#endif
		fi;
		st = S;
		if
		:: epoch_of(st) != mine -> res = EBROKEN; phase = DONE  /* aborted or reset meanwhile */
		:: else ->
			assert(g_count[gmine] == PARTIES && g_pass == gmine);
			S = end_epoch(st, result != OK) | ((result != OK) -> BROKEN : 0);
			ghost_end(((result == OK) -> WENT_OK : WENT_BROKEN), 0);
			INVARIANT(S);
			res = result;
			phase = ((st & SLEEPERS) -> WAKE : DONE)
		fi;
		result = 0
	   }
	:: atomic {
		phase == WAIT_LOAD ->
		st = S;
		if
		:: epoch_of(st) != target -> r = OK; after_sleep()
		:: else ->
#ifndef MUT_NO_WAKE
			S = S | SLEEPERS;
#endif
			phase = WAIT_CMP
		fi
	   }
	:: atomic {
		phase == WAIT_CMP ->
		if
		:: expired && DEADLINE_APPLIES ->
			st = S;
			r = ((epoch_of(st) == target) -> ETIMEDOUT : OK);
			after_sleep()
		:: else ->
			if
			:: epoch_of(S) == target ->
				sleeping[me] = true; sleep_epoch[me] = target; phase = WAIT_SLEEP
			:: else -> phase = WAIT_LOAD                 /* EAGAIN */
			fi
		fi
	   }
	:: phase == WAIT_SLEEP ->
end_sleep:	if
		:: atomic { !sleeping[me] -> phase = WAIT_LOAD }
		:: atomic { TIMEOUTS && DEADLINE_APPLIES && sleeping[me] ->
			sleeping[me] = false;
			expired = true;
			st = S;
			r = ((epoch_of(st) == target) -> ETIMEDOUT : OK);
			after_sleep() }
		fi
	:: atomic {
		phase == BREAK ->                                    /* break_epoch */
		st = S;
		if
		:: epoch_of(st) == target ->
			/* A timeout may only break a pass the waiter is in,
			 * and not once all its parties have arrived (the
			 * last one is running the action). */
			assert(own && g_pass == gmine && (g_members[gmine] & (1 << me)));
			S = end_epoch(st, 1) | BROKEN;
			ghost_end(WENT_BROKEN, me + 1);
			INVARIANT(S);
			res = ETIMEDOUT;
			phase = ((st & SLEEPERS) -> WAKE : DONE)
		:: else -> phase = WAIT_LOAD         /* it ended meanwhile: read the outcome */
		fi
	   }
	:: atomic { phase == WAKE -> futex_wake_all(); phase = DONE }
	:: atomic {
		phase == DONE ->
		/* ghost: the result is this waiter's own epoch's outcome */
		if
		:: index != 255 ->
			if
			:: res == OK -> assert(g_out[gmine] == WENT_OK)
			:: res == EBROKEN -> assert(g_out[gmine] == WENT_BROKEN)
			:: res == ETIMEDOUT -> assert(g_out[gmine] == WENT_BROKEN && g_breaker[gmine] == me + 1)
			:: res == ACTFAIL -> assert(g_out[gmine] == WENT_BROKEN && g_breaker[gmine] == 0)
			fi
		:: else -> assert(res == EBROKEN || res == ETIMEDOUT)   /* never arrived */
		fi;
		phase = ARRIVE; st = 0; target = 0; mine = 0; gmine = 0; index = 255;
		expired = false; own = false; patient = false;
		break
	   }
	od
}

/* ---- processes ---------------------------------------------------------- */

active [NW] proctype waiter()
{
	int st;
	byte me = _pid, mine, gmine, index = 255, target, phase, r, res, result, trips, breaks, n;
	bool own, expired, patient;

	n = ((me == 0) -> ARRIVALS0 : 1);
	{
		do
		:: n > 0 -> barrier_wait(res); n--
		:: else -> break
		od
	} unless {
		me == VICTIM && killed -> atomic { sleeping[me] = false }
	};
	finished++
}

/* end_with(): abort (set_broken) or reset. */
inline end_with(set_broken)
{
	atomic {
		st = S;
		nxt = st;
		if
		:: set_broken && (st & BROKEN) -> skip
		:: else ->
			occupied = (count_of(st) > 0 || (st & TRIPPING));
			if
			:: occupied ->
				S = end_epoch(st, 1);
				ghost_end(WENT_BROKEN, 0)
			:: else -> S = st & ~(BROKEN | SLEEPERS)
			fi;
			if
			:: set_broken -> S = S | BROKEN
			:: else
			fi;
			nxt = S;
			INVARIANT(S)
		fi
	};
	futex_wake_all();       /* whoever still sleeps on an older epoch */
	st = 0; nxt = 0; occupied = false
}

#if defined(CONTROL) || defined(DEATH)
active proctype controller()
{
	int st, nxt;
	bool occupied;
#ifdef DEATH
	end_with(true);
#else
	if
	:: end_with(true)
	:: end_with(false)
	fi;
	if
	:: end_with(true)
	:: end_with(false)
	:: skip
	fi;
#endif
	finished++
}
#define NCONTROL 1
#else
#define NCONTROL 0
#endif

#ifdef DEATH
active proctype killer()
{
	killed = true
}
#endif

/* When nothing can move: each sleeper sleeps on the current epoch, which is
 * incomplete; with DEATH nobody may be left asleep at all. */
active proctype monitor()
{
end:	do
	:: timeout ->
		assert(!sleeping[0] || sleep_epoch[0] == epoch_of(S));
		assert(!sleeping[1] || sleep_epoch[1] == epoch_of(S));
		assert(!sleeping[2] || sleep_epoch[2] == epoch_of(S));
		assert(count_of(S) < PARTIES && !(S & TRIPPING));
#ifdef DEATH
		assert(!sleeping[0] && !sleeping[2]);
#endif
		break
	:: finished == NW + NCONTROL ->
		assert(!sleeping[0] && !sleeping[1] && !sleeping[2]);
#ifdef REACH_LATE_OUTCOME
		assert(late_reads == 0);
#endif
#ifdef REACH_NEWCOMER_TIMEOUT
		assert(newcomer_timeouts == 0);
#endif
		break
	od
}

/* Deliberately broken variants (tools/models.sh requires spin to report each):
 *   MUT_NO_TRIPPING  an arrival during the action is counted: the epoch's
 *                    count restarts instead of waiting for the next epoch
 *   MUT_NO_HISTORY   end_epoch keeps no history (a late reader gets a wrong
 *                    outcome)
 *   MUT_NO_WAKE      sleepers never set SLEEPERS, so nobody wakes them
 *
 * Two findings of this model in an earlier lib/sync/barrier.c:
 *   trip timeout      (TIMED) a member whose deadline passes while the
 *                     last party runs the action breaks the complete pass.
 *                     Kept on purpose: waiting the trip out would let a
 *                     party that died in the action wedge every timed waiter
 *                     (test/fault saw exactly that), so the model allows it
 *                     and the tripper then returns MPS_EBROKEN.
 *   abort wake        (DEATH, fixed) abort() and reset() wake the epoch word
 *                     whether or not they end an occupied epoch: a party that
 *                     died between its CAS ending an epoch and its
 *                     FUTEX_WAKE leaves sleepers of the ended epoch that
 *                     nothing else will ever wake */
