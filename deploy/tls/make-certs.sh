#!/bin/sh
# Makes the certificates of a local ringkv cluster with openssl: a cluster CA, one certificate per
# node (its host as a subject alternative name, usable by the node as server and as client), and
# client certificates whose common name is a user name. All keys are EC P-256, PKCS#8, unencrypted.
#
#   deploy/tls/make-certs.sh [DIR] [NODE_HOST...]
#
# DIR (default ./certs) receives ca.crt and ca.key, node-I.crt and node-I.key for the I-th host
# (default hosts 127.0.0.11 127.0.0.12 127.0.0.13), and client-USER.crt and client-USER.key for each
# user in RINGKV_TLS_USERS (default "root"). What already exists is kept, so running it again with
# more hosts adds their certificates under the same CA. RINGKV_TLS_DAYS (825) sets the validity of
# new node and client certificates; the CA gets ten years. DIR also receives gossip.key (one
# AES-256 key, base64, for every node's --gossip-key-file) when it has none.
set -eu
dir=${1:-certs}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- 127.0.0.11 127.0.0.12 127.0.0.13
days=${RINGKV_TLS_DAYS:-825}
users=${RINGKV_TLS_USERS:-root}

command -v openssl >/dev/null 2>&1 || { echo "make-certs: openssl is required" >&2; exit 2; }
mkdir -p "$dir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

serial() {
  echo "0x$(openssl rand -hex 15)"
}

cat >"$work/req.cnf" <<CNF
[req]
distinguished_name = dn
x509_extensions = ca_ext
prompt = no
[dn]
CN = ringkv cluster CA
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
CNF

if [ ! -f "$dir/ca.crt" ] || [ ! -f "$dir/ca.key" ]; then
  new_key "$dir/ca.key"
  openssl req -new -x509 -config "$work/req.cnf" -key "$dir/ca.key" -days 3650 \
    -set_serial "$(serial)" -out "$dir/ca.crt"
  chmod 644 "$dir/ca.crt"
  echo "make-certs: new CA $dir/ca.crt"
fi

# sign NAME SUBJECT EXTFILE: a new key NAME.key and certificate NAME.crt signed by the CA.
sign() {
  new_key "$dir/$1.key"
  openssl req -new -config "$work/req.cnf" -key "$dir/$1.key" -subj "$2" -out "$work/$1.csr"
  # openssl tells of every signature on stderr: keep it for a failure only.
  openssl x509 -req -in "$work/$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -set_serial "$(serial)" -days "$days" -extfile "$3" -out "$dir/$1.crt" 2>"$work/openssl.err" \
    || { cat "$work/openssl.err" >&2; exit 2; }
  chmod 644 "$dir/$1.crt"
}

if [ ! -f "$dir/gossip.key" ]; then
  openssl rand -base64 32 >"$dir/gossip.key"
  echo "make-certs: new gossip key $dir/gossip.key"
fi

i=1
for host in "$@"; do
  if [ ! -f "$dir/node-$i.crt" ] || [ ! -f "$dir/node-$i.key" ]; then
    case "$host" in
      *[!0-9.]* ) san="DNS:$host" ;; # a name, not an IPv4 address
      * ) san="IP:$host" ;;
    esac
    cat >"$work/node.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $san, DNS:localhost
EXT
    sign "node-$i" "/CN=ringkv node $i" "$work/node.ext"
    echo "make-certs: node $i ($host): $dir/node-$i.crt"
  fi
  i=$((i + 1))
done

for user in $users; do
  case "$user" in
    '' | *[!A-Za-z0-9._-]*) echo "make-certs: user names are letters, digits, '.', '_', '-': '$user'" >&2; exit 2 ;;
  esac
  if [ ! -f "$dir/client-$user.crt" ] || [ ! -f "$dir/client-$user.key" ]; then
    cat >"$work/client.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EXT
    sign "client-$user" "/CN=$user" "$work/client.ext"
    echo "make-certs: client $user: $dir/client-$user.crt"
  fi
done
