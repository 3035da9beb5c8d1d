"""The stock official Python SDK (global-open-sdk-python 1.7.1) against `apoflow sandbox` over HTTPS.

Usage: SSL_CERT_FILE=DIR/ca.pem open_sdk_tls.py BASE_URL MERCHANT_PRIVATE_PEM APO_PUBLIC_PEM
BASE_URL is https://127.x.y.z (port 443: the SDK's transport always dials 443 with verified
TLS, and is not patched here). Builds every request from the SDK's own model classes and runs
pay (MANUAL capture), the buyer on the hosted page, inquiryPayment, capture, refund, and a second
pay then cancel, through DefaultAlipayClient, which signs each request and verifies each
response signature. Prints one line per call; exits non-zero on the first failure.
"""
import sys
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
from com.alipay.ams.api.request.pay.alipay_pay_request import AlipayPayRequest
from com.alipay.ams.api.response.pay.alipay_pay_response import AlipayPayResponse
from sdk_common import body_of, check, pay_inquire_capture_refund_cancel

BASE, PRIV, PUB = sys.argv[1], sys.argv[2], sys.argv[3]


client = DefaultAlipayClient(BASE, "SANDBOX_APOFLOW_MERCHANT", body_of(PRIV), body_of(PUB))


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


pay_inquire_capture_refund_cancel(client, pay, "OPEN-SDK-1", "OPEN-SDK-2", tls=True)
print("open sdk tls ok")
