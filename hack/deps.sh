#!/usr/bin/env bash
# Install every Debian package that building, testing, packaging (lintian;
# mmdebstrap for the package test's fresh root) and the local demo need.  Idempotent: when everything is present it only runs dpkg-query.
set -euo pipefail

packages=(
	build-essential cmake pkg-config git
	libyaml-dev libcurl4-openssl-dev libjansson-dev libssl-dev libarchive-dev libcmocka-dev
	etcd-server etcd-client iproute2 systemd util-linux openssl curl strace
	clang libclang-rt-14-dev
	python3 python3-yaml python3-jsonschema
	bash-completion man-db
	lintian mmdebstrap zstd
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

echo "[deps] installing: ${missing[*]}" >&2
if [[ $(id -u) -ne 0 ]]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts etcd-server as a service where an init system runs; the
# tests start their own members, so a packaged one must not hold the ports.
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
	$SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
fi
echo "[deps] done" >&2
