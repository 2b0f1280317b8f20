#!/usr/bin/env bash
# The package as an administrator meets it:
#
#   tests/package/install.sh DEB
#
# 1. lintian: no error (run as 'nobody' when we are root, as lintian wants);
#    the tags it prints are listed, and every one must be in ACCEPTED below.
# 2. A fresh Debian root made by mmdebstrap (minbase and the package's
#    Depends, cached as $EP_CHROOT_TAR; needs Debian's mirror the first time):
#    dpkg -i, etcdpilot --version, man -w etcdpilot, dpkg -r, and nothing of
#    the package is left (the root's files compared before and after).
#    Without mmdebstrap, or when it cannot make the root (offline), this step
#    says so and the machine's own root is the only one tested (3).
# 3. This machine: dpkg -i (refused when an etcdpilot package is installed
#    already: it is not ours to replace), --version, man -w, the installed
#    bash completion through bash-completion's loader (t03-completion), the
#    e2e smoke test (init + health) with the installed /usr/sbin/etcdpilot,
#    then dpkg -r and nothing left.
set -uo pipefail
DEB=$(readlink -f "${1:?usage: tests/package/install.sh DEB}")
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
EP_CHROOT_TAR=${EP_CHROOT_TAR:-$(dirname "$DEB")/bookworm-minbase.tar.zst}
T=$(mktemp -d /tmp/ep-package.XXXXXX)
ok=0
pass() { ok=$((ok + 1)); printf 'ok - %s\n' "$*"; }
fail() { printf 'not ok - %s\n' "$*"; echo "package: $ok passed, 1 failed"; exit 1; }
cleanup() {
	[[ -d $T/root ]] && umount "$T/root/proc" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

[[ $(id -u) -eq 0 ]] || fail "tests/package/install.sh runs as root (dpkg -i)"
pkg=$(dpkg-deb -f "$DEB" Package)
files=$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }')
[[ -n $files ]] || fail "dpkg-deb -c lists the files of $DEB"

# --- 1. lintian ------------------------------------------------------------------
# Accepted tags, and why:
#   binary-has-unneeded-section (I): CPack strips with plain 'strip', which
#     leaves .comment (the compiler's name); dh_strip's --remove-section is
#     debhelper's, which a CPack package does not use.  Information only.
ACCEPTED='binary-has-unneeded-section'
cp "$DEB" "$T/" && chmod 755 "$T" && chmod 644 "$T/$(basename "$DEB")"
lintian_cmd=(lintian --pedantic -I -E "$T/$(basename "$DEB")")
[[ $(id -u) -eq 0 ]] && lintian_cmd=(runuser -u nobody -- env HOME="$T" "${lintian_cmd[@]}")
"${lintian_cmd[@]}" >"$T/lintian" 2>&1
lrc=$?
sed 's/^/  lintian: /' "$T/lintian"
grep -q '^E: ' "$T/lintian" && fail "lintian: no error"
((lrc == 0)) || fail "lintian ran (exit $lrc)"
pass "lintian: no error"
while read -r sev _ tag _; do
	[[ $sev == [WIPX]: ]] || continue
	[[ " $ACCEPTED " == *" $tag "* ]] || fail "lintian: $tag is not an accepted tag (tests/package/install.sh lists them)"
done <"$T/lintian"
pass "lintian: every tag is an accepted one (${ACCEPTED:-none})"

# installed_ok ROOT RUN...: the package's files are in ROOT; --version and man -w answer
installed_ok() {
	local root=$1 f
	shift
	for f in $files; do
		[[ -e $root$f ]] || fail "$f installed (in $root)"
	done
	"$@" etcdpilot --version >"$T/version" 2>&1 || { cat "$T/version"; fail "etcdpilot --version"; }
	head -1 "$T/version" | grep -q "^etcdpilot $(dpkg-deb -f "$DEB" Version) " ||
		fail "--version names the package's version: $(head -1 "$T/version")"
	[[ $("$@" sh -c 'command -v etcdpilot') == /usr/sbin/etcdpilot ]] ||
		fail "etcdpilot is /usr/sbin/etcdpilot on the PATH"
	local page
	page=$("$@" man -w etcdpilot 2>&1) || fail "man -w etcdpilot: $page"
	[[ $page == /usr/share/man/man8/etcdpilot.8.gz ]] || fail "man -w etcdpilot: $page"
	page=$("$@" man -w 8 etcdpilot-certs-renew 2>&1) || fail "man -w etcdpilot-certs-renew: $page"
	pass "$(head -1 "$T/version" | cut -c1-60)...; man -w: $page"
}

# removed_ok ROOT RUN...: dpkg knows the package no more and none of its files is left
removed_ok() {
	local root=$1 f status
	shift
	status=$("$@" dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)
	[[ -z $status || $status == "unknown ok not-installed" || $status == "deinstall ok not-installed" ]] ||
		fail "dpkg -r leaves the package as '$status'"
	for f in $files; do
		[[ -e $root$f ]] && fail "$f is left after dpkg -r"
	done
	for f in /usr/share/doc/$pkg /usr/share/zsh/vendor-completions/_etcdpilot; do
		[[ -e $root$f ]] && fail "$f is left after dpkg -r"
	done
	pass "dpkg -r: the package and its $(wc -w <<<"$files") files are gone"
}

# --- 2. a fresh root ----------------------------------------------------------------
snapshot() { # the root's files, but dpkg's and man-db's own records
	(cd "$1" && find . -xdev \( -path ./proc -o -path ./var/lib/dpkg -o -path ./var/log \
		-o -path ./var/cache/man -o -path ./tmp \) -prune -o -print | LC_ALL=C sort)
}
if [[ ! -s $EP_CHROOT_TAR ]] && command -v mmdebstrap >/dev/null; then
	echo "# making a fresh Debian root with mmdebstrap (once; kept as $EP_CHROOT_TAR)"
	deps=$(dpkg-deb -f "$DEB" Depends | sed 's/([^)]*)//g; s/ //g')
	if mmdebstrap --quiet --variant=minbase --include="man-db,$deps" bookworm "$T/root.tar.zst" \
		>"$T/mmdebstrap.log" 2>&1; then
		mv "$T/root.tar.zst" "$EP_CHROOT_TAR"
	else
		tail -5 "$T/mmdebstrap.log" | sed 's/^/  mmdebstrap: /'
	fi
fi
if [[ -s $EP_CHROOT_TAR ]]; then
	mkdir "$T/root" && tar -C "$T/root" -xf "$EP_CHROOT_TAR" || fail "unpack $EP_CHROOT_TAR"
	mount -t proc proc "$T/root/proc" || fail "mount /proc in the fresh root"
	snapshot "$T/root" >"$T/before"
	cp "$DEB" "$T/root/tmp/pkg.deb"
	CH=(chroot "$T/root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8)
	"${CH[@]}" dpkg -i /tmp/pkg.deb >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out"; fail "dpkg -i in a fresh root"; }
	pass "dpkg -i in a fresh Debian root (minbase, man-db and the Depends)"
	installed_ok "$T/root" "${CH[@]}"
	"${CH[@]}" dpkg -r "$pkg" >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out"; fail "dpkg -r in the fresh root"; }
	removed_ok "$T/root" "${CH[@]}"
	rm -f "$T/root/tmp/pkg.deb"
	snapshot "$T/root" >"$T/after"
	diff -u "$T/before" "$T/after" >"$T/diff" || { cat "$T/diff"; fail "the fresh root is as it was before dpkg -i"; }
	pass "the fresh root is file for file as before dpkg -i"
	umount "$T/root/proc"
else
	echo "# no fresh root (mmdebstrap missing or offline): only this machine is tested"
fi

# --- 3. this machine --------------------------------------------------------------------
status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)
[[ $status == *" installed" ]] && fail "an $pkg package is installed on this machine already: not ours to replace"
dpkg -i "$DEB" >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out"; fail "dpkg -i on this machine"; }
trap 'dpkg -r "$pkg" >/dev/null 2>&1; cleanup' EXIT
pass "dpkg -i on this machine"
installed_ok "" env
env -u EP_BINARY EP_COMPLETION=installed EP_BINARY=/usr/sbin/etcdpilot \
	bash "$SRC/tests/e2e/t03-completion.sh" || fail "the installed bash completion (t03)"
pass "the installed bash completion, through bash-completion's loader"
zsh_file=/usr/share/zsh/vendor-completions/_etcdpilot
head -1 "$zsh_file" | grep -q '^#compdef etcdpilot' || fail "$zsh_file starts with #compdef etcdpilot"
pass "$zsh_file is a zsh completion for etcdpilot"
EP_SOURCE_DIR=$SRC EP_BINARY=/usr/sbin/etcdpilot bash "$HERE/smoke.sh" ||
	fail "the e2e smoke test (init + health) with /usr/sbin/etcdpilot"
pass "the e2e smoke test (init + health) with the installed /usr/sbin/etcdpilot"
dpkg -r "$pkg" >"$T/dpkg.out" 2>&1 || { cat "$T/dpkg.out"; fail "dpkg -r on this machine"; }
trap cleanup EXIT
removed_ok "" env
echo "package: $ok passed, 0 failed"
