#!/usr/bin/env python3
"""Helpers of hack/check-manifests.sh over `kubectl apply -o json` output.

  manifest-objects.py names FILE.json       one "Kind/namespace/name" a line
  manifest-objects.py same A.json B.json    A and B install the same thing:
      for each object in both, the same rules, webhooks, spec and data,
      labels and annotations aside (Helm's and kustomize's differ), and the
      operator's configuration file aside (the chart writes every value,
      config/operator/operator-config.yaml leaves the defaults out: the
      check compares what mca-operator injects with each)
  manifest-objects.py data FILE.json NAME KEY   a ConfigMap's data[KEY]
"""
import json
import sys


def items(path):
    with open(path) as f:
        doc = json.load(f)
    return doc["items"] if doc.get("kind") == "List" else [doc]


def key(obj):
    meta = obj.get("metadata", {})
    return "%s/%s/%s" % (obj.get("kind"), meta.get("namespace", ""), meta.get("name"))


# Labels differ by design: Helm's instance label is part of the chart's
# selectors, kustomize's install has none.
INSTANCE = "app.kubernetes.io/instance"


def strip(value):
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k != INSTANCE}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def comparable(obj):
    out = {k: v for k, v in obj.items() if k not in ("metadata", "status")}
    if obj.get("kind") == "ConfigMap":
        out.pop("data", None)
    if obj.get("kind") == "Deployment":
        tmeta = out["spec"]["template"].get("metadata", {})
        tmeta.pop("annotations", None)
        tmeta.get("labels", {}).pop(INSTANCE, None)
    return strip(out)


def main():
    if sys.argv[1] == "names":
        for obj in items(sys.argv[2]):
            if obj.get("kind") != "Namespace":
                print(key(obj))
        return 0
    if sys.argv[1] == "data":
        for obj in items(sys.argv[2]):
            if obj.get("kind") == "ConfigMap" and obj["metadata"]["name"] == sys.argv[3]:
                sys.stdout.write(obj["data"][sys.argv[4]])
                return 0
        print("no ConfigMap %s" % sys.argv[3], file=sys.stderr)
        return 1
    a = {key(o): o for o in items(sys.argv[2])}
    b = {key(o): o for o in items(sys.argv[3])}
    bad = 0
    for k in sorted(set(a) & set(b)):
        ca, cb = comparable(a[k]), comparable(b[k])
        if ca != cb:
            bad += 1
            print("%s differs:" % k)
            for field in sorted(set(ca) | set(cb)):
                if ca.get(field) != cb.get(field):
                    print("  %s:\n    chart:     %s\n    kustomize: %s" % (
                        field, json.dumps(ca.get(field), sort_keys=True)[:600],
                        json.dumps(cb.get(field), sort_keys=True)[:600]))
    return 1 if bad else 0


sys.exit(main())
