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

  {"mode": "call", "gateway_url": "http://127.0.0.1:PORT", "client_id": "...",
   "merchant_private_key": "...", "apo_public_key": "...", "payment_request_id": "..."}
      -> {"body": "<raw response body>"} or {"error": "<the SDK's exception>"}
     The SDK's own DefaultAlipayClient sends inquiryPayment over HTTP and verifies the answer.
     Its transport always opens HTTPS on port 443 (apo-api.md §3), so do_post is replaced by
     one that honours the URL's scheme and port; signing and verification stay the SDK's.
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


def call(request):
    import http.client
    import urllib.parse

    import com.alipay.ams.api.default_alipay_client as dac
    from com.alipay.ams.api.request.pay.alipay_pay_query_request import AlipayPayQueryRequest

    def local_do_post(url, headers=None, req_body=None, charset="UTF-8"):
        parsed = urllib.parse.urlparse(url)
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        connection.request("POST", parsed.path, body=req_body.encode(charset), headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            raise dac.AlipayApiException("invalid http status " + str(response.status))
        result = (response.getheaders(), response.read())
        connection.close()
        return result

    dac.do_post = local_do_post
    client = dac.DefaultAlipayClient(
        request["gateway_url"], request["client_id"],
        request["merchant_private_key"], request["apo_public_key"])
    query = AlipayPayQueryRequest()
    query.payment_request_id = request["payment_request_id"]
    try:
        return {"body": client.execute(query)}
    except Exception as e:  # AlipayApiException, or the rsa error it wraps
        return {"error": str(e)}


def main():
    request = json.load(sys.stdin)
    mode = request["mode"]
    if mode == "sign":
        result = sign(request)
    elif mode == "verify":
        result = verify(request)
    elif mode == "call":
        result = call(request)
    else:
        raise SystemExit("unknown mode " + mode)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
