#!/usr/bin/env bash
# e2e.Demo: `make demo` and `make demo-down`, as the README tells a new user
# to run them, against the suite's test clusters, and the demo's claims
# checked independently of what it prints:
#
#   - the injected Pod has the mca-sidecar container;
#   - each ConfigMap the app created through the sidecar is in the cluster
#     the policy names and in no other (asked of each cluster directly);
#   - the merged read through the sidecar lists all three clusters with a
#     Cluster column;
#   - the policy change took effect without a restart (the object created
#     after it is in west, the one before it in home, same sidecar pid);
#   - the sidecar's and the operator's metrics count what happened;
#   - the operator ran as ServiceAccount mca-system/mca-operator with only the
#     chart's RBAC (config/rbac) and did each write it needs: the caBundle,
#     status, its certificate Secret, its Lease; its log has no refusal;
#   - `make demo-down` stops both processes and removes every object, and
#     leaves the clusters running (the suite started them, not the demo).
#
#   demo_test.sh SOURCE_DIR BUILD_DIR   ($MCA_TESTENV_DIR: running clusters)
set -uo pipefail

SRC=$1
BUILD=$2
TESTENV_DIR=${MCA_TESTENV_DIR:?MCA_TESTENV_DIR names the running test clusters}
STATE=$TESTENV_DIR/demo
failures=0
passes=0
pass() { passes=$((passes + 1)); echo "ok: $*"; }
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

KUBECTL=$("$SRC/hack/testenv" build | tail -n1)/kubectl
admin() { local c=$1; shift; "$KUBECTL" --kubeconfig "$TESTENV_DIR/kubeconfig" --context "$c" "$@"; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- make demo
start=$SECONDS
make -C "$SRC" --no-print-directory demo BUILD_DIR="$BUILD" TESTENV_DIR="$TESTENV_DIR" >"$WORK/demo.out" 2>&1
rc=$?
elapsed=$((SECONDS - start))
sed 's/^/  | /' "$WORK/demo.out"
echo "make demo: exit $rc in ${elapsed}s"
if [[ $rc -ne 0 ]]; then
  fail "make demo exits 0"
  for f in "$STATE"/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -n 30 "$f"; }; done
  "$SRC/hack/demo" down --dir "$TESTENV_DIR" >/dev/null 2>&1
  exit 1
fi
pass "make demo exits 0"
check "it narrates 12 steps, one line each" \
  test "$(grep -c '^==> \[..\] ' "$WORK/demo.out")" -eq 12
NS=$(cat "$STATE/namespace")
APP_KC=$STATE/app.kubeconfig
sidecar_pid=$(cat "$STATE/sidecar.pid")
operator_pid=$(cat "$STATE/operator.pid")
check "the operator and the sidecar keep running after make demo" \
  kill -0 "$sidecar_pid" "$operator_pid"

# ---------------------------------------------------------------- injection
containers=$(admin home -n "$NS" get pod app-0 -o 'jsonpath={.spec.initContainers[*].name}/{.spec.containers[*].name}')
check "the webhook injected mca-sidecar into Pod app-0 (init/app containers: $containers)" \
  test "$containers" = "mca-sidecar/app"
check "the app container's KUBERNETES_SERVICE_HOST points at the sidecar" \
  test "$(admin home -n "$NS" get pod app-0 -o 'jsonpath={.spec.containers[0].env[?(@.name=="KUBERNETES_SERVICE_HOST")].value}')" = 127.0.0.1

# ---------------------------------------------------------------- placement
# where NAME: the clusters that hold ConfigMap NAME in the namespace.
where() {
  local found="" c
  for c in home east west; do
    admin "$c" -n "$NS" get configmap "$1" >/dev/null 2>&1 && found+="${found:+,}$c"
  done
  echo "$found"
}
for pair in settings-east:east settings-west:west settings-home:home south-before:home south-after:west; do
  name=${pair%%:*} want=${pair##*:}
  got=$(where "$name")
  check "ConfigMap $name is in $want only (found in: ${got:-nowhere})" test "$got" = "$want"
done

# ---------------------------------------------------------------- merged read
"$KUBECTL" --kubeconfig "$APP_KC" get configmaps -A >"$WORK/merged.txt" 2>&1
check "the merged read through the sidecar has a CLUSTER column" \
  grep -Eq '^NAMESPACE +NAME +CLUSTER ' "$WORK/merged.txt"
for pair in settings-east:east settings-west:west settings-home:home; do
  name=${pair%%:*} want=${pair##*:}
  check "the merged read lists $name with cluster $want" \
    grep -Eq "^$NS +$name +$want " "$WORK/merged.txt"
done
check "the demo printed the merged read with rows of all three clusters" \
  bash -c 'for c in home east west; do grep -Eq "^    [^ ]+ +[^ ]+ +$c +" "$1" || exit 1; done' _ "$WORK/demo.out"

# README.md's worked example is the policy the demo applied (but for the
# label that lets demo-down find it).
awk '/^## A worked RoutingPolicy/ { section = 1 } section && /^```yaml/ { inside = 1; next }
     inside && /^```/ { exit } inside' "$SRC/README.md" >"$WORK/readme-policy.yaml"
grep -v 'app.kubernetes.io/part-of: mca-demo' "$STATE/policy.yaml" | sed "s/namespace: $NS\$/namespace: demo/" >"$WORK/demo-policy.yaml"
if diff -u "$WORK/readme-policy.yaml" "$WORK/demo-policy.yaml" >"$WORK/policy.diff"; then
  pass "README.md's worked RoutingPolicy is the one the demo applied"
else
  fail "README.md's worked RoutingPolicy is the one the demo applied"
  sed 's/^/    /' "$WORK/policy.diff"
fi

# ---------------------------------------------------------------- live change
check "the policy in force has the live change's rule" \
  grep -q south-configmaps <(curl -s "http://127.0.0.1:$(cat "$STATE/sidecar.admin-port")/routes")
check "the live change needed no restart: the sidecar that served both creates still runs" \
  kill -0 "$sidecar_pid"

# ---------------------------------------------------------------- metrics
curl -s "http://127.0.0.1:$(cat "$STATE/sidecar.admin-port")/metrics" >"$WORK/sidecar.metrics"
curl -s "http://127.0.0.1:$(cat "$STATE/operator.admin-port")/metrics" >"$WORK/operator.metrics"
metric() { # metric FILE SERIES: its value (0 when absent)
  awk -v s="$2" '$1 == s { print $2; found=1 } END { if (!found) print 0 }' "$1"
}
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
creates() { metric "$WORK/sidecar.metrics" "mca_requests_total{cluster=\"$1\",code=\"201\",resource=\"configmaps\",verb=\"create\"}"; }
check "sidecar: creates counted per cluster (east/west/home: $(creates east)/$(creates west)/$(creates home), want 1/2/2)" \
  test "$(creates east)/$(creates west)/$(creates home)" = 1/2/2
check "sidecar: the live change's rule decided a request" \
  at_least "$(metric "$WORK/sidecar.metrics" 'mca_rule_matches_total{policy="'"$NS"'/by-region",rule="by-region/south-configmaps"}')" 1
check "sidecar: the fan-out rule decided the merged reads" \
  at_least "$(metric "$WORK/sidecar.metrics" 'mca_rule_matches_total{policy="'"$NS"'/by-region",rule="by-region/all-configmaps"}')" 1
check "sidecar: connected to the operator" \
  test "$(metric "$WORK/sidecar.metrics" mca_operator_connected)" = 1
check "operator: one sidecar connected" \
  test "$(metric "$WORK/operator.metrics" mca_connected_sidecars)" = 1
check "operator: the webhook counted its injection" \
  at_least "$(metric "$WORK/operator.metrics" mca_webhook_injections_total)" 1
for t in home east west; do
  check "operator: ClusterTarget $t ready" \
    test "$(metric "$WORK/operator.metrics" "mca_clustertarget_ready{target=\"$t\"}")" = 1
done

# ---------------------------------------------------------------- RBAC
op_kc=$STATE/operator.kubeconfig
who=$("$KUBECTL" --kubeconfig "$op_kc" auth whoami -o 'jsonpath={.status.userInfo.username}' 2>&1)
check "the operator authenticated as system:serviceaccount:mca-system:mca-operator (was: $who)" \
  test "$who" = system:serviceaccount:mca-system:mca-operator
check "... which holds no more than config/rbac grants (cannot create pods or read secrets elsewhere)" bash -c '
  [[ $("$1" --kubeconfig "$2" auth can-i create pods -n "$3") == no &&
     $("$1" --kubeconfig "$2" auth can-i list secrets -n "$3") == no &&
     $("$1" --kubeconfig "$2" auth can-i patch mutatingwebhookconfigurations/other 2>/dev/null) == no ]]' _ "$KUBECTL" "$op_kc" "$NS"
check "with it the operator patched the webhook's caBundle" \
  test -n "$(admin home get mutatingwebhookconfiguration mca-sidecar-injector -o 'jsonpath={.webhooks[0].clientConfig.caBundle}')"
check "... wrote RoutingPolicy status (Accepted, 1 pod)" \
  test "$(admin home -n "$NS" get routingpolicy by-region -o 'jsonpath={.status.conditions[?(@.type=="Accepted")].status}/{.status.selectedPods}')" = True/1
check "... created its certificate Secret" test -n "$(admin home -n mca-system get secret mca-operator-certs -o name)"
check "... holds its Lease" \
  test "$(admin home -n mca-system get lease mca-operator -o 'jsonpath={.spec.holderIdentity}')" = demo-operator
check "... created the CA bundle ConfigMap in $NS" test -n "$(admin home -n "$NS" get configmap mca-ca-bundle -o name)"
# An API refusal is logged as "403 Forbidden: ..."; a bare 403 would also
# match a timestamp's milliseconds (it did: 01:45:10.403).
if grep -Ei 'forbidden' "$STATE/operator.log" >"$WORK/refusals.txt"; then
  fail "the operator's log has no RBAC refusal"
  sed 's/^/    /' "$WORK/refusals.txt" | head -n 10
else
  pass "the operator's log has no RBAC refusal"
fi

# ---------------------------------------------------------------- make demo-down
make -C "$SRC" --no-print-directory demo-down TESTENV_DIR="$TESTENV_DIR" >"$WORK/down.out" 2>&1
rc=$?
sed 's/^/  | /' "$WORK/down.out"
check "make demo-down exits 0" test "$rc" -eq 0
check "make demo-down stopped the sidecar and the operator" \
  bash -c '! kill -0 "$1" 2>/dev/null && ! kill -0 "$2" 2>/dev/null' _ "$sidecar_pid" "$operator_pid"
check "... removed the webhook configuration, the ClusterTargets and the operator's RBAC" bash -c '
  k() { "$1" --kubeconfig "$2" --context home "${@:3}"; }
  ! k "$1" "$2" get mutatingwebhookconfiguration mca-sidecar-injector >/dev/null 2>&1 &&
  [[ -z $(k "$1" "$2" get clustertargets -l app.kubernetes.io/part-of=mca-demo -o name) ]] &&
  ! k "$1" "$2" get clusterrole mca-operator >/dev/null 2>&1' _ "$KUBECTL" "$TESTENV_DIR/kubeconfig"
for c in home east west; do
  left=$(admin "$c" -n "$NS" get configmaps,pods,routingpolicies -l app.kubernetes.io/part-of=mca-demo -o name 2>/dev/null)
  check "... left no demo object on $c${left:+ (left: $left)}" test -z "$left"
done
check "... removed its state directory" test ! -e "$STATE"
check "... left the suite's clusters running" "$SRC/hack/testenv" status --dir "$TESTENV_DIR" >/dev/null

echo "demo_test: $passes passed, $failures failed (make demo took ${elapsed}s)"
[[ $failures -eq 0 ]]
