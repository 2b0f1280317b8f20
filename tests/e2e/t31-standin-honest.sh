#!/usr/bin/env bash
# t31: the kubelet stand-in is honest - what would break a pod on a real node
# breaks it here - and init reports such a pod clearly on timeout:
#   - the data dir is not a volume (a hand-edited --data-dir): etcd cannot
#     write it; a pod etcd refuses to start: init times out and quotes etcd's
#     complaint from the container log the kubelet keeps (CRI-framed,
#     /var/log/pods/<ns>_<pod>_<uid>/...);
#   - the etcd-data hostPath is of type Directory and absent: the pod never
#     starts, its status says why;
#   - an image the stand-in cannot map is refused: no container, no log,
#     and init says that the kubelet never started the container;
#   - probes run on their schedule and a failed liveness probe restarts;
#   - a pod without hostNetwork is refused (there is no pod network);
#   - container output is framed as containerd does: a line longer than
#     16 KiB in P chunks, stdout and stderr apart; only the current and the
#     previous log of a container are kept.
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
	"$NODE_A/var/log/pods/" ||
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
	--etcd-version 3.4.23 --timeout 4s --no-rollback
expect_rc 1 "init fails when etcd does not start"
expect_in "$T/err" 'did not become healthy within 4s' "the error names the timeout"
grep '^etcdpilot: init: ' "$T/err" >"$T/error" || fail "init prints its error"
expect_in "$T/error" 'pod kube-system/etcd-n1 \(uid [0-9a-f]{32}\): container etcd has (not )?been restarted' \
	"the error carries the pod and its restarts"
expect_in "$T/error" "etcd's last log lines? \(/var/log/pods/kube-system_etcd-n1_[0-9a-f]{32}/etcd/[0-9]+\.log\): .*error verifying flags, unknown auto-compaction-mode \"bogus\"" \
	"and etcd's own last log line"
expect_in "$T/err" "^etcd's output \(/var/log/pods/kube-system_etcd-n1_[0-9a-f]{32}/etcd/[0-9]+\.log\):" \
	"the report shows where the log is"
standin_stop "$PA2"
# (stopped first: a running stand-in removes old logs as it restarts etcd)
run cri_framed "$(pod_log_dir "$NODE_A2")"/etcd/*.log
expect_rc 0 "the container log is CRI-framed"

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
run in_ns "$NS" "$EP" --root "$NODE_C" init "${FLAGS[@]}" --etcd-version 3.6.6 --timeout 2s --no-rollback
expect_rc 1 "init fails when the image cannot be run"
expect_in "$T/err" "the kubelet has written no log for the etcd pod \(/var/log/pods/kube-system_etcd-n1_\*\): its container was never started" \
	"the error says the container was never started (no log where the kubelet writes them)"
expect_eq "$(standin_field "$NODE_C" reason)" ImageNotMapped "(the stand-in's own status says why)"
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
wait_for 20 standin_field_is "$NODE_D" restarts -ge 1 || fail "and the container is restarted"
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

# 6. container logs as containerd writes them: a 40000-byte line on stdout in
# P chunks of 16 KiB and its F chunk, a line on stderr apart, with the pod's
# UID in the directory name; a restarted container gets <n>.log, and only
# the current and the previous one are kept.
NODE_F=$T/f
mkdir -p "$NODE_F/etc/kubernetes/manifests"
cat >"$NODE_F/etc/kubernetes/manifests/printer.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: printer
  namespace: kube-system
spec:
  hostNetwork: true
  containers:
  - name: printer
    image: example.invalid/printer:1
    command: ["sh", "-c", "printf '%040000d\\n' 7; echo to-stderr >&2; printf 'no newline'"]
YAML
standin_start "$NODE_F" "$NS" n1 --image-map 'example.invalid/printer:*=/bin/sh'
has_logs() { [[ -e $(pod_log_dir "$NODE_F" printer-n1)/printer/3.log ]]; }
wait_for 30 has_logs || fail "the printer container runs and is restarted (3.log)"
pass "the printer container runs and is restarted (3.log)"
# Stopped, so that no restart removes a log while it is read.
standin_stop "$STANDIN_PID"
PD=$(pod_log_dir "$NODE_F" printer-n1)
[[ $(basename "$PD") =~ ^kube-system_printer-n1_[0-9a-f]{32}$ ]] || fail "the pod's log directory is <namespace>_<pod>_<uid> ($PD)"
pass "the pod's log directory is <namespace>_<pod>_<uid>"
mapfile -t LOGS < <(ls "$PD/printer" | sort -n)
[[ ${#LOGS[@]} == 2 && $((${LOGS[0]%.log} + 1)) == "${LOGS[1]%.log}" && ${LOGS[1]%.log} -ge 3 ]] ||
	fail "only the current and the previous log are kept (${LOGS[*]})"
pass "only the current and the previous log are kept (${LOGS[*]})"
PREV=$PD/printer/${LOGS[0]}
run cri_framed "$PREV"
expect_rc 0 "the log is CRI-framed"
run python3 - "$PREV" <<'PY'
import sys
chunks = [l.split(b" ", 3) for l in open(sys.argv[1], "rb").read().split(b"\n")[:-1]]
out = [(tag, text) for _, stream, tag, text in chunks if stream == b"stdout"]
err = [(tag, text) for _, stream, tag, text in chunks if stream == b"stderr"]
assert [t for t, _ in out[:3]] == [b"P", b"P", b"F"], out[:3]
assert [len(x) for _, x in out[:2]] == [16384, 16384], [len(x) for _, x in out[:2]]
line = b"".join(x for _, x in out[:3])
assert line == b"0" * 39999 + b"7", (len(line), line[-5:])
assert out[3:] == [(b"F", b"no newline")], out[3:]
assert err == [(b"F", b"to-stderr")], err
print("ok")
PY
expect_rc 0 "a long line is cut in 16 KiB P chunks ended by F; stdout and stderr apart; a last line without newline is F"
