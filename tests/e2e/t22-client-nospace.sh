#!/bin/bash
# t22-client-nospace: a real 1-member cluster with a tiny backend quota:
# healthy at first (and a voter may join a one-member cluster, etcd's rule,
# checked with --dry-run; its only voter may not be removed); then filled
# with puts of one key until etcd raises NOSPACE: health reports the alarm
# once, by member name, with the commands that clear it (table and JSON) and
# exits 3; those commands, run as printed, make the cluster healthy again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

ETCD_ARGS[1]="--quota-backend-bytes 262144"
etcd_cluster_start s 1 127.0.22
CLIENT=(--endpoints "$ETCD_ENDPOINTS" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY")

run "$EP" health "${CLIENT[@]}"
expect_rc 0 "one member: healthy"
expect_in "$T/out" "is healthy: 1 of 1 members healthy, leader s1 " "summary: one member, its own leader"

run "$EP" member add s2 https://127.0.22.2:22380 --dry-run "${CLIENT[@]}"
expect_rc 0 "a second voter may join a one-member cluster (etcd's exception)"
expect_in "$T/out" "^would add member 's2' \(voter\)" "dry run: nothing added"
run "$EP" member remove s1 "${CLIENT[@]}"
expect_rc 1 "the only voter cannot be removed"
expect_in "$T/err" "is the last voting member" "said so"

# fill the quota: one key written over and over, so that the history is what
# fills it and the remedy health prints (compact, defragment, disarm) frees it
v=$(head -c 60000 /dev/zero | tr '\0' x)
for i in $(seq 1 60); do
	if ! out=$("${ETCD_CTL[@]}" put k "$v$i" 2>&1); then
		[[ $out == *"database space exceeded"* ]] && break
		fail "put $i: $out"
	fi
done
[[ $out == *"database space exceeded"* ]] || fail "the quota never filled"
pass "puts filled the quota: $out"

run "$EP" health "${CLIENT[@]}"
expect_rc 3 "NOSPACE: exit 3"
expect_in "$T/out" "^s1 \([0-9a-f]+\): alarm NOSPACE raised by this member \(see the alarm below\)$" \
	"the member is unhealthy by its alarm"
expect_eq "$(grep -c '^alarm ' "$T/out")" 1 "the alarm is shown once"
expect_in "$T/out" "^alarm NOSPACE on s1 \([0-9a-f]+\): the database reached its space quota" \
	"the alarm line names the member by name and says what it means"
expect_in "$T/out" "^  etcdctl --endpoints=${ETCD_CLIENT_URL[1]} compact [0-9]+$" "remedy: compact"
expect_in "$T/out" "^  etcdctl --endpoints=${ETCD_CLIENT_URL[1]} defrag --cluster$" "remedy: defragment"
expect_in "$T/out" "^  etcdctl --endpoints=${ETCD_CLIENT_URL[1]} alarm disarm$" "remedy: disarm"
run "$EP" health "${CLIENT[@]}" -o json
expect_rc 3 "NOSPACE JSON: exit 3"
python3 - "$T/out" <<'PY' || fail "NOSPACE in the JSON report"
import json, sys
d = json.load(open(sys.argv[1]))
m = d["members"][0]
assert m["alarms"] == ["NOSPACE"] and not m["healthy"] and m["reachable"], m
a = d["summary"]["alarms"]
assert len(a) == 1 and a[0]["member_id"] == m["id"] and a[0]["alarm"] == "NOSPACE", a
assert a[0]["member_name"] == "s1" and "compact" in a[0]["remedy"], a
assert m["db_size"] > 200000
PY
pass "JSON: the member carries NOSPACE, the summary lists it with its remedy"

# The remedy works as printed (etcdctl given the TLS files as etcdpilot was).
"$EP" health "${CLIENT[@]}" | sed -n 's/^  etcdctl //p' >"$T/remedy"
expect_eq "$(wc -l <"$T/remedy")" 3 "three commands to run"
while read -r -a words; do
	"$ETCDCTL_BIN" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" "${words[@]}" \
		>>"$T/remedy.log" 2>&1 || { cat "$T/remedy.log" >&2; fail "etcdctl ${words[*]}"; }
done <"$T/remedy"
pass "compact, defrag and disarm ran"
run "$EP" health "${CLIENT[@]}"
expect_rc 0 "after the remedy: healthy again"
run "${ETCD_CTL[@]}" put k small
expect_rc 0 "and writes are taken again"
