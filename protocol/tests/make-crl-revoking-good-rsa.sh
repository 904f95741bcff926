#!/bin/sh
# Adds fixtures/openssl/crl-revokes-good-rsa.pem to the OpenSSL fixtures:
# a CRL of the intermediate (crlNumber 3, lastUpdate 2025-05-15, nextUpdate
# 2025-08-01) listing good-rsa.pem, newer than crl.pem. Rerun after
# make-fixtures.sh (which makes new keys). OpenSSL alone.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
fx="$here/fixtures/openssl"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# good-rsa.pem (serial 1000), revoked on 2025-05-10, key compromised.
printf 'R\t300101000000Z\t250510000000Z,keyCompromise\t1000\tunknown\t/CN=good-rsa\n' > "$work/index.txt"
echo 03 > "$work/crlnumber"
cat > "$work/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
database = $work/index.txt
crlnumber = $work/crlnumber
default_md = sha256
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid
CNF
openssl ca -config "$work/ca.cnf" -batch -keyfile "$fx/intermediate.key.pem" \
    -cert "$fx/intermediate.pem" -gencrl -crl_lastupdate 20250515000000Z \
    -crl_nextupdate 20250801000000Z -out "$fx/crl-revokes-good-rsa.pem" 2>/dev/null
