#!/bin/bash
# t25-membership: membership changes through the library (membership.h)
# against a real 3-member TLS cluster (p1..p3 on 127.0.25.1..3):
#   names     bad names and peer URLs refused with exit 2 before anything is
#             asked, nothing added, no raw control character printed (10.18);
#             `member remove ""` and `member promote ""` exit 2;
#   plan      --dry-run prints the plan, with -o json exactly one document;
#             a removal goes through another voter than the member itself;
#   dup       a second add under the name of a learner that never started is
#             refused, and its peer URL under another name (10.11); the
#             unstarted member is found by the name it was added under; its
#             promotion fails at the deadline, naming it;
#   ambiguous a member named like another member's hex ID: `member remove
#             <that ID>` refused as ambiguous, listing both (10.11);
#   promote   `member promote` started before its learner: it waits, and
#             promotes once the learner has started (with the ETCD_* set
#             `member add` printed) and caught up;
#   remove    with a voter down an add fails at once naming it; --dead
#             refuses a member that answers and removes the dead one; the
#             quorum guard refuses removing a voter that would cost quorum.
# Each section leaves p1..p3 running as the only members except the last two.
# T25_ONLY="names dup" runs only those sections (each runs alone: that is how
# the old binary is shown failing them, EP_BINARY=old T25_ONLY=names).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

SECTIONS=${T25_ONLY:-names plan dup ambiguous promote remove}
section() { [[ " $SECTIONS " == *" $1 "* ]]; }

etcd_cluster_start p 3 127.0.25
BASE_CLUSTER=$ETCD_INITIAL_CLUSTER
export ETCDCTL_ENDPOINTS=$ETCD_ENDPOINTS ETCDCTL_CACERT=$ETCD_CACERT ETCDCTL_CERT=$ETCD_CERT \
	ETCDCTL_KEY=$ETCD_KEY

# expect_has FILE STRING DESCRIPTION: a fixed string (URLs, brackets) in FILE
expect_has() {
	if ! grep -Fq -- "$2" "$1"; then
		echo "--- $1" >&2; cat "$1" >&2
		fail "$3 (no '$2' in $(basename "$1"))"
	fi
	pass "$3"
}

members() { "$EP" member list -o json | python3 -c '
import json, sys
for m in json.load(sys.stdin)["members"]:
    print(m["id"], m["name"], m["status"], m["is_learner"], ",".join(m["peer_urls"]))' | sort; }

id_of() { "$EP" member list | awk -v n="$1" '$3 == n { print $1 }'; }

# peers_see_down ID: every running member's transport has noticed member ID
# is gone (etcd_network_active_peers), so that etcd judges the next change
# with it down - not a sleep.
peers_see_down() {
	local i metrics
	for i in "${!ETCD_PID[@]}"; do
		[[ -n ${ETCD_PID[$i]} ]] || continue
		# whole, not piped into grep -q: under pipefail curl's SIGPIPE would hide a match
		metrics=$(curl -sf --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" \
			"${ETCD_CLIENT_URL[$i]}/metrics") || return 1
		grep -Eq "^etcd_network_active_peers\{.*Remote=\"$1\".*\} 1$" <<<"$metrics" && return 1
	done
	return 0
}

members >"$T/members-start"
[[ $(wc -l <"$T/members-start") -eq 3 ]] || fail "three members to start with"

# --- names (10.18) ------------------------------------------------------------
if section names; then
	for bad in 'bad name/../x' $'c\e[2Jx' 'a=b' 'x,y' "it's" '0123456789abcdef' ''; do
		shown=$(printf '%q' "$bad")
		run "$EP" member add "$bad" https://127.0.25.9:22380 --learner
		expect_rc 2 "10.18: member add refuses the name $shown"
		expect_in "$T/err" "argument NAME: (member name '|the member name is empty)" \
			"the refusal of $shown names the argument"
		expect_not_in "$T/out" "ETCD_NAME" "nothing printed for ETCD_NAME with $shown"
	done
	run "$EP" member add 'bad name/../x' https://127.0.25.9:22380 --learner
	expect_has "$T/err" "member name 'bad name/../x' holds whitespace (offset 3)" \
		"the name is quoted and the problem said"
	run "$EP" member add $'c\e[2Jx' https://127.0.25.9:22380 --learner
	expect_has "$T/err" "member name 'c\\x1b[2Jx' holds a control character" \
		"a control character is shown escaped"
	grep -q $'\e' "$T/err" && fail "a raw ESC reached stderr"
	pass "no raw control character on stderr"

	for url in https://127.0.25.9 https://127.0.25.9: https://0.0.0.0:22380 'https://[::]:22380' \
		https://255.255.255.255:22380 https://224.0.0.1:22380 https://127.0.25.9:22380/ \
		https://127.0.25.9:22380/x 127.0.25.9:22380 ftp://127.0.25.9:22380 \
		https://127.0.25.9:70000 'https://127.0.25.9:22380,https://127.0.25.9:22380'; do
		run "$EP" member add c9 "$url" --learner
		expect_rc 2 "10.18: member add refuses the peer URL '$url'"
		expect_in "$T/err" "argument PEER-URL: peer URL '" "the refusal of '$url' names the argument"
	done
	run "$EP" member add c9 https://127.0.25.9 --learner
	expect_has "$T/err" "peer URL 'https://127.0.25.9' has no port" "a missing port is said"
	run "$EP" member add c9 https://0.0.0.0:22380 --learner
	expect_has "$T/err" "peer URL 'https://0.0.0.0:22380' is an unspecified address" \
		"0.0.0.0 is said"

	run "$EP" member remove ""
	expect_rc 2 "member remove '' is a usage error"
	expect_in "$T/err" "no member given: NAME\|ID is empty" "remove '': said so"
	run "$EP" member promote ""
	expect_rc 2 "member promote '' is a usage error"

	members >"$T/members-now"
	expect_eq "$(cat "$T/members-now")" "$(cat "$T/members-start")" "refused adds added nothing"
fi

# --- plan -----------------------------------------------------------------------
if section plan; then
	P1_ID=$(id_of p1)
	run "$EP" member remove p1 --dry-run --endpoints "${ETCD_CLIENT_URL[1]}"
	expect_rc 0 "remove --dry-run asked through p1 itself"
	expect_in "$T/out" "^would remove member 'p1' \($P1_ID\) through https://127\.0\.25\.[23]:22379$" \
		"the removal goes through another voter"
	run "$EP" member remove p1 --dry-run -o json --endpoints "${ETCD_CLIENT_URL[1]}"
	expect_rc 0 "remove --dry-run -o json"
	python3 - "$T/out" "$P1_ID" <<'PY' || fail "the removal plan as one JSON document"
import json, sys
d = json.load(open(sys.argv[1]))  # fails on anything after the one document
assert d["dry_run"] is True and d["unsafe"] is None, d
assert d["through"] in ("https://127.0.25.2:22379", "https://127.0.25.3:22379"), d
(s,) = d["steps"]
assert s["action"] == "remove" and s["id"] == sys.argv[2] and s["name"] == "p1", s
assert s["summary"].startswith("remove member 'p1' (%s) through " % sys.argv[2]), s
PY
	pass "the removal plan as one JSON document"
	run "$EP" member add c9 https://127.0.25.9:22380 --learner --dry-run -o json
	expect_rc 0 "add --dry-run -o json"
	python3 - "$T/out" <<'PY' || fail "the add plan as one JSON document"
import json, sys
d = json.load(open(sys.argv[1]))
(s,) = d["steps"]
assert s["action"] == "add" and s["name"] == "c9" and s["is_learner"] and s["id"] is None, s
assert s["peer_urls"] == ["https://127.0.25.9:22380"], s
PY
	pass "the add plan as one JSON document"
	run "$EP" member add c9 https://127.0.25.9:22380 --dry-run
	expect_in "$T/out" "^would add member 'c9' \(voter\) with peer URLs https://127.0.25.9:22380 through https://127\.0\.25\.[123]:22379$" \
		"add --dry-run: the plan line"
	members >"$T/members-now"
	expect_eq "$(cat "$T/members-now")" "$(cat "$T/members-start")" "dry runs changed nothing"
fi

# --- dup (10.11, first half) ------------------------------------------------
if section dup; then
	# etcd refuses changes until its members have been connected for 5 s:
	# the command waits for that within its --timeout.
	run "$EP" member add c4 https://127.0.25.4:22380 --learner --timeout 30s
	expect_rc 0 "member add c4 --learner"
	C4_ID=$(sed -n 's/^Member \([0-9a-f]*\) added to cluster .*/\1/p' "$T/out")
	[[ $C4_ID =~ ^[0-9a-f]+$ ]] || fail "c4's ID from the add ('$C4_ID')"
	ic=$(sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p' "$T/out" | tr , '\n' | sort | tr '\n' ,)
	expect_eq "$ic" "c4=https://127.0.25.4:22380,p1=${ETCD_PEER_URL[1]},p2=${ETCD_PEER_URL[2]},p3=${ETCD_PEER_URL[3]}," \
		"the initial cluster: every member and c4"

	run "$EP" member add c4 https://127.0.25.5:22380 --timeout 30s
	expect_rc 2 "10.11: a second add under the name of a learner that never started is refused"
	expect_has "$T/err" "a member was already added as 'c4' ($C4_ID, peer URL 'https://127.0.25.4:22380') and has not started" \
		"the refusal names the unstarted member and its peer URL"
	expect_has "$T/err" "'etcdpilot member remove 0x$C4_ID'" "the refusal says how to remove it"
	run "$EP" member add c4 https://127.0.25.5:22380 --learner --timeout 30s
	expect_rc 2 "... also as a learner"
	run "$EP" member add c5 https://127.0.25.4:22380 --learner --timeout 30s
	expect_rc 2 "its peer URL under another name is refused"
	expect_has "$T/err" "peer URL 'https://127.0.25.4:22380' already belongs to member $C4_ID, added as 'c4', which has not started" \
		"... naming the name it was added under"
	run "$EP" member add p2 https://127.0.25.5:22380 --learner
	expect_rc 2 "a started member's name is refused"
	expect_in "$T/err" "a member named 'p2' already exists and is running \([0-9a-f]+, answers at https://[0-9.:]+\); pick another name, or, if this node is to take its place, run 'etcdpilot reset' on its node first" \
		"... saying it runs, and what to do"
	expect_not_in "$T/err" "replace" "... without join's --replace (member add has none)"
	[[ $(members | wc -l) -eq 4 ]] || fail "only c4 was added"
	pass "only c4 was added"

	run "$EP" member list
	expect_in "$T/out" "^$C4_ID +unstarted +https://127.0.25.4:22380 +true$" "c4 is listed unstarted"
	run "$EP" member promote c4 --timeout 3s
	expect_rc 1 "promote of a learner that never starts fails at the deadline"
	expect_in "$T/err" "promoting member 'c4' \($C4_ID\): the learner has not started within [0-9]+\.[0-9] s \(it never showed its name and client URLs in the member list\): start etcd on its node" \
		"... naming it and saying what to do"
	expect_in "$T/out" "^\[member\] waiting for 'c4' \($C4_ID\): it has not started yet" \
		"... after saying what it waited for"
	run "$EP" member remove c4 --timeout 30s
	expect_rc 0 "the unstarted learner is found by the name it was added under"
	expect_in "$T/out" "^Member $C4_ID removed from cluster [0-9a-f]+$" "remove: the etcdctl line"
	members >"$T/members-now"
	expect_eq "$(cat "$T/members-now")" "$(cat "$T/members-start")" "back to p1..p3"
fi

# --- ambiguous (10.11, second half) -------------------------------------------
if section ambiguous; then
	P1_ID=$(id_of p1)
	# etcd takes any name: etcdctl adds a learner, which starts named like p1's
	# ID.  etcdctl does not wait out etcd's "unhealthy cluster" of the first 5 s
	# after a start: retried until the member is there.
	ctl_add() {
		"$ETCDCTL_BIN" member add "$P1_ID" --peer-urls=https://127.0.25.6:22380 --learner \
			>>"$T/ctl-add" 2>&1 || "$ETCDCTL_BIN" member list | grep -q 127.0.25.6:22380
	}
	wait_for 30 ctl_add || { cat "$T/ctl-add" >&2; fail "etcdctl member add"; }
	etcd_member_define 6 "$P1_ID" 127.0.25.6
	ETCD_INITIAL_CLUSTER=$BASE_CLUSTER,$P1_ID=${ETCD_PEER_URL[6]}
	etcd_member_run 6 existing
	started_as_id() { [[ -n $(id_of "$P1_ID") ]]; }
	wait_for 30 started_as_id || { tail -20 "$T/$P1_ID/etcd.log" >&2; fail "the learner named $P1_ID did not start"; }
	X_ID=$(id_of "$P1_ID")
	pass "a learner named '$P1_ID' ($X_ID) started"

	run "$EP" member remove "$P1_ID" --timeout 30s
	expect_rc 2 "10.11: remove of a name that is another member's ID is refused"
	expect_has "$T/err" "'$P1_ID' is ambiguous: it is the name of $P1_ID ($X_ID) and the ID of p1 ($P1_ID)" \
		"the refusal lists both members"
	expect_has "$T/err" "give the ID of the member you mean with 0x in front" "... and what to do"
	[[ $(members | wc -l) -eq 4 ]] || fail "nothing was removed"
	pass "nothing was removed"
	run "$EP" member promote "$P1_ID"
	expect_rc 2 "promote: the same refusal"

	run "$EP" member remove "0x$X_ID" --timeout 30s
	expect_rc 0 "remove 0x<ID> removes the member with that ID"
	expect_in "$T/out" "^Member $X_ID removed" "the learner is gone"
	etcd_member_stop 6
	ETCD_INITIAL_CLUSTER=$BASE_CLUSTER
	members >"$T/members-now"
	expect_eq "$(cat "$T/members-now")" "$(cat "$T/members-start")" "back to p1..p3"
fi

# --- promote --------------------------------------------------------------------
if section promote; then
	run "$EP" member add c4 https://127.0.25.4:22380 --learner --timeout 30s
	expect_rc 0 "member add c4 --learner"
	C4_ID=$(sed -n 's/^Member \([0-9a-f]*\) added to cluster .*/\1/p' "$T/out")
	C4_CLUSTER=$(sed -n 's/^ETCD_INITIAL_CLUSTER="\(.*\)"$/\1/p' "$T/out")
	for i in $(seq 1 40); do
		"$ETCDCTL_BIN" put "k$i" "value $i" >/dev/null || fail "put k$i"
	done

	# The promotion starts first and waits for the learner.
	"$EP" member promote c4 --timeout 90s >"$T/promote.out" 2>"$T/promote.err" &
	PROMOTE=$!
	on_exit "kill $PROMOTE"
	waiting() { grep -q "^\[member\] waiting for 'c4' ($C4_ID): it has not started yet" "$T/promote.out"; }
	wait_for 30 waiting || { cat "$T/promote.out" "$T/promote.err" >&2; fail "promote says it waits for c4"; }
	pass "promote waits for the learner to start"

	# ... which starts with the ETCD_* set member add printed.
	etcd_member_define 4 c4 127.0.25.4
	ETCD_INITIAL_CLUSTER=$C4_CLUSTER
	etcd_member_run 4 existing
	wait "$PROMOTE"
	RC=$?
	cp "$T/promote.out" "$T/out"
	cp "$T/promote.err" "$T/err"
	expect_rc 0 "promote of a learner that started late"
	expect_in "$T/out" "^\[member\] learner 'c4' \($C4_ID\) caught up, promoting: applied index [0-9]+ of the leader's [0-9]+$" \
		"promote reports the catch-up"
	expect_in "$T/out" "^Member $C4_ID promoted in cluster [0-9a-f]+$" "promote: the etcdctl line"
	run "$EP" member list
	expect_in "$T/out" "^$C4_ID +started +c4 +https://127.0.25.4:22380 +${ETCD_CLIENT_URL[4]} +false$" \
		"c4 is a started voter"
	run "$EP" health
	expect_rc 0 "four voters, healthy"
fi

# --- remove -------------------------------------------------------------------
if section remove && section promote; then
	peers_see_down "$C4_ID" && fail "the metrics do not show c4 connected (peers_see_down is blind)"
	etcd_member_stop 4
	wait_for 30 peers_see_down "$C4_ID" || fail "the members did not notice c4 is gone"
	pass "the members noticed c4 is gone"
	run "$EP" member add c5 https://127.0.25.5:22380 --learner --timeout 60s
	expect_rc 1 "an add with a voter down fails"
	expect_has "$T/err" "etcd refuses membership changes while a voting member is unreachable (1 voter is down here: c4 ($C4_ID): " \
		"... at once, naming the voter that is down"
	expect_has "$T/err" "remove the dead member first ('etcdpilot member remove --dead c4')" \
		"... and saying what to do"
	expect_not_in "$T/out" "trying again" "no retries against a dead voter"

	run "$EP" member remove p1 --dead
	expect_rc 1 "--dead refuses a member that answers"
	expect_in "$T/err" "member p1 \([0-9a-f]+\) answers at https://127.0.25.1:22379: it is not dead" \
		"... saying so"
	run "$EP" member remove c4 --dead --dry-run
	expect_in "$T/out" "^would remove member 'c4' \($C4_ID\) through .*; it does not answer: .*connection refused" \
		"the plan says the member does not answer"
	run "$EP" member remove c4 --dead --timeout 30s
	expect_rc 0 "--dead removes the dead member"
	expect_in "$T/out" "^Member $C4_ID removed from cluster [0-9a-f]+$" "... in etcdctl's words"
	expect_in "$T/out" "Run 'etcdpilot reset' on that node" "... and says what its node needs"

	etcd_member_stop 3
	run "$EP" member remove p1
	expect_rc 1 "removing a voter that would cost quorum is refused"
	expect_in "$T/err" "removing member 'p1' \([0-9a-f]+\) would leave the cluster without quorum: the 2 remaining voters need 2 started, but only 1 is \(down: p3 \([0-9a-f]+\)\)" \
		"... with the reason"
	[[ $(members | wc -l) -eq 3 ]] || fail "p1 is still there"
	pass "p1 is still there"
fi
