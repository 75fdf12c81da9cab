#!/usr/bin/env bash
# Model-checks the Promela models of the futex protocols (test/models/*.pml)
# with spin: every configuration that must verify, and every "must fail"
# check (reachability probes and deliberately broken protocol variants) that
# spin must reject, so the models are known not to pass vacuously.
#
#   tools/models.sh                all checks
#   tools/models.sh lock cond      the checks of some models
#   tools/models.sh --list         the checks, without running them
#
# Environment:
#   MPS_MODELS_WORK   work directory (default: a fresh temporary one)
#   MPS_MODELS_MEM    memory limit of one verifier in MB (default 3072)
#   MPS_MODELS_CC     C compiler for the verifiers (default cc)
#   MPS_MODELS_NO_INSTALL=1  do not apt-get spin when it is missing
#
# The last line is "N passed, N failed"; the exit status is non-zero if any
# check did not give the expected result. A failed "must pass" check leaves
# its counterexample (spin -t -p) in the work directory and prints its tail.
# Flags and package lists are split on purpose.
# shellcheck disable=SC2086
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
models=$root/test/models
mem=${MPS_MODELS_MEM:-3072}
cc=${MPS_MODELS_CC:-cc}

# name | model | -D flags for spin | mode | expect
#   mode:   safety   assertions and invalid end states (deadlock, a process
#                    asleep forever)
#           ltl:NAME the LTL property NAME under weak fairness (acceptance
#                    cycles), assertions included
#   expect: pass, or fail (spin must report an error)
checks() {
	cat <<'EOF'
lock              | lock    |                                       | safety         | pass
lock-death        | lock    | -DDEATH -DITER=1                      | safety         | pass
lock-death-live   | lock    | -DDEATH -DITER=1                      | ltl:survivors  | pass
lock-reach-grant  | lock    | -DITER=1 -DREACH_HANDOFF_GRANTED      | safety         | fail
lock-reach-handon | lock    | -DDEATH -DITER=1 -DREACH_HAND_ON      | safety         | fail
lock-reach-dead   | lock    | -DDEATH -DITER=1 -DREACH_OWNERDEAD    | safety         | fail
lock-reach-withdraw| lock   | -DITER=1 -DREACH_WITHDRAW             | safety         | fail
lock-mut-nowake   | lock    | -DITER=1 -DMUT_NO_WAKE                | safety         | fail
lock-mut-nowaiters| lock    | -DITER=1 -DMUT_SLEEP_WITHOUT_WAITERS  | safety         | fail
lock-mut-wakeone  | lock    | -DDEATH -DITER=1 -DMUT_WAKE_ONE       | ltl:survivors  | fail
lock-mut-nowatch  | lock    | -DDEATH -DITER=1 -DMUT_NO_WATCHER     | ltl:survivors  | fail
lock-mut-barge    | lock    | -DITER=2 -DMUT_BARGE_HANDOFF          | safety         | fail
lock-mut-noprobe  | lock    | -DDEATH -DITER=1 -DMUT_NO_DEAD_PROBE  | ltl:survivors  | fail
EOF
	[ -f "$models/cond.pml" ] && cat <<'EOF'
cond              | cond    |                                       | safety         | pass
cond-timed        | cond    | -DTIMED -DSPURIOUS=0                  | safety         | pass
cond-all          | cond    | -DNOTIFY_ALL                          | safety         | pass
cond-death        | cond    | -DDEATH                               | safety         | pass
cond-reach-promote| cond    | -DREACH_PROMOTE                       | safety         | fail
cond-reach-requeue| cond    | -DNOTIFY_ALL -DREACH_REQUEUE          | safety         | fail
cond-reach-late   | cond    | -DTIMED -DREACH_TIMEOUT_TAKES_CHOICE  | safety         | fail
cond-mut-extra    | cond    | -DMUT_WAKE_EXTRA                      | safety         | fail
cond-mut-samebit  | cond    | -DMUT_SAME_BIT                        | safety         | fail
cond-mut-rejoin   | cond    | -DMUT_JOIN_G1                         | safety         | fail
cond-mut-leave    | cond    | -DTIMED -DMUT_LEAVE_WITH_CHOICE       | safety         | fail
cond-mut-nobump   | cond    | -DMUT_NO_SEQ_BUMP                     | safety         | fail
cond-mut-lateread | cond    | -DMUT_LATE_READ                       | safety         | fail
EOF
	[ -f "$models/event.pml" ] && cat <<'EOF'
event             | event   |                                       | safety         | pass
event-timed       | event   | -DTIMED                               | safety         | pass
event-death       | event   | -DDEATH                               | safety         | pass
event-reach-gen   | event   | -DREACH_GENERATION                    | safety         | fail
event-lim-setter  | event   | -DSETTER_DEATH                        | safety         | fail
event-mut-flag    | event   | -DTIMED -DMUT_FLAG_ONLY               | safety         | fail
event-mut-flag-hang| event  | -DMUT_FLAG_ONLY                       | safety         | fail
event-mut-nowake  | event   | -DMUT_NO_WAKE                         | safety         | fail
event-mut-nowaiters| event  | -DMUT_SLEEP_WITHOUT_WAITERS           | safety         | fail
EOF
	[ -f "$models/barrier.pml" ] && cat <<'EOF'
barrier             | barrier | -DACTION_FAILS                        | safety | pass
barrier-timed       | barrier | -DTIMED -DACTION_FAILS                | safety | pass
barrier-control     | barrier | -DCONTROL -DACTION_FAILS              | safety | pass
barrier-death       | barrier | -DDEATH                               | safety | pass
barrier-reach-late  | barrier | -DCONTROL -DARRIVALS0=1 -DREACH_LATE_OUTCOME | safety | fail
barrier-reach-newcomer| barrier | -DTIMED -DREACH_NEWCOMER_TIMEOUT | safety | fail
barrier-mut-notrip  | barrier | -DMUT_NO_TRIPPING                     | safety | fail
barrier-mut-nohist  | barrier | -DCONTROL -DARRIVALS0=1 -DMUT_NO_HISTORY | safety | fail
barrier-mut-nowake  | barrier | -DMUT_NO_WAKE                         | safety | fail
EOF
	true
}

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; printf '%s' "${s%"${s##*[![:space:]]}"}"; }

ensure_spin() {
	command -v spin >/dev/null && return 0
	if [ "${MPS_MODELS_NO_INSTALL:-0}" != 1 ] && command -v apt-get >/dev/null; then
		local sudo=
		[ "$(id -u)" -ne 0 ] && sudo=sudo
		echo "[models] installing spin"
		$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq spin >/dev/null
	fi
	command -v spin >/dev/null
}

# Runs one check in its own directory; sets result_line and returns 0 when
# the outcome is the expected one.
run_check() {
	local name=$1 model=$2 defs=$3 mode=$4 expect=$5 dir=$work/$1
	local opt=-O2
	[ "$expect" = fail ] && opt=-O0   # small searches: compile fast
	local cflags="$opt -w -DMEMLIM=$mem" panflags="-m2000000"
	mkdir -p "$dir" && cp "$models/$model.pml" "$dir/"
	case $mode in
	safety) cflags="$cflags -DSAFETY -DNOCLAIM -DCOLLAPSE" ;;
	ltl:*) cflags="$cflags -DNFAIR=4 -DCOLLAPSE"; panflags="$panflags -a -f -N ${mode#ltl:}" ;;
	esac
	[ "$expect" = fail ] && panflags="$panflags -c1"
	local t0=$SECONDS
	(cd "$dir" && spin $defs -a "$model.pml" >spin.log 2>&1 &&
	 $cc $cflags -o pan pan.c >cc.log 2>&1 &&
	 ./pan $panflags >pan.log 2>&1)
	local rc=$? secs=$((SECONDS - t0)) log=$dir/pan.log
	local errors states incomplete=
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$log" 2>/dev/null | tail -1)
	states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$log" 2>/dev/null | tail -1)
	grep -qE 'reached -DMEMLIM bound|max search depth too small|out of memory' "$log" 2>/dev/null &&
		incomplete=" (search incomplete)"
	if [ -z "$errors" ]; then
		result_line="did not run (exit $rc): $(tail -3 "$dir"/*.log | tr '\n' ' ')"
		return 1
	fi
	local what
	what=$(grep -m1 -E 'pan:[0-9]+:|assertion violated|invalid end state|acceptance cycle' "$log" | sed 's/^pan:[0-9]*: *//')
	result_line="errors $errors, ${states:-?} states, ${secs}s${incomplete}"
	if [ "$expect" = pass ]; then
		[ "$errors" = 0 ] && [ -z "$incomplete" ] && return 0
		if [ "$errors" != 0 ]; then
			(cd "$dir" && spin $defs -t -p -g -l "$model.pml" >trail.txt 2>&1)
			result_line="$result_line: $what; trail: $dir/trail.txt"
		fi
		return 1
	fi
	result_line="$result_line: $what"
	[ "$errors" != 0 ]
}

main() {
	local list=0 only=()
	for a in "$@"; do
		case $a in
		--list) list=1 ;;
		*) only+=("$a") ;;
		esac
	done
	if [ "$list" = 1 ]; then
		checks
		return 0
	fi
	if ! ensure_spin; then
		echo "[models] spin is not installed (apt-get install spin)"
		echo "0 passed, 1 failed"
		return 1
	fi
	work=${MPS_MODELS_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/mpsync-models.XXXXXX")}
	mkdir -p "$work"
	echo "[models] $(spin -V), work directory $work"
	local pass=0 fail=0 name model defs mode expect
	while IFS='|' read -r name model defs mode expect; do
		name=$(trim "$name"); model=$(trim "$model"); defs=$(trim "$defs")
		mode=$(trim "$mode"); expect=$(trim "$expect")
		[ -n "$name" ] || continue
		if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qx "$model"; then
			continue
		fi
		if run_check "$name" "$model" "$defs" "$mode" "$expect"; then
			pass=$((pass + 1))
			printf '  ok    %-20s must %-4s %s\n' "$name" "$expect" "$result_line"
		else
			fail=$((fail + 1))
			printf '  FAIL  %-20s must %-4s %s\n' "$name" "$expect" "$result_line"
		fi
	done < <(checks)
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

main "$@"
