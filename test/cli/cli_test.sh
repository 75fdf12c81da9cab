#!/bin/sh
# The mpsync tool against live segments: usage and exit codes, list, show of
# every kind of object in a known state (cli_helper makes them), rm refused
# while a live process is attached, rm --force, rm after the attached
# process died, and files of /dev/shm that are no (valid) segments.
#
# usage: cli_test.sh MPSYNC CLI_HELPER
set -u
MPSYNC=$1
HELPER=$2
name="mpsync-clitest-$$"
tmp=$(mktemp -d) || exit 1
hpid=
failures=0

cleanup() {
	exec 3>&-
	[ -n "$hpid" ] && kill -KILL "$hpid" 2>/dev/null
	rm -f "/dev/shm/$name" "/dev/shm/$name-junk" "/dev/shm/$name-bad"
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# run CMD...: stdout to $tmp/stdout, stderr to $tmp/stderr, status in $rc.
run() {
	"$@" >"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
}

expect_rc() {
	[ "$rc" -eq "$1" ] || fail "$2: exit status $rc, expected $1 (stderr: $(cat "$tmp/stderr"))"
}

# expect_line FILE REGEX WHAT
expect_line() {
	grep -Eq "$2" "$1" || { fail "$3: no line matches /$2/ in:"; cat "$1" >&2; }
}

expect_no_line() {
	! grep -Eq "$2" "$1" || { fail "$3: a line matches /$2/ in:"; cat "$1" >&2; }
}

# The helper runs with a fifo as stdin; closing fd 3 lets it exit.
start_helper() {
	rm -f "$tmp/ctl" "$tmp/helper.out"
	mkfifo "$tmp/ctl" || exit 1
	"$HELPER" "$name" <"$tmp/ctl" >"$tmp/helper.out" 2>&1 &
	hpid=$!
	exec 3>"$tmp/ctl"
	n=0
	until grep -q '^ready' "$tmp/helper.out"; do
		n=$((n + 1))
		if [ "$n" -gt 600 ] || ! kill -0 "$hpid" 2>/dev/null; then
			echo "FAIL: the helper did not get ready:" >&2
			cat "$tmp/helper.out" >&2
			exit 1
		fi
		sleep 0.05
	done
	[ "$(cut -d' ' -f2 "$tmp/helper.out")" = "$hpid" ] || { echo "FAIL: helper pid" >&2; exit 1; }
}

# ---- usage ----
run "$MPSYNC" --help;            expect_rc 0 "--help"
expect_line "$tmp/stdout" '^usage: mpsync list' "--help"
run "$MPSYNC";                   expect_rc 2 "no arguments"
run "$MPSYNC" frobnicate;        expect_rc 2 "unknown command"
run "$MPSYNC" show;              expect_rc 2 "show without a name"
run "$MPSYNC" rm --force;        expect_rc 2 "rm without a name"
run "$MPSYNC" show "$name";      expect_rc 1 "show of a missing segment"
expect_line "$tmp/stderr" "ENOENT" "show of a missing segment"

# ---- a live segment ----
start_helper
run "$MPSYNC" list;              expect_rc 0 "list"
expect_line "$tmp/stdout" '^NAME +SIZE +CREATOR +STATE +OBJECTS +ATTACHED$' "list header"
expect_line "$tmp/stdout" "^$name +1048576 +$hpid +alive +15 +$hpid\$" "list of the live segment"

run "$MPSYNC" show "$name";      expect_rc 0 "show"
out="$tmp/stdout"
expect_line "$out" "^segment $name\$" "show header"
expect_line "$out" '^layout_version 2$' "show header"
expect_line "$out" '^size 1048576$' "show header"
expect_line "$out" '^free_bytes [0-9]+$' "show header"
expect_line "$out" "^creator_pid $hpid\$" "show header"
expect_line "$out" '^creator_alive yes$' "show header"
expect_line "$out" '^pid_namespace [0-9]+$' "show header"
expect_line "$out" '^created [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "show header"
expect_line "$out" '^objects 15$' "show header"
expect_line "$out" '^names 15$' "show header"
expect_line "$out" "^attached 1 $hpid\$" "show header"
expect_line "$out" "^object lk Lock refs=1 locked=yes owner=$hpid owner_alive=yes\$" "Lock"
expect_line "$out" "^object rl RLock refs=1 locked=yes owner=$hpid owner_alive=yes count=2\$" "RLock"
expect_line "$out" '^object sem Semaphore refs=1 value=3$' "Semaphore"
expect_line "$out" '^object bsem BoundedSemaphore refs=1 value=1 bound=2$' "BoundedSemaphore"
expect_line "$out" '^object ev Event refs=1 set=yes$' "Event"
expect_line "$out" '^object cond Condition refs=1 waiters=0$' "Condition"
expect_line "$out" '^object bar Barrier refs=1 parties=3 waiting=0 broken=no$' "Barrier"
expect_line "$out" '^object val Value refs=1 typecode=i sync=rlock locked=no value=42$' "Value"
expect_line "$out" '^object raw Value refs=1 typecode=d sync=none value=2.5$' "raw Value"
expect_line "$out" '^object arr Array refs=1 typecode=h len=3 sync=rlock locked=no items=\[1,2,3\]$' "Array"
expect_line "$out" '^object jq JoinableQueue refs=1 qsize=2 bytes=[0-9]+ capacity=4096 maxsize=0 getters_waiting=0 putters_waiting=0 unfinished=2 shutdown=no$' "JoinableQueue"
expect_line "$out" '^object q Queue refs=1 qsize=0 bytes=0 capacity=1024 maxsize=5 getters_waiting=0 putters_waiting=0 shutdown=no$' "Queue"
expect_line "$out" '^object d dict refs=1 len=2$' "dict"
expect_line "$out" '^object li list refs=1 len=3$' "list"
expect_line "$out" '^object ns Namespace refs=1 len=1$' "Namespace"
[ "$(grep -c '^object ' "$out")" -eq 15 ] || fail "show: $(grep -c '^object ' "$out") objects, expected 15"

# rm refuses while the helper is attached and alive.
run "$MPSYNC" rm "$name";        expect_rc 1 "rm of an attached segment"
expect_line "$tmp/stderr" "in use by pid $hpid" "rm of an attached segment"
[ -e "/dev/shm/$name" ] || fail "rm without --force removed an attached segment"
run "$MPSYNC" rm --force "$name"; expect_rc 0 "rm --force"
expect_line "$tmp/stdout" "^removed $name\$" "rm --force"
[ ! -e "/dev/shm/$name" ] || fail "rm --force left the segment"
run "$MPSYNC" list;              expect_rc 0 "list after rm"
expect_no_line "$tmp/stdout" "^$name " "list after rm"
exec 3>&-
wait "$hpid" || fail "the helper failed after rm --force"
hpid=

# ---- a segment whose attached process was killed ----
start_helper
kill -KILL "$hpid"
wait "$hpid" 2>/dev/null
dead=$hpid
hpid=
exec 3>&-
run "$MPSYNC" list;              expect_rc 0 "list after the creator died"
expect_line "$tmp/stdout" "^$name +1048576 +$dead +dead +15 +-\$" "list after the creator died"
run "$MPSYNC" show "$name";      expect_rc 0 "show after the creator died"
expect_line "$tmp/stdout" '^creator_alive no$' "show after the creator died"
expect_line "$tmp/stdout" '^attached 0$' "show after the creator died"
expect_line "$tmp/stdout" "^object lk Lock refs=1 locked=yes owner=$dead owner_alive=no\$" "dead Lock owner"
run "$MPSYNC" rm "$name";        expect_rc 0 "rm after the attached process died"
[ ! -e "/dev/shm/$name" ] || fail "rm left the segment"

# ---- files that are no valid segments ----
printf 'this is not an mpsync segment\n' >"/dev/shm/$name-junk"
{ printf 'MPSYNSEG'; head -c 65528 /dev/zero; } >"/dev/shm/$name-bad"
run "$MPSYNC" list;              expect_rc 0 "list with foreign files"
expect_no_line "$tmp/stdout" "^$name-junk" "list skips a foreign file"
expect_line "$tmp/stdout" "^$name-bad +65536 +- +error +- +E[A-Z]+: " "list shows a broken segment"
run "$MPSYNC" show "$name-junk"; expect_rc 1 "show of a foreign file"
expect_line "$tmp/stderr" "^mpsync: $name-junk: EPROTO: " "show of a foreign file"
run "$MPSYNC" rm --force "$name-junk"; expect_rc 1 "rm of a foreign file"
[ -e "/dev/shm/$name-junk" ] || fail "rm removed a foreign file"
run "$MPSYNC" show "$name-bad";  expect_rc 1 "show of a broken segment"
run "$MPSYNC" rm "$name-bad";    expect_rc 1 "rm of a broken segment without --force"
run "$MPSYNC" rm --force "$name-bad"; expect_rc 0 "rm --force of a broken segment"
[ ! -e "/dev/shm/$name-bad" ] || fail "rm --force left a broken segment"

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "cli: all checks passed"
