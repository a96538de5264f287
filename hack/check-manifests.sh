#!/usr/bin/env bash
# hack/check-manifests.sh: checks charts/mca and config/ against a real API
# server (the home cluster of hack/testenv, $MCA_TESTENV_DIR, else .testenv):
#
#   - charts/mca/files/crds/ is identical to crds/;
#   - helm lint --strict, with the default and the non-default values;
#   - helm template with default and non-default values, applied with
#     kubectl apply --dry-run=server (the API server validates every object);
#   - every values file in charts/mca/ci/invalid/ is refused with the message
#     its first line names (# expect: TEXT);
#   - kubectl kustomize config/default, applied the same way, gives the same
#     objects as the chart's defaults;
#   - the operator's ServiceAccount, with the chart's RBAC applied for real,
#     may make the requests the operator makes and not more (kubectl auth
#     can-i);
#   - every sample in config/samples/ applies (--dry-run=server).
#
# Real changes: the CRDs are applied server-side (as the integration tests
# do; never deleted, other tests share them), and a scratch namespace and a
# ClusterRole/ClusterRoleBinding named after it are created and deleted.
# $MCA_OPERATOR_BINARY (optional): also parse the rendered operator
# configurations with `mca-operator inject --config`.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TESTENV_DIR=${MCA_TESTENV_DIR:-$ROOT/.testenv}
CHART=$ROOT/charts/mca
failures=0
passes=0

pass() { passes=$((passes + 1)); echo "ok: $*"; }
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
die() { echo "hack/check-manifests.sh: $*" >&2; exit 1; }

export KUBECONFIG=$TESTENV_DIR/home/kubeconfig
[ -f "$KUBECONFIG" ] ||
  die "no test cluster at $TESTENV_DIR (no home/kubeconfig); start one with: hack/testenv up --dir $TESTENV_DIR"
HELM=$("$ROOT/hack/helm" --path) || die "could not build Helm (hack/helm)"
K8S_BIN=$("$ROOT/hack/testenv" build | tail -n1) || die "could not build kubectl (hack/testenv build)"
KUBECTL=$K8S_BIN/kubectl
"$KUBECTL" version >/dev/null 2>&1 ||
  die "the home cluster at $KUBECONFIG does not answer; start it with: hack/testenv up --dir $TESTENV_DIR"

WORK=$(mktemp -d)
NS=mca-check-$(tr -dc 'a-z0-9' </dev/urandom | head -c 8)
cleanup() {
  "$KUBECTL" delete clusterrolebinding,clusterrole "$NS" --ignore-not-found --wait=false >/dev/null 2>&1
  "$KUBECTL" delete namespace "$NS" --ignore-not-found --wait=false >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

# run NAME CMD...: runs CMD, its output in $WORK/NAME.log; prints the log on
# failure.
run() {
  local name=$1
  shift
  if "$@" >"$WORK/$name.log" 2>&1; then
    return 0
  fi
  sed 's/^/    /' "$WORK/$name.log" | head -n 40
  return 1
}

# 1. One source of truth for the CRDs.
if diff -r -x Kustomization -x README.md "$ROOT/crds" "$CHART/files/crds" >"$WORK/crd-diff.log" 2>&1; then
  pass "charts/mca/files/crds is identical to crds/"
else
  fail "charts/mca/files/crds differs from crds/ (copy them: cp crds/*.yaml charts/mca/files/crds/)"
  sed 's/^/    /' "$WORK/crd-diff.log" | head -n 20
fi

# The CRDs for real, so the dry runs of custom resources find them.
if run crds "$KUBECTL" apply --server-side --force-conflicts --field-manager=mca-check-manifests -f "$ROOT/crds/" &&
  run crds-wait "$KUBECTL" wait --for condition=Established --timeout=60s \
    crd/clustertargets.mca.x-k8s.io crd/routingpolicies.mca.x-k8s.io; then
  pass "crds/ applied"
else
  fail "crds/ could not be applied"
fi
run namespace "$KUBECTL" create namespace "$NS" || die "could not create namespace $NS"

# dry_run NAME FILE: kubectl apply --dry-run=server; the objects as the API
# server would store them in $WORK/NAME.json, their kinds and names in
# $WORK/NAME.names.
dry_run() {
  local name=$1 file=$2
  if "$KUBECTL" apply --dry-run=server -f "$file" -o json >"$WORK/$name.json" 2>"$WORK/$name.err"; then
    python3 "$ROOT/hack/manifest-objects.py" names "$WORK/$name.json" >"$WORK/$name.names"
    pass "$name: $(wc -l <"$WORK/$name.names") objects accepted by the API server (--dry-run=server)"
  else
    fail "$name: the API server refused the manifests (--dry-run=server):"
    sed 's/^/    /' "$WORK/$name.err" | head -n 40
  fi
}

# 2. The chart: lint and render with default and non-default values.
NONDEFAULT=$CHART/ci/nondefault-values.yaml
if run lint-default "$HELM" lint --strict "$CHART" --namespace "$NS"; then
  pass "helm lint --strict (default values)"
else fail "helm lint --strict (default values)"; fi
# (helm lint has no --api-versions: the monitors are checked below.)
if run lint-nondefault "$HELM" lint --strict "$CHART" --namespace "$NS" -f "$NONDEFAULT" \
  --set metrics.serviceMonitor.enabled=false --set metrics.podMonitor.enabled=false; then
  pass "helm lint --strict (ci/nondefault-values.yaml)"
else fail "helm lint --strict (ci/nondefault-values.yaml)"; fi

if run template-default "$HELM" template mca "$CHART" --namespace "$NS"; then
  cp "$WORK/template-default.log" "$WORK/chart-default.yaml"
  dry_run chart-default "$WORK/chart-default.yaml"
else fail "helm template (default values)"; fi

# The Prometheus operator's CRDs are not on the test cluster: the monitors
# are rendered and checked here, the rest is applied without them.
if run template-monitors "$HELM" template mca "$CHART" --namespace "$NS" -f "$NONDEFAULT" \
  --api-versions monitoring.coreos.com/v1; then
  if grep -q '^kind: ServiceMonitor' "$WORK/template-monitors.log" &&
    grep -q '^kind: PodMonitor' "$WORK/template-monitors.log" &&
    grep -q 'port: mca-admin' "$WORK/template-monitors.log"; then
    pass "helm template renders the ServiceMonitor and the PodMonitor"
  else fail "helm template with metrics.*.enabled rendered no ServiceMonitor or PodMonitor"; fi
else fail "helm template (ci/nondefault-values.yaml)"; fi
if run template-nondefault "$HELM" template mca "$CHART" --namespace "$NS" -f "$NONDEFAULT" \
  --set metrics.serviceMonitor.enabled=false --set metrics.podMonitor.enabled=false; then
  cp "$WORK/template-nondefault.log" "$WORK/chart-nondefault.yaml"
  dry_run chart-nondefault "$WORK/chart-nondefault.yaml"
else fail "helm template (ci/nondefault-values.yaml)"; fi
if "$HELM" template mca "$CHART" --set metrics.serviceMonitor.enabled=true >/dev/null 2>"$WORK/no-crd.err" ||
  ! grep -q 'need the Prometheus operator' "$WORK/no-crd.err"; then
  fail "a ServiceMonitor without the Prometheus operator's API was not refused clearly:"
  sed 's/^/    /' "$WORK/no-crd.err"
else
  pass "a ServiceMonitor without monitoring.coreos.com/v1 is refused"
fi

# 3. Invalid values: refused, with the message the file expects.
for f in "$CHART"/ci/invalid/*.yaml; do
  expect=$(sed -n '1s/^# expect: //p' "$f")
  name=ci/invalid/$(basename "$f")
  [ -n "$expect" ] || { fail "$name has no '# expect: TEXT' first line"; continue; }
  for cmd in template lint; do
    if "$HELM" "$cmd" "$([ $cmd = template ] && echo mca)" "$CHART" -f "$f" >"$WORK/invalid.out" 2>&1; then
      fail "helm $cmd accepted $name"
    elif grep -qF -- "$expect" "$WORK/invalid.out"; then
      pass "helm $cmd refuses $name: $(grep -F -m1 -- "$expect" "$WORK/invalid.out" | sed 's/^[- ]*//')"
    else
      fail "helm $cmd refused $name without the expected message \"$expect\":"
      sed 's/^/    /' "$WORK/invalid.out" | head -n 10
    fi
  done
done

# 4. kustomize: config/default, in the scratch namespace for the dry run.
if run kustomize "$KUBECTL" kustomize "$ROOT/config/default"; then
  sed "s/mca-system/$NS/g" "$WORK/kustomize.log" >"$WORK/kustomize-default.yaml"
  dry_run kustomize-default "$WORK/kustomize-default.yaml"
  # The same objects as the chart's defaults (its namespace aside).
  if [ -f "$WORK/chart-default.names" ]; then
    if diff <(sort "$WORK/chart-default.names") \
      <(grep -v '^namespace/' "$WORK/kustomize-default.names" | sort) >"$WORK/same.diff"; then
      pass "config/default and the chart's defaults install the same objects"
    else
      fail "config/default and the chart's defaults install different objects (< chart, > kustomize):"
      sed 's/^/    /' "$WORK/same.diff"
    fi
  fi
  # And the same RBAC rules, webhook, workload and operator configuration,
  # as the API server would store them.
  if [ -f "$WORK/chart-default.json" ] && [ -f "$WORK/kustomize-default.json" ]; then
    if python3 "$ROOT/hack/manifest-objects.py" same "$WORK/chart-default.json" \
      "$WORK/kustomize-default.json" >"$WORK/same-spec.log" 2>&1; then
      pass "config/default and the chart's defaults: the same rules, webhook, Deployment, Services, PDB and configuration"
    else
      fail "config/default and the chart's defaults differ:"
      sed 's/^/    /' "$WORK/same-spec.log" | head -n 30
    fi
  fi
else fail "kubectl kustomize config/default"; fi

# The operator configurations (chart, default and non-default values;
# config/default) as mca-operator reads them: each parses, and the chart's
# defaults inject exactly what config/default's configuration injects.
if [ -n "${MCA_OPERATOR_BINARY:-}" ]; then
  printf '%s\n' 'apiVersion: v1' 'kind: Pod' 'metadata: {name: p, namespace: demo}' \
    'spec: {containers: [{name: app, image: app}]}' >"$WORK/pod.yaml"
  for source in chart-default chart-nondefault kustomize-default; do
    [ -f "$WORK/$source.json" ] || continue
    python3 "$ROOT/hack/manifest-objects.py" data "$WORK/$source.json" \
      "$([ $source = chart-nondefault ] && echo mca-ctl || echo mca-operator)-config" \
      operator-config.yaml >"$WORK/config-$source.yaml"
    if "$MCA_OPERATOR_BINARY" inject --config "$WORK/config-$source.yaml" --operator-namespace "$NS" \
      -f "$WORK/pod.yaml" >"$WORK/inject-$source.out" 2>"$WORK/inject-$source.err"; then
      pass "mca-operator accepts the operator configuration of $source"
    else
      fail "mca-operator refuses the operator configuration of $source:"
      sed 's/^/    /' "$WORK/inject-$source.err"
    fi
  done
  if diff "$WORK/inject-chart-default.out" "$WORK/inject-kustomize-default.out" >"$WORK/inject.diff" 2>&1; then
    pass "the chart's default configuration injects what config/default's does"
  else
    fail "the chart's default configuration and config/default's inject differently:"
    sed 's/^/    /' "$WORK/inject.diff" | head -n 30
  fi
else
  echo "note: MCA_OPERATOR_BINARY not set: the operator configurations were not parsed by mca-operator"
fi

# 5. RBAC: the chart's ClusterRole and Role for real (named after the scratch
# namespace), then what the operator's ServiceAccount may do.
if "$HELM" template mca "$CHART" --namespace "$NS" --set operator.name="$NS" \
  --set "rbac.tokenRequest[0].namespace=$NS" --set "rbac.tokenRequest[0].serviceAccount=minted" \
  --show-only templates/rbac.yaml --show-only templates/serviceaccount.yaml >"$WORK/rbac.yaml" 2>&1 &&
  run rbac-apply "$KUBECTL" apply -f "$WORK/rbac.yaml"; then
  sa=system:serviceaccount:$NS:$NS
  other=default
  # can VERB RESOURCE [NAME] [-n NS] -> expected yes/no
  check() {
    local want=$1
    shift
    local got
    got=$("$KUBECTL" auth can-i --as="$sa" "$@" 2>/dev/null)
    if [ "$got" = "$want" ]; then pass "RBAC: $* -> $want"; else fail "RBAC: $* -> ${got:-error}, want $want"; fi
  }
  check yes list clustertargets.mca.x-k8s.io
  check yes watch routingpolicies.mca.x-k8s.io -A
  check yes patch clustertargets.mca.x-k8s.io/x --subresource=status
  check yes patch routingpolicies.mca.x-k8s.io/x --subresource=status -n "$other"
  check no patch routingpolicies.mca.x-k8s.io/x -n "$other"
  check no create clustertargets.mca.x-k8s.io
  check yes watch pods -A
  check no get pods -n "$other"
  check yes list namespaces
  check yes get configmaps/mca-ca-bundle -n "$other"
  check yes patch configmaps/mca-ca-bundle -n "$other"
  check yes create configmaps -n "$other"
  check yes watch configmaps/mca-ca-bundle -A
  check no get configmaps/something-else -n "$other"
  check no list configmaps -n "$other"
  check no update configmaps/something-else -n "$other"
  check yes patch mutatingwebhookconfigurations/mca-sidecar-injector
  check yes watch mutatingwebhookconfigurations/mca-sidecar-injector
  check no patch mutatingwebhookconfigurations/other
  check yes create tokenreviews.authentication.k8s.io
  check yes list secrets -n "$NS"
  check yes create secrets -n "$NS"
  check yes update secrets/mca-operator-certs -n "$NS"
  check no update secrets/other -n "$NS"
  check no list secrets -n "$other"
  check yes create leases.coordination.k8s.io -n "$NS"
  check yes update leases.coordination.k8s.io/mca-operator -n "$NS"
  check no update leases.coordination.k8s.io/other -n "$NS"
  check no create leases.coordination.k8s.io -n "$other"
  check yes create serviceaccounts/minted --subresource=token -n "$NS"
  check no create serviceaccounts/other --subresource=token -n "$NS"
  check no create serviceaccounts/minted --subresource=token -n "$other"
  check no create events -n "$NS"
  # The CA manager creates mca-ca-bundle by server-side apply: patch alone
  # must be enough (for real, in the scratch namespace).
  printf '%s\n' 'apiVersion: v1' 'kind: ConfigMap' 'metadata: {name: mca-ca-bundle}' 'data: {ca.crt: x}' >"$WORK/bundle.yaml"
  if run ssa-create "$KUBECTL" apply --server-side --as="$sa" --field-manager=mca-operator-ca \
    -n "$NS" -f "$WORK/bundle.yaml"; then
    pass "RBAC: server-side apply creates configmaps/mca-ca-bundle with patch alone"
  else fail "RBAC: server-side apply of configmaps/mca-ca-bundle refused"; fi
else
  fail "the chart's RBAC could not be applied:"
  sed 's/^/    /' "$WORK/rbac-apply.log" 2>/dev/null | head -n 20
fi

# 6. Every sample in config/samples/ (routes.yaml is a routing table, not an
# API object), each file and through its kustomization.
for f in "$ROOT"/config/samples/*.yaml; do
  case $(basename "$f") in kustomization.yaml | routes.yaml) continue ;; esac
  grep -qx "  - $(basename "$f")" "$ROOT/config/samples/kustomization.yaml" ||
    fail "config/samples/$(basename "$f") is not listed in config/samples/kustomization.yaml"
  if run "sample-$(basename "$f")" "$KUBECTL" apply --dry-run=server -n "$NS" -f "$f"; then
    pass "config/samples/$(basename "$f") accepted (--dry-run=server)"
  else fail "config/samples/$(basename "$f") refused by the API server"; fi
done
if run samples-k "$KUBECTL" apply --dry-run=server -n "$NS" -k "$ROOT/config/samples"; then
  pass "kubectl apply -k config/samples accepted (--dry-run=server)"
else fail "kubectl apply -k config/samples refused by the API server"; fi

echo "check-manifests: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
