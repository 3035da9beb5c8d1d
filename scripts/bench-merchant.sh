#!/usr/bin/env bash
# Measures the merchant under test end to end: `apoflow run --merchant example flows/merchant/`
# (the embedded sandbox over HTTPS on 127.0.0.1:443, the example shop started and stopped, every
# bundled merchant flow, as many at once as its `jobs` in apoflow.toml), the whole bundled library
# (card and merchant flows in one run), the merchant flows two at a time (the default without
# `jobs` on two cores), and the start-up alone (the shop started, ready and stopped around a
# one-step flow). Prints min / median / max wall time over RUNS runs, and what the shop's
# official SDK spends signing a call to APO, as shipped and with the key checked once, and how
# long the shop's calls to APO take during the merchant library (from its log, over RUNS runs).
# Asserts nothing.
# Needs root (port 443) and the shop's venv (scripts/merchant-venv.sh, run here).
#
#   scripts/bench-merchant.sh                  # the release binary (built if missing)
#   APOFLOW=target/debug/apoflow RUNS=5 scripts/bench-merchant.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${APOFLOW:-target/release/apoflow}"
runs="${RUNS:-5}"
if [[ ! -x "$bin" ]]; then
  cargo build --release --locked
fi
bash scripts/merchant-venv.sh >/dev/null
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/up.yaml" <<'FLOW'
name: The shop is up
tags: [merchant]
steps:
  - http: { url: "{{ merchant.url }}/health" }
    expect: { status: 200 }
FLOW

# shellcheck source=lib/measure.sh
source scripts/lib/measure.sh

cases="$(CI=true "$bin" run --merchant example flows/merchant/ 2>/dev/null | grep -Eo '^[0-9]+ cases' || true)"
echo "binary: $bin; cores: $(nproc); merchant library: $cases"
# The SDK (1.7.1) loads and validates the merchant's private key on every call it signs; the shop
# has it validated once (shop.py, check_key_once).
sdk_ms="$(PYTHONPATH=examples/merchant-python examples/merchant-python/.venv/bin/python - <<'PY'
import time
from com.alipay.ams.api.tools import signature_tool
import shop
key = "".join(l.strip() for l in open("fixtures/keys/merchant-private.pem") if not l.startswith("-----"))
def per_call():
    start = time.process_time()
    for _ in range(20):
        signature_tool.sign("POST", "/ams/api/v1/payments/pay", "c", "t", '{"a":1}', key)
    return (time.process_time() - start) / 20 * 1000
sdk = per_call()
shop.Shop.check_key_once()
signature_tool.sign("POST", "/check", "c", "t", "b", key)  # the check at start
print(f"{sdk:.1f} ms of CPU as shipped, {per_call():.2f} ms with the key checked once (the shop)")
PY
)"
echo "the SDK signs a call in ${sdk_ms}; 20 signatures each"
measure "start, ready, stop the shop (one-step flow)" run --merchant example "$tmp/up.yaml"
measure "run --merchant example flows/merchant/" run --merchant example flows/merchant/
measure "run --merchant example flows/ (whole library)" run --merchant example flows/
measure "run -j 2 --merchant example flows/merchant/" run -j 2 --merchant example flows/merchant/
# How long the shop's answered calls to APO take while the merchant library runs (its log's
# `ms=`), over RUNS runs: the time-out apoflow.toml declares must stay well above the slowest.
# Calls without a usable answer (`apo-error`: the flows' lost answers and the late one that
# outlasts the time-out on purpose) are not counted.
for _ in $(seq "$runs"); do
  rm -rf "$tmp/evidence"
  CI=true "$bin" run --merchant example flows/merchant/ \
    --checklist checklists/apo-merchant-hosted.yaml --evidence "$tmp/evidence" >/dev/null 2>&1 || true
  grep -Eo '^stderr: shop: apo .* ms=[0-9]+' "$tmp/evidence/merchant.log" | grep -Eo '[0-9]+$' || true
done | sort -n | awk -v runs="$runs" '
  { ms[NR] = $1 }
  END {
    if (NR == 0) { print "the shop logged no answered call to APO"; exit }
    printf "the shop'"'"'s answered calls to APO (%d in %d runs): median %d ms  p90 %d ms  max %d ms\n",
      NR, runs, ms[int((NR + 1) / 2)], ms[int((NR * 9 + 9) / 10)], ms[NR]
  }'
