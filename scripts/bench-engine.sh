#!/usr/bin/env bash
# Measures the engine: a 1000-step http flow (3 assertions each) against a local server, run by
# the release binary; prints per-step engine overhead (µs) and peak memory. Asserts nothing.
#
#   scripts/bench-engine.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench engine
