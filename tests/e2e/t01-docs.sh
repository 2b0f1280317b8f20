#!/usr/bin/env bash
# t01: the man pages and the command table agree (bpftool's test that
# sources, man page and completion agree; git's that -h matches the docs).
#
# doc/etcdpilot.8, written by hand, against what the binary says (--help and
# every COMMAND --help):
#   - COMMANDS has one entry per command, and no entry for a command that is
#     not there;
#   - every flag of every command is documented, matched as a whole word
#     (--key is not documented by --key-type): a group's flags (global, node,
#     systemd, client) as an entry of that group's FLAGS section, a command's
#     own flags in its COMMANDS entry (or one it names: "the flags of init")
#     or as an entry of any section; and every flag entry is a real flag;
#   - EXIT STATUS lists exactly the exit codes --help lists;
#   - a command that is not implemented says so in its entry, and only such
#     a command does.
# The pages made from the table (etcdpilot __docs, as the build runs it):
#   - one etcdpilot-CMD(8) per command, every flag of CMD --help as an entry,
#     exactly the exit codes the command can give, "Not implemented yet"
#     exactly where --help says so, and no warning from man --warnings;
#   - etcdpilot.8 carries this binary's version.
. "$(dirname "$0")/lib.sh"

MAN_SRC=${T01_MAN:-$SRC/doc/etcdpilot.8}
run "$EP" --help
expect_rc 0 "--help"
cp "$T/out" "$T/help"
mkdir -p "$T/cmd"
# A command line of --help: "  NAME [ARGS]" padded to 38 columns, then the
# summary; the name is the words before the first that is an argument
# (upper case, [optional], a|b choice).
commands=$(sed -n '/^Commands:/,/^$/p' "$T/help" | tail -n +2 | cut -c3-38 |
	awk '{ n = ""; for (i = 1; i <= NF; i++) { if ($i !~ /^[a-z_-]+$/) break; n = n (n ? " " : "") $i } if (n) print n }')
n=0
while IFS= read -r cmd; do
	[[ -n $cmd ]] || continue
	# shellcheck disable=SC2086
	"$EP" $cmd --help >"$T/cmd/$cmd" 2>&1 || fail "'$cmd --help' exits 0"
	n=$((n + 1))
done <<<"$commands"
((n >= 20)) || fail "--help lists the commands (found $n)"
pass "--help lists $n commands, each answers --help"

mkdir -p "$T/man"
run "$EP" __docs "$T/man" "$MAN_SRC"
expect_rc 0 "__docs writes the man pages"
run "$EP" version
version=$(sed -n '1s/^etcdpilot \([^ ]*\) .*/\1/p' "$T/out")

/usr/bin/python3 - "$T/help" "$T/cmd" "$MAN_SRC" "$T/man" "$version" <<'PY' >"$T/check.out" 2>&1
import os, re, subprocess, sys

help_main, cmd_dir, man_src, man_dir, version = sys.argv[1:]
errors = []
def err(msg):
    errors.append(msg)

def words(line):
    """A roff line as plain words: macro, quotes and font changes gone."""
    line = re.sub(r'^\.[A-Z]+\s*', '', line)
    line = line.replace('"', '')
    line = re.sub(r'\\f[BIRP]', '', line)
    line = line.replace('\\-', '-').replace('\\&', '').replace('\\(oq', "'").replace('\\(cq', "'")
    return re.sub(r'\s+', ' ', line).strip()

def plain(text):
    return '\n'.join(words(l) for l in text.split('\n'))

def flag_in(flag, text):
    """--key in text as a whole word: not --key-type, not --keys-only."""
    return re.search(r'(?<![\w-])' + re.escape(flag) + r'(?![\w-])', text) is not None

# --- what the binary says -------------------------------------------------------
def parse_help(path):
    """{group title: [flags]} and whether it is unimplemented."""
    groups, cur = {}, None
    text = open(path).read()
    for l in text.split('\n'):
        m = re.match(r'^(Flags|Node flags.*|systemd-mode flags|Client flags|Global flags.*):$', l)
        if m:
            cur = m.group(1).split(' (')[0]
            groups[cur] = []
            continue
        m = re.match(r'^  (?:-([a-z]), )?\s*--([a-z0-9-]+)', l)
        if m and cur:
            groups[cur].append('--' + m.group(2))
            if m.group(1):
                groups[cur].append('-' + m.group(1))
        elif not l.strip():
            cur = None
    return groups, 'not implemented yet' in text

cmds = {}
for c in sorted(os.listdir(cmd_dir)):
    cmds[c] = parse_help(os.path.join(cmd_dir, c))
main = open(help_main).read()
help_codes = [int(x) for x in re.findall(r'^  (\d+)  ', main.split('Exit codes:')[1], re.M)]

# --- the hand-written overview ------------------------------------------------------
src = open(man_src).read().split('\n')
sections, sec = {}, None
for i, l in enumerate(src):
    if l.startswith('.SH '):
        sec = words(l)
        sections[sec] = []
    elif sec:
        sections[sec].append(l)

def entries(lines):
    """[(tag words, body text incl. the tag)] of the .TP entries of a section."""
    out = []
    for i, l in enumerate(lines):
        if l == '.TP' and i + 1 < len(lines):
            j = i + 2
            while j < len(lines) and lines[j] != '.TP':
                j += 1
            out.append((words(lines[i + 1]), '\n'.join(lines[i + 1:j])))
    return out

def command_of(tag):
    best = None
    for c in cmds:
        if tag == c or tag.startswith(c + ' '):
            if best is None or len(c) > len(best):
                best = c
    return best

cmd_entries = {}
for tag, body in entries(sections.get('COMMANDS', [])):
    c = command_of(tag)
    if c is None:
        err(f"etcdpilot.8: COMMANDS has an entry '{tag}' for no command of --help")
    elif c in cmd_entries:
        err(f"etcdpilot.8: COMMANDS has two entries for '{c}'")
    else:
        cmd_entries[c] = body
for c in cmds:
    if c not in cmd_entries:
        err(f"etcdpilot.8: COMMANDS has no entry for '{c}'")

group_section = {'Global flags': 'GLOBAL FLAGS', 'Node flags': 'NODE FLAGS',
                 'systemd-mode flags': 'SYSTEMD FLAGS', 'Client flags': 'CLIENT FLAGS'}
def tag_flags(section):
    out = set()
    for tag, _ in entries(sections.get(section, [])):
        out |= {w for w in re.split(r'[ ,]+', tag) if w.startswith('-')}
    return out
all_tags = set()
for s in sections:
    if s.endswith('FLAGS'):
        all_tags |= tag_flags(s)

known = set()
for c, (groups, unimpl) in cmds.items():
    body = plain(cmd_entries.get(c, ''))
    m = re.search(r'flags of (?:\\fB)?([a-z -]+?)(?:\\fR)?[.;,)]', cmd_entries.get(c, '').replace('\\fB', '').replace('\\fR', ''))
    if m and m.group(1).strip() in cmd_entries:
        body += '\n' + plain(cmd_entries[m.group(1).strip()])
    for g, flags in groups.items():
        known |= set(flags)
        for f in flags:
            if g == 'Flags':
                if not (flag_in(f, body) or f in all_tags):
                    err(f"etcdpilot.8: '{c}' flag {f} is documented neither in its COMMANDS entry nor as a flag entry")
            elif f not in tag_flags(group_section[g]):
                err(f"etcdpilot.8: {group_section[g]} has no entry for {f} ('{c}' takes it)")
    says = 'not implemented yet' in body.lower()
    if unimpl and not says:
        err(f"etcdpilot.8: '{c}' is not implemented, and its entry does not say so")
    if says and not unimpl:
        err(f"etcdpilot.8: '{c}' works, and its entry says it is not implemented")
known.add('--version')
for f in sorted(all_tags - known):
    err(f"etcdpilot.8: documents {f}, which no command takes")

man_codes = sorted(int(t) for t, _ in entries(sections.get('EXIT STATUS', [])) if t.isdigit())
if man_codes != sorted(help_codes):
    err(f"etcdpilot.8: EXIT STATUS lists {man_codes}, --help {sorted(help_codes)}")

# --- the pages made from the table ---------------------------------------------------
for c, (groups, unimpl) in cmds.items():
    page = os.path.join(man_dir, 'etcdpilot-' + c.replace(' ', '-') + '.8')
    if not os.path.exists(page):
        err(f"no page etcdpilot-{c.replace(' ', '-')}(8)")
        continue
    lines = open(page).read().split('\n')
    psec, s = {}, None
    for l in lines:
        if l.startswith('.SH '):
            s = words(l)
            psec[s] = []
        elif s:
            psec[s].append(l)
    ptags = set()
    for tag, _ in entries(psec.get('OPTIONS', [])):
        ptags |= {w for w in re.split(r'[ ,]+', tag) if w.startswith('-')}
    for flags in groups.values():
        for f in flags:
            if f not in ptags:
                err(f"etcdpilot-{c.replace(' ', '-')}(8) has no entry for {f}")
    codes = sorted(int(t) for t, _ in entries(psec.get('EXIT STATUS', [])) if t.isdigit())
    want = sorted({0, 1, 2} | ({3} if c == 'health' else set()) | ({4} if c == 'keyspace' else set()))
    if codes != want:
        err(f"etcdpilot-{c.replace(' ', '-')}(8): exit codes {codes}, expected {want}")
    says = 'not implemented yet' in plain('\n'.join(psec.get('DESCRIPTION', []))).lower()
    if says != unimpl:
        err(f"etcdpilot-{c.replace(' ', '-')}(8): says 'not implemented yet': {says}, --help: {unimpl}")
for p in sorted(os.listdir(man_dir)):
    r = subprocess.run(['man', '--warnings', '-E', 'UTF-8', '-l', '-Tutf8', '-Z', os.path.join(man_dir, p)],
                       capture_output=True, text=True, env={**os.environ, 'LC_ALL': 'C.UTF-8', 'MANWIDTH': '80'})
    if r.returncode or r.stderr.strip():
        err(f"man --warnings {p}: {r.stderr.strip()[:300]}")
    r = subprocess.run(['lexgrog', os.path.join(man_dir, p)], capture_output=True, text=True)
    if r.returncode:
        err(f"lexgrog {p}: no NAME section whatis can read: {r.stdout.strip()}")
th = open(os.path.join(man_dir, 'etcdpilot.8')).readline()
if f'"etcdpilot {version}"' not in th:
    err(f"etcdpilot.8 as built names another version than {version}: {th.strip()}")

for e in errors:
    print(e)
print(f"{len(cmds)} commands, {len(known)} flags, exit codes {sorted(help_codes)}, {len(os.listdir(man_dir))} pages")
sys.exit(1 if errors else 0)
PY
rc=$?
cat "$T/check.out"
((rc == 0)) || fail "the man pages and the command table agree"
pass "the man pages and the command table agree: $(tail -1 "$T/check.out")"
