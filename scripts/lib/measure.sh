# Sourced by the bench scripts (they assert nothing; they print figures).
#
#   measure LABEL ARGS...          runs "$bin" ARGS "$runs" times
#   compare LABEL 'CMD A' 'CMD B'  runs A and B in turn (A B A B ...) "$runs" times each and
#                                  prints both and the ratio A/B of the median wall times
#
# Commands run with CI=true, their output discarded. Each line gives min / median / max wall time
# in milliseconds and the largest peak memory (maximum resident set size, from /usr/bin/time when
# it exists). A run that exits non-zero is counted and named on the line: a failing command is not
# a benchmark. Commands given as strings are split on spaces (no quoting inside them).

# One run of the command "$@": sets RUN_MS, RUN_KB (0 when unmeasured) and RUN_STATUS.
run_once() {
  local start end memfile
  memfile="$(mktemp)"
  start=$(date +%s%N)
  if [[ -x /usr/bin/time ]]; then
    CI=true /usr/bin/time -f %M -o "$memfile" "$@" >/dev/null 2>&1 && RUN_STATUS=0 || RUN_STATUS=$?
  else
    CI=true "$@" >/dev/null 2>&1 && RUN_STATUS=0 || RUN_STATUS=$?
  fi
  end=$(date +%s%N)
  RUN_MS=$(((end - start) / 1000000))
  RUN_KB=$(grep -Eo '^[0-9]+$' "$memfile" | tail -n 1 || true)
  RUN_KB=${RUN_KB:-0}
  rm -f "$memfile"
}

# report LABEL FAILED PEAK_KB TIMES...: prints one result line; sets MEDIAN_MS.
report() {
  local label="$1" failed="$2" peak_kb="$3"
  shift 3
  local sorted n
  IFS=$'\n' read -r -d '' -a sorted < <(printf '%s\n' "$@" | sort -n && printf '\0')
  n=${#sorted[@]}
  MEDIAN_MS=${sorted[$((n / 2))]}
  printf '%-44s min %6d ms  median %6d ms  max %6d ms  peak %6.1f MiB  (%d runs%s)\n' "$label" \
    "${sorted[0]}" "$MEDIAN_MS" "${sorted[$((n - 1))]}" "$(awk "BEGIN{print $peak_kb/1024}")" \
    "$n" "$([[ $failed -gt 0 ]] && echo ", $failed FAILED" || true)"
}

measure() {
  local label="$1"
  shift
  local times=() failed=0 peak=0
  for _ in $(seq "$runs"); do
    run_once "$bin" "$@"
    times+=("$RUN_MS")
    if ((RUN_STATUS != 0)); then failed=$((failed + 1)); fi
    if ((RUN_KB > peak)); then peak=$RUN_KB; fi
  done
  report "$label" "$failed" "$peak" "${times[@]}"
}

compare() {
  local label="$1" a b
  read -r -a a <<<"$2"
  read -r -a b <<<"$3"
  local times_a=() times_b=() failed_a=0 failed_b=0 peak_a=0 peak_b=0
  # One warm-up run each (file cache, nginx's first connections).
  run_once "${a[@]}"
  run_once "${b[@]}"
  for _ in $(seq "$runs"); do
    run_once "${a[@]}"
    times_a+=("$RUN_MS")
    if ((RUN_STATUS != 0)); then failed_a=$((failed_a + 1)); fi
    if ((RUN_KB > peak_a)); then peak_a=$RUN_KB; fi
    run_once "${b[@]}"
    times_b+=("$RUN_MS")
    if ((RUN_STATUS != 0)); then failed_b=$((failed_b + 1)); fi
    if ((RUN_KB > peak_b)); then peak_b=$RUN_KB; fi
  done
  echo "$label"
  report "  ${a[0]##*/}" "$failed_a" "$peak_a" "${times_a[@]}"
  local median_a=$MEDIAN_MS
  report "  ${b[0]##*/}" "$failed_b" "$peak_b" "${times_b[@]}"
  local median_b=$MEDIAN_MS
  printf '  ratio %s/%s: wall %.2f   peak memory %.2f\n' "${a[0]##*/}" "${b[0]##*/}" \
    "$(awk "BEGIN{print $median_a/($median_b>0?$median_b:1)}")" \
    "$(awk "BEGIN{print $peak_a/($peak_b>0?$peak_b:1)}")"
}
