# Sourced by the bench scripts: `measure LABEL ARGS...` runs "$bin" ARGS "$runs" times (CI=true,
# output discarded) and prints the label with min / median / max wall time in milliseconds.
measure() {
  local label="$1"
  shift
  local times=()
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s%N)
    CI=true "$bin" "$@" >/dev/null 2>&1
    end=$(date +%s%N)
    times+=($(((end - start) / 1000000)))
  done
  IFS=$'\n' read -r -d '' -a sorted < <(printf '%s\n' "${times[@]}" | sort -n && printf '\0')
  printf '%-52s min %6d ms   median %6d ms   max %6d ms   (%d runs)\n' "$label" \
    "${sorted[0]}" "${sorted[$((runs / 2))]}" "${sorted[$((runs - 1))]}" "$runs"
}
