#!/usr/bin/env python3
"""Control-plane figures for issue 5, measured against hack/testenv clusters.

1. Policy change to routing: `kubectl apply` of an edited RoutingPolicy until
   a subscribed mca-sidecar serves the new table (its /routes version
   changes), N times; p50 and max.
2. Operator memory with P RoutingPolicies and Q injected Pods on home
   (VmRSS and VmHWM of the mca-operator process once every table is built).

Usage: bench/operator_bench.py [--build build] [--testenv DIR] [--changes 20]
                               [--policies 100] [--pods 1000] [--json FILE]
The clusters must be running (`hack/testenv up --clusters 3 --dir DIR`).
Everything it creates lives in one namespace (and cluster-scoped targets
with the same suffix), removed at the end.
"""
import argparse
import base64
import json
import os
import random
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(args, stdin=None, check=True):
    r = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"operator_bench: {' '.join(args[:6])}...: {r.stderr.strip()}")
    return r.stdout


class Env:
    def __init__(self, testenv):
        with open(os.path.join(testenv, "clusters.json")) as f:
            doc = json.load(f)
        self.clusters = {c["name"]: c for c in doc["clusters"]}
        self.kubectl_bin = sh([os.path.join(ROOT, "hack/testenv"), "kubectl",
                               "--dir", testenv, "--print-path"], check=False).strip()
        if not self.kubectl_bin or not os.path.exists(self.kubectl_bin):
            found = [os.path.join(dp, f) for dp, _, fs in
                     os.walk(os.path.expanduser("~/.cache/mca/testenv"))
                     for f in fs if f == "kubectl"]
            if not found:
                sys.exit("operator_bench: no testenv kubectl; run make testenv-up")
            self.kubectl_bin = found[0]

    def kubectl(self, cluster, *args, stdin=None, check=True):
        return sh([self.kubectl_bin, "--kubeconfig",
                   self.clusters[cluster]["kubeconfig"], *args], stdin, check)

    def apply(self, obj):
        self.kubectl("home", "apply", "-f", "-", stdin=json.dumps(obj))


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def routes_version(admin):
    try:
        return json.loads(get(f"http://127.0.0.1:{admin}/routes")).get("version")
    except Exception:
        return None


def wait_for(text, path, timeout=30):
    until = time.time() + timeout
    while time.time() < until:
        with open(path) as f:
            out = f.read()
        if text in out:
            return out
        time.sleep(0.05)
    sys.exit(f"operator_bench: '{text}' never appeared in {path}:\n{out}")


def rss_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--testenv", default=os.path.join(ROOT, ".testenv"))
    ap.add_argument("--changes", type=int, default=20)
    ap.add_argument("--policies", type=int, default=100)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--json")
    a = ap.parse_args()

    env = Env(a.testenv)
    sfx = "".join(random.choice(string.ascii_lowercase) for _ in range(6))
    ns = f"mca-bench-{sfx}"
    work = tempfile.mkdtemp(prefix="mca-operator-bench-")
    procs = []
    try:
        env.kubectl("home", "apply", "--server-side", "--force-conflicts",
                    "-f", os.path.join(ROOT, "crds"))
        env.kubectl("home", "wait", "--for=condition=Established",
                    "crd/routingpolicies.mca.x-k8s.io", "crd/clustertargets.mca.x-k8s.io")
        env.kubectl("home", "create", "namespace", ns)
        env.kubectl("home", "-n", ns, "create", "serviceaccount", "app-sa")
        for name, c in env.clusters.items():
            ca = base64.b64encode(open(c["caFile"], "rb").read()).decode()
            token = open(c["tokenFile"]).read().strip()
            kc = (f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
                  f"    server: {c['server']}\n    certificate-authority-data: {ca}\n"
                  f"users:\n- name: u\n  user:\n    token: {token}\n"
                  f"contexts:\n- name: c\n  context: {{cluster: c, user: u}}\n"
                  f"current-context: c\n")
            env.apply({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": f"{name}-kubeconfig", "namespace": ns},
                       "stringData": {"kubeconfig": kc}})
            env.apply({"apiVersion": "mca.x-k8s.io/v1alpha1", "kind": "ClusterTarget",
                       "metadata": {"name": f"{name}-{sfx}"},
                       "spec": {"server": c["server"],
                                "credentials": {"secretRef": {"name": f"{name}-kubeconfig"}},
                                "allowedNamespaces": {"names": [ns]}}})

        def policy(name, selector, east, note=""):
            return {"apiVersion": "mca.x-k8s.io/v1alpha1", "kind": "RoutingPolicy",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"podSelector": {"matchLabels": selector},
                             "defaultTarget": f"home-{sfx}",
                             "rules": [{"name": "east" + note,
                                        "match": {"labelSelector": {"matchLabels": {"region": "east"}}},
                                        "target": east},
                                       {"name": "west",
                                        "match": {"labelSelector": {"matchLabels": {"region": "west"}}},
                                        "target": f"west-{sfx}"}]}}

        env.apply(policy("by-region", {"app": "demo"}, f"east-{sfx}"))
        env.apply({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "app-0", "namespace": ns,
                                "labels": {"app": "demo", "mca.k8s.io/inject": "true"}},
                   "spec": {"serviceAccountName": "app-sa",
                            "containers": [{"name": "app", "image": "app:1"}]}})

        key, crt = os.path.join(work, "tls.key"), os.path.join(work, "tls.crt")
        sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
            "-days", "1", "-subj", "/CN=mca-operator", "-addext",
            "subjectAltName=IP:127.0.0.1"])
        op_log = os.path.join(work, "operator.log")
        op = subprocess.Popen(
            [os.path.join(a.build, "operator/mca-operator"), "--kubeconfig",
             env.clusters["home"]["kubeconfig"], "--namespace", ns,
             "--grpc-address", "127.0.0.1:0", "--grpc-cert", crt, "--grpc-key", key,
             "--admin-address", "127.0.0.1:0", "--no-leader-election"],
            stdout=open(op_log, "w"), stderr=subprocess.STDOUT)
        procs.append(op)
        line = wait_for("admin on", op_log)
        grpc_port = line.split("routing stream on 127.0.0.1:")[1].split(",")[0]

        token_file = os.path.join(work, "token")
        with open(token_file, "w") as f:
            f.write(env.kubectl("home", "-n", ns, "create", "token", "app-sa",
                                "--audience", "mca-operator", "--bound-object-kind",
                                "Pod", "--bound-object-name", "app-0").strip())
        sc_log = os.path.join(work, "sidecar.log")
        sc = subprocess.Popen(
            [os.path.join(a.build, "sidecar/mca-sidecar"), "--operator",
             f"127.0.0.1:{grpc_port}", "--operator-ca", crt, "--token-file", token_file,
             "--port", "0", "--admin-address", "127.0.0.1:0",
             "--pod-sa-dir", os.path.join(work, "pod-sa"), "--namespace", ns],
            stdout=open(sc_log, "w"), stderr=subprocess.STDOUT)
        procs.append(sc)
        line = wait_for("admin on", sc_log)
        admin = line.split("admin on ")[1].split(",")[0].rsplit(":", 1)[1]
        until = time.time() + 30
        while routes_version(admin) is None and time.time() < until:
            time.sleep(0.05)

        # 1. Policy change to the sidecar routing by it.
        latencies = []
        for i in range(a.changes):
            before = routes_version(admin)
            east = f"west-{sfx}" if i % 2 == 0 else f"east-{sfx}"
            doc = json.dumps(policy("by-region", {"app": "demo"}, east))
            t0 = time.monotonic()
            env.kubectl("home", "apply", "-f", "-", stdin=doc)
            while routes_version(admin) == before:
                if time.monotonic() - t0 > 30:
                    sys.exit("operator_bench: the sidecar never saw the change")
                time.sleep(0.002)
            latencies.append(time.monotonic() - t0)
        # kubectl's own run time is part of what a user waits for; measure it
        # alone too so the control plane's share can be told apart.
        t0 = time.monotonic()
        env.kubectl("home", "-n", ns, "get", "routingpolicy", "by-region", "-o", "name")
        kubectl_alone = time.monotonic() - t0

        # 2. Memory with many policies and pods.
        idle_rss = rss_kb(op.pid, "VmRSS")
        items = []
        for i in range(a.policies):
            items.append(policy(f"group-{i}", {"group": f"g{i}"}, f"east-{sfx}"))
        for i in range(a.pods):
            items.append({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": f"pod-{i}", "namespace": ns,
                                       "labels": {"group": f"g{i % a.policies}",
                                                  "mca.k8s.io/inject": "true"}},
                          "spec": {"serviceAccountName": "app-sa",
                                   "containers": [{"name": "app", "image": "app:1"}]}})
        t0 = time.monotonic()
        for chunk in range(0, len(items), 200):
            env.apply({"apiVersion": "v1", "kind": "List", "items": items[chunk:chunk + 200]})
        applied = time.monotonic() - t0
        # Settled when every pod has a table: the log names each pod's table.
        until = time.time() + 300
        while time.time() < until:
            with open(op_log) as f:
                compiled = sum(1 for l in f if " table " in l and "/pod-" in l)
            if compiled >= a.pods:
                break
            time.sleep(0.5)
        time.sleep(2)
        scaled_rss = rss_kb(op.pid, "VmRSS")
        peak_rss = rss_kb(op.pid, "VmHWM")

        lat = sorted(latencies)
        result = {
            "changes": len(lat),
            "apply_to_routing_p50_ms": round(statistics.median(lat) * 1000, 1),
            "apply_to_routing_max_ms": round(lat[-1] * 1000, 1),
            "apply_to_routing_min_ms": round(lat[0] * 1000, 1),
            "kubectl_get_alone_ms": round(kubectl_alone * 1000, 1),
            "policies": a.policies, "pods": a.pods,
            "pods_with_tables": compiled,
            "objects_apply_seconds": round(applied, 1),
            "operator_rss_idle_mib": round(idle_rss / 1024, 1),
            "operator_rss_scaled_mib": round(scaled_rss / 1024, 1),
            "operator_rss_peak_mib": round(peak_rss / 1024, 1),
        }
        for k, v in result.items():
            print(f"{k:28} {v}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=2)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for name in env.clusters:
            env.kubectl("home", "delete", "clustertarget", f"{name}-{sfx}",
                        "--ignore-not-found", "--wait=false", check=False)
        # The test clusters run no namespace controller: what is in the
        # namespace must go first, or it stays behind and later runs see it.
        env.kubectl("home", "-n", ns, "delete", "pods,routingpolicies,secrets,serviceaccounts",
                    "--all", "--wait=false", check=False)
        env.kubectl("home", "delete", "namespace", ns, "--wait=false", check=False)


if __name__ == "__main__":
    main()
