#!/usr/bin/env bash
# Packaging test: installs mpsync into a temporary prefix, then builds and
# runs four consumers that use a Lock and a Condition:
#   find_package/   find_package(mpsync) against the installed prefix
#   subdirectory/   add_subdirectory() of the source tree
#   fetchcontent/   FetchContent of the source tree (no download: the local tree)
#   pkg-config/     pkg-config --cflags --libs mpsync, static link
# and shared_fork.c against a shared libmpsync (the inline fast paths reading
# the library's exported per-thread state and fork stamp).
# Usage: run.sh <mpsync source dir> [cmake command]
set -euo pipefail

src=$(cd "${1:?usage: run.sh <mpsync source dir> [cmake]}" && pwd)
cmake=${2:-cmake}
here="$src/test/consumer"
work=$(mktemp -d "${TMPDIR:-/tmp}/mpsync-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'consumer test FAILED: %s\n' "$*" >&2; exit 1; }

step "install mpsync into $prefix"
"$cmake" -S "$src" -B "$work/mpsync" -DCMAKE_BUILD_TYPE=Release \
    -DMPSYNC_BUILD_TESTS=OFF -DMPSYNC_BUILD_BENCH=OFF >/dev/null
"$cmake" --build "$work/mpsync" -j "$jobs" >/dev/null
"$cmake" --install "$work/mpsync" --prefix "$prefix" >/dev/null
for f in include/mpsync.h include/mpsync/cond.h; do
    [[ -f $prefix/$f ]] || fail "$f not installed"
done
config=$(find "$prefix" -name mpsyncConfig.cmake -print -quit)
pcfile=$(find "$prefix" -name mpsync.pc -print -quit)
[[ -n $config && -n $pcfile ]] || fail "mpsyncConfig.cmake or mpsync.pc not installed"
find "$prefix" -type f | sed "s|^$prefix/|  |" | sort

step "find_package(mpsync)"
"$cmake" -S "$here/find_package" -B "$work/find_package" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
"$cmake" --build "$work/find_package" >/dev/null
"$work/find_package/consumer"

step "add_subdirectory(mpsync)"
"$cmake" -S "$here/subdirectory" -B "$work/subdirectory" -DMPSYNC_SOURCE_DIR="$src" >/dev/null
"$cmake" --build "$work/subdirectory" -j "$jobs" >/dev/null
[[ ! -e $work/subdirectory/mpsync/test ]] || fail "a sub-project build configured mpsync's tests"
"$work/subdirectory/consumer"

step "FetchContent(mpsync)"
"$cmake" -S "$here/fetchcontent" -B "$work/fetchcontent" -DFETCHCONTENT_SOURCE_DIR_MPSYNC="$src" \
    -DMPSYNC_BUILD_TOOL=OFF -DMPSYNC_INSTALL=OFF >/dev/null
"$cmake" --build "$work/fetchcontent" -j "$jobs" >/dev/null
[[ ! -e $work/fetchcontent/_deps/mpsync-build/test ]] || fail "FetchContent configured mpsync's tests"
"$work/fetchcontent/consumer"

step "pkg-config --cflags --libs mpsync (static)"
PKG_CONFIG_PATH=$(dirname "$pcfile")
export PKG_CONFIG_PATH
echo "  cflags: $(pkg-config --cflags mpsync)   libs: $(pkg-config --libs --static mpsync)"
[[ $(realpath "$(pkg-config --variable=includedir mpsync)") == "$prefix/include" ]] \
    || fail "mpsync.pc points outside the prefix: $(pkg-config --variable=includedir mpsync)"
mkdir "$work/pkg-config"
make -s -C "$work/pkg-config" -f "$here/pkg-config/Makefile" SRC="$here"
if command -v readelf >/dev/null && readelf -d "$work/pkg-config/consumer" | grep -q 'libmpsync'; then
    fail "pkg-config consumer is linked against a shared libmpsync"
fi
"$work/pkg-config/consumer"

step "shared libmpsync: inline fast paths against its exported state"
"$cmake" -S "$src" -B "$work/mpsync-shared" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DMPSYNC_BUILD_TESTS=OFF -DMPSYNC_BUILD_BENCH=OFF -DMPSYNC_BUILD_TOOL=OFF >/dev/null
"$cmake" --build "$work/mpsync-shared" -j "$jobs" >/dev/null
"$cmake" --install "$work/mpsync-shared" --prefix "$prefix-shared" >/dev/null
lib=$(dirname "$(find "$prefix-shared" -name 'libmpsync.so' -print -quit)")
[[ -n $lib ]] || fail "no libmpsync.so installed"
"${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -I"$prefix-shared/include" "$here/shared_fork.c" \
    -o "$work/shared_fork" -L"$lib" -Wl,-rpath,"$lib" -lmpsync -pthread -lm
readelf -d "$work/shared_fork" | grep -q 'libmpsync' || fail "shared_fork is not linked against libmpsync.so"
"$work/shared_fork"

printf '\nconsumer test: all five consumers built and ran\n'
