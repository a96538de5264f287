#!/usr/bin/env python3
"""Every YAML block in the docs that claims to be a Kubernetes object (a
fenced ```yaml block with apiVersion and kind) is validated by a real API
server: `kubectl apply --dry-run=server`, after the project's CRDs.

    hack/check-docs-yaml.py --kubectl KUBECTL --kubeconfig FILE

Looks in README.md, docs/*.md and examples/*/README.md. Skips kind
RoutingTable: it is the sidecar's routes file, not an API object (the
sidecar's own tests load that format). A namespace a block names is created
if missing (the test clusters are scratch). Prints one line per block;
exits 1 when any was refused.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOT_API_OBJECTS = {"RoutingTable"}


def blocks(path):
    text = open(path).read()
    # Fences may be indented (a block inside a list item).
    for m in re.finditer(r"^( *)```yaml\n(.*?)^\1```", text, re.S | re.M):
        indent = len(m.group(1))
        body = "\n".join(l[indent:] for l in m.group(2).split("\n"))
        line = text[: m.start()].count("\n") + 1
        kind = re.search(r"^kind:\s*(\S+)", body, re.M)
        if re.search(r"^apiVersion:", body, re.M) and kind:
            yield line, kind.group(1), body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubectl", required=True)
    ap.add_argument("--kubeconfig", required=True)
    a = ap.parse_args()
    k = [a.kubectl, "--kubeconfig", a.kubeconfig]
    r = subprocess.run(k + ["apply", "--server-side", "--field-manager", "mca-docs-check",
                            "-f", os.path.join(ROOT, "crds")], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("check-docs-yaml: installing the CRDs failed: " + r.stderr.strip())
    subprocess.run(k + ["wait", "--for", "condition=Established", "--timeout=60s",
                        "crd/clustertargets.mca.x-k8s.io", "crd/routingpolicies.mca.x-k8s.io"],
                   capture_output=True, text=True)
    files = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))) \
        + sorted(glob.glob(os.path.join(ROOT, "examples", "*", "README.md")))
    checked = failed = 0
    for path in files:
        rel = os.path.relpath(path, ROOT)
        for line, kind, body in blocks(path):
            if kind in NOT_API_OBJECTS:
                print(f"skip {rel}:{line} ({kind}: the sidecar's routes file, not an API object)")
                continue
            ns = re.search(r"^\s+namespace:\s*(\S+)", body, re.M)
            if ns and subprocess.run(k + ["get", "namespace", ns.group(1)],
                                     capture_output=True).returncode != 0:
                subprocess.run(k + ["create", "namespace", ns.group(1)], capture_output=True)
            r = subprocess.run(k + ["apply", "--dry-run=server", "-f", "-"], input=body,
                               capture_output=True, text=True)
            checked += 1
            if r.returncode == 0:
                print(f"ok {rel}:{line} {kind}")
            else:
                failed += 1
                print(f"FAIL {rel}:{line} {kind}: {r.stderr.strip()}")
    print(f"check-docs-yaml: {checked - failed} of {checked} blocks accepted")
    sys.exit(1 if failed or checked == 0 else 0)


if __name__ == "__main__":
    main()
