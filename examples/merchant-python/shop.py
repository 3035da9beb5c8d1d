#!/usr/bin/env python3
"""An example merchant ("the shop") integrated with APO card payments in hosted mode.

It is the system under test of apoflow's merchant flows: a small but honest shop built on the
official Python SDK (global-open-sdk-python 1.7.1, unmodified) and the standard library only.
Its HTTP contract, configuration and planted defects (MERCHANT_BUG) are documented in README.md
beside this file.

    buyer/flow --POST /checkout--> shop --pay (SDK)--> APO --normalUrl--> buyer on the hosted page
    buyer <--303 /return?orderId-- APO              APO --POST /apo/notify (signed)--> shop
    shop --inquiryPayment every 2 s while pending--> APO

Rules it follows (APO hosted-mode guide, apo-api.md):
- the order's state comes only from APO: a signed notification, an API answer or an inquiry,
  never from the buyer's redirect;
- every notification is verified, stored once under (notifyType, paymentId, captureId/refundId)
  and applied once, then answered with the fixed acknowledgement;
- pay with an unknown result is retried with the same paymentRequestId, then inquired;
- a pending order is inquired every 2 s from 2 s after it was placed (for at most POLL_SECONDS)
  until it is final.

It runs as a small deployment would: MERCHANT_WORKERS processes (default 2) accept on one
listening socket and share one sqlite database, so what must happen once (a notification
applied, a capture counted) is decided by the database, not by one process's memory. The first
process also runs the poller.
"""

import functools
import html
import json
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------

BUGS = (
    "wrong_ack",  # answers notifications with `OK` instead of the fixed acknowledgement
    "trust_return",  # the return page marks the order PAID before APO confirms
    "non_idempotent",  # applies a resent notification again
    "skip_verify",  # accepts notifications without verifying the signature
    "new_id_on_retry",  # a new paymentRequestId on each pay retry after an unknown result
    "ignore_fail",  # leaves the order PENDING after a failed payment
    "no_inquiry",  # never inquires while pending (no poller; the return page shows stored status)
    "capture_on_notify",  # captures the amount again when its CAPTURE_RESULT arrives
)

NOTIFY_PATH = "/apo/notify"
PAY_TRIES = 3  # pay, capture, cancel, refund: tries while the result is unknown
RETRY_PAUSE = 1.0  # seconds between those tries, unless APO_RETRY_PAUSE_SECONDS says otherwise
POLL_EVERY = 2.0  # seconds between inquiries of a pending order (APO's guide; APO_POLL_SECONDS)
POLL_SECONDS = 120  # how long an order is polled after checkout
WORKERS = 2  # processes serving requests, unless MERCHANT_WORKERS says otherwise
BUSY_SECONDS = 10  # how long a write waits for another process's transaction to end

FIXED_ACK = b'{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}'

# A notification signed longer ago than this (by its request-time) is a replayed capture: APO
# signs every send, resends included, afresh.
MAX_NOTIFY_AGE_SECONDS = 3600


class ConfigError(Exception):
    pass


# This process's number among the shop's workers, named in its log lines when there are several.
WORKER = None


def log(event, **fields):
    """One line per event on stderr, in one write (the processes share it), ending with the
    worker that logged it when there are several. Callers never pass a card number, CVV or key."""
    parts = [f"{k}={v}" for k, v in fields.items() if v is not None]
    if WORKER is not None and "worker" not in fields:
        parts.append(f"worker={WORKER}")
    sys.stderr.write(" ".join(["shop:", event, *parts]) + "\n")
    sys.stderr.flush()


def took_ms(started):
    """Whole milliseconds since `started` (time.monotonic()), for log lines."""
    return round((time.monotonic() - started) * 1000)


def pem_body(path, what, labels):
    """The base64 body of a PEM file, the form the SDK expects (it adds its own armour)."""
    try:
        text = open(path, encoding="ascii").read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {what} {path}: {getattr(e, 'strerror', None) or e}")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 3 or lines[0] not in [f"-----BEGIN {l}-----" for l in labels]:
        raise ConfigError(f"{what} {path} is not a PEM file ({' or '.join(labels)})")
    return "".join(l for l in lines if not l.startswith("-----"))


class Config:
    def __init__(self, env):
        def need(name):
            v = env.get(name, "").strip()
            if not v:
                raise ConfigError(f"{name} is not set")
            return v

        self.gateway_url = need("APO_GATEWAY_URL").rstrip("/")
        g = urlsplit(self.gateway_url)
        if g.scheme != "https" or not g.hostname:
            raise ConfigError(
                f"APO_GATEWAY_URL must be an https URL such as https://127.0.0.1 "
                f"(the SDK always dials port 443 with verified TLS), got {self.gateway_url!r}"
            )
        self.client_id = need("APO_CLIENT_ID")
        self.private_key = pem_body(
            need("APO_MERCHANT_PRIVATE_KEY_FILE"),
            "APO_MERCHANT_PRIVATE_KEY_FILE",
            ["PRIVATE KEY", "RSA PRIVATE KEY"],
        )
        self.apo_public_key = pem_body(
            need("APO_PUBLIC_KEY_FILE"), "APO_PUBLIC_KEY_FILE", ["PUBLIC KEY"]
        )
        cert = env.get("SSL_CERT_FILE", "").strip()
        if cert and not os.path.isfile(cert):
            raise ConfigError(f"SSL_CERT_FILE {cert} does not exist")

        self.merchant_url = need("MERCHANT_URL").rstrip("/")
        m = urlsplit(self.merchant_url)
        if m.scheme != "http" or not m.hostname or m.path not in ("", "/"):
            raise ConfigError(
                f"MERCHANT_URL must be a plain http base URL such as http://127.0.0.1:8710, "
                f"got {self.merchant_url!r}"
            )
        try:
            self.port = m.port or 80
        except ValueError:
            raise ConfigError(f"MERCHANT_URL has an invalid port: {self.merchant_url!r}")
        self.host = m.hostname

        self.db = env.get("MERCHANT_DB", "").strip()
        self.temp_db = not self.db  # made here, so removed at stop
        if self.temp_db:
            fd, self.db = tempfile.mkstemp(prefix="merchant-", suffix=".db")
            os.close(fd)
        self.bug = env.get("MERCHANT_BUG", "").strip() or None
        if self.bug is not None and self.bug not in BUGS:
            raise ConfigError(f"MERCHANT_BUG={self.bug!r} is unknown; one of {', '.join(BUGS)}")
        # How long a call to APO may take before its result counts as unknown; unset, the SDK's
        # own 15 s. apoflow.toml declares the same value as the merchant's api_timeout.
        self.apo_timeout = seconds(env, "APO_TIMEOUT_SECONDS", None, 0.001, 120)
        # How it paces itself: the pause between tries while a result is unknown, and between
        # inquiries of a pending order. apoflow.toml's `settle` for this shop must cover its
        # retries (PAY_TRIES - 1 pauses and the calls).
        self.retry_pause = seconds(env, "APO_RETRY_PAUSE_SECONDS", RETRY_PAUSE, 0.01, 60)
        self.poll_every = seconds(env, "APO_POLL_SECONDS", POLL_EVERY, 0.05, 60)
        # Processes serving requests (see the module's doc); 1 serves from one process.
        self.workers = whole(env, "MERCHANT_WORKERS", WORKERS, 1, 16)


def whole(env, name, default, low, high):
    """A whole number from the environment, from `low` to `high`; `default` when unset."""
    text = env.get(name, "").strip()
    if not text:
        return default
    value = int(text) if text.isdigit() else -1
    if not low <= value <= high:
        raise ConfigError(f"{name}={text!r}: give a whole number from {low} to {high}")
    return value


def seconds(env, name, default, low, high):
    """A number of seconds from the environment, from `low` to `high`; `default` when unset."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not low <= value <= high:
        raise ConfigError(f"{name}={text!r}: give seconds from {low} to {high}")
    return value


# --------------------------------------------------------------------------------------------
# Storage (sqlite; in each process one connection behind one lock, never held across a call to
# APO; between processes, sqlite's own locking: every change runs in BEGIN IMMEDIATE)
# --------------------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
  order_id TEXT PRIMARY KEY,
  status TEXT NOT NULL,                      -- PENDING | PAID | FAILED | CANCELLED
  payment_request_id TEXT NOT NULL UNIQUE,
  payment_id TEXT UNIQUE,
  amount INTEGER NOT NULL,
  currency TEXT NOT NULL,
  capture_mode TEXT NOT NULL,
  captured INTEGER NOT NULL DEFAULT 0,
  refunded INTEGER NOT NULL DEFAULT 0,
  card_token TEXT,
  notifications_processed INTEGER NOT NULL DEFAULT 0,
  redirect_url TEXT,
  poll_until REAL,                           -- the poller inquires while now < poll_until
  created_at REAL NOT NULL
);
-- every retried paymentRequestId of an order (only new_id_on_retry makes more than one)
CREATE TABLE IF NOT EXISTS payment_requests (
  payment_request_id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL
);
-- the notifications applied; the key makes a resent one a no-op
CREATE TABLE IF NOT EXISTS notifications (
  notify_type TEXT NOT NULL,
  payment_id TEXT NOT NULL,
  sub_id TEXT NOT NULL,                      -- captureId / refundId, '' when absent
  order_id TEXT NOT NULL,
  body TEXT NOT NULL,
  received_at REAL NOT NULL,
  PRIMARY KEY (notify_type, payment_id, sub_id)
);
-- successful captures, keyed by APO's captureId whatever told us (answer, notification, inquiry)
CREATE TABLE IF NOT EXISTS captures (
  capture_id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL,
  capture_request_id TEXT,
  amount INTEGER NOT NULL
);
-- refunds the shop asked for; counted once into orders.refunded when known successful
CREATE TABLE IF NOT EXISTS refunds (
  refund_request_id TEXT PRIMARY KEY,
  order_id TEXT NOT NULL,
  refund_id TEXT,
  amount INTEGER NOT NULL,
  status TEXT NOT NULL                       -- PROCESSING | SUCCESS | FAIL
);
"""


class Store:
    """A process's connection to the shop's database. Open one in each process, after it forks
    (a connection must not cross a fork)."""

    @staticmethod
    def create(path):
        """Creates the tables, in write-ahead-log mode (readers never wait for a writer), and
        closes the connection: the processes open their own."""
        db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_SECONDS)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        finally:
            db.close()

    def __init__(self, path):
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                  timeout=BUSY_SECONDS)
        self.db.row_factory = sqlite3.Row

    def tx(self):
        return _Tx(self)

    def order(self, order_id):
        with self.lock:
            return self.db.execute("SELECT * FROM orders WHERE order_id=?", (order_id,)).fetchone()

    def order_by_payment(self, payment_id):
        with self.lock:
            return self.db.execute("SELECT * FROM orders WHERE payment_id=?",
                                   (payment_id,)).fetchone()


class _Tx:
    def __init__(self, store):
        self.store = store

    def __enter__(self):
        self.store.lock.acquire()
        self.store.db.execute("BEGIN IMMEDIATE")
        return self.store.db

    def __exit__(self, exc_type, exc, tb):
        try:
            self.store.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self.store.lock.release()
        return False


def order_json(row):
    return {
        "orderId": row["order_id"],
        "status": row["status"],
        "paymentId": row["payment_id"],
        "paymentRequestId": row["payment_request_id"],
        "amount": str(row["amount"]),
        "currency": row["currency"],
        "captureMode": row["capture_mode"],
        "captured": str(row["captured"]),
        "refunded": str(row["refunded"]),
        "cardToken": row["card_token"],
        "notificationsProcessed": row["notifications_processed"],
    }


# --------------------------------------------------------------------------------------------
# The shop
# --------------------------------------------------------------------------------------------


class ApoUnknown(Exception):
    """No usable answer from APO (transport error, time-out, bad response signature)."""


class KeyLoader:
    """Stands in for the `serialization` module in the SDK's signing code: loads a private key
    once per PEM text (and password), then hands out the loaded key."""

    def __init__(self, load):
        self.load_pem_private_key = functools.lru_cache(maxsize=4)(load)


class Shop:
    def __init__(self, cfg):
        # Imported here so that a config error is reported even without the venv.
        from com.alipay.ams.api.default_alipay_client import DefaultAlipayClient

        self.cfg = cfg
        self.bug = cfg.bug
        Store.create(cfg.db)
        self.store = None  # each process opens its own (serve)
        self.client = DefaultAlipayClient(
            cfg.gateway_url, cfg.client_id, cfg.private_key, cfg.apo_public_key
        )
        self.stopping = threading.Event()
        self.check_key_once()
        self.check_keys()
        if cfg.apo_timeout is not None:
            self.set_timeout(cfg.apo_timeout)

    @staticmethod
    def set_timeout(seconds):
        """The SDK (1.7.1) has no time-out setting: its connections take the default argument of
        the module function that makes them, so that default is what changes. A newer SDK that
        makes its connections differently fails here, at start, rather than ignoring it."""
        from com.alipay.ams.api.net import default_http_rpc

        make = getattr(default_http_rpc, "_" + "_get_http_connection", None)
        if make is None or make.__defaults__ is None or len(make.__defaults__) != 1:
            raise ConfigError("APO_TIMEOUT_SECONDS: this SDK version's time-out cannot be set")
        make.__defaults__ = (seconds,)

    @staticmethod
    def check_key_once():
        """The SDK (1.7.1) loads the private key from its PEM text for every call it signs, and
        loading an RSA key checks it (a primality test of its factors): ~27 ms of CPU per call,
        during which this process runs nothing else. The key does not change while the shop
        runs, so the SDK's loader gets a memory of what it loaded: check_keys() loads and checks
        it, and every signature after reuses it. The signatures are the same (PKCS#1 v1.5 is
        deterministic). A newer SDK that loads keys differently fails here, at start."""
        from com.alipay.ams.api.tools import signature_tool

        loader = getattr(signature_tool, "serialization", None)
        load = getattr(loader, "load_pem_private_key", None)
        if load is None:
            raise ConfigError("this SDK version loads its private key differently; "
                              "update check_key_once in shop.py")
        signature_tool.serialization = KeyLoader(load)

    def check_keys(self):
        """Fails early (ConfigError) on a key the SDK cannot use, rather than on the first pay."""
        from com.alipay.ams.api.tools import signature_tool
        import rsa

        try:
            signature_tool.sign("POST", "/check", "c", "t", "b", self.cfg.private_key)
        except Exception as e:
            raise ConfigError(f"APO_MERCHANT_PRIVATE_KEY_FILE: the SDK cannot sign with it ({_first(e)})")
        try:
            rsa.PublicKey.load_pkcs1_openssl_pem(
                "-----BEGIN PUBLIC KEY-----\n" + self.cfg.apo_public_key
                + "\n-----END PUBLIC KEY-----"
            )
        except Exception as e:
            raise ConfigError(f"APO_PUBLIC_KEY_FILE: not an RSA public key ({_first(e)})")

    # ---- talking to APO -------------------------------------------------------------------

    def call(self, api, request, order_id=None):
        """Executes one SDK request; returns the parsed body or raises ApoUnknown."""
        started = time.monotonic()
        try:
            raw = self.client.execute(request)
        except Exception as e:  # the SDK raises AlipayApiException and plain socket errors
            log("apo-error", api=api, orderId=order_id, error=repr(str(e))[:200],
                ms=took_ms(started))
            raise ApoUnknown(str(e))
        try:
            body = json.loads(raw)
            result = body["result"]
            status = result["resultStatus"]
        except (ValueError, KeyError, TypeError):
            log("apo-error", api=api, orderId=order_id, error="response without result",
                ms=took_ms(started))
            raise ApoUnknown("response without result")
        log("apo", api=api, orderId=order_id, resultStatus=status,
            resultCode=result.get("resultCode"), ms=took_ms(started))
        return body

    def call_until_known(self, api, make_request, in_process_codes=(), order_id=None):
        """Tries up to PAY_TRIES times while the result is unknown (U other than an in-process
        code, or no answer). `make_request(attempt)` builds the request; the caller decides
        whether the idempotency id stays the same. Returns the body, or None if still unknown."""
        for attempt in range(PAY_TRIES):
            if attempt:
                time.sleep(self.cfg.retry_pause)
            try:
                body = self.call(api, make_request(attempt), order_id)
            except ApoUnknown:
                continue
            r = body["result"]
            if r["resultStatus"] == "U" and r.get("resultCode") not in in_process_codes:
                continue
            return body
        return None

    def inquire(self, order_id, absent_fails=False):
        """inquiryPayment for an order and apply what it says. Returns the fresh order row.
        With `absent_fails`, an F answer (APO has no such payment, e.g. every pay attempt was
        lost) fails the order, so the buyer can check out again."""
        row = self.store.order(order_id)
        if row is None:
            return None
        from com.alipay.ams.api.request.pay.alipay_pay_query_request import (
            AlipayPayQueryRequest,
        )

        req = AlipayPayQueryRequest()
        req.payment_request_id = row["payment_request_id"]
        try:
            body = self.call("inquiryPayment", req, order_id)
        except ApoUnknown:
            return row
        if body["result"]["resultStatus"] == "F" and absent_fails:
            with self.store.tx() as db:
                self.mark_failed(db, order_id, "inquiry", body["result"].get("resultCode"))
            return self.store.order(order_id)
        if body["result"]["resultStatus"] != "S":
            return row
        with self.store.tx() as db:
            self.apply_inquiry(db, order_id, body)
        return self.store.order(order_id)

    def apply_inquiry(self, db, order_id, body):
        if body.get("paymentId"):
            db.execute(
                "UPDATE orders SET payment_id=? WHERE order_id=? AND payment_id IS NULL",
                (body["paymentId"], order_id),
            )
        status = body.get("paymentStatus")
        if status == "SUCCESS":
            token = (body.get("paymentResultInfo") or {}).get("cardToken")
            self.mark_paid(db, order_id, token, "inquiry")
        elif status == "FAIL":
            self.mark_failed(db, order_id, "inquiry", body.get("paymentResultCode"))
        elif status == "CANCELLED":
            self.set_status(db, order_id, "CANCELLED", "inquiry")
        for t in body.get("transactions") or []:
            if t.get("transactionStatus") != "SUCCESS":
                continue
            amount = _amount_value((t.get("transactionAmount") or {}))
            if t.get("transactionType") == "CAPTURE" and t.get("transactionId") and amount:
                self.record_capture(
                    db, order_id, t["transactionId"], t.get("transactionRequestId"), amount,
                    "inquiry",
                )
            elif t.get("transactionType") == "REFUND" and t.get("transactionRequestId"):
                self.refund_succeeded(
                    db, t["transactionRequestId"], t.get("transactionId"), "inquiry"
                )

    # ---- state changes (called inside a transaction) --------------------------------------

    def set_status(self, db, order_id, status, source):
        cur = db.execute(
            "UPDATE orders SET status=? WHERE order_id=? AND status='PENDING'",
            (status, order_id),
        )
        if cur.rowcount:
            log("order", orderId=order_id, status=status, source=source)

    def mark_paid(self, db, order_id, card_token, source):
        if card_token:
            db.execute(
                "UPDATE orders SET card_token=? WHERE order_id=? AND card_token IS NULL",
                (card_token, order_id),
            )
        self.set_status(db, order_id, "PAID", source)

    def mark_failed(self, db, order_id, source, code=None):
        if self.bug == "ignore_fail":
            log("bug-ignore-fail", orderId=order_id, source=source, code=code)
            return
        self.set_status(db, order_id, "FAILED", source)

    def record_capture(self, db, order_id, capture_id, capture_request_id, amount, source,
                       again=False):
        """Counts a successful capture once per captureId (`again` counts it regardless: the
        non_idempotent defect)."""
        cur = db.execute(
            "INSERT OR IGNORE INTO captures VALUES (?,?,?,?)",
            (capture_id, order_id, capture_request_id, amount),
        )
        if cur.rowcount or again:
            db.execute(
                "UPDATE orders SET captured=captured+? WHERE order_id=?", (amount, order_id)
            )
            log("captured", orderId=order_id, captureId=capture_id, amount=amount, source=source)
        # A successful capture proves the authorization succeeded, even if the payment's own
        # notification has not arrived yet (out of order).
        self.set_status(db, order_id, "PAID", source)

    def refund_succeeded(self, db, refund_request_id, refund_id, source, again=False):
        r = db.execute(
            "SELECT * FROM refunds WHERE refund_request_id=?", (refund_request_id,)
        ).fetchone()
        if r is None:
            return False
        if r["status"] != "SUCCESS" or again:
            db.execute(
                "UPDATE refunds SET status='SUCCESS', refund_id=COALESCE(refund_id, ?) "
                "WHERE refund_request_id=?",
                (refund_id, refund_request_id),
            )
            db.execute(
                "UPDATE orders SET refunded=refunded+? WHERE order_id=?",
                (r["amount"], r["order_id"]),
            )
            log("refunded", orderId=r["order_id"], refundId=refund_id, amount=r["amount"],
                source=source)
        return True

    # ---- checkout ---------------------------------------------------------------------------

    def checkout(self, req):
        amount = req.get("amount")
        currency = req.get("currency")
        capture_mode = req.get("captureMode", "AUTOMATIC")
        tokenize_mode = req.get("tokenizeMode")
        three_ds = req.get("threeDS")
        card_token = req.get("cardToken")
        terminal = req.get("terminalType", "WEB")
        if not (isinstance(amount, str) and amount.isdigit() and int(amount) > 0):
            return 400, {"error": "amount must be a positive integer in minor units, as a string"}
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            return 400, {"error": "currency must be an ISO 4217 code such as SGD"}
        if capture_mode not in ("AUTOMATIC", "MANUAL"):
            return 400, {"error": "captureMode must be AUTOMATIC or MANUAL"}
        if tokenize_mode not in (None, "DISABLED", "ENABLED", "ASKFORCONSENT"):
            return 400, {"error": "tokenizeMode must be DISABLED, ENABLED or ASKFORCONSENT"}
        if three_ds is not None and not isinstance(three_ds, bool):
            return 400, {"error": "threeDS must be a boolean"}
        if card_token is not None and not (isinstance(card_token, str) and card_token):
            return 400, {"error": "cardToken must be a non-empty string"}
        if terminal not in ("WEB", "WAP", "APP"):
            return 400, {"error": "terminalType must be WEB, WAP or APP"}

        order_id = "ord_" + uuid.uuid4().hex[:20]
        pay_req_id = "pay_" + uuid.uuid4().hex
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO orders (order_id, status, payment_request_id, amount, currency, "
                "capture_mode, created_at) VALUES (?,?,?,?,?,?,?)",
                (order_id, "PENDING", pay_req_id, int(amount), currency.upper(), capture_mode,
                 time.time()),
            )
            db.execute("INSERT INTO payment_requests VALUES (?,?)", (pay_req_id, order_id))
        log("checkout", orderId=order_id, paymentRequestId=pay_req_id, amount=amount,
            currency=currency, captureMode=capture_mode, tokenizeMode=tokenize_mode,
            threeDS=three_ds, savedCard=bool(card_token) or None)

        ids = [pay_req_id]

        def make(attempt):
            if attempt and self.bug == "new_id_on_retry":
                ids.append("pay_" + uuid.uuid4().hex)
                log("bug-new-id-on-retry", orderId=order_id, paymentRequestId=ids[-1])
                with self.store.tx() as db:
                    db.execute(
                        "UPDATE orders SET payment_request_id=? WHERE order_id=?",
                        (ids[-1], order_id),
                    )
                    db.execute("INSERT INTO payment_requests VALUES (?,?)", (ids[-1], order_id))
            elif attempt:
                log("pay-retry", orderId=order_id, paymentRequestId=ids[-1], attempt=attempt + 1)
            return self.pay_request(order_id, ids[-1], amount, currency.upper(), capture_mode,
                                    tokenize_mode, three_ds, card_token, terminal)

        body = self.call_until_known("pay", make, ("PAYMENT_IN_PROCESS",), order_id)
        if body is None:
            # Still unknown after the retries: ask APO what happened (unless the defect).
            if self.bug != "no_inquiry":
                if self.inquire(order_id, absent_fails=True)["status"] == "PENDING":
                    self.start_polling(order_id)
            row = self.store.order(order_id)
            return 502, {
                "error": "the payment result is unknown (no usable answer from APO)",
                "orderId": order_id,
                "order": order_json(row),
            }

        result = body["result"]
        payment_id = body.get("paymentId")
        redirect = body.get("normalUrl") or (body.get("redirectActionForm") or {}).get(
            "redirectUrl"
        )
        with self.store.tx() as db:
            if payment_id:
                db.execute(
                    "UPDATE orders SET payment_id=?, redirect_url=? WHERE order_id=?",
                    (payment_id, redirect, order_id),
                )
            if result["resultStatus"] == "F":
                self.mark_failed(db, order_id, "pay", result.get("resultCode"))
            elif result["resultStatus"] == "S":
                token = (body.get("paymentResultInfo") or {}).get("cardToken")
                self.mark_paid(db, order_id, token, "pay")
        if result["resultStatus"] == "F":
            return 502, {
                "error": "APO declined the payment",
                "orderId": order_id,
                "resultCode": result.get("resultCode"),
                "resultMessage": result.get("resultMessage"),
                "order": order_json(self.store.order(order_id)),
            }
        if self.store.order(order_id)["status"] == "PENDING":
            self.start_polling(order_id)
        return 200, {
            "orderId": order_id,
            "paymentRequestId": ids[-1],
            "paymentId": payment_id,
            "redirectUrl": redirect,
        }

    def pay_request(self, order_id, pay_req_id, amount, currency, capture_mode, tokenize_mode,
                    three_ds, card_token, terminal):
        from com.alipay.ams.api.model.amount import Amount
        from com.alipay.ams.api.model.buyer import Buyer
        from com.alipay.ams.api.model.env import Env
        from com.alipay.ams.api.model.order import Order
        from com.alipay.ams.api.model.payment_factor import PaymentFactor
        from com.alipay.ams.api.model.payment_method import PaymentMethod
        from com.alipay.ams.api.model.product_code_type import ProductCodeType
        from com.alipay.ams.api.request.pay.alipay_pay_request import AlipayPayRequest

        req = AlipayPayRequest()
        req.product_code = ProductCodeType.CASHIER_PAYMENT
        req.payment_request_id = pay_req_id
        req.payment_amount = Amount(currency, amount)

        method = PaymentMethod()
        method.payment_method_type = "CARD"
        meta = {}
        if tokenize_mode:
            meta["tokenizeMode"] = tokenize_mode
        if three_ds is not None:
            meta["is3DSAuthentication"] = three_ds
        if card_token:
            method.payment_method_id = card_token
            meta["isCardOnFile"] = True
        if meta:
            method.payment_method_meta_data = meta
        req.payment_method = method

        factor = PaymentFactor()
        factor.is_authorization = True
        factor.capture_mode = capture_mode
        req.payment_factor = factor

        buyer = Buyer()
        buyer.reference_buyer_id = "buyer-example-shop"
        buyer.buyer_email = "buyer@example.com"
        order = Order()
        order.reference_order_id = order_id
        order.order_description = f"Example shop order {order_id}"
        order.order_amount = Amount(currency, amount)
        order.buyer = buyer
        req.order = order

        env = Env()
        env.terminal_type = terminal
        env.client_ip = "127.0.0.1"
        if terminal == "WAP":
            env.os_type = "ANDROID"
        req.env = env

        base = self.cfg.merchant_url
        req.payment_redirect_url = f"{base}/return?orderId={order_id}"
        req.payment_notify_url = f"{base}{NOTIFY_PATH}"
        return req

    # ---- capture, cancel, refund -------------------------------------------------------------

    def capture(self, order_id, req):
        row = self.store.order(order_id)
        if row is None:
            return 404, {"error": f"no order {order_id}"}
        if row["status"] != "PAID":
            return 409, {"error": f"order is {row['status']}; only a PAID order can be captured"}
        if row["captured"] >= row["amount"] and "amount" not in req:
            return 409, {"error": "the order is fully captured", "order": order_json(row)}
        amount = req.get("amount", str(row["amount"] - row["captured"]))
        if not (isinstance(amount, str) and amount.isdigit() and int(amount) > 0):
            return 400, {"error": "amount must be a positive integer in minor units, as a string"}
        from com.alipay.ams.api.model.amount import Amount
        from com.alipay.ams.api.request.pay.alipay_capture_request import AlipayCaptureRequest

        capture_request_id = "cap_" + uuid.uuid4().hex
        log("capture", orderId=order_id, captureRequestId=capture_request_id, amount=amount)

        def make(_attempt):
            r = AlipayCaptureRequest()
            r.capture_request_id = capture_request_id  # the same id on every retry
            r.payment_id = row["payment_id"]
            r.capture_amount = Amount(row["currency"], amount)
            return r

        body = self.call_until_known("capture", make, ("CAPTURE_IN_PROCESS",), order_id)
        if body is None:
            return 502, {"error": "the capture result is unknown; APO's notification will tell",
                         "order": order_json(self.store.order(order_id))}
        result = body["result"]
        if result["resultStatus"] == "F":
            return 502, {"error": "APO refused the capture", "resultCode": result.get("resultCode"),
                         "resultMessage": result.get("resultMessage"),
                         "order": order_json(self.store.order(order_id))}
        if result["resultStatus"] == "S" and body.get("captureId"):
            with self.store.tx() as db:
                self.record_capture(db, order_id, body["captureId"], capture_request_id,
                                    int(amount), "capture")
        return 200, order_json(self.store.order(order_id))

    def cancel(self, order_id):
        row = self.store.order(order_id)
        if row is None:
            return 404, {"error": f"no order {order_id}"}
        if row["status"] == "CANCELLED":
            return 200, order_json(row)
        if row["status"] == "FAILED":
            return 409, {"error": "order is FAILED; nothing to cancel"}
        from com.alipay.ams.api.request.pay.alipay_pay_cancel_request import (
            AlipayPayCancelRequest,
        )

        log("cancel", orderId=order_id)

        def make(_attempt):
            r = AlipayPayCancelRequest()
            if row["payment_id"]:
                r.payment_id = row["payment_id"]
            else:
                r.payment_request_id = row["payment_request_id"]
            return r

        body = self.call_until_known("cancel", make, (), order_id)
        if body is None:
            return 502, {"error": "the cancel result is unknown; try again",
                         "order": order_json(self.store.order(order_id))}
        result = body["result"]
        if result["resultStatus"] != "S":
            return 502, {"error": "APO refused the cancel", "resultCode": result.get("resultCode"),
                         "resultMessage": result.get("resultMessage"),
                         "order": order_json(self.store.order(order_id))}
        with self.store.tx() as db:
            cur = db.execute(
                "UPDATE orders SET status='CANCELLED', poll_until=NULL WHERE order_id=?",
                (order_id,),
            )
            if cur.rowcount:
                log("order", orderId=order_id, status="CANCELLED", source="cancel")
        return 200, order_json(self.store.order(order_id))

    def refund(self, order_id, req):
        row = self.store.order(order_id)
        if row is None:
            return 404, {"error": f"no order {order_id}"}
        if row["status"] != "PAID":
            return 409, {"error": f"order is {row['status']}; only a PAID order can be refunded"}
        amount = req.get("amount")
        if not (isinstance(amount, str) and amount.isdigit() and int(amount) > 0):
            return 400, {"error": "amount must be a positive integer in minor units, as a string"}
        from com.alipay.ams.api.model.amount import Amount
        from com.alipay.ams.api.request.pay.alipay_refund_request import AlipayRefundRequest

        refund_request_id = "ref_" + uuid.uuid4().hex
        with self.store.tx() as db:
            db.execute(
                "INSERT INTO refunds VALUES (?,?,?,?,?)",
                (refund_request_id, order_id, None, int(amount), "PROCESSING"),
            )
        log("refund", orderId=order_id, refundRequestId=refund_request_id, amount=amount)

        def make(_attempt):
            r = AlipayRefundRequest()
            r.refund_request_id = refund_request_id  # the same id on every retry
            r.payment_id = row["payment_id"]
            r.refund_amount = Amount(row["currency"], amount)
            r.refund_notify_url = f"{self.cfg.merchant_url}{NOTIFY_PATH}"
            return r

        body = self.call_until_known("refund", make, ("REFUND_IN_PROCESS",), order_id)
        if body is None:
            return 502, {"error": "the refund result is unknown; APO's notification will tell",
                         "refundRequestId": refund_request_id,
                         "order": order_json(self.store.order(order_id))}
        result = body["result"]
        if result["resultStatus"] == "F":
            with self.store.tx() as db:
                db.execute("UPDATE refunds SET status='FAIL' WHERE refund_request_id=?",
                           (refund_request_id,))
            return 502, {"error": "APO refused the refund", "resultCode": result.get("resultCode"),
                         "resultMessage": result.get("resultMessage"),
                         "refundRequestId": refund_request_id,
                         "order": order_json(self.store.order(order_id))}
        if result["resultStatus"] == "S":
            with self.store.tx() as db:
                self.refund_succeeded(db, refund_request_id, body.get("refundId"), "refund")
        return 200, order_json(self.store.order(order_id))

    # ---- the webhook -------------------------------------------------------------------------

    def notify(self, path, headers, raw):
        """Returns (http status, content type, body bytes) for a notification."""
        def reject(code, message):
            log("notify-rejected", code=code, reason=repr(message))
            body = {"result": {"resultCode": code, "resultStatus": "F", "resultMessage": message}}
            return 200, "application/json", json.dumps(body, separators=(",", ":")).encode()

        def ack():
            if self.bug == "wrong_ack":
                return 200, "text/plain", b"OK"
            return 200, "application/json", FIXED_ACK

        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return reject("PARAM_ILLEGAL", "the body is not UTF-8")

        if self.bug == "skip_verify":
            log("bug-skip-verify")
        else:
            client_id = headers.get("client-id")
            req_time = headers.get("request-time")
            signature = headers.get("signature")
            if not (client_id and req_time and signature):
                return reject("SIGNATURE_INVALID",
                              "missing client-id, request-time or signature header")
            if client_id != self.cfg.client_id:
                return reject("SIGNATURE_INVALID", "the client-id is not this merchant's")
            from com.alipay.ams.api.tools.webhook_tool import check_signature

            try:
                ok = check_signature("POST", path, client_id, req_time, text, signature,
                                     self.cfg.apo_public_key)
            except Exception:  # rsa raises VerificationError on a bad signature
                ok = False
            if not ok:
                return reject("SIGNATURE_INVALID", "the signature does not verify")
            if _stale(req_time):
                return reject("SIGNATURE_INVALID", "request-time is too old: a replayed request")

        try:
            n = json.loads(text)
            notify_type = n["notifyType"]
            result = n.get("result") or {}
        except (ValueError, KeyError, TypeError):
            return reject("PARAM_ILLEGAL", "not a notification body")

        with self.store.tx() as db:
            verdict = self.apply_notification(db, notify_type, n, result, text)
        if verdict is not None:
            return reject(*verdict)
        if (self.bug == "capture_on_notify" and notify_type == "CAPTURE_RESULT"
                and result.get("resultStatus") == "S"):
            self.capture_again(n)
        return ack()

    def capture_again(self, n):
        """The capture_on_notify defect: captures the notified amount once more, before it
        acknowledges the notification."""
        row = self.store.order_by_payment(n.get("paymentId"))
        amount = _amount_value(n.get("captureAmount"))
        if row is not None and amount is not None:
            log("bug-capture-on-notify", orderId=row["order_id"])
            self.capture(row["order_id"], {"amount": str(amount)})

    def apply_notification(self, db, notify_type, n, result, text):
        """Stores and applies one verified notification; returns (code, message) to reject it."""
        payment_id = n.get("paymentId")
        order = None
        if notify_type in ("PAYMENT_RESULT", "PAYMENT_PENDING"):
            pr = db.execute(
                "SELECT order_id FROM payment_requests WHERE payment_request_id=?",
                (n.get("paymentRequestId"),),
            ).fetchone()
            if pr:
                order = db.execute("SELECT * FROM orders WHERE order_id=?",
                                   (pr["order_id"],)).fetchone()
            if order and order["payment_id"] and payment_id and order["payment_id"] != payment_id:
                return "ORDER_NOT_EXIST", "paymentId does not match the order's"
        elif notify_type == "REFUND_RESULT":
            r = db.execute("SELECT order_id FROM refunds WHERE refund_request_id=?",
                           (n.get("refundRequestId"),)).fetchone()
            if r:
                order = db.execute("SELECT * FROM orders WHERE order_id=?",
                                   (r["order_id"],)).fetchone()
        elif notify_type == "CAPTURE_RESULT":
            if payment_id:
                order = db.execute("SELECT * FROM orders WHERE payment_id=?",
                                   (payment_id,)).fetchone()
        else:
            return "PARAM_ILLEGAL", f"unknown notifyType {notify_type}"
        if order is None:
            return "ORDER_NOT_EXIST", f"no order of this shop for this {notify_type}"
        order_id = order["order_id"]
        payment_id = payment_id or order["payment_id"] or ""

        # Amount checks: the notification must be about this order's money.
        if notify_type in ("PAYMENT_RESULT", "PAYMENT_PENDING"):
            field = "paymentAmount"
        elif notify_type == "CAPTURE_RESULT":
            field = "captureAmount"
        else:
            field = "refundAmount"
        amt = n.get(field) or {}
        value = _amount_value(amt)
        if amt.get("currency") != order["currency"] or value is None:
            return "AMOUNT_MISMATCH", f"{field} does not match the order"
        if field == "paymentAmount" and value != order["amount"]:
            return "AMOUNT_MISMATCH", f"{field} {value} is not the order's {order['amount']}"
        if field == "captureAmount" and value > order["amount"]:
            return "AMOUNT_MISMATCH", f"{field} {value} exceeds the order's {order['amount']}"
        if field == "refundAmount":
            r = db.execute("SELECT amount FROM refunds WHERE refund_request_id=?",
                           (n.get("refundRequestId"),)).fetchone()
            if r["amount"] != value:
                return "AMOUNT_MISMATCH", f"{field} {value} is not the refund's {r['amount']}"

        sub_id = n.get("captureId") or n.get("refundId") or ""
        cur = db.execute(
            "INSERT OR IGNORE INTO notifications VALUES (?,?,?,?,?,?)",
            (notify_type, payment_id, sub_id, order_id, text, time.time()),
        )
        # `again`: a resend applied once more, only under the non_idempotent defect
        again = not cur.rowcount and self.bug == "non_idempotent"
        if not cur.rowcount and not again:
            log("notify-duplicate", notifyType=notify_type, orderId=order_id, paymentId=payment_id)
            return None
        if again:
            log("bug-non-idempotent", notifyType=notify_type, orderId=order_id)
        log("notify", notifyType=notify_type, orderId=order_id, paymentId=payment_id,
            resultStatus=result.get("resultStatus"), resultCode=result.get("resultCode"))
        db.execute(
            "UPDATE orders SET notifications_processed=notifications_processed+1, "
            "payment_id=COALESCE(payment_id, ?) WHERE order_id=?",
            (payment_id or None, order_id),
        )
        status = result.get("resultStatus")
        if notify_type == "PAYMENT_RESULT":
            if status == "S":
                token = (n.get("paymentResultInfo") or {}).get("cardToken")
                self.mark_paid(db, order_id, token, "notify")
            elif status == "F":
                self.mark_failed(db, order_id, "notify", result.get("resultCode"))
        elif notify_type == "CAPTURE_RESULT":
            if status == "S" and n.get("captureId"):
                self.record_capture(db, order_id, n["captureId"], n.get("captureRequestId"),
                                    value, "notify", again=again)
        elif notify_type == "REFUND_RESULT":
            if n.get("refundStatus") == "SUCCESS" or (
                n.get("refundStatus") is None and status == "S"
            ):
                self.refund_succeeded(db, n["refundRequestId"], n.get("refundId"), "notify",
                                      again=again)
            elif n.get("refundStatus") == "FAIL" or status == "F":
                db.execute("UPDATE refunds SET status='FAIL' WHERE refund_request_id=? "
                           "AND status='PROCESSING'", (n["refundRequestId"],))
        return None

    # ---- the buyer's return page -------------------------------------------------------------

    def return_page(self, order_id):
        row = self.store.order(order_id) if order_id else None
        if row is None:
            return 404, _page("Order not found", "<p id=\"status\">UNKNOWN</p>"
                              f"<p>No order <span id=\"order\">{html.escape(order_id or '')}"
                              "</span>.</p>")
        if row["status"] == "PENDING":
            if self.bug == "trust_return":
                with self.store.tx() as db:
                    db.execute("UPDATE orders SET status='PAID' WHERE order_id=? "
                               "AND status='PENDING'", (order_id,))
                log("bug-trust-return", orderId=order_id, status="PAID")
            elif self.bug != "no_inquiry":
                self.inquire(order_id)
            row = self.store.order(order_id)
        log("return", orderId=order_id, status=row["status"])
        headline = {
            "PAID": "Thank you, your payment was received.",
            "PENDING": "Your payment is being processed.",
            "FAILED": "Your payment failed.",
            "CANCELLED": "Your order was cancelled.",
        }[row["status"]]
        amount = f"{row['currency']} {row['amount']} (minor units)"
        return 200, _page(
            f"Order {row['status']}",
            f"<h1>{html.escape(headline)}</h1>"
            f"<p>Order <span id=\"order\">{html.escape(row['order_id'])}</span></p>"
            f"<p id=\"status\">{row['status']}</p>"
            f"<p id=\"amount\">{html.escape(amount)}</p>",
        )

    # ---- the poller ----------------------------------------------------------------------------

    def start_polling(self, order_id):
        if self.bug == "no_inquiry":
            return
        with self.store.tx() as db:
            db.execute("UPDATE orders SET poll_until=? WHERE order_id=?",
                       (time.time() + POLL_SECONDS, order_id))

    def poll_forever(self):
        """Every APO_POLL_SECONDS (2 s), inquires each order still pending (or PAID with an
        automatic capture not yet seen) within its polling window, from one interval after it
        was placed (APO's guide: inquire at 2-second intervals after pay)."""
        while not self.stopping.wait(self.cfg.poll_every):
            now = time.time()
            with self.store.lock:
                rows = self.store.db.execute(
                    "SELECT order_id FROM orders WHERE poll_until > ? AND created_at <= ? AND "
                    "(status='PENDING' OR "
                    "(status='PAID' AND capture_mode='AUTOMATIC' AND captured=0))",
                    (now, now - self.cfg.poll_every),
                ).fetchall()
            for r in rows:
                if self.stopping.is_set():
                    return
                try:
                    self.inquire(r["order_id"])
                except Exception as e:  # keep polling the others
                    log("poll-error", orderId=r["order_id"], error=repr(e)[:200])


def _first(e):
    """A short, one-line reason from an exception (libraries put long tuples in theirs)."""
    text = str(e.args[0]) if e.args else str(e)
    return text.splitlines()[0][:160] if text else type(e).__name__


def _stale(request_time):
    """Whether a request-time (ISO 8601, or epoch milliseconds) is older than
    MAX_NOTIFY_AGE_SECONDS, or unreadable."""
    try:
        if request_time.isdigit():
            signed_at = int(request_time) / 1000
        else:
            signed_at = datetime.fromisoformat(request_time.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError):
        return True
    return time.time() - signed_at > MAX_NOTIFY_AGE_SECONDS


def _amount_value(amt):
    v = amt.get("value") if isinstance(amt, dict) else None
    if isinstance(v, str) and v.isdigit():
        return int(v)
    return None


def _page(title, content):
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title></head><body>{content}</body></html>"
    ).encode()


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------


class Server(ThreadingHTTPServer):
    """The shop's HTTP server: a thread per connection, on a listening socket that the worker
    processes share (non-blocking, see main)."""

    daemon_threads = True
    # Connections waiting to be accepted; the standard library's 5 is too few for a burst of
    # checkouts, and a connection beyond it waits for the client's SYN retry (1 s or more).
    request_queue_size = 128

    def get_request(self):
        conn, addr = super().get_request()
        conn.setblocking(True)  # the listener is non-blocking; a connection is served blocking
        return conn, addr


class Handler(BaseHTTPRequestHandler):
    shop = None  # set in main
    protocol_version = "HTTP/1.1"
    server_version = "example-shop/1"
    # Headers and body go out in two writes; with Nagle's algorithm on, a keep-alive client's
    # delayed ACK holds the body back about 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):  # the shop logs its own events
        pass

    def send(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, obj):
        self.send(status, "application/json", json.dumps(obj, separators=(",", ":")).encode())

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def json_body(self):
        raw = self.body()
        if not raw.strip():
            return {}
        v = json.loads(raw)
        if not isinstance(v, dict):
            raise ValueError("not an object")
        return v

    def do_GET(self):
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        try:
            if url.path == "/health":
                return self.send_json(200, {"ok": True})
            if url.path == "/return":
                order_id = (parse_qs(url.query).get("orderId") or [""])[0]
                status, page = self.shop.return_page(order_id)
                return self.send(status, "text/html; charset=utf-8", page)
            if len(parts) == 2 and parts[0] == "orders":
                row = self.shop.store.order(parts[1])
                if row is None:
                    return self.send_json(404, {"error": f"no order {parts[1]}"})
                return self.send_json(200, order_json(row))
            self.send_json(404, {"error": f"no route GET {url.path}"})
        except Exception as e:
            log("error", route=url.path, error=repr(e)[:300])
            self.send_json(500, {"error": "internal error"})

    def do_POST(self):
        url = urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        try:
            if url.path == NOTIFY_PATH:
                status, ctype, body = self.shop.notify(self.path, self.headers, self.body())
                return self.send(status, ctype, body)
            try:
                req = self.json_body()
            except ValueError:
                return self.send_json(400, {"error": "the body must be a JSON object"})
            if url.path == "/checkout":
                return self.send_json(*self.shop.checkout(req))
            if len(parts) == 3 and parts[0] == "orders":
                order_id, action = parts[1], parts[2]
                if action == "capture":
                    return self.send_json(*self.shop.capture(order_id, req))
                if action == "cancel":
                    return self.send_json(*self.shop.cancel(order_id))
                if action == "refund":
                    return self.send_json(*self.shop.refund(order_id, req))
            self.send_json(404, {"error": f"no route POST {url.path}"})
        except Exception as e:
            log("error", route=url.path, error=repr(e)[:300])
            self.send_json(500, {"error": "internal error"})


def main():
    try:
        cfg = Config(os.environ)
    except ConfigError as e:
        print(f"shop: configuration error: {e}", file=sys.stderr)
        return 2
    try:
        shop = Shop(cfg)
    except ImportError as e:
        print(f"shop: the APO SDK is not importable ({e}); run scripts/merchant-venv.sh (with "
              "--force if the venv exists: it remembers a venv it checked) and use "
              "examples/merchant-python/.venv/bin/python", file=sys.stderr)
        return 2
    except ConfigError as e:
        print(f"shop: configuration error: {e}", file=sys.stderr)
        return 2
    except sqlite3.Error as e:
        print(f"shop: configuration error: MERCHANT_DB {cfg.db}: {e}", file=sys.stderr)
        return 2
    Handler.shop = shop
    try:
        server = Server((cfg.host, cfg.port), Handler)
    except OSError as e:
        print(f"shop: cannot listen on {cfg.host}:{cfg.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    # Every process wakes for a new connection and one accepts it: the others' accept must not
    # block (one that did would wait there for the next connection, deaf to SIGTERM).
    server.socket.setblocking(False)
    first = os.getpid()
    worker, others = fork_workers(cfg.workers)
    if worker == 0:
        log("listening", url=cfg.merchant_url, gateway=cfg.gateway_url, clientId=cfg.client_id,
            db=cfg.db, workers=1 + len(others), bug=cfg.bug)
    serve(shop, server, worker, first)
    if worker:
        return 0
    stop_workers(others)
    if cfg.temp_db:
        for path in (cfg.db, cfg.db + "-wal", cfg.db + "-shm"):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    log("stopped")
    return 0


def fork_workers(n):
    """Forks the processes that serve beside this one, on its listening socket. Returns this
    process's number (0 for the first) and, in the first, the others' pids. Runs before any
    thread starts: a fork copies only the thread that calls it."""
    others = []
    for k in range(1, n):
        try:
            pid = os.fork()
        except OSError as e:
            log("worker-error", worker=k, error=e.strerror or repr(e))
            break
        if pid == 0:
            return k, []
        others.append(pid)
    return 0, others


def serve(shop, server, worker, first):
    """Serves until SIGTERM or Ctrl-C (to this process or its group). The first process also
    polls; the others also stop when the first is gone, so none is left holding the port."""
    global WORKER
    if shop.cfg.workers > 1:
        WORKER = worker
    shop.store = Store(shop.cfg.db)

    def stop(signum=None, _frame=None):
        if shop.stopping.is_set():
            return
        log("stopping", signal=signal.Signals(signum).name if signum else "the first process is gone")
        shop.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    def watch_first():
        while not shop.stopping.wait(0.5):
            if os.getppid() != first:
                stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if worker:
        threading.Thread(target=watch_first, name="watcher", daemon=True).start()
    elif shop.cfg.bug != "no_inquiry":
        threading.Thread(target=shop.poll_forever, name="poller", daemon=True).start()
    # A short poll interval: `shutdown` (on SIGTERM) waits for the loop's next poll, and a test
    # run waits for the shop to stop (10 ms: about 100 idle wake-ups a second).
    server.serve_forever(poll_interval=0.01)
    server.server_close()


def stop_workers(pids):
    """Stops the other processes (they have the signal already when their group got it) and
    waits for them."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


if __name__ == "__main__":
    sys.exit(main())
