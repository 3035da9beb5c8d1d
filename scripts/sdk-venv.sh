#!/usr/bin/env bash
# Creates .venv-sdk/ with the official APO (Antom) Python SDK, used by the interoperability tests
# in tests/apo.rs (and by anyone who wants to point the SDK at `apoflow sandbox`).
#
# Idempotent: an existing, complete venv is left as it is. Re-create it with `--force`.
#
# Why these pins (see shared/reference/apo-api.md §3):
# - `global-alipay-sdk-python==1.0.1` is the official SDK under its old PyPI name; its signing
#   code is identical to upstream HEAD.
# - it imports `cryptography` without declaring it, and with `cryptography>=45` a PKCS#8 merchant
#   key (the dashboard's format) no longer loads under its "RSA PRIVATE KEY" wrapper, so
#   `cryptography<45` is installed beside it.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-sdk
PY="${PYTHON:-python3}"

if [ "${1:-}" = "--force" ]; then
  rm -rf "$VENV"
fi

check() {
  "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
from com.alipay.ams.api.tools import signature_tool, webhook_tool  # noqa: F401
import cryptography
assert int(cryptography.__version__.split(".")[0]) < 45
PY
}

if [ -x "$VENV/bin/python" ] && check; then
  echo "sdk-venv: $VENV is ready"
  exit 0
fi

rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  'global-alipay-sdk-python==1.0.1' 'cryptography<45'
if ! check; then
  echo "sdk-venv: the SDK was installed but does not import; see the pip output above" >&2
  exit 1
fi
echo "sdk-venv: $VENV is ready ($("$VENV/bin/python" -c 'import cryptography; print("cryptography", cryptography.__version__)'))"
