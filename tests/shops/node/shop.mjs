// A second, independent merchant shop for apoflow's merchant flows.
//
// Written from the documented contract only (examples/merchant-python/README.md, "HTTP API (the
// contract)") and APO's protocol (shared reference apo-api.md: signing §2, APIs §4, idempotency
// §6, notifications §7), without reading the example shop or the flows. Node.js 20, standard
// library only, state in memory.
//
// Environment (set by `apoflow run --merchant NAME`):
//   APO_GATEWAY_URL                 https://host[:port] of APO (the sandbox)
//   APO_CLIENT_ID                   our client id; SANDBOX_… selects the /ams/sandbox/api paths
//   APO_MERCHANT_PRIVATE_KEY_FILE   our RSA private key, PEM (PKCS#8 or PKCS#1)
//   APO_PUBLIC_KEY_FILE             APO's public key, PEM (SPKI): responses and notifications
//   MERCHANT_URL                    our own base URL, http://host:port: we listen there
//   NODE_EXTRA_CA_CERTS / APO_CA_FILE   the sandbox's CA (Node reads the first at start-up)
//   APO_TIMEOUT_MS                  optional: how long to wait for an APO answer (default 5000)
//
// Log: one `shop: …` line per event on stderr; never a key or card data.

import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import crypto from 'node:crypto';
import fs from 'node:fs';

const log = (...parts) => console.error('shop:', ...parts);

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

function configError(message) {
  console.error(`shop: configuration error: ${message}`);
  process.exit(2);
}

function requireEnv(name) {
  const value = process.env[name];
  if (!value) configError(`${name} is not set`);
  return value;
}

const CLIENT_ID = requireEnv('APO_CLIENT_ID');
let GATEWAY, MERCHANT, PRIVATE_KEY, APO_PUBLIC_KEY, CA;
try {
  GATEWAY = new URL(requireEnv('APO_GATEWAY_URL'));
  if (GATEWAY.protocol !== 'https:') configError('APO_GATEWAY_URL must be an https:// URL');
  MERCHANT = new URL(requireEnv('MERCHANT_URL'));
  if (MERCHANT.protocol !== 'http:') configError('MERCHANT_URL must be an http:// URL');
} catch (e) {
  configError(`bad URL: ${e.message}`);
}
try {
  PRIVATE_KEY = crypto.createPrivateKey(fs.readFileSync(requireEnv('APO_MERCHANT_PRIVATE_KEY_FILE')));
  APO_PUBLIC_KEY = crypto.createPublicKey(fs.readFileSync(requireEnv('APO_PUBLIC_KEY_FILE')));
  // NODE_EXTRA_CA_CERTS is honoured by Node itself; APO_CA_FILE is added explicitly so the shop
  // also works when only that one is set.
  if (process.env.APO_CA_FILE) CA = [...tls.rootCertificates, fs.readFileSync(process.env.APO_CA_FILE, 'utf8')];
} catch (e) {
  configError(`unusable key or CA file: ${e.message}`);
}
const BASE = MERCHANT.origin; // no trailing slash
const NOTIFY_PATH = '/apo/notify';
const API_PREFIX = CLIENT_ID.startsWith('SANDBOX_') ? '/ams/sandbox/api/v1/payments/' : '/ams/api/v1/payments/';
const APO_TIMEOUT_MS = Number(process.env.APO_TIMEOUT_MS || 5000);
const POLL_EVERY_MS = 2000;        // APO's guide: inquire every 2 s while pending
const POLL_FOR_MS = 2 * 60 * 1000; // … for at most 2 minutes after checkout
const RETRY_TRIES = 3;             // calls per action while the result is unknown
const RETRY_GAP_MS = 1000;
const MAX_NOTIFY_AGE_MS = 60 * 60 * 1000; // older notifications are replays

// The fixed acknowledgement APO expects (apo-api.md §7.3), byte for byte.
const ACK = '{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}';

// ---------------------------------------------------------------------------------------------
// Signing (apo-api.md §2.1, §2.4, §2.5)
// ---------------------------------------------------------------------------------------------

// content = "POST <path>\n<client-id>.<time>.<raw body>"; RSA-SHA256, PKCS#1 v1.5.
const signContent = (path, clientId, time, body) => `POST ${path}\n${clientId}.${time}.${body}`;

function sign(content) {
  const raw = crypto.sign('sha256', Buffer.from(content, 'utf8'), PRIVATE_KEY).toString('base64');
  return encodeURIComponent(raw); // '+' → %2B, '/' → %2F, '=' → %3D
}

// Verify a `signature` header (algorithm=RSA256,keyVersion=1,signature=<url-encoded base64>, with
// or without spaces) against APO's public key. Like the official SDKs, '+' in the value is taken
// as a form-encoded space, so a raw (not URL-encoded) signature does not verify.
function verifyApo(header, content) {
  if (typeof header !== 'string') return false;
  const at = header.indexOf('signature=');
  if (at < 0) return false;
  let value = header.slice(at + 'signature='.length).split(',')[0].trim();
  try {
    value = decodeURIComponent(value.replace(/\+/g, ' '));
    return crypto.verify('sha256', Buffer.from(content, 'utf8'), APO_PUBLIC_KEY, Buffer.from(value, 'base64'));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The APO client: one signed POST; every answer we cannot trust counts as "unknown"
// ---------------------------------------------------------------------------------------------

// Resolves to {ok: true, body} (a verified answer) or {ok: false, why} (no answer, a time-out, a
// non-200, an unsigned or badly signed answer: the outcome is unknown).
function apoCall(api, payload) {
  const path = API_PREFIX + api;
  const body = JSON.stringify(payload);
  const time = String(Date.now()); // epoch milliseconds, as the current docs ask
  const headers = {
    'content-type': 'application/json; charset=UTF-8',
    'client-id': CLIENT_ID,
    'request-time': time,
    signature: `algorithm=RSA256,keyVersion=1,signature=${sign(signContent(path, CLIENT_ID, time, body))}`,
    'content-length': Buffer.byteLength(body),
  };
  return new Promise((resolve) => {
    const req = https.request(
      { protocol: 'https:', hostname: GATEWAY.hostname, port: GATEWAY.port || 443, path, method: 'POST', headers, ca: CA, timeout: APO_TIMEOUT_MS },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', (e) => resolve({ ok: false, why: `read: ${e.message}` }));
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) return resolve({ ok: false, why: `http ${res.statusCode}` });
          const content = signContent(path, res.headers['client-id'] ?? '', res.headers['response-time'] ?? '', raw);
          if (!verifyApo(res.headers.signature, content)) return resolve({ ok: false, why: 'response signature invalid or missing' });
          try {
            const parsed = JSON.parse(raw);
            if (!parsed || typeof parsed.result !== 'object') return resolve({ ok: false, why: 'no result' });
            resolve({ ok: true, body: parsed });
          } catch {
            resolve({ ok: false, why: 'malformed JSON' });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('time-out')));
    req.on('error', (e) => resolve({ ok: false, why: e.message }));
    req.end(body);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One action with its idempotency key fixed in `payload`: retried (same payload, so the same
// request id) while the result is unknown. `isUnknown(body)` says which verified answers are
// still unknown. Returns {status, body}: status is the answer's resultStatus ('S', 'F', or 'U'
// for an accepted in-process answer), or 'UNKNOWN' when every try stayed unknown.
async function apoWithRetry(api, payload, isUnknown = (b) => b.result.resultStatus === 'U') {
  let last = null;
  for (let attempt = 1; attempt <= RETRY_TRIES; attempt++) {
    if (attempt > 1) await sleep(RETRY_GAP_MS);
    const answer = await apoCall(api, payload);
    const r = answer.ok ? answer.body.result : null;
    log(`apo api=${api} attempt=${attempt}`, r ? `resultStatus=${r.resultStatus} resultCode=${r.resultCode}` : `unknown=${JSON.stringify(answer.why)}`);
    if (answer.ok && !isUnknown(answer.body)) return { status: r.resultStatus, body: answer.body };
    last = answer.ok ? answer.body : null;
  }
  return { status: 'UNKNOWN', body: last };
}

// ---------------------------------------------------------------------------------------------
// State (in memory)
// ---------------------------------------------------------------------------------------------

const orders = new Map();            // orderId → order
const byPaymentRequestId = new Map(); // paymentRequestId → order
const byPaymentId = new Map();        // paymentId → order
const byRefundRequestId = new Map();  // refundRequestId → {order, refund}
const notificationsSeen = new Set();  // "notifyType|paymentId|captureId/refundId"

const newId = (prefix) => `${prefix}_${crypto.randomBytes(12).toString('hex')}`;
const FINAL = new Set(['PAID', 'FAILED', 'CANCELLED']);

function setPaymentId(order, paymentId) {
  if (paymentId && !order.paymentId) {
    order.paymentId = paymentId;
    byPaymentId.set(paymentId, order);
  }
}

// Status moves only forward: PENDING → PAID | FAILED | CANCELLED; PAID → CANCELLED (cancel).
function settle(order, status, why) {
  if (order.status !== 'PENDING') return;
  order.status = status;
  log(`order orderId=${order.orderId} status=${status} by=${why}`);
}

// Count a capture once per captureId, whichever source (capture answer, CAPTURE_RESULT,
// inquiry transaction) reports it first; its captureRequestId is remembered too.
function addCapture(order, captureId, captureRequestId, value) {
  const keys = [captureId && `id:${captureId}`, captureRequestId && `req:${captureRequestId}`].filter(Boolean);
  if (keys.length === 0 || keys.some((k) => order.capturesCounted.has(k))) return;
  keys.forEach((k) => order.capturesCounted.add(k));
  order.captured += BigInt(value);
  log(`capture orderId=${order.orderId} captureId=${captureId} amount=${value} captured=${order.captured}`);
}

// Count a refund once per refundRequestId (the answer S or REFUND_RESULT SUCCESS, first wins).
function applyRefund(order, refund, refundId) {
  if (refundId) refund.refundId = refundId;
  if (refund.applied) return;
  refund.applied = true;
  order.refunded += BigInt(refund.amount);
  log(`refund orderId=${order.orderId} refundRequestId=${refund.refundRequestId} amount=${refund.amount} refunded=${order.refunded}`);
}

const cardTokenOf = (info) => (info && typeof info.cardToken === 'string' && info.cardToken) || null;

function orderView(o) {
  return {
    orderId: o.orderId, status: o.status, paymentId: o.paymentId, paymentRequestId: o.paymentRequestId,
    amount: o.amount, currency: o.currency, captureMode: o.captureMode,
    captured: String(o.captured), refunded: String(o.refunded),
    cardToken: o.cardToken, notificationsProcessed: o.notificationsProcessed,
  };
}

// ---------------------------------------------------------------------------------------------
// inquiryPayment: used by checkout (after an unknown pay), the return page and the poller
// ---------------------------------------------------------------------------------------------

// Inquire once and apply a successful answer like a notification (not counted). Returns the
// verified body, or null when the answer is unknown.
async function inquire(order, why) {
  // By our own paymentRequestId: always known, even when pay's answer (and paymentId) was lost.
  const answer = await apoCall('inquiryPayment', { paymentRequestId: order.paymentRequestId });
  if (!answer.ok) {
    log(`apo api=inquiryPayment orderId=${order.orderId} by=${why} unknown=${JSON.stringify(answer.why)}`);
    return null;
  }
  const b = answer.body;
  log(`apo api=inquiryPayment orderId=${order.orderId} by=${why} resultStatus=${b.result.resultStatus} paymentStatus=${b.paymentStatus}`);
  if (b.result.resultStatus === 'S') applyInquiry(order, b);
  return b;
}

function applyInquiry(order, b) {
  if (b.paymentRequestId && b.paymentRequestId !== order.paymentRequestId) return; // not ours
  const amt = b.paymentAmount;
  if (amt && (amt.currency !== order.currency || amt.value !== order.amount)) {
    log(`inquiry-ignored orderId=${order.orderId} reason=amount-mismatch`);
    return;
  }
  setPaymentId(order, b.paymentId);
  if (b.paymentStatus === 'SUCCESS') {
    order.cardToken = order.cardToken || cardTokenOf(b.paymentResultInfo) || cardTokenOf(b.cardInfo);
    settle(order, 'PAID', 'inquiry');
  } else if (b.paymentStatus === 'FAIL') {
    settle(order, 'FAILED', 'inquiry');
  } else if (b.paymentStatus === 'CANCELLED') {
    settle(order, 'CANCELLED', 'inquiry');
  }
  for (const t of Array.isArray(b.transactions) ? b.transactions : []) {
    if (t.transactionStatus !== 'SUCCESS' || !t.transactionAmount) continue;
    if (t.transactionAmount.currency !== order.currency) continue;
    if (t.transactionType === 'CAPTURE') {
      settle(order, 'PAID', 'inquiry-capture');
      addCapture(order, t.transactionId, t.transactionRequestId, t.transactionAmount.value);
    } else if (t.transactionType === 'REFUND') {
      const refund = order.refunds.get(t.transactionRequestId);
      if (refund && refund.amount === t.transactionAmount.value) applyRefund(order, refund, t.transactionId);
    }
  }
}

// The poller: every 2 s, inquire each order still PENDING (or AUTOMATIC, PAID, no capture known
// yet), for at most 2 minutes after its checkout. One inquiry per order at a time.
function needsPolling(o) {
  if (Date.now() - o.createdAt > POLL_FOR_MS || o.inquiring || o.paying) return false;
  return o.status === 'PENDING' || (o.status === 'PAID' && o.captureMode === 'AUTOMATIC' && o.captured === 0n);
}
setInterval(() => {
  for (const o of orders.values()) {
    if (!needsPolling(o)) continue;
    o.inquiring = true;
    inquire(o, 'poller').finally(() => { o.inquiring = false; });
  }
}, POLL_EVERY_MS).unref();

// ---------------------------------------------------------------------------------------------
// HTTP helpers
// ---------------------------------------------------------------------------------------------

function send(res, status, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 1 << 20) { reject(new Error('body too large')); req.destroy(); } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// A JSON object body ('' counts as {}), or null when it is not one.
function parseObject(text) {
  if (text.trim() === '') return {};
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

const isMinorUnits = (v) => typeof v === 'string' && /^[1-9][0-9]{0,17}$/.test(v);

// ---------------------------------------------------------------------------------------------
// POST /checkout
// ---------------------------------------------------------------------------------------------

async function checkout(req, res, input) {
  const { amount, currency } = input;
  const captureMode = input.captureMode ?? 'AUTOMATIC';
  const terminalType = input.terminalType ?? 'WEB';
  if (!isMinorUnits(amount)) return send(res, 400, { error: 'amount must be a string of minor units, e.g. "4200"' });
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) return send(res, 400, { error: 'currency must be an ISO 4217 code' });
  if (!['AUTOMATIC', 'MANUAL'].includes(captureMode)) return send(res, 400, { error: 'captureMode must be AUTOMATIC or MANUAL' });
  if (!['WEB', 'WAP', 'APP'].includes(terminalType)) return send(res, 400, { error: 'terminalType must be WEB, WAP or APP' });
  if (input.tokenizeMode != null && !['DISABLED', 'ENABLED', 'ASKFORCONSENT'].includes(input.tokenizeMode)) return send(res, 400, { error: 'tokenizeMode must be DISABLED, ENABLED or ASKFORCONSENT' });
  if (input.threeDS != null && typeof input.threeDS !== 'boolean') return send(res, 400, { error: 'threeDS must be a boolean' });
  if (input.cardToken != null && (typeof input.cardToken !== 'string' || input.cardToken === '')) return send(res, 400, { error: 'cardToken must be a string' });

  const order = {
    orderId: newId('ord'), paymentRequestId: newId('pay'), paymentId: null, status: 'PENDING',
    amount, currency, captureMode, captured: 0n, refunded: 0n, cardToken: null, notificationsProcessed: 0,
    createdAt: Date.now(), capturesCounted: new Set(), refunds: new Map(), inquiring: false, paying: true,
  };
  // Registered before pay, so a notification racing the pay answer finds its order.
  orders.set(order.orderId, order);
  byPaymentRequestId.set(order.paymentRequestId, order);
  log(`checkout orderId=${order.orderId} amount=${amount} currency=${currency} captureMode=${captureMode}`);

  const money = { currency, value: amount };
  const metaData = {};
  if (input.tokenizeMode != null) metaData.tokenizeMode = input.tokenizeMode;
  if (input.threeDS != null) metaData.is3DSAuthentication = input.threeDS;
  const paymentMethod = { paymentMethodType: 'CARD' };
  if (input.cardToken) { paymentMethod.paymentMethodId = input.cardToken; metaData.isCardOnFile = true; }
  if (Object.keys(metaData).length) paymentMethod.paymentMethodMetaData = metaData;
  const clientIp = (req.socket.remoteAddress || '127.0.0.1').replace(/^::ffff:/, '');
  const pay = {
    productCode: 'CASHIER_PAYMENT',
    paymentRequestId: order.paymentRequestId,
    paymentAmount: money,
    paymentMethod,
    paymentFactor: { isAuthorization: true, captureMode },
    order: {
      referenceOrderId: order.orderId,
      orderDescription: `Order ${order.orderId}`,
      orderAmount: money,
      buyer: { referenceBuyerId: 'guest' },
    },
    env: { terminalType, clientIp },
    paymentRedirectUrl: `${BASE}/return?orderId=${encodeURIComponent(order.orderId)}`,
    paymentNotifyUrl: `${BASE}${NOTIFY_PATH}`,
  };

  // U PAYMENT_IN_PROCESS is a real answer (send the buyer to normalUrl); any other U is unknown.
  const r = await apoWithRetry('pay', pay, (b) => b.result.resultStatus === 'U' && b.result.resultCode !== 'PAYMENT_IN_PROCESS');
  order.paying = false;
  const result = r.body?.result;
  if (r.status === 'UNKNOWN') {
    // Still unknown after the retries: ask APO whether the payment exists at all.
    const q = await inquire(order, 'pay-unknown');
    if (q && q.result.resultStatus === 'F') settle(order, 'FAILED', 'pay-unknown-no-such-payment');
    return send(res, 502, { error: 'the payment result is unknown', orderId: order.orderId, order: orderView(order) });
  }
  setPaymentId(order, r.body.paymentId);
  if (r.status === 'F') {
    settle(order, 'FAILED', `pay-${result.resultCode}`);
    return send(res, 502, { error: 'the payment failed', orderId: order.orderId, resultCode: result.resultCode, resultMessage: result.resultMessage, order: orderView(order) });
  }
  if (r.status === 'S') {
    order.cardToken = order.cardToken || cardTokenOf(r.body.paymentResultInfo);
    settle(order, 'PAID', 'pay');
  }
  send(res, 200, { orderId: order.orderId, paymentRequestId: order.paymentRequestId, paymentId: order.paymentId, redirectUrl: redirectUrlOf(r.body) });
}

// The hosted page: normalUrl, else the redirect action form's URL.
function redirectUrlOf(b) {
  if (b.normalUrl) return b.normalUrl;
  if (b.redirectActionForm?.redirectUrl) return b.redirectActionForm.redirectUrl;
  try { return JSON.parse(b.paymentActionForm).redirectUrl || null; } catch { return null; }
}

// ---------------------------------------------------------------------------------------------
// POST /orders/{id}/capture | cancel | refund
// ---------------------------------------------------------------------------------------------

async function capture(res, order, input) {
  if (order.status !== 'PAID') return send(res, 409, { error: `cannot capture a ${order.status} order`, order: orderView(order) });
  // AUTOMATIC capture: APO captures; the merchant never calls capture itself.
  if (order.captureMode === 'AUTOMATIC') return send(res, 409, { error: 'the order is captured automatically', order: orderView(order) });
  const left = BigInt(order.amount) - order.captured;
  if (left <= 0n) return send(res, 409, { error: 'nothing left to capture', order: orderView(order) });
  if (input.amount != null && !isMinorUnits(input.amount)) return send(res, 400, { error: 'amount must be a string of minor units' });
  const value = input.amount ?? String(left);
  if (BigInt(value) > left) return send(res, 409, { error: `only ${left} left to capture`, order: orderView(order) });
  const captureRequestId = newId('cap');
  // U CAPTURE_IN_PROCESS means "wait for CAPTURE_RESULT or inquire" (apo-api.md §5.3), not
  // "call again": only other U answers (UNKNOWN_EXCEPTION, …) and no answer are retried.
  const r = await apoWithRetry('capture', {
    captureRequestId, paymentId: order.paymentId, captureAmount: { currency: order.currency, value },
  }, (b) => b.result.resultStatus === 'U' && b.result.resultCode !== 'CAPTURE_IN_PROCESS');
  if (r.status === 'S') {
    addCapture(order, r.body.captureId, captureRequestId, r.body.captureAmount?.value ?? value);
    return send(res, 200, orderView(order));
  }
  if (r.status === 'F') return send(res, 502, { error: 'capture failed', orderId: order.orderId, resultCode: r.body.result.resultCode, resultMessage: r.body.result.resultMessage, order: orderView(order) });
  send(res, 502, { error: 'the capture result is not known yet; CAPTURE_RESULT will settle it', orderId: order.orderId, resultCode: r.body?.result.resultCode ?? null, order: orderView(order) });
}

async function cancel(res, order) {
  if (order.status === 'CANCELLED') return send(res, 200, orderView(order));
  if (order.status === 'FAILED') return send(res, 409, { error: 'cannot cancel a FAILED order', order: orderView(order) });
  const payload = order.paymentId ? { paymentId: order.paymentId } : { paymentRequestId: order.paymentRequestId };
  const r = await apoWithRetry('cancel', payload);
  if (r.status === 'S') {
    order.status = 'CANCELLED';
    log(`order orderId=${order.orderId} status=CANCELLED by=cancel`);
    return send(res, 200, orderView(order));
  }
  if (r.status === 'F') return send(res, 502, { error: 'cancel refused', orderId: order.orderId, resultCode: r.body.result.resultCode, resultMessage: r.body.result.resultMessage, order: orderView(order) });
  send(res, 502, { error: 'the cancel result is unknown', orderId: order.orderId, order: orderView(order) });
}

async function refund(res, order, input) {
  if (order.status !== 'PAID') return send(res, 409, { error: `cannot refund a ${order.status} order`, order: orderView(order) });
  if (!isMinorUnits(input.amount)) return send(res, 400, { error: 'amount must be a string of minor units' });
  // Registered before the call: REFUND_RESULT may arrive before the answer.
  const rec = { refundRequestId: newId('ref'), amount: input.amount, refundId: null, applied: false };
  order.refunds.set(rec.refundRequestId, rec);
  byRefundRequestId.set(rec.refundRequestId, { order, refund: rec });
  const r = await apoWithRetry('refund', {
    refundRequestId: rec.refundRequestId, paymentId: order.paymentId,
    refundAmount: { currency: order.currency, value: rec.amount },
    refundNotifyUrl: `${BASE}${NOTIFY_PATH}`,
  }, (b) => b.result.resultStatus === 'U' && b.result.resultCode !== 'REFUND_IN_PROCESS');
  if (r.status === 'S') {
    applyRefund(order, rec, r.body.refundId);
    return send(res, 200, orderView(order));
  }
  if (r.status === 'F') return send(res, 502, { error: 'refund failed', orderId: order.orderId, resultCode: r.body.result.resultCode, resultMessage: r.body.result.resultMessage, order: orderView(order) });
  send(res, 502, { error: 'the refund result is not known yet; REFUND_RESULT will settle it', orderId: order.orderId, resultCode: r.body?.result.resultCode ?? null, order: orderView(order) });
}

// ---------------------------------------------------------------------------------------------
// POST /apo/notify: verify, match, check the money, de-duplicate, apply, acknowledge
// ---------------------------------------------------------------------------------------------

class Rejection extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

function checkMoney(amount, currency, expected, mode) {
  if (!amount || amount.currency !== currency || !/^[0-9]+$/.test(amount.value ?? '')) throw new Rejection('AMOUNT_MISMATCH', 'amount or currency differs from the order');
  const got = BigInt(amount.value);
  const ok = mode === 'le' ? got <= BigInt(expected) : got === BigInt(expected);
  if (!ok) throw new Rejection('AMOUNT_MISMATCH', `amount ${amount.value} does not match ${expected}`);
}

function handleNotification(req, raw) {
  // 1. Verify: our client id, a valid signature over this exact request, a fresh request-time.
  const clientId = req.headers['client-id'];
  const time = req.headers['request-time'];
  if (clientId !== CLIENT_ID || typeof time !== 'string') throw new Rejection('SIGNATURE_INVALID', 'missing or foreign client-id / request-time');
  if (!verifyApo(req.headers.signature, signContent(req.url, clientId, time, raw))) throw new Rejection('SIGNATURE_INVALID', 'signature missing or invalid');
  const sentAt = /^[0-9]+$/.test(time) ? Number(time) : Date.parse(time);
  if (!Number.isFinite(sentAt) || Date.now() - sentAt > MAX_NOTIFY_AGE_MS) throw new Rejection('SIGNATURE_INVALID', 'request-time is stale or unreadable');

  const n = parseObject(raw);
  if (!n || typeof n.result !== 'object' || n.result === null) throw new Rejection('PARAM_ILLEGAL', 'malformed notification');

  // 2. Match to an order we created; 3. check the money.
  let order, refundRec = null, subId = '';
  switch (n.notifyType) {
    case 'PAYMENT_RESULT':
    case 'PAYMENT_PENDING':
      order = byPaymentRequestId.get(n.paymentRequestId);
      if (!order || (order.paymentId && n.paymentId !== order.paymentId)) throw new Rejection('ORDER_NOT_EXIST', 'no such payment');
      checkMoney(n.paymentAmount, order.currency, order.amount, 'eq');
      break;
    case 'CAPTURE_RESULT':
      order = byPaymentId.get(n.paymentId);
      if (!order) throw new Rejection('ORDER_NOT_EXIST', 'no such payment');
      checkMoney(n.captureAmount, order.currency, order.amount, 'le');
      subId = n.captureId ?? '';
      break;
    case 'REFUND_RESULT': {
      const hit = byRefundRequestId.get(n.refundRequestId);
      if (!hit || (n.paymentId && hit.order.paymentId && n.paymentId !== hit.order.paymentId)) throw new Rejection('ORDER_NOT_EXIST', 'no such refund');
      ({ order, refund: refundRec } = hit);
      checkMoney(n.refundAmount, order.currency, refundRec.amount, 'eq');
      subId = n.refundId ?? n.refundRequestId;
      break;
    }
    default:
      throw new Rejection('PARAM_ILLEGAL', `unknown notifyType ${n.notifyType}`);
  }

  // PAYMENT_PENDING ("paid, final result pending") changes nothing; acknowledged only.
  if (n.notifyType === 'PAYMENT_PENDING') return log(`notify type=PAYMENT_PENDING orderId=${order.orderId} (nothing to apply)`);

  // 4. De-duplicate: a resend is acknowledged and not applied again.
  const key = `${n.notifyType}|${n.paymentId ?? order.paymentId ?? ''}|${subId}`;
  if (notificationsSeen.has(key)) return log(`notify-resend type=${n.notifyType} orderId=${order.orderId}`);
  notificationsSeen.add(key);

  // 5. Apply once, in whatever order they come.
  order.notificationsProcessed += 1;
  const status = n.result.resultStatus;
  log(`notify type=${n.notifyType} orderId=${order.orderId} resultStatus=${status} resultCode=${n.result.resultCode}`);
  if (n.notifyType === 'PAYMENT_RESULT') {
    setPaymentId(order, n.paymentId);
    if (status === 'S') {
      order.cardToken = order.cardToken || cardTokenOf(n.paymentResultInfo);
      settle(order, 'PAID', 'PAYMENT_RESULT');
    } else if (status === 'F') {
      settle(order, 'FAILED', 'PAYMENT_RESULT');
    }
  } else if (n.notifyType === 'CAPTURE_RESULT') {
    if (status === 'S') {
      settle(order, 'PAID', 'CAPTURE_RESULT'); // a capture proves the authorization succeeded
      addCapture(order, n.captureId, n.captureRequestId, n.captureAmount.value);
    }
  } else if (n.notifyType === 'REFUND_RESULT') {
    const ok = n.refundStatus ? n.refundStatus === 'SUCCESS' : status === 'S';
    if (ok) applyRefund(order, refundRec, n.refundId);
  }
}

async function notify(req, res) {
  const raw = await readBody(req);
  try {
    handleNotification(req, raw);
    send(res, 200, ACK); // 6. the fixed acknowledgement
  } catch (e) {
    if (!(e instanceof Rejection)) throw e;
    log(`notify-rejected code=${e.code} reason=${JSON.stringify(e.message)}`);
    send(res, 200, { result: { resultCode: e.code, resultStatus: 'F', resultMessage: e.message } });
  }
}

// ---------------------------------------------------------------------------------------------
// GET /return?orderId=: the buyer's return page, from our own records
// ---------------------------------------------------------------------------------------------

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function page(status, orderId) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Your order</title></head>
<body><h1>Your order</h1>
<p>Order <span id="order">${escapeHtml(orderId)}</span></p>
<p id="status">${escapeHtml(status)}</p>
</body></html>
`;
}

async function returnPage(res, orderId) {
  const order = orders.get(orderId ?? '');
  if (!order) return send(res, 404, page('UNKNOWN', orderId ?? ''), 'text/html; charset=utf-8');
  // Never trust the redirect itself: while PENDING, ask APO and apply its answer.
  if (order.status === 'PENDING') await inquire(order, 'return-page');
  send(res, 200, page(order.status, order.orderId), 'text/html; charset=utf-8');
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

async function route(req, res) {
  const url = new URL(req.url, BASE);
  const path = url.pathname;
  const m = path.match(/^\/orders\/([^/]+)(?:\/(capture|cancel|refund))?$/);

  if (path === '/health' && req.method === 'GET') return send(res, 200, { ok: true });
  if (path === NOTIFY_PATH && req.method === 'POST') return notify(req, res);
  if (path === '/return' && req.method === 'GET') return returnPage(res, url.searchParams.get('orderId'));
  if (path === '/checkout' && req.method === 'POST') {
    const input = parseObject(await readBody(req));
    if (!input) return send(res, 400, { error: 'the body must be a JSON object' });
    return checkout(req, res, input);
  }
  if (m) {
    const order = orders.get(decodeURIComponent(m[1]));
    const action = m[2];
    if (!action && req.method === 'GET') return order ? send(res, 200, orderView(order)) : send(res, 404, { error: 'no such order' });
    if (action && req.method === 'POST') {
      const input = parseObject(await readBody(req));
      if (!input) return send(res, 400, { error: 'the body must be a JSON object' });
      if (!order) return send(res, 404, { error: 'no such order' });
      if (action === 'capture') return capture(res, order, input);
      if (action === 'cancel') return cancel(res, order);
      return refund(res, order, input);
    }
    return send(res, 405, { error: 'method not allowed' });
  }
  send(res, 404, { error: 'not found' });
}

const server = http.createServer((req, res) => {
  route(req, res).catch((e) => {
    log(`error ${req.method} ${req.url}: ${e.message}`);
    if (!res.headersSent) send(res, 500, { error: 'internal error' });
    else res.destroy();
  });
});
server.on('error', (e) => {
  log(`cannot listen on ${BASE}: ${e.message}`);
  process.exit(1);
});
server.listen(Number(MERCHANT.port || 80), MERCHANT.hostname, () => log(`listening url=${BASE}`));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    log(`stopping (${sig})`);
    server.close();
    process.exit(0);
  });
}
