#!/usr/bin/env bash
# hack/check-helm-upgrade.sh: `helm install` of charts/mca and `helm upgrade`
# to the next chart version on a real API server, and what injected pods
# rely on survives the upgrade.
#
# It starts a one-cluster hack/testenv of its own: the chart's webhook
# (failurePolicy Fail, every namespace but the excluded ones) must not
# catch other tests' pods. The test clusters run no kubelet or controllers,
# so the chart's Deployment never gets pods; an mca-operator process (this
# build's, $MCA_OPERATOR_BINARY) plays the running replica: it runs
# authenticated as the chart's ServiceAccount, with the configuration from
# the chart's ConfigMap, and does what a replica does before an upgrade:
# writes the webhook's caBundle, its certificate Secret, and the CA bundle
# ConfigMap of a namespace with an injected pod. Then, with it stopped (so
# nothing repairs what the upgrade might break):
#
#   - helm upgrade to the next chart and app version succeeds (no immutable
#     field changed: the Deployment's selector, the Services);
#   - the Deployment takes the new image and still rolls with
#     maxUnavailable 0, and the PodDisruptionBudget remains;
#   - the webhook's caBundle, the certificate Secret and the pods' CA bundle
#     ConfigMap are byte for byte what they were (sidecars keep trusting the
#     operator, the API server keeps calling the webhook);
#   - the Services keep the names and ports that injected sidecars dial;
#   - ClusterTargets and RoutingPolicies created before it are still there;
#   - the operator started again from the upgraded configuration keeps the
#     same CA and serving certificate (no rotation forced by the upgrade);
#   - helm uninstall keeps the CRDs and so the users' objects (crds.keep).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHART=$ROOT/charts/mca
OPERATOR=${MCA_OPERATOR_BINARY:-$ROOT/build/operator/mca-operator}
failures=0
passes=0
pass() { passes=$((passes + 1)); echo "ok: $*"; }
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
die() { echo "hack/check-helm-upgrade.sh: $*" >&2; exit 1; }
check() { # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

[[ -x $OPERATOR ]] || die "no mca-operator at $OPERATOR (build it, or set MCA_OPERATOR_BINARY)"
HELM=$("$ROOT/hack/helm" --path) || die "could not build Helm (hack/helm)"
KUBECTL=$("$ROOT/hack/testenv" build | tail -n1)/kubectl || die "could not build kubectl (hack/testenv build)"

WORK=$(mktemp -d)
ENV=$WORK/testenv
operator_pid=""
cleanup() {
  [[ -n $operator_pid ]] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null
  "$ROOT/hack/testenv" down --dir "$ENV" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

"$ROOT/hack/testenv" up --clusters 1 --dir "$ENV" >"$WORK/testenv.log" 2>&1 ||
  { cat "$WORK/testenv.log" >&2; die "could not start a test cluster of its own"; }
export KUBECONFIG=$ENV/home/kubeconfig
k() { "$KUBECTL" "$@"; }
NS=mca-system

# run NAME CMD...: CMD's output in $WORK/NAME.log, shown when it fails.
run() {
  local name=$1
  shift
  "$@" >"$WORK/$name.log" 2>&1 && return 0
  sed 's/^/    /' "$WORK/$name.log" | head -n 40
  return 1
}

start_operator() { # start_operator LOG: as the chart's ServiceAccount
  local token server
  token=$(k -n "$NS" create token mca-operator --duration 1h) || return 1
  server=$(k config view --minify -o 'jsonpath={.clusters[0].cluster.server}')
  cat >"$WORK/operator.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "$server", certificate-authority: "$ENV/home/ca.crt"}
users:
- name: u
  user: {token: "$token"}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
EOF
  k -n "$NS" get configmap mca-operator-config -o 'jsonpath={.data.operator-config\.yaml}' >"$WORK/operator-config.yaml"
  "$OPERATOR" --kubeconfig "$WORK/operator.kubeconfig" --namespace "$NS" \
    --config "$WORK/operator-config.yaml" --identity "helm-upgrade-$1" \
    --grpc-address 127.0.0.1:0 --webhook-address 127.0.0.1:0 --admin-address 127.0.0.1:0 \
    >"$WORK/operator-$1.log" 2>&1 &
  operator_pid=$!
}
stop_operator() {
  kill -TERM "$operator_pid" 2>/dev/null
  wait "$operator_pid" 2>/dev/null
  operator_pid=""
}
eventually() { # eventually SECONDS COMMAND...
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
ca_bundle() { k get mutatingwebhookconfiguration mca-sidecar-injector -o 'jsonpath={.webhooks[0].clientConfig.caBundle}'; }
certs() { k -n "$NS" get secret mca-operator-certs -o 'jsonpath={.data}'; }
pod_bundle() { k -n apps get configmap mca-ca-bundle -o 'jsonpath={.data}'; }
has_ca_bundle() { [[ -n $(ca_bundle) ]]; }
service_ports() { k -n "$NS" get services -o 'jsonpath={range .items[*]}{.metadata.name}:{range .spec.ports[*]}{.name}={.port}>{.targetPort} {end}{end}'; }

# ---------------------------------------------------------------- install
# An injected pod in namespace apps, created before the webhook exists (no
# kubelet here would run it, and the chart's webhook Service has no
# endpoints to admit it): the operator writes that namespace's CA bundle
# ConfigMap, which its sidecar trusts.
k create namespace apps >/dev/null
printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: app-0, namespace: apps, labels: {app: demo, mca.k8s.io/inject: "true"}}\nspec:\n  containers: [{name: app, image: app:1}]\n' |
  "$OPERATOR" inject -f - | k apply -f - >/dev/null || die "could not create the injected pod"
if run install "$HELM" install mca "$CHART" -n "$NS" --create-namespace; then
  pass "helm install of chart $(awk '$1 == "version:" { print $2 }' "$CHART/Chart.yaml")"
else
  fail "helm install"
  exit 1
fi

# Users' objects made before the upgrade.
k apply -f - >/dev/null <<EOF
apiVersion: mca.x-k8s.io/v1alpha1
kind: ClusterTarget
metadata: {name: east}
spec:
  server: https://east.example.com:6443
  credentials: {secretRef: {name: east-kubeconfig}}
  allowedNamespaces: {names: [apps]}
---
apiVersion: mca.x-k8s.io/v1alpha1
kind: RoutingPolicy
metadata: {name: by-region, namespace: apps}
spec:
  podSelector: {matchLabels: {app: demo}}
  defaultTarget: east
EOF

# The running replica.
start_operator before
check "the operator, as the chart's ServiceAccount, writes the webhook's caBundle" \
  eventually 60 has_ca_bundle
check "... its certificate Secret and the CA bundle ConfigMap of the injected pod's namespace" \
  eventually 60 bash -c '[[ -n $("$1" -n "$2" get secret mca-operator-certs -o name) && -n $("$1" -n apps get configmap mca-ca-bundle -o name) ]]' _ "$KUBECTL" "$NS"
ca_before=$(ca_bundle)
certs_before=$(certs)
pod_bundle_before=$(pod_bundle)
ports_before=$(service_ports)
selector_before=$(k -n "$NS" get deployment mca-operator -o 'jsonpath={.spec.selector}')
check "the webhook's caBundle is set before the upgrade" test -n "$ca_before"
stop_operator

# ---------------------------------------------------------------- upgrade
# The next chart: version and appVersion bumped (new images).
cp -r "$CHART" "$WORK/mca-next"
sed -i -E 's/^version: .*/version: 0.99.0/; s/^appVersion: .*/appVersion: "0.99.0"/' "$WORK/mca-next/Chart.yaml"
if run upgrade "$HELM" upgrade mca "$WORK/mca-next" -n "$NS"; then
  pass "helm upgrade to chart 0.99.0 (no immutable field changed)"
else
  fail "helm upgrade to chart 0.99.0"
fi
check "helm records revision 2 of chart mca-0.99.0, deployed" \
  bash -c '"$1" history mca -n "$2" -o json | python3 -c "import json,sys; h=json.load(sys.stdin)[-1]; sys.exit(not (h[\"revision\"] == 2 and h[\"chart\"] == \"mca-0.99.0\" and h[\"status\"] == \"deployed\"))"' _ "$HELM" "$NS"
check "the Deployment takes the new image" \
  test "$(k -n "$NS" get deployment mca-operator -o 'jsonpath={.spec.template.spec.containers[0].image}')" = ghcr.io/mca-dev/mca-operator:0.99.0
check "... with the same selector" \
  test "$(k -n "$NS" get deployment mca-operator -o 'jsonpath={.spec.selector}')" = "$selector_before"
check "... rolling with maxUnavailable 0, and its PodDisruptionBudget remains" \
  bash -c '[[ $("$1" -n "$2" get deployment mca-operator -o "jsonpath={.spec.strategy.rollingUpdate.maxUnavailable}") == 0 ]] && "$1" -n "$2" get pdb mca-operator >/dev/null' _ "$KUBECTL" "$NS"
check "the sidecar image the operator injects is the new one" \
  grep -q 'ghcr.io/mca-dev/mca-sidecar:0.99.0' <(k -n "$NS" get configmap mca-operator-config -o 'jsonpath={.data.operator-config\.yaml}')
check "the webhook's caBundle is unchanged by the upgrade" test "$(ca_bundle)" = "$ca_before"
check "the operator's certificate Secret is unchanged" test "$(certs)" = "$certs_before"
check "the pods' CA bundle ConfigMap is unchanged" test "$(pod_bundle)" = "$pod_bundle_before"
check "the Services keep the names and ports sidecars and the API server dial ($ports_before)" \
  test "$(service_ports)" = "$ports_before"
check "ClusterTarget east and RoutingPolicy apps/by-region are still there" \
  bash -c '"$1" get clustertarget east >/dev/null && "$1" -n apps get routingpolicy by-region >/dev/null' _ "$KUBECTL"

# The upgraded replica, from the upgraded configuration.
start_operator after
check "the upgraded operator starts and holds the Lease" \
  eventually 60 bash -c '[[ $("$1" -n "$2" get lease mca-operator -o "jsonpath={.spec.holderIdentity}") == helm-upgrade-after ]]' _ "$KUBECTL" "$NS"
sleep 2
check "... keeps the same CA and serving certificate (nothing rotated)" \
  test "$(certs)" = "$certs_before" -a "$(ca_bundle)" = "$ca_before"
stop_operator

# ---------------------------------------------------------------- uninstall
if run uninstall "$HELM" uninstall mca -n "$NS"; then pass "helm uninstall"; else fail "helm uninstall"; fi
check "helm uninstall keeps the CRDs and the users' objects (crds.keep)" \
  bash -c '"$1" get crd clustertargets.mca.x-k8s.io >/dev/null && "$1" get clustertarget east >/dev/null' _ "$KUBECTL"
check "... and removes the webhook configuration" \
  bash -c '! "$1" get mutatingwebhookconfiguration mca-sidecar-injector >/dev/null 2>&1' _ "$KUBECTL"

echo "check-helm-upgrade: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
