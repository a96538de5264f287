#!/usr/bin/env bash
# RFD 156's functional test plan, with curl: the positive cases (list, get,
# set replicas and see the informer reflect it) and the negative ones
# (mTLS refusals, unknown Deployments, invalid input), against a running
# replica server. Prints "ok" or "FAIL" per case and a summary; exits 1
# when any case failed.
#
#   scripts/functional-test.sh --url https://127.0.0.1:8443 --certs DIR \
#       --namespace NS --deployment NAME [--kubeconfig FILE] [--kubectl BIN] \
#       [--max-body-bytes N] [--wait SECONDS]
#
# The Deployment must exist. DIR holds what gen-certs.sh wrote. With
# --kubeconfig (the cluster that holds the Deployment), the cluster itself
# is checked too: a PUT changes spec.replicas there, and a change made
# there (kubectl scale) reaches the server's informer. The Deployment's
# replica count is restored at the end.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
url= certs= ns= name= kubeconfig= kubectl=kubectl max_body=4096 wait=15
while [[ $# -gt 0 ]]; do
  case "$1" in
    --url) url=$2; shift 2 ;;
    --certs) certs=$2; shift 2 ;;
    --namespace) ns=$2; shift 2 ;;
    --deployment) name=$2; shift 2 ;;
    --kubeconfig) kubeconfig=$2; shift 2 ;;
    --kubectl) kubectl=$2; shift 2 ;;
    --max-body-bytes) max_body=$2; shift 2 ;;
    --wait) wait=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "functional-test: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n $url && -n $certs && -n $ns && -n $name ]] || {
  echo "functional-test: --url, --certs, --namespace and --deployment are required (see --help)" >&2
  exit 2
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$here/lib.sh"

replicas_path="/namespaces/$ns/deployments/$name/replicas"
put_json() { call -H 'Content-Type: application/json' --data-binary "$1" PUT "${2:-$replicas_path}"; }

echo "# functional test of $url (deployment $ns/$name)"

# --- Ready ------------------------------------------------------------------
deadline=$((SECONDS + wait))
until call GET /health; [[ $status == 200 || $SECONDS -ge $deadline ]]; do sleep 0.3; done
check "GET /health: healthy, Kubernetes connected" \
  json_true "$body" 'd == {"status": "healthy", "kubernetes": "connected"}'

# --- Positive ---------------------------------------------------------------
call GET /deployments
check "GET /deployments lists $ns/$name with its replica count" \
  json_true "$body" "isinstance(d, list) and any(i['namespace'] == '$ns' and i['name'] == '$name' and isinstance(i['replicaCount'], int) for i in d) and all(list(i) == ['namespace', 'name', 'replicaCount'] for i in d)"

call GET "$replicas_path"
check "GET replicas answers namespace, name and replicaCount" \
  json_true "$body" "list(d) == ['namespace', 'name', 'replicaCount'] and d['namespace'] == '$ns' and d['name'] == '$name' and isinstance(d['replicaCount'], int)"
original=$(json "$body" "d['replicaCount']")
[[ $original =~ ^[0-9]+$ ]] || original=1
if [[ -n $kubeconfig ]]; then
  in_cluster=$(spec_replicas "$kubeconfig" "$ns" "$name")
  check "GET replicas matches the cluster's spec.replicas ($in_cluster)" \
    [ "$original" = "$in_cluster" ]
fi

target=$((original % 7 + 2))
put_json "{\"replicaCount\": $target}"
check "PUT replicas $target: 200 \"Replica count updated successfully.\"" \
  eval '[[ $status == 200 ]] && json_true "$body" "d == {\"message\": \"Replica count updated successfully.\"}"'
if [[ -n $kubeconfig ]]; then
  in_cluster=$(spec_replicas "$kubeconfig" "$ns" "$name")
  check "the cluster's spec.replicas is $target (through the scale subresource)" \
    [ "$in_cluster" = "$target" ]
fi
check "the informer reflects $target (GET replicas)" wait_for_replicas "$ns" "$name" "$target"
call GET /deployments
check "GET /deployments reflects $target" \
  json_true "$body" "any(i['namespace'] == '$ns' and i['name'] == '$name' and i['replicaCount'] == $target for i in d)"

put_json '{"replicaCount": 0}'
check "PUT replicas 0 (scale to zero) is allowed" [ "$status" = 200 ]
check "the informer reflects 0" wait_for_replicas "$ns" "$name" 0

if [[ -n $kubeconfig ]]; then
  outside=$((target + 3))
  "$kubectl" --kubeconfig "$kubeconfig" -n "$ns" scale deployment "$name" --replicas="$outside" >/dev/null 2>&1
  check "a change made in the cluster (kubectl scale $outside) reaches the informer" \
    wait_for_replicas "$ns" "$name" "$outside"
  current=$outside
else
  current=0
fi

call --tlsv1.3 GET /health
check "a TLS 1.3 client with a trusted certificate is served" [ "$status" = 200 ]

# --- Negative: mutual TLS ---------------------------------------------------
call --no-cert GET /health
check "no client certificate: refused at the handshake" refused
call --cert "$certs/unknown-client.crt" --key "$certs/unknown-client.key" GET /health
check "a certificate from an unknown CA: refused at the handshake" refused
call --cert "$certs/expired-client.crt" --key "$certs/expired-client.key" GET /health
check "an expired certificate: refused at the handshake" refused
call --tlsv1.2 --tls-max 1.2 GET /health
check "TLS 1.2 only (trusted certificate): refused at the handshake" refused

# --- Negative: requests -----------------------------------------------------
call GET "/namespaces/$ns/deployments/no-such-deployment/replicas"
check "GET replicas of an unknown deployment: 404 with an error" is_error 404
put_json '{"replicaCount": 1}' "/namespaces/$ns/deployments/no-such-deployment/replicas"
check "PUT replicas of an unknown deployment: 404 with an error" is_error 404
call GET "/namespaces/no-such-namespace-rs/deployments/$name/replicas"
check "GET replicas in an unknown namespace: 404" is_error 404

put_json '{"replicaCount": -1}'
check "PUT a negative count: 400" is_error 400
put_json '{"replicaCount": 2.5}'
check "PUT a non-integer count (2.5): 400" is_error 400
put_json '{"replicaCount": "3"}'
check "PUT a count as a string: 400" is_error 400
put_json '{"replicaCount": 2147483648}'
check "PUT a count beyond int32: 400" is_error 400
put_json 'replicaCount=3'
check "PUT a body that is not JSON: 400" is_error 400
put_json '{}'
check "PUT without replicaCount: 400" is_error 400
put_json '{"replicaCount": 1, "image": "evil"}'
check "PUT with an unknown field: 400" is_error 400
put_json '[1]'
check "PUT an array: 400" is_error 400
call -H 'Content-Type: application/json' PUT "$replicas_path"
check "PUT without a body: 400" is_error 400
call -H 'Content-Type: text/plain' --data-binary '{"replicaCount": 1}' PUT "$replicas_path"
check "PUT with Content-Type text/plain: 415" is_error 415
head -c $((max_body + 1)) /dev/zero | tr '\0' ' ' >"$tmp/big"
call -H 'Content-Type: application/json' --data-binary "@$tmp/big" PUT "$replicas_path"
check "PUT a body over the limit ($((max_body + 1)) bytes): 413" is_error 413
call GET "$replicas_path"
check "refused writes changed nothing (still $current)" json_true "$body" "d['replicaCount'] == $current"

call GET "/namespaces/Bad_Namespace/deployments/$name/replicas"
check "an invalid namespace name: 400" is_error 400
call GET "/namespaces/$ns/deployments/Not-A-Name/replicas"
check "an invalid deployment name: 400" is_error 400
call GET "/namespaces/$ns/deployments/a%2Fb/replicas"
check "an encoded slash in a name: 400" is_error 400
call DELETE "$replicas_path"
check "DELETE replicas: 405 with an error" is_error 405
call -D "$tmp/headers" POST /deployments
check "POST /deployments: 405" is_error 405
check "405 names the allowed methods" grep -qi '^allow: GET' "$tmp/headers"
call GET /no-such-endpoint
check "an unknown endpoint: 404" is_error 404
call GET /deployments/
check "a trailing slash is not an endpoint: 404" is_error 404

# Leave the Deployment as we found it.
put_json "{\"replicaCount\": $original}" >/dev/null
check "the original count ($original) is restored" wait_for_replicas "$ns" "$name" "$original"

summary functional-test
