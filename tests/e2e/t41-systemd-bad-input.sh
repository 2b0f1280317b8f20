#!/usr/bin/env bash
# t41: init --mode systemd refuses every bad binary source with a clear
# error and leaves the node as it was (the previously installed etcd
# untouched, proven by digests): a wrong --etcd-sha256, no SHA256SUMS, a
# SHA256SUMS without the tarball, a truncated download, HTTP 404 (no retry)
# and 500 (retried, then given up), hostile archive entries ("../x",
# absolute paths, links leading out or through links), a corrupt cache with
# the server gone (with and without a recorded digest), and a tarball whose
# etcd reports another version (checked before it goes in place); a refused
# release is never cached.
. "$(dirname "$0")/lib.sh"

export ETCDPILOT_SYSTEMCTL=$SRC/hack/systemctl-standin
V=3.4.23
NAME=etcd-v$V-linux-amd64
[[ $(uname -m) == x86_64 ]] || { echo "t41: needs an x86_64 machine"; exit 1; }

in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

NS=ep-t41-$$
ADDR=10.240.2.2
ip netns add "$NS" || fail "cannot create network namespace $NS (root needed)"
on_exit "ip netns del '$NS'"
ip -n "$NS" link set lo up
ip -n "$NS" link add v0 type veth peer name v1
ip -n "$NS" link set v0 up
ip -n "$NS" link set v1 up
ip -n "$NS" addr add "$ADDR/24" dev v0

# release DIR VERSION [SUMS]: DIR/NAME.tar.gz plus SHA256SUMS unless SUMS is
# "nosums".  Nothing in this scenario gets as far as running etcd for real, so
# the binaries are small scripts that report VERSION (quick to pack and hash).
release() {
	local dir=$1 ver=$2 sums=${3:-sums}
	mkdir -p "$dir/src/$NAME"
	printf '#!/bin/sh\necho "etcd Version: %s"\necho "Git SHA: fake"\n' "$ver" >"$dir/src/$NAME/etcd"
	printf '#!/bin/sh\necho "etcdctl version: %s"\n' "$ver" >"$dir/src/$NAME/etcdctl"
	chmod 755 "$dir/src/$NAME/etcd" "$dir/src/$NAME/etcdctl"
	echo readme >"$dir/src/$NAME/README.md"
	tar -C "$dir/src" -czf "$dir/$NAME.tar.gz" "$NAME"
	rm -rf "$dir/src"
	[[ $sums == nosums ]] || (cd "$dir" && sha256sum "$NAME.tar.gz" >SHA256SUMS)
}

# hostile DIR KIND: a tarball with good binaries plus one escaping entry, and its SHA256SUMS.
hostile() {
	mkdir -p "$1"
	python3 - "$1/$NAME.tar.gz" "$2" "$NAME" <<'EOF'
import io, sys, tarfile
out, kind, top = sys.argv[1:4]
def add(t, name, data=b"", typ=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.mode = typ, link, 0o755
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    t.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as t:
    add(t, top + "/etcd", b"#!/bin/sh\necho 'etcd Version: 3.4.23'\n")
    add(t, top + "/etcdctl", b"#!/bin/sh\necho 'etcdctl version: 3.4.23'\n")
    if kind == "dotdot":
        add(t, top + "/../x", b"escaped\n")
    elif kind == "abs":
        add(t, "/tmp/etcdpilot-t41-abs", b"escaped\n")
    elif kind == "symlink":
        add(t, top + "/lib", typ=tarfile.SYMTYPE, link="/etc")
    elif kind == "symlink-up":
        add(t, top + "/up", typ=tarfile.SYMTYPE, link="../../x")
    elif kind == "symlink-via-dot":
        # lexically inside (d/../.. from the top directory is the archive
        # root), really outside: d is the top directory itself
        add(t, top + "/d", typ=tarfile.SYMTYPE, link=".")
        add(t, top + "/l", typ=tarfile.SYMTYPE, link="d/../..")
    elif kind == "hardlink":
        add(t, top + "/pw", typ=tarfile.LNKTYPE, link="/etc/passwd")
EOF
	(cd "$1" && sha256sum "$NAME.tar.gz" >SHA256SUMS)
}

REL=$T/rel
release "$REL/ok" $V
GOOD=$(cut -d' ' -f1 "$REL/ok/SHA256SUMS")
release "$REL/nosums" $V nosums
release "$REL/othersums" $V
sed -i "s/$NAME/etcd-v$V-linux-arm64/" "$REL/othersums/SHA256SUMS"
release "$REL/fakever" 3.4.99

# The server: /ok/, /404/, /500/ and /trunc/ all serve SHA256SUMS from ok/;
# the tarball is whole, missing, a server error, or cut off half-way.
cat >"$T/server.py" <<'EOF'
import http.server, os, sys
root, port, log = sys.argv[1], int(sys.argv[2]), open(sys.argv[3], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        mode, _, name = self.path.strip("/").partition("/")
        log.write("GET %s\n" % self.path)
        try:
            data = open(os.path.join(root, "ok", os.path.basename(name)), "rb").read()
        except OSError:
            data = None
        if data is None or (name != "SHA256SUMS" and mode == "404"):
            self.send_error(404)
            return
        if name != "SHA256SUMS" and mode == "500":
            self.send_error(500)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if name != "SHA256SUMS" and mode == "trunc":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
PORT=$(in_ns "$NS" python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
in_ns "$NS" sh -c 'echo $$ >"$1"; shift; exec python3 "$@"' sh "$T/server.pid" \
	"$T/server.py" "$REL" "$PORT" "$T/server.log" 2>"$T/server.err" &
on_exit "kill \$(cat '$T/server.pid')"
wait_for 10 in_ns "$NS" curl -sf "http://127.0.0.1:$PORT/ok/SHA256SUMS" || fail "the test server answers"
U=http://127.0.0.1:$PORT

# The node has an etcd installed already (3.4.22); nothing below may touch it.
R=$T/node
mkdir -p "$R/usr/local/bin"
printf '#!/bin/sh\necho "etcd Version: 3.4.22"\n' >"$R/usr/local/bin/etcd"
printf '#!/bin/sh\necho "etcdctl version: 3.4.22"\n' >"$R/usr/local/bin/etcdctl"
chmod 755 "$R/usr/local/bin/etcd" "$R/usr/local/bin/etcdctl"
OLD=$(sha256sum "$R/usr/local/bin/etcd" | cut -d' ' -f1)
BEFORE=$(tree_digest "$R")
FLAGS=(--name n1 --advertise-address "$ADDR" --key-type ecdsa-p256 --timeout 20s)

init() { run in_ns "$NS" "$EP" --root "$R" init --mode systemd "${FLAGS[@]}" "$@"; }
untouched() {
	expect_eq "$(tree_digest "$R")" "$BEFORE" "$1: the node is untouched"
}
# A refused release is never cached: only one that passed every check is.
no_cache() {
	expect_eq "$(find "$R/var/cache" -type f 2>/dev/null)" "" "$1: nothing was cached"
}

init --release-url "$U/ok/" --etcd-version $V --etcd-sha256 "$(printf '0%.0s' {1..64})"
expect_rc 1 "wrong --etcd-sha256"
expect_in "$T/err" "checksum mismatch for $U/ok/$NAME.tar.gz: sha256 $GOOD, expected 0{64}; nothing was installed" \
	"says which digest it got and which it expected"
untouched "wrong checksum"

init --release-url "file://$REL/nosums/$NAME.tar.gz"
expect_rc 1 "no SHA256SUMS beside the tarball"
expect_in "$T/err" "no checksum for $NAME.tar.gz: file://$REL/nosums/SHA256SUMS: no such file; pass --etcd-sha256 HEX" \
	"says the checksum is missing and how to give one"
untouched "missing checksum"

init --release-url "file://$REL/othersums/$NAME.tar.gz"
expect_rc 1 "SHA256SUMS without the tarball"
expect_in "$T/err" "SHA256SUMS has no entry for '$NAME.tar.gz'" "says the entry is missing"
untouched "missing entry"

init --dry-run --release-url "file://$REL/nosums/$NAME.tar.gz" --insecure-skip-checksum
expect_rc 0 "--insecure-skip-checksum --dry-run"
expect_in "$T/out" "NOT VERIFIED: --insecure-skip-checksum" "says loudly what it skips"
expect_in "$T/err" "WARNING: --insecure-skip-checksum: NOT VERIFYING" "and warns on stderr, dry run or not"
untouched "dry run"

init --release-url "$U/trunc/" --etcd-version $V
expect_rc 1 "a download cut off half-way"
expect_in "$T/err" "after 4 attempts: $U/trunc/$NAME.tar.gz: transfer closed with [0-9]+ bytes remaining" \
	"retried, then says the transfer was cut off"
expect_eq "$(grep -c "GET /trunc/$NAME.tar.gz" "$T/server.log")" 4 "4 attempts in all"
untouched "truncated download"

init --release-url "$U/404/" --etcd-version $V --etcd-sha256 "$GOOD"
expect_rc 1 "HTTP 404"
expect_in "$T/err" "$U/404/$NAME.tar.gz: HTTP 404 \(not found\)" "says 404"
expect_eq "$(grep -c "GET /404/$NAME.tar.gz" "$T/server.log")" 1 "a 404 is not retried"
untouched "404"

init --release-url "$U/500/" --etcd-version $V
expect_rc 1 "HTTP 500"
expect_in "$T/err" "after 4 attempts: $U/500/$NAME.tar.gz: HTTP 500" "retried, then says 500"
expect_eq "$(grep -c "GET /500/$NAME.tar.gz" "$T/server.log")" 4 "a 500 is retried (4 attempts)"
untouched "500"

for kind in dotdot abs symlink symlink-up symlink-via-dot hardlink; do
	hostile "$REL/$kind" "$kind"
	init --release-url "file://$REL/$kind/$NAME.tar.gz"
	expect_rc 1 "hostile archive ($kind)"
	case $kind in
	dotdot) want="archive entry '$NAME/../x': '..' in its path" ;;
	abs) want="archive entry '/tmp/etcdpilot-t41-abs': absolute path" ;;
	symlink) want="archive entry '$NAME/lib' -> /etc: symbolic link to an absolute path" ;;
	symlink-up) want="archive entry '$NAME/up' -> ../../x: symbolic link with '..' in its target" ;;
	symlink-via-dot) want="archive entry '$NAME/l' -> d/../..: symbolic link with '..' in its target" ;;
	hardlink) want="archive entry '$NAME/pw' -> /etc/passwd: hard link to an absolute path" ;;
	esac
	expect_in "$T/err" "$want; refusing the whole archive" "names the entry ($kind)"
	expect_eq "$(sha256sum "$R/usr/local/bin/etcd" | cut -d' ' -f1)" "$OLD" "the old etcd is in place ($kind)"
	no_cache "hostile archive ($kind)"
done
[[ ! -e $REL/x && ! -e $REL/dotdot/x && ! -e /tmp/etcdpilot-t41-abs ]] || fail "nothing escaped"
pass "nothing escaped"

# A corrupt cached archive is never trusted, not even with the server gone.
CACHE=$R/var/cache/etcdpilot/etcd/v$V
mkdir -p "$CACHE"
head -c 100 "$REL/ok/$NAME.tar.gz" >"$CACHE/$NAME.tar.gz"
BEFORE=$(tree_digest "$R")
DEAD=$(in_ns "$NS" python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
init --release-url "http://127.0.0.1:$DEAD/" --etcd-version $V --etcd-sha256 "$GOOD"
expect_rc 1 "corrupt cache, server unreachable"
expect_in "$T/out" "The cached /var/cache/etcdpilot/etcd/v$V/$NAME.tar.gz does not match its checksum" \
	"the corrupt cache is noticed"
expect_in "$T/err" "Failed to connect to 127.0.0.1 port $DEAD" "and the download it needs fails"
untouched "corrupt cache"

# Not even when a digest recorded beside it vouches for what it should be.
echo "$GOOD  $NAME.tar.gz" >"$CACHE/$NAME.tar.gz.sha256"
BEFORE=$(tree_digest "$R")
init --release-url "http://127.0.0.1:$DEAD/" --etcd-version $V
expect_rc 1 "corrupt cache with a recorded digest, server unreachable"
expect_in "$T/out" "The cached /var/cache/etcdpilot/etcd/v$V/$NAME.tar.gz does not match its checksum" \
	"the corrupt cache is noticed despite its record"
expect_in "$T/err" "fetching the checksums: .*Failed to connect to 127.0.0.1 port $DEAD" \
	"and it wants SHA256SUMS again, which it cannot get"
untouched "corrupt cache with a record"

# The binary says another version than the tarball: checked beside the old
# one before it would be renamed into place, so the old one never left.
rm -rf "$R/var"
BIN_BEFORE=$(tree_digest "$R/usr/local/bin")
INODES=$(stat -c %i "$R/usr/local/bin/etcd" "$R/usr/local/bin/etcdctl")
init --release-url "file://$REL/fakever/$NAME.tar.gz"
expect_rc 1 "a tarball whose etcd reports another version"
expect_in "$T/err" "etcd from file://$REL/fakever/$NAME.tar.gz reports version 3.4.99, expected $V; nothing was installed, the previous binaries are untouched in /usr/local/bin" \
	"says which version it found and that nothing was installed"
expect_eq "$(tree_digest "$R/usr/local/bin")" "$BIN_BEFORE" "the previous binaries are there, byte for byte and mode, no temp file"
expect_eq "$(stat -c %i "$R/usr/local/bin/etcd" "$R/usr/local/bin/etcdctl")" "$INODES" "the very same files (inodes)"
[[ ! -e $R/etc ]] || fail "no unit, environment or certificate was written"
pass "no unit, environment or certificate was written"
no_cache "wrong version"

# On a node without etcd the same refusal does not speak of previous binaries.
E=$T/empty
mkdir -p "$E"
run in_ns "$NS" "$EP" --root "$E" init --mode systemd "${FLAGS[@]}" --release-url "file://$REL/fakever/$NAME.tar.gz"
expect_rc 1 "wrong version on a node without etcd"
expect_in "$T/err" "reports version 3.4.99, expected $V; nothing was installed in /usr/local/bin" "says nothing was installed"
expect_not_in "$T/err" "previous" "and no word of previous binaries"
expect_eq "$(find "$E" -mindepth 1)" "" "and the node root is still empty"

# extraArgs in systemd mode: an env file cannot say what the pod's flags
# say for an empty value (etcd ignores ETCD_X=""), and etcd only warns about
# an unknown ETCD_X and runs: both refused (exit 2) before anything is
# written, the unknown name and a bad value by the real etcd itself, while a
# flag etcd 3.4 takes without listing it in --help passes.
BEFORE=$(tree_digest "$R")
extra_args() {
	printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n      - name: %s\n        value: "%s"\n' "$1" "$2" >"$T/extra.yaml"
}
extra_args snapshot-countt 5000
init --config "$T/extra.yaml" --etcd-binary /usr/bin/etcd
expect_rc 2 "an extraArgs name etcd does not know"
expect_in "$T/err" "etcd $V has no flag '--snapshot-countt'" "names the flag and the etcd version"
untouched "unknown extraArgs name"
extra_args heartbeat-interval soon
init --config "$T/extra.yaml" --etcd-binary /usr/bin/etcd
expect_rc 2 "an extraArgs value etcd cannot parse"
expect_in "$T/err" "etcd $V refuses the extraArgs: invalid value \"soon\" for flag -heartbeat-interval" \
	"quotes etcd's own complaint"
untouched "bad extraArgs value"
extra_args unsafe-no-fsync false
init --config "$T/extra.yaml" --etcd-binary /usr/bin/etcd --dry-run
expect_rc 0 "a flag etcd 3.4 takes but does not list in --help is accepted"
untouched "dry run with unsafe-no-fsync"
extra_args log-level ""
init --config "$T/extra.yaml" --etcd-binary /usr/bin/etcd
expect_rc 2 "an extraArgs entry with an empty value"
expect_in "$T/err" "extraArgs 'log-level' has an empty value: the static pod would pass '--log-level=', but etcd ignores an empty ETCD_LOG_LEVEL in /etc/etcd/etcd.env" \
	"names the entry and says why"
untouched "empty extraArgs value"

# --root with the host's systemctl would drive the host's systemd (reload it,
# maybe restart its etcd.service) for files under the root: refused first.
SAVED_SYSTEMCTL=$ETCDPILOT_SYSTEMCTL
unset ETCDPILOT_SYSTEMCTL
init --release-url "file://$REL/ok/$NAME.tar.gz"
expect_rc 2 "--root without a named systemctl"
expect_in "$T/err" "--root '$R' needs the systemctl named: the host's systemctl cannot manage the units of another root" \
	"says why and what to pass"
untouched "no systemctl named"
for sc in systemctl /usr/bin/systemctl; do
	init --release-url "file://$REL/ok/$NAME.tar.gz" --systemctl "$sc"
	expect_rc 2 "--root with --systemctl $sc"
	expect_in "$T/err" "a real systemctl cannot manage the units of another root" "refused ($sc)"
	untouched "--systemctl $sc"
done
export ETCDPILOT_SYSTEMCTL=$SAVED_SYSTEMCTL

# The real systemctl without a running systemd (no /run/systemd/system: a
# tmpfs hides it in a private mount namespace) is refused before anything is
# written.  As nobody, so that a missing check could not write to / either
# (from a copy of the binary that nobody may run, wherever the build is).
NOBODY=$(mktemp -d /tmp/ep-t41-nobody.XXXXXX)
on_exit "rm -rf '$NOBODY'"
chmod 755 "$NOBODY"
cp "$EP" "$NOBODY/etcdpilot"
run unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs tmpfs /run &&
	exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"' sh \
	env -u ETCDPILOT_SYSTEMCTL "$NOBODY/etcdpilot" init --mode systemd "${FLAGS[@]}" \
	--release-url "file:///nonexistent/$NAME.tar.gz"
expect_rc 1 "the real systemctl where systemd does not run: a failed preflight check"
expect_in "$T/err" "systemd is not running on this host \(no /run/systemd/system\): 'systemctl' cannot start etcd.service here; nothing was changed" \
	"says systemd does not run"
expect_in "$T/err" "^	\[ERROR SystemdRunning\]: " "as kubeadm names a failed check"
# --dry-run there shows the whole plan and says which checks would stop a real run (issue 11 item 6).
# (nobody may not even look into /etc/kubernetes/pki: the certificates go to a directory it may write)
W=$(mktemp -d /tmp/ep-t41-w.XXXXXX)
chmod 1777 "$W"
on_exit "rm -rf '$W'"
run unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs tmpfs /run &&
	exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"' sh \
	env -u ETCDPILOT_SYSTEMCTL "$NOBODY/etcdpilot" init --mode systemd "${FLAGS[@]}" \
	--etcd-binary /usr/bin/etcd --cert-dir "$W/pki" --dry-run
expect_rc 1 "--dry-run where systemd does not run: exit 1"
expect_in "$T/out" "^\[dryrun\] \[start\] Would run systemctl enable --now etcd.service" "but the whole plan is shown"
expect_in "$T/err" "^	\[ERROR SystemdRunning\]: " "with the check that would stop a real run"
expect_in "$T/err" "^	\[ERROR IsPrivilegedUser\]: " "every one of them"
expect_in "$T/err" "a real run would stop at preflight" "and says so"

# An https:// release must not be redirected to plain http:// (which would
# let anyone on the path answer, SHA256SUMS included).  The test CA is made
# trusted in a private mount namespace only.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null ||
	fail "openssl makes a test certificate"
cat /etc/ssl/certs/ca-certificates.crt "$T/tls.crt" >"$T/ca-bundle.crt"
cat >"$T/redirect.py" <<'EOF'
import http.server, ssl, sys
port, target, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
log = open(sys.argv[5], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        log.write("GET %s\n" % self.path)
        mode, _, name = self.path.strip("/").partition("/")
        # /up/X -> https://.../down/X (followed) -> http://.../ok/X (must not be)
        there = target if mode == "down" else "https://127.0.0.1:%d/down/" % port
        self.send_response(302)
        self.send_header("Location", there + name)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(crt, key)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
SPORT=$(in_ns "$NS" python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
in_ns "$NS" sh -c 'echo $$ >"$1"; shift; exec python3 "$@"' sh "$T/redirect.pid" \
	"$T/redirect.py" "$SPORT" "$U/ok/" "$T/tls.crt" "$T/tls.key" "$T/redirect.log" 2>"$T/redirect.err" &
on_exit "kill \$(cat '$T/redirect.pid')"
wait_for 10 in_ns "$NS" curl -s --cacert "$T/tls.crt" -o /dev/null "https://127.0.0.1:$SPORT/x" ||
	fail "the https test server answers"
: >"$T/server.log"
run in_ns "$NS" unshare -m sh -c 'mount --bind "$1" /etc/ssl/certs/ca-certificates.crt && shift && exec "$@"' sh \
	"$T/ca-bundle.crt" "$EP" --root "$R" init --mode systemd "${FLAGS[@]}" --etcd-version $V \
	--release-url "https://127.0.0.1:$SPORT/up/"
expect_rc 1 "an https:// release redirected to http://"
expect_in "$T/redirect.log" "GET /down/SHA256SUMS" "an https -> https redirect is followed"
expect_in "$T/err" "https://127.0.0.1:$SPORT/up/SHA256SUMS: .*[Pp]rotocol .*http" "the one down to http:// is not"
expect_eq "$(cat "$T/server.log")" "" "the plain http server was never asked"
untouched "https redirected to http"

init --release-url "ftp://127.0.0.1/etcd/" --etcd-version $V
expect_rc 2 "an ftp:// release URL is bad usage"
expect_in "$T/err" "'ftp://127.0.0.1/etcd/'.*https://, http:// or file://" "says which schemes work"
