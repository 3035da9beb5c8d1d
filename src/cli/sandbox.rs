//! `apoflow sandbox --listen ADDR [--merchant CLIENT_ID=PUBKEYFILE]... [--control-token T]`:
//! run the embedded APO sandbox standalone until interrupted, so a merchant's own server or the
//! official SDKs can be pointed at it.

use std::io::Write as _;
use std::path::Path;

use super::exit;
use crate::apo::keys::PublicKey;
use crate::sandbox::{self, Config};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/keys");

/// Parses `CLIENT_ID=PUBKEYFILE` and loads the key.
fn merchant(spec: &str) -> Result<(String, PublicKey), String> {
    let Some((id, file)) = spec
        .split_once('=')
        .filter(|(id, f)| !id.is_empty() && !f.is_empty())
    else {
        return Err(format!(
            "--merchant {spec}: expected CLIENT_ID=PUBLIC_KEY_FILE, e.g. SANDBOX_MY_SHOP=keys/shop-public.pem"
        ));
    };
    let text = std::fs::read_to_string(Path::new(file))
        .map_err(|e| format!("--merchant {id}: cannot read {file}: {e}"))?;
    let key = PublicKey::from_text(&text).map_err(|e| format!("--merchant {id}: {file}: {e}"))?;
    Ok((id.to_owned(), key))
}

/// Runs the sandbox; returns an exit code.
pub fn run(listen: &str, merchants: &[String], control_token: Option<String>) -> u8 {
    let mut config = match Config::embedded() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: the embedded sandbox keys do not load: {e}");
            return exit::INVALID;
        }
    };
    for spec in merchants {
        match merchant(spec) {
            Ok((id, key)) => config.register_merchant(&id, key),
            Err(msg) => {
                eprintln!("error: {msg}");
                return exit::INVALID;
            }
        }
    }
    let token_set = control_token.is_some();
    config.control_token(control_token);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return exit::INVALID;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "error: cannot listen on {listen}: {e} (give --listen HOST:PORT, e.g. 127.0.0.1:8088)"
                );
                return exit::INVALID;
            }
        };
        let clients = config.client_ids().join(", ");
        let handle = match sandbox::start(listener, config) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: cannot start the sandbox on {listen}: {e}");
                return exit::INVALID;
            }
        };
        let url = handle.url();
        let control = if token_set {
            "token required: x-sandbox-token header"
        } else {
            "loopback callers only"
        };
        let banner = format!(
            "apoflow sandbox listening on {url}\n\
             \x20 gateway URL      {url}  (POST /ams/api/v1/payments/… or /ams/sandbox/api/v1/payments/…)\n\
             \x20 client ids       {clients}\n\
             \x20 default merchant {}: sign with {KEYS}/merchant-private.pem\n\
             \x20 APO public key   {KEYS}/sandbox-apo-public.pem  (verify responses and notifications)\n\
             \x20 control API      {url}/_sandbox/  ({control})\n\
             Press Ctrl-C to stop.\n",
            sandbox::DEFAULT_CLIENT_ID
        );
        // A closed stdout (e.g. piped into `head`) must not stop the sandbox.
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes());
        let _ = out.flush();
        drop(out);
        let _ = tokio::signal::ctrl_c().await;
        drop(handle);
        exit::SUCCESS
    })
}
