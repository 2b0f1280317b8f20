#!/bin/bash
# t28-client-hostile: clusters and answers no real etcd sends, from the fake
# gateway (issue 10, items 7, 12 and 17):
#   - a member list of 20 000 members (2.4 MB): health ends by its deadline,
#     in bounded memory (ulimit -v), refusing the answer by its size;
#   - 200 members: refused by count (EP_MEMBERS_MAX);
#   - 100 members that all hang: at most 16 probed at a time (the fake
#     counts its connections), the others reported as not probed, all by
#     the deadline and in bounded memory;
#   - a 10 MB answer header, over HTTP/1.1 and over HTTP/2: named as such,
#     not as "out of memory" nor as our certificate being rejected;
#   - member names, URLs, versions and errors holding ESC sequences, CR, LF
#     and BEL: printed escaped by health, member list and the error path, so
#     that no line of the table can be forged; the JSON stays exact.
# The deadline checks use the command's own exit under a generous outer
# `timeout`, not a stopwatch.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

A=127.0.25.1
etcd_node_certs "$T/fake" fake "$A" || fail "certificates"
pki=$T/fake/etc/kubernetes/pki/etcd
CLIENT=(--cacert "$pki/ca.crt" --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key")

declare -A P
for m in hang huge many cap hung hugeheader h2 evil; do
	P[$m]=$(free_port)
done
python3 "$SRC/tests/e2e/fake-gateway.py" --cert "$pki/server.crt" --key "$pki/server.key" \
	--ca "$pki/ca.crt" --addr "$A" hang:${P[hang]} \
	"many:20000:https://$A:${P[hang]}:${P[huge]}" \
	"many:200:https://$A:${P[hang]}:${P[cap]}" \
	"many:100:https://$A:${P[hang]}:${P[hung]}" \
	hugeheader:${P[hugeheader]} h2hugeheader:${P[h2]} evil:${P[evil]} \
	>"$T/fake.out" 2>"$T/fake.err" &
FAKE=$!
on_exit "kill $FAKE; wait $FAKE"
wait_for 10 grep -q ready "$T/fake.out" || { cat "$T/fake.err" >&2; fail "fake gateway did not start"; }

url() { echo "https://$A:${P[$1]}"; }

# limited CMD...: `run` CMD with at most 200 MB of address space (a build that
# holds a huge member list, or one TLS connection per member, needs several
# times that) and an outer bound of 10 s, three times the --timeout given:
# exit 124 means the command overran its deadline.
limited() {
	run bash -c 'ulimit -v 200000 && exec timeout 10 "$@"' limited "$@"
}

no_crash() {
	expect_not_in "$T/err" "Sanitizer|Segmentation|core dumped" "$1: no crash"
}

# --- item 7: a huge member list ---------------------------------------------
limited "$EP" health --endpoints "$(url huge)" "${CLIENT[@]}" --timeout 3s
expect_rc 1 "20 000 members: health fails within its deadline"
expect_in "$T/err" "$(url huge): answer larger than 1 MiB, refused" "the 2.4 MB answer is refused by its size"
expect_not_in "$T/err" "out of memory" "and memory was never the problem"
no_crash "20 000 members"

limited "$EP" member list --endpoints "$(url cap)" "${CLIENT[@]}" --timeout 3s
expect_rc 1 "200 members: refused"
expect_in "$T/err" "$(url cap): unexpected answer: a member list of 200 members, more than the 128 etcdpilot accepts" \
	"refused by count, saying the limit"

limited "$EP" health --endpoints "$(url hung)" "${CLIENT[@]}" --timeout 3s -o json
expect_rc 3 "100 hung members: exit 3 by the deadline"
no_crash "100 hung members"
python3 - "$T/out" <<'EOF' || fail "JSON report of 100 hung members"
import json, sys
d = json.load(open(sys.argv[1]))
ms, s = d["members"], d["summary"]
assert len(ms) == 100 and s["healthy"] == 0, (len(ms), s)
probed = [m for m in ms if m["probed"]]
assert 0 < len(probed) <= 16, len(probed)
assert all("timed out" in m["error"] for m in probed), [m["error"] for m in probed]
rest = [m for m in ms if not m["probed"]]
assert s["not_probed"] == len(rest) == 100 - len(probed), s
assert all(m["error"].startswith("not probed: the deadline came before its turn") for m in rest)
assert s["quorum_state"] == "unknown", s
EOF
pass "JSON: at most 16 members probed at a time, the rest not probed, every one explained"
maxconn=$(awk '$2 == "hang" { n = $3 } END { print n + 0 }' "$T/fake.out")
((maxconn > 0 && maxconn <= 32)) || fail "the hung members saw $maxconn connections at once (at most 32: 16 members, 2 calls each)"
pass "at most 32 connections at once ($maxconn)"

# --- item 17: a 10 MB answer header -----------------------------------------
for m in hugeheader h2; do
	limited "$EP" member list --endpoints "$(url $m)" "${CLIENT[@]}" --timeout 3s
	expect_rc 1 "$m: member list fails"
	expect_not_in "$T/err" "[Oo]ut of memory|rejected our client certificate|without answering" \
		"$m: not blamed on memory, on our certificate or on a silent server"
	no_crash "$m"
done
limited "$EP" member list --endpoints "$(url hugeheader)" "${CLIENT[@]}" --timeout 3s
expect_in "$T/err" "$(url hugeheader): not etcd: HTTP 200 with a header larger than curl takes \(100 kB\)" \
	"HTTP/1.1: the header is named"
limited "$EP" member list --endpoints "$(url h2)" "${CLIENT[@]}" --timeout 3s
expect_in "$T/err" "$(url h2): not etcd: the member sent [0-9]+ bytes but no HTTP answer curl could take" \
	"HTTP/2: the answer is named as one curl could not take"

# --- item 12: terminal escapes from the cluster -----------------------------
# clean FILE: no control character but the newline ends
clean() {
	python3 - "$1" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
bad = sorted({c for c in b if (c < 0x20 and c != 0x0a) or c == 0x7f})
sys.exit("control bytes %s in the output" % bad if bad else 0)
EOF
}
limited "$EP" health --endpoints "$(url evil)" "${CLIENT[@]}" --timeout 3s
expect_rc 3 "evil cluster: health exits 3"
clean "$T/out" || fail "health printed raw control characters"
clean "$T/err" || fail "health's stderr holds raw control characters"
pass "health: no raw control character on stdout or stderr"
expect_eq "$(grep -c '^https://' "$T/out")" 2 "two table rows, none forged"
expect_in "$T/out" 'cp1\\x1b\[2J\\x1b\[31mFAKE\\r\\nhttps://x  fake-row  healthy\\x07' "the name is shown escaped"
expect_in "$T/out" '^https://127\.0\.23\.1:1/\\x1b\[1A\\rforged ' "the client URL is shown escaped"
expect_in "$T/out" ' 3\.4\.23\\x1b\[5m ' "the version is shown escaped"
expect_in "$T/out" 'member reports: \\x1b\[2Jmember says\\r\\nfake line$' "the member's errors are shown escaped"
expect_in "$T/out" '^cluster [0-9a-f]+ is UNHEALTHY: ' "the summary is the last line the cluster cannot fake"

limited "$EP" member list --endpoints "$(url evil)" "${CLIENT[@]}" --timeout 3s
expect_rc 0 "evil cluster: member list works"
clean "$T/out" || fail "member list printed raw control characters"
expect_eq "$(wc -l <"$T/out")" 3 "member list: a header and two rows"
pass "member list: escaped"

limited "$EP" member remove nosuch --endpoints "$(url evil)" "${CLIENT[@]}" --timeout 3s
expect_rc 1 "evil cluster: an unknown member"
clean "$T/err" || fail "the error lists the members with raw control characters"
expect_in "$T/err" "members: cp1\\\\x1b\[2J" "the error names them escaped"

limited "$EP" health --endpoints "$(url evil)" "${CLIENT[@]}" --timeout 3s -o json
clean "$T/out" || fail "JSON with raw control characters"
python3 - "$T/out" <<'EOF' || fail "JSON keeps the exact values"
import json, sys
d = json.load(open(sys.argv[1]))
names = sorted(m["name"] for m in d["members"])
assert names[0].startswith("cp1\x1b[2J\x1b[31mFAKE\r\n"), names
assert names[1] == "cp2\x07\x1b]0;pwned\x1b\\", names
EOF
pass "JSON: escaped by the encoder, exact when decoded"
