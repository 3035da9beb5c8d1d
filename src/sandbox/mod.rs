//! The embedded APO sandbox: a local simulator of APO's card hosted-mode API.
//!
//! ```text
//!  merchant / runner / SDK ──POST /ams/[sandbox/]api/v1/payments/{api}──► api.rs
//!      raw body ─► verify (merchant key of client-id) ─► validate ─► State::handle_* ─► signed 200
//!  buyer's browser ──GET/POST /page/…──► hosted_page.rs ─► State::handle_card / _challenge
//!  State returns Notices ─► Notifier (signed POSTs, retry schedule on the virtual Clock)
//!  tests / flows ──/_sandbox/…──► control.rs (reset, clock, faults, deliveries)
//! ```
//! Start it on a pre-bound listener with [`start`]; the returned [`SandboxHandle`] stops it
//! when dropped.

mod api;
pub mod cards;
mod clock;
mod control;
mod error;
mod hosted_page;
mod notifier;
mod payment;
mod routes;
mod state;
mod tokens;
mod validate;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::apo::keys::{KeyError, PrivateKey, PublicKey};

/// The client id of the embedded default merchant (its key is fixtures/keys/merchant-*.pem).
pub const DEFAULT_CLIENT_ID: &str = "SANDBOX_APOFLOW_MERCHANT";
/// The default merchant's public key (test-only).
pub const DEFAULT_MERCHANT_PUBLIC_KEY: &str =
    include_str!("../../fixtures/keys/merchant-public.pem");
/// The sandbox's own "APO" private key (test-only): signs responses and notifications.
pub const SANDBOX_APO_PRIVATE_KEY: &str =
    include_str!("../../fixtures/keys/sandbox-apo-private.pem");

/// How a sandbox is set up.
#[derive(Debug, Clone)]
pub struct Config {
    merchants: HashMap<String, PublicKey>,
    apo_key: PrivateKey,
    control_token: Option<String>,
}

impl Config {
    /// The embedded default: the default merchant registered, the fixed sandbox APO key,
    /// control API open to loopback callers only.
    pub fn embedded() -> Result<Self, KeyError> {
        let mut merchants = HashMap::new();
        merchants.insert(
            DEFAULT_CLIENT_ID.to_owned(),
            PublicKey::from_text(DEFAULT_MERCHANT_PUBLIC_KEY)?,
        );
        Ok(Config {
            merchants,
            apo_key: PrivateKey::from_text(SANDBOX_APO_PRIVATE_KEY)?,
            control_token: None,
        })
    }

    /// Registers (or replaces) a merchant: requests with this `client-id` are verified with
    /// this public key.
    pub fn register_merchant(&mut self, client_id: &str, key: PublicKey) {
        self.merchants.insert(client_id.to_owned(), key);
    }

    /// Opens the control API to any caller presenting this token (header
    /// `x-sandbox-token` or `authorization: Bearer …`).
    pub fn control_token(&mut self, token: Option<String>) {
        if let Some(t) = &token {
            crate::mask::register_secret(t);
        }
        self.control_token = token;
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
    config: Config,
}

/// A running sandbox; dropping it shuts the server down.
#[derive(Debug)]
pub struct SandboxHandle {
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl SandboxHandle {
    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves the sandbox on an already-bound listener. Must be called inside a tokio runtime.
pub fn start(listener: TcpListener, config: Config) -> std::io::Result<SandboxHandle> {
    let addr = listener.local_addr()?;
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    let url = format!("http://{host}:{}", addr.port());
    let state = Arc::new(state::State::new(url.clone()));
    let notifier = Arc::new(notifier::Notifier::new(config.apo_key.clone()));
    let app = Arc::new(App {
        state: state.clone(),
        notifier: notifier.clone(),
        config,
    });
    let (tx, rx) = oneshot::channel::<()>();
    let delivery = tokio::spawn(notifier.run(state));
    let router = routes::app(app).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        delivery.abort();
        if let Err(e) = served {
            tracing::error!("sandbox server stopped: {e}");
        }
    });
    Ok(SandboxHandle {
        url,
        shutdown: Some(tx),
    })
}
