#!/usr/bin/env bash
# Writes the certificates the replica server and its tests use, with the
# openssl command line (OpenSSL 3.0, as Debian bookworm ships it). For local
# use and tests only: the keys are unencrypted and the CA is self-signed.
#
#   scripts/gen-certs.sh [--force] DIR
#
# DIR/
#   ca.crt ca.key                  the self-signed CA the server trusts
#                                  (--client-ca) and clients verify it with
#   server.crt server.key          the server (SAN 127.0.0.1, ::1, localhost)
#   client.crt client.key          a client of the trusted CA
#   expired-client.crt .key        a client of the trusted CA, expired in 2020
#   unknown-ca.crt unknown-ca.key  a second CA the server does not trust
#   unknown-client.crt .key        a client of that unknown CA
#
# Existing files are kept (so a running server's certificates stay valid)
# unless --force is given.
set -euo pipefail

force=0
dir=
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "gen-certs: unknown option '$arg' (usage: gen-certs.sh [--force] DIR)" >&2; exit 2 ;;
    *) [[ -z $dir ]] || { echo "gen-certs: one directory only" >&2; exit 2; }; dir=$arg ;;
  esac
done
[[ -n $dir ]] || { echo "usage: gen-certs.sh [--force] DIR" >&2; exit 2; }
command -v openssl >/dev/null || {
  echo "gen-certs: openssl not found; install it (hack/install-deps.sh does)" >&2; exit 1; }

mkdir -p "$dir"
if [[ -f $dir/ca.crt && $force -eq 0 ]]; then
  echo "gen-certs: $dir already has certificates (use --force to replace them)"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
days=825

# A fresh P-256 key.
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# ca NAME CN: a self-signed CA certificate.
ca() {
  key "$dir/$1.key"
  openssl req -x509 -new -key "$dir/$1.key" -sha256 -days "$days" \
    -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$dir/$1.crt"
}

# leaf NAME CN CA EXTENSIONS: a certificate signed by CA, valid from now.
leaf() {
  local name=$1 cn=$2 ca=$3 ext=$4
  key "$dir/$name.key"
  openssl req -new -key "$dir/$name.key" -subj "/CN=$cn" -out "$work/$name.csr"
  printf '%b' "$ext" >"$work/$name.ext"
  openssl x509 -req -in "$work/$name.csr" -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" \
    -CAcreateserial -CAserial "$work/$ca.srl" -sha256 -days "$days" \
    -extfile "$work/$name.ext" -out "$dir/$name.crt" 2>/dev/null
}

client_ext='basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n'
server_ext='basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n'

ca ca replica-server-ca
leaf server replica-server ca "$server_ext"
leaf client replica-client ca "$client_ext"
ca unknown-ca unknown-ca
leaf unknown-client replica-client-of-unknown-ca unknown-ca "$client_ext"

# An expired client: `openssl x509 -req` of OpenSSL 3.0 cannot set a start
# date in the past, `openssl ca` can (with a throwaway database).
key "$dir/expired-client.key"
openssl req -new -key "$dir/expired-client.key" -subj "/CN=replica-client-expired" \
  -out "$work/expired.csr"
mkdir -p "$work/ca/new"
: >"$work/ca/index.txt"
echo 01 >"$work/ca/serial"
cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = expired
[expired]
database = $work/ca/index.txt
new_certs_dir = $work/ca/new
serial = $work/ca/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
[anything]
commonName = supplied
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
openssl ca -batch -config "$work/ca.cnf" -cert "$dir/ca.crt" -keyfile "$dir/ca.key" \
  -in "$work/expired.csr" -out "$dir/expired-client.crt" -notext \
  -startdate 20200101000000Z -enddate 20200102000000Z -extensions client 2>/dev/null

chmod 600 "$dir"/*.key
# Every client the tests use must chain (or, for the unknown one, not).
openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt" "$dir/client.crt" >/dev/null
echo "gen-certs: wrote CA, server and client certificates to $dir"
