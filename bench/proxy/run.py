#!/usr/bin/env python3
"""The data-plane comparison (issue 10): the same load through each path to
the same upstream, side by side in one run.

Paths (each terminates TLS on loopback and re-encrypts to the upstream over
keep-alive connections, verifying its certificate, and replaces the
client's Authorization with the upstream's bearer token):
  direct   wrk straight to the upstream (the floor)
  mca      mca-sidecar with a 20-rule routing table, label rules included
  nginx    nginx (Debian package), upstream keepalive pool
  haproxy  HAProxy (Debian package), HTTP mode, http-reuse always
  goproxy  Go net/http/httputil.ReverseProxy (the Go prototype's design)

Upstreams and requests:
  static   an HTTPS server answering at once (the proxy's own cost): GET
  api      the home kube-apiserver of hack/testenv: GET of a small
           ConfigMap, LIST of 500 ConfigMaps, and a watch of 10,000 events

Each proxy runs with one worker (nginx worker_processes 1, HAProxy nbthread
1, GOMAXPROCS=1, mca-sidecar --workers 1) pinned to CPU 1; wrk, the static
upstream and the watch client are pinned to CPU 0. So a proxy's requests/s
is its throughput per core.

Usage: bench/proxy/run.py [--build build] [--testenv DIR] [--duration 10]
         [--concurrency 1,16,64] [--paths ...] [--watch-events 10000]
         [--json FILE] [--smoke]
The clusters must be running (make testenv-up). --smoke: a second per point,
concurrency 1 and 16, 200 watch events: checks the harness, measures nothing.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
PATHS = ["direct", "mca", "nginx", "haproxy", "goproxy"]
NS = "bench-proxy"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


def sh(args, stdin=None, check=True, env=None):
    r = subprocess.run(args, input=stdin, capture_output=True, text=True, env=env)
    if check and r.returncode != 0:
        raise BenchError(f"{' '.join(args[:4])}...: exit {r.returncode}: {(r.stderr or r.stdout).strip()[:2000]}")
    return r.stdout


def need(binary, how):
    path = shutil.which(binary)
    if not path:
        raise BenchError(f"{binary} is not installed; {how}")
    return path


def cpus():
    n = os.cpu_count() or 1
    return ("0", "1") if n >= 2 else ("0", "0")


# ------------------------------------------------------------------ processes

def proc_tree(pid):
    """pid and its children (nginx's worker)."""
    out = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / CLK_TCK


def memory_kib(pids, field):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Process:
    """A proxy or upstream under test; its stdout+stderr in a log file."""

    def __init__(self, name, argv, log, cpu, env=None, ready=None, timeout=20):
        self.name, self.log = name, log
        self.proc = subprocess.Popen(["taskset", "-c", cpu] + argv, stdout=open(log, "w"),
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        self.match = None
        deadline = time.time() + timeout
        while ready:
            text = open(log).read()
            self.match = re.search(ready, text)
            if self.match:
                break
            if self.proc.poll() is not None:
                raise BenchError(f"{name} exited during start-up:\n{text[-2000:]}")
            if time.time() > deadline:
                # Not yet in the caller's list of processes to stop.
                self.stop()
                raise BenchError(f"{name} did not start in {timeout}s:\n{text[-2000:]}")
            time.sleep(0.05)

    def pids(self):
        return proc_tree(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def wait_port(port, timeout=20):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------------ set-up

def make_certs(work):
    """A CA and a serving certificate for 127.0.0.1 and localhost, used by
    every proxy's front and by the static upstream."""
    c = lambda *a: sh(["openssl", *a])
    c("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", f"{work}/ca.key", "-out", f"{work}/ca.crt", "-days", "2",
      "-subj", "/CN=mca-bench-ca")
    c("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", f"{work}/tls.key", "-out", f"{work}/tls.csr", "-subj", "/CN=localhost")
    with open(f"{work}/ext.cnf", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    c("x509", "-req", "-in", f"{work}/tls.csr", "-CA", f"{work}/ca.crt", "-CAkey", f"{work}/ca.key",
      "-CAcreateserial", "-out", f"{work}/tls.crt", "-days", "2", "-extfile", f"{work}/ext.cnf")
    with open(f"{work}/tls.pem", "w") as f:  # HAProxy: certificate and key in one file
        f.write(open(f"{work}/tls.crt").read() + open(f"{work}/tls.key").read())


def build_tool():
    """bench/proxy/tool (Go, standard library only), cached by its sources."""
    tool_dir = os.path.join(HERE, "tool")
    h = hashlib.sha256()
    for name in sorted(os.listdir(tool_dir)):
        if name.endswith(".go") or name == "go.mod":
            h.update(name.encode() + open(os.path.join(tool_dir, name), "rb").read())
    cache = os.environ.get("MCA_CACHE_DIR", os.path.expanduser("~/.cache/mca"))
    out = os.path.join(cache, "bench", "tool-" + h.hexdigest()[:16], "bench-proxy-tool")
    if not os.path.exists(out):
        need("go", "install Go 1.26 or newer (hack/ needs it too)")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        env = dict(os.environ, GOTOOLCHAIN="local", CGO_ENABLED="0", GOFLAGS="-trimpath -mod=readonly")
        r = subprocess.run(["go", "build", "-o", out + ".tmp", "."], cwd=tool_dir, env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError("building bench/proxy/tool failed:\n" + r.stderr)
        os.rename(out + ".tmp", out)
    return out


class Api:
    """The home cluster of hack/testenv."""

    def __init__(self, testenv):
        path = os.path.join(testenv, "clusters.json")
        if not os.path.exists(path):
            raise BenchError(f"no {path}; start the clusters with make testenv-up")
        doc = json.load(open(path))
        home = next((c for c in doc["clusters"] if c["name"] == "home"), None)
        if home is None:
            raise BenchError("the testenv has no cluster named home")
        self.server, self.ca, self.token_file = home["server"], home["caFile"], home["tokenFile"]
        self.kubeconfig = home["kubeconfig"]
        self.port = int(self.server.rsplit(":", 1)[1])
        self.kubectl_bin = doc.get("kubectl") or os.path.join(
            sh([os.path.join(ROOT, "hack/testenv"), "build"]).strip().splitlines()[-1], "kubectl")

    def kubectl(self, *args, stdin=None, check=True):
        return sh([self.kubectl_bin, "--kubeconfig", self.kubeconfig, *args], stdin, check)

    def prepare(self, watch_objects):
        """Namespace bench-proxy: ConfigMap small, 500 ConfigMaps labelled
        bench-list=yes (about 1 KiB each), and the watch's objects."""
        self.kubectl("create", "namespace", NS, check=False)
        self.kubectl("-n", NS, "delete", "configmaps", "--all", "--wait=false")
        items = [{"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "small", "namespace": NS},
                  "data": {"greeting": "hello"}}]
        for i in range(500):
            items.append({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": f"item-{i:03d}", "namespace": NS,
                                       "labels": {"bench-list": "yes", "app.kubernetes.io/name": "bench"}},
                          "data": {"payload": "x" * 768}})
        for i in range(watch_objects):
            items.append({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": f"w-{i}", "namespace": NS, "labels": {"bench-watch": "yes"}},
                          "data": {"seq": "0"}})
        for start in range(0, len(items), 200):
            doc = {"apiVersion": "v1", "kind": "List", "items": items[start:start + 200]}
            self.kubectl("create", "-f", "-", stdin=json.dumps(doc))

    def cleanup(self):
        self.kubectl("-n", NS, "delete", "configmaps", "--all", "--wait=false", check=False)


# ------------------------------------------------------------------ proxies

def routes_yaml(upstream_url, ca, token_file):
    """20 rules, label rules included, as a team's table might be; the
    benchmark's requests (namespace bench-proxy) are decided by the last
    one, after the sidecar has tried the other 19."""
    targets = "".join(
        f"  - name: {n}\n    server: {upstream_url}\n    caFile: {ca}\n"
        f"    credentials: {{token: {{file: {token_file}}}}}\n" for n in ("home", "east", "west"))
    rules = [
        ("no-secrets-away", "resources: [{group: \"\", resource: secrets}]\n      namespaces: [team-*]", "target: home"),
        ("no-rbac", "resources: [{group: rbac.authorization.k8s.io, resource: \"*\"}]",
         "reject: {code: 403, message: RBAC is managed by the platform team}"),
        ("no-deletecollection", "verbs: [deletecollection]", "reject: {code: 403, message: not across clusters}"),
    ]
    for team, target in (("team-a", "east"), ("team-b", "west"), ("team-c", "east"), ("team-d", "west")):
        rules.append((f"{team}-configmaps-east", f"resources: [{{group: \"\", resource: configmaps}}]\n"
                      f"      namespaces: [{team}]\n      labelSelector: {{matchLabels: {{region: east}}}}", "target: east"))
        rules.append((f"{team}-configmaps-west", f"resources: [{{group: \"\", resource: configmaps}}]\n"
                      f"      namespaces: [{team}]\n      labelSelector: {{matchLabels: {{region: west}}}}", "target: west"))
        rules.append((f"{team}-deployments", f"resources: [{{group: apps, resource: deployments}}]\n"
                      f"      namespaces: [{team}]", f"target: {target}"))
    rules += [
        ("batch-by-annotation", "resources: [{group: batch, resource: jobs}]\n      namespaces: [ci-*]\n"
         "      annotations: {mca.example/cluster: west}", "target: west"),
        ("shared-reads", "verbs: [get, list, watch]\n      resources: [{group: \"\", resource: configmaps}]\n"
         "      namespaces: [shared]\n      names: [\"shared-*\"]", "targets: [home, east, west]\n    partial: allow"),
        ("no-exec-in-prod", "resources: [{group: \"\", resource: pods, subresource: exec}]\n      namespaces: [prod-*]",
         "reject: {code: 403, message: no exec in production}"),
        ("services-east", "resources: [{group: \"\", resource: services}]\n      namespaces: [edge-*]", "target: east"),
        ("bench", "resources: [{group: \"\", resource: configmaps}]\n      namespaces: [bench-proxy]", "target: home"),
    ]
    assert len(rules) == 20, len(rules)
    body = "".join(f"  - name: {n}\n    match:\n      {m}\n    {a}\n" for n, m, a in rules)
    return ("apiVersion: mca.x-k8s.io/v1alpha1\nkind: RoutingTable\npolicy: bench/twenty-rules\n"
            f"targets:\n{targets}defaultTarget: home\nrules:\n{body}")


def nginx_conf(work, port, upstream_port, upstream_ca, server_name, token):
    tmp = os.path.join(work, "nginx-tmp")
    os.makedirs(tmp, exist_ok=True)
    strip = "".join(f"      proxy_set_header {h} \"\";\n" for h in
                    ("Impersonate-User", "Impersonate-Group", "Impersonate-Uid"))
    return f"""worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  upstream backend {{
    server 127.0.0.1:{upstream_port};
    keepalive 128;
    keepalive_requests 1000000;
  }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {work}/tls.crt;
    ssl_certificate_key {work}/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_requests 1000000;
    location / {{
      proxy_pass https://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header Authorization "Bearer {token}";
{strip}      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate {upstream_ca};
      proxy_ssl_name {server_name};
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse on;
      proxy_buffering off;
      proxy_read_timeout 3600s;
    }}
  }}
}}
"""


def haproxy_conf(work, port, upstream_port, upstream_ca, server_name, token):
    return f"""global
  nbthread 1
  maxconn 8192
  log stderr format raw local0 warning
defaults
  mode http
  log global
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  option http-keep-alive
  http-reuse always
frontend front
  bind 127.0.0.1:{port} ssl crt {work}/tls.pem
  http-request del-header Authorization
  http-request del-header ^Impersonate- -m reg
  http-request set-header Authorization "Bearer {token}"
  default_backend upstream
backend upstream
  server api 127.0.0.1:{upstream_port} ssl verify required ca-file {upstream_ca} sni str({server_name}) verifyhost {server_name} pool-max-conn 128
"""


def start_path(path, upstream, work, tool, sidecar_bin, cpu):
    """Starts the proxy of `path` for `upstream` (dict: url, port, ca,
    server_name, token_file); returns (Process or None, port, the CA and
    name a client verifies it with)."""
    if path == "direct":
        return None, upstream["port"], upstream["ca"], upstream["server_name"]
    token = open(upstream["token_file"]).read().strip()
    tag = f"{path}-{upstream['name']}"
    log = os.path.join(work, tag + ".log")
    if path == "mca":
        routes = os.path.join(work, tag + "-routes.yaml")
        with open(routes, "w") as f:
            f.write(routes_yaml(upstream["url"], upstream["ca"], upstream["token_file"]))
        sa = os.path.join(work, tag + "-sa")
        p = Process(path, [sidecar_bin, "--routes", routes, "--port", "0", "--admin-address",
                           "127.0.0.1:0", "--pod-sa-dir", sa, "--namespace", NS, "--workers", "1"],
                    log, cpu, ready=r"listening on port (\d+) \(")
        return p, int(p.match.group(1)), os.path.join(sa, "ca.crt"), "127.0.0.1"
    port = free_port()
    if path == "nginx":
        conf = os.path.join(work, tag + ".conf")
        with open(conf, "w") as f:
            f.write(nginx_conf(work, port, upstream["port"], upstream["ca"], upstream["server_name"], token))
        p = Process(path, [need("nginx", "run hack/install-deps.sh"), "-c", conf, "-p", work, "-e",
                           os.path.join(work, "nginx-error.log")], log, cpu)
    elif path == "haproxy":
        conf = os.path.join(work, tag + ".cfg")
        with open(conf, "w") as f:
            f.write(haproxy_conf(work, port, upstream["port"], upstream["ca"], upstream["server_name"], token))
        p = Process(path, [need("haproxy", "run hack/install-deps.sh"), "-f", conf, "-db"], log, cpu)
    elif path == "goproxy":
        env = dict(os.environ, GOMAXPROCS="1")
        p = Process(path, [tool, "reverse-proxy", "--listen", f"127.0.0.1:{port}", "--cert",
                           f"{work}/tls.crt", "--key", f"{work}/tls.key", "--upstream", upstream["url"],
                           "--upstream-ca", upstream["ca"], "--upstream-server-name", upstream["server_name"],
                           "--token-file", upstream["token_file"]], log, cpu, env=env)
    else:
        raise BenchError(f"unknown path {path}")
    try:
        wait_port(port)
    except BenchError:
        p.stop()
        raise
    return p, port, f"{work}/ca.crt", "localhost"


# ------------------------------------------------------------------ load

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(text):
    def ms(v):
        m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
        return float(m.group(1)) * UNITS[m.group(2)] if m else None
    out = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    if not m:
        raise BenchError("cannot read wrk's output:\n" + text)
    out["requests"] = int(m.group(1))
    out["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    for p in ("50", "90", "99"):
        m = re.search(rf"^\s+{p}%\s+(\S+)", text, re.M)
        out[f"p{p}_ms"] = ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    return out


def run_wrk(port, target, conns, seconds, token, cpu):
    threads = 1 if conns == 1 else 2
    argv = ["taskset", "-c", cpu, need("wrk", "run hack/install-deps.sh"), "--latency",
            "-t", str(threads), "-c", str(conns), "-d", f"{seconds:g}s", "--timeout", "10s",
            "-H", f"Authorization: Bearer {token}", "-H", "Accept: application/json",
            f"https://127.0.0.1:{port}{target}"]
    return parse_wrk(sh(argv))


def one_request(port, target, token):
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(f"https://127.0.0.1:{port}{target}",
                                 headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
        body = r.read()
        if r.status != 200:
            raise BenchError(f"GET {target} on port {port}: {r.status}")
        return body


# ------------------------------------------------------------------ report

def fmt(v, digits=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def table(title, header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
              for r in rows]
    return "\n".join(lines)


def report(result):
    out = []
    for case in result["cases"]:
        rows = []
        for conns in result["concurrency"]:
            direct = next((p for p in case["points"] if p["path"] == "direct" and p["conns"] == conns), None)
            for p in case["points"]:
                if p["conns"] != conns:
                    continue
                added50 = p["p50_ms"] - direct["p50_ms"] if direct and p["path"] != "direct" else None
                added99 = p["p99_ms"] - direct["p99_ms"] if direct and p["path"] != "direct" else None
                rows.append([p["path"], conns, fmt(p["rps"], 0), fmt(p["p50_ms"], 3), fmt(p["p90_ms"], 3),
                             fmt(p["p99_ms"], 3), fmt(added50, 3), fmt(added99, 3),
                             fmt(p.get("cpu_s_per_10k"), 2), p["non_2xx"] + p["socket_errors"]])
        out.append(table(f"\n{case['title']}",
                         ["path", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "+p50 ms", "+p99 ms",
                          "CPU s/10k", "errors"], rows))
    rows = [[path, fmt(m["idle_rss_kib"] / 1024, 1), fmt(m.get("idle_anon_kib", 0) / 1024, 1),
             fmt(m["peak_rss_kib"] / 1024, 1)]
            for path, m in result["memory"].items()]
    out.append(table("\nProxy memory (MiB; idle after start and one request, peak over the whole run;"
                     " anon = RssAnon, without shared library pages)",
                     ["path", "idle RSS", "idle anon", "peak RSS"], rows))
    if result.get("watch"):
        rows = []
        for path, w in result["watch"].items():
            lag = w["live"]["lag_ms"]
            rows.append([path, fmt(w["live"]["events_per_second"], 0), fmt(w["live"]["writes_per_second"], 0),
                         fmt(lag.get("p50"), 2), fmt(lag.get("p90"), 2), fmt(lag.get("p99"), 2),
                         fmt(lag.get("max"), 2), fmt(w["replay"]["events_per_second"], 0)])
        out.append(table(f"\nWatch relay ({result['watch_events']} events; lag from each write's response to its event)",
                         ["path", "live ev/s", "writes/s", "lag p50 ms", "p90", "p99", "max", "replay ev/s"], rows))
    return "\n".join(out)


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--testenv", default=os.environ.get("MCA_TESTENV_DIR", os.path.join(ROOT, ".testenv")))
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--concurrency", default="1,16,64")
    ap.add_argument("--paths", default=",".join(PATHS))
    ap.add_argument("--watch-events", type=int, default=10000)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    if a.smoke:
        a.duration, a.concurrency, a.watch_events = 1, "1,16", 200
    concurrency = [int(c) for c in a.concurrency.split(",")]
    paths = a.paths.split(",")
    for p in paths:
        if p not in PATHS:
            raise BenchError(f"unknown path {p}; choose from {', '.join(PATHS)}")
    for b in ("wrk", "nginx", "haproxy", "taskset", "openssl"):
        need(b, "run hack/install-deps.sh (it installs the benchmark's packages)")
    sidecar_bin = os.path.join(a.build, "sidecar", "mca-sidecar")
    if "mca" in paths and not os.path.exists(sidecar_bin):
        raise BenchError(f"no {sidecar_bin}; build first (make build)")
    proxy_cpu, load_cpu = cpus()[1], cpus()[0]

    api = Api(a.testenv)
    tool = build_tool()
    work = tempfile.mkdtemp(prefix="mca-bench-proxy-")
    running = []
    result = {"concurrency": concurrency, "duration_s": a.duration, "cases": [], "memory": {},
              "watch": {}, "watch_events": a.watch_events, "cpus": os.cpu_count(),
              "note": "each proxy pinned to one CPU with one worker; wrk and the static upstream on the other"}
    try:
        make_certs(work)
        api.prepare(watch_objects=100)
        body = api.kubectl("-n", NS, "get", "configmap", "small", "-o", "json")
        with open(f"{work}/small.json", "w") as f:
            f.write(body)
        static = Process("static-upstream", [tool, "static-upstream", "--cert", f"{work}/tls.crt", "--key",
                                             f"{work}/tls.key", "--body", f"{work}/small.json"],
                         f"{work}/static.log", load_cpu, env=dict(os.environ, GOMAXPROCS="1"),
                         ready=r"listening on 127\.0\.0\.1:(\d+)")
        running.append(static)
        with open(f"{work}/static.token", "w") as f:
            f.write("static-upstream-token\n")
        upstreams = [
            {"name": "static", "url": f"https://127.0.0.1:{static.match.group(1)}",
             "port": int(static.match.group(1)), "ca": f"{work}/ca.crt", "server_name": "localhost",
             "token_file": f"{work}/static.token",
             "requests": [("GET", f"/api/v1/namespaces/{NS}/configmaps/small",
                           "Static upstream (answers at once): GET of a small ConfigMap body")]},
            {"name": "api", "url": api.server, "port": api.port, "ca": api.ca, "server_name": "localhost",
             "token_file": api.token_file,
             "requests": [("GET", f"/api/v1/namespaces/{NS}/configmaps/small",
                           "kube-apiserver: GET of a small ConfigMap"),
                          ("LIST", f"/api/v1/namespaces/{NS}/configmaps?labelSelector=bench-list%3Dyes",
                           "kube-apiserver: LIST of 500 ConfigMaps (~0.6 MiB JSON)")]},
        ]
        cases = {}
        for up in upstreams:
            for path in paths:
                proc, port, path_ca, path_name = start_path(path, up, work, tool, sidecar_bin, proxy_cpu)
                if proc:
                    running.append(proc)
                # Direct, the client sends the upstream's token; through a
                # proxy, an app token the proxy must replace.
                token = open(up["token_file"]).read().strip() if path == "direct" else "app-token-to-strip"
                # Each path must answer each request whole before it is
                # timed: a LIST is parsed and its 500 items counted.
                for kind, target, title in up["requests"]:
                    body = one_request(port, target, token)
                    try:
                        doc = json.loads(body)
                    except ValueError as e:
                        raise BenchError(f"{path}: {kind} {target} answered {len(body)} bytes "
                                         f"that are not JSON ({e})")
                    if kind == "LIST" and len(doc.get("items", [])) != 500:
                        raise BenchError(f"{path}: the LIST has {len(doc.get('items', []))} items, not 500")
                if proc:
                    time.sleep(1)
                    result["memory"].setdefault(path, {"idle_rss_kib": 0, "idle_anon_kib": 0,
                                                       "peak_rss_kib": 0})
                    if up["name"] == "static":
                        m = result["memory"][path]
                        m["idle_rss_kib"] = memory_kib(proc.pids(), "VmRSS")
                        # RSS counts the shared libraries' pages, which every
                        # process mapping the same files shares; RssAnon is
                        # what this process alone adds.
                        m["idle_anon_kib"] = memory_kib(proc.pids(), "RssAnon")
                for kind, target, title in up["requests"]:
                    case = cases.setdefault(title, {"title": title, "points": []})
                    for conns in concurrency:
                        cpu0 = cpu_seconds(proc.pids()) if proc else 0
                        point = run_wrk(port, target, conns, a.duration, token, load_cpu)
                        point.update(path=path, conns=conns)
                        if proc:
                            used = cpu_seconds(proc.pids()) - cpu0
                            point["cpu_s_per_10k"] = used / max(point["requests"], 1) * 10000
                        case["points"].append(point)
                        print(f"{title[:40]:40} {path:8} c={conns:<3} {point['rps']:9.0f} req/s "
                              f"p50 {fmt(point['p50_ms'], 3)} ms p99 {fmt(point['p99_ms'], 3)} ms",
                              file=sys.stderr, flush=True)
                if proc:
                    m = result["memory"][path]
                    m["peak_rss_kib"] = max(m["peak_rss_kib"], memory_kib(proc.pids(), "VmHWM"))
                if up["name"] == "api" and a.watch_events:
                    out = sh(["taskset", "-c", load_cpu, tool, "watch", "--url", f"https://127.0.0.1:{port}",
                              "--ca", path_ca, "--server-name", path_name,
                              "--token-file", up["token_file"] if path == "direct" else f"{work}/static.token",
                              "--api", api.server, "--api-ca", api.ca, "--api-token-file", api.token_file,
                              "--namespace", NS, "--objects", "100", "--events", str(a.watch_events)])
                    result["watch"][path] = json.loads(out)
                    w = result["watch"][path]
                    print(f"watch {path:8} live {w['live']['events_per_second']:.0f} ev/s "
                          f"lag p50 {w['live']['lag_ms'].get('p50', 0):.2f} ms, replay "
                          f"{w['replay']['events_per_second']:.0f} ev/s", file=sys.stderr, flush=True)
                if proc:
                    proc.stop()
                    running.remove(proc)
        result["cases"] = list(cases.values())
    finally:
        for p in running:
            p.stop()
        api.cleanup()
        if os.environ.get("MCA_BENCH_KEEP"):
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    text = report(result)
    print(text)
    broken = [f"{case['title']}: {p['path']} at {p['conns']} connections "
              f"({p['requests']} requests, {p['non_2xx']} not 2xx, {p['socket_errors']} socket errors)"
              for case in result["cases"] for p in case["points"]
              if p["requests"] == 0 or p["non_2xx"] or p["socket_errors"]]
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
        with open(os.path.splitext(a.json)[0] + ".txt", "w") as f:
            f.write(text + "\n")
    if broken:
        # A path that fails requests measures nothing: the run fails, so
        # that `make bench-smoke` in CI catches a harness gone wrong.
        raise BenchError("requests failed on:\n  " + "\n  ".join(broken))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print(f"bench/proxy/run.py: {e}", file=sys.stderr)
        sys.exit(1)
