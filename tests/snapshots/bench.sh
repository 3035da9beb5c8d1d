#!/usr/bin/env bash
# Measures `apoflow snapshots` over many files (no thresholds; prints the figures).
# Usage: tests/snapshots/bench.sh [N] [path/to/apoflow]   (default: 2000, target/debug/apoflow)
set -euo pipefail
n=${1:-2000}
bin=$(realpath "${2:-target/debug/apoflow}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/flows/__snapshots__"
touch "$work/flows/pay.yaml"
body=$(printf '{\n  "paymentId": "[paymentId]",\n  "paymentStatus": "SUCCESS",\n  "result": {\n    "resultCode": "SUCCESS",\n    "resultStatus": "S"\n  }\n}')
for i in $(seq 1 "$n"); do
  printf -- '---\nsource: flows/pay.yaml\nexpression: "step-%s: response"\n---\n%s\n' "$i" "$body" \
    > "$work/flows/__snapshots__/pay__Pay__step-${i}__result.snap.new"
done
cd "$work"
t() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo "$(( (e - s) / 1000000 )) ms"; }
echo "files: $n ($bin)"
echo -n "review (all accepted): "; t sh -c "yes a | head -n $n | '$bin' snapshots review"
echo -n "check (none stale):    "; t "$bin" snapshots check
rm flows/pay.yaml
echo -n "check --remove (all):  "; t "$bin" snapshots check --remove
