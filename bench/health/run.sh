#!/usr/bin/env bash
# bench/health/run.sh [ETCDPILOT] - wall time of 'etcdpilot health' against
# 'etcdctl endpoint health --cluster' and 'etcdctl endpoint status --cluster'
# on the same real TLS clusters of 1, 3 and 5 members (Debian's etcd, each
# member on its own loopback address, certificates from etcdpilot), in one
# run.  For each cluster size the three commands alternate, N times each
# (default 11), timed from spawn to exit by bench/lib/alternate.py; every
# run must exit 0.  Prints the medians, the ratios to etcdctl and
# etcdpilot's 5-member time over its 1-member time.
#
# All three are given one endpoint (the first member) and find the others
# in the member list, as an operator runs them.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH} # Debian's python3 and tools first
here=$(cd "$(dirname "$0")" && pwd)
EP_BINARY=$(realpath "${1:-${EP_BINARY:-$here/../../build/etcdpilot}}")
export EP_BINARY
N=${N:-11}
[[ -x $EP_BINARY ]] || { echo "no etcdpilot binary at '$EP_BINARY' (pass its path)" >&2; exit 2; }
# The e2e library gives the scratch dir, cleanup and real etcd clusters.
# shellcheck source=../../tests/e2e/lib.sh
. "$here/../../tests/e2e/lib.sh"
# shellcheck source=../../tests/e2e/lib-etcd.sh
. "$here/../../tests/e2e/lib-etcd.sh"
set -e

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

declare -A med
for size in 1 3 5; do
	etcd_cluster_start b$size "$size" 127.0.3$size >/dev/null 2>&1
	tls="--cacert $ETCD_CACERT --cert $ETCD_CERT --key $ETCD_KEY"
	ep="$EP_BINARY health --endpoints ${ETCD_CLIENT_URL[1]} $tls"
	ctl="$ETCDCTL_BIN --endpoints ${ETCD_CLIENT_URL[1]} $tls"
	# Both tools must see every member healthy before anything is timed.
	# shellcheck disable=SC2086
	$ep -o json >"$T/h.json"
	n=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(m["healthy"] for m in d["members"]))' "$T/h.json")
	[[ $n -eq $size ]] || fail "etcdpilot health saw $n healthy members of $size"
	# shellcheck disable=SC2086
	n=$($ctl endpoint health --cluster 2>&1 | grep -c 'is healthy')
	[[ $n -eq $size ]] || fail "etcdctl endpoint health saw $n healthy members of $size"
	# One untimed round warms the page cache for all three.
	python3 "$here/../lib/alternate.py" --runs 1 "ep=$ep" "eh=$ctl endpoint health --cluster" \
		"es=$ctl endpoint status --cluster" >/dev/null
	while read -r name m _; do
		med[$name$size]=$m
	done < <(python3 "$here/../lib/alternate.py" --runs "$N" "ep=$ep" \
		"eh=$ctl endpoint health --cluster" "es=$ctl endpoint status --cluster")
	etcd_cluster_stop
done

printf '\n%-8s %12s %16s %16s %14s %14s   (median of %d runs, ms)\n' members etcdpilot \
	"etcdctl health" "etcdctl status" "vs health" "vs status" "$N"
for size in 1 3 5; do
	printf '%-8s %12s %16s %16s %14s %14s\n' "$size" "${med[ep$size]}" "${med[eh$size]}" \
		"${med[es$size]}" "$(ratio "${med[ep$size]}" "${med[eh$size]}")" \
		"$(ratio "${med[ep$size]}" "${med[es$size]}")"
done
printf 'etcdpilot, 5 members over 1 member: %s\n' "$(ratio "${med[ep5]}" "${med[ep1]}")"
echo "targets: etcdpilot <= 0.30x etcdctl; 5 members within 1.50x of 1 member"
