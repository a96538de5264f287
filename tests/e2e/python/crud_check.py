#!/usr/bin/env python3
"""The official Kubernetes Python client through the MCA sidecar.

    crud_check.py --kubeconfig SIDECAR_KUBECONFIG \\
        --direct home=PATH --direct east=PATH --direct west=PATH \\
        --namespace NS [--timeout 60s]

Routes the test expects the sidecar to run with: ConfigMaps labelled
cluster=east go to east, cluster=west to west, everything else to home.
Every step taken through the sidecar is checked with the clusters' own admin
kubeconfigs (--direct).

Output: one line per check on stdout, "ok NAME" or "FAIL NAME: REASON".
Exit status 0 when every check is ok, 1 when any failed, 2 on bad usage.
"""

import argparse
import json
import re
import secrets
import string
import sys
import time
import urllib.parse

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

ROUTE_LABEL = "cluster"  # the label the sidecar's test routes match on
RUN_LABEL = "mca-e2e-run"  # traces leftovers to a run; no part in routing
REQUIRED_CLUSTERS = ("home", "east", "west")
TARGETS = ("east", "west", "home")
CALL_TIMEOUT = 15.0  # seconds; caps one API call
MERGE_PATCH = "application/merge-patch+json"


class CheckFailed(Exception):
    """A check's assertion did not hold; the message is the reason."""


def describe(e):
    """One line for an exception, with the API status when there is one."""
    if isinstance(e, ApiException):
        msg = ""
        try:
            msg = json.loads(e.body).get("message", "")
        except (TypeError, ValueError, AttributeError):
            msg = (e.body or "")[:200]
        return f"HTTP {e.status} {e.reason}: {msg}".strip()
    return f"{type(e).__name__}: {e}"


def normalise_server(raw):
    u = urllib.parse.urlsplit(raw)
    netloc = u.netloc.lower()
    if u.port is None and u.scheme.lower() == "https":
        netloc += ":443"
    return urllib.parse.urlunsplit((u.scheme.lower(), netloc, u.path.rstrip("/"), "", ""))


def random_suffix(n):
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def new_api_client(kubeconfig):
    cfg = client.Configuration()
    # urllib3 retries a timed-out read up to 3 times by default, which would
    # stretch one hung call far past --timeout; connection failures may still
    # be retried once.
    cfg.retries = urllib3.util.Retry(total=1, connect=1, read=0, status=0, redirect=0, other=0)
    return config.new_client_from_config(config_file=kubeconfig, persist_config=False,
                                         client_configuration=cfg)


class Cluster:
    def __init__(self, name, kubeconfig):
        api = new_api_client(kubeconfig)
        self.name = name
        # Two clusters with the same server are the same cluster (the
        # degenerate self-test).
        self.server = normalise_server(api.configuration.host)
        self.core = client.CoreV1Api(api)


class Env:
    def __init__(self, args):
        self.ns = args.namespace
        self.run_id = random_suffix(6)
        self.deadline = time.monotonic() + args.timeout
        api = new_api_client(args.kubeconfig)
        self.sidecar_server = api.configuration.host
        self.sidecar = client.CoreV1Api(api)
        self.clusters = {name: Cluster(name, path) for name, path in sorted(args.direct.items())}
        self.order = [self.clusters[n] for n in sorted(self.clusters)]

    def call(self, fn, *args, **kwargs):
        """Calls an API method with a timeout bounded by the run's deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CheckFailed("--timeout used up")
        return fn(*args, _request_timeout=min(CALL_TIMEOUT, left), **kwargs)


class CheckRun:
    """One check while it runs: what it created (cleaned up afterwards
    whatever happened) and whether placement checks had to be skipped."""

    def __init__(self, env, name):
        self.env = env
        self.name = name
        self.created = []
        self.limited = False

    def object_name(self, part):
        return f"mca-e2e-py-{self.env.run_id}-{self.name}-{part}"

    def track(self, name):
        # Before the create, so an object whose create timed out on the
        # client but succeeded is removed too.
        self.created.append(name)

    def new_config_map(self, name, target):
        labels = {RUN_LABEL: self.env.run_id}
        if target != "home":
            labels[ROUTE_LABEL] = target
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": self.env.ns, "labels": labels},
            "data": {"step": "created", "target": target},
        }

    def direct_get(self, cluster, name):
        """The ConfigMap from cluster, or None when it is not there."""
        try:
            return self.env.call(cluster.core.read_namespaced_config_map, name, self.env.ns)
        except ApiException as e:
            if e.status == 404:
                return None
            raise CheckFailed(f"get configmap {name} directly from {cluster.name}: {describe(e)}")

    def expect_placement(self, name, want):
        """Asserts name exists in cluster want and in no other; returns want's
        copy. An absence check against a cluster served by the same API server
        as want is skipped and recorded in self.limited."""
        home = self.env.clusters[want]
        obj = self.direct_get(home, name)
        if obj is None:
            elsewhere = [c.name for c in self.env.order if c.name != want and self.direct_get(c, name) is not None]
            if elsewhere:
                raise CheckFailed(f"configmap {name} is in cluster(s) {','.join(elsewhere)}, expected in {want}")
            raise CheckFailed(f"configmap {name} is in no cluster, expected in {want}")
        for c in self.env.order:
            if c.name == want:
                continue
            if c.server == home.server:
                self.limited = True
                continue
            if self.direct_get(c, name) is not None:
                raise CheckFailed(f"configmap {name} is in cluster {c.name} too, expected only in {want}")
        return obj

    def expect_gone(self, name):
        for c in self.env.order:
            if self.direct_get(c, name) is not None:
                raise CheckFailed(f"configmap {name} still exists in cluster {c.name} after delete through the sidecar")

    def cleanup(self):
        """Deletes what this check created, directly from every cluster, so it
        works even when the sidecar is what failed. Has its own deadline."""
        seen = set()
        for c in self.env.order:
            if c.server in seen:
                continue
            seen.add(c.server)
            for name in self.created:
                try:
                    c.core.delete_namespaced_config_map(name, self.env.ns, _request_timeout=CALL_TIMEOUT)
                except ApiException as e:
                    if e.status != 404:
                        print(f"crud_check.py: cleanup: delete {self.env.ns}/{name} in {c.name}: {describe(e)}", file=sys.stderr)
                except Exception as e:  # cleanup must not mask the result
                    print(f"crud_check.py: cleanup: delete {self.env.ns}/{name} in {c.name}: {describe(e)}", file=sys.stderr)


def through_sidecar(what, fn, *args, **kwargs):
    """Runs a sidecar call, turning an API error into a CheckFailed naming it."""
    try:
        return fn(*args, **kwargs)
    except ApiException as e:
        raise CheckFailed(f"{what} through the sidecar: {describe(e)}")


def check_setup(r):
    """Creates the namespace directly in every cluster. The test clusters run
    no namespace controller, so a Terminating namespace never goes away; that
    is reported rather than waited on."""
    env = r.env
    for c in env.order:
        try:
            env.call(c.core.create_namespace, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": env.ns}})
        except ApiException as e:
            if e.status != 409:
                raise CheckFailed(f"create namespace {env.ns} directly in {c.name}: {describe(e)}")
        try:
            ns = env.call(c.core.read_namespace, env.ns)
        except ApiException as e:
            raise CheckFailed(f"get namespace {env.ns} directly from {c.name}: {describe(e)}")
        if ns.status is not None and ns.status.phase == "Terminating":
            raise CheckFailed(f"namespace {env.ns} is Terminating in {c.name} (the test clusters have no namespace controller to finish it); use a new namespace name")


def check_crud(r):
    env, sc, ns = r.env, r.env.sidecar, r.env.ns
    names, uids = {}, {}

    for target in TARGETS:
        name = r.object_name(target)
        names[target] = name
        r.track(name)
        created = through_sidecar(f"create {target} configmap {name}", env.call,
                                  sc.create_namespaced_config_map, ns, r.new_config_map(name, target))
        if created.metadata.name != name or not created.metadata.uid:
            raise CheckFailed(f"create {name} through the sidecar returned name {created.metadata.name!r} uid {created.metadata.uid!r}")
        uids[target] = created.metadata.uid

    for target in TARGETS:
        direct = r.expect_placement(names[target], target)
        if direct.metadata.uid != uids[target]:
            raise CheckFailed(f"after create: {names[target]} in {target} has uid {direct.metadata.uid}, the sidecar's create returned {uids[target]}")

    # Read by name: no body, so the sidecar must locate the object.
    for target in TARGETS:
        name = names[target]
        got = through_sidecar(f"read {name}", env.call, sc.read_namespaced_config_map, name, ns)
        if got.metadata.uid != uids[target] or (got.data or {}).get("target") != target:
            raise CheckFailed(f"read {name} through the sidecar returned uid {got.metadata.uid} data {got.data}, want uid {uids[target]} (the {target} copy)")

    # Patches carry no labels, so the sidecar must locate the object. A dict
    # body goes out as a JSON merge patch when asked for one, else as a
    # strategic merge patch (the client's default for dicts).
    for kind, key, extra in (("merge patch", "merge", {"_content_type": MERGE_PATCH}),
                             ("strategic merge patch", "strategic", {})):
        for target in TARGETS:
            name = names[target]
            patched = through_sidecar(f"{kind} of {name}", env.call, sc.patch_namespaced_config_map,
                                      name, ns, {"data": {key: target}}, **extra)
            if (patched.data or {}).get(key) != target:
                raise CheckFailed(f"{kind} of {name} through the sidecar returned data {patched.data}")
            direct = r.expect_placement(name, target)
            if (direct.data or {}).get(key) != target or direct.data.get("target") != target:
                raise CheckFailed(f"after {kind}: {name} in {target} has data {direct.data}, want {key}={target} and the earlier keys kept")

    # Replace (PUT with the full object, labels included).
    for target in TARGETS:
        name = names[target]
        got = through_sidecar(f"read {name} before replace", env.call, sc.read_namespaced_config_map, name, ns)
        body = r.new_config_map(name, target)
        body["metadata"]["resourceVersion"] = got.metadata.resource_version
        body["data"] = dict(got.data or {}, step="replaced")
        replaced = through_sidecar(f"replace {name}", env.call, sc.replace_namespaced_config_map, name, ns, body)
        direct = r.expect_placement(name, target)
        if (direct.data or {}).get("step") != "replaced" or direct.metadata.resource_version != replaced.metadata.resource_version:
            raise CheckFailed(f"after replace: {name} in {target} has data {direct.data} resourceVersion {direct.metadata.resource_version}, want step=replaced resourceVersion {replaced.metadata.resource_version}")

    # List by label selector: routed by the selector to west; the result must
    # be exactly what west itself returns for that selector.
    selector = f"{ROUTE_LABEL}=west"
    listed = through_sidecar(f"list with {selector}", env.call, sc.list_namespaced_config_map, ns, label_selector=selector)
    got = sorted(item.metadata.name for item in listed.items)
    for item in listed.items:
        if (item.metadata.labels or {}).get(ROUTE_LABEL) != "west":
            raise CheckFailed(f"list with {selector} through the sidecar returned {item.metadata.name} labelled {item.metadata.labels}")
    if names["west"] not in got:
        raise CheckFailed(f"list with {selector} through the sidecar returned {got}, missing {names['west']}")
    try:
        direct_list = env.call(env.clusters["west"].core.list_namespaced_config_map, ns, label_selector=selector)
    except ApiException as e:
        raise CheckFailed(f"list with {selector} directly from west: {describe(e)}")
    want = sorted(item.metadata.name for item in direct_list.items)
    if got != want:
        raise CheckFailed(f"list with {selector} through the sidecar returned {got}, west itself has {want}")

    for target in TARGETS:
        name = names[target]
        through_sidecar(f"delete {name}", env.call, sc.delete_namespaced_config_map, name, ns)
        r.expect_gone(name)


def check_errors(r):
    """Reading a ConfigMap that exists nowhere raises ApiException 404 whose
    body is a Status the client can parse."""
    env = r.env
    missing = r.object_name("missing")
    try:
        env.call(env.sidecar.read_namespaced_config_map, missing, env.ns)
    except ApiException as e:
        if e.status != 404:
            raise CheckFailed(f"read of missing {missing} through the sidecar: {describe(e)}, want HTTP 404")
        try:
            status = json.loads(e.body)
        except (TypeError, ValueError) as parse_error:
            raise CheckFailed(f"404 body for {missing} is not JSON ({parse_error}): {str(e.body)[:200]!r}")
        if not isinstance(status, dict) or status.get("kind") != "Status":
            raise CheckFailed(f"404 body for {missing} is not a Status: {str(e.body)[:200]!r}")
        details = status.get("details") or {}
        if status.get("reason") != "NotFound" or status.get("code") != 404 or details.get("name") != missing:
            raise CheckFailed(f"404 Status for {missing} has reason {status.get('reason')!r} code {status.get('code')!r} details {details}, want NotFound 404 naming {missing}")
        return
    raise CheckFailed(f"read of missing {missing} through the sidecar succeeded, want 404")


CHECKS = (("setup", check_setup), ("crud", check_crud), ("errors", check_errors))


def duration(text):
    """Seconds from "60", "60s", "1.5m" or "500ms" (Go's spelling is accepted
    so a harness can pass the same --timeout to both programs)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"want seconds such as 60 or 60s, got {text!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[m.group(2)]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="crud_check.py", description=__doc__.split("\n")[0])
    p.add_argument("--kubeconfig", required=True, help="kubeconfig that points at the sidecar")
    p.add_argument("--direct", action="append", default=[], metavar="NAME=KUBECONFIG",
                   help="a cluster's direct admin kubeconfig; repeat for home, east and west")
    p.add_argument("--namespace", required=True, help="namespace to work in; created directly in every cluster")
    p.add_argument("--timeout", type=duration, default=60.0,
                   help="deadline for all checks together, e.g. 60 or 60s (default 60s)")
    args = p.parse_args(argv)
    direct = {}
    for item in args.direct:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            p.error(f"--direct wants NAME=KUBECONFIG, got {item!r}")
        if name in direct:
            p.error(f"--direct: cluster {name!r} given twice")
        direct[name] = path
    for name in REQUIRED_CLUSTERS:
        if name not in direct:
            p.error(f"--direct {name}=KUBECONFIG is required")
    if args.timeout <= 0:
        p.error("--timeout must be positive")
    args.direct = direct
    return args


def main(argv):
    args = parse_args(argv)
    try:
        env = Env(args)
    except Exception as e:
        for name, _ in CHECKS:
            print(f"FAIL {name}: load kubeconfigs: {describe(e)}", flush=True)
        return 1

    failed = False
    setup_ok = True
    for name, fn in CHECKS:
        if not setup_ok:
            line = f"FAIL {name}: not run: setup failed"
        elif time.monotonic() >= env.deadline:
            line = f"FAIL {name}: not run: --timeout {args.timeout:g}s used up by earlier checks"
        else:
            r = CheckRun(env, name)
            try:
                fn(r)
                line = f"ok {name}"
                if r.limited:
                    line += " (placement checks limited: clusters share a server)"
            except CheckFailed as e:
                line = f"FAIL {name}: {e}"
            except Exception as e:  # a bug or a transport error: still one line
                line = f"FAIL {name}: {describe(e)}"
            finally:
                r.cleanup()
        line = " ".join(line.split())
        print(line, flush=True)
        if not line.startswith("ok "):
            failed = True
            if name == "setup":
                setup_ok = False
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
