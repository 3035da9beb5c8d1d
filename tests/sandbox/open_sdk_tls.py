"""The stock official Python SDK (global-open-sdk-python 1.7.1) against `apoflow sandbox` over HTTPS.

Usage: SSL_CERT_FILE=DIR/ca.pem open_sdk_tls.py BASE_URL MERCHANT_PRIVATE_PEM APO_PUBLIC_PEM
BASE_URL is https://127.x.y.z (port 443: the SDK's transport always dials 443 with verified
TLS, and is not patched here). Builds every request from the SDK's own model classes and runs
pay (MANUAL capture), the buyer on the hosted page, inquiryPayment, capture, refund, and a second
pay then cancel, through DefaultAlipayClient, which signs each request and verifies each
response signature. Prints one line per call; exits non-zero on the first failure.
"""
import http.client
import ssl
import sys
import urllib.parse
import uuid

from com.alipay.ams.api.default_alipay_client import DefaultAlipayClient
from com.alipay.ams.api.model.amount import Amount
from com.alipay.ams.api.model.buyer import Buyer
from com.alipay.ams.api.model.capture_mode import CaptureMode
from com.alipay.ams.api.model.env import Env
from com.alipay.ams.api.model.order import Order
from com.alipay.ams.api.model.payment_factor import PaymentFactor
from com.alipay.ams.api.model.payment_method import PaymentMethod
from com.alipay.ams.api.model.product_code_type import ProductCodeType
from com.alipay.ams.api.model.terminal_type import TerminalType
from com.alipay.ams.api.request.pay.alipay_capture_request import AlipayCaptureRequest
from com.alipay.ams.api.request.pay.alipay_pay_cancel_request import AlipayPayCancelRequest
from com.alipay.ams.api.request.pay.alipay_pay_query_request import AlipayPayQueryRequest
from com.alipay.ams.api.request.pay.alipay_pay_request import AlipayPayRequest
from com.alipay.ams.api.request.pay.alipay_refund_request import AlipayRefundRequest
from com.alipay.ams.api.response.pay.alipay_capture_response import AlipayCaptureResponse
from com.alipay.ams.api.response.pay.alipay_pay_cancel_response import AlipayPayCancelResponse
from com.alipay.ams.api.response.pay.alipay_pay_query_response import AlipayPayQueryResponse
from com.alipay.ams.api.response.pay.alipay_pay_response import AlipayPayResponse
from com.alipay.ams.api.response.pay.alipay_refund_response import AlipayRefundResponse

BASE, PRIV, PUB = sys.argv[1], sys.argv[2], sys.argv[3]


def body_of(pem_path):
    return "".join(l.strip() for l in open(pem_path) if not l.startswith("-----"))


client = DefaultAlipayClient(BASE, "SANDBOX_APOFLOW_MERCHANT", body_of(PRIV), body_of(PUB))


def check(name, response, code):
    result = response.result
    got = result.result_code if result else None
    print("%s: %s" % (name, got))
    if got != code:
        sys.exit("%s: expected %s, got %s" % (name, code, got))


def pay(reference):
    r = AlipayPayRequest()
    r.product_code = ProductCodeType.CASHIER_PAYMENT
    r.payment_request_id = "open-sdk-" + uuid.uuid4().hex
    r.payment_amount = Amount("SGD", "1000")
    method = PaymentMethod()
    method.payment_method_type = "CARD"
    r.payment_method = method
    factor = PaymentFactor()
    factor.is_authorization = True
    factor.capture_mode = CaptureMode.MANUAL.value
    r.payment_factor = factor
    r.payment_redirect_url = "https://shop.example/return"
    order = Order()
    order.reference_order_id = reference
    order.order_description = "open SDK over TLS"
    order.order_amount = Amount("SGD", "1000")
    buyer = Buyer()
    buyer.reference_buyer_id = "open-sdk-buyer"
    order.buyer = buyer
    r.order = order
    env = Env()
    env.terminal_type = TerminalType.WEB
    env.client_ip = "203.0.113.9"
    r.env = env
    response = AlipayPayResponse(client.execute(r))
    check("pay", response, "PAYMENT_IN_PROCESS")
    return response


def buyer_pays(normal_url):
    """The buyer's browser on the hosted page, trusting the same CA (SSL_CERT_FILE)."""
    u = urllib.parse.urlparse(normal_url)
    if u.scheme != "https":
        sys.exit("normalUrl is not https: %s" % normal_url)
    form = urllib.parse.urlencode({"card_number": "4054695723100768", "expiry_month": "12",
                                   "expiry_year": "39", "cvv": "123", "holder_name": "SDK"})
    conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=10,
                                       context=ssl.create_default_context())
    conn.request("POST", u.path, body=form,
                 headers={"content-type": "application/x-www-form-urlencoded"})
    status = conn.getresponse().status
    conn.close()
    if status != 303:
        sys.exit("hosted page answered %d" % status)


p = pay("OPEN-SDK-1")
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

p2 = pay("OPEN-SDK-2")
buyer_pays(p2.normal_url)
cn = AlipayPayCancelRequest()
cn.payment_id = p2.payment_id
check("cancel", AlipayPayCancelResponse(client.execute(cn)), "SUCCESS")
print("open sdk tls ok")
