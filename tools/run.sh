#!/usr/bin/env bash
# The one entry point:
#   tools/run.sh test    every suite: release (Criterion suites, stress, packaging),
#                        then AddressSanitizer+UBSan, then ThreadSanitizer
#   tools/run.sh bench   build the release preset and run mpsync-bench --quick
#                        (results in build/release/bench-out/)
# Installs missing Debian packages first (apt-get, with sudo when not root).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(cmake gcc g++ clang libclang-rt-14-dev make pkg-config libcriterion-dev gnuplot-nox liburcu-dev strace spin python3)

install_packages() {
    local missing=() pkg sudo=()
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    echo "installing: ${missing[*]}"
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
}

run_tests() {
    local preset start result failed=() summary=()
    for preset in test asan-ubsan tsan; do
        echo "==== workflow $preset"
        start=$SECONDS
        result=ok
        cmake --workflow --preset "$preset" || result=FAILED
        summary+=("$(printf '%-11s %-6s %5d s' "$preset" "$result" $((SECONDS - start)))")
        [[ $result == ok ]] || failed+=("$preset")
    done
    echo "==== summary"
    printf '  %s\n' "${summary[@]}"
    if ((${#failed[@]})); then
        echo "FAILED: ${failed[*]}"
        return 1
    fi
    echo "all workflows passed"
}

run_bench() {
    local bench=build/release/bench/mpsync-bench
    cmake --preset release
    if ! cmake --build --preset release --target mpsync-bench || [[ ! -x $bench ]]; then
        echo "error: $bench could not be built (is bench/ complete?)" >&2
        return 1
    fi
    "$bench" --quick --out build/release/bench-out   # report.txt, results.csv, plots
}

case "${1:-}" in
    test)  install_packages; run_tests ;;
    bench) install_packages; run_bench ;;
    *)     echo "usage: $0 test|bench" >&2; exit 2 ;;
esac
