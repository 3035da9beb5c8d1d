#!/bin/sh
# Load bench of the standalone sandbox: N concurrent clients doing
# pay → hosted page → PAYMENT_RESULT notification → inquiryPayment.
# Usage: scripts/bench-sandbox.sh [CLIENTS] [PAYMENTS]   (defaults 16 and 2000)
# Builds in release, starts `apoflow sandbox` on 127.0.0.1, reports payments/s, p50/p99 journey
# latency, the sandbox's CPU time per journey (user + system, from /proc: steadier than
# payments/s when other jobs share the machine), its memory at the end (VmRSS) and at its peak
# (VmHWM) and the RSA signing limit of this machine. SANDBOX_BENCH_STATE=FILE runs the sandbox
# with `--state FILE` (the file is removed first) to measure what keeping the state in SQLite
# costs.
set -eu
cd "$(dirname "$0")/.."
CLIENTS=${1:-16}
PAYMENTS=${2:-2000}
PORT=${SANDBOX_BENCH_PORT:-18088}
cargo build --release --quiet --bin apoflow --example sandbox_bench
TARGET=${CARGO_TARGET_DIR:-target}/release
STATE=${SANDBOX_BENCH_STATE:-}
if [ -n "$STATE" ]; then
  rm -f "$STATE" "$STATE-wal" "$STATE-shm"
  "$TARGET/apoflow" sandbox --listen "127.0.0.1:$PORT" --state "$STATE" >/dev/null &
else
  "$TARGET/apoflow" sandbox --listen "127.0.0.1:$PORT" >/dev/null &
fi
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
sleep 0.5
"$TARGET/examples/sandbox_bench" "http://127.0.0.1:$PORT" "$CLIENTS" "$PAYMENTS" | tee /tmp/sandbox-bench.$$
awk -v hz="$(getconf CLK_TCK)" -v n="$PAYMENTS" \
  '{printf "sandbox CPU per journey: %.0f us\n", ($14 + $15) / hz * 1e6 / n}' "/proc/$PID/stat"
grep VmRSS "/proc/$PID/status" | sed 's/^/sandbox memory at the end /'
grep VmHWM "/proc/$PID/status" | sed 's/^/sandbox peak memory /'
if [ -n "$STATE" ]; then
  echo "state file: $(du -k "$STATE" | cut -f1) KiB (+ WAL $(du -k "$STATE-wal" 2>/dev/null | cut -f1) KiB)"
fi
CORES=$(nproc)
RATE=$(sed -n 's/^rsa-2048 signatures\/s on one core: //p' /tmp/sandbox-bench.$$)
rm -f /tmp/sandbox-bench.$$
# Per journey the sandbox signs 3 times (pay response, PAYMENT_RESULT, inquiry response) and the
# bench client signs twice (pay, inquiry request), all on the same machine.
echo "signing limit: $RATE sig/s/core x $CORES cores = $((RATE * CORES)) sig/s;" \
     "sandbox alone: $((RATE * CORES / 3)) payments/s; sandbox + bench client: $((RATE * CORES / 5)) payments/s"
