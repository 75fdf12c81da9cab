#!/usr/bin/env bash
# Builds the top-level project the way a newcomer does, outside the presets:
#   cmake -S . -B <dir> -DCMAKE_BUILD_TYPE=<type> -DCMAKE_C_COMPILER=<cc>
#   cmake --build <dir>
# tests included (a plain configure builds them), once per compiler and
# build type. A plain configure leaves MPSYNC_WERROR off; this script turns
# it on so that any warning at all fails, then optionally runs a few tests.
#
#   tools/plain_builds.sh [--types "Release Debug"] [--compilers "gcc clang"]
#                         [--tests REGEX] [--keep]
# Defaults: Release, gcc and clang, no tests. Build trees: build/plain/<cc>-<type>
# (removed after a passing build unless --keep).
set -euo pipefail
cd "$(dirname "$0")/.."

types="Release"
compilers="gcc clang"
tests=""
keep=0
while (($#)); do
    case $1 in
        --types) types=${2:?}; shift ;;
        --all-types) types="Release RelWithDebInfo Debug MinSizeRel" ;;
        --compilers) compilers=${2:?}; shift ;;
        --tests) tests=${2:?}; shift ;;
        --keep) keep=1 ;;
        *) echo "usage: $0 [--types LIST | --all-types] [--compilers LIST] [--tests REGEX] [--keep]" >&2
           exit 2 ;;
    esac
    shift
done

jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p build/plain
summary=()
failed=0
for cc in $compilers; do
    for type in $types; do
        dir=build/plain/$cc-$type
        start=$SECONDS
        result=ok
        echo "==== $cc $type: cmake -S . -B $dir -DCMAKE_BUILD_TYPE=$type -DCMAKE_C_COMPILER=$cc -DMPSYNC_WERROR=ON"
        rm -rf "$dir"
        if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DCMAKE_C_COMPILER="$cc" \
                -DMPSYNC_WERROR=ON >"$dir.configure.log" 2>&1; then
            result="configure FAILED"; cat "$dir.configure.log"
        elif ! cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1; then
            result="build FAILED"
            keep_going=(-k)   # every error, not only the first target's
            grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja' "$dir/CMakeCache.txt" && keep_going=(-k 0)
            cmake --build "$dir" -- "${keep_going[@]}" >>"$dir.build.log" 2>&1 || true
            grep -E 'error|warning' "$dir.build.log" | sort -u | head -40
        elif [[ -n $tests ]] && ! (cd "$dir" && ctest --output-on-failure -R "$tests"); then
            result="tests FAILED"
        fi
        summary+=("$(printf '%-6s %-15s %-17s %4d s' "$cc" "$type" "$result" $((SECONDS - start)))")
        if [[ $result == ok ]]; then
            ((keep)) || rm -rf "$dir" "$dir".*.log
        else
            failed=1
        fi
    done
done
echo "==== plain builds (warnings as errors)"
printf '  %s\n' "${summary[@]}"
exit $failed
