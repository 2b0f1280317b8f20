#!/usr/bin/env bash
# Build the Debian package from a Release build: etcdpilot_<version>_<arch>.deb
# in the build directory (default build-release), and print its path last.
#
#   hack/package.sh [BUILD_DIR]
#
# The package is made by CPack from the same install() rules as
# 'cmake --install' (CMakeLists.txt says why CPack and not debian/): the
# binary in /usr/sbin, the man pages, the bash and zsh completions, the
# copyright file and the changelog.  It is compiled with Debian's hardening
# flags (dpkg-buildflags, hardening=+all) and dated by the commit built
# ($SOURCE_DATE_EPOCH), so that the same commit gives the same package.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-release}
jobs=$(nproc 2>/dev/null || echo 2)

hack/deps.sh

if [[ -z ${SOURCE_DATE_EPOCH:-} ]] && epoch=$(git log -1 --format=%ct 2>/dev/null); then
	export SOURCE_DATE_EPOCH=$epoch
fi
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
flags() { dpkg-buildflags --get "$1"; }
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_C_FLAGS="$(flags CFLAGS) $(flags CPPFLAGS)" \
	-DCMAKE_EXE_LINKER_FLAGS="$(flags LDFLAGS)" >/dev/null
cmake --build "$dir" -j "$jobs"
rm -f "$dir"/etcdpilot_*.deb
(cd "$dir" && cpack -G DEB >/dev/null)
deb=$(ls "$dir"/etcdpilot_*.deb)
[[ $(wc -w <<<"$deb") -eq 1 ]] || { echo "hack/package.sh: expected one package, got: $deb" >&2; exit 1; }
echo "$deb"
