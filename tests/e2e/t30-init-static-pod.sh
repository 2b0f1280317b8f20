#!/usr/bin/env bash
# t30: etcdpilot init in static-pod mode on a simulated node (its own network
# namespace and address, the kubelet stand-in as kubelet): the member comes
# up healthy, a re-run changes nothing, 'render manifest' is the file on
# disk, other settings are refused with what differs, --dry-run writes
# nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"

NS=ep-t30-$$
ADDR=10.230.0.2
R=$T/n1
node_netns "$NS" "$ADDR"
standin_start "$R" "$NS" n1
EPN=(in_ns "$NS" "$EP" --root "$R")
FLAGS=(--name n1 --advertise-address "$ADDR" --etcd-version 3.4.23 --key-type ecdsa-p256)

# --dry-run on another node root, before any member runs there: the plan and the manifest, and no file at all.
D=$T/dry
mkdir -p "$D"
run in_ns "$NS" "$EP" --root "$D" init --dry-run --name n9 --advertise-address "$ADDR" --etcd-version 3.6.6
expect_rc 0 "init --dry-run"
expect_in "$T/out" "^\\[dryrun\\] \\[etcd\\] Would write /etc/kubernetes/manifests/etcd.yaml \\(mode 0600\\)" "announces the manifest (by its node path)"
expect_in "$T/out" $'^\t    - --feature-gates=InitialCorruptCheck=true$' "prints the manifest content"
expect_in "$T/out" '^\[dryrun\] \[wait\] Would wait for the local etcd member' "announces the wait"
expect_eq "$(find "$D" -mindepth 1 | wc -l)" 0 "and writes nothing"

# -o json: one document, the plan, every file with its content (issue 9).
run in_ns "$NS" "$EP" --root "$D" init --dry-run -o json --name n9 --advertise-address "$ADDR" --etcd-version 3.6.6
expect_rc 0 "init --dry-run -o json"
cp "$T/out" "$T/plan.json"
run python3 - "$T/plan.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))      # exactly one document, or this fails
assert doc["apiVersion"] == "etcdpilot.io/v1alpha1" and doc["kind"] == "Plan", doc.get("kind")
acts = doc["actions"]
files = {a["params"]["path"]: a["params"] for a in acts if a["type"] == "file.write"}
assert list(files) == ["/etc/kubernetes/manifests/etcd.yaml"], list(files)
assert "--feature-gates=InitialCorruptCheck=true" in files["/etc/kubernetes/manifests/etcd.yaml"]["content"]
assert files["/etc/kubernetes/manifests/etcd.yaml"]["mode"] == "0600"
pki = [a for a in acts if a["type"] == "pki.ensure"][0]["params"]["pairs"]
assert pki == ["etcd-ca", "etcd-server", "etcd-peer", "etcd-healthcheck-client", "apiserver-etcd-client"], pki
dirs = [a["params"]["path"] for a in acts if a["type"] == "dir.create"]
assert "/var/lib/etcd" in dirs, dirs
assert acts[-1]["type"] == "wait.healthy"
assert doc["changes"] is True and doc["blocked"] is False and doc["preflight"] == []
print(len(acts), "actions")
PY
expect_rc 0 "the JSON plan parses and lists every file, pair and directory it would write"
expect_eq "$(find "$D" -mindepth 1 | wc -l)" 0 "and writes nothing either"

# What a run killed inside the manifest's write leaves (issue 10 item 13) is swept.
mkdir -p -m 700 "$R/etc/kubernetes/manifests"
echo partial >"$R/etc/kubernetes/manifests/.etcd.yaml.etcdpilot-new"
echo partial >"$R/etc/kubernetes/manifests/.etcd.yaml.etcdpilot-new.ep-0123456789abcdef"

run "${EPN[@]}" init "${FLAGS[@]}" --timeout 60s
expect_rc 0 "init waits until the member the stand-in started is healthy"
expect_in "$T/out" '^\[certs\] Generating "etcd/ca" certificate and key' "certs phase in kubeadm's voice"
expect_in "$T/out" '^\[etcd\] Write /etc/kubernetes/manifests/etcd.yaml \(mode 0600\)' \
	"manifest phase, a line per action"
expect_in "$T/out" '^\[wait\] Wait for the local etcd member to become healthy' "wait phase"
expect_in "$T/out" '^\[wait\] The local etcd member is healthy after' "and how long it took"
[[ -e $R/var/lib/etcdpilot/journal.json ]] && fail "the journal is gone after a successful run"
pass "the journal is gone after a successful run"
expect_in "$T/out" "etcdpilot join https://$ADDR:2379 --ca-bundle FILE --certificate-key KEY --name <node name> --advertise-address <node IP> --etcd-version 3.4.23 --key-type ecdsa-p256$" "prints the join command for the next node, with every non-default setting"
expect_in "$T/out" '/etc/kubernetes/pki/etcd/ca.key' "names the CA files to copy"

PKI=$R/etc/kubernetes/pki
run in_ns "$NS" etcdctl --endpoints "https://$ADDR:2379" --cacert "$PKI/etcd/ca.crt" \
	--cert "$PKI/etcd/healthcheck-client.crt" --key "$PKI/etcd/healthcheck-client.key" \
	endpoint health
expect_rc 0 "etcdctl finds the member healthy on the advertise address"
expect_eq "$(standin_field "$R" phase)" Running "the stand-in runs the pod"
expect_eq "$(stat -c %a "$R/etc/kubernetes/manifests/etcd.yaml")" 600 "manifest mode 0600"
expect_eq "$(stat -c %a "$R/etc/kubernetes/manifests")" 700 "manifest directory mode 0700"
expect_eq "$(stat -c %a "$R/var/lib/etcd")" 700 "data directory mode 0700"
[[ -d $R/var/lib/etcd/member ]] || fail "etcd wrote its data through the etcd-data volume"
pass "etcd wrote its data through the etcd-data volume"

before=$(tree_digest "$R/etc/kubernetes")
run "${EPN[@]}" init "${FLAGS[@]}" --timeout 30s
expect_rc 0 "a second init with the same settings succeeds"
expect_in "$T/out" 'Nothing to do: .* nothing was changed' "and says it changed nothing"
expect_eq "$(tree_digest "$R/etc/kubernetes")" "$before" "certs and manifest are untouched"

run "${EPN[@]}" render manifest "${FLAGS[@]}"
expect_rc 0 "render manifest"
cmp -s "$T/out" "$R/etc/kubernetes/manifests/etcd.yaml" || fail "render manifest equals the file on disk"
pass "render manifest equals the file on disk"

run "${EPN[@]}" init --name n2 --advertise-address "$ADDR" --etcd-version 3.4.23 --key-type ecdsa-p256
expect_rc 1 "init with another --name is refused"
expect_in "$T/err" "the manifest is for member 'n1', not for this node's 'n2'" "and says which names differ"
expect_eq "$(tree_digest "$R/etc/kubernetes")" "$before" "nothing changed"

cat >"$T/extra.yaml" <<'YAML'
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  local:
    extraArgs:
    - name: snapshot-count
      value: "5000"
YAML
run "${EPN[@]}" init --config "$T/extra.yaml" "${FLAGS[@]}"
expect_rc 1 "init with another extra arg is refused"
expect_in "$T/err" "flag --snapshot-count: manifest has '10000', wanted '5000'" "and says which flag differs"
expect_eq "$(tree_digest "$R/etc/kubernetes")" "$before" "nothing changed"

run "${EPN[@]}" init "${FLAGS[@]}" --etcd-version 3.5.21
expect_rc 1 "init with another etcd version is refused"
expect_in "$T/err" "spec.containers\\[etcd\\].image: manifest has 'registry.k8s.io/etcd:3.4.23-0', wanted 'registry.k8s.io/etcd:3.5.21-0'" \
	"and names the image"
expect_in "$T/err" "spec.containers\\[etcd\\].livenessProbe.httpGet.path: manifest has '/health\\?exclude=NOSPACE', wanted '/livez'" \
	"and the probe that changes"
expect_in "$T/err" "spec.containers\\[etcd\\].readinessProbe: missing from the manifest, wanted a map" \
	"and the probe 3.4 does not have"
expect_eq "$(tree_digest "$R/etc/kubernetes")" "$before" "nothing changed"


# The stand-in behaves like a kubelet towards the running pod.
ls -A "$R/etc/kubernetes/manifests" >"$T/ls"
expect_eq "$(cat "$T/ls")" "etcd.yaml" "no temporary file is left in the manifest directory"
pid=$(standin_field "$R" pid)
kill -KILL "$pid"
wait_for 20 standin_field_is "$R" restarts -ge 1 || fail "a killed etcd is restarted"
pass "a killed etcd is restarted"
run "${EPN[@]}" init "${FLAGS[@]}" --timeout 30s
expect_rc 0 "and init finds it healthy again without changing anything"
expect_in "$T/out" 'Nothing to do' "(nothing to do)"

# A changed manifest replaces the pod: a new container with the new spec,
# one replacement event, and the status file stays the new pod's.
old_pid=$(standin_field "$R" pid)
# (edited outside the manifest directory: the stand-in, like the kubelet,
# would run any other file there as a second pod)
python3 - "$R/etc/kubernetes/manifests/etcd.yaml" "$T/etcd.yaml.edit" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["spec"]["containers"][0]["env"] = [{"name": "ETCD_T30_MARK", "value": "replaced"}]
open(sys.argv[2], "w").write(yaml.safe_dump(d))
PY
mv "$T/etcd.yaml.edit" "$R/etc/kubernetes/manifests/etcd.yaml"
new_pid_is_running() {
	local p
	p=$(standin_field "$R" pid)
	[[ -n $p && $p != "$old_pid" && $(standin_field "$R" phase) == Running ]] &&
		grep -qa ETCD_T30_MARK=replaced "/proc/$p/environ"
}
wait_for 30 new_pid_is_running || fail "a changed manifest replaces the pod"
pass "a changed manifest replaces the pod (pid $old_pid -> $(standin_field "$R" pid), new env)"
sleep 1
expect_eq "$(standin_field "$R" phase)" Running "the old pod's shutdown does not overwrite the new pod's status"
expect_eq "$(grep -c 'manifest changed; replacing the pod' "$T/standin-n1.log")" 1 \
	"the replacement is one event, not repeated"
expect_eq "$(grep -c 'manifest removed' "$T/standin-n1.log")" 0 "and the change is not taken for a removal"
run "${EPN[@]}" init "${FLAGS[@]}" --timeout 30s
expect_rc 1 "init sees the hand-made change"
expect_in "$T/err" "env ETCD_T30_MARK: manifest has 'replaced', wanted none" "and names it"
mv "$R/etc/kubernetes/manifests/etcd.yaml" "$T/etcd.yaml.saved"
wait_for 20 standin_field_is "$R" phase = Stopped || fail "removing the manifest stops the pod"
pass "removing the manifest stops the pod"
pid=$(standin_field "$R" pid)
expect_eq "$pid" "" "and its container"

# A killed init is finished by the next run (the journal): killed while it
# waits for the member, after its files were written.  The kubelet is held
# (SIGSTOP) meanwhile, so that the wait lasts until the kill, whatever the
# machine's speed.
rm -rf "$R/var/lib/etcd"
kill -STOP "$STANDIN_PID"
# (ip netns exec execs in place: $! is the etcdpilot process itself)
ip netns exec "$NS" "$EP" --root "$R" init "${FLAGS[@]}" --timeout 60s >"$T/killed.out" 2>&1 &
KPID=$!
waiting() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(a["type"]=="wait.healthy" and a["state"]=="running" for a in d["actions"]) else 1)' "$R/var/lib/etcdpilot/journal.json"; }
wait_for 30 waiting || fail "the init reaches its wait"
kill -KILL "$KPID"
wait "$KPID" 2>/dev/null
kill -CONT "$STANDIN_PID"
[[ -e $R/var/lib/etcdpilot/journal.json ]] || fail "a killed init leaves its journal"
pass "a killed init leaves its journal"
run "${EPN[@]}" init "${FLAGS[@]}" --timeout 60s
expect_rc 0 "the next init finishes it"
expect_in "$T/out" "^\[journal\] Finishing the interrupted 'init' started " "and says it does"
expect_in "$T/out" '^\[wait\] The local etcd member is healthy' "the member is healthy"
[[ -e $R/var/lib/etcdpilot/journal.json ]] && fail "the journal is gone once it is finished"
pass "the journal is gone once it is finished"
