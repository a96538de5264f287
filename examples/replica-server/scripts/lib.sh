# Shared helpers of functional-test.sh and multicluster-test.sh (sourced).
# They need bash, curl and python3 (for reading JSON answers).

passed=0
failed=0

ok() {
  echo "ok   - $1"
  passed=$((passed + 1))
}

fail() {
  echo "FAIL - $1${2:+: $2}"
  failed=$((failed + 1))
}

# check DESCRIPTION CONDITION-COMMAND... [-- DETAIL]: ok or FAIL by the
# command's exit status.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what" "status $status, body ${body:0:300}"; fi
}

# summary NAME: the totals, and the exit status for them.
summary() {
  echo "$1: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}

# call [CURL-OPTIONS...] METHOD PATH: one request with the trusted client
# certificate unless the options give another (or --no-cert). Sets $status
# (000 when no HTTP answer came), $body and $curl_rc; $curl_err says why
# curl failed.
call() {
  local args=() cert=1
  while [[ $# -gt 2 ]]; do
    if [[ $1 == --no-cert ]]; then cert=0; else args+=("$1"); fi
    shift
  done
  local method=$1 path=$2
  if [[ $cert -eq 1 ]] && ! printf '%s\n' "${args[@]}" | grep -qx -- --cert; then
    args+=(--cert "$certs/client.crt" --key "$certs/client.key")
  fi
  local out
  curl_rc=0
  out=$(curl -sS --max-time 15 --cacert "$certs/ca.crt" -X "$method" \
    -w '\n%{http_code}' "${args[@]}" "$url/api/v1$path" 2>"$tmp/curl.err") ||
    curl_rc=$?
  status=${out##*$'\n'}
  body=${out%$'\n'*}
  [[ $out == *$'\n'* ]] || body=
  curl_err=$(head -c 300 "$tmp/curl.err")
}

# json BODY EXPRESSION: a Python expression over the parsed body `d`,
# printed (True/False for tests); "<not json>" when the body is not JSON.
json() {
  python3 -c '
import json, sys
try:
    d = json.loads(sys.argv[1])
except ValueError:
    print("<not json>"); sys.exit(0)
try:
    print(eval(sys.argv[2], {"d": d}))
except Exception as e:
    print("<%s>" % e)
' "$1" "$2"
}

# json_true BODY EXPRESSION: succeeds when the expression is True.
json_true() { [[ $(json "$1" "$2") == True ]]; }

# Status and a body {"error": "<non-empty>"}.
is_error() { [[ $status == "$1" ]] && json_true "$body" 'isinstance(d, dict) and list(d) == ["error"] and isinstance(d["error"], str) and d["error"] != ""'; }

# No HTTP answer at all: the handshake was refused.
refused() { [[ $status == 000 && $curl_rc -ne 0 ]]; }

# wait_for_replicas NS NAME COUNT: polls GET .../replicas until the
# informer's cache says COUNT, for up to $wait seconds.
wait_for_replicas() {
  local deadline=$((SECONDS + wait))
  while :; do
    call GET "/namespaces/$1/deployments/$2/replicas"
    if [[ $status == 200 ]] && json_true "$body" "d['replicaCount'] == $3"; then return 0; fi
    [[ $SECONDS -lt $deadline ]] || return 1
    sleep 0.2
  done
}

# spec_replicas KUBECONFIG NS NAME: the count in the cluster itself.
spec_replicas() {
  "$kubectl" --kubeconfig "$1" -n "$2" get deployment "$3" -o 'jsonpath={.spec.replicas}' 2>&1
}
