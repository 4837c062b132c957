#!/usr/bin/env bash
# Verifies one Gatelog ledger entry by hand, with curl, jq, base64, xxd, sha256sum
# and openssl only: the checkpoint's Ed25519 signature, the entry's leaf hash,
# and its inclusion proof up to the signed root (RFC 9162 §2.1.3.2).
#
#   docs/verify-entry.sh https://gatelog.example 17 'origin+1234abcd+AXXX...'
#
# The third argument is the log's verifier key (vkey), obtained out of band;
# without it the script uses the key the log serves, which proves less.
set -euo pipefail
base=${1%/}
index=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

hex_sha256() { sha256sum | cut -d' ' -f1; }

# 1. The entry, its proof and the checkpoint it leads to.
curl -fsS "$base/api/v1/ledger/entries/$index" > "$work/entry.json"
vkey=${3:-$(jq -r .checkpoint.vkey "$work/entry.json")}
size=$(jq -r .checkpoint.size "$work/entry.json")
jq -r .checkpoint.note "$work/entry.json" > "$work/note"

# 2. The checkpoint signature (C2SP signed-note): the body is everything before
#    the blank line; the signature line is "— <name> base64(key id ‖ signature)".
awk 'BEGIN{body=1} body && $0=="" {body=0; next} body {print}' "$work/note" > "$work/body"
name=${vkey%%+*}
grep "^— $name " "$work/note" | head -n 1 | cut -d' ' -f3 | base64 -d | tail -c 64 > "$work/sig"
# An Ed25519 public key in DER: fixed 12-byte prefix, then the 32 key bytes.
key_and_id=${vkey#*+}   # the base64 key may itself contain '+': strip name and id from the left
{ printf '302a300506032b6570032100' | xxd -r -p; echo "${key_and_id#*+}" | base64 -d | tail -c 32; } > "$work/pub.der"
openssl pkeyutl -verify -pubin -keyform DER -inkey "$work/pub.der" -rawin -in "$work/body" -sigfile "$work/sig" > /dev/null
root=$(sed -n 3p "$work/body" | base64 -d | xxd -p -c 32)
echo "checkpoint: signature OK; size $size, root $root"

# 3. The leaf hash: SHA-256 of 0x00 followed by the exact entry bytes.
jq -r .entry_base64 "$work/entry.json" | base64 -d > "$work/entry.bin"
leaf=$({ printf '\000'; cat "$work/entry.bin"; } | hex_sha256)
[ "$leaf" = "$(jq -r .leaf_hash "$work/entry.json")" ] || { echo "leaf hash differs" >&2; exit 1; }
echo "entry $index: leaf hash $leaf"

# 4. Walk the inclusion proof from the leaf to the root.
fn=$index; sn=$((size - 1)); r=$leaf
for p in $(jq -r '.inclusion_proof[]' "$work/entry.json"); do
  if (( sn == 0 )); then echo "proof too long" >&2; exit 1; fi
  if (( fn & 1 )) || (( fn == sn )); then
    r=$({ printf '\001'; echo "$p" | xxd -r -p; echo "$r" | xxd -r -p; } | hex_sha256)
    while (( fn != 0 && (fn & 1) == 0 )); do fn=$((fn >> 1)); sn=$((sn >> 1)); done
  else
    r=$({ printf '\001'; echo "$r" | xxd -r -p; echo "$p" | xxd -r -p; } | hex_sha256)
  fi
  fn=$((fn >> 1)); sn=$((sn >> 1))
done
if (( sn == 0 )) && [ "$r" = "$root" ]; then
  echo "inclusion proof: OK (entry $index is in the signed tree of size $size)"
else
  echo "inclusion proof: FAILED (computed $r, checkpoint says $root)" >&2
  exit 1
fi
