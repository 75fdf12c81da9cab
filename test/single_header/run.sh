#!/usr/bin/env bash
# Builds and runs the single-header consumers with nothing but a compiler,
# the way a project that vendors single_include/mpsync.h would:
#   run.sh <single_include dir> plain <cc>           app.c + other.c; app.c alone
#                                                    with MPSYNC_STATIC; types_only.c
#   run.sh <single_include dir> two-copies <cc>      two static copies in one program
#   run.sh <single_include dir> cxx <c++> <cc>       a C++ consumer; an implementation
#                                                    file compiled as C++ must stop
#   run.sh <single_include dir> symbols <cc> <libmpsync>
#                                                    the implementation exports exactly
#                                                    the symbols of the library
# Every compile line is -std=c11 (or c++11) -O2 -Wall -Wextra -Wpedantic -Werror.
set -euo pipefail

inc=$(cd "${1:?usage: run.sh <single_include dir> plain|two-copies|cxx <compiler> [cc]}" && pwd)
case_=${2:?}
compiler=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
extra=${4:-}   # the C compiler (cxx) or the library (symbols)
[[ ! -e $extra ]] || extra=$(realpath "$extra")
work=$(mktemp -d "${TMPDIR:-/tmp}/mpsync-single.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

warn=(-Wall -Wextra -Wpedantic -Werror)
c=(-std=c11 -O2 "${warn[@]}" -I"$inc")

run() { printf '+ %s\n' "$*"; "$@"; }
fail() { printf 'single-header test FAILED: %s\n' "$*" >&2; exit 1; }
no_global_mps() {   # a private copy exports nothing of mpsync
    local leaked
    leaked=$(nm -g --defined-only "$@" | grep -E ' (mps_|lw_|a_)' || true)
    [[ -z $leaked ]] || fail "$* exports mpsync symbols: $leaked"
}

case $case_ in
plain)
    run "$compiler" "${c[@]}" "$here/app.c" "$here/other.c" -o app -pthread -lm
    run ./app
    run "$compiler" "${c[@]}" -DMPSYNC_STATIC -DAPP_ALONE "$here/app.c" -o app_static -pthread -lm
    run ./app_static
    no_global_mps app_static
    [[ $(nm app_static | grep -c ' t mps_') -gt 0 ]] || fail "app_static holds no private mps_ function"
    run "$compiler" "${c[@]}" -c "$here/types_only.c" -o types_only.o
    ;;
two-copies)
    for copy in a b; do
        run "$compiler" "${c[@]}" -I"$here" -DCOPY_OPS=copy_$copy -DCOPY_NAME="\"$copy\"" \
            -c "$here/copy.c" -o copy_$copy.o
        run ar rcs libcopy_$copy.a copy_$copy.o
        no_global_mps libcopy_$copy.a
        [[ $(nm -g --defined-only libcopy_$copy.a | awk 'NF == 3 {print $3}') == "copy_$copy" ]] \
            || fail "libcopy_$copy.a exports more than copy_$copy"
    done
    run "$compiler" "${c[@]}" -I"$here" "$here/two_copies.c" libcopy_a.a libcopy_b.a \
        -o two_copies -pthread -lm
    n=$(nm two_copies | grep -c ' t mps_lock_acquire$' || true)
    [[ $n == 2 ]] || fail "expected 2 private mps_lock_acquire in two_copies, found $n"
    no_global_mps two_copies
    run ./two_copies
    ;;
cxx)
    cc=${extra:?cxx needs a C compiler for impl.c}
    run "$cc" "${c[@]}" -c "$here/impl.c" -o impl.o
    run "$compiler" -std=c++11 -O2 "${warn[@]}" -I"$inc" "$here/cxx_consumer.cpp" impl.o \
        -o cxx_consumer -pthread -lm
    run ./cxx_consumer
    if "$compiler" -std=c++11 -I"$inc" -c "$here/cxx_impl.cpp" -o cxx_impl.o 2>err.txt; then
        fail "an implementation file compiled as C++ was accepted"
    fi
    grep -q 'must be compiled as C' err.txt || { cat err.txt >&2; fail "no clear error for C++"; }
    echo "compiling the implementation as C++ stops with the header's message: ok"
    ;;
symbols)
    lib=${extra:?symbols needs the built libmpsync}
    run "$compiler" "${c[@]}" -c "$here/impl.c" -o impl.o
    nm -g --defined-only impl.o | awk 'NF == 3 {print $3}' | sort >single.txt
    case $lib in
        *.so*) nm -D --defined-only "$lib" | awk 'NF == 3 {print $3}' | sort >library.txt ;;
        *) nm -g --defined-only "$lib" | awk 'NF == 3 {print $3}' | sort >library.txt ;;
    esac
    [[ -s library.txt ]] || fail "no symbols read from $lib"
    diff -u library.txt single.txt || fail "the single header and $lib export different symbols"
    echo "both export the same $(wc -l <single.txt) symbols"
    ;;
*)
    fail "unknown case $case_"
    ;;
esac
echo "single-header $case_ ($compiler): ok"
