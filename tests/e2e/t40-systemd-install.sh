#!/usr/bin/env bash
# t40: etcdpilot init --mode systemd on simulated nodes (each its own network
# namespace and address, hack/systemctl-standin as systemd): an upstream-style
# release tarball built here from Debian's etcd and etcdctl, served over
# http:// by a local server and as file://, is verified, cached, installed;
# the unit and environment are written (and pass systemd-analyze verify);
# the stand-in starts etcd (Type=notify: READY=1) and the member is healthy;
# a re-run changes nothing and needs no network (the digest recorded beside
# the cache); a corrupt cached archive is fetched again; --dry-run writes
# nothing and, on a healthy node, predicts nothing; repairing etcdctl files
# or file modes does not restart etcd; a removed etcd.env is explained;
# 'render unit' prints the files on disk.
. "$(dirname "$0")/lib.sh"

STANDIN=$SRC/hack/systemctl-standin
export ETCDPILOT_SYSTEMCTL=$STANDIN
V=3.4.23
ARCH=amd64
[[ $(uname -m) == x86_64 ]] || { echo "t40: needs an x86_64 machine (the tarball is linux-amd64)"; exit 1; }
NAME=etcd-v$V-linux-$ARCH

# in_ns NS CMD...
in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# netns NS ADDR: lo up and ADDR/24 on a veth pair whose both ends stay inside NS.
netns() {
	ip netns add "$1" || fail "cannot create network namespace $1 (root needed)"
	on_exit "ip netns del '$1'"
	ip -n "$1" link set lo up
	ip -n "$1" link add v0 type veth peer name v1
	ip -n "$1" link set v0 up
	ip -n "$1" link set v1 up
	ip -n "$1" addr add "$2/24" dev v0
}

# The stand-in's etcd goes away even when the scenario fails.
stop_unit() {
	local root=$1 unit=${2:-etcd.service} pid
	"$STANDIN" --root "$root" stop "$unit"
	for f in supervisor.pid main.pid; do
		pid=$(cat "$root/run/systemd-standin/$unit/$f" 2>/dev/null) || continue
		[[ $pid -gt 0 ]] && kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

# The release: etcd-v3.4.23-linux-amd64/{etcd,etcdctl,README.md} and SHA256SUMS.
REL=$T/release
mkdir -p "$REL/src/$NAME"
cp /usr/bin/etcd /usr/bin/etcdctl "$REL/src/$NAME/"
echo "etcd $V, repackaged from Debian for etcdpilot's tests" >"$REL/src/$NAME/README.md"
tar -C "$REL/src" -czf "$REL/$NAME.tar.gz" "$NAME"
(cd "$REL" && sha256sum "$NAME.tar.gz" >SHA256SUMS)
SUM=$(cut -d' ' -f1 "$REL/SHA256SUMS")

NS1=ep-t40a-$$
NS2=ep-t40b-$$
A1=10.240.0.2
A2=10.240.1.2
netns "$NS1" "$A1"
netns "$NS2" "$A2"
R1=$T/n1
R2=$T/n2
mkdir -p "$R1" "$R2"
on_exit "stop_unit '$R1'"
on_exit "stop_unit '$R2'"

# The http server lives in node 1's namespace (its 127.0.0.1 is the node's).
PORT=$(in_ns "$NS1" python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# 'ip netns exec' forks: the server says its own pid, which cleanup kills.
in_ns "$NS1" sh -c 'echo $$ >"$1"; exec python3 -m http.server --bind 127.0.0.1 --directory "$2" "$3"' \
	sh "$T/http.pid" "$REL" "$PORT" >"$T/http.log" 2>&1 &
on_exit "kill \$(cat '$T/http.pid')"
wait_for 10 in_ns "$NS1" curl -sf "http://127.0.0.1:$PORT/SHA256SUMS" ||
	fail "the release server answers"

F1=(--name n1 --advertise-address "$A1" --etcd-version $V --key-type ecdsa-p256 --timeout 60s)

# --dry-run: the plan and the files, nothing written.
D=$T/dry
mkdir -p "$D"
run in_ns "$NS1" "$EP" --root "$D" init --mode systemd --dry-run "${F1[@]}" \
	--release-url "http://127.0.0.1:$PORT/"
expect_rc 0 "init --mode systemd --dry-run"
expect_in "$T/out" "^\[install\] Would download http://127.0.0.1:$PORT/$NAME.tar.gz, verify it \(SHA256SUMS\)" \
	"announces the download and its verification"
expect_in "$T/out" "^\\[dryrun\\] \\[etcd\\] Would write /etc/systemd/system/etcd.service \\(mode 0644\\)" "announces the unit (by its node path)"
expect_in "$T/out" "^\\[dryrun\\] \\[etcd\\] Would create directory /var/lib/etcd \\(mode 0700\\)" "announces the data directory"
expect_in "$T/out" $'^\tETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK=true$' "prints the 3.4 environment"
expect_in "$T/out" "^\[dryrun\] \[start\] Would run systemctl enable --now etcd.service" "announces enable --now"
expect_eq "$(find "$D" -mindepth 1 | wc -l)" 0 "and writes nothing"
run in_ns "$NS1" "$EP" --root "$D" init --mode systemd --dry-run -o json "${F1[@]}" \
	--release-url "http://127.0.0.1:$PORT/"
expect_rc 0 "init --mode systemd --dry-run -o json"
cp "$T/out" "$T/plan.json"
run python3 - "$T/plan.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))      # exactly one document, or this fails
assert doc["kind"] == "Plan", doc.get("kind")
acts = doc["actions"]
files = [a["params"]["path"] for a in acts if a["type"] == "file.write"]
assert files == ["/etc/systemd/system/etcd.service", "/etc/etcd/etcd.env",
                 "/etc/etcd/etcdctl.env", "/usr/local/bin/etcdctl.sh"], files
env = [a["params"]["content"] for a in acts if a["params"].get("path") == "/etc/etcd/etcd.env"][0]
assert "ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK=true" in env
types = [a["type"] for a in acts]
assert types.index("install.etcd") < types.index("pki.ensure") < types.index("systemd.enable-now"), types
assert types[-1] == "wait.healthy"
PY
expect_rc 0 "the JSON plan parses and lists the unit, the environments, the wrapper, install, certs and systemctl"

# A corrupt archive already in the cache must not be trusted.
CACHE=$R1/var/cache/etcdpilot/etcd/v$V
mkdir -p "$CACHE"
echo "not a tarball" >"$CACHE/$NAME.tar.gz"
# and the partial download a killed install leaves (issue 10 item 13: 14 MB)
head -c 14000000 /dev/zero >"$CACHE/$NAME.tar.gz.ep-0123456789abcdef"

run in_ns "$NS1" "$EP" --root "$R1" init --mode systemd "${F1[@]}" --release-url "http://127.0.0.1:$PORT/"
expect_rc 0 "init --mode systemd from http:// waits until the member is healthy"
expect_in "$T/out" "^\[install\] The cached /var/cache/etcdpilot/etcd/v$V/$NAME.tar.gz does not match its checksum" \
	"the corrupt cache is noticed"
expect_in "$T/out" "^\[install\] Downloading http://127.0.0.1:$PORT/$NAME.tar.gz" "and the release fetched again"
expect_in "$T/out" "^\[install\] Verified sha256 $SUM" "the download is verified against SHA256SUMS"
expect_in "$T/err" "^\[install\] WARNING: http://127.0.0.1:$PORT/SHA256SUMS comes over plain http:// from the same server as the tarball: it catches a damaged download but authenticates nothing" \
	"warns (on stderr) that a plain-http SHA256SUMS authenticates nothing"
expect_in "$T/out" "^\[install\] /usr/local/bin/etcd reports version $V" "the installed binary reports $V"
expect_in "$T/out" '^\[certs\] Generating "etcd/ca" certificate and key' "certs phase in kubeadm's voice"
expect_in "$T/out" '^\[etcd\] Write /etc/etcd/etcd.env \(mode 0640\)' "writes the environment"
expect_in "$T/out" '^\[wait\] The local etcd member is healthy' "waits for health"
expect_in "$T/out" "etcdpilot join https://$A1:2379 --mode systemd" "prints the join command"
cmp -s "$CACHE/$NAME.tar.gz" "$REL/$NAME.tar.gz" || fail "the cache holds the verified tarball"
pass "the cache holds the verified tarball"
[[ -e $CACHE/$NAME.tar.gz.ep-0123456789abcdef ]] && fail "a killed install's partial download is swept"
expect_eq "$(ls "$CACHE" | sort | tr '\n' ' ')" "$NAME.tar.gz $NAME.tar.gz.sha256 " \
	"a killed install's partial download is swept; the cache holds the tarball and its digest"
expect_eq "$(cat "$CACHE/$NAME.tar.gz.sha256")" "$SUM  $NAME.tar.gz" "and the digest it was verified against"
cmp -s "$R1/usr/local/bin/etcd" /usr/bin/etcd || fail "etcd is installed"
pass "etcd is installed"
expect_eq "$(stat -c %a "$R1/usr/local/bin/etcd") $(stat -c %a "$R1/usr/local/bin/etcdctl")" "755 755" "binaries mode 0755"
expect_eq "$(stat -c %a "$R1/etc/systemd/system/etcd.service")" 644 "unit mode 0644"
expect_eq "$(stat -c %a "$R1/etc/etcd/etcd.env")" 640 "environment mode 0640"
expect_eq "$(stat -c %a "$R1/usr/local/bin/etcdctl.sh")" 755 "wrapper mode 0755"
expect_eq "$(stat -c %a "$R1/var/lib/etcd")" 700 "data directory mode 0700"
[[ -d $R1/var/lib/etcd/member ]] || fail "etcd wrote its data into the node's data directory"
pass "etcd wrote its data into the node's data directory"
expect_in "$R1/run/systemd-standin/etcd.service/log" 'is ready \(READY=1\)' "etcd signalled READY=1 (Type=notify)"

run "$STANDIN" --root "$R1" is-active etcd.service
expect_rc 0 "systemctl is-active etcd.service"
MAIN=$(cat "$R1/run/systemd-standin/etcd.service/main.pid")
expect_eq "$(stat -Lc %d:%i "/proc/$MAIN/exe")" "$(stat -c %d:%i "$R1/usr/local/bin/etcd")" \
	"the running etcd is the installed binary"
tr '\0' '\n' <"/proc/$MAIN/environ" >"$T/environ"
expect_in "$T/environ" "^ETCD_ADVERTISE_CLIENT_URLS=https://$A1:2379$" "etcd runs with the environment file"
expect_in "$T/environ" '^NOTIFY_SOCKET=/run/systemd-standin/etcd.service/notify$' "and a NOTIFY_SOCKET"

# The member works, with the certificates etcdctl.env names (node paths under the root).
ctl_env() { sed -n "s/^$1=//p" "$R1/etc/etcd/etcdctl.env"; }
expect_eq "$(ctl_env ETCDCTL_ENDPOINTS)" "https://127.0.0.1:2379" "etcdctl.env names the local endpoint"
run in_ns "$NS1" etcdctl --endpoints "https://$A1:2379" --cacert "$R1$(ctl_env ETCDCTL_CACERT)" \
	--cert "$R1$(ctl_env ETCDCTL_CERT)" --key "$R1$(ctl_env ETCDCTL_KEY)" put /t40 ok
expect_rc 0 "etcdctl writes through the advertise address with the healthcheck-client cert"

# systemd-analyze verify says nothing about the unit: ExecStart= must exist
# for it, so the node's /usr/local/bin is bound over the host's in a private
# mount namespace while it runs.
if command -v systemd-analyze >/dev/null; then
	verify() { unshare -m sh -c 'mount --make-rprivate / && mount --bind "$1/usr/local/bin" /usr/local/bin && systemd-analyze verify "$2"' sh "$@"; }
	run verify "$R1" "$R1/etc/systemd/system/etcd.service"
	expect_rc 0 "systemd-analyze verify accepts etcd.service"
	expect_eq "$(cat "$T/out" "$T/err")" "" "and prints nothing"
	sed 's/^Type=notify$/Type=notifyy/' "$R1/etc/systemd/system/etcd.service" >"$T/broken.service"
	run verify "$R1" "$T/broken.service"
	expect_in "$T/err" "Failed to parse service type" "while it does complain about a broken unit"
else
	fail "systemd-analyze is not installed (hack/deps.sh installs systemd)"
fi

# A re-run changes nothing and needs no network at all, not even SHA256SUMS:
# the cached archive is re-verified against the digest recorded beside it.
# The release server is stopped for it.
before=$(tree_digest "$R1/etc")$(tree_digest "$R1/usr")$(tree_digest "$R1/var/cache")
kill "$(cat "$T/http.pid")"
wait_for 10 sh -c "! ip netns exec '$NS1' curl -s 'http://127.0.0.1:$PORT/' >/dev/null" ||
	fail "the release server is gone"
run in_ns "$NS1" "$EP" --root "$R1" init --mode systemd "${F1[@]}" --release-url "http://127.0.0.1:$PORT/"
expect_rc 0 "a second init with the same settings succeeds, with the release server down"
expect_in "$T/out" 'Nothing to do: .* nothing was changed' "and says it changed nothing"
expect_in "$T/out" "^\[install\] Using the cached /var/cache/etcdpilot/etcd/v$V/$NAME.tar.gz \(sha256 verified: the digest recorded when it was verified\)" \
	"the cached archive is re-verified against its recorded digest and used"
expect_not_in "$T/out" 'Run systemctl enable' "no systemctl enable"
expect_eq "$(tree_digest "$R1/etc")$(tree_digest "$R1/usr")$(tree_digest "$R1/var/cache")" "$before" \
	"certs, unit, environment, binaries and cache are untouched"
expect_eq "$(cat "$R1/run/systemd-standin/etcd.service/main.pid")" "$MAIN" "etcd was not restarted"
expect_eq "$(grep -c "GET /$NAME.tar.gz" "$T/http.log")" 1 "the tarball was downloaded once in all"

# --dry-run on this healthy node predicts what a real run does: nothing.  It
# looks at the same things (the cache, the binaries, the files, is-active).
run in_ns "$NS1" "$EP" --root "$R1" init --mode systemd --dry-run "${F1[@]}" --release-url "http://127.0.0.1:$PORT/"
expect_rc 0 "--dry-run on the healthy node"
expect_not_in "$T/out" 'Would (download|install|run|write|create|change)' "predicts no download, install, write or systemctl"
expect_in "$T/out" "^\[install\] etcd $V is already installed in /usr/local/bin" "finds etcd installed"
expect_in "$T/out" '^\[dryrun\] Nothing would change' "and says nothing would change"
expect_eq "$(tree_digest "$R1/etc")$(tree_digest "$R1/usr")$(tree_digest "$R1/var/cache")" "$before" \
	"and changes nothing"

# Repairing etcdctl.sh and etcdctl.env alone is no reason to restart etcd.
rm "$R1/usr/local/bin/etcdctl.sh" "$R1/etc/etcd/etcdctl.env"
run in_ns "$NS1" "$EP" --root "$R1" init --mode systemd "${F1[@]}" --release-url "http://127.0.0.1:$PORT/"
expect_rc 0 "a re-run repairs etcdctl.sh and etcdctl.env"
expect_in "$T/out" '^\[etcd\] Write /usr/local/bin/etcdctl.sh \(mode 0755\)' "writes etcdctl.sh"
expect_in "$T/out" '^\[etcd\] Write /etc/etcd/etcdctl.env \(mode 0640\)' "writes etcdctl.env"
expect_not_in "$T/out" "Run systemctl (restart|enable|daemon-reload)" "runs no restart, enable or daemon-reload"
expect_in "$T/out" '^Repaired: .* etcd was not restarted' "and says etcd was not restarted"
expect_eq "$(cat "$R1/run/systemd-standin/etcd.service/main.pid")" "$MAIN" "etcd kept running (same pid)"

# Only a mode that differs (chmod 644 etcd.env, 700 etcd) is fixed, and said, not refused.
chmod 644 "$R1/etc/etcd/etcd.env"
chmod 700 "$R1/usr/local/bin/etcd"
run in_ns "$NS1" "$EP" --root "$R1" init --mode systemd "${F1[@]}" --release-url "http://127.0.0.1:$PORT/"
expect_rc 0 "a re-run with only file modes off"
expect_in "$T/out" '^\[etcd\] Set the mode of /etc/etcd/etcd.env to 0640: it is 0644' "fixes the env file's mode and says so"
expect_in "$T/out" '^\[install\] Changed the mode of /usr/local/bin/etcd from 0700 to 0755' "fixes the binary's mode and says so"
expect_eq "$(stat -c %a "$R1/etc/etcd/etcd.env") $(stat -c %a "$R1/usr/local/bin/etcd")" "640 755" "modes are 0640 and 0755 again"
expect_not_in "$T/out" "Run systemctl (restart|enable|daemon-reload)" "without restarting etcd"
expect_eq "$(cat "$R1/run/systemd-standin/etcd.service/main.pid")" "$MAIN" "etcd kept running (same pid)"

# etcd.env removed under the running member: its data may well be this member's.
cp -p "$R1/etc/etcd/etcd.env" "$T/etcd.env.saved"
rm "$R1/etc/etcd/etcd.env"
before=$(tree_digest "$R1/etc")$(tree_digest "$R1/usr")
run in_ns "$NS1" "$EP" --root "$R1" init --mode systemd "${F1[@]}" --release-url "http://127.0.0.1:$PORT/"
expect_rc 1 "a re-run without etcd.env is refused"
expect_in "$T/err" "the data directory '/var/lib/etcd' .* is not empty: it holds etcd data, which may be this member's own: /etc/systemd/system/etcd.service.* in place but its environment file /etc/etcd/etcd.env is missing; nothing was changed: restore /etc/etcd/etcd.env with the settings it was created with .*render unit.* or run .etcdpilot reset." \
	"says the data may be this member's and how to proceed"
expect_not_in "$T/err" "another member's data" "without calling it another member's"
expect_eq "$(tree_digest "$R1/etc")$(tree_digest "$R1/usr")" "$before" "and changes nothing"
cp -p "$T/etcd.env.saved" "$R1/etc/etcd/etcd.env"
run in_ns "$NS1" "$EP" --root "$R1" init --mode systemd "${F1[@]}" --release-url "http://127.0.0.1:$PORT/"
expect_rc 0 "with etcd.env restored, a re-run"
expect_in "$T/out" 'Nothing to do: .* nothing was changed' "changes nothing"
expect_eq "$(cat "$R1/run/systemd-standin/etcd.service/main.pid")" "$MAIN" "etcd kept running throughout (same pid)"

# etcd.env in place and as written: the member is this one, a missing unit is written again.
rm "$R1/etc/systemd/system/etcd.service"
run in_ns "$NS1" "$EP" --root "$R1" init --mode systemd "${F1[@]}" --release-url "http://127.0.0.1:$PORT/"
expect_rc 0 "a re-run without etcd.service"
expect_in "$T/out" '^\[preflight\] /etc/etcd/etcd.env is in place and up to date; /etc/systemd/system/etcd.service is missing and will be written again' \
	"says the unit will be written again"
expect_in "$T/out" "^\[start\] Run systemctl daemon-reload" "reloads the new unit"
expect_in "$T/out" '^\[wait\] The local etcd member is healthy' "and the member is healthy"
expect_eq "$(stat -c %a "$R1/etc/systemd/system/etcd.service")" 644 "the unit is back (0644)"

run in_ns "$NS1" "$EP" render unit "${F1[@]}" --release-url "file://$REL/$NAME.tar.gz"
expect_rc 0 "render unit"
awk '/^# \/etc\/etcd\/etcd.env$/{p=1;next} /^$/{p=0} p' "$T/out" >"$T/env"
cmp -s "$T/env" "$R1/etc/etcd/etcd.env" || fail "render unit prints the environment on disk"
pass "render unit prints the environment on disk"

# Node 2: the same release as file:// (the tarball's own URL, SHA256SUMS
# beside it), with an extraEnvs value that needs every kind of quoting: what
# etcdpilot writes must reach etcd unchanged through the stand-in's own
# reading of systemd's rules.
cat >"$T/n2.yaml" <<'EOF'
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  local:
    extraEnvs:
      - name: T40_QUOTING
        value: '  padded "q" $HOME \x `y` it''s a#b;c  '
EOF
run in_ns "$NS2" "$EP" --root "$R2" init --mode systemd --name n2 --advertise-address "$A2" \
	--key-type ecdsa-p256 --timeout 60s --release-url "file://$REL/$NAME.tar.gz" --config "$T/n2.yaml"
expect_rc 0 "init --mode systemd from file:// brings up a healthy member"
expect_in "$T/out" "^\[install\] Expecting sha256 $SUM for $NAME.tar.gz \(from file://$REL/SHA256SUMS\)" \
	"the file:// tarball is verified against the SHA256SUMS beside it"
run in_ns "$NS2" etcdctl --endpoints "https://$A2:2379" \
	--cacert "$R2/etc/kubernetes/pki/etcd/ca.crt" --cert "$R2/etc/kubernetes/pki/etcd/healthcheck-client.crt" \
	--key "$R2/etc/kubernetes/pki/etcd/healthcheck-client.key" endpoint health
expect_rc 0 "etcdctl finds member n2 healthy"
tr '\0' '\n' <"/proc/$(cat "$R2/run/systemd-standin/etcd.service/main.pid")/environ" >"$T/environ2"
grep -Fxq -- 'T40_QUOTING=  padded "q" $HOME \x `y` it'"'"'s a#b;c  ' "$T/environ2" ||
	fail "an extraEnvs value with quotes, \$, \\, \`, # and padding reaches etcd unchanged"
pass "an extraEnvs value with quotes, \$, \\, \`, # and padding reaches etcd unchanged"

# stop really stops it.
"$STANDIN" --root "$R2" stop etcd.service
run "$STANDIN" --root "$R2" is-active etcd.service
expect_rc 3 "after stop, is-active fails"
expect_in "$T/out" '^inactive$' "and says inactive"

# The stand-in is honest where it matters for the tests above: the unit it
# runs is the one loaded at daemon-reload (a missing daemon-reload shows),
# the environment file is read at every start by systemd.exec(5)'s rules
# (not etcdpilot's), and no dead pid is shown during a restart wait.
R3=$T/n3
mkdir -p "$R3/etc/systemd/system" "$R3/etc/t"
on_exit "stop_unit '$R3' t.service"
t_unit() {
	printf '[Service]\nType=simple\nEnvironmentFile=/etc/t/t.env\nExecStart=/bin/sleep %s\nRestart=always\nRestartSec=2s\n' \
		"$1" >"$R3/etc/systemd/system/t.service"
}
t_main() { cat "$R3/run/systemd-standin/t.service/main.pid"; }
t_environ() { tr '\0' '\n' <"/proc/$(t_main)/environ"; }
t_unit 1001
cat >"$T/t.env" <<'EOF'
# systemd.exec(5), EnvironmentFile=
T_ONE=first
T_MID=a"b c"
T_AFTER="x" y
T_DQ="q \"w\" \$x \\ \n"
T_ESC=a\ b\\c
export T_EXPORT=1
T_CONT=one\
two
NOEQUALS
T_TRAIL=v   
T_SQ='it s'  
EOF
cp "$T/t.env" "$R3/etc/t/t.env"
run "$STANDIN" --root "$R3" daemon-reload
expect_rc 0 "stand-in: daemon-reload"
run "$STANDIN" --root "$R3" start t.service
expect_rc 0 "stand-in: start"
expect_eq "$(tr '\0' ' ' <"/proc/$(t_main)/cmdline")" "/bin/sleep 1001 " "stand-in: runs the loaded unit"
t_environ >"$T/t.environ"
for want in 'T_ONE=first' 'T_MID=a"b c"' 'T_AFTER=xy' 'T_DQ=q "w" $x \ \n' 'T_ESC=a b\c' 'T_CONT=onetwo' \
	'T_TRAIL=v' 'T_SQ=it s'; do
	grep -Fxq -- "$want" "$T/t.environ" || fail "stand-in: EnvironmentFile gives $want"
	pass "stand-in: EnvironmentFile gives $want"
done
expect_not_in "$T/t.environ" '^T_EXPORT=|export|NOEQUALS' "stand-in: 'export X=' and a line without = are ignored, as by systemd"

# The unit changes on disk without daemon-reload: restart still runs the loaded one.
t_unit 1002
sed -i 's/^T_ONE=first$/T_ONE=second/' "$R3/etc/t/t.env"
run "$STANDIN" --root "$R3" restart t.service
expect_rc 0 "stand-in: restart without daemon-reload"
expect_in "$T/err" "changed on disk. Run 'systemctl daemon-reload' to reload units" "stand-in: warns as systemctl does"
expect_eq "$(tr '\0' ' ' <"/proc/$(t_main)/cmdline")" "/bin/sleep 1001 " "stand-in: and runs the unit as loaded"
t_environ >"$T/t.environ"
expect_in "$T/t.environ" '^T_ONE=second$' "stand-in: the environment file is read at every start"
run "$STANDIN" --root "$R3" daemon-reload
run "$STANDIN" --root "$R3" restart t.service
expect_rc 0 "stand-in: restart after daemon-reload"
expect_not_in "$T/err" "changed on disk" "stand-in: no warning once reloaded"
expect_eq "$(tr '\0' ' ' <"/proc/$(t_main)/cmdline")" "/bin/sleep 1002 " "stand-in: runs the reloaded unit"

# Killed: during RestartSec main.pid says 0 (no main process), then the new one.
OLDPID=$(t_main)
kill -KILL "$OLDPID"
wait_for 5 sh -c "[ \"\$(cat '$R3/run/systemd-standin/t.service/main.pid')\" = 0 ]" ||
	fail "stand-in: main.pid is cleared while the restart waits"
pass "stand-in: main.pid is cleared while the restart waits"
run "$STANDIN" --root "$R3" is-active t.service
expect_in "$T/out" '^activating$' "stand-in: and the unit is activating"
wait_for 10 sh -c "p=\$(cat '$R3/run/systemd-standin/t.service/main.pid'); [ \"\$p\" != 0 ] && [ \"\$p\" != $OLDPID ]" ||
	fail "stand-in: a new main process after RestartSec"
pass "stand-in: a new main process after RestartSec"
stop_unit "$R3" t.service
