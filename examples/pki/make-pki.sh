#!/usr/bin/env bash
# Regenerates the demo PKI used by examples/*.cfg (openssl CLI only).
#
# The files are committed so the examples run as they are; rerun this script
# to get your own keys (they are demo keys: never use them for anything real).
# Everything is valid for 25000 days (~68 years).
#
#   ca.crt / ca.key                    root CA "portcullis-demo-root"
#   intermediate-ca.crt / .key         CA "acme-intermediate-ca" (signed by the root); it signs client certificates
#   crls.pem                           CRLs of the root and of the intermediate (nothing revoked yet): one per CA level
#   server.pem                         server certificate + key: localhost, 127.0.0.1, ::1, test.example, api.example,
#                                      partner.example, admin.example, etcd.example, upstream.example (signed by the root)
#   default.pem                        neutral fallback certificate "default.example"
#   client.pem                         client certificate + key /CN=scanner/O=warehouse (clientAuth, signed by the intermediate)
#   client-chain.pem                   the same with the intermediate appended
#   proxy-client.pem                   the proxy's own client certificate /CN=portcullis-proxy/O=Acme (towards upstreams, etcd)
#   partner-ca.crt / .key              a second, unrelated client CA; partner-client.pem is one of its clients
#
# Try them, e.g.: curl --cacert examples/pki/ca.crt --cert examples/pki/client.pem https://localhost:8443/
set -euo pipefail

out="$(cd "$(dirname "$0")" && pwd)"
days=25000
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

cat >ca.ext <<'EOF'
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
cat >client.ext <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
server_ext() {
  cat >"$1" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
subjectAltName = $2
EOF
}

serial=100
sign() { # NAME SUBJECT CA EXTFILE
  serial=$((serial + 1))
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -set_serial "$serial" \
    -days "$days" -sha256 -extfile "$4" -out "$1.crt" 2>/dev/null
}
self_signed() { # NAME SUBJECT
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -subj "$2" -days "$days" -sha256 -set_serial 1 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$1.crt"
}

self_signed ca "/CN=portcullis-demo-root/O=Acme"
key intermediate-ca.key
sign intermediate-ca "/CN=acme-intermediate-ca/O=Acme" ca ca.ext
self_signed partner-ca "/CN=partner-ca/O=Partner"

key server.key
server_ext server.ext "DNS:localhost, IP:127.0.0.1, IP:::1, DNS:test.example, DNS:api.example, DNS:partner.example, DNS:admin.example, DNS:etcd.example, DNS:upstream.example"
sign server "/CN=localhost/O=Acme" ca server.ext
key default.key
server_ext default.ext "DNS:default.example"
sign default "/CN=default.example" ca default.ext

key client.key
sign client "/CN=scanner/O=warehouse" intermediate-ca client.ext
key proxy-client.key
sign proxy-client "/CN=portcullis-proxy/O=Acme" intermediate-ca client.ext
key partner-client.key
sign partner-client "/CN=partner-app/O=Partner" partner-ca client.ext

# CRLs (empty) for both levels of the chain, made with `openssl ca`.
crl() { # CA
  mkdir -p "db-$1"
  : >"db-$1/index.txt"
  echo 01 >"db-$1/crlnumber"
  cat >"db-$1.cnf" <<EOF
[ ca ]
default_ca = this
[ this ]
database = $work/db-$1/index.txt
crlnumber = $work/db-$1/crlnumber
certificate = $work/$1.crt
private_key = $work/$1.key
default_md = sha256
default_crl_days = $days
EOF
  openssl ca -batch -config "db-$1.cnf" -gencrl -out "$1.crl" 2>/dev/null
}
crl ca
crl intermediate-ca

cp ca.crt ca.key intermediate-ca.crt intermediate-ca.key partner-ca.crt partner-ca.key "$out/"
cat intermediate-ca.crl ca.crl >"$out/crls.pem"
cat server.crt server.key >"$out/server.pem"
cat default.crt default.key >"$out/default.pem"
cat client.crt client.key >"$out/client.pem"
cat client.crt intermediate-ca.crt client.key >"$out/client-chain.pem"
cat proxy-client.crt intermediate-ca.crt proxy-client.key >"$out/proxy-client.pem"
cat partner-client.crt partner-client.key >"$out/partner-client.pem"
echo "demo PKI written to $out"
