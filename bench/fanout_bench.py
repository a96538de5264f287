#!/usr/bin/env python3
"""Fan-out reads through mca-sidecar (issue 7), against hack/testenv's home,
east and west.

Creates, directly in the clusters, namespace FAN with 1,000 ConfigMaps in
each of home, east and west (label mca-bench=fanout), and namespace SINGLE
with 3,000 in home only (mca-bench=single). Each ConfigMap has about 1 KiB
of data and a handful of app.kubernetes.io labels. One routing table sends
FAN's configmaps to [home, east, west] (a fan-out rule) and SINGLE's to home
(a plain route). Then it measures:

1. LIST latency, end to end: N unpaged JSON LISTs (labelSelector, no limit)
   over one keep-alive TLS connection that trusts only the sidecar's CA, of
   - FAN through the sidecar (3 x 1,000 merged),
   - SINGLE through the sidecar (3,000 relayed from home),
   - SINGLE direct to home (the floor), and FAN direct to home (1,000, what
     each upstream of the merged case costs),
   and the same paged (limit=500, following continue; --no-paged skips it).
   Each sidecar case runs in its own mca-sidecar process, which reports its
   VmRSS before the first request, its VmHWM (peak) and VmRSS after the
   last, and its CPU time per LIST; the client's CPU time per LIST is
   reported too (it pays for every TLS record and chunk the body comes in).
2. Watch relay: a watch from a LIST's version (a LIST matching nothing, so
   that the sidecar's peak is the watch's), then U updates (merge
   PATCHes, default 2,000) per cluster written directly to the clusters by
   one process per cluster with W connections each, as fast as they go;
   every PATCH puts its id and send time in the ConfigMap's data. Measured:
   events/s received (all events / first write to last event), the write
   rate achieved, and the delivery lag, from a write's response to its
   event's arrival (p50/p90/p99/max). Cases: merged (FAN through the
   sidecar, 3 x U), three direct watches of FAN, one per cluster, under the
   same 3 x U writes (the merged case's floor), relayed (SINGLE through the
   sidecar, U on home) and direct (SINGLE on home, U; its floor). After
   each, a "replay": new watches from the same pre-write versions, so the
   API servers hand the whole backlog over at once: events/s with no
   writer in the way. Each sidecar
   watch runs in a sidecar of its own (memory, CPU per event). The client
   finds write ids in events with a regular expression rather than decoding
   them, so that it is not what limits the rate; its CPU per event is shown.

Usage: bench/fanout_bench.py [--build build] [--testenv DIR] [-n 30]
                             [--per-cluster 1000] [--updates 2000]
                             [--writers 4] [--no-paged] [--json FILE]
The clusters must be running (`make testenv-up`). The sidecar binary is
copied at the start, so a rebuild meanwhile does not mix builds. Everything
it creates is removed at the end, also on Ctrl-C or failure.
"""
import argparse
import concurrent.futures
import http.client
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH = 250  # ConfigMaps per `kubectl create -f -`


class BenchError(Exception):
    pass


def fail(message):
    raise BenchError(message)


def sh(args, stdin=None, check=True):
    r = subprocess.run(args, input=stdin, capture_output=True, text=True)
    if check and r.returncode != 0:
        fail(f"{' '.join(args[:6])}...: {r.stderr.strip()[:2000]}")
    return r.stdout


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def summary(ms):
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 2),
            "p90_ms": round(percentile(ms, 90), 2),
            "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(max(ms), 2)}


# ---------------------------------------------------------------- clusters

class Cluster:
    def __init__(self, c):
        self.name = c["name"]
        self.server = c["server"]
        u = urllib.parse.urlsplit(c["server"])
        self.host, self.port = u.hostname, u.port
        self.ca_file = c["caFile"]
        self.cert, self.key = c["clientCertFile"], c["clientKeyFile"]
        self.token_file = c["tokenFile"]
        self.kubeconfig = c["kubeconfig"]

    def conn(self, timeout=60):
        ctx = ssl.create_default_context(cafile=self.ca_file)
        ctx.load_cert_chain(self.cert, self.key)
        return http.client.HTTPSConnection(self.host, self.port, context=ctx,
                                           timeout=timeout)

    def as_dict(self):
        return {"name": self.name, "host": self.host, "port": self.port,
                "ca_file": self.ca_file, "cert": self.cert, "key": self.key}


def kubectl_path(testenv, clusters_doc):
    k = clusters_doc.get("kubectl", "")
    if k and os.path.exists(k):
        return k
    out = sh([os.path.join(ROOT, "hack/testenv"), "kubectl", "--print-path"],
             check=False).strip()
    if out and os.path.exists(out):
        return out
    for dp, _, fs in os.walk(os.path.expanduser("~/.cache/mca/testenv")):
        if "kubectl" in fs:
            return os.path.join(dp, "kubectl")
    fail("no testenv kubectl; run make testenv-up")


def call(conn, method, path, body=None, headers=None):
    h = {"Accept": "application/json"}
    h.update(headers or {})
    conn.request(method, path, body, h)
    r = conn.getresponse()
    return r.status, r.read()


def wait_ready(clusters, timeout=180):
    """Another engineer's tests may stop and start a cluster; wait it out."""
    until = time.time() + timeout
    for c in clusters.values():
        while True:
            try:
                conn = c.conn(timeout=5)
                status, _ = call(conn, "GET", "/readyz")
                conn.close()
                if status == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            if time.time() > until:
                fail(f"cluster {c.name} is not ready")
            time.sleep(0.5)


# ---------------------------------------------------------------- objects

WORDS = ("replicas timeout retries endpoint region cache ttl pool size "
         "threshold budget interval feature flag tracing sampling level "
         "upstream downstream queue shard partition lease backoff").split()


def configmap(name, ns, set_label, i):
    rnd = random.Random(i)
    lines = []
    while sum(len(l) + 1 for l in lines) < 860:
        lines.append(f"{rnd.choice(WORDS)}.{rnd.choice(WORDS)}: "
                     f"{rnd.choice(WORDS)}-{rnd.randint(0, 99999)}")
    component = ("api", "worker", "web", "cron")[i % 4]
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": {
                "app.kubernetes.io/name": f"svc-{i % 60:02d}",
                "app.kubernetes.io/instance": f"svc-{i % 60:02d}-{component}",
                "app.kubernetes.io/component": component,
                "app.kubernetes.io/part-of": "shop",
                "app.kubernetes.io/version": f"1.{i % 7}.{i % 3}",
                "app.kubernetes.io/managed-by": "helm",
                "mca-bench": set_label}},
            "data": {"application.yaml": "\n".join(lines) + "\n",
                     "LOG_LEVEL": ("info", "debug", "warn")[i % 3],
                     "FEATURE_FLAGS": "checkout-v2,search-ranking,cart-cache",
                     "ENDPOINT": f"https://svc-{i % 60:02d}.shop.svc:8443"}}


def create_batch(kubectl_bin, cluster, ns, set_label, lo, hi):
    items = [configmap(f"cfg-{i:05d}", ns, set_label, i) for i in range(lo, hi)]
    sh([kubectl_bin, "--kubeconfig", cluster.kubeconfig, "-n", ns, "create",
        "-f", "-", "-o", "name"],
       stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


# ---------------------------------------------------------------- sidecar

def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = round(int(v.split()[0]) / 1024.0, 1)  # MiB
    return out


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sidecar:
    def __init__(self, binary, routes, work, name, namespace, workers):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "routes.yaml"), "w") as f:
            f.write(routes)
        self.log = os.path.join(self.dir, "sidecar.log")
        self.proc = subprocess.Popen(
            [binary, "--routes", os.path.join(self.dir, "routes.yaml"),
             "--port", "0", "--admin-address", "127.0.0.1:0",
             "--pod-sa-dir", os.path.join(self.dir, "pod-sa"),
             "--namespace", namespace, "--workers", str(workers)],
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        line_re = re.compile(r"listening on port (\d+) \(.*admin on [^ ]+:(\d+),")
        until = time.time() + 20
        m = None
        while not m:
            with open(self.log) as f:
                out = f.read()
            m = line_re.search(out)
            if not m:
                if self.proc.poll() is not None or time.time() > until:
                    fail(f"mca-sidecar did not start:\n{out}")
                time.sleep(0.02)
        self.port, self.admin_port = int(m.group(1)), int(m.group(2))
        while True:
            try:
                a = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=2)
                status, _ = call(a, "GET", "/readyz")
                a.close()
                if status == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            if time.time() > until:
                fail(f"mca-sidecar never became ready:\n{open(self.log).read()}")
            time.sleep(0.02)
        self.ca_file = os.path.join(self.dir, "pod-sa", "ca.crt")

    def conn(self, timeout=60):
        ctx = ssl.create_default_context(cafile=self.ca_file)
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx,
                                           timeout=timeout)

    def mem(self):
        return proc_status(self.pid)

    def cpu(self):
        return proc_cpu_seconds(self.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def routes_yaml(clusters, fan_ns, single_ns):
    y = ["apiVersion: mca.x-k8s.io/v1alpha1", "kind: RoutingTable",
         "policy: bench/fanout", "targets:"]
    for name in ("home", "east", "west"):
        c = clusters[name]
        y += [f"  - name: {name}", f"    server: {c.server}",
              f"    caFile: {c.ca_file}",
              f"    credentials: {{token: {{file: {c.token_file}}}}}"]
    y += ["defaultTarget: home", "rules:",
          "  - name: everywhere",
          f"    match: {{resources: [{{resource: configmaps}}], namespaces: [{fan_ns}]}}",
          "    targets: [home, east, west]",
          "  - name: home-only",
          f"    match: {{resources: [{{resource: configmaps}}], namespaces: [{single_ns}]}}",
          "    target: home"]
    return "\n".join(y) + "\n"


def wait_for_binary(path, timeout=600):
    """The other engineer may be relinking it: wait until it exists and its
    size has held still for two seconds."""
    until = time.time() + timeout
    last = None
    while time.time() < until:
        try:
            st = os.stat(path)
            now = (st.st_size, st.st_mtime)
            if os.access(path, os.X_OK) and now == last:
                return
            last = now
        except FileNotFoundError:
            last = None
        time.sleep(2)
    fail(f"{path} never appeared (build it first)")


# ---------------------------------------------------------------- LISTs

CONTINUE_RE = re.compile(rb'"continue":"([^"]*)"')


def list_once(conn, path, paged, limit):
    """One LIST, following continue when paged: (bytes, pages, last body)."""
    if not paged:
        status, body = call(conn, "GET", path)
        if status != 200:
            fail(f"GET {path}: {status} {body[:300]!r}")
        return len(body), 1, [body]
    token, total, pages, bodies = "", 0, 0, []
    while True:
        target = f"{path}&limit={limit}"
        if token:
            target += "&continue=" + urllib.parse.quote(token, safe="")
        status, body = call(conn, "GET", target)
        if status != 200:
            fail(f"GET {target}: {status} {body[:300]!r}")
        total += len(body)
        pages += 1
        bodies.append(body)
        m = CONTINUE_RE.search(body)
        token = m.group(1).decode() if m else ""
        if not token:
            return total, pages, bodies
        if pages > 1000:
            fail(f"{path}: the pages never end")


def time_lists(make_conn, path, n, expect, paged=False, limit=500, warmup=3,
               proc=None):
    conn = make_conn()
    ms, client_ms, size, pages = [], [], 0, 0
    mem_before = proc.mem() if proc else None
    cpu0 = None
    for i in range(warmup + n):
        if i == warmup and proc:
            cpu0 = proc.cpu()
        c0 = time.process_time()
        t0 = time.perf_counter()
        size, pages, bodies = list_once(conn, path, paged, limit)
        elapsed = (time.perf_counter() - t0) * 1000
        client_ms.append((time.process_time() - c0) * 1000)
        if i == 0 or i == warmup + n - 1:  # checked outside the timing
            items = sum(len(json.loads(b)["items"]) for b in bodies)
            if items != expect:
                fail(f"GET {path}: {items} items, not {expect}")
        if i >= warmup:
            ms.append(elapsed)
    out = summary(ms)
    # The client's own CPU (reading TLS records, decoding chunks) is part of
    # the latency: how the body is framed matters to it.
    out.update({"items": expect, "bytes": size, "pages": pages,
                "client_cpu_ms_p50": round(percentile(client_ms[warmup:], 50), 1)})
    if proc:
        out["sidecar_cpu_ms_per_list"] = round((proc.cpu() - cpu0) * 1000 / n, 1)
        m = proc.mem()
        out["rss_before_mib"] = mem_before["VmRSS"]
        out["rss_peak_mib"] = m["VmHWM"]
        out["rss_after_mib"] = m["VmRSS"]
    conn.close()
    return out


# ---------------------------------------------------------------- watches

def writer_main(cluster, ns, names, updates, threads, tag, ready_q, go, result_q):
    """One process per cluster: `updates` merge PATCHes over `names`, from
    `threads` keep-alive connections, each thread owning its own objects."""
    try:
        ctx = ssl.create_default_context(cafile=cluster["ca_file"])
        ctx.load_cert_chain(cluster["cert"], cluster["key"])
        conns = []
        for _ in range(threads):
            c = http.client.HTTPSConnection(cluster["host"], cluster["port"],
                                            context=ctx, timeout=60)
            status, _ = call(c, "GET", f"/api/v1/namespaces/{ns}")
            if status != 200:
                raise RuntimeError(f"warm-up GET answered {status}")
            conns.append(c)
        records = [None] * updates
        errors = []

        def run(t):
            c = conns[t]
            for k in range(updates):
                obj = k % len(names)
                if obj % threads != t:
                    continue
                wid = f"{tag}-{k}"
                sent = time.monotonic()
                body = json.dumps({"data": {"w": wid, "t": f"{sent:.6f}"}})
                try:
                    status, data = call(
                        c, "PATCH", f"/api/v1/namespaces/{ns}/configmaps/{names[obj]}",
                        body, {"Content-Type": "application/merge-patch+json"})
                except (OSError, http.client.HTTPException) as e:
                    errors.append(f"{wid}: {e}")
                    return
                done = time.monotonic()
                if status != 200:
                    errors.append(f"{wid}: {status} {data[:200]!r}")
                    return
                records[k] = (wid, sent, done)

        ready_q.put(("ready", cluster["name"]))
        go.wait()
        ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        result_q.put((cluster["name"], [r for r in records if r], errors))
    except Exception as e:  # reported to the parent, which fails
        ready_q.put(("error", f"{cluster['name']}: {e}"))
        result_q.put((cluster["name"], [], [str(e)]))


W_RE = re.compile(rb'"w":"([^"]*)"')


class WatchReader(threading.Thread):
    """Reads a watch, noting when each expected write id arrives. Events are
    matched by a regular expression, not decoded, so that the client is not
    what limits the rate; the first is decoded to check its shape."""

    def __init__(self, resp, expected):
        super().__init__(daemon=True)
        self.resp = resp
        self.pending = set(expected)
        self.arrival = {}
        self.events = 0
        self.error = None
        self.cpu_s = 0.0
        self.done = threading.Event()

    def run(self):
        buf = b""
        cpu0 = time.thread_time()
        try:
            while self.pending:
                chunk = self.resp.read1(1 << 16)
                now = time.monotonic()
                if not chunk:
                    self.error = "the watch ended"
                    break
                buf += chunk
                lines = buf.split(b"\n")
                buf = lines.pop()
                for line in lines:
                    if not line.strip():
                        continue
                    self.events += 1
                    if self.events == 1 or b'"type":"ERROR"' in line:
                        ev = json.loads(line)
                        if ev.get("type") == "ERROR":
                            self.error = f"ERROR event: {ev.get('object')}"
                            return
                        if (ev.get("object") or {}).get("kind") != "ConfigMap":
                            self.error = f"not a ConfigMap event: {line[:200]!r}"
                            return
                    m = W_RE.search(line)
                    w = m.group(1).decode() if m else None
                    if w in self.pending:
                        self.pending.discard(w)
                        self.arrival[w] = now
        except (OSError, ValueError, http.client.HTTPException) as e:
            if self.pending and not self.error:
                self.error = f"{type(e).__name__}: {e}"
        finally:
            self.cpu_s = time.thread_time() - cpu0
            self.done.set()


def open_watch(conn, collection, selector, version):
    target = (f"{collection}?watch=1&labelSelector={selector}"
              f"&resourceVersion={urllib.parse.quote(version, safe='')}")
    conn.request("GET", target, headers={"Accept": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        body = resp.read()
        return None, f"{resp.status} {body[:300]!r}"
    return resp, None


def stop_reader(conn, reader):
    try:
        if conn.sock:
            conn.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    reader.join(5)
    conn.close()


def list_version(conn, path):
    status, body = call(conn, "GET", path)
    if status != 200:
        fail(f"GET {path}: {status} {body[:300]!r}")
    return json.loads(body)["metadata"]["resourceVersion"]


def watch_live(streams, collection, selector, clusters, names, updates,
               threads, tag, proc=None, settle=60):
    """`streams`: [(make_conn, [clusters whose writes it sees])], one watch
    each; every cluster seen is written to. Returns (result, [(make_conn,
    version, ids)]) for watch_replay."""
    ns = collection.split("/namespaces/")[1].split("/")[0]
    writes = [c for _, sees in streams for c in sees]
    opened = []
    for make, sees in streams:
        conn = make()
        # The version from a LIST that matches nothing: a point in time in
        # every cluster, without a big LIST's memory in the sidecar's peak.
        version = list_version(conn, f"{collection}?labelSelector=mca-bench%3Dnone")
        opened.append((make, conn, version,
                       [f"{tag}{c}-{k}" for c in sees for k in range(updates)]))
    mem_before = proc.mem() if proc else None
    readers = []
    try:
        for _, conn, version, ids in opened:
            resp, err = open_watch(conn, collection, selector, version)
            if err:
                fail(f"watch {collection}: {err}")
            readers.append(WatchReader(resp, ids))
            readers[-1].start()
        mp = multiprocessing.get_context("spawn")
        ready_q, result_q, go = mp.Queue(), mp.Queue(), mp.Event()
        procs = [mp.Process(target=writer_main, daemon=True,
                            args=(clusters[c].as_dict(), ns, names, updates,
                                  threads, f"{tag}{c}", ready_q, go, result_q))
                 for c in writes]
        try:
            for p in procs:
                p.start()
            for _ in procs:
                kind, what = ready_q.get(timeout=60)
                if kind == "error":
                    fail(f"writer {what}")
            cpu0 = proc.cpu() if proc else None
            t_start = time.monotonic()
            go.set()
            records, errors = [], []
            for _ in procs:
                _, recs, errs = result_q.get(timeout=600)
                records += recs
                errors += errs
            t_written = max(r[2] for r in records) if records else time.monotonic()
            for p in procs:
                p.join(10)
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
        if errors:
            fail(f"writes failed ({len(errors)}), e.g. {errors[:3]}")
        until = time.monotonic() + max(settle, 3 * (t_written - t_start))
        for r in readers:
            r.done.wait(max(0, until - time.monotonic()))
        t_end = time.monotonic()
        cpu = proc.cpu() - cpu0 if proc else None
        mem = proc.mem() if proc else None
    finally:
        for (_, conn, _, _), r in zip(opened, readers):
            stop_reader(conn, r)
        for _, conn, _, _ in opened:
            conn.close()
    arrival = {}
    for r in readers:
        arrival.update(r.arrival)
    expected = sum(len(ids) for _, _, _, ids in opened)
    lag_resp = [(arrival[w] - done) * 1000 for w, _, done in records if w in arrival]
    lag_sent = [(arrival[w] - sent) * 1000 for w, sent, _ in records if w in arrival]
    got = len(arrival)
    last = max(arrival.values()) if arrival else t_end
    out = {"clusters": len(set(writes)), "watches": len(streams),
           "writes": len(records), "events_received": got,
           "missing": expected - got,
           "write_rate_per_s": round(len(records) / (t_written - t_start), 1),
           "relay_events_per_s": round(got / (last - t_start), 1),
           "last_event_after_last_write_ms": round((last - t_written) * 1000, 1),
           "client_cpu_us_per_event": round(
               sum(r.cpu_s for r in readers) * 1e6 / max(got, 1), 1),
           "lag_from_write_response": summary(lag_resp),
           "lag_from_write_sent": summary(lag_sent)}
    errs = [r.error for r in readers if r.error and r.pending]
    if errs:
        out["error"] = "; ".join(errs)
    if proc:
        out["sidecar_cpu_s"] = round(cpu, 2)
        out["sidecar_cpu_us_per_event"] = round(cpu * 1e6 / max(got, 1), 1)
        out["rss_before_mib"] = mem_before["VmRSS"]
        out["rss_peak_mib"] = mem["VmHWM"]
        out["rss_after_mib"] = mem["VmRSS"]
    return out, [(make, version, ids) for make, _, version, ids in opened]


def watch_replay(streams, collection, selector, proc=None, timeout=120):
    """New watches from before the writes, all at once: the backlog comes
    as fast as it goes. `streams`: [(make_conn, version, ids)]."""
    conns = [make() for make, _, _ in streams]
    readers = []
    cpu0 = proc.cpu() if proc else None
    t0 = time.monotonic()
    try:
        for conn, (_, version, ids) in zip(conns, streams):
            resp, err = open_watch(conn, collection, selector, version)
            if err:
                return {"error": err}
            readers.append(WatchReader(resp, ids))
            readers[-1].start()
        until = t0 + timeout
        for r in readers:
            r.done.wait(max(0, until - time.monotonic()))
    finally:
        for conn, r in zip(conns, readers):
            stop_reader(conn, r)
        for conn in conns:
            conn.close()
    arrival = {}
    for r in readers:
        arrival.update(r.arrival)
    got = len(arrival)
    if not got:
        return {"error": "; ".join(r.error or "no event" for r in readers)}
    arrivals = sorted(arrival.values())
    out = {"events_received": got,
           "missing": sum(len(ids) for _, _, ids in streams) - got,
           "first_event_ms": round((arrivals[0] - t0) * 1000, 1),
           "all_events_ms": round((arrivals[-1] - t0) * 1000, 1),
           "events_per_s": round(got / (arrivals[-1] - t0), 1),
           "client_cpu_us_per_event": round(
               sum(r.cpu_s for r in readers) * 1e6 / got, 1)}
    errs = [r.error for r in readers if r.error and r.pending]
    if errs:
        out["error"] = "; ".join(errs)
    if proc:
        cpu = proc.cpu() - cpu0
        out["sidecar_cpu_us_per_event"] = round(cpu * 1e6 / got, 1)
        m = proc.mem()
        out["rss_peak_mib"] = m["VmHWM"]
        out["rss_after_mib"] = m["VmRSS"]
    return out


# ---------------------------------------------------------------- report

def table(title, header, rows):
    if not rows:
        return ""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = [title]
    for i, r in enumerate([header] + rows):
        cells = [str(c).ljust(w) if j == 0 else str(c).rjust(w)
                 for j, (c, w) in enumerate(zip(r, widths))]
        lines.append("  " + "  ".join(cells))
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def g(d, *path, default="-"):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def report(result):
    p = result["params"]
    out = [f"{p.get('sidecar_version', '?')} ({p.get('build_type', '?')}, "
           f"--workers {p['sidecar_workers']}), {p['cpus']} CPUs, load average "
           f"{' '.join(p.get('loadavg_start', []))} at the start, "
           f"{' '.join(p.get('loadavg_end', ['-']))} at the end"]
    hdr = ["LIST", "items", "KiB", "pages", "p50 ms", "p90 ms", "p99 ms",
           "max ms", "client CPU", "sidecar CPU", "RSS MiB before/peak/after"]
    rows = []
    for key, label in result["list_labels"]:
        r = result["list"].get(key)
        if not r:
            continue
        mem = (f"{r['rss_before_mib']}/{r['rss_peak_mib']}/{r['rss_after_mib']}"
               if "rss_peak_mib" in r else "-")
        rows.append([label, r["items"], round(r["bytes"] / 1024), r["pages"],
                     r["p50_ms"], r["p90_ms"], r["p99_ms"], r["max_ms"],
                     r["client_cpu_ms_p50"], r.get("sidecar_cpu_ms_per_list", "-"),
                     mem])
    out.append(table(f"LIST, {result['params']['n']} each (CPU: ms per LIST, the "
                     "client's p50 and the sidecar's mean; KiB: per LIST, all "
                     "pages)", hdr, rows))
    hdr = ["WATCH (live)", "clusters", "events", "writes/s", "received/s",
           "lag p50", "p90", "p99", "max ms", "client us/ev", "sidecar us/ev",
           "RSS MiB before/peak/after"]
    rows = []
    for key, label in result["watch_labels"]:
        r = result["watch"].get(key)
        if not r:
            continue
        lag = r["lag_from_write_response"]
        mem = (f"{r['rss_before_mib']}/{r['rss_peak_mib']}/{r['rss_after_mib']}"
               if "rss_peak_mib" in r else "-")
        rows.append([label, r["clusters"], f"{r['events_received']}/{r['writes']}",
                     r["write_rate_per_s"], r["relay_events_per_s"],
                     g(lag, "p50_ms"), g(lag, "p90_ms"), g(lag, "p99_ms"),
                     g(lag, "max_ms"), r["client_cpu_us_per_event"],
                     r.get("sidecar_cpu_us_per_event", "-"), mem])
    out.append(table("WATCH, live: writers as fast as they go; lag from a "
                     "write's response to its event", hdr, rows))
    hdr = ["WATCH (replay)", "events", "first ms", "all ms", "events/s",
           "client us/ev", "sidecar us/ev", "RSS MiB peak/after"]
    rows = []
    for key, label in result["watch_labels"]:
        r = result["replay"].get(key)
        if not r:
            continue
        if "events_per_s" not in r:
            rows.append([label, "-", "-", "-", r.get("error", "")[:60], "-", "-", "-"])
            continue
        mem = (f"{r['rss_peak_mib']}/{r['rss_after_mib']}"
               if "rss_peak_mib" in r else "-")
        rows.append([label, r["events_received"], r["first_event_ms"],
                     r["all_events_ms"], r["events_per_s"],
                     r["client_cpu_us_per_event"],
                     r.get("sidecar_cpu_us_per_event", "-"), mem])
    out.append(table("WATCH, replay: a new watch from the pre-write version "
                     "(the backlog at once)", hdr, rows))
    return "\n\n".join(t for t in out if t)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--testenv", default=os.environ.get(
        "MCA_TESTENV_DIR", os.path.join(ROOT, ".testenv")))
    ap.add_argument("-n", type=int, default=30, help="LISTs per case")
    ap.add_argument("--per-cluster", type=int, default=1000,
                    help="ConfigMaps per cluster in the fan-out namespace "
                         "(the single-cluster one has three times as many)")
    ap.add_argument("--updates", type=int, default=2000,
                    help="watch events written per cluster")
    ap.add_argument("--writers", type=int, default=4,
                    help="connections writing to each cluster")
    ap.add_argument("--workers", type=int, default=1,
                    help="the sidecar's --workers")
    ap.add_argument("--page-size", type=int, default=500)
    ap.add_argument("--no-paged", action="store_true")
    ap.add_argument("--no-watch", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()

    try:
        with open(os.path.join(a.testenv, "clusters.json")) as f:
            doc = json.load(f)
    except OSError as e:
        fail(f"{e}; are the clusters up (make testenv-up)?")
    clusters = {c["name"]: Cluster(c) for c in doc["clusters"]}
    for name in ("home", "east", "west"):
        if name not in clusters:
            fail(f"the testenv has no cluster {name} (hack/testenv up --clusters 3)")
    clusters = {k: clusters[k] for k in ("home", "east", "west")}
    kubectl_bin = kubectl_path(a.testenv, doc)

    sfx = "".join(random.choice(string.ascii_lowercase) for _ in range(6))
    fan_ns, single_ns = f"mca-fanb-{sfx}", f"mca-fanb-one-{sfx}"
    work = tempfile.mkdtemp(prefix="mca-fanout-bench-")
    sidecars = []
    created = []  # (cluster, namespace)
    result = {"params": {"n": a.n, "per_cluster": a.per_cluster,
                         "single": 3 * a.per_cluster, "updates": a.updates,
                         "writers": a.writers, "sidecar_workers": a.workers,
                         "page_size": a.page_size, "cpus": os.cpu_count()},
              "list": {}, "watch": {}, "replay": {}}

    def on_term(signo, _frame):
        raise KeyboardInterrupt(f"signal {signo}")
    signal.signal(signal.SIGTERM, on_term)

    def start_sidecar(name):
        s = Sidecar(binary, routes, work, name, fan_ns, a.workers)
        sidecars.append(s)
        return s

    def stop_sidecar(s):
        s.stop()
        sidecars.remove(s)

    try:
        src = os.path.join(a.build, "sidecar/mca-sidecar")
        wait_for_binary(src)
        binary = os.path.join(work, "mca-sidecar")
        shutil.copy2(src, binary)
        result["params"]["sidecar_version"] = sh([binary, "--version"]).strip()
        result["params"]["sidecar_mtime"] = time.strftime(
            "%Y-%m-%dT%H:%M:%S", time.localtime(os.stat(src).st_mtime))
        cache = os.path.join(a.build, "CMakeCache.txt")
        if os.path.exists(cache):
            m = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", open(cache).read(), re.M)
            if m:
                result["params"]["build_type"] = m.group(1)
        wait_ready(clusters)
        result["params"]["loadavg_start"] = open("/proc/loadavg").read().split()[:3]

        # Objects.
        t0 = time.time()
        for name in ("home", "east", "west"):
            sh([kubectl_bin, "--kubeconfig", clusters[name].kubeconfig, "create",
                "namespace", fan_ns])
            created.append((name, fan_ns))
        sh([kubectl_bin, "--kubeconfig", clusters["home"].kubeconfig, "create",
            "namespace", single_ns])
        created.append(("home", single_ns))
        jobs = []
        for name in ("home", "east", "west"):
            jobs += [(clusters[name], fan_ns, "fanout", lo, min(lo + BATCH, a.per_cluster))
                     for lo in range(0, a.per_cluster, BATCH)]
        jobs += [(clusters["home"], single_ns, "single", lo,
                  min(lo + BATCH, 3 * a.per_cluster))
                 for lo in range(0, 3 * a.per_cluster, BATCH)]
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            for f in [pool.submit(create_batch, kubectl_bin, *j) for j in jobs]:
                f.result()
        result["setup_s"] = round(time.time() - t0, 1)
        print(f"fanout_bench: created {3 * a.per_cluster} + {3 * a.per_cluster} "
              f"ConfigMaps in {result['setup_s']} s", file=sys.stderr)

        routes = routes_yaml(clusters, fan_ns, single_ns)
        home = clusters["home"]
        fan_path = f"/api/v1/namespaces/{fan_ns}/configmaps?labelSelector=mca-bench%3Dfanout"
        single_path = f"/api/v1/namespaces/{single_ns}/configmaps?labelSelector=mca-bench%3Dsingle"
        total = 3 * a.per_cluster

        # 1. LISTs: each sidecar case in a sidecar of its own.
        list_labels = [("merged", f"merged 3 x {a.per_cluster:,} via sidecar"),
                       ("relayed", f"single {total:,} via sidecar (home)"),
                       ("direct", f"single {total:,} direct to home"),
                       ("direct_one", f"{a.per_cluster:,} direct to home (1 upstream)")]
        cases = [("merged", fan_path, total, True), ("relayed", single_path, total, True),
                 ("direct", single_path, total, False),
                 ("direct_one", fan_path, a.per_cluster, False)]
        for paged in ([False] if a.no_paged else [False, True]):
            for key, path, expect, via in cases:
                if paged and key == "direct_one":
                    continue
                wait_ready(clusters)
                k = key + ("_paged" if paged else "")
                print(f"fanout_bench: LIST {k}", file=sys.stderr)
                if via:
                    s = start_sidecar(f"list-{k}")
                    result["list"][k] = time_lists(s.conn, path, a.n, expect, paged,
                                                   a.page_size, proc=s)
                    stop_sidecar(s)
                else:
                    result["list"][k] = time_lists(home.conn, path, a.n, expect,
                                                   paged, a.page_size)
        result["list_labels"] = list_labels + [
            (k + "_paged", l.replace("via", "paged via").replace("direct", "paged direct"))
            for k, l in list_labels if k != "direct_one" and not a.no_paged]

        # 2. Watches.
        result["watch_labels"] = [
            ("merged", f"merged 3 x {a.updates:,} via sidecar"),
            ("direct3", f"3 x {a.updates:,}, 3 watches direct"),
            ("relayed", f"{a.updates:,} via sidecar (home)"),
            ("direct", f"{a.updates:,} direct to home")]
        if not a.no_watch:
            fan_coll = f"/api/v1/namespaces/{fan_ns}/configmaps"
            single_coll = f"/api/v1/namespaces/{single_ns}/configmaps"
            names_fan = [f"cfg-{i:05d}" for i in range(a.per_cluster)]
            names_single = [f"cfg-{i:05d}" for i in range(total)]
            three = ["home", "east", "west"]
            for key, coll, sel, names, via, streams in [
                    ("merged", fan_coll, "mca-bench%3Dfanout", names_fan, True,
                     [(None, three)]),
                    ("direct3", fan_coll, "mca-bench%3Dfanout", names_fan, False,
                     [(clusters[c].conn, [c]) for c in three]),
                    ("relayed", single_coll, "mca-bench%3Dsingle", names_single, True,
                     [(None, ["home"])]),
                    ("direct", single_coll, "mca-bench%3Dsingle", names_single, False,
                     [(home.conn, ["home"])])]:
                wait_ready(clusters)
                print(f"fanout_bench: WATCH {key}", file=sys.stderr)
                s = start_sidecar(f"watch-{key}") if via else None
                if s:
                    streams = [(s.conn, sees) for _, sees in streams]
                r, opened = watch_live(streams, coll, sel, clusters, names,
                                       a.updates, a.writers, f"{key}-", proc=s)
                result["watch"][key] = r
                if s:
                    stop_sidecar(s)
                    s = start_sidecar(f"replay-{key}")
                    opened = [(s.conn, version, ids) for _, version, ids in opened]
                result["replay"][key] = watch_replay(opened, coll, sel, proc=s)
                if s:
                    stop_sidecar(s)
        result["params"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    except BenchError as e:
        print(f"fanout_bench: {e}", file=sys.stderr)
        result["error"] = str(e)
    except KeyboardInterrupt as e:
        print(f"fanout_bench: interrupted{' by ' + str(e) if str(e) else ''}; "
              "cleaning up", file=sys.stderr)
        result["error"] = "interrupted"
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
        for s in list(sidecars):
            s.stop()
        cleanup(clusters, created)
        shutil.rmtree(work, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    if "list_labels" in result:
        print(report(result))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    if "error" in result:
        sys.exit(1)


def cleanup(clusters, created):
    """The testenv runs no namespace controller: empty each namespace, delete
    it, then clear its finalizer so it goes at once."""
    for name, ns in created:
        c = clusters[name]
        try:
            conn = c.conn(timeout=60)
            call(conn, "DELETE", f"/api/v1/namespaces/{ns}/configmaps")
            status, _ = call(conn, "DELETE", f"/api/v1/namespaces/{ns}")
            status, body = call(conn, "GET", f"/api/v1/namespaces/{ns}")
            if status == 200:
                obj = json.loads(body)
                obj.setdefault("spec", {})["finalizers"] = []
                call(conn, "PUT", f"/api/v1/namespaces/{ns}/finalize", json.dumps(obj),
                     {"Content-Type": "application/json"})
            conn.close()
        except (OSError, http.client.HTTPException, ValueError) as e:
            print(f"fanout_bench: cleaning {ns} on {name}: {e}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:  # before anything was created
        sys.exit(f"fanout_bench: {e}")
