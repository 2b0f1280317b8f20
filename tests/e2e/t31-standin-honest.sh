#!/usr/bin/env bash
# t31: the kubelet stand-in is honest - what would break a pod on a real node
# breaks it here - and init reports such a pod clearly on timeout:
#   - the data dir is not a volume (a hand-edited --data-dir): etcd cannot
#     write it; a pod etcd refuses to start: init times out and shows the pod
#     status and the log tail;
#   - the etcd-data hostPath is of type Directory and absent: the pod never
#     starts, its status says why;
#   - an image the stand-in cannot map is refused, and init says so;
#   - probes run on their schedule and a failed liveness probe restarts;
#   - a pod without hostNetwork is refused (there is no pod network).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"

NS=ep-t31-$$
ADDR=10.231.0.2
node_netns "$NS" "$ADDR"
FLAGS=(--name n1 --advertise-address "$ADDR" --key-type ecdsa-p256)

# 1. data dir outside every volume.  etcdpilot no longer writes such a pod
# (an extraArgs data-dir becomes the data dir), so the manifest is edited by
# hand: the stand-in must still break it as a kubelet would.
NODE_A=$T/a
"$EP" --root "$NODE_A" certs generate all "${FLAGS[@]}" >/dev/null || fail "certs for node a"
mkdir -p "$NODE_A/etc/kubernetes/manifests"
"$EP" render manifest "${FLAGS[@]}" --etcd-version 3.4.23 >"$T/a.yaml" || fail "render 3.4.23"
python3 - "$T/a.yaml" "$NODE_A/etc/kubernetes/manifests/etcd.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
c = d["spec"]["containers"][0]
c["command"] = [a if not a.startswith("--data-dir=") else "--data-dir=/var/lib/etcd-not-a-volume"
                for a in c["command"]]
open(sys.argv[2], "w").write(yaml.safe_dump(d))
PY
standin_start "$NODE_A" "$NS" n1
PA=$STANDIN_PID
wait_for 20 grep -rqs 'cannot access data directory: mkdir /var/lib/etcd-not-a-volume: read-only file system' \
	"$NODE_A/var/log/pods/kube-system_etcd-n1/etcd/" ||
	fail "etcd could not write outside the volumes (read-only file system)"
pass "etcd could not write outside the volumes (read-only file system)"
wait_for 20 bash -c '[[ $(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get(\"restarts\") or 0)" \
	"$1/var/lib/kubelet-standin/pods/etcd/status.json") -ge 1 ]]' _ "$NODE_A" ||
	fail "a pod whose data dir is not a volume keeps failing"
pass "a pod whose data dir is not a volume keeps failing"
[[ -e $NODE_A/var/lib/etcd-not-a-volume ]] && fail "nothing was written outside the volumes"
pass "nothing was written outside the volumes"
standin_stop "$PA"

# 1b. init reports a pod that does not come up: an extraArgs value etcd
# refuses when it starts.
NODE_A2=$T/a2
standin_start "$NODE_A2" "$NS" n1
PA2=$STANDIN_PID
cat >"$T/badflag.yaml" <<'YAML'
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  local:
    extraArgs:
    - name: auto-compaction-mode
      value: bogus
YAML
run in_ns "$NS" "$EP" --root "$NODE_A2" --config "$T/badflag.yaml" init "${FLAGS[@]}" \
	--etcd-version 3.4.23 --timeout 4s
expect_rc 1 "init fails when etcd does not start"
expect_in "$T/err" 'did not become healthy within 4s' "the error names the timeout"
expect_in "$T/err" 'pod kube-system/etcd-n1: Running, container (waiting|terminated|running)' \
	"the error carries the pod status"
expect_in "$T/err" 'restarts' "with the restart count"
expect_in "$T/err" 'error verifying flags, unknown auto-compaction-mode "bogus"' \
	"and etcd's own last log line"
expect_in "$T/err" '^log tail \(.*/var/log/pods/kube-system_etcd-n1/etcd/[0-9]+\.log\):' \
	"the report shows where the log is"
standin_stop "$PA2"

# 2. hostPath type Directory that does not exist: the kubelet's type check
NODE_B=$T/b
mkdir -p "$NODE_B/etc/kubernetes/manifests"
"$EP" render manifest "${FLAGS[@]}" --etcd-version 3.4.23 >"$T/render.yaml" || fail "render manifest"
python3 - "$T/render.yaml" "$NODE_B/etc/kubernetes/manifests/etcd.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
for v in d["spec"]["volumes"]:
    if v["name"] == "etcd-data":
        v["hostPath"] = {"path": "/var/lib/etcd-missing", "type": "Directory"}
for m in d["spec"]["containers"][0]["volumeMounts"]:
    if m["name"] == "etcd-data":
        m["mountPath"] = "/var/lib/etcd-missing"
open(sys.argv[2], "w").write(yaml.safe_dump(d))
PY
standin_start "$NODE_B" "$NS" n1
PB=$STANDIN_PID
wait_for 10 grep -q CreateContainerError "$NODE_B/var/lib/kubelet-standin/pods/etcd/status.json" ||
	fail "the stand-in refuses a Directory hostPath that does not exist"
pass "the stand-in refuses a Directory hostPath that does not exist"
expect_in "$NODE_B/var/lib/kubelet-standin/pods/etcd/status.json" \
	'hostPath type check failed: /var/lib/etcd-missing is not a directory' "its status says why"
expect_eq "$(standin_field "$NODE_B" pid)" "" "and no container was started"
[[ -e $NODE_B/var/lib/etcd-missing ]] && fail "the missing directory was not created"
pass "the missing directory was not created"
standin_stop "$PB"

# 3. an image the stand-in cannot map (default map: */etcd:3.4.* only)
NODE_C=$T/c
standin_start "$NODE_C" "$NS" n1
run in_ns "$NS" "$EP" --root "$NODE_C" init "${FLAGS[@]}" --etcd-version 3.6.6 --timeout 2s
expect_rc 1 "init fails when the image cannot be run"
expect_in "$T/err" "ImageNotMapped: image 'registry.k8s.io/etcd:3.6.6-0' is not mapped to a local binary" \
	"the error says the stand-in refused the image"
expect_eq "$(standin_field "$NODE_C" phase)" Pending "the pod stays Pending"

# 4. probes: a 3.5.21 manifest (probes /livez and /readyz) run on etcd 3.4.23,
# which has no /livez: startup (/health here) passes, so liveness starts, fails
# (HTTP 404) and the container is killed and restarted - the reason the 3.4
# manifest keeps to /health.  Probe timings shortened for the test.
NODE_D=$T/d
"$EP" --root "$NODE_D" certs generate all "${FLAGS[@]}" >/dev/null || fail "certs for node d"
mkdir -p "$NODE_D/etc/kubernetes/manifests"
"$EP" render manifest "${FLAGS[@]}" --etcd-version 3.5.21 >"$T/d.yaml" || fail "render 3.5.21"
python3 - "$T/d.yaml" "$NODE_D/etc/kubernetes/manifests/etcd.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
c = d["spec"]["containers"][0]
c["startupProbe"].update(initialDelaySeconds=0, periodSeconds=1, failureThreshold=30)
c["startupProbe"]["httpGet"]["path"] = "/health"
c["livenessProbe"].update(initialDelaySeconds=0, periodSeconds=1, failureThreshold=2)
c["readinessProbe"]["httpGet"]["path"] = "/health"
open(sys.argv[2], "w").write(yaml.safe_dump(d))
PY
standin_start "$NODE_D" "$NS" n1 --image-map '*/etcd:3.5.21-*=/usr/bin/etcd'
ST=$NODE_D/var/lib/kubelet-standin/pods/etcd/status.json
wait_for 30 grep -q 'Liveness probe failed 2 times: HTTP 404' "$ST" ||
	fail "a liveness probe on a path etcd 3.4 does not serve fails"
pass "a liveness probe on a path etcd 3.4 does not serve fails"
expect_in "$ST" '"path": "/livez"' "the liveness probe used the manifest's path"
wait_for 20 test "$(standin_field "$NODE_D" restarts)" -ge 1 || fail "and the container is restarted"
pass "and the container is restarted"
expect_in "$ST" 'Killing container etcd: failed liveness probe' "for the failed liveness probe"

# 5. a pod without hostNetwork: the stand-in has no pod network to give it,
# so it refuses the pod rather than run etcd somewhere no probe can reach.
NODE_E=$T/e
mkdir -p "$NODE_E/etc/kubernetes/manifests"
python3 - "$T/render.yaml" "$T/e.yaml" <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
d["spec"]["hostNetwork"] = False
open(sys.argv[2], "w").write(yaml.safe_dump(d))
PY
mv "$T/e.yaml" "$NODE_E/etc/kubernetes/manifests/etcd.yaml"
standin_start "$NODE_E" "$NS" n1
STE=$NODE_E/var/lib/kubelet-standin/pods/etcd/status.json
wait_for 10 grep -q CreateContainerConfigError "$STE" || fail "a pod without hostNetwork is refused"
pass "a pod without hostNetwork is refused"
expect_in "$STE" "the pod is not hostNetwork" "its status says why"
expect_eq "$(standin_field "$NODE_E" pid)" "" "and no container was started"
