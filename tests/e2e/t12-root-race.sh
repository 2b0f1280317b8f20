#!/usr/bin/env bash
# t12-root-race: a directory under --root swapped for a symlink to a
# directory outside the root, again and again, while etcdpilot writes
# there (issue 10, item 2).  A background loop swaps R/etc/kubernetes/pki/etcd,
# R/etc/kubernetes/pki and R/etc/kubernetes/manifests, one at a time, between
# the real directory and a symlink to $OUT (an absolute link, then a relative
# one that climbs out of the root), holding each state a random sub-millisecond
# while, for a bounded time, 'certs renew all' rewrites every pair, 'certs
# generate' makes a PKI in a new directory under pki/, and 'init phase etcd' writes a
# manifest into a new directory under manifests/ (every other time the whole
# 'init', which fails its wait without a kubelet and rolls back through the
# swapped directories: it may remove only what it made).  Runs may fail (a directory
# that is a symlink at the wrong moment is refused); nothing may ever land in
# $OUT.  EP_RACE_SECONDS (default 15) bounds the loop (it goes on, up to a
# minute more, until each kind of write has gone through the swapped
# directories at least once).  Then the script runs itself again (for two
# thirds of that) as on a kernel without openat2 (no-openat2.py: a seccomp
# filter, inherited by every command), where etcdpilot resolves paths by its
# own walk.
. "$(dirname "$0")/lib.sh"

R=$T/root
OUT=$T/outside
mkdir -p "$OUT"
NODE=(--root "$R" --name cp1 --advertise-address 127.0.12.1 --key-type ecdsa-p256)

run "$EP" certs generate "${NODE[@]}"
expect_rc 0 "a PKI to renew"
mkdir -p "$R/etc/kubernetes/manifests"

# The swapper: renameat2(RENAME_EXCHANGE) swaps a directory and a symlink in one step, so
# that each directory is always either itself or the link, never absent.
cat >"$T/swap.py" <<'EOF'
import ctypes, os, random, sys, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
def exchange(a, b):
    if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE) != 0:
        sys.exit("renameat2 %s %s: %s" % (a, b, os.strerror(ctypes.get_errno())))
out, stop, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
n = 0
while not os.path.exists(stop):
    for d in dirs:
        lnk = d + ".lnk"
        target = out if n % 2 == 0 else os.path.relpath(out, os.path.dirname(d))
        if os.path.lexists(lnk):
            os.unlink(lnk)
        os.symlink(target, lnk)
        exchange(d, lnk)           # d is the symlink now
        time.sleep(random.uniform(0, 0.001))
        exchange(d, lnk)           # d is the directory again
        time.sleep(random.uniform(0, 0.001))
        n += 1
print(n)
EOF
escaped() { [[ -n $(find "$OUT" -mindepth 1 -print -quit) ]]; }

# race PHASE SECONDS CMD...: the swapper against renew/generate/init run through CMD
race() {
	local phase=$1 secs=$2
	shift 2
	local ep=("$@")
	rm -f "$T/stop"
	python3 "$T/swap.py" "$OUT" "$T/stop" "$R/etc/kubernetes/pki/etcd" "$R/etc/kubernetes/pki" \
		"$R/etc/kubernetes/manifests" >"$T/swaps" 2>&1 &
	SWAPPER=$!
	on_exit "touch '$T/stop'; wait $SWAPPER"
	local deadline=$((SECONDS + secs)) cap=$((SECONDS + secs + 60)) runs=0 renewed=0 generated=0
	local inits=0 manifests=0
	# Until the deadline, and past it until every kind of write went through at least once.
	while ((SECONDS < cap && (SECONDS < deadline || renewed == 0 || generated == 0 || manifests == 0))); do
		runs=$((runs + 1))
		"${ep[@]}" certs renew all "${NODE[@]}" >/dev/null 2>&1 && renewed=$((renewed + 1))
		escaped && fail "$phase, run $runs (certs renew all): files appeared outside the root: $(find "$OUT" -mindepth 1 | head -5)"
		"${ep[@]}" certs generate "${NODE[@]}" --cert-dir "/etc/kubernetes/pki/$phase-g$runs" \
			>/dev/null 2>&1 && generated=$((generated + 1))
		escaped && fail "$phase, run $runs (certs generate): files appeared outside the root: $(find "$OUT" -mindepth 1 | head -5)"
		if ((runs % 2 == 1)); then
			# A private network namespace: preflight binds the member's ports.  'init
			# phase etcd' writes the manifest and stops there; the whole init (no
			# kubelet here) fails its wait and rolls back through the swapped
			# directories: what it removes must be only what it made.
			local what=(init phase etcd)
			((runs % 4 == 3)) && what=(init --timeout 1s)
			unshare -n sh -c 'ip link set lo up && exec "$@"' sh "${ep[@]}" "${what[@]}" "${NODE[@]}" \
				--etcd-version 3.5.21 --manifest-dir "/etc/kubernetes/manifests/$phase-m$runs" \
				>/dev/null 2>&1
			inits=$((inits + 1))
			escaped && fail "$phase, run $runs (init): files appeared outside the root: $(find "$OUT" -mindepth 1 | head -5)"
			[[ -e $R/etc/kubernetes/manifests/$phase-m$runs/etcd.yaml ]] && manifests=$((manifests + 1))
		fi
	done
	touch "$T/stop"
	wait $SWAPPER
	local swaps
	swaps=$(cat "$T/swaps")
	[[ $swaps =~ ^[0-9]+$ ]] || fail "$phase: the swapper failed: $swaps"
	say "$phase: $runs rounds, $swaps swaps: renew succeeded $renewed times, generate $generated, init ran $inits times"

	expect_eq "$(find "$OUT" -mindepth 1 | wc -l)" 0 "$phase: after $runs rounds against $swaps swaps, nothing was written outside the root"
	# The race was real: the writes happened, into the directories that were swapped.
	((swaps > 100)) || fail "$phase: the swapper swapped only $swaps times"
	pass "$phase: the directories were swapped $swaps times"
	((renewed > 0 && generated > 0)) || fail "$phase: no renew ($renewed) or no generate ($generated) succeeded during the race"
	pass "$phase: certs renew and generate wrote through the swapped directories ($renewed and $generated times)"
	((manifests > 0)) || fail "$phase: no init wrote its manifest during the race"
	pass "$phase: init wrote $manifests manifests into the swapped directory"
	expect_eq "$(find "$R" -name '*.ep-pair' | wc -l)" 0 "$phase: no pair was left half-changed"
}

SECS=${EP_RACE_SECONDS:-15}
if [[ -n ${EP_T12_WALK:-} ]]; then
	race walk "$SECS" "$EP"
	exit 0
fi
race openat2 "$SECS" "$EP"

# The same on a kernel without openat2: the component-by-component walk.
NO_OPENAT2=$(dirname "$0")/no-openat2.py
python3 "$NO_OPENAT2" || fail "the seccomp filter does not hide openat2"
run python3 "$NO_OPENAT2" env EP_T12_WALK=1 EP_RACE_SECONDS=$((SECS * 2 / 3)) bash "$0"
sed 's/^/  /' "$T/out"
expect_rc 0 "the same race without openat2 (the walk): nothing outside the root"
