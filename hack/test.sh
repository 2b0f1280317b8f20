#!/usr/bin/env bash
# Build and run every test: unit and e2e tests on the normal build, the
# unit tests again under ASan+UBSan, and the fuzz targets for a bounded time
# (clang's libFuzzer).  ctest prints the summary of each stage.
#
#   hack/test.sh            everything
#   hack/test.sh unit       only the unit tests (normal build)
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
jobs=$(nproc 2>/dev/null || echo 2)

hack/deps.sh

stage() { printf '\n==== %s ====\n' "$*"; }

stage "build (gcc, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"

if [[ ${1:-} == unit ]]; then
	cd build && exec ctest --output-on-failure -L unit
fi

stage "unit and e2e tests"
(cd build && ctest --output-on-failure -j "$jobs" -L unit)
(cd build && ctest --output-on-failure -L e2e)

stage "unit tests under ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEP_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --output-on-failure -j "$jobs" -L unit)

stage "fuzz targets (clang, libFuzzer, bounded)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEP_FUZZ=ON -DEP_TESTS=OFF \
	-DEP_SANITIZE=ON >/dev/null
cmake --build build-fuzz -j "$jobs"
(cd build-fuzz && ctest --output-on-failure -L fuzz)

echo
echo "hack/test.sh: all stages passed"
