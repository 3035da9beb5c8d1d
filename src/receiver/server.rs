//! The receiver's HTTP side: one axum handler for every path, on a pre-bound loopback listener.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use url::Url;

use super::inbox::{
    Ack, FAIL_BODY, Inbox, Notification, SUCCESS_BODY, SignatureVerdict, WRONG_FORMAT_BODY,
};
use crate::apo::keys::PublicKey;
use crate::apo::sign::{SignedParts, verify};

/// The largest notification body accepted (APO's are a few kilobytes); larger posts get 413.
pub const MAX_NOTIFICATION_BYTES: usize = 256 << 10;

/// The most notifications read at once; more wait their turn before their body is read, so
/// bodies being read take at most 16 MiB. A notification in the inbox, its answer held for a
/// waiter (the claim grace), no longer counts: held answers are bounded by the server's
/// connections ([`crate::serve::MAX_CONNECTIONS`]) and the inbox.
pub const MAX_IN_FLIGHT: usize = 64;

/// How the receiver behaves.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// APO's public key (the target's), to verify notification signatures.
    pub apo_public_key: PublicKey,
    /// The URL APO should call when it cannot reach loopback (a tunnel to this receiver, for
    /// live targets); [`ReceiverHandle::url`] returns it instead of the local URL.
    pub public_url: Option<Url>,
    /// How long an unclaimed notification's answer is held for a waiter to choose the
    /// acknowledgement; after that it gets the fixed success answer.
    pub claim_grace: Duration,
    /// How long `Ack::NoAnswer` holds the connection open before giving up on it.
    pub no_answer_hold: Duration,
}

impl ReceiverConfig {
    /// The default hold for unclaimed notifications.
    pub const DEFAULT_CLAIM_GRACE: Duration = Duration::from_secs(5);
    /// The default hold for `Ack::NoAnswer`.
    pub const DEFAULT_NO_ANSWER_HOLD: Duration = Duration::from_secs(60);

    /// A config with the defaults and no public URL.
    pub fn new(apo_public_key: PublicKey) -> Self {
        ReceiverConfig {
            apo_public_key,
            public_url: None,
            claim_grace: Self::DEFAULT_CLAIM_GRACE,
            no_answer_hold: Self::DEFAULT_NO_ANSWER_HOLD,
        }
    }
}

/// The running receiver. Dropping it shuts the server down.
#[derive(Debug)]
pub struct ReceiverHandle {
    local_url: Url,
    public_url: Option<Url>,
    shutdown: watch::Sender<bool>,
}

impl ReceiverHandle {
    /// The URL to give APO as the notify URL: the public URL when configured, else the local
    /// one. Any path below it is accepted.
    pub fn url(&self) -> &Url {
        self.public_url.as_ref().unwrap_or(&self.local_url)
    }

    /// The loopback URL the server listens on, e.g. `http://127.0.0.1:43117/`.
    pub fn local_url(&self) -> &Url {
        &self.local_url
    }
}

impl Drop for ReceiverHandle {
    fn drop(&mut self) {
        // Nobody listening means the server is already gone.
        let _ = self.shutdown.send(true);
    }
}

#[derive(Clone)]
struct App {
    /// Permits to read a body: [`MAX_IN_FLIGHT`].
    in_flight: Arc<Semaphore>,
    inbox: Inbox,
    config: ReceiverConfig,
    shutdown: watch::Receiver<bool>,
}

/// Starts the receiver on a bound listener (call it inside a tokio runtime). Returns the handle
/// (URL, shutdown on drop) and the inbox the steps wait on.
pub fn start(
    listener: tokio::net::TcpListener,
    config: ReceiverConfig,
) -> io::Result<(ReceiverHandle, Inbox)> {
    let addr = listener.local_addr()?;
    let local_url = Url::parse(&format!("http://{addr}/"))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let (tx, rx) = watch::channel(false);
    let inbox = Inbox::default();
    let public_url = config.public_url.clone();
    let app = App {
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        inbox: inbox.clone(),
        config,
        shutdown: rx.clone(),
    };
    let router = Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(MAX_NOTIFICATION_BYTES))
        .layer(middleware::from_fn_with_state(app.clone(), one_of_few))
        .with_state(app);
    let mut stop = rx;
    tokio::spawn(async move {
        // Bounded as the sandbox is: connections, header and idle time, body time.
        let limits = crate::serve::Limits::default();
        let listener = crate::serve::GatedListener::new(listener, limits.max_connections);
        crate::serve::serve(listener, router, limits, async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
        .await;
    });
    Ok((
        ReceiverHandle {
            local_url,
            public_url,
            shutdown: tx,
        },
        inbox,
    ))
}

/// Lets at most [`MAX_IN_FLIGHT`] requests be read at once: the handler gives its permit back
/// once the notification is in the inbox ([`ReadPermit::release`]).
async fn one_of_few(State(app): State<App>, mut request: Request, next: Next) -> Response {
    match app.in_flight.clone().acquire_owned().await {
        Ok(permit) => {
            request
                .extensions_mut()
                .insert(ReadPermit(Arc::new(Mutex::new(Some(permit)))));
            next.run(request).await
        }
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// A request's permit to be read (one of [`MAX_IN_FLIGHT`]). Held while the body is read and
/// the notification kept; given back before its answer waits for a claim, so unclaimed
/// notifications (a capture result no flow waits for) do not keep others from being read.
#[derive(Clone)]
struct ReadPermit(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl ReadPermit {
    /// Gives the permit back (once; later calls do nothing).
    fn release(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// Verifies a notification's signature over the path it arrived on.
fn verdict(app: &App, path: &str, headers: &HeaderMap, body: &[u8]) -> SignatureVerdict {
    let get = |name: &'static str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(SignatureVerdict::MissingHeader(name))
    };
    let (signature, client_id, time) =
        match (get("signature"), get("client-id"), get("request-time")) {
            (Ok(s), Ok(c), Ok(t)) => (s, c, t),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
        };
    let parts = SignedParts::post(path, client_id, time, body);
    match verify(&app.config.apo_public_key, &parts, signature) {
        Ok(()) => SignatureVerdict::Valid,
        Err(e) => SignatureVerdict::Invalid(e),
    }
}

async fn receive(
    State(app): State<App>,
    Extension(permit): Extension<ReadPermit>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            "notifications are POSTed\n",
        )
            .into_response();
    }
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let notification = Notification {
        seq: 0,
        signature: verdict(&app, &path, &headers, &body),
        path,
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        json: serde_json::from_slice(&body).ok(),
        body: body.to_vec(),
        received_at: jiff::Timestamp::now(),
        ack: None,
        replay_of: None,
    };
    let (seq, answer) = match app.inbox.push(notification) {
        Ok(kept) => kept,
        Err(full) => {
            tracing::warn!("a notification was refused: {full}");
            return (StatusCode::SERVICE_UNAVAILABLE, format!("{full}\n")).into_response();
        }
    };
    permit.release();

    let mut shutdown = app.shutdown.clone();
    let ack = tokio::select! {
        chosen = tokio::time::timeout(app.config.claim_grace, answer) => match chosen {
            Ok(Ok(ack)) => ack,
            Ok(Err(_)) | Err(_) => app.inbox.answer_unclaimed(seq, Ack::Success),
        },
        _ = shutdown.wait_for(|stopped| *stopped) => app.inbox.answer_unclaimed(seq, Ack::Success),
    };
    match ack {
        Ack::Success => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            SUCCESS_BODY,
        )
            .into_response(),
        Ack::Fail => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            FAIL_BODY,
        )
            .into_response(),
        Ack::WrongFormat => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            WRONG_FORMAT_BODY,
        )
            .into_response(),
        Ack::NoAnswer => {
            // Hold the connection so the sender times out; give up at the hold or shutdown.
            let mut shutdown = app.shutdown.clone();
            tokio::select! {
                () = tokio::time::sleep(app.config.no_answer_hold) => {}
                _ = shutdown.wait_for(|stopped| *stopped) => {}
            }
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apo::target::EMBEDDED_APO_PUBLIC_PEM;

    /// More unclaimed notifications than [`MAX_IN_FLIGHT`], their answers held for a claim
    /// that never comes: every one is read and kept at once; none waits for another's hold.
    #[tokio::test]
    async fn held_answers_do_not_keep_other_notifications_from_being_read() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config =
            ReceiverConfig::new(PublicKey::from_text(EMBEDDED_APO_PUBLIC_PEM).unwrap());
        config.claim_grace = Duration::from_secs(60);
        let (handle, inbox) = start(listener, config).unwrap();
        let http = reqwest::Client::new();
        let sent = MAX_IN_FLIGHT + 8;
        for _ in 0..sent {
            let post = http.post(handle.local_url().as_str()).body("{}").send();
            tokio::spawn(post);
        }
        let kept = tokio::time::timeout(Duration::from_secs(20), async {
            while inbox.all().len() < sent {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(
            kept.is_ok(),
            "{} of {sent} kept while the first answers were held",
            inbox.all().len()
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_and_not_kept() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config =
            ReceiverConfig::new(PublicKey::from_text(EMBEDDED_APO_PUBLIC_PEM).unwrap());
        config.claim_grace = Duration::ZERO;
        let (handle, inbox) = start(listener, config).unwrap();
        let http = reqwest::Client::new();
        let post = |len: usize| {
            http.post(handle.local_url().as_str())
                .body(vec![b' '; len])
                .send()
        };
        let refused = post(MAX_NOTIFICATION_BYTES + 1).await.unwrap();
        assert_eq!(refused.status(), 413);
        let kept = post(MAX_NOTIFICATION_BYTES).await.unwrap();
        assert_eq!(kept.status(), 500, "unsigned: answered `fail`");
        assert_eq!(inbox.all().len(), 1);
    }
}
