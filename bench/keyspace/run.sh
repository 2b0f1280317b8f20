#!/usr/bin/env bash
# bench/keyspace/run.sh [ETCDPILOT] - `etcdpilot keyspace` against what users
# run instead, on the same real TLS etcd (Debian's 3.4, certificates from
# etcdpilot) holding 20,000 and then 200,000 keys of a realistic /registry
# (bench/keyspace/load.py: ~1 KB values, events on a lease, encrypted and
# plaintext secrets, JSON custom resources, 200 namespaces), in one run:
#
#   ep    etcdpilot keyspace                                   (the tree, to /dev/null)
#   keys  etcdctl get /registry --prefix --keys-only | wc -l  (the listing)
#   json  etcdctl get /registry --prefix -w json | wc -c      (what users pipe into jq)
#
# The three alternate, N times each (default 5), timed from spawn to exit,
# with each one's peak resident memory (wait4; for a pipeline its largest
# process) by bench/keyspace/measure.py.  Every run must exit 0, and
# etcdpilot must count the keys etcdctl lists.  Prints the medians, the peak
# memory, etcdpilot's wall time over the JSON dump's, and its peak memory at
# 200,000 keys over its peak at 20,000.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH} # Debian's python3 and tools first
here=$(cd "$(dirname "$0")" && pwd)
EP_BINARY=$(realpath "${1:-${EP_BINARY:-$here/../../build/etcdpilot}}")
export EP_BINARY
N=${N:-5}
[[ -x $EP_BINARY ]] || { echo "no etcdpilot binary at '$EP_BINARY' (pass its path)" >&2; exit 2; }
# shellcheck source=../../tests/e2e/lib.sh
. "$here/../../tests/e2e/lib.sh"
# shellcheck source=../../tests/e2e/lib-etcd.sh
. "$here/../../tests/e2e/lib-etcd.sh"
set -e

etcd_cluster_start kb 1 127.0.52 >/dev/null 2>&1
URL=${ETCD_CLIENT_URL[1]}
TLS="--cacert $ETCD_CACERT --cert $ETCD_CERT --key $ETCD_KEY"
CTL="$ETCDCTL_BIN --endpoints $URL $TLS"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

declare -A wall peak
prev=0
for size in 20000 200000; do
	# shellcheck disable=SC2086
	python3 "$here/load.py" --endpoint "$URL" $TLS --from "$prev" --to "$size"
	prev=$size
	# shellcheck disable=SC2086
	n_ctl=$($CTL get /registry --prefix --keys-only | grep -c .)
	# shellcheck disable=SC2086
	n_ep=$("$EP_BINARY" keyspace --endpoints "$URL" $TLS -o json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"])')
	[[ $n_ctl -eq $size && $n_ep -eq $size ]] ||
		fail "keys: etcdctl lists $n_ctl, etcdpilot counts $n_ep, $size were written"
	while read -r name med _ _ rss; do
		wall[$name$size]=$med
		peak[$name$size]=$rss
	done < <(python3 "$here/measure.py" --runs "$N" \
		"ep=$EP_BINARY keyspace --endpoints $URL $TLS" \
		"keys=$CTL get /registry --prefix --keys-only | wc -l" \
		"json=$CTL get /registry --prefix -w json | wc -c")
done

printf '\n%-8s %12s %12s %12s %10s   %12s %12s %12s\n' keys "etcdpilot" "etcdctl -k" "etcdctl -w" \
	"vs json" "ep MiB" "keys MiB" "json MiB"
for size in 20000 200000; do
	printf '%-8s %10s ms %9s ms %9s ms %10s   %12.1f %12.1f %12.1f\n' "$size" "${wall[ep$size]}" \
		"${wall[keys$size]}" "${wall[json$size]}" "$(ratio "${wall[ep$size]}" "${wall[json$size]}")" \
		"$(awk -v k="${peak[ep$size]}" 'BEGIN { print k / 1024 }')" \
		"$(awk -v k="${peak[keys$size]}" 'BEGIN { print k / 1024 }')" \
		"$(awk -v k="${peak[json$size]}" 'BEGIN { print k / 1024 }')"
done
printf '(median of %d runs; peak resident memory, the most of any run)\n' "$N"
printf 'etcdpilot peak memory, 200,000 keys over 20,000: %s\n' "$(ratio "${peak[ep200000]}" "${peak[ep20000]}")"
echo "targets: etcdpilot <= 0.50x the JSON dump's wall time; peak memory < 16 MiB and flat"
