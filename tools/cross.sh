#!/usr/bin/env bash
# Cross-builds mpsync for other architectures and runs every plain test
# executable (test/arch self-test, test/stress/*, anything else registered with
# add_test in a build without Criterion) under qemu-user.
#
#   tools/cross.sh                 aarch64 and riscv64
#   tools/cross.sh riscv64         one architecture
#   tools/cross.sh aarch64-generic the C11 fallback (arch/generic) on aarch64
#
# Environment:
#   MPS_CROSS_BUILD          build root (default: <repo>/build-cross)
#   MPS_CROSS_TIMEOUT_SCALE  multiplier on each test's TIMEOUT (default 4)
#   MPS_CROSS_MIN_TIMEOUT    seconds every test gets at least (default 600)
#   MPS_CROSS_NO_INSTALL=1   do not apt-get anything
#   MPS_CROSS_CMAKE_ARGS     extra arguments for the configure step
#
# Installs what it needs with apt-get (Debian: gcc-<arch>-linux-gnu,
# qemu-user, jq). No binfmt: binaries run as qemu-<arch> -L /usr/<triple>.
# A target that fails to build counts as one failure, and the tests whose
# executables did build still run. Exits non-zero if any build or test fails;
# the last line is the summary "N passed, N failed".
# Flags and package lists are split on purpose.
# shellcheck disable=SC2086
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_root=${MPS_CROSS_BUILD:-$root/build-cross}
scale=${MPS_CROSS_TIMEOUT_SCALE:-4}
min_timeout=${MPS_CROSS_MIN_TIMEOUT:-600}
jobs=$(nproc 2>/dev/null || echo 2)

if [ $# -gt 0 ]; then targets=("$@"); else targets=(aarch64 riscv64); fi

total_pass=0
total_fail=0
total_skip=0
summary=()

log() { printf '[cross] %s\n' "$*"; }

arch_of() { printf '%s' "${1%-generic}"; }

# ---- prerequisites ----------------------------------------------------------

need_packages() {
	local pkgs=() t a
	command -v cmake >/dev/null || pkgs+=(cmake)
	command -v jq >/dev/null || pkgs+=(jq)
	for t in "${targets[@]}"; do
		a=$(arch_of "$t")
		command -v "$a-linux-gnu-gcc" >/dev/null || pkgs+=("gcc-$a-linux-gnu")
		command -v "qemu-$a" >/dev/null || pkgs+=(qemu-user)
	done
	printf '%s\n' "${pkgs[@]}" | sort -u | grep .
}

install_prerequisites() {
	local pkgs
	pkgs=$(need_packages) || return 0
	if [ "${MPS_CROSS_NO_INSTALL:-0}" = 1 ]; then
		log "missing: $pkgs (MPS_CROSS_NO_INSTALL=1)"
		return 1
	fi
	log "installing: $(printf "%s " $pkgs)"
	local sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	$sudo apt-get update -qq &&
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $pkgs >/dev/null
}

# ---- build -------------------------------------------------------------------

# 0: built; 1: configure failed; 2: some targets failed to build (the rest
# are built: make -k).
configure_and_build() {
	local target=$1 dir=$2 arch generic=OFF
	arch=$(arch_of "$target")
	[ "$target" != "$arch" ] && generic=ON
	local toolchain=$root/cmake/toolchains/$arch-linux-gnu.cmake
	if [ ! -f "$toolchain" ]; then
		log "$target: no toolchain file $toolchain"
		return 1
	fi
	# shellcheck disable=SC2086
	if ! cmake -S "$root" -B "$dir" \
		-DCMAKE_TOOLCHAIN_FILE="$toolchain" \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DMPSYNC_CRITERION_TESTS=OFF -DMPSYNC_BUILD_BENCH=OFF -DMPSYNC_WERROR=ON \
		-DMPSYNC_ARCH_GENERIC="$generic" ${MPS_CROSS_CMAKE_ARGS:-} >"$dir.configure.log" 2>&1; then
		log "$target: configure FAILED ($dir.configure.log)"
		tail -30 "$dir.configure.log"
		return 1
	fi
	cmake --build "$dir" -j "$jobs" >"$dir.build.log" 2>&1 && return 0
	# Build what can be built, so the other tests still run.
	if grep -q 'CMAKE_GENERATOR:INTERNAL=Unix Makefiles' "$dir/CMakeCache.txt"; then
		cmake --build "$dir" -- -k >>"$dir.build.log" 2>&1
	else
		cmake --build "$dir" -- -k 0 >>"$dir.build.log" 2>&1
	fi
	log "$target: build FAILED ($dir.build.log):"
	grep -E 'error:|undefined reference' "$dir.build.log" | sort -u | head -20 | sed 's/^/       | /'
	return 2
}

# ---- tests -------------------------------------------------------------------

# One line per test: name, timeout, will_fail, skip code, working dir, then
# the shell-quoted environment and command (ctest has already put the
# qemu-user emulator in front of every target).
list_tests() {
	(cd "$1" && ctest --show-only=json-v1) | jq -r '
	  .tests[] | select(.command != null) |
	  (reduce (.properties // [])[] as $p ({}; .[$p.name] = $p.value)) as $pr |
	  [ .name,
	    ($pr.TIMEOUT // 0 | tostring),
	    ($pr.WILL_FAIL // false | tostring),
	    ($pr.SKIP_RETURN_CODE // -1 | tostring),
	    ($pr.WORKING_DIRECTORY // ""),
	    (($pr.ENVIRONMENT // []) | @sh),
	    (.command | @sh) ] | @tsv'
}

# Runs one test; prints PASS/FAIL/SKIP and returns 0/1/2.
run_one() {
	local dir=$1 name=$2 tmo=$3 will_fail=$4 skip_rc=$5 wd=$6 envq=$7 cmdq=$8
	local limit=$((tmo * scale)) logf="$dir/cross-logs/$name.log" start rc
	[ "$limit" -lt "$min_timeout" ] && limit=$min_timeout
	[ -n "$wd" ] || wd=$dir
	mkdir -p "$dir/cross-logs"
	start=$(date +%s)
	(cd "$wd" && eval "exec env $envq timeout -k 10 $limit $cmdq") >"$logf" 2>&1
	rc=$?
	local secs=$(($(date +%s) - start))
	if [ "$skip_rc" != -1 ] && [ "$rc" = "$skip_rc" ]; then
		printf '  SKIP %-40s %4ss\n' "$name" "$secs"
		return 2
	fi
	local ok=0
	[ "$rc" = 0 ] && ok=1
	[ "$will_fail" = true ] && [ "$rc" -lt 124 ] && ok=$((1 - ok))
	if [ "$ok" = 1 ]; then
		printf '  PASS %-40s %4ss  %s\n' "$name" "$secs" "$(tail -1 "$logf")"
		return 0
	fi
	[ "$rc" = 124 ] && rc="$rc (timed out after ${limit}s)"
	printf '  FAIL %-40s %4ss  exit %s; last lines of %s:\n' "$name" "$secs" "$rc" "$logf"
	[ -s "$logf" ] || echo "(no output: the executable may not have been built)" >"$logf"
	tail -25 "$logf" | sed 's/^/       | /'
	return 1
}

run_tests() {
	local target=$1 dir=$2 pass=0 fail=0 skip=0
	local name tmo wf src wd envq cmdq
	while IFS=$'\t' read -r name tmo wf src wd envq cmdq; do
		run_one "$dir" "$name" "$tmo" "$wf" "$src" "$wd" "$envq" "$cmdq"
		case $? in
		0) pass=$((pass + 1)) ;;
		2) skip=$((skip + 1)) ;;
		*) fail=$((fail + 1)) ;;
		esac
	done < <(list_tests "$dir")
	if [ $((pass + fail)) -eq 0 ]; then
		log "$target: no test found"
		fail=1
	fi
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
	summary+=("$(printf '%-16s %3d passed, %d failed, %d skipped' "$target" "$pass" "$fail" "$skip")")
}

# ---- main --------------------------------------------------------------------

if ! install_prerequisites; then
	log "cannot install the cross toolchains"
	echo "0 passed, 1 failed"
	exit 1
fi

mkdir -p "$build_root"
for target in "${targets[@]}"; do
	dir=$build_root/$target
	log "$target: configure and build in $dir"
	configure_and_build "$target" "$dir"
	case $? in
	0) ;;
	1)
		total_fail=$((total_fail + 1))
		summary+=("$(printf '%-16s configure FAILED (%s.configure.log)' "$target" "$dir")")
		continue
		;;
	*)
		total_fail=$((total_fail + 1))
		summary+=("$(printf '%-16s build FAILED (%s.build.log); tests of what built:' "$target" "$dir")")
		;;
	esac
	log "$target: running tests under $(command -v "qemu-$(arch_of "$target")")"
	run_tests "$target" "$dir"
done

echo
log "summary"
printf '  %s\n' "${summary[@]}"
if [ "$total_skip" -gt 0 ]; then
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
