#!/usr/bin/env python3
"""Control-plane scale benchmark (issue 10): one real mca-operator on
hack/testenv's `home`, N sidecar routing streams held by bench/operator's
stream_load, and the injection webhook under concurrent pod creations.

For each N (default 100, 1,000, 5,000):
1. N injected Pods (`mca-operator inject` output, never run: there is no
   kubelet) and for each a TokenRequest token (audience mca-operator, bound
   to the Pod by name and UID), both through the API directly, concurrently.
2. stream_load opens N streams (one TLS connection each, as sidecars do):
   every one is checked by the operator with a TokenReview; the connect
   phase lasts until every stream has ACKed its first table.
3. --changes times: `kubectl apply` of an edited RoutingPolicy that selects
   every Pod (time taken just before), until every stream has ACKed the new
   version; p50/p99/max over all streams and changes.
4. The operator's CPU seconds (utime+stime from /proc) while connecting,
   idle (a heartbeat round) and per change, and its VmRSS / VmHWM.
Then the webhook: --creators threads create --webhook-pods Pods (real
creations, not dry runs) through the API server, which calls the operator's
webhook (a MutatingWebhookConfiguration with its caBundle filled in by the
operator); p50/p99/max of each create, plus the API server's and the
operator's own view of the webhook call.

Usage: bench/operator/run.py [--build build] [--testenv .testenv]
         [--sizes 100,1000,5000] [--changes 5] [--creators 50]
         [--webhook-pods 500] [--streams-per-connection 1] [--json FILE] [--smoke]
--smoke: N=20, one change, 5 creators: checks the harness end to end (~10 s).
The operator's TLS front holds at most 1,024 connections (tls_front_limits);
beyond that, streams wait in the kernel's backlog and the connect phase ends
at --connect-timeout with 1,024 streams. --streams-per-connection K shares
each TLS connection among K streams (not what sidecars do) to measure more
streams than that.
Everything it creates (two namespaces and what is in them, ClusterTargets
with the run's suffix, the webhook configuration) is removed at the end,
also on Ctrl-C or SIGTERM.
"""
import argparse
import base64
import datetime
import http.client
import json
import os
import random
import re
import resource
import signal
import ssl
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
import webhook_bench  # noqa: E402  (its Pod shape and percentiles)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def fail(msg):
    sys.exit(f"run.py: {msg}")


def sh(args, stdin=None, check=True):
    r = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if check and r.returncode != 0:
        fail(f"{' '.join(args[:6])}...: {r.stderr.strip()}")
    return r.stdout


def raise_fd_limit():
    # Three descriptors per stream in the operator (client TLS socket, its
    # relay to gRPC's Unix socket, gRPC's end of it), one in stream_load.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- /proc ----------------------------------------------------------------

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def threads(pid):
    return status_kb(pid, "Threads")


def fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class RssSampler:
    """The highest VmRSS seen while running: VmHWM only ever grows, so it
    cannot tell one phase's peak from an earlier one's."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop_ = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop_.is_set():
            try:
                self.peak = max(self.peak, status_kb(self.pid, "VmRSS"))
            except OSError:
                return
            self.stop_.wait(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_.set()
        self.thread.join()


def mib(kb):
    return round(kb / 1024, 1)


# --- the API server, directly -------------------------------------------------

class Api:
    """Keep-alive HTTPS to `home` with the admin client certificate, one
    connection per thread."""

    def __init__(self, cluster):
        host, port = cluster["server"].replace("https://", "").rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.ctx = ssl.create_default_context(cafile=cluster["caFile"])
        self.ctx.load_cert_chain(cluster["clientCertFile"], cluster["clientKeyFile"])
        self.local = threading.local()

    def request(self, method, path, body=None, ok=(200, 201)):
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPSConnection(self.host, self.port,
                                                   context=self.ctx, timeout=60)
                self.local.conn = conn
            try:
                data = None if body is None else json.dumps(body)
                conn.request(method, path, data, {"Content-Type": "application/json"})
                r = conn.getresponse()
                out = r.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                continue
            if r.status not in ok:
                raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
            return json.loads(out) if out else {}
        raise RuntimeError("unreachable")

    def text(self, path):
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
        conn.request("GET", path)
        return conn.getresponse().read().decode()


def histogram_sum_count(metrics, name, must_contain=""):
    total = count = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name) or must_contain not in line:
            continue
        if line.startswith(name + "_sum"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith(name + "_count"):
            count += float(line.rsplit(" ", 1)[1])
    return total, count


def gauge(metrics, name):
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


# --- the run --------------------------------------------------------------------

class Bench:
    def __init__(self, a):
        self.a = a
        with open(os.path.join(a.testenv, "clusters.json")) as f:
            doc = json.load(f)
        self.clusters = {c["name"]: c for c in doc["clusters"]}
        self.home = self.clusters["home"]
        self.kubectl_bin = doc.get("kubectl") or webhook_bench.kubectl_path(a.testenv)
        self.api = Api(self.home)
        self.sfx = "".join(random.choice(string.ascii_lowercase) for _ in range(6))
        self.ns = f"mca-cp-{self.sfx}"          # operator, policy, stream pods
        self.wh_ns = f"mca-cp-wh-{self.sfx}"    # pods created through the webhook
        self.webhook = f"mca-cp-{self.sfx}"
        self.work = tempfile.mkdtemp(prefix="mca-cp-bench-")
        self.operator = None
        self.tool = None
        self.created_webhook = False
        self.created_namespaces = []
        self.pods = {}           # name -> token
        self.table_pods = set()  # pods the operator has logged a table for
        self.log_offset = 0
        self.east = f"east-{self.sfx}"
        self.table_re = re.compile(r"^(\S+) info pod " + re.escape(self.ns) +
                                   r"/(pod-\d+): table ", re.M)

    def kubectl(self, *args, stdin=None, check=True):
        return sh([self.kubectl_bin, "--kubeconfig", self.home["kubeconfig"], *args],
                  stdin, check)

    def apply(self, obj):
        self.kubectl("apply", "-f", "-", stdin=json.dumps(obj))

    def policy(self, east):
        return {"apiVersion": "mca.x-k8s.io/v1alpha1", "kind": "RoutingPolicy",
                "metadata": {"name": "load", "namespace": self.ns},
                "spec": {"podSelector": {"matchLabels": {"app": "load"}},
                         "defaultTarget": f"home-{self.sfx}",
                         "rules": [{"name": "east",
                                    "match": {"labelSelector": {"matchLabels": {"region": "east"}}},
                                    "target": east},
                                   {"name": "west",
                                    "match": {"labelSelector": {"matchLabels": {"region": "west"}}},
                                    "target": f"west-{self.sfx}"}]}}

    # -- set-up --

    def set_up(self):
        self.kubectl("apply", "--server-side", "--force-conflicts",
                     "-f", os.path.join(ROOT, "crds"))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                     "crd/routingpolicies.mca.x-k8s.io", "crd/clustertargets.mca.x-k8s.io")
        for ns in (self.ns, self.wh_ns):
            self.kubectl("create", "namespace", ns)
            self.created_namespaces.append(ns)
        self.kubectl("-n", self.ns, "create", "serviceaccount", "app-sa")
        # testenv runs no controller manager, so no `default` account appears.
        self.kubectl("-n", self.wh_ns, "create", "serviceaccount", "default", check=False)
        for name, c in self.clusters.items():
            ca = base64.b64encode(open(c["caFile"], "rb").read()).decode()
            token = open(c["tokenFile"]).read().strip()
            kc = (f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
                  f"    server: {c['server']}\n    certificate-authority-data: {ca}\n"
                  f"users:\n- name: u\n  user:\n    token: {token}\n"
                  f"contexts:\n- name: c\n  context: {{cluster: c, user: u}}\n"
                  f"current-context: c\n")
            self.apply({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": f"{name}-kubeconfig", "namespace": self.ns},
                        "stringData": {"kubeconfig": kc}})
            self.apply({"apiVersion": "mca.x-k8s.io/v1alpha1", "kind": "ClusterTarget",
                        "metadata": {"name": f"{name}-{self.sfx}"},
                        "spec": {"server": c["server"],
                                 "credentials": {"secretRef": {"name": f"{name}-kubeconfig"}},
                                 "allowedNamespaces": {"names": [self.ns]}}})
        self.apply(self.policy(self.east))

        self.config = os.path.join(self.work, "operator-config.yaml")
        with open(self.config, "w") as f:
            f.write(f"webhook:\n  configurationName: {self.webhook}\n"
                    "certificates:\n  extraIPAddresses: [127.0.0.1]\n")
        self.start_operator()

        base = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "POD", "namespace": self.ns,
                             "labels": {"app": "load", "mca.k8s.io/inject": "true"}},
                "spec": {"serviceAccountName": "app-sa",
                         "containers": [{"name": "app", "image": "app:1"}]}}
        self.pod_template = json.loads(sh(
            [self.operator_bin, "inject", "--config", self.config, "-f", "-"],
            stdin=json.dumps(base)))
        if self.pod_template["spec"]["initContainers"][0]["name"] != "mca-sidecar":
            fail("mca-operator inject did not add the sidecar")

    def start_operator(self):
        self.operator_bin = os.path.join(self.a.build, "operator/mca-operator")
        self.op_log = os.path.join(self.work, "operator.log")
        self.operator = subprocess.Popen(
            [self.operator_bin, "--kubeconfig", self.home["kubeconfig"],
             "--namespace", self.ns, "--config", self.config,
             "--grpc-address", "127.0.0.1:0", "--webhook-address", "127.0.0.1:0",
             "--admin-address", "127.0.0.1:0", "--no-leader-election"],
            stdout=open(self.op_log, "w"), stderr=subprocess.STDOUT,
            preexec_fn=raise_fd_limit, start_new_session=True)
        line_re = re.compile(r"routing stream on [^ ]+:(\d+), webhook on [^ ]+:(\d+), "
                             r"admin on [^ ]+:(\d+)\n")
        until = time.time() + 30
        while True:
            with open(self.op_log) as f:
                m = line_re.search(f.read())
            if m:
                break
            if time.time() > until or self.operator.poll() is not None:
                fail(f"mca-operator did not start; see {self.op_log}")
            time.sleep(0.05)
        self.grpc_port, self.webhook_port, self.admin_port = map(int, m.groups())
        until = time.time() + 60
        while self.admin("/readyz") is None:
            if time.time() > until:
                fail(f"mca-operator never became ready; see {self.op_log}")
            time.sleep(0.1)
        bundle = ""
        until = time.time() + 30
        while not bundle and time.time() < until:
            bundle = self.kubectl("-n", self.ns, "get", "secret", "mca-operator-certs", "-o",
                                  r"jsonpath={.data.ca-bundle\.crt}", check=False).strip()
            time.sleep(0.1)
        if not bundle:
            fail("the operator never wrote its certificate Secret")
        self.ca_file = os.path.join(self.work, "operator-ca.crt")
        with open(self.ca_file, "wb") as f:
            f.write(base64.b64decode(bundle))

    def admin(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}",
                                        timeout=10) as r:
                return r.read().decode()
        except Exception:
            return None

    # -- pods and tokens --

    def make_pod(self, i):
        name = f"pod-{i}"
        pod = json.loads(json.dumps(self.pod_template))
        pod["metadata"]["name"] = name
        created = self.api.request("POST", f"/api/v1/namespaces/{self.ns}/pods", pod)
        review = self.api.request(
            "POST", f"/api/v1/namespaces/{self.ns}/serviceaccounts/app-sa/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"audiences": ["mca-operator"], "expirationSeconds": 3600,
                      "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": name,
                                         "uid": created["metadata"]["uid"]}}})
        return name, review["status"]["token"]

    def ensure_pods(self, n):
        missing = [i for i in range(n) if f"pod-{i}" not in self.pods]
        t0 = time.monotonic()
        with ThreadPoolExecutor(self.a.api_workers) as pool:
            for name, token in pool.map(self.make_pod, missing):
                self.pods[name] = token
        return len(missing), time.monotonic() - t0

    def wait_for_tables(self, n, timeout=600):
        """Until the operator has logged a table for each of pod-0..n-1: the
        connect phase should measure streams, not the compile of new pods."""
        want = {f"pod-{i}" for i in range(n)}
        t0 = time.monotonic()
        until = time.time() + timeout
        while True:
            self.table_pods.update(name for _, name in self.new_tables())
            if want <= self.table_pods:
                return time.monotonic() - t0
            if time.time() > until:
                fail(f"the operator compiled tables for only "
                     f"{len(want & self.table_pods)} of {n} pods; see {self.op_log}")
            time.sleep(0.2)

    def new_tables(self):
        """(wall time, pod) of each table the operator logged since the last
        call ("2026-01-01T00:00:00.000 info pod NS/NAME: table V from P")."""
        with open(self.op_log, "rb") as f:
            f.seek(self.log_offset)
            chunk = f.read()
        chunk = chunk[:chunk.rfind(b"\n") + 1]
        self.log_offset += len(chunk)
        out = []
        for m in self.table_re.finditer(chunk.decode(errors="replace")):
            # spdlog writes local time, as fromtimestamp() reads it.
            when = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
            out.append((when, m.group(2)))
        return out

    def reconciles(self):
        total = 0.0
        for line in (self.admin("/metrics") or "").splitlines():
            if line.startswith("mca_reconcile_total{"):
                total += float(line.rsplit(" ", 1)[1])
        return int(total)

    def settle(self, quiet=1.5, timeout=30):
        """Until the operator has started no reconcile pass for `quiet` s."""
        last, since = self.reconciles(), time.monotonic()
        until = since + timeout
        while time.monotonic() < until:
            time.sleep(0.25)
            now = self.reconciles()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return

    # -- stream_load --

    def tool_send(self, line):
        self.tool.stdin.write(line + "\n")
        self.tool.stdin.flush()

    def tool_read(self, event):
        while True:
            line = self.tool.stdout.readline()
            if not line:
                fail(f"stream_load ended; see {self.tool_log}")
            out = json.loads(line)
            if out.get("event") == event:
                return out
            if out.get("event") == "error":
                fail(f"stream_load: {out.get('message')}")

    def run_size(self, n):
        a = self.a
        print(f"== N={n}: pods and tokens", flush=True)
        created, pod_seconds = self.ensure_pods(n)
        compile_wait = self.wait_for_tables(n)
        tokens = os.path.join(self.work, f"tokens-{n}.txt")
        with open(tokens, "w") as f:
            for i in range(n):
                f.write(f"pod-{i} {self.pods[f'pod-{i}']}\n")
        time.sleep(1)  # the reconcile that logged the last table settles
        op = self.operator.pid
        row = {"streams": n, "pods_created": created,
               "pods_and_tokens_seconds": round(pod_seconds, 2),
               "wait_for_tables_seconds": round(compile_wait, 2),
               "operator_rss_before_mib": mib(status_kb(op, "VmRSS"))}

        print(f"== N={n}: connecting", flush=True)
        self.tool_log = os.path.join(self.work, f"stream_load-{n}.log")
        cpu0 = cpu_seconds(op)
        self.tool = subprocess.Popen(
            [os.path.join(a.build, "bench/stream_load"), "--operator",
             f"127.0.0.1:{self.grpc_port}", "--ca", self.ca_file, "--tokens", tokens,
             "--streams-per-connection", str(a.streams_per_connection),
             "--connect-timeout", str(a.connect_timeout),
             "--converge-timeout", str(a.converge_timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(self.tool_log, "w"), text=True,
            preexec_fn=raise_fd_limit, start_new_session=True)
        with RssSampler(op) as sampler:
            connected = self.tool_read("connected")
        cpu1 = cpu_seconds(op)
        row.update({
            "connections": connected["connections"],
            "with_table": connected["with_table"],
            "ended_at_connect": connected["ended"],
            "connect_end_reasons": connected["end_reasons"],
            "connect_seconds": round(connected["connect_seconds"], 3),
            "connect_timed_out": connected["timed_out"],
            "first_table": connected["first_table"],
            "operator_cpu_connect_s": round(cpu1 - cpu0, 2),
            "operator_rss_connect_peak_mib": mib(sampler.peak),
            "operator_fds": fds(op), "operator_threads": threads(op),
            "stream_load_rss_mib": mib(status_kb(self.tool.pid, "VmRSS")),
        })
        metrics = self.admin("/metrics") or ""
        row["operator_connected_sidecars"] = gauge(metrics, "mca_connected_sidecars")
        print(f"   {connected['with_table']}/{n} streams have a table after "
              f"{connected['connect_seconds']:.1f} s", flush=True)

        # Idle: long enough for one round of the 10 s heartbeats.
        time.sleep(1)
        cpu0, t0, rec0 = cpu_seconds(op), time.monotonic(), self.reconciles()
        time.sleep(a.idle_seconds)
        cpu1, t1 = cpu_seconds(op), time.monotonic()
        row["operator_reconciles_idle"] = self.reconciles() - rec0
        row["operator_cpu_idle_percent"] = round((cpu1 - cpu0) / (t1 - t0) * 100, 2)
        row["operator_rss_idle_mib"] = mib(status_kb(op, "VmRSS"))

        changes, values, cpu_per_change, first_stream, apply_ms = [], [], [], [], []
        op_first, op_last, reconciles, cpu_settled = [], [], [], []
        lost = timed_out = 0
        _, push_count0 = histogram_sum_count(metrics, "mca_push_duration_seconds")
        if connected["with_table"] > 0:
            print(f"== N={n}: {a.changes} policy changes", flush=True)
            with RssSampler(op) as sampler:
                for i in range(a.changes):
                    self.tool_send("arm")
                    self.tool_read("armed")
                    # Always the other target: a size's first change must
                    # not re-apply the policy the last size ended with.
                    self.east = f"west-{self.sfx}" if self.east.startswith("east-") \
                        else f"east-{self.sfx}"
                    doc = json.dumps(self.policy(self.east))
                    self.new_tables()
                    rec0 = self.reconciles()
                    c0 = cpu_seconds(op)
                    wall0 = time.time()
                    t0 = time.monotonic_ns()
                    self.kubectl("apply", "-f", "-", stdin=doc)
                    applied = time.monotonic_ns()
                    self.tool_send(f"wait {t0}")
                    out = self.tool_read("converged")
                    cpu_per_change.append(cpu_seconds(op) - c0)
                    # Where the time went: the operator logs each pod's
                    # table just before it offers it to the pod's stream.
                    logged = [when for when, _ in self.new_tables()]
                    if logged:
                        op_first.append((min(logged) - wall0) * 1000)
                        op_last.append((max(logged) - wall0) * 1000)
                    apply_ms.append((applied - t0) / 1e6)
                    values.extend(out["values_ms"])
                    lat = out["latency"]
                    first_stream.append(lat.get("min_ms", 0))
                    lost += out["lost"]
                    timed_out += 1 if out["timed_out"] else 0
                    changes.append({k: out[k] for k in ("armed", "converged", "lost", "timed_out")}
                                   | {"latency": lat,
                                      "kubectl_apply_ms": round(apply_ms[-1], 1),
                                      "operator_first_table_ms":
                                          round(op_first[-1], 1) if op_first else None,
                                      "operator_last_table_ms":
                                          round(op_last[-1], 1) if op_last else None,
                                      "operator_cpu_s": round(cpu_per_change[-1], 2)})
                    print(f"   change {i + 1}: {out['converged']}/{out['armed']} streams, "
                          f"p50 {lat.get('p50_ms', 0):.0f} ms, max {lat.get('max_ms', 0):.0f} ms",
                          flush=True)
                    # Each change from a quiet operator: its own status
                    # writes come back as events and start more passes.
                    self.settle()
                    reconciles.append(self.reconciles() - rec0)
                    cpu_settled.append(cpu_seconds(op) - c0)
                    changes[-1]["operator_reconciles"] = reconciles[-1]
                    changes[-1]["operator_cpu_until_quiet_s"] = round(cpu_settled[-1], 2)
            row["operator_rss_converge_peak_mib"] = mib(sampler.peak)
        row["operator_rss_after_mib"] = mib(status_kb(op, "VmRSS"))
        row["operator_hwm_mib"] = mib(status_kb(op, "VmHWM"))
        row["changes"] = changes
        row["convergence"] = summary_of(values)
        row["convergence_lost"] = lost
        row["convergence_timed_out"] = timed_out
        row["first_stream_ms_mean"] = mean(first_stream)
        row["kubectl_apply_ms_mean"] = mean(apply_ms)
        row["operator_first_table_ms_mean"] = mean(op_first)
        row["operator_last_table_ms_mean"] = mean(op_last)
        row["operator_reconciles_per_change"] = mean(reconciles)
        row["operator_cpu_until_quiet_per_change_s"] = \
            round(sum(cpu_settled) / len(cpu_settled), 2) if cpu_settled else None
        row["operator_cpu_per_change_s"] = round(sum(cpu_per_change) / len(cpu_per_change), 2) \
            if cpu_per_change else None
        metrics = self.admin("/metrics") or ""
        push_sum, push_count = histogram_sum_count(metrics, "mca_push_duration_seconds")
        if push_count > push_count0:
            row["operator_push_to_ack_mean_ms"] = round(push_sum / push_count * 1000, 2)

        self.tool_send("stats")
        row["stream_load_stats"] = {k: v for k, v in self.tool_read("stats").items()
                                    if k != "event"}
        row["stream_load_cpu_s"] = round(cpu_seconds(self.tool.pid), 2)
        self.stop_tool()
        return row

    def stop_tool(self):
        if self.tool is None:
            return
        try:
            self.tool_send("quit")
        except OSError:
            pass
        try:
            self.tool.wait(30)
        except subprocess.TimeoutExpired:
            self.tool.kill()
            self.tool.wait()
        self.tool = None

    # -- the webhook --

    def run_webhook(self):
        a = self.a
        print(f"== webhook: {a.webhook_pods} pod creations by {a.creators} creators", flush=True)
        self.kubectl("create", "-f", "-", stdin=json.dumps({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration", "metadata": {"name": self.webhook},
            "webhooks": [{"name": "inject.mca.k8s.io", "admissionReviewVersions": ["v1"],
                          "sideEffects": "NoneOnDryRun", "failurePolicy": "Fail",
                          "reinvocationPolicy": "IfNeeded", "timeoutSeconds": 10,
                          "clientConfig": {"url": f"https://127.0.0.1:{self.webhook_port}/mutate"},
                          "rules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                     "operations": ["CREATE"], "resources": ["pods"]}],
                          "namespaceSelector": {"matchLabels": {
                              "kubernetes.io/metadata.name": self.wh_ns}},
                          "objectSelector": {"matchLabels": {"mca.k8s.io/inject": "true"}}}]}))
        self.created_webhook = True
        until = time.time() + 30
        while not self.kubectl("get", "mutatingwebhookconfiguration", self.webhook, "-o",
                               "jsonpath={.webhooks[0].clientConfig.caBundle}").strip():
            if time.time() > until:
                fail("the operator never filled in the webhook's caBundle")
            time.sleep(0.1)

        path = f"/api/v1/namespaces/{self.wh_ns}/pods"

        def create(i, inject=True):
            body = webhook_bench.pod(self.wh_ns, i)
            if not inject:
                # The webhook's objectSelector skips it: the API server's
                # and etcd's own cost of the same create.
                body["metadata"]["name"] = f"plain-{i}"
                del body["metadata"]["labels"]["mca.k8s.io/inject"]
            t0 = time.perf_counter()
            created = self.api.request("POST", path, body, ok=(201,))
            elapsed = (time.perf_counter() - t0) * 1000
            injected = created["spec"].get("initContainers", [{}])[0].get("name") == "mca-sidecar"
            if injected != inject:
                raise RuntimeError(f"pod {i}: injected is {injected}, not {inject}")
            return elapsed

        def concurrently(inject):
            per = [a.webhook_pods // a.creators + (1 if c < a.webhook_pods % a.creators else 0)
                   for c in range(a.creators)]
            starts = [sum(per[:c]) for c in range(a.creators)]

            def creator(c):
                return [create(i, inject) for i in range(starts[c], starts[c] + per[c])]

            t0 = time.monotonic()
            with ThreadPoolExecutor(a.creators) as pool:
                ms = [v for vs in pool.map(creator, range(a.creators)) for v in vs]
            return ms, time.monotonic() - t0

        # Warm-up: the API server's webhook client, its TLS session, the
        # namespace's mca-ca-bundle ConfigMap.
        for i in range(3):
            create(1_000_000 + i)
            create(1_000_000 + i, inject=False)
        baseline, baseline_wall = concurrently(inject=False)
        api_before = self.api.text("/metrics")
        op_before = self.admin("/metrics") or ""
        op = self.operator.pid
        cpu0, rec0 = cpu_seconds(op), self.reconciles()
        with RssSampler(op) as sampler:
            ms, wall = concurrently(inject=True)
        reconciles = self.reconciles() - rec0
        api_after = self.api.text("/metrics")
        op_after = self.admin("/metrics") or ""
        sel = 'name="inject.mca.k8s.io"'
        s0, c0 = histogram_sum_count(api_before, "apiserver_admission_webhook_admission_duration_seconds", sel)
        s1, c1 = histogram_sum_count(api_after, "apiserver_admission_webhook_admission_duration_seconds", sel)
        o0, n0 = histogram_sum_count(op_before, "mca_webhook_admission_duration_seconds")
        o1, n1 = histogram_sum_count(op_after, "mca_webhook_admission_duration_seconds")
        out = {"creators": a.creators, "pods": len(ms),
               "create": webhook_bench.summary(ms),
               "creates_per_second": round(len(ms) / wall, 1),
               "baseline_create_without_webhook": webhook_bench.summary(baseline),
               "baseline_creates_per_second": round(len(baseline) / baseline_wall, 1),
               "operator_cpu_s": round(cpu_seconds(op) - cpu0, 2),
               "operator_rss_peak_mib": mib(sampler.peak),
               "operator_reconciles": reconciles}
        if c1 > c0:
            out["api_server_webhook_call_mean_ms"] = round((s1 - s0) / (c1 - c0) * 1000, 3)
        if n1 > n0:
            out["operator_handler_mean_ms"] = round((o1 - o0) / (n1 - n0) * 1000, 3)
        return out

    # -- clean-up --

    def clean_up(self):
        if self.tool is not None:
            self.tool.kill()
            self.tool.wait()
        if self.created_webhook:
            self.kubectl("delete", "mutatingwebhookconfiguration", self.webhook,
                         "--ignore-not-found", check=False)
        if self.operator is not None and self.operator.poll() is None:
            self.operator.send_signal(signal.SIGTERM)
            try:
                self.operator.wait(15)
            except subprocess.TimeoutExpired:
                self.operator.kill()
                self.operator.wait()
        for name in self.clusters:
            self.kubectl("delete", "clustertarget", f"{name}-{self.sfx}",
                         "--ignore-not-found", "--wait=false", check=False)
        # testenv runs no namespace controller: a namespace's content must
        # go first, or later runs (and their operators) see it.
        for ns in self.created_namespaces:
            try:  # one DELETE for thousands of pods; kubectl deletes one by one
                self.api.request("DELETE", f"/api/v1/namespaces/{ns}/pods", ok=(200,))
            except Exception as e:  # noqa: BLE001  (clean-up goes on)
                print(f"run.py: deleting the pods of {ns}: {e}", file=sys.stderr)
            self.kubectl("-n", ns, "delete",
                         "pods,routingpolicies,secrets,serviceaccounts,configmaps,leases",
                         "--all", "--wait=false", check=False)
            self.kubectl("delete", "namespace", ns, "--wait=false", check=False)
        # The logs stay for reading; the tokens (bound to deleted Pods) go.
        for name in os.listdir(self.work):
            if name.startswith("tokens-"):
                os.remove(os.path.join(self.work, name))


def mean(values):
    return round(sum(values) / len(values), 1) if values else None


def summary_of(values):
    if not values:
        return {"n": 0}
    s = webhook_bench.summary(values)
    return {k: round(v, 1) if k != "n" else v for k, v in s.items()}


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:.{digits}f}"


def print_tables(result):
    rows = result["sizes"]
    print()
    print("Connect: every stream's TLS connection, TokenReview, Pod check and first table, "
          "until each has ACKed it (ms from its start)")
    print(f"{'N':>6} {'conns':>6} {'w/table':>7} {'connect s':>9} {'1st table p50':>13} "
          f"{'p99':>7} {'max':>7} {'op CPU s':>8}")
    for r in rows:
        ft = r["first_table"]
        print(f"{r['streams']:>6} {r['connections']:>6} {r['with_table']:>7} "
              f"{r['connect_seconds']:>9.2f} {fmt(ft.get('p50_ms')):>13} "
              f"{fmt(ft.get('p99_ms')):>7} {fmt(ft.get('max_ms')):>7} "
              f"{r['operator_cpu_connect_s']:>8.2f}")
    print()
    print(f"Convergence over {result['changes']} changes: ms from just before `kubectl apply` "
          "of the policy until each stream ACKed the new version; then the means of: "
          "kubectl's own run, the operator's first and last table logged, the first stream")
    print(f"{'N':>6} {'p50':>7} {'p99':>7} {'max':>7} {'kubectl':>7} {'op first':>8} "
          f"{'op last':>7} {'1st strm':>8} {'lost':>4}")
    for r in rows:
        cv = r["convergence"]
        print(f"{r['streams']:>6} {fmt(cv.get('p50_ms')):>7} {fmt(cv.get('p99_ms')):>7} "
              f"{fmt(cv.get('max_ms')):>7} {fmt(r['kubectl_apply_ms_mean']):>7} "
              f"{fmt(r['operator_first_table_ms_mean']):>8} "
              f"{fmt(r['operator_last_table_ms_mean']):>7} "
              f"{fmt(r['first_stream_ms_mean']):>8} {r['convergence_lost']:>4}")
    print()
    print("mca-operator: CPU (utime+stime) idle over a heartbeat round, per change until the "
          "streams converged and until no reconcile pass started for 1.5 s (quiet), reconcile "
          "passes per change; "
          "RSS MiB before the streams, peak while connecting, idle, peak while converging; "
          "HWM = VmHWM (peak of the whole run so far)")
    print(f"{'N':>6} {'idle %':>6} {'CPU/chg s':>9} {'quiet s':>7} {'passes':>6} "
          f"{'RSS before':>10} {'connect pk':>10} "
          f"{'idle':>6} {'converge pk':>11} {'HWM':>6} {'fds':>6} {'threads':>7}")
    for r in rows:
        print(f"{r['streams']:>6} {r['operator_cpu_idle_percent']:>6.2f} "
              f"{fmt(r['operator_cpu_per_change_s'], 2):>9} "
              f"{fmt(r['operator_cpu_until_quiet_per_change_s'], 2):>7} "
              f"{fmt(r['operator_reconciles_per_change'], 1):>6} "
              f"{r['operator_rss_before_mib']:>10.1f} {r['operator_rss_connect_peak_mib']:>10.1f} "
              f"{r['operator_rss_idle_mib']:>6.1f} "
              f"{fmt(r.get('operator_rss_converge_peak_mib'), 1):>11} "
              f"{r['operator_hwm_mib']:>6.1f} {r['operator_fds']:>6} {r['operator_threads']:>7}")
    w = result.get("webhook")
    if w:
        c, b = w["create"], w["baseline_create_without_webhook"]
        print()
        print(f"Webhook: {w['pods']} Pod creations by {w['creators']} concurrent creators "
              f"(ms): p50 {c['p50_ms']:.1f}, p99 {c['p99_ms']:.1f}, max {c['max_ms']:.1f}; "
              f"{w['creates_per_second']} creates/s")
        print(f"  the same creations the webhook skips: p50 {b['p50_ms']:.1f}, "
              f"p99 {b['p99_ms']:.1f}, max {b['max_ms']:.1f}; {w['baseline_creates_per_second']} "
              f"creates/s")
        print(f"  API server's webhook call mean {fmt(w.get('api_server_webhook_call_mean_ms'), 2)}"
              f" ms, the operator's handler mean {fmt(w.get('operator_handler_mean_ms'), 2)} ms; "
              f"operator CPU {w['operator_cpu_s']} s, {w['operator_reconciles']} reconcile passes, "
              f"RSS peak {w['operator_rss_peak_mib']} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--testenv", default=os.environ.get("MCA_TESTENV_DIR",
                                                        os.path.join(ROOT, ".testenv")))
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--changes", type=int, default=5)
    ap.add_argument("--creators", type=int, default=50)
    ap.add_argument("--webhook-pods", type=int, default=500)
    ap.add_argument("--streams-per-connection", type=int, default=1,
                    help="1 is what sidecars do; more shares TLS connections")
    ap.add_argument("--connect-timeout", type=int, default=120)
    ap.add_argument("--converge-timeout", type=int, default=120)
    ap.add_argument("--idle-seconds", type=float, default=12)
    ap.add_argument("--api-workers", type=int, default=16,
                    help="concurrent Pod creations and TokenRequests while setting up")
    ap.add_argument("--no-webhook", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    if a.smoke:
        a.sizes, a.changes, a.creators, a.webhook_pods, a.idle_seconds = "20", 1, 5, 20, 1
    sizes = [int(s) for s in a.sizes.split(",") if s]
    for binary in ("operator/mca-operator", "bench/stream_load"):
        if not os.access(os.path.join(a.build, binary), os.X_OK):
            fail(f"no {binary} in {a.build}: ninja -C {a.build} mca-operator stream_load")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    started = time.monotonic()
    bench = Bench(a)
    result = {"namespace": bench.ns, "changes": a.changes,
              "streams_per_connection": a.streams_per_connection, "sizes": []}
    try:
        bench.set_up()
        for n in sizes:
            result["sizes"].append(bench.run_size(n))
        if not a.no_webhook:
            result["webhook"] = bench.run_webhook()
    except KeyboardInterrupt:
        print("run.py: interrupted; cleaning up", file=sys.stderr)
        result["interrupted"] = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.clean_up()
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    if result["sizes"]:
        print_tables(result)
    print(f"\n(total {result['wall_seconds']} s; logs in {bench.work})")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    if result.get("interrupted"):
        sys.exit(130)
    if a.smoke:
        bad = [r["streams"] for r in result["sizes"]
               if r["with_table"] != r["streams"] or r["convergence"]["n"] != r["streams"] * a.changes]
        if bad or "webhook" not in result:
            fail(f"smoke: not every stream got its tables (N={bad}) or no webhook figures")


if __name__ == "__main__":
    main()
