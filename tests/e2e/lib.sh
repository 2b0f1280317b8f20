# tests/e2e/lib.sh - shared by every scenario (in the spirit of git's
# test-lib.sh).  Source it first thing:
#
#   . "$(dirname "$0")/lib.sh"
#
# It gives the scenario a scratch directory ($T), a cleanup that always runs
# (register more with `on_exit CMD`), assertions that say what they expected,
# and a closing summary line.  Each scenario is one ctest test; a failed
# assertion ends it with exit 1.
set -uo pipefail
# Debian's tools first: python3 is /usr/bin/python3 with python3-yaml and
# python3-jsonschema from hack/deps.sh, not whatever a user's PATH puts
# ahead of it (a pyenv shim costs 0.3 s a call and has its own modules).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}

EP=${EP_BINARY:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/etcdpilot}
SRC=${EP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SCENARIO=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/ep-${SCENARIO}.XXXXXX")
EP_PASSED=0
EP_FAILED=0
_ep_exit_cmds=()

on_exit() { _ep_exit_cmds+=("$*"); }

_ep_cleanup() {
	local rc=$?
	local i
	for ((i = ${#_ep_exit_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_ep_exit_cmds[i]}" >/dev/null 2>&1 || true
	done
	if [[ $rc -eq 0 && -z ${EP_KEEP:-} ]]; then
		rm -rf "$T"
	else
		echo "# scratch kept in $T" >&2
	fi
	echo "$SCENARIO: $EP_PASSED passed, $EP_FAILED failed"
	exit $rc
}
trap _ep_cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '# %s\n' "$*" >&2; }
pass() { EP_PASSED=$((EP_PASSED + 1)); printf 'ok - %s\n' "$*"; }
fail() { EP_FAILED=$((EP_FAILED + 1)); printf 'not ok - %s\n' "$*"; exit 1; }

# run CMD...: runs it, keeps stdout in $T/out, stderr in $T/err, code in $RC
run() {
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
	return 0
}

# expect_rc N DESCRIPTION: the last `run` exited N
expect_rc() {
	if [[ $RC -ne $1 ]]; then
		echo "--- stdout" >&2; cat "$T/out" >&2
		echo "--- stderr" >&2; cat "$T/err" >&2
		fail "$2 (exit $RC, expected $1)"
	fi
	pass "$2"
}

# expect_in FILE REGEX DESCRIPTION
expect_in() {
	if ! grep -Eq -- "$2" "$1"; then
		echo "--- $1" >&2; cat "$1" >&2
		fail "$3 (no /$2/ in $(basename "$1"))"
	fi
	pass "$3"
}

expect_not_in() {
	if grep -Eq -- "$2" "$1"; then
		echo "--- $1" >&2; cat "$1" >&2
		fail "$3 (/$2/ found in $(basename "$1"))"
	fi
	pass "$3"
}

# expect_eq GOT WANT DESCRIPTION
expect_eq() {
	[[ "$1" == "$2" ]] || fail "$3 (got '$1', want '$2')"
	pass "$3"
}

# tree_digest DIR: one line per file with mode and content hash, to prove
# that a failed command changed nothing.
tree_digest() {
	(cd "$1" && find . -printf '%p %m %y\n' | sort && find . -type f -print0 | sort -z |
		xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.1
	done
}

# free_port: an unused TCP port on loopback
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
