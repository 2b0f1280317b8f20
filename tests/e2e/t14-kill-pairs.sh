#!/usr/bin/env bash
# t14-kill-pairs: kill -9 at random moments (issue 10, items 4 and 5).
# 'certs renew all' and 'certs generate' on an empty root are killed EP_KILLS
# times each (default 30: 60 kills in all), at a moment drawn uniformly over
# how long one run takes here; each phase also stops after EP_KILL_SECONDS
# (default 45) on a slow machine, and says how many kills it made.  After each kill: a key that does not match its certificate,
# or a ca.key without ca.crt, is only allowed beside the pair's journal
# (<name>.ep-pair) that records the change.  Then a plain re-run (generate,
# or renew) must succeed - completing what the killed run started, never
# refusing with "remove ca.key" - and leave every key matching its
# certificate, every leaf signed by the CA, ca.key and ca.crt together, and
# no temp file or journal.
. "$(dirname "$0")/lib.sh"

KILLS=${EP_KILLS:-30}
KILL_SECONDS=${EP_KILL_SECONDS:-45}
NODE=(--name cp1 --advertise-address 10.0.0.11 --key-type ecdsa-p256)
PAIRS=(etcd/ca etcd/server etcd/peer etcd/healthcheck-client apiserver-etcd-client)

pubkey_of() { # FILE: the public key of a certificate or private key, hashed
	case $1 in
	*.crt) openssl x509 -in "$1" -noout -pubkey ;;
	*) openssl pkey -in "$1" -pubout ;;
	esac 2>/dev/null | sha256sum
}

# matches PKI F: F.key matches F.crt (openssl runs only for contents not seen matching before)
declare -A MATCHED
matches() {
	local sig
	sig=$(cat "$1/$2.key" "$1/$2.crt" | sha256sum)
	[[ -n ${MATCHED[$sig]:-} ]] && return 0
	[[ $(pubkey_of "$1/$2.key") == "$(pubkey_of "$1/$2.crt")" ]] || return 1
	MATCHED[$sig]=1
}

# after_kill PKI WHEN: every pair whole, or its journal there; adds the journals to $journals
after_kill() {
	local pki=$1 when=$2 f
	for f in "${PAIRS[@]}"; do
		if [[ -e $pki/$f.ep-pair ]]; then
			journals=$((journals + 1))
			continue
		fi
		if [[ -e $pki/$f.crt || -e $pki/$f.key ]]; then
			[[ -e $pki/$f.crt && -e $pki/$f.key ]] ||
				fail "$when: $f.crt and $f.key do not exist together, and no journal"
			matches "$pki" "$f" || fail "$when: $f.key does not match $f.crt, and no journal"
		fi
	done
}

# whole PKI WHEN: the state a successful run leaves
whole() {
	local pki=$1 when=$2 f
	for f in "${PAIRS[@]}"; do
		[[ -e $pki/$f.crt && -e $pki/$f.key ]] || fail "$when: $f.crt or $f.key is missing"
		matches "$pki" "$f" || fail "$when: $f.key does not match $f.crt"
	done
	openssl verify -CAfile "$pki/etcd/ca.crt" "$pki/etcd/server.crt" "$pki/etcd/peer.crt" \
		"$pki/etcd/healthcheck-client.crt" "$pki/apiserver-etcd-client.crt" >/dev/null 2>&1 ||
		fail "$when: a leaf is not signed by the CA on disk"
	[[ -z $(find "$pki" -name '*.ep-*' -print -quit) ]] ||
		fail "$when: left behind: $(find "$pki" -name '*.ep-*' | head -3)"
}

# kill_after MS CMD...: run CMD, kill -9 it after MS milliseconds; RC is its exit code
kill_after() {
	local ms=$1
	shift
	"$@" >/dev/null 2>&1 &
	local pid=$!
	sleep "$(printf '0.%03d' "$ms")"
	kill -9 "$pid" 2>/dev/null
	wait "$pid"
	RC=$?
}

# How long one run takes here, in ms: kills are spread over that.
R=$T/timing
s=$(date +%s%N)
"$EP" certs generate --root "$R" "${NODE[@]}" >/dev/null || fail "a first generate"
e=$(date +%s%N)
SPAN=$(((e - s) / 1000000 + 5))
((SPAN > 999)) && SPAN=999
say "one generate takes $((SPAN - 5)) ms; kills land 1..$SPAN ms after the start"

# --- certs renew all, killed -------------------------------------------------------
R=$T/renew
PKI=$R/etc/kubernetes/pki
run "$EP" certs generate --root "$R" "${NODE[@]}"
expect_rc 0 "a PKI to renew"
killed=0 journals=0 i=0
deadline=$((SECONDS + KILL_SECONDS))
while ((i < KILLS && SECONDS < deadline)); do
	i=$((i + 1))
	ms=$((RANDOM % SPAN + 1))
	kill_after "$ms" "$EP" certs renew all --root "$R" "${NODE[@]}"
	((RC == 137)) && killed=$((killed + 1))
	after_kill "$PKI" "renew killed after $ms ms"
	next=generate
	((i % 3)) || next="renew all"
	run "$EP" certs $next --root "$R" "${NODE[@]}"
	expect_rc 0 "renew killed after $ms ms: the next $next succeeds" >/dev/null
	whole "$PKI" "renew killed after $ms ms, then a run"
done
pass "certs renew all killed $killed of $i times ($journals pairs left mid-change, each completed): every key matched its certificate after the next run"

# --- certs generate on an empty root, killed --------------------------------------
total=$killed
killed=0 journals=0 lone=0 i=0
deadline=$((SECONDS + KILL_SECONDS))
while ((i < KILLS && SECONDS < deadline)); do
	i=$((i + 1))
	R=$T/gen$i
	PKI=$R/etc/kubernetes/pki
	ms=$((RANDOM % SPAN + 1))
	kill_after "$ms" "$EP" certs generate --root "$R" "${NODE[@]}"
	((RC == 137)) && killed=$((killed + 1))
	after_kill "$PKI" "generate killed after $ms ms"
	[[ -e $PKI/etcd/ca.key && ! -e $PKI/etcd/ca.crt ]] && lone=$((lone + 1))
	run "$EP" certs generate --root "$R" "${NODE[@]}"
	expect_rc 0 "generate killed after $ms ms: the next generate completes it" >/dev/null
	whole "$PKI" "generate killed after $ms ms, then generate"
	rm -rf "$R"
done
pass "certs generate killed $killed of $i times ($journals pairs mid-change, $lone with ca.key alone on disk, each completed): the next generate always finished the PKI"
((total + killed > 0)) || fail "no run was killed: the test proved nothing"
pass "runs were killed part-way"
