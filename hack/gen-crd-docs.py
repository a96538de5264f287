#!/usr/bin/env python3
"""Writes docs/crd-reference.md from the CRDs in crds/ (one source of truth).

    hack/gen-crd-docs.py           rewrite docs/crd-reference.md
    hack/gen-crd-docs.py --check   exit 1 (saying how to fix it) when the
                                   file differs from what the CRDs give

Every field of every served version's schema gets a row: its path, type
(with format, enum, bounds and pattern), default, description, and the CEL
rules that apply to it. Needs PyYAML (the e2e venv has it:
`$(hack/e2e-tools python) hack/gen-crd-docs.py`).
"""
import json
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "crd-reference.md")


def one_line(text):
    return " ".join(str(text or "").split()).replace("|", "\\|")


def type_of(schema):
    t = schema.get("type", "")
    if schema.get("x-kubernetes-int-or-string"):
        t = "int or string"
    if t == "array":
        items = schema.get("items", {})
        t = "[]" + (items.get("type", "object") if items else "object")
    if schema.get("format"):
        t += f" ({schema['format']})"
    bounds = []
    for key, label in (("enum", "one of"), ("minimum", "≥"), ("maximum", "≤"),
                       ("minLength", "length ≥"), ("maxLength", "length ≤"),
                       ("minItems", "items ≥"), ("maxItems", "items ≤"),
                       ("maxProperties", "entries ≤")):
        if key in schema:
            v = schema[key]
            v = ", ".join(f"`{x}`" for x in v) if key == "enum" else f"{v}"
            bounds.append(f"{label} {v}")
    if "pattern" in schema:
        bounds.append(f"pattern `{schema['pattern']}`")
    if schema.get("x-kubernetes-list-type"):
        bounds.append(f"list type {schema['x-kubernetes-list-type']}")
    return one_line(t) + ("; " + "; ".join(bounds) if bounds else "")


def rules_of(schema):
    out = []
    for v in schema.get("x-kubernetes-validations", []) or []:
        msg = v.get("message") or v.get("messageExpression") or ""
        out.append(f"`{one_line(v.get('rule'))}`: {one_line(msg)}")
    return out


def walk(schema, path, rows, required=()):
    for name, sub in (schema.get("properties") or {}).items():
        p = f"{path}.{name}" if path else name
        req = " (required)" if name in required else ""
        default = sub.get("default")
        rows.append((p + req, type_of(sub),
                     "" if default is None else f"`{json.dumps(default)}`",
                     one_line(sub.get("description")), rules_of(sub)))
        child = sub
        suffix = ""
        if sub.get("type") == "array" and isinstance(sub.get("items"), dict):
            child = sub["items"]
            suffix = "[]"
            item_rules = rules_of(child)
            if item_rules:
                rows.append((p + "[]", type_of(child), "", one_line(child.get("description")), item_rules))
        if child.get("properties"):
            walk(child, p + suffix, rows, child.get("required") or ())
        addl = child.get("additionalProperties")
        if isinstance(addl, dict):
            rows.append((p + suffix + ".*", type_of(addl), "", one_line(addl.get("description")), rules_of(addl)))


def render():
    lines = [
        "# CRD reference",
        "",
        "Generated from [`crds/`](../crds/) by `hack/gen-crd-docs.py`; CI fails",
        "when it differs from the CRDs (run `$(hack/e2e-tools python)",
        "hack/gen-crd-docs.py` after changing them). Every field, its type and",
        "bounds, its default, what it means, and the CEL rules the API server",
        "checks. Semantics: [ARCHITECTURE.md §2–3](../../shared/design/ARCHITECTURE.md)",
        "is the design; [`sidecar/fanout/README.md`](../sidecar/fanout/README.md)",
        "covers fan-out rules.",
        "",
    ]
    for fname in sorted(os.listdir(os.path.join(ROOT, "crds"))):
        if not fname.endswith(".yaml"):
            continue
        with open(os.path.join(ROOT, "crds", fname)) as f:
            crd = yaml.safe_load(f)
        spec = crd["spec"]
        names = spec["names"]
        lines += [f"## {names['kind']} (`{spec['group']}`, {spec['scope']})", ""]
        short = ", ".join(names.get("shortNames", []) or [])
        lines += [f"Plural `{names['plural']}`" + (f", short names `{short}`" if short else "") +
                  f"; source [`crds/{fname}`](../crds/{fname}).", ""]
        for version in spec["versions"]:
            if not version.get("served"):
                continue
            schema = version["schema"]["openAPIV3Schema"]
            lines += [f"### {spec['group']}/{version['name']}", ""]
            if schema.get("description"):
                lines += [one_line(schema["description"]), ""]
            cols = version.get("additionalPrinterColumns") or []
            if cols:
                lines += ["`kubectl get` columns: " + ", ".join(
                    f"{c['name']} (`{c['jsonPath']}`)" for c in cols) + ".", ""]
            top_rules = rules_of(schema)
            rows = []
            walk(schema, "", rows, schema.get("required") or ())
            rows = [r for r in rows if not r[0].startswith(("apiVersion", "kind", "metadata"))]
            for section in ("spec", "status"):
                sec = [r for r in rows if r[0].split(" ")[0] == section or r[0].startswith(section + ".") or r[0].startswith(section + "[")]
                if not sec:
                    continue
                lines += [f"#### `{section}`", "", "| field | type | default | description |", "| --- | --- | --- | --- |"]
                for path, typ, default, desc, rules in sec:
                    text = desc
                    if rules:
                        text += (" " if text else "") + "Rules: " + "; ".join(rules) + "."
                    lines.append(f"| `{path.replace(' (required)', '')}`{' (required)' if '(required)' in path else ''} | {typ} | {default} | {text} |")
                lines.append("")
            if top_rules:
                lines += ["Object rules: " + "; ".join(top_rules) + ".", ""]
    return "\n".join(lines).rstrip() + "\n"


def main():
    text = render()
    if "--check" in sys.argv[1:]:
        try:
            with open(OUT) as f:
                current = f.read()
        except FileNotFoundError:
            current = ""
        if current != text:
            sys.exit("docs/crd-reference.md is out of date with crds/: run "
                     "`$(hack/e2e-tools python) hack/gen-crd-docs.py` and commit it")
        print("docs/crd-reference.md matches crds/")
        return
    with open(OUT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
