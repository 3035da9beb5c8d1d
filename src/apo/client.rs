//! The client that talks to an APO target: sign → send → verify the response signature.
//!
//! ```text
//! prepare(target, endpoint, body, options) ─> SentRequest { url, signed path, headers, body }
//! Client::call ─ POST ─> target ─> 200 + client-id/response-time/signature ─ verify ─> ApoResponse
//!                                 └─ time-out / refused / non-200 / bad or missing signature ─> CallError
//! ```
//!
//! It also builds the one `reqwest::Client` of the process (rustls, time-outs, no automatic
//! redirects) and lends it to whoever else needs plain HTTP (`http` and `redirect` steps, the
//! sandbox notifier).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use url::Url;

use super::endpoint::Endpoint;
use super::keys::PrivateKey;
use super::sign::{SignedParts, VerifyError, sign_with_key_version, verify};
use super::target::Target;
use crate::mask;

/// The content type every SDK sends (the charset matters to APO).
pub const CONTENT_TYPE: &str = "application/json; charset=UTF-8";
/// How long to wait for a connection by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole call may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to sign one request.
#[derive(Debug, Clone, Default)]
pub enum Signing {
    /// With the target's merchant key (the normal case).
    #[default]
    TargetKey,
    /// Not at all: no `signature` header (a negative test).
    Unsigned,
    /// With another private key (a negative test: a wrong key); parsed once, shared.
    WithKey(Arc<PrivateKey>),
}

/// Per-call choices; the default signs with the target's key, sends the standard headers and
/// verifies the response signature.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// How to sign.
    pub signing: Signing,
    /// Header changes applied after signing, in order: `(name, Some(value))` sets the header
    /// (replacing one of the same name, case-insensitively), `(name, None)` removes it.
    pub headers: Vec<(String, Option<String>)>,
    /// The literal `request-time` to send and sign; epoch milliseconds now when absent.
    pub request_time: Option<String>,
    /// Accept a response without checking its signature (for negative tests where APO does
    /// not sign, e.g. an `INVALID_SIGNATURE` answer).
    pub skip_response_verification: bool,
    /// A time-out for this call instead of the client's.
    pub timeout: Option<Duration>,
}

/// The request exactly as sent, for reports and evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    /// The HTTP method, always `POST`.
    pub method: &'static str,
    /// The full URL.
    pub url: Url,
    /// The path that was signed (and that the response is verified over).
    pub signed_path: String,
    /// The headers in the order sent.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl SentRequest {
    /// The value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

/// A verified APO answer.
#[derive(Debug, Clone)]
pub struct ApoResponse {
    /// The HTTP status (200 for every business result).
    pub status: u16,
    /// The response headers, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The body parsed as JSON.
    pub json: Value,
    /// Whether the response signature was checked and valid (false only when the caller asked
    /// to skip the check).
    pub signature_verified: bool,
    /// How long the call took.
    pub elapsed: Duration,
    /// The request that produced it.
    pub request: SentRequest,
}

impl ApoResponse {
    /// The value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(&self.headers, name)
    }
}

/// What is wrong with a response signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseSignatureProblem {
    /// One of `client-id`, `response-time`, `signature` is absent.
    MissingHeader(&'static str),
    /// The signature does not verify with the APO public key.
    Invalid(VerifyError),
}

impl fmt::Display for ResponseSignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseSignatureProblem::MissingHeader(name) => write!(
                f,
                "the response has no `{name}` header, so its signature cannot be verified"
            ),
            ResponseSignatureProblem::Invalid(e) => {
                write!(f, "the response signature is invalid: {e}")
            }
        }
    }
}

/// Why a call did not produce a verified APO answer. Each carries the request that was sent.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer in time.
    #[error("failed to call {endpoint} at {url}: no answer within {after:?} (timed out)", url = request.url)]
    Timeout {
        /// The API called.
        endpoint: Endpoint,
        /// The time-out that expired.
        after: Duration,
        /// What was sent.
        request: Box<SentRequest>,
    },
    /// The connection could not be made.
    #[error("failed to call {endpoint} at {url}: cannot connect ({cause})", url = request.url)]
    Connect {
        /// The API called.
        endpoint: Endpoint,
        /// The underlying cause.
        cause: String,
        /// What was sent.
        request: Box<SentRequest>,
    },
    /// Any other transport failure (reset connection, broken body, bad TLS).
    #[error("failed to call {endpoint} at {url}: {cause}", url = request.url)]
    Transport {
        /// The API called.
        endpoint: Endpoint,
        /// The underlying cause.
        cause: String,
        /// What was sent.
        request: Box<SentRequest>,
    },
    /// An HTTP status other than 200 (APO answers every business result with 200).
    #[error(
        "{endpoint} answered HTTP {status} (APO answers every business result with HTTP 200): {snippet}",
        snippet = body_snippet(body)
    )]
    Status {
        /// The API called.
        endpoint: Endpoint,
        /// The status received.
        status: u16,
        /// The raw body received.
        body: Vec<u8>,
        /// What was sent.
        request: Box<SentRequest>,
    },
    /// The response signature is missing or invalid; the response is kept for the report.
    #[error("{endpoint}: {problem}")]
    ResponseSignature {
        /// The API called.
        endpoint: Endpoint,
        /// What is wrong.
        problem: ResponseSignatureProblem,
        /// The unverified response.
        response: Box<ApoResponse>,
    },
    /// A 200 whose body is not JSON.
    #[error("{endpoint} answered HTTP 200 with a body that is not JSON ({cause}): {snippet}", snippet = body_snippet(body))]
    NotJson {
        /// The API called.
        endpoint: Endpoint,
        /// The parse error.
        cause: String,
        /// The raw body.
        body: Vec<u8>,
        /// What was sent.
        request: Box<SentRequest>,
    },
}

impl CallError {
    /// The request that was sent.
    pub fn request(&self) -> &SentRequest {
        match self {
            CallError::Timeout { request, .. }
            | CallError::Connect { request, .. }
            | CallError::Transport { request, .. }
            | CallError::Status { request, .. }
            | CallError::NotJson { request, .. } => request,
            CallError::ResponseSignature { response, .. } => &response.request,
        }
    }
}

/// The start of a body for a message, masked and on one line.
fn body_snippet(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(body);
    let masked = mask::mask_text(&text);
    let one_line: String = masked.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return "(empty body)".to_owned();
    }
    match one_line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The current time as APO's current docs ask: epoch milliseconds.
pub fn epoch_millis_now() -> String {
    jiff::Timestamp::now().as_millisecond().to_string()
}

/// Builds the signed request without sending it (also used by `apoflow sign`).
pub fn prepare(
    target: &Target,
    endpoint: Endpoint,
    body: Vec<u8>,
    options: &CallOptions,
) -> SentRequest {
    let signed_path = target.path(endpoint).into_owned();
    let time = options
        .request_time
        .clone()
        .unwrap_or_else(epoch_millis_now);
    let parts = SignedParts::post(&signed_path, &target.client_id, &time, &body);
    let signature = match &options.signing {
        Signing::TargetKey => Some(&target.private_key),
        Signing::WithKey(key) => Some(key.as_ref()),
        Signing::Unsigned => None,
    }
    .map(|key| sign_with_key_version(key, &parts, &target.key_version));
    let mut headers = vec![
        ("content-type".to_owned(), CONTENT_TYPE.to_owned()),
        ("client-id".to_owned(), target.client_id.clone()),
        ("request-time".to_owned(), time),
    ];
    if let Some(signature) = signature {
        headers.push(("signature".to_owned(), signature));
    }
    for (name, value) in &options.headers {
        let existing = headers
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(name));
        match (existing, value) {
            (Some(i), Some(v)) => headers[i].1 = v.clone(),
            (None, Some(v)) => headers.push((name.clone(), v.clone())),
            (Some(i), None) => {
                headers.remove(i);
            }
            (None, None) => {}
        }
    }
    SentRequest {
        method: "POST",
        url: target.url_for_path(&signed_path),
        signed_path,
        headers,
        body,
    }
}

/// Why the HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("failed to build the HTTP client: {0}")]
pub struct ClientBuildError(String);

/// How the process's HTTP client is built. Environment variables are read by the CLI's
/// `Context` and passed in here, never by reqwest itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long a whole call may take (per call overridable with [`CallOptions::timeout`]).
    pub timeout: Duration,
    /// An HTTP(S) proxy for every non-loopback request (loopback always goes direct).
    pub proxy: Option<String>,
    /// CA certificates (PEM files) trusted besides the system's: a TLS sandbox's `ca.pem`, a
    /// corporate proxy's CA.
    pub ca_files: Vec<std::path::PathBuf>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            proxy: None,
            ca_files: Vec::new(),
        }
    }
}

impl ClientConfig {
    /// The defaults, with the proxy from `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY` or
    /// `all_proxy` (looked up through `env`, the CLI's `Context`).
    pub fn with_proxy_from(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let proxy = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
            .into_iter()
            .find_map(|name| env(name).filter(|v| !v.trim().is_empty()));
        ClientConfig {
            proxy,
            ..ClientConfig::default()
        }
    }
}

/// The process's HTTP client and the APO call on top of it. Cheap to clone (shared inside).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    timeout: Duration,
}

impl Client {
    /// A client with the default time-outs and no proxy.
    pub fn new() -> Result<Client, ClientBuildError> {
        Client::from_config(&ClientConfig::default())
    }

    /// A client built from a config.
    pub fn from_config(config: &ClientConfig) -> Result<Client, ClientBuildError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("apoflow/", env!("CARGO_PKG_VERSION")))
            // reqwest would read proxy variables itself; the Context is the only reader.
            .no_proxy();
        if let Some(proxy) = &config.proxy {
            let proxy = reqwest::Proxy::all(proxy.as_str())
                .map_err(|e| {
                    ClientBuildError(format!(
                        "the proxy `{}` is not usable: {}",
                        mask::mask_text(proxy),
                        error_chain(&e)
                    ))
                })?
                .no_proxy(reqwest::NoProxy::from_string("localhost,127.0.0.1,::1"));
            builder = builder.proxy(proxy);
        }
        for file in &config.ca_files {
            builder = builder.add_root_certificate(read_ca(file)?);
        }
        let http = builder
            .build()
            .map_err(|e| ClientBuildError(error_chain(&e)))?;
        Ok(Client {
            http,
            timeout: config.timeout,
        })
    }

    /// The shared `reqwest::Client`, for plain HTTP (no automatic redirects, rustls).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Signs and sends one APO call and verifies the response signature.
    pub async fn call(
        &self,
        target: &Target,
        endpoint: Endpoint,
        body: Vec<u8>,
        options: &CallOptions,
    ) -> Result<ApoResponse, CallError> {
        let request = prepare(target, endpoint, body, options);
        self.send(target, endpoint, request, options).await
    }

    /// Sends a prepared request and checks the answer.
    pub async fn send(
        &self,
        target: &Target,
        endpoint: Endpoint,
        request: SentRequest,
        options: &CallOptions,
    ) -> Result<ApoResponse, CallError> {
        let timeout = options.timeout.unwrap_or(self.timeout);
        let mut builder = self
            .http
            .post(request.url.clone())
            .timeout(timeout)
            .body(request.body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let started = Instant::now();
        let classify = |e: reqwest::Error, request: SentRequest| {
            let request = Box::new(request);
            if e.is_timeout() {
                CallError::Timeout {
                    endpoint,
                    after: timeout,
                    request,
                }
            } else if e.is_connect() {
                CallError::Connect {
                    endpoint,
                    cause: error_chain(&e),
                    request,
                }
            } else {
                CallError::Transport {
                    endpoint,
                    cause: error_chain(&e),
                    request,
                }
            }
        };
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return Err(classify(e, request)),
        };
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = match response.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => return Err(classify(e, request)),
        };
        let elapsed = started.elapsed();
        if status != 200 {
            return Err(CallError::Status {
                endpoint,
                status,
                body,
                request: Box::new(request),
            });
        }
        let json = match serde_json::from_slice::<Value>(&body) {
            Ok(v) => v,
            Err(e) => {
                return Err(CallError::NotJson {
                    endpoint,
                    cause: e.to_string(),
                    body,
                    request: Box::new(request),
                });
            }
        };
        let mut response = ApoResponse {
            status,
            headers,
            body,
            json,
            signature_verified: false,
            elapsed,
            request,
        };
        if options.skip_response_verification {
            return Ok(response);
        }
        match verify_response(target, &response) {
            Ok(()) => {
                response.signature_verified = true;
                Ok(response)
            }
            Err(problem) => Err(CallError::ResponseSignature {
                endpoint,
                problem,
                response: Box::new(response),
            }),
        }
    }
}

/// Verifies a response's signature over the path that was called, with the APO public key.
pub fn verify_response(
    target: &Target,
    response: &ApoResponse,
) -> Result<(), ResponseSignatureProblem> {
    let get = |name: &'static str| {
        response
            .header(name)
            .ok_or(ResponseSignatureProblem::MissingHeader(name))
    };
    let signature = get("signature")?;
    let client_id = get("client-id")?;
    let time = get("response-time")?;
    let parts = SignedParts::post(
        &response.request.signed_path,
        client_id,
        time,
        &response.body,
    );
    verify(&target.apo_public_key, &parts, signature).map_err(ResponseSignatureProblem::Invalid)
}

/// An error and its sources on one line, `a: b: c` (reqwest's own message alone is vague).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Reads one CA certificate (PEM) to trust; the size is bounded ([`MAX_CA_FILE`]).
fn read_ca(file: &std::path::Path) -> Result<reqwest::Certificate, ClientBuildError> {
    let bad = |what: String| {
        ClientBuildError(format!(
            "the CA file {} {what}; give a PEM certificate (a TLS sandbox writes its CA to \
             DIR/ca.pem)",
            file.display()
        ))
    };
    let meta = std::fs::metadata(file).map_err(|e| bad(format!("cannot be read: {e}")))?;
    if !meta.is_file() || meta.len() > MAX_CA_FILE {
        return Err(bad(format!(
            "is not a regular file of at most {MAX_CA_FILE} bytes"
        )));
    }
    let pem = std::fs::read(file).map_err(|e| bad(format!("cannot be read: {e}")))?;
    reqwest::Certificate::from_pem(&pem).map_err(|e| bad(format!("is not a certificate: {e}")))
}

/// The largest CA file read (a certificate is a few KiB; a bundle may be a few hundred).
pub const MAX_CA_FILE: u64 = 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apo::keys::PublicKey;
    use crate::apo::target::EMBEDDED_MERCHANT_PUBLIC_PEM;

    fn target() -> Target {
        Target::embedded(Url::parse("http://127.0.0.1:9").unwrap())
    }

    #[test]
    fn prepare_signs_the_sandbox_path_with_the_standard_headers() {
        let t = target();
        let options = CallOptions {
            request_time: Some("2025-03-17T02:22:52+00:00".into()),
            ..CallOptions::default()
        };
        let req = prepare(&t, Endpoint::Pay, b"{\"a\":1}".to_vec(), &options);
        assert_eq!(
            req.url.as_str(),
            "http://127.0.0.1:9/ams/sandbox/api/v1/payments/pay"
        );
        assert_eq!(req.signed_path, "/ams/sandbox/api/v1/payments/pay");
        let names: Vec<&str> = req.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["content-type", "client-id", "request-time", "signature"]
        );
        let parts = SignedParts::post(
            &req.signed_path,
            t.client_id.as_str(),
            "2025-03-17T02:22:52+00:00",
            &req.body,
        );
        let merchant = PublicKey::from_text(EMBEDDED_MERCHANT_PUBLIC_PEM).unwrap();
        verify(&merchant, &parts, req.header("signature").unwrap()).unwrap();
    }

    #[test]
    fn overrides_set_replace_and_remove_headers() {
        let options = CallOptions {
            signing: Signing::Unsigned,
            headers: vec![
                ("Client-Id".into(), Some("OTHER".into())),
                ("x-extra".into(), Some("1".into())),
                ("content-type".into(), None),
            ],
            ..CallOptions::default()
        };
        let req = prepare(&target(), Endpoint::Refund, Vec::new(), &options);
        assert_eq!(req.header("client-id"), Some("OTHER"));
        assert_eq!(req.header("x-extra"), Some("1"));
        assert_eq!(req.header("content-type"), None);
        assert_eq!(req.header("signature"), None);
        assert!(req.header("request-time").unwrap().parse::<u64>().is_ok());
    }

    #[test]
    fn key_version_is_sent() {
        let mut t = target();
        t.key_version = "3".into();
        let req = prepare(&t, Endpoint::Pay, Vec::new(), &CallOptions::default());
        assert!(
            req.header("signature")
                .unwrap()
                .starts_with("algorithm=RSA256,keyVersion=3,signature=")
        );
    }

    #[test]
    fn the_proxy_comes_from_the_given_environment_only() {
        let env = |name: &str| (name == "https_proxy").then(|| "http://proxy.test:3128".to_owned());
        let config = ClientConfig::with_proxy_from(&env);
        assert_eq!(config.proxy.as_deref(), Some("http://proxy.test:3128"));
        Client::from_config(&config).unwrap();
        assert_eq!(
            ClientConfig::with_proxy_from(&|_| None),
            ClientConfig::default()
        );
        let bad = ClientConfig {
            proxy: Some("::not a url::".into()),
            ..ClientConfig::default()
        };
        let err = Client::from_config(&bad).unwrap_err().to_string();
        assert!(err.contains("is not usable"), "{err}");
    }

    #[test]
    fn body_snippets_are_masked_and_short() {
        assert_eq!(body_snippet(b""), "(empty body)");
        assert_eq!(
            body_snippet(b"card 4054695723100768\n ok"),
            "card ************0768 ok"
        );
        assert!(body_snippet(&[b'x'; 1000]).ends_with('…'));
    }
}
