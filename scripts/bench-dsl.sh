#!/usr/bin/env bash
# Measures the DSL half of apoflow: loading and checking flows (`apoflow validate`) and
# evaluating assertions (`expect::eval_entry`). Release build; prints figures, asserts nothing.
#
#   scripts/bench-dsl.sh            # 1000-step flow + 200 files of 20 steps
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
bin=target/release/apoflow
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One flow of 1000 http steps with 3 assertions and a capture each.
{
  echo "name: A thousand steps"
  echo "vars: { base: \"http://127.0.0.1:9\" }"
  echo "steps:"
  for i in $(seq 1 1000); do
    cat <<STEP
  - id: s$i
    http: { method: POST, url: "{{ base }}/echo/$i", json: { n: $i, id: "{{ uuid() }}" } }
    expect:
      status: 200
      \$.result.resultCode: { one_of: [SUCCESS, PROCESSING] }
      \$.items[?@.n == $i].value: { gte: 1 }
    save: { v$i: \$.value }
STEP
  done
} > "$work/big.yaml"

# 200 files of 20 steps each.
mkdir -p "$work/many"
for f in $(seq 1 200); do
  sed -n '1,143p' "$work/big.yaml" | sed "s/A thousand steps/Flow $f/" > "$work/many/f$f.yaml"
done

measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > /dev/null
  read -r secs kb < "$work/time"
  printf '%-40s %8s s  %8s KiB peak RSS\n' "$label" "$secs" "$kb"
}

echo "apoflow validate (release), wall time and peak memory:"
measure "1 flow x 1000 steps x 3 assertions" "$bin" validate "$work/big.yaml"
measure "200 files x 20 steps x 3 assertions" "$bin" validate "$work/many"

echo
echo "expect::eval_entry (release), per assertion:"
cargo test --release --quiet --lib measure_eval_entry -- --ignored --nocapture 2>/dev/null | grep 'ns per'

echo
echo "template::Templates (release), per request body:"
cargo test --release --quiet --lib measure_render -- --ignored --nocapture 2>/dev/null | grep 'ns per'
