#!/usr/bin/env bash
# Writes the seed corpus of fuzz_ops (test/fuzz/corpus/*.bin). Layout of an
# input: 72 bytes of object state (Lock 4, RLock 8, Semaphore 16, Event 4,
# Condition 16, Barrier 24, little-endian), then opcodes with their argument
# bytes; see fuzz_ops.c for the opcode table (index into ops[]), the timeout
# selector (0 NaN, 1 -1, 2 0, 3 1e-4, 4 -inf, 5 -0, 6 1e-9, 7 1 ms, ...) and
# the count selector (0 -> 0, 1 -> 1, 2 b -> 2 + b % 8, 3 -> UINT_MAX, ...).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$here/corpus
mkdir -p "$dir" "$here/repro"

zeros=$(printf '00%.0s' $(seq 72))

# seed NAME OBJECT-HEX OPS-HEX
seed() {
	printf '%s%s' "$2" "$3" | xxd -r -p > "$dir/$1.bin"
}

# Lock: acquire, query, holder's re-acquire times out, release twice, NaN, poll
seed lock "$zeros" "0107 03 0103 02 02 0100 0102"
# RLock: three levels, query, four releases (the last EPERM), NaN
seed rlock "$zeros" "0507 0502 0503 07 06 06 06 06 0500"
# Semaphore(5): two acquires, release; Bounded(1): release over the bound,
# poll, timed acquire, release(0), query
seed sem "$zeros" "080203 0a07 0a07 0b01 0901 0b01 0a02 0a03 0b00 0c"
# Event: timed out wait, set, wait, clear, poll, NaN
seed event "$zeros" "1003 0e 1007 0f 1002 1000"
# Condition with Lock and RLock: waits, notify, notify_all, wait_for,
# wait without the lock (EPERM), query
seed cond "$zeros" "0107 1203 1601 17 140702 02 1203 0507 0507 1303 150200 18"
# Barrier(1) passes, with an action that fails; Barrier(3) times out;
# query, reset, abort, wait on a broken barrier, parties 0
seed barrier "$zeros" "190101 1a07 1b0700 19020100 07 1a03 1e 1d 1c 1a02 190001"
# Corrupt words: Lock HANDOFF, RLock held by tid 1 at depth 5, Semaphore value
# 2^32-1 with 3 waiters and bound 2, Event all ones, Condition all ones with
# offset -4, Barrier count 0xffff BROKEN|TRIPPING, parties 3, timeout +inf
corrupt="ffffff9f 0100000005000000 ffffffff03000000 0200000001000000 feffffff"
corrupt+=" ffffffffffffffff07000000fcffffff 00000000ffff0300 03000000 00000000 000000000000f07f"
seed corrupt "$corrupt" "0103 02 0503 0a02 0b01 0c 1003 0e 1002 1203 1605 17 1a03 1b0201 1d 1a03 18 1e"
# Planted owners: our tid with WAITERS|HANDOFF_REQUESTED in the Lock (release
# must work), our tid at UINT32_MAX depth in the RLock (EOVERFLOW), the
# parent as owner (timed out), interruptible on/off, every code's name
seed plant "$zeros" "2200a0 02 22040000 0507 06 1f01 1f00 2000 2001 2002 2003 2004 2005 2006 2007 200801020304 21 220100 0103"

# Reproducers of bugs found by fuzzing (test/fuzz/repro: replayed by CTest,
# not given to libFuzzer as seeds, since libFuzzer stops at the first crash).
#
# cond-misaligned-offset: a Condition whose lock_offset is not a multiple of 4
# (corrupt: note_lock only ever stores real, aligned offsets) and that has a
# waiter counted; notify_all then does an atomic load of a misaligned "lock
# word" in the same page (UBSan: misaligned load in requeue_target, cond.c),
# and an atomic OR on it if it happens to hold the caller's tid. A misaligned
# atomic faults on aarch64 and is a split lock on x86.
dir=$here/repro
cond="0000000001000000 00000000 29000000"
seed cond-misaligned-offset "$(printf '00%.0s' $(seq 32))${cond// /}$(printf '00%.0s' $(seq 24))" "17"
