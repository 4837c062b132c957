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

# Only signed values are trusted: the tree size and root come from the checkpoint
# once its signature checks, and the entry's index from the entry's own bytes (which
# the leaf hash covers). The JSON fields beside them are the server's word, unchecked.
is_number() { case $1 in ''|*[!0-9]*) return 1 ;; *) return 0 ;; esac; }
is_number "$index" || { echo "index must be a number: $index" >&2; exit 1; }
index=$((10#$index))   # bash reads a leading 0 as octal otherwise

# 1. The entry, its proof and the checkpoint it leads to.
curl -fsS "$base/api/v1/ledger/entries/$index" > "$work/entry.json"
vkey=${3:-$(jq -r .checkpoint.vkey "$work/entry.json")}
jq -r .checkpoint.note "$work/entry.json" > "$work/note"

# 2. The checkpoint signature (C2SP signed-note): the body is everything before
#    the blank line; the signature line is "— <name> base64(key id ‖ signature)".
awk 'BEGIN{body=1} body && $0=="" {body=0; next} body {print}' "$work/note" > "$work/body"
name=${vkey%%+*}
awk -v name="$name" '$1=="—" && $2==name {print $3; exit}' "$work/note" | base64 -d | tail -c 64 > "$work/sig"
# An Ed25519 public key in DER: fixed 12-byte prefix, then the 32 key bytes.
key_and_id=${vkey#*+}   # the base64 key may itself contain '+': strip name and id from the left
{ printf '302a300506032b6570032100' | xxd -r -p; echo "${key_and_id#*+}" | base64 -d | tail -c 32; } > "$work/pub.der"
openssl pkeyutl -verify -pubin -keyform DER -inkey "$work/pub.der" -rawin -in "$work/body" -sigfile "$work/sig" > /dev/null \
  || { echo "checkpoint: signature does not verify under $name" >&2; exit 1; }
# The signed body (c2sp.org/tlog-checkpoint): origin, tree size, base64 root hash.
[ "$(sed -n 1p "$work/body")" = "$name" ] || { echo "checkpoint: origin is not $name" >&2; exit 1; }
size=$(sed -n 2p "$work/body")
is_number "$size" || { echo "checkpoint: malformed tree size" >&2; exit 1; }
size=$((10#$size))
root=$(sed -n 3p "$work/body" | base64 -d | xxd -p -c 32)
echo "checkpoint: signature OK; size $size, root $root"

# 3. The leaf hash: SHA-256 of 0x00 followed by the exact entry bytes, whose own
#    "index" field must be the one asked for, inside the signed tree.
jq -r .entry_base64 "$work/entry.json" | base64 -d > "$work/entry.bin"
leaf=$({ printf '\000'; cat "$work/entry.bin"; } | hex_sha256)
own=$(jq -r .index "$work/entry.bin")
is_number "$own" || { echo "the entry bytes hold no index" >&2; exit 1; }
[ "$own" = "$index" ] || { echo "asked for entry $index, the entry bytes say index $own" >&2; exit 1; }
(( index < size )) || { echo "entry $index is beyond the signed tree of size $size" >&2; exit 1; }
echo "entry $index: leaf hash $leaf"

# 4. Walk the inclusion proof from the leaf to the root.
fn=$index; sn=$((size - 1)); r=$leaf
for p in $(jq -r '.inclusion_proof[]' "$work/entry.json"); do
  [[ $p =~ ^[0-9a-f]{64}$ ]] || { echo "malformed proof hash" >&2; exit 1; }
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
