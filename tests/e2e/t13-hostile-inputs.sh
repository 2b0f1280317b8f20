#!/usr/bin/env bash
# t13-hostile-inputs: inputs that must be refused at once (issue 10, items 1
# and 9): an empty --root (an unset shell variable) is never the real root;
# a --root that is a file or a symlink loop, and 'member remove ""', are
# usage errors (exit 2); a FIFO given as --config, --cacert or --key, or lying
# at the manifest's or ca.crt's place, is refused without blocking and the
# message says what it is.  Every command runs under 'timeout' so that a
# hang shows as exit 124 instead of hanging the suite.
. "$(dirname "$0")/lib.sh"

TO=(timeout 20)
S=$T/sandbox # node paths given absolute: with --root "" they would be real host paths
NODE=(--name cp1 --advertise-address 127.0.13.1 --key-type ecdsa-p256)

# --- --root "" is refused, before anything is read or written -------------------
run "${TO[@]}" "$EP" certs generate --root "" "${NODE[@]}" --cert-dir "$S/pki"
expect_rc 2 "certs generate --root '' is a usage error"
expect_in "$T/err" "an empty --root is refused: an unset variable must never mean the real node; pass --root / to work on the real root" "the error says why and what to pass instead"
[[ ! -e $S ]] || fail "certs generate --root '' wrote $(find "$S" | head -3)"
pass "and wrote nothing on the host"
run "${TO[@]}" "$EP" certs generate --root "" "${NODE[@]}" --cert-dir "$S/pki" --dry-run
expect_rc 2 "certs generate --root '' --dry-run is a usage error too"
run "${TO[@]}" unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$EP" init --root "" \
	"${NODE[@]}" --etcd-version 3.5.21 --cert-dir "$S/pki" --manifest-dir "$S/manifests" \
	--data-dir "$S/data" --timeout 1s
expect_rc 2 "init --root '' is a usage error"
[[ ! -e $S ]] || fail "init --root '' wrote $(find "$S" | head -3)"
pass "and wrote nothing on the host"
run "${TO[@]}" "$EP" --root= certs check-expiration --cert-dir "$S/pki"
expect_rc 2 "--root= (empty, in one word) is refused the same way"

# --- --root that cannot be a root ------------------------------------------------
: >"$T/file"
run "${TO[@]}" "$EP" certs generate --root "$T/file" "${NODE[@]}"
expect_rc 2 "--root naming a file is a usage error"
expect_in "$T/err" "--root '$T/file' is not a directory \(it is a regular file\)" "and says what it is"
ln -s loop2 "$T/loop1" && ln -s loop1 "$T/loop2"
run "${TO[@]}" "$EP" certs generate --root "$T/loop1" "${NODE[@]}"
expect_rc 2 "--root naming a symlink loop is a usage error"
expect_in "$T/err" "--root '$T/loop1': too many levels of symbolic links" "and says so"
run "${TO[@]}" "$EP" certs generate --root "$T/new/root" "${NODE[@]}"
expect_rc 0 "a --root that does not exist yet is created, as before"

# --- member remove "" -----------------------------------------------------------
run "${TO[@]}" "$EP" member remove "" --endpoints https://127.0.0.1:1
expect_rc 2 "member remove '' is a usage error"
expect_in "$T/err" "an empty member NAME\|ID names no member" "and says so"

# --- FIFOs: refused at once, named ----------------------------------------------
mkfifo "$T/fifo"
run "${TO[@]}" "$EP" config print --config "$T/fifo"
expect_rc 2 "--config FIFO is refused (not a hang)"
expect_in "$T/err" "$T/fifo: is a FIFO, not a regular file" "the error names the FIFO"
P=$T/new/root/etc/kubernetes/pki
for flag in --cacert --key; do
	args=(--cacert "$P/etcd/ca.crt" --cert "$P/etcd/healthcheck-client.crt" --key "$P/etcd/healthcheck-client.key")
	[[ $flag == --cacert ]] && args[1]=$T/fifo || args[5]=$T/fifo
	run "${TO[@]}" "$EP" health --endpoints https://127.0.0.1:1 "${args[@]}"
	expect_rc 1 "health $flag FIFO fails at once (not a hang)"
	expect_in "$T/err" "refusing to read '$T/fifo': it is a FIFO, not a regular file" "$flag FIFO: the error names it"
done

F=$T/fifo-root
mkdir -p "$F/etc/kubernetes/manifests" && mkfifo "$F/etc/kubernetes/manifests/etcd.yaml"
run "${TO[@]}" unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$EP" init --root "$F" \
	"${NODE[@]}" --etcd-version 3.5.21 --dry-run
expect_rc 1 "a FIFO at manifests/etcd.yaml is refused (not a hang)"
expect_in "$T/err" "refusing to read '$F/etc/kubernetes/manifests/etcd.yaml': it is a FIFO, not a regular file" "the error names it"
mkdir -p "$F/etc/kubernetes/pki/etcd" && mkfifo "$F/etc/kubernetes/pki/etcd/ca.crt"
run "${TO[@]}" "$EP" certs generate --root "$F" "${NODE[@]}"
expect_rc 1 "a FIFO at ca.crt is refused by certs generate (not a hang)"
expect_in "$T/err" "'$F/etc/kubernetes/pki/etcd/ca.crt' exists and is not a regular file \(it is a FIFO\)" "the error names it"
run "${TO[@]}" "$EP" certs check-expiration --root "$F"
expect_rc 1 "and by check-expiration"
run "${TO[@]}" "$EP" health --root "$F" --endpoints https://127.0.0.1:1
expect_rc 1 "and by the client, which reads the node's ca.crt under --root (not a hang)"
expect_in "$T/err" "refusing to read '$F/etc/kubernetes/pki/etcd/ca.crt': it is a FIFO, not a regular file" "the error names it"
