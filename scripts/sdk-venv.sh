#!/usr/bin/env bash
# Creates the virtual environments with the official APO (Antom) Python SDKs, used by the
# interoperability tests in tests/apo.rs and tests/sandbox.rs (and by anyone who wants to point
# an SDK at `apoflow sandbox`):
#
# - .venv-sdk/       global-alipay-sdk-python==1.0.1 (the SDK under its old PyPI name)
# - .venv-open-sdk/  global-open-sdk-python==1.7.1 (its current name; dials port 443 with
#                    verified TLS, so it needs `apoflow sandbox --tls-dir`)
#
# Idempotent: an existing, complete venv is left as it is. Re-create both with `--force`.
#
# Why these pins (see shared/reference/apo-api.md §3):
# - global-alipay-sdk-python 1.0.1's signing code is identical to upstream HEAD. It imports
#   `cryptography` without declaring it, and with `cryptography>=45` a PKCS#8 merchant key (the
#   dashboard's format) no longer loads under its "RSA PRIVATE KEY" wrapper, so `cryptography<45`
#   is installed beside it.
# - global-open-sdk-python 1.7.1 pins cryptography==44.0.3 itself. A wheel of it may be cached
#   in $SDK_WHEELS (default /tmp/sdkdl); pip falls back to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
WHEELS="${SDK_WHEELS:-/tmp/sdkdl}"

if [ "${1:-}" = "--force" ]; then
  rm -rf .venv-sdk .venv-open-sdk
fi

# check VENV: whether the SDK in VENV imports, with a usable cryptography.
check() {
  "$1/bin/python" - <<'PY' >/dev/null 2>&1
from com.alipay.ams.api.tools import signature_tool, webhook_tool  # noqa: F401
from com.alipay.ams.api.default_alipay_client import DefaultAlipayClient  # noqa: F401
import cryptography
assert int(cryptography.__version__.split(".")[0]) < 45
PY
}

# ensure VENV PIP_ARGS...: creates VENV with the packages unless it already passes `check`.
ensure() {
  local venv="$1"
  shift
  if [ -x "$venv/bin/python" ] && check "$venv"; then
    echo "sdk-venv: $venv is ready"
    return 0
  fi
  rm -rf "$venv"
  "$PY" -m venv "$venv"
  local find_links=()
  if [ -d "$WHEELS" ]; then find_links=(--find-links "$WHEELS"); fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${find_links[@]}" "$@"
  if ! check "$venv"; then
    echo "sdk-venv: the SDK was installed in $venv but does not import; see the pip output above" >&2
    exit 1
  fi
  echo "sdk-venv: $venv is ready ($("$venv/bin/python" -c 'import cryptography; print("cryptography", cryptography.__version__)'))"
}

ensure .venv-sdk 'global-alipay-sdk-python==1.0.1' 'cryptography<45'
ensure .venv-open-sdk 'global-open-sdk-python==1.7.1'
