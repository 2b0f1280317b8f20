#!/bin/bash
# t23-client-fake: answers real etcd never sends (a fake HTTPS gateway):
# malformed JSON, wrong types, missing fields, 64-bit overflow, a 20 MiB
# answer, HTML, a gateway error under Debian's 412, a slow trickle, a hung
# server, plain HTTP and a TLS server speaking something else.  Each ends in
# a clear error naming the endpoint, exit 1 (or 3 for an unhealthy member),
# no crash, and never past the deadline.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

A=127.0.23.1
etcd_node_certs "$T/fake" fake "$A" || fail "certificates"
pki=$T/fake/etc/kubernetes/pki/etcd
CLIENT=(--cacert "$pki/ca.crt" --cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key")

declare -A P
for m in malformed wrongtypes missing hugeid huge html gwerror slow hang plain tlsgarbage list; do
	P[$m]=$(free_port)
done
python3 "$SRC/tests/e2e/fake-gateway.py" --cert "$pki/server.crt" --key "$pki/server.key" \
	--ca "$pki/ca.crt" --addr "$A" \
	malformed:${P[malformed]} wrongtypes:${P[wrongtypes]} missing:${P[missing]} \
	hugeid:${P[hugeid]} huge:${P[huge]} html:${P[html]} gwerror:${P[gwerror]} \
	slow:${P[slow]} hang:${P[hang]} plain:${P[plain]} tlsgarbage:${P[tlsgarbage]} \
	"list:https://$A:${P[hang]}:${P[list]}" >"$T/fake.out" 2>"$T/fake.err" &
FAKE=$!
on_exit "kill $FAKE; wait $FAKE"
wait_for 10 grep -q ready "$T/fake.out" || { cat "$T/fake.err" >&2; fail "fake gateway did not start"; }

url() { echo "https://$A:${P[$1]}"; }

# bounded MS CMD...: run CMD, and fail if it took more than MS milliseconds
# (a generous bound: the point is "returns", not speed)
bounded() {
	local max=$1 t0 t1
	shift
	t0=$(date +%s%N)
	run "$@"
	t1=$(date +%s%N)
	ELAPSED=$(((t1 - t0) / 1000000))
	((ELAPSED <= max)) || fail "'$*' took ${ELAPSED} ms (bound ${max} ms)"
}

check() { # check MODE REGEX WHAT
	bounded 4000 "$EP" member list --endpoints "$(url "$1")" "${CLIENT[@]}" --timeout 2s
	expect_rc 1 "$1: member list fails"
	expect_in "$T/err" "$(url "$1")" "$1: the error names the endpoint"
	expect_in "$T/err" "$2" "$1: $3"
	expect_not_in "$T/err" "Sanitizer|Segmentation|core dumped" "$1: no crash"
}

check malformed "not etcd: malformed JSON" "malformed JSON is named"
check wrongtypes "unexpected answer.*members\[0\].*'ID'" "a number for a string ID is named"
check missing "unexpected answer.*'header' is missing" "a missing header is named"
check hugeid "does not fit in 64 bits" "an ID beyond 64 bits is refused"
check huge "larger than 1 MiB" "a 20 MiB answer is refused"
check html "not etcd: HTTP 200 \(text/html\)" "an HTML page is not etcd"
check gwerror "can only promote a learner member \(gRPC FailedPrecondition, HTTP 412\)" \
	"the gateway error is decoded from its code"
check plain "not etcd: the server does not speak TLS" "plain HTTP is named"
check tlsgarbage "not etcd|closed the connection|connection broken" "a TLS server speaking SSH is not etcd"

# stuck servers: the deadline holds
bounded 3500 "$EP" member list --endpoints "$(url slow)" "${CLIENT[@]}" --timeout 1s
expect_rc 1 "slow: member list fails"
expect_in "$T/err" "$(url slow): timed out after [0-9]+ ms reading the answer" "slow: timed out while reading"
bounded 3500 "$EP" health --endpoints "$(url hang)" "${CLIENT[@]}" --timeout 1s
expect_rc 1 "hang: health fails"
expect_in "$T/err" "no endpoint answered: $(url hang): timed out after [0-9]+ ms waiting for the answer" \
	"hang: timed out waiting for the answer"

# every endpoint at once: one error per endpoint, and the total still bounded by one timeout
bounded 3500 "$EP" health --endpoints "$(url hang),$(url slow),$(url html),https://$A:1" \
	"${CLIENT[@]}" --timeout 1s
expect_rc 1 "four bad endpoints: health fails"
expect_in "$T/err" "$(url html): not etcd" "the HTML endpoint is listed"
expect_in "$T/err" "https://$A:1: connection refused" "the closed port is listed"
expect_in "$T/err" "$(url hang): timed out" "the hung endpoint is listed"

# a member list whose only member hangs: health reports it unhealthy, in time
bounded 3500 "$EP" health --endpoints "$(url list)" "${CLIENT[@]}" --timeout 1s -o json
expect_rc 3 "a member that hangs is unhealthy (exit 3)"
python3 - "$T/out" <<'EOF' || fail "JSON health report"
import json, sys
d = json.load(open(sys.argv[1]))
m = d["members"][0]
assert m["id"] == "ffffffffffffffff", m["id"]
assert m["healthy"] is False and m["reachable"] is False
assert "timed out" in m["error"], m["error"]
assert d["summary"]["healthy"] == 0 and d["summary"]["members"] == 1
EOF
pass "JSON report: max uint64 ID in hex, member unhealthy with a timeout"
