#!/usr/bin/env bash
# Creates examples/merchant-python/.venv/ with the official APO (Antom) Python SDK, which the
# example merchant (examples/merchant-python/shop.py) runs on.
#
# Idempotent: an existing, complete venv is left as it is. Re-create it with `--force`.
#
# Why these pins (see shared/reference/apo-api.md §3):
# - `global-open-sdk-python==1.7.1` is the official SDK under its current PyPI name; the shop uses
#   it unmodified.
# - the SDK itself pins `cryptography==44.0.3`. That matters: with `cryptography>=45` a PKCS#8
#   merchant key (the Dashboard's format) no longer loads under the SDK's "RSA PRIVATE KEY"
#   wrapper. The check below insists on it.
#
# PIP_INDEX_URL / PIP_FIND_LINKS etc. are honoured as usual, so an offline wheel directory works:
#   PIP_FIND_LINKS=/path/to/wheels scripts/merchant-venv.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=examples/merchant-python/.venv
PY="${PYTHON:-python3}"

if [ "${1:-}" = "--force" ]; then
  rm -rf "$VENV"
fi

check() {
  "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
from com.alipay.ams.api.default_alipay_client import DefaultAlipayClient  # noqa: F401
from com.alipay.ams.api.request.pay.alipay_pay_request import AlipayPayRequest  # noqa: F401
from com.alipay.ams.api.tools import webhook_tool  # noqa: F401
from importlib.metadata import version
assert version("global-open-sdk-python") == "1.7.1"
import cryptography
assert int(cryptography.__version__.split(".")[0]) < 45
PY
}

# What `check` proved is kept beside the venv, so a later start skips it (a Python start and
# the SDK's imports: ~70 ms of every `apoflow run --merchant example`). A changed pin below, or
# --force, checks again.
PINS="global-open-sdk-python==1.7.1 cryptography<45"
STAMP="$VENV/.apoflow-checked"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$PINS" ]; then
  echo "merchant-venv: $VENV is ready"
  exit 0
fi
if [ -x "$VENV/bin/python" ] && check; then
  echo "$PINS" >"$STAMP"
  echo "merchant-venv: $VENV is ready"
  exit 0
fi

rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  'global-open-sdk-python==1.7.1'
if ! check; then
  echo "merchant-venv: the SDK was installed but does not import; see the pip output above" >&2
  exit 1
fi
echo "$PINS" >"$STAMP"
echo "merchant-venv: $VENV is ready ($("$VENV/bin/python" -c 'import cryptography; print("cryptography", cryptography.__version__)'))"
