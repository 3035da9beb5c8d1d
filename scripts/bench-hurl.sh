#!/usr/bin/env bash
# apoflow against Hurl on the same machine, the same requests and the same server: nginx on
# loopback serving one static JSON file. Two suites, each written once as apoflow flows and once
# as Hurl files:
#
#   steps  one file of 1000 requests, each with a status check and 3 JSONPath assertions
#   files  10 000 files of one such request, run with 8 jobs (`--jobs 8` for both)
#
# Runs the two tools in turn (A B A B ...) and prints min / median / max wall time, peak memory
# and the ratios apoflow/Hurl, measured in this one run. Loading alone (`apoflow validate`) is
# timed at 1250 to 10 000 files to show it grows linearly. Asserts nothing.
#
# Needs: hurl 8.0.1 and nginx on PATH, e.g.
#   apt-get install -y libcurl4-openssl-dev libxml2-dev libclang-dev nginx
#   cargo install hurl --locked --version 8.0.1
#
#   scripts/bench-hurl.sh                      # release binary (built if missing), 5 runs
#   RUNS=3 FILES=2000 scripts/bench-hurl.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${APOFLOW:-${CARGO_TARGET_DIR:-target}/release/apoflow}"
runs="${RUNS:-5}"
steps="${STEPS:-1000}"
files="${FILES:-10000}"
jobs="${JOBS:-8}"
port="${BENCH_PORT:-18090}"
hurl="${HURL:-hurl}"
nginx="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
for tool in "$hurl" "$nginx"; do
  command -v "$tool" >/dev/null || {
    echo "bench-hurl: \`$tool\` not found; install it (see the top of this script)" >&2
    exit 2
  }
done
if [[ ! -x "$bin" ]]; then
  cargo build --release --locked
fi
# shellcheck source=lib/measure.sh
source scripts/lib/measure.sh

work="$(mktemp -d)"
chmod 755 "$work"
nginx_pid=""
cleanup() {
  [[ -n "$nginx_pid" ]] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The server: one static JSON document, no access log, keep-alive on.
mkdir -p "$work/www" "$work/nginx"
cat >"$work/www/data.json" <<'JSON'
{"result":{"resultStatus":"S","resultCode":"SUCCESS","resultMessage":"success"},"paymentId":"P-1","amount":{"currency":"SGD","value":"4200"}}
JSON
cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:$port;
    root $work/www;
    location / { default_type application/json; }
  }
}
CONF
"$nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
url="http://127.0.0.1:$port/data.json"
for _ in $(seq 50); do
  curl -fsS "$url" >/dev/null 2>&1 && break
  sleep 0.1
done

# One request with its checks, in each tool's language.
flow_step() {
  printf '  - http: { url: "%s" }\n    expect:\n      status: 200\n' "$url"
  printf '      $.result.resultStatus: S\n      $.paymentId: P-1\n      $.amount.value: "4200"\n'
}
hurl_entry() {
  printf 'GET %s\nHTTP 200\n[Asserts]\n' "$url"
  printf 'jsonpath "$.result.resultStatus" == "S"\njsonpath "$.paymentId" == "P-1"\n'
  printf 'jsonpath "$.amount.value" == "4200"\n\n'
}
step_yaml="$(flow_step)"
entry_hurl="$(hurl_entry)"

mkdir -p "$work/steps" "$work/files-apoflow" "$work/files-hurl"
{
  echo "name: $steps steps"
  echo "steps:"
  for _ in $(seq "$steps"); do echo "$step_yaml"; done
} >"$work/steps/steps.yaml"
for _ in $(seq "$steps"); do printf '%s\n\n' "$entry_hurl"; done >"$work/steps/steps.hurl"
for i in $(seq "$files"); do
  printf 'name: flow %d\nsteps:\n%s\n' "$i" "$step_yaml" >"$work/files-apoflow/f$i.yaml"
  printf '%s\n' "$entry_hurl" >"$work/files-hurl/f$i.hurl"
done

echo "apoflow: $bin ($("$bin" --version)); hurl: $("$hurl" --version | head -n 1)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo);" \
  "nginx on 127.0.0.1:$port; $runs runs each, in turn"
# Both tools must pass the suites before they are timed.
CI=true "$bin" run "$work/steps/steps.yaml" >/dev/null
"$hurl" --test "$work/steps/steps.hurl" >/dev/null 2>&1

compare "$steps http steps, 3 JSONPath assertions each, one file" \
  "$bin run $work/steps/steps.yaml" \
  "$hurl --test $work/steps/steps.hurl"
compare "$files one-request files, $jobs jobs" \
  "$bin run --jobs $jobs $work/files-apoflow" \
  "$hurl --test --jobs $jobs $work/files-hurl"

echo "loading alone (apoflow validate; linear: time per file stays flat)"
for n in $((files / 8)) $((files / 4)) $((files / 2)) "$files"; do
  mkdir -p "$work/load-$n"
  for i in $(seq "$n"); do ln -s "$work/files-apoflow/f$i.yaml" "$work/load-$n/f$i.yaml"; done
  measure "  validate $n files" validate "$work/load-$n"
  printf '  %48s %.1f µs per file\n' "" "$(awk "BEGIN{print $MEDIAN_MS*1000/$n}")"
done
