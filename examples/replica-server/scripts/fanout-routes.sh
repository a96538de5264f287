#!/usr/bin/env bash
# Prints a routing table for mca-sidecar (standalone mode, --routes) that
# makes the replica server multi-cluster: every Deployment request fans out
# over all the clusters of a hack/testenv directory (lists and watches are
# merged, a named read or write goes to the cluster that has the object);
# everything else (/version, discovery) goes to the first cluster.
#
#   scripts/fanout-routes.sh [TESTENV_DIR] > routes.yaml   (default .testenv)
set -euo pipefail

dir=${1:-.testenv}
[[ -f $dir/clusters.json ]] || {
  echo "fanout-routes: $dir/clusters.json not found; start the clusters with make testenv-up" >&2
  exit 1
}
python3 - "$dir/clusters.json" <<'PY'
import json, sys
clusters = json.load(open(sys.argv[1]))["clusters"]
if len(clusters) < 2:
    sys.exit("fanout-routes: a fan-out needs two or more clusters; the testenv has %d" % len(clusters))
names = [c["name"] for c in clusters]
print("apiVersion: mca.x-k8s.io/v1alpha1")
print("kind: RoutingTable")
print("policy: examples/replica-server-fanout")
print("targets:")
for c in clusters:
    print("  - name: %s" % c["name"])
    print("    server: %s" % c["server"])
    print("    caFile: %s" % c["caFile"])
    print("    credentials: {token: {file: %s}}" % c["tokenFile"])
print("defaultTarget: %s" % names[0])
print("rules:")
print("  - name: deployments-everywhere")
print("    match: {resources: [{group: apps, resource: deployments}]}")
print("    targets: [%s]" % ", ".join(names))
PY
