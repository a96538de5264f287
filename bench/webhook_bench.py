#!/usr/bin/env python3
"""Injection webhook latency (issue 6), against hack/testenv's `home`.

Starts an mca-operator (its own CA, --no-leader-election) and measures:
1. direct: N AdmissionReviews (v1, a Pod as the ServiceAccount plugin leaves
   it) POSTed to https://127.0.0.1:PORT/mutate over one keep-alive TLS
   connection that trusts only the operator's CA bundle; p50/p99/max.
2. through the API server: N dry-run Pod creations (POST ...?dryRun=All with
   the admin client certificate, keep-alive) with a MutatingWebhookConfiguration
   sending them to the operator; p50/p99/max end to end, and the API server's
   own mean webhook call time from apiserver_admission_webhook_admission_duration_seconds.

Usage: bench/webhook_bench.py [--build build] [--testenv DIR] [-n 1000] [--json FILE]
The clusters must be running (`make testenv-up`). Everything it creates is
removed at the end.
"""
import argparse
import base64
import http.client
import json
import os
import random
import ssl
import string
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(args, stdin=None, check=True):
    r = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"webhook_bench: {' '.join(args[:6])}...: {r.stderr.strip()}")
    return r.stdout


def kubectl_path(testenv):
    out = sh([os.path.join(ROOT, "hack/testenv"), "kubectl", "--dir", testenv,
              "--print-path"], check=False).strip()
    if out and os.path.exists(out):
        return out
    for dp, _, fs in os.walk(os.path.expanduser("~/.cache/mca/testenv")):
        if "kubectl" in fs:
            return os.path.join(dp, "kubectl")
    sys.exit("webhook_bench: no testenv kubectl; run make testenv-up")


def wait_for(text, path, timeout=60):
    until = time.time() + timeout
    out = ""
    while time.time() < until:
        with open(path) as f:
            out = f.read()
        if text in out:
            return out
        time.sleep(0.05)
    sys.exit(f"webhook_bench: '{text}' never appeared in {path}:\n{out}")


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def summary(ms):
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 3),
            "p99_ms": round(percentile(ms, 99), 3), "max_ms": round(max(ms), 3)}


def pod(ns, i):
    # What the ServiceAccount admission plugin hands a webhook.
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"bench-{i}", "namespace": ns,
                         "labels": {"app": "bench", "mca.k8s.io/inject": "true"}},
            "spec": {"serviceAccountName": "default",
                     "containers": [{"name": "app", "image": "app:1",
                                     "env": [{"name": "LOG_LEVEL", "value": "info"}],
                                     "volumeMounts": [{
                                         "name": "kube-api-access-abcde",
                                         "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                         "readOnly": True}]}],
                     "volumes": [{"name": "kube-api-access-abcde",
                                  "projected": {"sources": [
                                      {"serviceAccountToken": {"path": "token",
                                                               "expirationSeconds": 3607}}]}}]}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--testenv", default=os.path.join(ROOT, ".testenv"))
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--json")
    a = ap.parse_args()

    with open(os.path.join(a.testenv, "clusters.json")) as f:
        home = {c["name"]: c for c in json.load(f)["clusters"]}["home"]
    kubectl_bin = kubectl_path(a.testenv)

    def kubectl(*args, stdin=None, check=True):
        return sh([kubectl_bin, "--kubeconfig", home["kubeconfig"], *args], stdin, check)

    sfx = "".join(random.choice(string.ascii_lowercase) for _ in range(6))
    ns, app_ns, webhook = f"mca-whb-{sfx}", f"mca-whb-app-{sfx}", f"mca-whb-{sfx}"
    work = tempfile.mkdtemp(prefix="mca-webhook-bench-")
    op = None
    result = {}
    try:
        kubectl("create", "namespace", ns)
        kubectl("create", "namespace", app_ns)
        config = os.path.join(work, "config.yaml")
        with open(config, "w") as f:
            f.write(f"webhook:\n  configurationName: {webhook}\n"
                    "certificates:\n  extraIPAddresses: [127.0.0.1]\n")
        log = os.path.join(work, "operator.log")
        op = subprocess.Popen(
            [os.path.join(a.build, "operator/mca-operator"), "--kubeconfig",
             home["kubeconfig"], "--namespace", ns, "--config", config,
             "--grpc-address", "127.0.0.1:0", "--webhook-address", "127.0.0.1:0",
             "--admin-address", "127.0.0.1:0", "--no-leader-election"],
            stdout=open(log, "w"), stderr=subprocess.STDOUT)
        line = wait_for("admin on", log)
        port = int(line.split("webhook on 127.0.0.1:")[1].split(",")[0])
        bundle_b64 = ""
        until = time.time() + 30
        while not bundle_b64 and time.time() < until:
            bundle_b64 = kubectl("-n", ns, "get", "secret", "mca-operator-certs", "-o",
                                 r"jsonpath={.data.ca-bundle\.crt}", check=False).strip()
            time.sleep(0.1)
        if not bundle_b64:
            sys.exit("webhook_bench: the operator never wrote its certificate Secret")
        ca_file = os.path.join(work, "ca.crt")
        with open(ca_file, "wb") as f:
            f.write(base64.b64decode(bundle_b64))
        ctx = ssl.create_default_context(cafile=ca_file)

        # 1. Direct AdmissionReviews (not dry runs: the ConfigMap check is
        # part of the path; after the first it is a cache hit).
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        ms = []
        for i in range(a.n + 20):
            review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                      "request": {"uid": f"uid-{i}", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                                  "resource": {"group": "", "version": "v1", "resource": "pods"},
                                  "operation": "CREATE", "namespace": app_ns,
                                  "name": f"bench-{i}", "dryRun": False,
                                  "userInfo": {"username": "bench"},
                                  "object": pod(app_ns, i)}}
            body = json.dumps(review)
            t0 = time.perf_counter()
            conn.request("POST", "/mutate?timeout=10s", body,
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            elapsed = (time.perf_counter() - t0) * 1000
            out = json.loads(data)
            if r.status != 200 or not out["response"]["allowed"] or "patch" not in out["response"]:
                sys.exit(f"webhook_bench: unexpected answer {r.status}: {data[:300]!r}")
            if i >= 20:  # the first few warm up the TLS context and caches
                ms.append(elapsed)
        result["direct"] = summary(ms)

        # 2. Through the API server.
        kubectl("create", "-f", "-", stdin=json.dumps({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration", "metadata": {"name": webhook},
            "webhooks": [{"name": "inject.mca.k8s.io", "admissionReviewVersions": ["v1"],
                          "sideEffects": "NoneOnDryRun", "failurePolicy": "Fail",
                          "reinvocationPolicy": "IfNeeded", "timeoutSeconds": 10,
                          "clientConfig": {"url": f"https://127.0.0.1:{port}/mutate"},
                          "rules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                     "operations": ["CREATE"], "resources": ["pods"]}],
                          "namespaceSelector": {"matchLabels": {
                              "kubernetes.io/metadata.name": app_ns}},
                          "objectSelector": {"matchLabels": {"mca.k8s.io/inject": "true"}}}]}))
        until = time.time() + 30
        while time.time() < until and not kubectl(
                "get", "mutatingwebhookconfiguration", webhook, "-o",
                "jsonpath={.webhooks[0].clientConfig.caBundle}").strip():
            time.sleep(0.1)
        server = home["server"].replace("https://", "")
        host, sport = server.rsplit(":", 1)
        actx = ssl.create_default_context(cafile=home["caFile"])
        actx.load_cert_chain(home["clientCertFile"], home["clientKeyFile"])
        api = http.client.HTTPSConnection(host, int(sport), context=actx, timeout=15)
        ms = []
        for i in range(a.n + 20):
            body = json.dumps(pod(app_ns, i))
            t0 = time.perf_counter()
            api.request("POST", f"/api/v1/namespaces/{app_ns}/pods?dryRun=All", body,
                        {"Content-Type": "application/json"})
            r = api.getresponse()
            data = r.read()
            elapsed = (time.perf_counter() - t0) * 1000
            if r.status != 201:
                sys.exit(f"webhook_bench: dry-run create: {r.status} {data[:300]!r}")
            created = json.loads(data)
            if created["spec"]["initContainers"][0]["name"] != "mca-sidecar":
                sys.exit("webhook_bench: the dry-run pod was not injected")
            if i >= 20:
                ms.append(elapsed)
        result["api_server_dry_run_create"] = summary(ms)
        api.request("GET", "/metrics")
        metrics = api.getresponse().read().decode()
        total = count = 0.0
        for l in metrics.splitlines():
            if l.startswith("apiserver_admission_webhook_admission_duration_seconds_") and \
                    f'name="inject.mca.k8s.io"' in l:
                if "_sum{" in l:
                    total += float(l.rsplit(" ", 1)[1])
                elif "_count{" in l:
                    count += float(l.rsplit(" ", 1)[1])
        if count:
            result["api_server_webhook_call_mean_ms"] = round(total / count * 1000, 3)
            result["api_server_webhook_calls"] = int(count)
    finally:
        kubectl("delete", "mutatingwebhookconfiguration", webhook, "--ignore-not-found",
                check=False)
        if op:
            op.terminate()
            op.wait(10)
        kubectl("-n", app_ns, "delete", "configmaps", "--all", check=False)
        kubectl("-n", ns, "delete", "secrets,leases", "--all", check=False)
        kubectl("delete", "namespace", ns, app_ns, "--wait=false", check=False)
    print(json.dumps(result, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
