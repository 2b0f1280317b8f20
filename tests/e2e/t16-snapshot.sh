#!/bin/bash
# t16-snapshot: `etcdpilot snapshot save` against a real TLS etcd 3.4 (three
# members on 127.0.16.x) holding ~40 MB: the file is byte for byte what
# `etcdctl snapshot save` writes and `etcdctl snapshot status` reads it
# (same revision and size); the text and -o json results (one document);
# the member chosen among several endpoints; an existing file (refused
# without --force, replaced with it) and a missing directory (exit 2,
# nothing written); and three transfers broken at a point observed, not
# guessed (snapshot-catch.py freezes etcdpilot once its unnamed file holds
# 1 MiB): the member killed (SIGKILL), the member frozen past --timeout, and
# etcdpilot itself killed - none leaves a file, not even a temporary one.
# A checksum that does not match cannot be had from a real etcd and no
# fake gRPC server is worth it here: test_snapshot feeds the decoder such
# streams (every flipped byte of data and checksum).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

etcd_cluster_start sn 3 127.0.16
TLS=(--cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY")
URL1=${ETCD_CLIENT_URL[1]}
CTL1=("$ETCDCTL_BIN" --endpoints "$URL1" "${TLS[@]}")
D=$T/snaps
mkdir -p "$D"

python3 "$SRC/tests/e2e/snapshot-load.py" --endpoint "$URL1" "${TLS[@]}" --db-mb 40 >"$T/load.out" ||
	fail "snapshot-load.py"
"${CTL1[@]}" put /t16/a 1 >/dev/null && "${CTL1[@]}" put /t16/b 2 >/dev/null &&
	"${CTL1[@]}" del /t16/a >/dev/null || fail "a few small writes"
want_rev=$("${CTL1[@]}" get /t16/b -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
pass "a database of $(cat "$T/load.out") bytes, revision $want_rev"
# the members apply the last writes; wait until member 1 has (a linearizable read on it)
"${CTL1[@]}" get /t16/b >/dev/null || fail "read on member 1"

# --- the same file as etcdctl's ----------------------------------------------
run "$EP" snapshot save --endpoints "$URL1" "${TLS[@]}" "$D/ep.db"
expect_rc 0 "snapshot save: exit 0"
"${CTL1[@]}" snapshot save "$D/ctl.db" >/dev/null 2>&1 || fail "etcdctl snapshot save"
cmp "$D/ep.db" "$D/ctl.db" || fail "the file is byte for byte etcdctl's"
pass "the file is byte for byte what etcdctl snapshot save writes ($(stat -c %s "$D/ep.db") bytes)"
[[ $(stat -c %a "$D/ep.db") == 600 ]] || fail "mode 0600 as etcdctl's"
"$ETCDCTL_BIN" snapshot status "$D/ep.db" -w json >"$T/status.json" 2>/dev/null || fail "etcdctl snapshot status reads it"
st_rev=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["revision"])' "$T/status.json")
st_size=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totalSize"])' "$T/status.json")
expect_eq "$st_rev" "$want_rev" "etcdctl snapshot status reads it: revision $st_rev"
size=$(stat -c %s "$D/ep.db")
sha=$(head -c $((size - 32)) "$D/ep.db" | sha256sum | cut -d' ' -f1)
tail_hex=$(tail -c 32 "$D/ep.db" | od -An -tx1 | tr -d ' \n')
expect_eq "$sha" "$tail_hex" "the file's last 32 bytes are the sha256 of the rest"
expect_in "$T/out" "^Snapshot saved at $D/ep.db\$" "text: where"
expect_in "$T/out" "^  size: +$size bytes " "text: the size"
expect_in "$T/out" "^  revision: +$want_rev \(read from the saved database" "text: the revision and where it comes from"
expect_in "$T/out" "^  sha256: +$sha\$" "text: the sha256"
expect_in "$T/out" '^\[snapshot\] Saving the snapshot of the member at https://127.0.16.1:22379 ' "text: which member"
[[ $st_size -eq $((size - 32)) ]] || fail "status' totalSize $st_size is the database ($((size - 32)))"

run "$EP" snapshot save --endpoints "$URL1" "${TLS[@]}" -o json "$D/j.db"
expect_rc 0 "-o json: exit 0"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["kind"] == "Snapshot" and d["file"] == sys.argv[2], d
assert d["size"] == int(sys.argv[3]) and d["dbSize"] == d["size"] - 32, d
assert d["sha256"] == sys.argv[4] and d["revision"] == int(sys.argv[5]), d
assert d["revisionSource"] == "file" and d["chosen"] == "named", d
assert d["member"]["endpoint"] == sys.argv[6] and d["member"]["version"].startswith("3.4"), d
' "$T/out" "$D/j.db" "$size" "$sha" "$want_rev" "$URL1" || fail "-o json: one document with the result"
pass "-o json: exactly one document, the same size, sha256 and revision"
expect_in "$T/err" 'Saving the snapshot' "-o json: the progress line goes to stderr"
cmp "$D/j.db" "$D/ep.db" || fail "a second save of the quiet cluster is the same file"

# --- the member chosen among several ----------------------------------------------
run "$EP" snapshot save --endpoints "$ETCD_ENDPOINTS" "${TLS[@]}" -o json "$D/any.db"
expect_rc 0 "three endpoints: exit 0"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["chosen"] == "most-advanced" and d["member"]["endpoint"] in sys.argv[2].split(","), d
' "$T/out" "$ETCD_ENDPOINTS" || fail "the most advanced healthy member is chosen"
"$ETCDCTL_BIN" snapshot status "$D/any.db" >/dev/null 2>&1 || fail "status reads the chosen member's file"
pass "with three endpoints the most advanced healthy voter is chosen"

# --- the target ------------------------------------------------------------------
before=$(sha256sum "$D/ctl.db")
run "$EP" snapshot save --endpoints "$URL1" "${TLS[@]}" "$D/ctl.db"
expect_rc 2 "an existing file: exit 2"
expect_in "$T/err" "'$D/ctl.db' already exists; give --force to replace it" "an existing file: says so and how"
expect_eq "$(sha256sum "$D/ctl.db")" "$before" "an existing file is left as it was"
"${CTL1[@]}" put /t16/c 3 >/dev/null
run "$EP" snapshot save --endpoints "$URL1" "${TLS[@]}" --force "$D/ctl.db"
expect_rc 0 "--force replaces it"
cmp -s "$D/ctl.db" "$D/ep.db" && fail "--force wrote the new snapshot"
"$ETCDCTL_BIN" snapshot status "$D/ctl.db" >/dev/null 2>&1 || fail "the replaced file reads"
run "$EP" snapshot save --endpoints "$URL1" "${TLS[@]}" "$T/no/such/dir/x.db"
expect_rc 2 "a missing directory: exit 2"
expect_in "$T/err" "the directory does not exist" "a missing directory: says so"
[[ ! -e $T/no ]] || fail "nothing was created"
rm -f "$D"/*.db

# --- broken transfers leave nothing --------------------------------------------------
# cut_start FILE URL EXTRA...: start a save of URL into FILE under
# snapshot-catch.py, which freezes it mid-transfer: EP_PID, CAUGHT (bytes it had)
mkfifo "$T/caught"
cut_start() {
	local file=$1 url=$2
	shift 2
	python3 "$SRC/tests/e2e/snapshot-catch.py" "$(dirname "$file")" "$T/caught" -- \
		"$EP" snapshot save --endpoints "$url" "${TLS[@]}" "$@" "$file" >"$T/out" 2>"$T/err" &
	CATCHER=$!
	read -r EP_PID CAUGHT <"$T/caught"
	if [[ $EP_PID == 0 ]]; then
		wait "$CATCHER"
		cat "$T/err" >&2
		fail "etcdpilot was caught mid-transfer"
	fi
}
cut_wait() {
	wait "$CATCHER"
	RC=$?
}
dir_empty() { [[ -z $(ls -A "$D") ]]; }

# 1. the member is killed while etcdpilot is frozen mid-transfer
cut_start "$D/cut.db" "${ETCD_CLIENT_URL[3]}"
etcd_member_stop 3
kill -CONT "$EP_PID"
cut_wait
expect_rc 1 "the member killed mid-transfer (after $CAUGHT bytes): exit 1"
expect_in "$T/err" 'the snapshot stream broke after [0-9]+ of [0-9]+ bytes' "says how far the stream got"
dir_empty || { ls -la "$D"; fail "no file, not even a temporary one, after a broken stream"; }
pass "a broken stream leaves no file, not even a temporary one"

# 2. the member frozen until --timeout passes
cut_start "$D/late.db" "${ETCD_CLIENT_URL[2]}" --timeout 3s
etcd_member_hang 2
kill -CONT "$EP_PID"
cut_wait
etcd_member_resume 2
expect_rc 1 "the member frozen mid-transfer past --timeout 3s: exit 1"
expect_in "$T/err" 'timed out' "says it timed out"
dir_empty || { ls -la "$D"; fail "no file after the deadline"; }
pass "a transfer past its deadline leaves no file"

# 3. etcdpilot itself killed mid-transfer (SIGKILL: no clean-up code runs)
cut_start "$D/killed.db" "$URL1"
kill -KILL "$EP_PID"
cut_wait
expect_rc 137 "etcdpilot killed (SIGKILL) mid-transfer"
dir_empty || { ls -la "$D"; fail "no file after etcdpilot was killed"; }
pass "etcdpilot killed mid-transfer (after $CAUGHT bytes) leaves no file: it was never named"

# and the cluster still serves a good snapshot afterwards
run "$EP" snapshot save --endpoints "$URL1" "${TLS[@]}" "$D/after.db"
expect_rc 0 "a save after all that: exit 0"
"$ETCDCTL_BIN" snapshot status "$D/after.db" >/dev/null 2>&1 || fail "status reads it"
