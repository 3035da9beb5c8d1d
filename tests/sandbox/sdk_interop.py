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
from com.alipay.ams.api.model.amount import Amount
from com.alipay.ams.api.model.antom_path_constants import AntomPathConstants
from com.alipay.ams.api.request.alipay_request import AlipayRequest
from com.alipay.ams.api.request.pay.alipay_capture_request import AlipayCaptureRequest
from com.alipay.ams.api.request.pay.alipay_pay_cancel_request import AlipayPayCancelRequest
from com.alipay.ams.api.request.pay.alipay_pay_query_request import AlipayPayQueryRequest
from com.alipay.ams.api.request.pay.alipay_refund_request import AlipayRefundRequest
from com.alipay.ams.api.response.pay.alipay_capture_response import AlipayCaptureResponse
from com.alipay.ams.api.response.pay.alipay_pay_cancel_response import AlipayPayCancelResponse
from com.alipay.ams.api.response.pay.alipay_pay_query_response import AlipayPayQueryResponse
from com.alipay.ams.api.response.pay.alipay_pay_response import AlipayPayResponse
from com.alipay.ams.api.response.pay.alipay_refund_response import AlipayRefundResponse

BASE, PRIV, PUB = sys.argv[1], sys.argv[2], sys.argv[3]
BASE_PARTS = urllib.parse.urlparse(BASE)


def body_of(pem_path):
    return "".join(l.strip() for l in open(pem_path) if not l.startswith("-----"))


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


def check(name, response, code):
    result = response.result
    got = result.result_code if result else None
    print("%s: %s" % (name, got))
    if got != code:
        sys.exit("%s: expected %s, got %s" % (name, code, got))


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


def buyer_pays(normal_url):
    u = urllib.parse.urlparse(normal_url)
    form = urllib.parse.urlencode({"card_number": "4054695723100768", "expiry_month": "12",
                                   "expiry_year": "39", "cvv": "123", "holder_name": "SDK"})
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("POST", u.path, body=form,
                 headers={"content-type": "application/x-www-form-urlencoded"})
    status = conn.getresponse().status
    conn.close()
    if status != 303:
        sys.exit("hosted page answered %d" % status)


p = pay("MANUAL")
buyer_pays(p.normal_url)
q = AlipayPayQueryRequest()
q.payment_id = p.payment_id
qr = AlipayPayQueryResponse(client.execute(q))
check("inquiryPayment", qr, "SUCCESS")
if getattr(qr.payment_status, "value", qr.payment_status) != "SUCCESS":
    sys.exit("paymentStatus %r" % qr.payment_status)

c = AlipayCaptureRequest()
c.capture_request_id = "cap-" + uuid.uuid4().hex
c.payment_id = p.payment_id
c.capture_amount = Amount("SGD", "1000")
check("capture", AlipayCaptureResponse(client.execute(c)), "SUCCESS")

rf = AlipayRefundRequest()
rf.refund_request_id = "ref-" + uuid.uuid4().hex
rf.payment_id = p.payment_id
rf.refund_amount = Amount("SGD", "400")
check("refund", AlipayRefundResponse(client.execute(rf)), "SUCCESS")

p2 = pay("MANUAL")
buyer_pays(p2.normal_url)
cn = AlipayPayCancelRequest()
cn.payment_id = p2.payment_id
check("cancel", AlipayPayCancelResponse(client.execute(cn)), "SUCCESS")
print("sdk interop ok")
