"""Interoperability between apoflow and the official APO Python SDK (global-alipay-sdk-python).

Driven by tests/apo.rs, run with .venv-sdk/bin/python (see scripts/sdk-venv.sh). Reads one JSON
object on stdin and writes one JSON object on stdout:

  {"mode": "sign", "merchant_private_key": "<base64 PKCS#8>", "cases": [{id, path, client_id,
   time, body}]}
      -> {"signatures": {id: "<signature header as the SDK client sends it>"}}
     The SDK's own signature_tool.sign; apoflow must verify each one.

  {"mode": "verify", "apo_public_key": "<base64 X.509>", "cases": [{id, kind: "response" |
   "notification", path, client_id, time, body, signature_header}]}
      -> {"verified": {id: true | false}}
     Responses are checked with signature_tool.verify (as DefaultAlipayClient does, on the part
     after "signature="), notifications with webhook_tool.check_signature (full header).
"""

import json
import sys

from com.alipay.ams.api.tools import signature_tool, webhook_tool


def sign(request):
    out = {}
    for case in request["cases"]:
        value = signature_tool.sign(
            "POST",
            case["path"],
            case["client_id"],
            case["time"],
            case["body"],
            request["merchant_private_key"],
        )
        # DefaultAlipayClient.__build_custom_header formats it this way.
        out[case["id"]] = "algorithm=RSA256,keyVersion=1,signature=" + value
    return {"signatures": out}


def verify(request):
    out = {}
    key = request["apo_public_key"]
    for case in request["cases"]:
        header = case["signature_header"]
        try:
            if case["kind"] == "notification":
                ok = webhook_tool.check_signature(
                    "POST", case["path"], case["client_id"], case["time"],
                    case["body"], header, key)
            else:
                value = header.split("signature=")[1]
                ok = signature_tool.verify(
                    "POST", case["path"], case["client_id"], case["time"],
                    case["body"], value, key)
        except Exception:  # the SDK raises rsa.VerificationError on a mismatch
            ok = False
        out[case["id"]] = bool(ok)
    return {"verified": out}


def main():
    request = json.load(sys.stdin)
    mode = request["mode"]
    if mode == "sign":
        result = sign(request)
    elif mode == "verify":
        result = verify(request)
    else:
        raise SystemExit("unknown mode " + mode)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
