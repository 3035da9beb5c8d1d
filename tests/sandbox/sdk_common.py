"""What tests/sandbox/sdk_interop.py and open_sdk_tls.py share: the key bodies, the check of
each answer, the buyer on the hosted page, and the calls after pay (inquiryPayment, capture,
refund; a second pay, then cancel). Both official SDKs have these request and response classes
at the same paths.
"""
import http.client
import ssl
import sys
import urllib.parse
import uuid

from com.alipay.ams.api.model.amount import Amount
from com.alipay.ams.api.request.pay.alipay_capture_request import AlipayCaptureRequest
from com.alipay.ams.api.request.pay.alipay_pay_cancel_request import AlipayPayCancelRequest
from com.alipay.ams.api.request.pay.alipay_pay_query_request import AlipayPayQueryRequest
from com.alipay.ams.api.request.pay.alipay_refund_request import AlipayRefundRequest
from com.alipay.ams.api.response.pay.alipay_capture_response import AlipayCaptureResponse
from com.alipay.ams.api.response.pay.alipay_pay_cancel_response import AlipayPayCancelResponse
from com.alipay.ams.api.response.pay.alipay_pay_query_response import AlipayPayQueryResponse
from com.alipay.ams.api.response.pay.alipay_refund_response import AlipayRefundResponse


def body_of(pem_path):
    return "".join(l.strip() for l in open(pem_path) if not l.startswith("-----"))


def check(name, response, code):
    result = response.result
    got = result.result_code if result else None
    print("%s: %s" % (name, got))
    if got != code:
        sys.exit("%s: expected %s, got %s" % (name, code, got))


def buyer_pays(normal_url, tls=False):
    """The buyer's browser on the hosted page; over TLS it trusts the same CA (SSL_CERT_FILE)."""
    u = urllib.parse.urlparse(normal_url)
    if tls and u.scheme != "https":
        sys.exit("normalUrl is not https: %s" % normal_url)
    form = urllib.parse.urlencode({"card_number": "4054695723100768", "expiry_month": "12",
                                   "expiry_year": "39", "cvv": "123", "holder_name": "SDK"})
    if tls:
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=10,
                                           context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("POST", u.path, body=form,
                 headers={"content-type": "application/x-www-form-urlencoded"})
    status = conn.getresponse().status
    conn.close()
    if status != 303:
        sys.exit("hosted page answered %d" % status)


def pay_inquire_capture_refund_cancel(client, pay, first, second, tls=False):
    """`pay(first)` (MANUAL capture), the buyer, inquiryPayment, capture, refund; then
    `pay(second)`, the buyer, cancel."""
    p = pay(first)
    buyer_pays(p.normal_url, tls)
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

    p2 = pay(second)
    buyer_pays(p2.normal_url, tls)
    cn = AlipayPayCancelRequest()
    cn.payment_id = p2.payment_id
    check("cancel", AlipayPayCancelResponse(client.execute(cn)), "SUCCESS")
