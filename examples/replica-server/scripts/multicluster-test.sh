#!/usr/bin/env bash
# The replica server behind mca-sidecar with a fan-out rule over several
# clusters: its one informer sees every cluster's Deployments, and a PUT
# changes the Deployment in the cluster that owns it and nowhere else
# (checked against each cluster directly). Prints "ok" or "FAIL" per case
# and a summary; exits 1 when any case failed.
#
#   scripts/multicluster-test.sh --url https://127.0.0.1:8443 --certs DIR \
#       --namespace NS --cluster NAME:DEPLOYMENT:KUBECONFIG ... \
#       [--kubectl BIN] [--wait SECONDS]
#
# One --cluster per cluster: the Deployment (a distinct name in each) that
# exists in NS of that cluster only, and the kubeconfig that reaches the
# cluster directly (not through the sidecar). Replica counts are restored at
# the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
url= certs= ns= kubectl=kubectl wait=15
clusters=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) url=$2; shift 2 ;;
    --certs) certs=$2; shift 2 ;;
    --namespace) ns=$2; shift 2 ;;
    --cluster) clusters+=("$2"); shift 2 ;;
    --kubectl) kubectl=$2; shift 2 ;;
    --wait) wait=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "multicluster-test: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n $url && -n $certs && -n $ns && ${#clusters[@]} -ge 2 ]] || {
  echo "multicluster-test: --url, --certs, --namespace and two or more --cluster are required (see --help)" >&2
  exit 2
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$here/lib.sh"

names=() deployments=() kubeconfigs=()
for c in "${clusters[@]}"; do
  IFS=: read -r n d k <<<"$c"
  [[ -n $n && -n $d && -n $k ]] || { echo "multicluster-test: --cluster $c is not NAME:DEPLOYMENT:KUBECONFIG" >&2; exit 2; }
  names+=("$n") deployments+=("$d") kubeconfigs+=("$k")
done
count=${#names[@]}

echo "# multi-cluster test of $url over ${names[*]} (namespace $ns)"

deadline=$((SECONDS + wait))
until call GET /health; [[ $status == 200 || $SECONDS -ge $deadline ]]; do sleep 0.3; done
check "GET /health: healthy" [ "$status" = 200 ]

# The informer's list and watch are merged across the clusters: every
# cluster's Deployment shows up, as the cluster itself counts it.
wanted=$(printf "'%s'," "${deployments[@]}")
deadline=$((SECONDS + wait))
until call GET /deployments
  json_true "$body" "sorted(i['name'] for i in d if i['namespace'] == '$ns') == sorted([$wanted])" ||
    [[ $SECONDS -ge $deadline ]]; do sleep 0.3; done
check "GET /deployments lists the $count clusters' deployments in $ns (${deployments[*]})" \
  json_true "$body" "sorted(i['name'] for i in d if i['namespace'] == '$ns') == sorted([$wanted])"

original=()
for i in $(seq 0 $((count - 1))); do
  d=${deployments[$i]} k=${kubeconfigs[$i]}
  in_cluster=$(spec_replicas "$k" "$ns" "$d")
  original+=("$in_cluster")
  call GET "/namespaces/$ns/deployments/$d/replicas"
  check "GET $d: replicaCount is ${names[$i]}'s spec.replicas ($in_cluster)" \
    json_true "$body" "d['replicaCount'] == ${in_cluster:-0}"
done

# Each write goes to the one cluster that has the Deployment; the others
# keep theirs as they were and gain nothing.
for i in $(seq 0 $((count - 1))); do
  d=${deployments[$i]} owner=${names[$i]}
  value=$((11 + i))
  call -H 'Content-Type: application/json' --data-binary "{\"replicaCount\": $value}" \
    PUT "/namespaces/$ns/deployments/$d/replicas"
  check "PUT $d to $value: 200" [ "$status" = 200 ]
  in_cluster=$(spec_replicas "${kubeconfigs[$i]}" "$ns" "$d")
  check "$owner (the owner) has $d at $value" [ "$in_cluster" = "$value" ]
  for j in $(seq 0 $((count - 1))); do
    [[ $j -ne $i ]] || continue
    other=${names[$j]}
    expected=${original[$j]}
    [[ $j -lt $i ]] && expected=$((11 + j))
    got=$(spec_replicas "${kubeconfigs[$j]}" "$ns" "${deployments[$j]}")
    check "$other keeps ${deployments[$j]} at $expected" [ "$got" = "$expected" ]
    absent=$("$kubectl" --kubeconfig "${kubeconfigs[$j]}" -n "$ns" get deployment "$d" 2>&1)
    check "$other has no $d" grep -q NotFound <<<"$absent"
  done
  check "the informer reflects $d at $value" wait_for_replicas "$ns" "$d" "$value"
done

call -H 'Content-Type: application/json' --data-binary '{"replicaCount": 1}' \
  PUT "/namespaces/$ns/deployments/in-no-cluster/replicas"
check "PUT a deployment no cluster has: 404" is_error 404

for i in $(seq 0 $((count - 1))); do
  call -H 'Content-Type: application/json' --data-binary "{\"replicaCount\": ${original[$i]:-1}}" \
    PUT "/namespaces/$ns/deployments/${deployments[$i]}/replicas"
done
check "original counts restored" [ "$status" = 200 ]

summary multicluster-test
