//! The embedded APO sandbox: a local simulator of APO's card hosted-mode API.
//!
//! ```text
//!  every connection ─► server.rs (connection limit, header/idle and body time-outs, graceful stop)
//!  merchant / runner / SDK ──POST /ams/[sandbox/]api/v1/payments/{api}──► api.rs
//!      raw body ─► verify (merchant key of client-id) ─► validate ─► State::handle_* ─► signed 200
//!  buyer's browser ──GET/POST /page/…──► hosted_page.rs ─► State::handle_card / _challenge
//!  State returns Notices ─► Notifier (signed POSTs, retry schedule on the virtual Clock)
//!  every API call (failures too) ─► journal.rs (GET /_sandbox/calls)
//!  tests / flows ──/_sandbox/…──► control.rs (reset, clock, faults, deliveries, calls)
//!  error scenarios (POST /_sandbox/scenarios) ─► scenarios/: forced answers, delays, drops
//!  --state FILE: State / Notifier / Journal queue changed rows ─► persist.rs (SQLite, one
//!      writer thread) ─► resumed by the next start ([`Resume`], [`start_resumed`])
//! ```
//! Start it on a pre-bound listener with [`start`]; the returned [`SandboxHandle`] stops it
//! when dropped, or gracefully with [`SandboxHandle::stop`]. With [`Config::tls_dir`] it serves
//! HTTPS with a certificate from a local CA (`tls.rs`).

mod api;
pub mod cards;
mod clock;
mod control;
mod error;
mod faults;
mod hosted_page;
mod journal;
mod notifier;
mod payment;
mod payment_index;
mod persist;
mod routes;
mod scenarios;
mod state;
mod tls;
mod tokens;
mod validate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::apo::keys::{KeyError, PrivateKey, PublicKey};
use crate::apo::target::{
    EMBEDDED_APO_PRIVATE_PEM, EMBEDDED_CLIENT_ID, EMBEDDED_MERCHANT_PUBLIC_PEM,
};

/// How a sandbox is set up.
#[derive(Debug, Clone)]
pub struct Config {
    merchants: HashMap<String, PublicKey>,
    notify_urls: HashMap<String, String>,
    /// Clients whose buyers return only after the merchant heard from APO (see
    /// [`Config::notify_before_return`]).
    notify_first: std::collections::HashSet<String>,
    apo_key: PrivateKey,
    control_token: Option<String>,
    http: Option<reqwest::Client>,
    tls: Option<Arc<tls::LocalCa>>,
    limits: Limits,
    resends: bool,
}

pub use crate::serve::{BODY_TIMEOUT, IDLE_TIMEOUT, Limits, MAX_CONNECTIONS, SHUTDOWN_GRACE};
pub use persist::{SCHEMA_VERSION, StateFileError};
pub use tls::{CA_FILE, CA_KEY_FILE, TlsError};
pub use validate::targets_control_api;

impl Config {
    /// The embedded default: the default merchant ([`EMBEDDED_CLIENT_ID`]) registered, the
    /// fixed sandbox APO key (both from `apo::target`), control API open to loopback callers
    /// only, notifications sent through a client built by `apo::client`.
    pub fn embedded() -> Result<Self, KeyError> {
        // Test-only, but a private key all the same: never printed.
        crate::mask::register_key_text(EMBEDDED_APO_PRIVATE_PEM);
        let mut merchants = HashMap::new();
        merchants.insert(
            EMBEDDED_CLIENT_ID.to_owned(),
            PublicKey::from_text(EMBEDDED_MERCHANT_PUBLIC_PEM)?,
        );
        Ok(Config {
            merchants,
            notify_urls: HashMap::new(),
            notify_first: std::collections::HashSet::new(),
            apo_key: PrivateKey::from_text(EMBEDDED_APO_PRIVATE_PEM)?,
            control_token: None,
            http: None,
            tls: None,
            limits: Limits::default(),
            resends: true,
        })
    }

    /// Signs responses and notifications with `key` instead of the fixed test-only key.
    /// `apoflow run` makes a key pair per run: the fixed key is public, so any local process
    /// could forge notifications signed with it. The key's text is registered with the masker.
    pub fn sign_with(&mut self, key: PrivateKey) {
        if let Ok(text) = key.to_pkcs8_base64() {
            crate::mask::register_key_text(&text);
        }
        self.apo_key = key;
    }

    /// Registers (or replaces) a merchant: requests with this `client-id` are verified with
    /// this public key.
    pub fn register_merchant(&mut self, client_id: &str, key: PublicKey) {
        self.merchants.insert(client_id.to_owned(), key);
    }

    /// Sets (or, with `None`, removes) the client's default notification URL, the stand-in
    /// for the URL configured in APO's dashboard: a pay of this client without a
    /// `paymentNotifyUrl` is notified there. With neither, no notification is sent.
    pub fn default_notify_url(&mut self, client_id: &str, url: Option<String>) {
        match url {
            Some(url) => self.notify_urls.insert(client_id.to_owned(), url),
            None => self.notify_urls.remove(client_id),
        };
    }

    /// For this client (a merchant under test), the hosted page sends the buyer back only after
    /// the first delivery attempt of the notifications the payment caused has completed (at
    /// most two seconds), so that by default the merchant hears from APO before its buyer
    /// returns, as it mostly does in production, and flows see one order; a delivery fault
    /// (drop, delay) tests the other. Other clients' buyers return at once.
    pub fn notify_before_return(&mut self, client_id: &str) {
        self.notify_first.insert(client_id.to_owned());
    }

    /// The client's default notification URL, if one is set.
    fn notify_url(&self, client_id: &str) -> Option<&str> {
        self.notify_urls.get(client_id).map(String::as_str)
    }

    /// Opens the control API to any caller presenting this token (header
    /// `x-sandbox-token` or `authorization: Bearer …`).
    pub fn control_token(&mut self, token: Option<String>) {
        if let Some(t) = &token {
            crate::mask::register_secret(t);
        }
        self.control_token = token;
    }

    /// Sends notifications through this client (the one `apo::client` built for the process)
    /// instead of a default one built by [`crate::apo::Client::new`].
    pub fn http_client(&mut self, http: reqwest::Client) {
        self.http = Some(http);
    }

    /// Serves HTTPS: loads the local CA in `dir` ([`CA_FILE`] and [`CA_KEY_FILE`]), or creates
    /// it (and `dir`) when neither file is there; [`start`] then makes a fresh certificate for
    /// `localhost`, `127.0.0.1`, `::1` and the address it listens on. Clients trust
    /// `dir/ca.pem`. Fails, naming the file and what to do, when `dir` is not writable or the
    /// files are not a usable pair.
    pub fn tls_dir(&mut self, dir: &Path) -> Result<(), TlsError> {
        self.tls = Some(Arc::new(tls::LocalCa::open(dir)?));
        Ok(())
    }

    /// Bounds the server: connections open at once and the idle/header time-out (defaults:
    /// [`MAX_CONNECTIONS`], [`IDLE_TIMEOUT`]).
    pub fn limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Resends unacknowledged notifications on APO's schedule (`true`, the default: production
    /// behaviour), or sends each once (`false`: APO's own sandbox, which does not resend).
    pub fn resends(&mut self, on: bool) {
        self.resends = on;
    }

    /// The registered client ids, sorted.
    pub fn client_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.merchants.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }
}

/// What every handler shares.
#[derive(Debug)]
struct App {
    state: Arc<state::State>,
    notifier: Arc<notifier::Notifier>,
    journal: journal::Journal,
    scenarios: scenarios::Scenarios,
    config: Config,
}

impl App {
    /// The journaled API calls matching every filter of `query` (`api`, `clientId`,
    /// `paymentId`, `paymentRequestId`, `after`), oldest first, unmasked.
    fn calls(&self, query: &HashMap<String, String>) -> Result<Value, String> {
        journal::CallFilter::from_query(query).map(|f| self.journal.list(&f))
    }

    /// The deliveries matching every filter of `query` (`type`, `paymentId`, `clientId`,
    /// `after`), with their attempts, oldest first, unmasked.
    fn deliveries(&self, query: &HashMap<String, String>) -> Result<Value, String> {
        notifier::DeliveryFilter::from_query(query).map(|f| self.notifier.list(&f))
    }
}

/// The journals of a sandbox started in this process, read without its control API: what
/// `GET /_sandbox/calls` and `GET /_sandbox/deliveries` list, before masking. For the run's
/// own `received` and `delivery` steps, which must match ids as the merchant sent them (one
/// that looks like a card number is masked in every output, not in what a step compares).
#[derive(Debug, Clone)]
pub struct Listings(Arc<App>);

impl Listings {
    /// `GET /_sandbox/calls` with this query, unmasked; an unknown filter is an `Err`.
    pub fn calls(&self, query: &HashMap<String, String>) -> Result<Value, String> {
        self.0.calls(query)
    }

    /// `GET /_sandbox/deliveries` with this query, unmasked; an unknown filter is an `Err`.
    pub fn deliveries(&self, query: &HashMap<String, String>) -> Result<Value, String> {
        self.0.deliveries(query)
    }
}

/// A state file opened for a sandbox to resume (`apoflow sandbox --state FILE`): what it
/// holds, read once, and the file every later change is written to.
#[derive(Debug)]
pub struct Resume {
    file: Arc<persist::StateFile>,
    saved: persist::Saved,
}

impl Resume {
    /// Opens (or creates, mode 0600) the state file and reads it. A file that is not an
    /// apoflow state file, comes from a newer apoflow, or is in use by another running
    /// sandbox is refused with a message naming it and what to do.
    pub fn open(path: &Path) -> Result<Self, StateFileError> {
        let (file, saved) = persist::StateFile::open(path)?;
        Ok(Resume {
            file: Arc::new(file),
            saved,
        })
    }

    /// How many payments and deliveries the file holds.
    pub fn counts(&self) -> (usize, usize) {
        (self.saved.payments.len(), self.saved.deliveries.len())
    }
}

/// How a sandbox stopped.
#[derive(Debug)]
pub struct Stopped {
    /// Deliveries not yet delivered nor failed.
    pub pending: usize,
    /// The state file everything was written to, if there is one.
    pub state_file: Option<PathBuf>,
    /// Why the state file could not be written, if it could not.
    pub state_error: Option<String>,
}

/// A running sandbox; dropping it shuts the server down.
#[derive(Debug)]
pub struct SandboxHandle {
    url: String,
    ca_file: Option<PathBuf>,
    shutdown: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
    notifier: Arc<notifier::Notifier>,
    state: Arc<state::State>,
    app: Arc<App>,
}

impl SandboxHandle {
    /// Its journals, to read in this process.
    pub fn listings(&self) -> Listings {
        Listings(self.app.clone())
    }

    /// Stops the sandbox gracefully: no new connections, requests in flight finish (at most
    /// [`SHUTDOWN_GRACE`]), notifications stop; with a state file, waits until every change
    /// is written (pending deliveries go out at the next start). Returns once stopped.
    pub async fn stop(mut self) -> Stopped {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = served.await;
        }
        // Notices of transitions noticed but not yet queued become deliveries, so a state file
        // keeps them too.
        self.notifier
            .enqueue(self.state.sweep(), self.state.clock.now());
        let pending = self.notifier.counts().1;
        let state = self.state.clone();
        let flushed = tokio::task::spawn_blocking(move || {
            state.file().map(|f| (f.path().to_owned(), f.flush().err()))
        })
        .await
        .ok()
        .flatten();
        let (state_file, state_error) = match flushed {
            Some((path, error)) => (Some(path), error),
            None => (None, None),
        };
        Stopped {
            pending,
            state_file,
            state_error,
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`, or with TLS `https://127.0.0.7` (the port
    /// omitted when it is 443); no trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// With TLS, the CA certificate clients must trust (`DIR/ca.pem`).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves the sandbox on an already-bound listener (HTTPS when [`Config::tls_dir`] was set).
/// Must be called inside a tokio runtime. A failure to make the certificate is an
/// [`std::io::Error`] wrapping the [`TlsError`].
pub fn start(listener: TcpListener, config: Config) -> std::io::Result<SandboxHandle> {
    start_with(listener, config, None)
}

/// [`start`], resuming the state of a state file and writing every change to it. A row the
/// sandbox cannot read is an [`std::io::Error`] naming the file.
pub fn start_resumed(
    listener: TcpListener,
    config: Config,
    resume: Resume,
) -> std::io::Result<SandboxHandle> {
    start_with(listener, config, Some(resume))
}

fn start_with(
    listener: TcpListener,
    config: Config,
    resume: Option<Resume>,
) -> std::io::Result<SandboxHandle> {
    let addr = listener.local_addr()?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let url = match (&config.tls, addr.port()) {
        (Some(_), 443) => format!("https://{host}"),
        (Some(_), port) => format!("https://{host}:{port}"),
        (None, port) => format!("http://{host}:{port}"),
    };
    let ca_file = config.tls.as_ref().map(|ca| ca.ca_file().to_owned());
    let limits = config.limits;
    let listener = crate::serve::GatedListener::new(listener, limits.max_connections);
    let listener = match &config.tls {
        None => Bound::Plain(listener),
        Some(ca) => {
            let server = ca.server_config(addr.ip()).map_err(std::io::Error::other)?;
            Bound::Tls(tls::TlsListener::new(listener, server)?)
        }
    };
    let http = match &config.http {
        Some(http) => http.clone(),
        None => crate::apo::Client::new()
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .http()
            .clone(),
    };
    let seq = Arc::new(journal::Sequence::default());
    let mut notifier = notifier::Notifier::new(config.apo_key.clone(), http, seq.clone());
    notifier.set_resends(config.resends);
    let (state, journal) = match resume {
        None => (
            state::State::new(url.clone()),
            journal::Journal::new(seq.clone()),
        ),
        Some(Resume { file, mut saved }) => {
            let path = file.path().display().to_string();
            let unreadable = |e: String| {
                std::io::Error::other(format!(
                    "--state {path}: {e}; give another --state file, or move this one away to start afresh"
                ))
            };
            let state =
                state::State::restore(url.clone(), file.clone(), &mut saved).map_err(unreadable)?;
            let calls = std::mem::take(&mut saved.calls);
            let journal = journal::Journal::restore(
                seq.clone(),
                file.clone(),
                calls,
                saved.meta(persist::Meta::CallsDropped),
            )
            .map_err(unreadable)?;
            let ids = (
                saved.meta(persist::Meta::DeliveryId),
                saved.meta(persist::Meta::DeliveriesDropped),
            );
            notifier
                .restore(file, std::mem::take(&mut saved.deliveries), ids)
                .map_err(unreadable)?;
            let last = u64::try_from(saved.meta(persist::Meta::Sequence)).unwrap_or(0);
            seq.raise_to(last.max(journal.counts().1).max(notifier.counts().2));
            (state, journal)
        }
    };
    let state = Arc::new(state);
    let notifier = Arc::new(notifier);
    let app = Arc::new(App {
        state: state.clone(),
        notifier: notifier.clone(),
        journal,
        scenarios: scenarios::Scenarios::default(),
        config,
    });
    let (tx, rx) = oneshot::channel::<()>();
    let delivery = tokio::spawn(notifier.clone().run(state.clone()));
    let router = routes::app(app.clone());
    let served = tokio::spawn(async move {
        let shutdown = async {
            let _ = rx.await;
        };
        match listener {
            Bound::Plain(l) => crate::serve::serve(l, router, limits, shutdown).await,
            Bound::Tls(l) => crate::serve::serve(l, router, limits, shutdown).await,
        }
        delivery.abort();
    });
    Ok(SandboxHandle {
        url,
        ca_file,
        shutdown: Some(tx),
        served: Some(served),
        notifier,
        state,
        app,
    })
}

/// The listener a sandbox serves on.
enum Bound {
    Plain(crate::serve::GatedListener),
    Tls(tls::TlsListener),
}
