#!/usr/bin/env bash
# Measures payment flows end to end against the embedded sandbox: N copies of
# pay → redirect (hosted page, card form) → notify (signed PAYMENT_RESULT) → inquiry, run by
# `apoflow run` (sandbox and receiver started by the run). Prints the wall time of the whole
# run and per flow. Asserts nothing.
#
#   scripts/bench-payments.sh [N] [BINARY]     default: 200 flows, target/debug/apoflow
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}"
bin="${2:-target/debug/apoflow}"
[ -x "$bin" ] || cargo build --quiet
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r fixtures "$work/"
mkdir -p "$work/flows"
for i in $(seq 1 "$n"); do
  cat > "$work/flows/pay-$i.yaml" <<'FLOW'
name: pay, buyer, notification, inquiry
steps:
  - id: pay
    pay: { body_file: fixtures/payloads/pay-card-first-time.json }
    expect: { signature: valid, $.result.resultCode: PAYMENT_IN_PROCESS }
    save: { paymentId: $.paymentId, normalUrl: $.normalUrl }
  - redirect: { url: "{{ normalUrl }}", card: visa_success }
    expect: { landed_on: { starts_with: "{{ redirect_url }}" } }
  - notify:
      type: PAYMENT_RESULT
      match: { $.paymentId: "{{ paymentId }}" }
    expect: { signature: valid, $.result.resultStatus: S }
  - inquiry: { body: { paymentId: "{{ paymentId }}" } }
    expect: { signature: valid, $.paymentStatus: SUCCESS }
FLOW
done
abs_bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
start=$(date +%s%N)
(cd "$work" && "$abs_bin" run flows >/dev/null)
[ -n "${PROFILE:-}" ] && (cd "$work" && /usr/bin/time -f "user %U s, sys %S s, max RSS %M KiB" "$abs_bin" run flows >/dev/null)
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
echo "flows: $n (each: pay and inquiry signed both ways, the hosted page, a signed notification)"
echo "wall time: ${ms} ms, per flow: $(( ms * 1000 / n )) µs, cores: $(nproc)"
