#!/bin/sh
# Runs the queue example as three unrelated programs: one producer and two
# consumers that find its segment by name. The consumers start once the
# producer says it is ready (its objects exist), so none of them can attach
# to a leftover segment of an earlier run.
#
# usage: run_queue_example.sh [PRODUCER [CONSUMER]]
set -u
here=$(dirname "$0")
PRODUCER=${1:-$here/example_queue_producer}
CONSUMER=${2:-$here/example_queue_consumer}
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT

"$PRODUCER" 2 >"$out" &
producer=$!
n=0
until grep -q '^producer: ready' "$out"; do
	n=$((n + 1))
	if [ "$n" -gt 600 ] || ! kill -0 "$producer" 2>/dev/null; then
		cat "$out"
		echo "the producer did not get ready" >&2
		exit 1
	fi
	sleep 0.05
done
"$CONSUMER" &
c1=$!
"$CONSUMER" &
c2=$!
status=0
wait "$producer" || status=1
wait "$c1" || status=1
wait "$c2" || status=1
cat "$out"
exit $status
