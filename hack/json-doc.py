#!/usr/bin/python3
"""Write docs/json.md from the JSON Schemas in docs/schemas (one per kind).

    hack/json-doc.py > docs/json.md

The schemas are the one place where a document's fields are written down:
tests/e2e/t02-json.sh validates every command's -o json output against them
and fails when docs/json.md is not what this script makes of them.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "..", "docs", "schemas")

INTRO = """\
# etcdpilot's JSON documents

With `-o json` a command prints exactly one JSON document on standard output;
progress and diagnostics go to standard error, and the exit code is the one
the command gives without `-o json`.  Each document starts with `apiVersion`
(`etcdpilot.io/v1alpha1`, or kubeadm's for the document that is kubeadm's)
and `kind`, but for `KeyspaceObject` (see there).

Field names are an interface: fields are added, never renamed or removed
within an `apiVersion`.  A consumer should ignore fields it does not know.

This file is made by `hack/json-doc.py` from the JSON Schemas in
[`docs/schemas/`](schemas/) (draft 2020-12), one per kind;
`tests/e2e/t02-json.sh` runs every command that has JSON output against a real
etcd and validates what it prints against them.  The package installs this
file as `/usr/share/doc/etcdpilot/json.md`.

| kind | printed by |
|---|---|
"""


def cell(text):
    return text.replace("|", "\\|")


def types(s):
    if "const" in s:
        return "`" + json.dumps(s["const"]) + "`"
    if "$ref" in s:
        return s["$ref"].rsplit("/", 1)[-1]
    t = s.get("type", "any")
    t = t if isinstance(t, list) else [t]
    out = []
    for x in t:
        if x == "array":
            it = s.get("items", {})
            out.append("array of " + types(it) if it else "array")
        else:
            out.append(x)
    return " or ".join(out)


def rows(s, path, required=True):
    props = s.get("properties", {})
    req = set(s.get("required", []))
    for k, v in props.items():
        p = path + k
        note = cell(v.get("description", ""))
        opt = "" if k in req else " (optional)"
        yield f"| `{p}` | {types(v)}{opt} | {note} |"
        yield from rows(v, p + ".")
        if isinstance(v.get("items"), dict) and "properties" in v["items"]:
            yield from rows(v["items"], p + "[].")
        if isinstance(v.get("additionalProperties"), dict):
            yield f"| `{p}.*` | {types(v['additionalProperties'])} | by name |"
            yield from rows(v["additionalProperties"], p + ".*.")
    for pat, v in s.get("patternProperties", {}).items():
        yield f"| `{pat}…` | {types(v)} | every key matching `{pat}` |"
        yield from rows(v, f"{pat}….")


def main():
    kinds = []
    for f in sorted(os.listdir(SCHEMAS)):
        kinds.append(json.load(open(os.path.join(SCHEMAS, f))))
    out = [INTRO.rstrip("\n")]
    for s in kinds:
        first = s["description"].split(":")[0].split(" (")[0].rstrip(".")
        out.append(f"| [`{s['title']}`](#{s['title'].lower()}) | {cell(first)} |")
    for s in kinds:
        out += ["", f"## {s['title']}", "", s["description"], "",
                f"Schema: [`docs/schemas/{s['title']}.json`](schemas/{s['title']}.json)", "",
                "| field | type | meaning |", "|---|---|---|"]
        out += list(rows(s, ""))
        for name, d in s.get("$defs", {}).items():
            out += ["", f"`{name}`:", "", "| field | type | meaning |", "|---|---|---|"]
            out += list(rows(d, ""))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
