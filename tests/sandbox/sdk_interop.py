"""The official Python SDK (global-alipay-sdk-python 1.0.1) against a running apoflow sandbox.

Usage: sdk_interop.py BASE_URL MERCHANT_PRIVATE_PEM APO_PUBLIC_PEM
Runs pay, (buyer on the hosted page), inquiryPayment, capture, refund, cancel through
DefaultAlipayClient, which signs every request and verifies every response signature, and
parses each response with the SDK's own response class. Prints one line per call; exits
non-zero on the first failure.
"""
import http.client
import json
import sys
import urllib.parse
import uuid

import com.alipay.ams.api.default_alipay_client as dac
from com.alipay.ams.api.default_alipay_client import DefaultAlipayClient
from com.alipay.ams.api.model.antom_path_constants import AntomPathConstants
from com.alipay.ams.api.request.alipay_request import AlipayRequest
from com.alipay.ams.api.response.pay.alipay_pay_response import AlipayPayResponse
from sdk_common import body_of, check, pay_inquire_capture_refund_cancel

BASE, PRIV, PUB = sys.argv[1], sys.argv[2], sys.argv[3]
BASE_PARTS = urllib.parse.urlparse(BASE)


def local_do_post(url, headers=None, req_body=None, charset="UTF-8"):
    """The SDK's do_post, honouring the sandbox's scheme and port (apo-api.md section 3)."""
    conn = http.client.HTTPConnection(BASE_PARTS.hostname, BASE_PARTS.port, timeout=10)
    conn.request("POST", url, body=req_body.encode(charset), headers=headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("HTTP %d" % resp.status)
    out = resp.getheaders(), resp.read()
    conn.close()
    return out


dac.do_post = local_do_post


class PayRequest(AlipayRequest):
    """pay with a hand-written body, serialised the way the SDK serialises (indent=3)."""

    def __init__(self, body):
        super().__init__()
        self.path = AntomPathConstants.PAYMENT_PATH.value
        self.body = body

    def to_ams_json(self):
        return json.dumps(self.body, indent=3)


client = DefaultAlipayClient(BASE, "SANDBOX_APOFLOW_MERCHANT", body_of(PRIV), body_of(PUB))


def pay(capture_mode):
    body = {
        "productCode": "CASHIER_PAYMENT",
        "paymentRequestId": "sdk-" + uuid.uuid4().hex,
        "paymentAmount": {"currency": "SGD", "value": "1000"},
        "paymentMethod": {"paymentMethodType": "CARD"},
        "paymentFactor": {"isAuthorization": True, "captureMode": capture_mode},
        "paymentRedirectUrl": "https://shop.example/return",
        "order": {"referenceOrderId": "SDK-1", "orderDescription": "SDK interop",
                  "orderAmount": {"currency": "SGD", "value": "1000"},
                  "buyer": {"referenceBuyerId": "sdk-buyer"}},
        "env": {"terminalType": "WEB", "clientIp": "203.0.113.9"},
    }
    r = AlipayPayResponse(client.execute(PayRequest(body)))
    check("pay", r, "PAYMENT_IN_PROCESS")
    return r


pay_inquire_capture_refund_cancel(client, pay, "MANUAL", "MANUAL")
print("sdk interop ok")
