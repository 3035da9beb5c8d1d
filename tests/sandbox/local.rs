//! What only tests/sandbox.rs needs (the standalone sandbox itself is in tests/support/): a
//! small signing APO client (uses apo::sign), a notification receiver, the buyer's browser, and
//! the official SDKs' scripts run against the sandbox.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apoflow::apo::keys::{PrivateKey, PublicKey};
use apoflow::apo::sign::{SignedParts, sign, verify};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::support::{Sandbox, apoflow_cmd, repo};

pub const CLIENT_ID: &str = "SANDBOX_APOFLOW_MERCHANT";
const MERCHANT_PRIVATE: &str = include_str!("../../fixtures/keys/merchant-private.pem");
const APO_PUBLIC: &str = include_str!("../../fixtures/keys/sandbox-apo-public.pem");

/// A response from the sandbox: status, headers, body.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

/// A signing APO client for one merchant.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub client_id: String,
    pub key: PrivateKey,
    pub apo: PublicKey,
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl Client {
    pub fn new(sandbox: &Sandbox) -> Self {
        Client {
            http: http(),
            base: sandbox.url.clone(),
            client_id: CLIENT_ID.to_owned(),
            key: PrivateKey::from_text(MERCHANT_PRIVATE).unwrap(),
            apo: PublicKey::from_text(APO_PUBLIC).unwrap(),
        }
    }

    /// Sends raw bytes to a path with the given headers; checks the response signature.
    pub async fn send(&self, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> Answer {
        self.try_send(path, headers, body)
            .await
            .expect("sandbox answers")
    }

    /// [`Client::send`], with the transport error (time-out, connection closed) when there is
    /// no answer.
    pub async fn try_send(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, reqwest::Error> {
        let (status, headers, bytes) = self.post(path, headers, body).await?;
        let h = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        verify(
            &self.apo,
            &SignedParts::post(path, &h("client-id"), &h("response-time"), &bytes),
            &h("signature"),
        )
        .unwrap_or_else(|e| panic!("response to {path} is not signed by the sandbox key: {e}"));
        let body = serde_json::from_slice(&bytes).expect("JSON body");
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// The answer to a request whose signature is missing or wrong: not signed (no
    /// `signature` header).
    pub async fn send_unsigned_answer(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Answer {
        let (status, headers, bytes) = self.post(path, headers, body).await.expect("answers");
        assert!(
            !headers.contains_key("signature"),
            "the answer to {path} is signed: {headers:?}"
        );
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).expect("JSON body"),
        }
    }

    async fn post(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(u16, HeaderMap, axum::body::Bytes), reqwest::Error> {
        let mut req = self.http.post(format!("{}{path}", self.base)).body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        Ok((status, headers, resp.bytes().await?))
    }

    /// A correctly signed call to one API under the sandbox path.
    pub async fn call(&self, api: &str, body: &Value) -> Value {
        self.try_call(api, body).await.expect("sandbox answers")
    }

    /// [`Client::call`], with the transport error when there is no answer.
    pub async fn try_call(&self, api: &str, body: &Value) -> Result<Value, reqwest::Error> {
        let path = format!("/ams/sandbox/api/v1/payments/{api}");
        let bytes = serde_json::to_vec(body).unwrap();
        let answer = self
            .try_send(&path, &self.signed(&path, &bytes), bytes)
            .await?;
        assert_eq!(answer.status, 200);
        Ok(answer.body)
    }

    pub fn signed(&self, path: &str, body: &[u8]) -> Vec<(&'static str, String)> {
        let time = "2026-11-25T10:00:00+00:00".to_owned();
        let sig = sign(
            &self.key,
            &SignedParts::post(path, &self.client_id, &time, body),
        );
        vec![
            ("content-type", "application/json; charset=UTF-8".to_owned()),
            ("client-id", self.client_id.clone()),
            ("request-time", time),
            ("signature", sig),
        ]
    }

    pub async fn control(&self, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/_sandbox/{path}", self.base);
        let req = match body {
            Some(b) => self.http.post(url).json(&b),
            None => self.http.get(url),
        };
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "control {path}");
        resp.json().await.unwrap()
    }

    /// Any control request (`GET`, `POST` with a JSON body, `DELETE`): its status and JSON.
    pub async fn control_as(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/_sandbox/{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    pub async fn advance(&self, seconds: u64) {
        self.control("clock/advance", Some(json!({ "seconds": seconds })))
            .await;
    }

    /// Waits (up to 10 s) until the deliveries satisfy `done`; returns them.
    pub async fn deliveries_until(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        for _ in 0..200 {
            let d = self.control("deliveries", None).await;
            let list = d["deliveries"].as_array().cloned().unwrap_or_default();
            if done(&list) {
                return list;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("deliveries never reached the expected state");
    }
}

/// A pay body with sensible defaults.
pub fn pay_body(request_id: &str, value: &str, notify: Option<&str>) -> Value {
    let mut b = json!({
        "productCode": "CASHIER_PAYMENT",
        "paymentRequestId": request_id,
        "paymentAmount": {"currency": "SGD", "value": value},
        "paymentMethod": {"paymentMethodType": "CARD",
                          "paymentMethodMetaData": {"tokenizeMode": "DISABLED"}},
        "paymentFactor": {"isAuthorization": true, "captureMode": "AUTOMATIC"},
        "paymentRedirectUrl": "https://shop.example/return?order=1",
        "order": {"referenceOrderId": "ORDER-1", "orderDescription": "Running shoes",
                  "orderAmount": {"currency": "SGD", "value": value},
                  "buyer": {"referenceBuyerId": "buyer-1"}},
        "env": {"terminalType": "WEB", "clientIp": "203.0.113.7"}
    });
    if let Some(n) = notify {
        b["paymentNotifyUrl"] = json!(n);
    }
    b
}

/// `body` with MANUAL capture.
pub fn manual(mut body: Value) -> Value {
    body["paymentFactor"]["captureMode"] = json!("MANUAL");
    body
}

pub fn uid(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A sandbox of its own with a client, a buyer and a notification receiver.
pub async fn sandbox_and_receiver() -> (Sandbox, Client, Buyer, Receiver) {
    let s = Sandbox::start(&[]);
    let c = Client::new(&s);
    let b = Buyer::new(&s);
    let rx = Receiver::start().await;
    (s, c, b, rx)
}

/// Runs `tests/sandbox/{script}` with `python` against the sandbox at `url` as the fixture
/// merchant; `ca` is the CA file it trusts (`SSL_CERT_FILE`), if any.
pub fn sdk_script(python: &Path, script: &str, url: &str, ca: Option<&Path>) -> Output {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut cmd = Command::new(python);
    if let Some(ca) = ca {
        cmd.env("SSL_CERT_FILE", ca);
    }
    cmd.arg(format!("{root}/tests/sandbox/{script}"))
        .arg(url)
        .arg(format!("{root}/fixtures/keys/merchant-private.pem"))
        .arg(format!("{root}/fixtures/keys/sandbox-apo-public.pem"))
        .output()
        .unwrap()
}

/// The script of [`sdk_script`] succeeded and printed `done`; `what` names it when it did not.
pub fn assert_sdk_script_ok(out: &Output, what: &str, done: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(done), "{stdout}");
}

/// `apoflow sandbox ARGS`, run in the repository, refuses to start: exit code 2. Returns its
/// stderr.
pub fn sandbox_exits_2(args: &[&str]) -> String {
    let out = apoflow_cmd(&repo(), &["sandbox"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A notification as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub raw: Vec<u8>,
    pub body: Value,
}

/// A local merchant notification endpoint; acknowledges with SUCCESS unless told not to.
pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub ack: Arc<Mutex<bool>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Self {
        use axum::extract::State;
        type Shared = (Arc<Mutex<Vec<Received>>>, Arc<Mutex<bool>>);
        async fn handle(
            State((got, ack)): State<Shared>,
            uri: axum::http::Uri,
            headers: HeaderMap,
            body: axum::body::Bytes,
        ) -> (axum::http::StatusCode, String) {
            got.lock().unwrap().push(Received {
                path: uri.path().to_owned(),
                headers,
                raw: body.to_vec(),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
            if *ack.lock().unwrap() {
                (
                    axum::http::StatusCode::OK,
                    r#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}"#.to_owned(),
                )
            } else {
                (
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "down".to_owned(),
                )
            }
        }
        let got = Arc::new(Mutex::new(Vec::new()));
        let ack = Arc::new(Mutex::new(true));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/merchant/notify", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state((got.clone(), ack.clone()));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url,
            got,
            ack,
            _task: task,
        }
    }

    pub fn set_ack(&self, ack: bool) {
        *self.ack.lock().unwrap() = ack;
    }

    /// Waits (up to 10 s) for `n` notifications matching `pred`.
    pub async fn wait(&self, n: usize, pred: impl Fn(&Received) -> bool) -> Vec<Received> {
        for _ in 0..200 {
            let found: Vec<Received> = self
                .got
                .lock()
                .unwrap()
                .iter()
                .filter(|r| pred(r))
                .cloned()
                .collect();
            if found.len() >= n {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let all: Vec<Value> = self
            .got
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.body.clone())
            .collect();
        panic!("expected {n} matching notifications; received: {all:#?}");
    }

    pub fn of(&self, payment_id: &str, notify_type: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.body["paymentId"] == payment_id && r.body["notifyType"] == notify_type)
            .cloned()
            .collect()
    }
}

/// The buyer: GET the hosted page, POST forms, follow the sandbox's own redirects.
pub struct Buyer {
    pub http: reqwest::Client,
    pub base: String,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub html: String,
}

impl Buyer {
    pub fn new(sandbox: &Sandbox) -> Self {
        Buyer {
            http: http(),
            base: sandbox.url.clone(),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        let r = self.http.get(self.absolute(url)).send().await.unwrap();
        page(r).await
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .http
            .post(self.absolute(url))
            .form(form)
            .send()
            .await
            .unwrap();
        page(r).await
    }

    /// Enters a card on the page at `normal_url`; returns the answer to the form post.
    pub async fn pay_with(&self, normal_url: &str, number: &str, save: bool) -> Page {
        let mut form = vec![
            ("card_number", number),
            ("expiry_month", "12"),
            ("expiry_year", "39"),
            ("cvv", "123"),
            ("holder_name", "Test Buyer"),
        ];
        if save {
            form.push(("save_card", "on"));
        }
        self.post(normal_url, &form).await
    }
}

async fn page(r: reqwest::Response) -> Page {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Page {
        status,
        location,
        html: r.text().await.unwrap(),
    }
}
