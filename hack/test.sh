#!/usr/bin/env bash
# Build and run every test: unit and e2e tests on the normal build, the
# unit tests again under ASan+UBSan, and the fuzz targets for a bounded time
# (clang's libFuzzer).  ctest prints the summary of each stage.
#
#   hack/test.sh            everything
#   hack/test.sh unit       only the unit tests (normal build)
#   hack/test.sh package    only the package stage (Release build, package,
#                           tests/package/install.sh)
set -euo pipefail
# Debian's tools first (python3 for the stand-ins and test tools is
# /usr/bin/python3 with the modules hack/deps.sh installs; no pyenv shim).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

hack/deps.sh

stage() { printf '\n==== %s ====\n' "$*"; }

# Run ctest in build dir $1 with the rest as arguments, keep its output, and
# add its counts to the totals printed at the end.
total_pass=0
total_fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run_ctest() {
	local dir=$1
	shift
	local rc=0
	(cd "$dir" && ctest --output-on-failure --no-tests=error "$@") 2>&1 | tee "$log" || rc=$?
	local line
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
	if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
		total_fail=$((total_fail + BASH_REMATCH[1]))
		total_pass=$((total_pass + BASH_REMATCH[2] - BASH_REMATCH[1]))
	else
		total_fail=$((total_fail + 1))
	fi
	if ((rc != 0)); then
		echo "hack/test.sh: $total_pass passed, $total_fail failed"
		exit "$rc"
	fi
}

if [[ ${1:-} == package ]]; then
	stage "the Debian package from a Release build"
	deb=$(hack/package.sh build-release | tail -1)
	flock /tmp/etcdpilot-e2e.lock tests/package/install.sh "$deb"
	exit
fi

stage "build (gcc, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"

if [[ ${1:-} == unit ]]; then
	run_ctest build -j "$jobs" -L unit
	echo "unit: $total_pass passed, $total_fail failed"
	exit 0
fi

stage "unit and e2e tests"
run_ctest build -j "$jobs" -L unit
# Three scenarios at a time: most of their time is spent waiting on etcd,
# the kubelet and systemd stand-ins and deadlines, not on the CPU.
run_ctest build -j 3 -L e2e

stage "Release builds (gcc and clang, -Werror) and the Debian package"
# The optimiser's warnings (maybe-uninitialized, stringop-overflow) only
# show in optimised builds: every build type must stay warning-free.  The
# gcc Release build is the package's (hack/package.sh: Debian's hardening
# flags on top); the package is then checked as installed (lintian, dpkg -i
# into a fresh root and this machine, man -w, the installed completion, the
# e2e smoke test - init + health - with /usr/sbin/etcdpilot, dpkg -r).
deb=$(hack/package.sh build-release | tail -1)
if ! flock /tmp/etcdpilot-e2e.lock tests/package/install.sh "$deb"; then
	total_fail=$((total_fail + 1))
	echo "hack/test.sh: $total_pass passed, $total_fail failed"
	exit 1
fi
total_pass=$((total_pass + 1))
CC=clang cmake -S . -B build-release-clang -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release-clang -j "$jobs"

stage "unit tests under ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEP_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_ctest build-asan -j "$jobs" -L unit

stage "fuzz targets (clang, libFuzzer, bounded)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEP_FUZZ=ON -DEP_TESTS=OFF \
	-DEP_SANITIZE=ON >/dev/null
cmake --build build-fuzz -j "$jobs"
run_ctest build-fuzz -j "$jobs" -L fuzz

echo
echo "all stages: $total_pass passed, $total_fail failed"
