#!/usr/bin/env bash
# t10-certs: etcdpilot certs generate / check-expiration / renew under a
# scratch root: kubeadm's files and modes, a chain openssl verifies, an
# idempotent re-run, kubeadm's table and JSON, renewal that keeps the SANs,
# a dry run that writes nothing (and fails where the real run would),
# taking over a PKI made by the openssl CLI, and refusals (bad keys,
# symlinks, read-only and unreadable directories, a lone CA key) that change
# nothing; concurrent runs that take turns, and failed writes that roll back.
. "$(dirname "$0")/lib.sh"

R=$T/n1
PKI=$R/etc/kubernetes/pki
NODE=(--root "$R" --name cp1 --advertise-address 10.0.0.11)

# --- dry run on an empty root: a plan, no files --------------------------------
run "$EP" certs generate "${NODE[@]}" --key-type ecdsa-p256 --dry-run
expect_rc 0 "dry run succeeds"
expect_in "$T/out" "\[dryrun\] Would write file \"$PKI/etcd/ca.key\" with mode 0600 \(ECDSA-P256" "dry run names the CA key and its mode"
expect_in "$T/out" "Would write file \"$PKI/etcd/server.crt\" with mode 0644 \(certificate CN=cp1, DNS names \[cp1 localhost\] and IPs \[10.0.0.11 127.0.0.1 ::1\]" "dry run shows subject and SANs"
[[ ! -e $R ]] || fail "dry run created $R"
pass "dry run wrote nothing"

# --- concurrent runs on an empty root take turns: one CA, every pair matches ------
pubkey_of() { # FILE: the public key of a certificate or private key, hashed
	case $1 in
	*.crt) openssl x509 -in "$1" -noout -pubkey ;;
	*) openssl pkey -in "$1" -pubout ;;
	esac 2>/dev/null | sha256sum
}
races=0
for round in $(seq 1 15); do
	RR=$T/race$round
	pids=()
	for i in 1 2 3; do
		"$EP" certs generate --root "$RR" --name cp1 --advertise-address 10.0.0.11 \
			--key-type ecdsa-p256 >"$T/race.out.$i" 2>&1 &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do
		wait "$pid" || fail "round $round: a concurrent generate failed: $(cat "$T"/race.out.*)"
	done
	RP=$RR/etc/kubernetes/pki
	for f in etcd/ca etcd/server etcd/peer etcd/healthcheck-client apiserver-etcd-client; do
		[[ $(pubkey_of "$RP/$f.key") == "$(pubkey_of "$RP/$f.crt")" ]] ||
			fail "round $round: $f.key does not match $f.crt"
	done
	openssl verify -CAfile "$RP/etcd/ca.crt" "$RP/etcd/server.crt" "$RP/etcd/peer.crt" \
		"$RP/etcd/healthcheck-client.crt" "$RP/apiserver-etcd-client.crt" >/dev/null 2>&1 ||
		fail "round $round: a leaf is not signed by the CA on disk"
	races=$((races + 1))
	rm -rf "$RR"
done
expect_eq "$races" 15 "15 rounds of 3 concurrent generate runs: one CA, every key matches its certificate"

# --- generate --------------------------------------------------------------------
run "$EP" certs generate "${NODE[@]}" --key-type ecdsa-p256
expect_rc 0 "generate all"
expect_in "$T/out" '^\[certs\] Generating "etcd/ca" certificate and key$' "kubeadm's voice for the CA"
expect_in "$T/out" '^\[certs\] etcd/peer serving cert is signed for DNS names \[cp1 localhost\] and IPs \[10.0.0.11 127.0.0.1 ::1\]$' "peer SAN line"
for f in etcd/ca etcd/server etcd/peer etcd/healthcheck-client apiserver-etcd-client; do
	expect_eq "$(stat -c %a "$PKI/$f.crt")" 644 "$f.crt mode 0644"
	expect_eq "$(stat -c %a "$PKI/$f.key")" 600 "$f.key mode 0600"
done
expect_eq "$(stat -c %a "$PKI/etcd")" 755 "etcd/ dir mode 0755"
expect_eq "$(stat -c %a "$PKI")" 755 "pki/ dir mode 0755"
run openssl verify -CAfile "$PKI/etcd/ca.crt" "$PKI/etcd/server.crt" "$PKI/etcd/peer.crt" \
	"$PKI/etcd/healthcheck-client.crt" "$PKI/apiserver-etcd-client.crt"
expect_rc 0 "openssl verify: every leaf chains to the etcd CA"
run openssl verify -CAfile "$PKI/etcd/ca.crt" -purpose sslserver "$PKI/etcd/server.crt"
expect_rc 0 "server cert is good for TLS servers"
run openssl verify -CAfile "$PKI/etcd/ca.crt" -purpose sslclient "$PKI/apiserver-etcd-client.crt"
expect_rc 0 "apiserver-etcd-client is good for TLS clients"
run openssl verify -CAfile "$PKI/etcd/ca.crt" -purpose sslserver "$PKI/etcd/healthcheck-client.crt"
expect_rc 2 "healthcheck-client is not a server certificate"
expect_eq "$(head -1 "$PKI/etcd/server.key")" "-----BEGIN EC PRIVATE KEY-----" "EC key in SEC1 PEM, as kubeadm writes"

# --- idempotent re-run -------------------------------------------------------
before=$(tree_digest "$R")
run "$EP" certs generate "${NODE[@]}"
expect_rc 0 "re-run succeeds"
expect_in "$T/out" '^\[certs\] Using the existing "etcd/server" certificate and key$' "re-run reuses"
expect_eq "$(tree_digest "$R")" "$before" "re-run changed nothing"

# --- check-expiration ----------------------------------------------------------
run "$EP" certs check-expiration --root "$R"
expect_rc 0 "check-expiration"
expect_in "$T/out" '^CERTIFICATE +EXPIRES +RESIDUAL TIME +CERTIFICATE AUTHORITY +EXTERNALLY MANAGED$' "table header"
expect_in "$T/out" '^etcd-server +[A-Z][a-z]{2} [0-9]{2}, [0-9]{4} [0-9]{2}:[0-9]{2} UTC +364d +etcd-ca +no' "server row like kubeadm"
expect_in "$T/out" '^etcd-ca +[A-Z][a-z]{2} [0-9]{2}, [0-9]{4} [0-9]{2}:[0-9]{2} UTC +9y +no' "CA row like kubeadm"
run "$EP" certs check-expiration --root "$R" -o json
expect_rc 0 "check-expiration -o json"
cp "$T/out" "$T/status.json"
run python3 - "$T/status.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
names = [c["name"] for c in doc["certificates"]]
assert names == ["apiserver-etcd-client", "etcd-healthcheck-client", "etcd-peer", "etcd-server"], names
for c in doc["certificates"]:
    assert c["caName"] == "etcd-ca" and c["missing"] is False and c["externallyManaged"] is False, c
    assert 364 * 86400 < c["residualTime"] <= 365 * 86400, c
    assert c["expirationDate"].endswith("Z"), c
ca = doc["certificateAuthorities"]
assert [c["name"] for c in ca] == ["etcd-ca"] and ca[0]["residualTime"] > 9 * 365 * 86400, ca
EOF
expect_rc 0 "JSON: kubeadm's fields and values"

# --- renew -------------------------------------------------------------------------
san_before=$(openssl x509 -in "$PKI/etcd/server.crt" -noout -ext subjectAltName)
key_before=$(sha256sum <"$PKI/etcd/server.key")
ca_before=$(sha256sum <"$PKI/etcd/ca.crt")
run "$EP" certs renew etcd-server --root "$R" --advertise-address 10.9.9.9
expect_rc 0 "renew etcd-server"
expect_in "$T/out" '^\[renew\] certificate for serving etcd renewed$' "renew says what it renewed"
expect_in "$T/out" 'You must restart etcd so that it uses the new certificates' "renew names the process to restart"
expect_in "$T/out" 'on each control-plane node' "renew says to run it on every node"
expect_not_in "$T/out" 'kube-apiserver' "etcd-server renewal does not ask for an apiserver restart"
[[ $(sha256sum <"$PKI/etcd/server.key") != "$key_before" ]] || fail "renew kept the old key"
pass "renew made a new key"
expect_eq "$(openssl x509 -in "$PKI/etcd/server.crt" -noout -ext subjectAltName)" "$san_before" "renew kept the SANs (not the new address)"
expect_eq "$(sha256sum <"$PKI/etcd/ca.crt")" "$ca_before" "renew left the CA alone"
run openssl verify -CAfile "$PKI/etcd/ca.crt" "$PKI/etcd/server.crt"
expect_rc 0 "renewed cert verifies"
run "$EP" certs renew apiserver-etcd-client --root "$R"
expect_rc 0 "renew apiserver-etcd-client"
expect_in "$T/out" 'You must restart kube-apiserver' "apiserver client renewal names kube-apiserver"
run "$EP" certs renew etcd-ca --root "$R"
expect_rc 2 "renew etcd-ca is a usage error"
expect_in "$T/err" "'etcd-ca' cannot be renewed" "and explains why"
before=$(tree_digest "$R")
run "$EP" certs renew all --root "$R" --dry-run
expect_rc 0 "renew all --dry-run"
expect_in "$T/out" "Would write file \"$PKI/etcd/peer.key\" with mode 0600" "renew dry run shows the files"
expect_eq "$(tree_digest "$R")" "$before" "renew dry run wrote nothing"

# a renewal whose certificate cannot be written (a mount point there: rename
# fails with EBUSY) puts the previous key back
before=$(tree_digest "$R")
run unshare -m sh -c "mount --bind '$PKI/etcd/server.crt' '$PKI/etcd/server.crt' && exec '$EP' certs renew etcd-server --root '$R'"
expect_rc 1 "a renewal that cannot write the certificate fails"
expect_in "$T/err" "writing \"etcd/server\": renaming '$PKI/etcd/server.crt.ep-[0-9a-f]{16}' to '$PKI/etcd/server.crt': Device or resource busy; put back the previous server.key, so no file was changed" "the error names the file and says the key was put back"
expect_not_in "$T/out" 'renewed' "and does not claim a renewal"
expect_eq "$(tree_digest "$R")" "$before" "failed renewal: the old pair is intact"
run openssl verify -CAfile "$PKI/etcd/ca.crt" "$PKI/etcd/server.crt"
expect_rc 0 "and still verifies"
expect_eq "$(pubkey_of "$PKI/etcd/server.key")" "$(pubkey_of "$PKI/etcd/server.crt")" "and the key matches it"

# renewal keeps CN and O and writes them in Go's order (O, then CN), like kubeadm
cp -a "$R" "$T/n5"
K5=$T/n5/etc/kubernetes/pki
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$K5/apiserver-etcd-client.key" \
	-subj "/CN=x/O=system:masters" -out "$T/x.csr" 2>/dev/null
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$T/x.ext"
openssl x509 -req -in "$T/x.csr" -CA "$K5/etcd/ca.crt" -CAkey "$K5/etcd/ca.key" -days 30 \
	-extfile "$T/x.ext" -out "$K5/apiserver-etcd-client.crt" 2>/dev/null
expect_eq "$(openssl x509 -in "$K5/apiserver-etcd-client.crt" -noout -subject)" "subject=CN = x, O = system:masters" "a certificate with CN before O"
run "$EP" certs renew apiserver-etcd-client --root "$T/n5"
expect_rc 0 "renew it"
expect_eq "$(openssl x509 -in "$K5/apiserver-etcd-client.crt" -noout -subject)" "subject=O = system:masters, CN = x" "renewed with O before CN, as Go writes it"

# --- refusals: clear error, nothing written --------------------------------------
refuse() { # DESCRIPTION REGEX: generate fails with REGEX on stderr and changes nothing
	local before
	before=$(tree_digest "$R")
	run "$EP" certs generate "${NODE[@]}"
	expect_rc 1 "$1 is refused"
	expect_in "$T/err" "$2" "$1: the error says what and where"
	expect_eq "$(tree_digest "$R")" "$before" "$1: nothing written"
}
openssl genpkey -algorithm ed25519 -out "$PKI/etcd/server.key" 2>/dev/null
refuse "an Ed25519 server key" "'$PKI/etcd/server.key' holds an Ed25519 key; etcd certificates need an RSA or ECDSA key \(as kubeadm\); replace it with the right file, or delete server.crt and server.key to regenerate the pair"
openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:1024 -out "$T/dsa.param" 2>/dev/null
openssl genpkey -paramfile "$T/dsa.param" -out "$PKI/etcd/server.key" 2>/dev/null
refuse "a DSA server key" "holds a DSA key"
: >"$PKI/etcd/server.key"
refuse "an empty key" "'$PKI/etcd/server.key' is not a PEM private key: the file is empty; replace it"
cp "$PKI/etcd/peer.crt" "$PKI/etcd/server.key"
refuse "a certificate where the key should be" "'$PKI/etcd/server.key' is not a PEM private key: it holds a certificate: are the .crt and .key files swapped"
expect_not_in "$T/err" "encrypt" "and says nothing about encryption"
openssl pkey -in "$PKI/etcd/peer.key" -aes128 -passout pass:secret -out "$PKI/etcd/server.key"
refuse "an encrypted key" "'$PKI/etcd/server.key' is an encrypted private key \(ENCRYPTED PRIVATE KEY\); etcd cannot use a key that needs a passphrase: decrypt it with 'openssl pkey -in $PKI/etcd/server.key -out $PKI/etcd/server.key.plain'"
cp -p "$PKI/etcd/peer.key" "$PKI/etcd/server.key"
refuse "a key that does not match its certificate" "'$PKI/etcd/server.key' does not match the public key of '$PKI/etcd/server.crt'"
head -c 300 "$PKI/etcd/peer.crt" >"$T/trunc" && cp "$T/trunc" "$PKI/etcd/server.crt"
refuse "a truncated certificate" "'$PKI/etcd/server.crt' is not a PEM certificate: its '-----END' line is missing or damaged \(is the file truncated\?\); replace it with the right file, or delete server.crt and server.key to regenerate the pair"
"$EP" certs generate --root "$T/other" --name cp1 --advertise-address 10.0.0.11 --key-type ecdsa-p256 >/dev/null
cp "$T/other/etc/kubernetes/pki/etcd/server.crt" "$T/other/etc/kubernetes/pki/etcd/server.key" "$PKI/etcd/"
refuse "a server pair from another CA" "'$PKI/etcd/server.crt' is not signed by the etcd CA '$PKI/etcd/ca.crt'"
rm "$PKI/etcd/server.key" && ln -s peer.key "$PKI/etcd/server.key"
refuse "a symlink where a key should be" "'$PKI/etcd/server.key' is a symbolic link"
rm "$PKI/etcd/server.key" "$PKI/etcd/server.crt"

# a CA that is not a CA (the healthcheck pair put in its place), in a copy
cp -a "$R" "$T/n2"
cp "$T/n2/etc/kubernetes/pki/etcd/healthcheck-client.crt" "$T/n2/etc/kubernetes/pki/etcd/ca.crt"
cp "$T/n2/etc/kubernetes/pki/etcd/healthcheck-client.key" "$T/n2/etc/kubernetes/pki/etcd/ca.key"
before=$(tree_digest "$T/n2")
run "$EP" certs generate --root "$T/n2" --name cp1 --advertise-address 10.0.0.11
expect_rc 1 "a CA certificate that is not a CA is refused"
expect_in "$T/err" "ca.crt' \(CN=kube-etcd-healthcheck-client\) is not a CA certificate" "the error names the file and its subject"
expect_eq "$(tree_digest "$T/n2")" "$before" "not-a-CA: nothing written"

# another node's address: the existing server cert lacks it
run "$EP" certs generate --root "$T/other" --name cp1 --advertise-address 10.0.0.12
expect_rc 1 "SANs that miss this node are refused"
expect_in "$T/err" "server.crt' lacks SAN IP 10.0.0.12 \(has DNS cp1, localhost; IP 10.0.0.11, 127.0.0.1, ::1\); delete server.crt and server.key" "the error names the missing SAN and what is there"

# a read-only certificates directory (root ignores mode bits: use a read-only bind mount)
before=$(tree_digest "$R")
run unshare -m sh -c "mount --bind -o ro '$PKI' '$PKI' && exec '$EP' certs generate --root '$R' --name cp1 --advertise-address 10.0.0.11"
expect_rc 1 "a read-only certificates directory is refused"
expect_in "$T/err" "cannot write into '$PKI/etcd': Read-only file system" "the error names the directory"
expect_eq "$(tree_digest "$R")" "$before" "read-only: nothing written"
run unshare -m sh -c "mount --bind -o ro '$PKI' '$PKI' && exec '$EP' certs generate --root '$R' --name cp1 --advertise-address 10.0.0.11 --dry-run"
expect_rc 1 "a dry run into a read-only directory fails as the real run does"
expect_in "$T/err" "cannot write into '$PKI/etcd': Read-only file system" "with the same error"
expect_eq "$(tree_digest "$R")" "$before" "read-only dry run: nothing written"

# a file where the etcd directory should be
mkdir -p "$T/n3/etc/kubernetes/pki" && echo x >"$T/n3/etc/kubernetes/pki/etcd"
before=$(tree_digest "$T/n3")
run "$EP" certs generate --root "$T/n3" --name cp1 --advertise-address 10.0.0.11 --key-type ecdsa-p256
expect_rc 1 "a file where the etcd directory should be is refused"
expect_in "$T/err" "'$T/n3/etc/kubernetes/pki/etcd' is not a directory \(it is a regular file\), so '$T/n3/etc/kubernetes/pki/etcd/ca.crt' cannot be there; move it out of the way" "the error names the file in the way and what to do"
expect_eq "$(tree_digest "$T/n3")" "$before" "file-for-dir: nothing written"

# the regenerated server pair (deleted above) comes back, the rest is reused
run "$EP" certs generate "${NODE[@]}" --key-type ecdsa-p256
expect_rc 0 "a deleted pair is regenerated"
expect_in "$T/out" '^\[certs\] Generating "etcd/server" certificate and key$' "only the missing pair is generated"
expect_in "$T/out" '^\[certs\] Using the existing "etcd/peer" certificate and key$' "the others are reused"

# leftovers of an interrupted run (ep_write_atomic's temp names) are swept up
rm "$PKI/etcd/server.key" "$PKI/etcd/server.crt"
: >"$PKI/etcd/server.key.ep-0123456789abcdef"
: >"$PKI/etcd/ca.crt.ep-00000000deadbeef"
: >"$PKI/etcd/server.key.ep-keep"
run "$EP" certs generate "${NODE[@]}" --key-type ecdsa-p256
expect_rc 0 "generate beside stale temporary files"
expect_in "$T/out" "^\[certs\] Removed 1 stale temporary file of '$PKI/etcd/server.key' left by an interrupted run$" "says it removed them"
[[ ! -e $PKI/etcd/server.key.ep-0123456789abcdef && ! -e $PKI/etcd/ca.crt.ep-00000000deadbeef ]] || fail "stale temporary files were left"
[[ -e $PKI/etcd/server.key.ep-keep ]] || fail "a file that is not a temp file of ours was removed"
pass "only files named like ep_write_atomic's temp files are removed"
rm "$PKI/etcd/server.key.ep-keep"

# ca.key without ca.crt: neither generate nor generate etcd-ca makes up a certificate
cp -a "$R" "$T/n4"
rm "$T/n4/etc/kubernetes/pki/etcd/ca.crt"
before=$(tree_digest "$T/n4")
for what in all etcd-ca; do
	run "$EP" certs generate "$what" --root "$T/n4" --name cp1 --advertise-address 10.0.0.11
	expect_rc 1 "a CA key without its certificate is refused ($what)"
	expect_in "$T/err" "'$T/n4/etc/kubernetes/pki/etcd/ca.key' exists without '$T/n4/etc/kubernetes/pki/etcd/ca.crt'; restore ca.crt \(for instance from another control-plane node's /etc/kubernetes/pki/etcd/ca.crt\), or remove ca.key to start a new CA \(every member's certificates must then be reissued\)" "the error says how to proceed ($what)"
	expect_eq "$(tree_digest "$T/n4")" "$before" "lone CA key: nothing written ($what)"
done

# check-expiration on a junk CA certificate: an error, and no leak (LeakSanitizer in ASan builds)
echo junk >"$T/n4/etc/kubernetes/pki/etcd/ca.crt"
run "$EP" certs check-expiration --root "$T/n4"
expect_rc 1 "check-expiration with a junk ca.crt fails"
expect_in "$T/err" "ca.crt' is not a PEM certificate: it holds no PEM data" "and says why"
expect_not_in "$T/err" "LeakSanitizer" "without leaking"

# as an unprivileged user: an unreadable (mode 000) and a read-only etcd/ directory
U=$T/u
UK=$U/etc/kubernetes/pki
run "$EP" certs generate --root "$U" --name cp1 --advertise-address 10.0.0.11 --key-type ecdsa-p256
expect_rc 0 "a PKI for the unprivileged runs"
rm "$UK/etcd/peer.crt" "$UK/etcd/peer.key"
chown -R 65534:65534 "$U"
chmod 0711 "$T"
AS_NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
chmod 000 "$UK/etcd"
before=$(tree_digest "$U")
for dry in "" --dry-run; do
	run "${AS_NOBODY[@]}" "$EP" certs generate --root "$U" --name cp1 --advertise-address 10.0.0.11 $dry
	expect_rc 1 "an unreadable etcd/ directory is refused ${dry:-(real run)}"
	expect_in "$T/err" "cannot look into '$UK/etcd' \(mode 0000, owner uid 65534\) for '$UK/etcd/ca.crt': Permission denied; run etcdpilot as root, or fix the directory's permissions" "the error names the directory ${dry:-(real run)}"
	expect_eq "$(tree_digest "$U")" "$before" "unreadable: nothing written ${dry:-(real run)}"
done
chmod 555 "$UK/etcd"
before=$(tree_digest "$U")
for dry in "" --dry-run; do
	run "${AS_NOBODY[@]}" "$EP" certs generate --root "$U" --name cp1 --advertise-address 10.0.0.11 $dry
	expect_rc 1 "a read-only etcd/ directory is refused ${dry:-(real run)}"
	expect_in "$T/err" "cannot write into '$UK/etcd': Permission denied" "the error names the directory ${dry:-(real run)}"
	expect_eq "$(tree_digest "$U")" "$before" "read-only: nothing written ${dry:-(real run)}"
done
chmod 755 "$UK/etcd"
run "${AS_NOBODY[@]}" "$EP" certs generate --root "$U" --name cp1 --advertise-address 10.0.0.11
expect_rc 0 "once writable, the unprivileged owner completes the PKI"

# a disk that fills up part-way (tmpfs with 10 inodes: 5 directories, the CA and
# server pairs, the server pair's journal while it is in use, then the peer key's
# temp file; the peer certificate's finds none): the pairs already written are
# removed again and the error says so
mkdir "$T/full"
run unshare -m sh -c "mount -t tmpfs -o size=4m,nr_inodes=10 tmpfs '$T/full' && { '$EP' certs generate --root '$T/full' --name cp1 --advertise-address 10.0.0.11 --key-type ecdsa-p256; echo rc=\$?; echo files=\$(find '$T/full' -type f | wc -l); }"
expect_in "$T/out" '^rc=1$' "generate on a full disk fails"
expect_in "$T/err" "writing etcd/peer.crt: creating temporary file '$T/full/etc/kubernetes/pki/etcd/peer.crt.ep-[0-9a-f]{16}': No space left on device; rolled back \(removed the new etcd/server.crt, etcd/server.key, etcd/ca.crt, etcd/ca.key\), so no file was changed" "the error says what was written and that it was removed again"
expect_in "$T/out" '^files=0$' "and no file is left"

# --- external CA: ca.crt without ca.key ----------------------------------------------
mv "$PKI/etcd/ca.key" "$T/ca.key.offline"
run "$EP" certs generate "${NODE[@]}"
expect_rc 0 "external CA with every leaf present is accepted"
expect_in "$T/out" 'external CA mode' "and said so"
run "$EP" certs check-expiration --root "$R"
expect_in "$T/out" '^etcd-ca +.* +yes' "check-expiration: the CA is externally managed"
run "$EP" certs renew all --root "$R"
expect_rc 1 "renewal without ca.key is impossible"
expect_in "$T/err" "managed externally" "and the error says why"
rm "$PKI/etcd/peer.crt" "$PKI/etcd/peer.key"
run "$EP" certs check-expiration --root "$R"
expect_in "$T/out" '^!MISSING! etcd-peer' "check-expiration shows a missing file"
before=$(tree_digest "$R")
run "$EP" certs generate "${NODE[@]}"
expect_rc 1 "external CA: a missing leaf cannot be issued"
expect_in "$T/err" "the etcd CA is external" "the error says why"
expect_eq "$(tree_digest "$R")" "$before" "external CA: nothing written"
mv "$T/ca.key.offline" "$PKI/etcd/ca.key"

# --- take over a PKI written by the openssl CLI (PKCS#8 keys), RSA ---------------------
bash "$SRC/bench/pki/openssl-pki.sh" "$T/ossl/etc/kubernetes/pki" cp1 10.0.0.11 rsa >/dev/null 2>&1
run openssl verify -CAfile "$T/ossl/etc/kubernetes/pki/etcd/ca.crt" "$T/ossl/etc/kubernetes/pki/etcd/server.crt"
expect_rc 0 "the openssl-made PKI verifies"
before=$(tree_digest "$T/ossl")
run "$EP" certs generate --root "$T/ossl" --name cp1 --advertise-address 10.0.0.11
expect_rc 0 "etcdpilot takes over an openssl-made PKI"
expect_not_in "$T/out" 'Generating' "and generates nothing"
expect_eq "$(tree_digest "$T/ossl")" "$before" "take-over changed nothing"
run "$EP" certs renew etcd-peer --root "$T/ossl"
expect_rc 0 "and renews in it"
expect_eq "$(head -1 "$T/ossl/etc/kubernetes/pki/etcd/peer.key")" "-----BEGIN RSA PRIVATE KEY-----" "RSA key in PKCS#1 PEM, as kubeadm writes"

# --- IPv6 advertise address -------------------------------------------------------------
run "$EP" certs generate --root "$T/v6" --name cp6 --advertise-address fd00::6 --key-type ecdsa-p384
expect_rc 0 "IPv6 advertise address"
expect_in "$T/out" 'signed for DNS names \[cp6 localhost\] and IPs \[fd00::6 127.0.0.1 ::1\]' "IPv6 IP SAN"
run openssl x509 -in "$T/v6/etc/kubernetes/pki/etcd/peer.crt" -noout -ext subjectAltName
expect_in "$T/out" 'IP Address:FD00:0:0:0:0:0:0:6' "IPv6 SAN in the certificate"
