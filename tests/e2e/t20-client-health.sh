#!/bin/bash
# t20-client-health: `etcdpilot health` and `member list` against a real
# 3-member TLS cluster: all healthy (table and JSON), endpoints and TLS files
# from flags, from ETCDCTL_*, and discovered from the node's manifest under
# --root; an IPv6 endpoint; a wrong CA; a client certificate from another
# CA; endpoints that are not etcd; a stopped member; a hung member; and the
# deadline holding throughout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

P6=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])')
ETCD_ARGS[1]="--listen-client-urls https://127.0.20.1:$ETCD_CLIENT_PORT,https://[::1]:$P6"
etcd_cluster_start h 3 127.0.20
CLIENT=(--cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY")

# json_check FILE PYTHON: assertions on the JSON document in FILE (as `d`)
json_check() {
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"
}

# bounded MS CMD...: `run` CMD and fail when it did not return within MS ms.
# The bound is the command's own --timeout plus a wide margin: it checks that
# the deadline holds, not speed.
bounded() {
	local max=$1 t0
	shift
	t0=$(date +%s%N)
	run timeout 60 "$@"
	ELAPSED=$((($(date +%s%N) - t0) / 1000000))
	((ELAPSED <= max)) || fail "'$*' returned after ${ELAPSED} ms (deadline + margin ${max} ms)"
}

# --- all healthy ------------------------------------------------------------
run "$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}"
expect_rc 0 "healthy cluster: exit 0"
expect_in "$T/out" "^ENDPOINT +NAME +ID +HEALTH +ROLE +VERSION +TERM +INDEX +LAG +DB SIZE +IN USE +TOOK" \
	"table header"
expect_eq "$(grep -cE '^https://[^ ]+ +h[123] +[0-9a-f]+ +healthy ' "$T/out")" 3 "three healthy rows"
expect_eq "$(grep -cE '^https://[^ ]+ +h[123] +[0-9a-f]+ +healthy +leader ' "$T/out")" 1 \
	"exactly one leader"
expect_in "$T/out" "is healthy: 3 of 3 members healthy, leader h[123] \([0-9a-f]+\), 3 of 3 voters reachable from here; quorum held: leader agreed on, a linearizable read served \(quorum 2 of 3 voters\)$" \
	"summary line"

run "$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}" -o json
expect_rc 0 "JSON: exit 0"
json_check "$T/out" '
ms = d["members"]; s = d["summary"]
assert len(ms) == 3
assert all(m["healthy"] and m["reachable"] and m["read"] and m["error"] is None for m in ms)
assert sum(m["is_leader"] for m in ms) == 1
assert all(m["version"] == "3.4.23" and not m["is_learner"] for m in ms)
assert all(m["leader"] == s["leader"] for m in ms)
assert all(m["db_size"] > 0 and m["raft_index"] > 0 and m["raft_term"] > 0 for m in ms)
assert sorted(m["name"] for m in ms) == ["h1", "h2", "h3"]
assert all(len(m["id"]) <= 16 and int(m["id"], 16) > 0 for m in ms)
assert s["members"] == 3 and s["healthy"] == 3 and s["quorum"] == 2 and s["has_quorum"]
assert s["healthy_cluster"] and s["alarms"] == [] and d["cluster_id"]
assert s["quorum_state"] == "held" and s["pending_learners"] == 0 and s["not_probed"] == 0
' || fail "JSON report"
pass "JSON report: every field of three healthy members"

# --- where endpoints and TLS files come from --------------------------------
run env ETCDCTL_ENDPOINTS="${ETCD_CLIENT_URL[2]}" ETCDCTL_CACERT="$ETCD_CACERT" \
	ETCDCTL_CERT="$ETCD_CERT" ETCDCTL_KEY="$ETCD_KEY" "$EP" health -v
expect_rc 0 "ETCDCTL_* environment: exit 0"
expect_in "$T/err" "endpoint ${ETCD_CLIENT_URL[2]} \(from the environment\)" "-v names the environment"

R=${ETCD_ROOT[1]}
mkdir -p "$R/etc/kubernetes/manifests"
cat >"$R/etc/kubernetes/manifests/etcd.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: ${ETCD_CLIENT_URL[1]}
  name: etcd
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://192.0.2.99:2379
EOF
run env -u ETCDCTL_ENDPOINTS "$EP" health --root "$R" -v
expect_rc 0 "discovered from the manifest under --root with the default TLS files: exit 0"
expect_in "$T/err" "endpoint ${ETCD_CLIENT_URL[1]} \(from the static pod manifest $R/etc/kubernetes/manifests/etcd.yaml\)" \
	"-v names the manifest"
expect_in "$T/err" "CA $R/etc/kubernetes/pki/etcd/ca.crt \(default\)" "TLS files default under --root"

run "$EP" health --endpoints "https://[::1]:$P6" "${CLIENT[@]}"
expect_rc 0 "IPv6 endpoint: exit 0"

run "$EP" member list --endpoints "https://[::1]:$P6" "${CLIENT[@]}"
expect_rc 0 "member list over IPv6"
expect_in "$T/out" "^ID +STATUS +NAME +PEER ADDRS +CLIENT ADDRS +IS LEARNER$" "member list header"
expect_eq "$(grep -c ' started ' "$T/out")" 3 "member list: three started members"
expect_in "$T/out" "^[0-9a-f]+ +started +h2 +${ETCD_PEER_URL[2]} +${ETCD_CLIENT_URL[2]} +false$" \
	"member list row as etcdctl prints it"

# --- TLS failures -----------------------------------------------------------
"$EP" certs generate --root "$T/other" --name other --advertise-address 127.0.20.9 \
	--key-type ecdsa-p256 >/dev/null 2>&1 || fail "a second CA"
O=$T/other/etc/kubernetes/pki/etcd
run "$EP" health --endpoints "$ETCD_ENDPOINTS" --cacert "$O/ca.crt" --cert "$ETCD_CERT" --key "$ETCD_KEY"
expect_rc 1 "wrong CA: exit 1"
expect_in "$T/err" "no endpoint answered: ${ETCD_CLIENT_URL[1]}: TLS handshake failed: unknown CA" \
	"wrong CA: TLS handshake failed: unknown CA, with the endpoint"
expect_in "$T/err" "${ETCD_CLIENT_URL[3]}: TLS handshake failed" "wrong CA: every endpoint is listed"

run "$EP" health --endpoints "${ETCD_CLIENT_URL[1]}" --cacert "$ETCD_CACERT" \
	--cert "$O/healthcheck-client.crt" --key "$O/healthcheck-client.key"
expect_rc 1 "client certificate from another CA: exit 1"
# The member's alert arrives, or - TLS 1.3 sends it after our side of the
# handshake, and the close can overtake it - only the reset does: either way
# the message names our certificate as the reason.
expect_in "$T/err" "(TLS handshake failed: the member rejected|before any answer: the member probably rejected) our client certificate '$O/healthcheck-client.crt'" \
	"our certificate rejected, named"

run "$EP" health --endpoints "${ETCD_CLIENT_URL[1]}" --cacert "$T/nope.crt"
expect_rc 1 "missing CA file: exit 1"
expect_in "$T/err" "CA certificate: reading '$T/nope.crt'" "missing CA file named"

# --- not etcd ---------------------------------------------------------------
HP=$(free_port)
(cd "$T" && exec python3 -m http.server --bind 127.0.20.9 "$HP") >/dev/null 2>&1 &
HTTPD=$!
on_exit "kill $HTTPD"
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.20.9/$HP" || fail "http.server did not start"
run "$EP" health --endpoints "http://127.0.20.9:$HP" "${CLIENT[@]}"
expect_rc 1 "python http.server over http: exit 1"
expect_in "$T/err" "http://127.0.20.9:$HP: not etcd: HTTP 501" "http.server: not etcd"
run "$EP" health --endpoints "https://127.0.20.9:$HP,https://127.0.20.9:1" "${CLIENT[@]}"
expect_rc 1 "http.server over https and a closed port: exit 1"
expect_in "$T/err" "https://127.0.20.9:$HP: not etcd: the server does not speak TLS" "no TLS: not etcd"
expect_in "$T/err" "https://127.0.20.9:1: connection refused" "closed port: connection refused"

# --- a stopped member -------------------------------------------------------
etcd_member_stop 3
healthy_count() {
	"$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}" -o json 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["healthy"])'
}
two_healthy() { [[ $(healthy_count) == 2 ]]; }
wait_for 20 two_healthy || fail "the two remaining members did not settle"
bounded 8000 "$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}" -o json
expect_rc 3 "a stopped member: exit 3"
json_check "$T/out" '
ms = {m["name"]: m for m in d["members"]}
assert not ms["h3"]["healthy"] and not ms["h3"]["reachable"]
assert "connection refused" in ms["h3"]["error"], ms["h3"]["error"]
assert ms["h1"]["healthy"] and ms["h2"]["healthy"]
s = d["summary"]
assert s["healthy"] == 2 and s["unhealthy"] == 1 and s["has_quorum"] and not s["healthy_cluster"]
' || fail "stopped member report"
pass "stopped member: unhealthy with connection refused, the others healthy, quorum kept"

# bring it back
etcd_member_run 3 existing
three_healthy() { [[ $(healthy_count) == 3 ]]; }
wait_for 30 three_healthy || fail "h3 did not come back"

# --- a hung member (SIGSTOP) ------------------------------------------------
etcd_member_hang 2
on_exit "kill -CONT ${ETCD_PID[2]}"
bounded 3500 "$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}" --timeout 1s
expect_rc 3 "a hung member: exit 3"
expect_in "$T/out" "^h2 \([0-9a-f]+\): unreachable from here: ${ETCD_CLIENT_URL[2]}: timed out after [0-9]+ ms" \
	"the hung member is reported as timed out"
# Once the two others agree on a leader (h2 may have been it), quorum is held
# and said so, h2 still unreachable.
quorum_held() {
	{ "$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}" --timeout 1s -o json 2>/dev/null || :; } |
		python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["summary"]["quorum_state"] != "held")'
}
wait_for 20 quorum_held || fail "h1 and h3 never served a linearizable read with h2 hung"
bounded 3500 "$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}" --timeout 1s
expect_rc 3 "a hung member, the others settled: exit 3"
expect_in "$T/out" "2 of 3 voters reachable from here; quorum held: " "a hung member does not cost the quorum"
bounded 3500 "$EP" health --endpoints "${ETCD_CLIENT_URL[2]}" "${CLIENT[@]}" --timeout 1s
expect_rc 1 "only the hung member as endpoint: exit 1"
expect_in "$T/err" "no endpoint answered: ${ETCD_CLIENT_URL[2]}: timed out" "hung endpoint: timed out"
etcd_member_resume 2
wait_for 30 three_healthy || fail "h2 did not recover"
run "$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}"
expect_rc 0 "after SIGCONT: healthy again"
