#!/usr/bin/env bash
# bench/pki/run.sh [ETCDPILOT] - whole-process time to write one node's
# full etcd PKI (CA + server, peer, healthcheck-client, apiserver-etcd-client)
# with etcdpilot and with the openssl CLI script that makes the same five
# pairs (openssl-pki.sh), for ECDSA-P256 and RSA-2048, in one run.  Runs
# alternate between the two tools; each into a fresh directory on the same
# file system (etcdpilot fsyncs every file and directory, the openssl CLI
# does not).  Prints the median of N runs (default 31: an RSA key takes
# from 60 ms to 350 ms, so few runs give a noisy median) and the ratio.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH} # Debian's python3 and tools first
here=$(cd "$(dirname "$0")" && pwd)
EP=${1:-${EP_BINARY:-$here/../../build/etcdpilot}}
N=${N:-31}
[[ -x $EP ]] || { echo "no etcdpilot binary at '$EP' (pass its path)" >&2; exit 2; }
W=$(mktemp -d /tmp/ep-bench-pki.XXXXXX)
trap 'rm -rf "$W"' EXIT

now_ns() { date +%s%N; }
# time_one DIR CMD...: milliseconds (3 decimals) of one run of CMD
time_one() {
	local dir=$1 t0 t1
	shift
	rm -rf "$dir"
	t0=$(now_ns)
	"$@" >/dev/null 2>&1
	t1=$(now_ns)
	awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f\n", d / 1e6 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-12s %14s %14s %8s   (median of %d runs, ms)\n' "key type" "etcdpilot" "openssl CLI" "ratio" "$N"
for kt in ecdsa rsa; do
	case $kt in
	ecdsa) flag=ecdsa-p256 label=ECDSA-P256 ;;
	rsa) flag=rsa-2048 label=RSA-2048 ;;
	esac
	: >"$W/ep.$kt" && : >"$W/os.$kt"
	for ((i = 0; i < N; i++)); do
		time_one "$W/ep" "$EP" certs generate --root "$W/ep" --name cp1 \
			--advertise-address 10.0.0.11 --key-type $flag >>"$W/ep.$kt"
		time_one "$W/os" bash "$here/openssl-pki.sh" "$W/os/etc/kubernetes/pki" cp1 10.0.0.11 \
			$kt >>"$W/os.$kt"
	done
	# each run must have produced the five pairs
	for d in ep os; do
		n=$(find "$W/$d" -name '*.crt' | wc -l)
		[[ $n -eq 5 ]] || { echo "$d/$kt produced $n certificates, not 5" >&2; exit 1; }
	done
	ep=$(median <"$W/ep.$kt")
	os=$(median <"$W/os.$kt")
	printf '%-12s %14s %14s %8s\n' "$label" "$ep" "$os" "$(awk -v a="$ep" -v b="$os" 'BEGIN { printf "%.2fx", a / b }')"
done
echo "targets: RSA-2048 ratio <= 0.60x; ECDSA-P256 etcdpilot <= 20 ms"
