#!/usr/bin/env bash
# bench/snapshot/run.sh [ETCDPILOT] - `etcdpilot snapshot save` against
# `etcdctl snapshot save`, on the same real TLS etcd (Debian's 3.4, one
# member, certificates from etcdpilot) whose database is grown to 50 MB and
# then to 250 MB (random 512 KiB values, tests/e2e/snapshot-load.py), in
# one run:
#
#   ep   etcdpilot snapshot save --force FILE   (gRPC stream, sha256 checked, fsync, rename)
#   ctl  etcdctl snapshot save FILE             (gRPC stream, fsync, rename; no check)
#
# The two alternate, N times each (default 5), timed from spawn to exit,
# with each one's peak resident memory (wait4), by bench/keyspace/measure.py;
# both replace the file of their previous run.  Every run must exit 0 and
# the two files must be byte for byte the same.  Prints, per size, the
# median throughput of each (file bytes / wall time), etcdpilot's over
# etcdctl's, and the peak memory of each; then etcdpilot's peak memory at
# 250 MB over its peak at 50 MB.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH} # Debian's python3 and tools first
here=$(cd "$(dirname "$0")" && pwd)
EP_BINARY=$(realpath "${1:-${EP_BINARY:-$here/../../build/etcdpilot}}")
export EP_BINARY
N=${N:-5}
SIZES=${SIZES:-"50 250"}
[[ -x $EP_BINARY ]] || { echo "no etcdpilot binary at '$EP_BINARY' (pass its path)" >&2; exit 2; }
# shellcheck source=../../tests/e2e/lib.sh
. "$here/../../tests/e2e/lib.sh"
# shellcheck source=../../tests/e2e/lib-etcd.sh
. "$here/../../tests/e2e/lib-etcd.sh"
set -e

etcd_cluster_start sb 1 127.0.53 >/dev/null 2>&1
URL=${ETCD_CLIENT_URL[1]}
TLS="--cacert $ETCD_CACERT --cert $ETCD_CERT --key $ETCD_KEY"
mkdir -p "$T/out"

declare -A wall peak bytes
for size in $SIZES; do
	# shellcheck disable=SC2086
	db=$(python3 "$here/../../tests/e2e/snapshot-load.py" --endpoint "$URL" $TLS --db-mb "$size")
	while read -r name med _ _ rss; do
		wall[$name$size]=$med
		peak[$name$size]=$rss
	done < <(python3 "$here/../keyspace/measure.py" --runs "$N" \
		"ep=$EP_BINARY snapshot save --endpoints $URL $TLS --force $T/out/ep.db" \
		"ctl=$ETCDCTL_BIN --endpoints $URL $TLS snapshot save $T/out/ctl.db")
	cmp "$T/out/ep.db" "$T/out/ctl.db" || fail "at $size MB the two files differ"
	bytes[$size]=$(stat -c %s "$T/out/ep.db")
	echo "# $size MB: database $db bytes, file ${bytes[$size]} bytes, the same from both" >&2
done

mbs() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.0f", b / 1e6 / (ms / 1000) }'; }
printf '\n%-10s %12s %14s %14s %8s   %10s %10s\n' "db" "file MB" "etcdpilot MB/s" "etcdctl MB/s" \
	"ratio" "ep MiB" "ctl MiB"
for size in $SIZES; do
	ep=$(mbs "${bytes[$size]}" "${wall[ep$size]}")
	ctl=$(mbs "${bytes[$size]}" "${wall[ctl$size]}")
	printf '%-10s %12.1f %14s %14s %7.2fx   %10.1f %10.1f\n' "$size MB" \
		"$(awk -v b="${bytes[$size]}" 'BEGIN { print b / 1e6 }')" "$ep" "$ctl" \
		"$(awk -v a="${wall[ctl$size]}" -v b="${wall[ep$size]}" 'BEGIN { print a / b }')" \
		"$(awk -v k="${peak[ep$size]}" 'BEGIN { print k / 1024 }')" \
		"$(awk -v k="${peak[ctl$size]}" 'BEGIN { print k / 1024 }')"
done
printf '(median of %d runs, alternating; peak resident memory, the most of any run)\n' "$N"
set -- $SIZES
printf 'etcdpilot peak memory, %s MB over %s MB: %s\n' "$2" "$1" \
	"$(awk -v a="${peak[ep$2]}" -v b="${peak[ep$1]}" 'BEGIN { printf "%.2fx", a / b }')"
echo "targets: throughput >= 0.8x etcdctl's; peak memory flat in the database size"
