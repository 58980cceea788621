#!/usr/bin/env bash
# Regenerates the signing vectors from key-pkcs1.pem with two independent
# implementations, OpenSSL and Node's crypto, and fails if they disagree.
# The .NET XML keys are written by gen-vectors.js from the same key.
set -euo pipefail
cd "$(dirname "$0")"
: > sign-vectors.txt
while IFS='|' read -r token ts; do
  node_out=$(node gen-vectors.js "$token" "$ts")
  sig=$(printf '%s' "$token.$ts" | openssl dgst -sha256 -sign key-pkcs1.pem | base64 -w0)
  [ "$node_out" = "$token.$ts.$sig" ] || { echo "openssl and node disagree for $token" >&2; exit 1; }
  printf '%s|%s|%s\n' "$token" "$ts" "$node_out" >> sign-vectors.txt
done <<'VEC'
SuperOffice DevNet Node OIDC-8k8Q7DmBgo|202611231234
App.with.dots-x1|202601010000
Ærlig token-Ø|203012312359
VEC
