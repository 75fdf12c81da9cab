#!/usr/bin/env bash
# Builds fuzz_ops with clang (libFuzzer + ASan + UBSan) and fuzzes for N
# seconds, starting from the seed corpus.
#
#   test/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]     (default 60 s)
#
# Environment: MPS_FUZZ_BUILD (build directory, default <repo>/build/fuzz),
# MPS_FUZZ_JOBS (parallel fuzzing processes, default 1).
# New inputs go to <build>/corpus (the seed corpus is only read); a crash
# leaves crash-* in the build directory: replay it with
#   <build>/test/fuzz/fuzz_ops crash-...   or   fuzz_replay crash-...
# clang's UBSan does not check the alignment of volatile accesses (the arch
# layer's loads are volatile): fuzz_replay built with the asan-ubsan preset
# (gcc) and cross-built for aarch64 (tools/cross.sh: a misaligned atomic is
# SIGBUS there) see those.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-60}
shift || true
build=${MPS_FUZZ_BUILD:-$root/build/fuzz}
jobs=${MPS_FUZZ_JOBS:-1}

command -v clang >/dev/null || { echo "run.sh: clang is required" >&2; exit 2; }

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DMPSYNC_FUZZ=ON \
      -DMPSYNC_CRITERION_TESTS=OFF -DMPSYNC_BUILD_BENCH=OFF \
      -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" --target fuzz_ops -j "$(nproc 2>/dev/null || echo 2)"

mkdir -p "$build/corpus"
cd "$build"
parallel=()
if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
# -timeout: one input is at most 64 calls of about 1 ms each; 30 s is a hang.
exec "$build/test/fuzz/fuzz_ops" -max_total_time="$seconds" -timeout=30 \
     -max_len=1024 -print_final_stats=1 "${parallel[@]}" "$@" \
     "$build/corpus" "$root/test/fuzz/corpus"
