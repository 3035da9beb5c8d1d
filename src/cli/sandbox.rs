//! `apoflow sandbox --listen ADDR [--merchant CLIENT_ID=PUBKEYFILE]... [--notify-url
//! CLIENT_ID=URL]... [--control-token T] [--tls-dir DIR] [--config FILE] [--state FILE]`: run
//! the embedded APO sandbox standalone until interrupted, so a merchant's own server or the
//! official SDKs can be pointed at it (over HTTPS with `--tls-dir`). The merchants of
//! `apoflow.toml` are registered as `apoflow run --merchant` registers them, and the banner
//! prints the variables each one is started with. It stops on Ctrl-C or SIGTERM, letting
//! requests in flight finish first; with `--state` its state (pending deliveries included) is
//! written to the file and resumed at the next start.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

use super::{Context, exit};
use crate::apo::keys::PublicKey;
use crate::apo::target::{EMBEDDED_APO_PUBLIC_PEM, EMBEDDED_MERCHANT_PRIVATE_PEM};
use crate::config::DEFAULT_FILE;
use crate::merchant::{KeyFiles, Wiring};
use crate::sandbox::{self, Config};

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

/// The arguments of `apoflow sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8088")]
    listen: String,
    /// Register a merchant: CLIENT_ID=PUBLIC_KEY_FILE (repeatable).
    #[arg(long = "merchant", value_name = "CLIENT_ID=PUBKEYFILE")]
    merchants: Vec<String>,
    /// A client's default notification URL (the dashboard's), used when a pay has no
    /// paymentNotifyUrl: CLIENT_ID=URL (repeatable).
    #[arg(long = "notify-url", value_name = "CLIENT_ID=URL")]
    notify_urls: Vec<String>,
    /// Open the control API (/_sandbox/) to callers presenting this token (not empty).
    #[arg(long, value_name = "T")]
    control_token: Option<String>,
    /// Connections open at once; beyond it a new connection is closed at once.
    #[arg(long, value_name = "N", default_value_t = sandbox::MAX_CONNECTIONS as u32,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    max_connections: u32,
    /// Seconds a connection may take to send a request's headers, and may stay idle between
    /// requests.
    #[arg(long, value_name = "SECS", default_value_t = sandbox::IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    idle_timeout: u64,
    /// Send each notification once, as APO's own sandbox does, instead of resending an
    /// unacknowledged one on the production schedule (0, 2 min, 10 min, … 15 h).
    #[arg(long)]
    no_resends: bool,
    /// Seconds a request's whole body may take to arrive (then 408).
    #[arg(long, value_name = "SECS", default_value_t = sandbox::BODY_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout: u64,
    /// Serve HTTPS with a certificate from a local CA kept in DIR (DIR/ca.pem, created once;
    /// clients trust it).
    #[arg(long, value_name = "DIR")]
    tls_dir: Option<PathBuf>,
    /// Register the merchants of this config file ([merchants.NAME]) [default: apoflow.toml,
    /// when there is one].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Keep payments, tokens, the journal and pending notifications in this SQLite file
    /// (created if missing) and resume them at the next start.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
}

/// The merchants of the config file: `--config`, else `apoflow.toml` if it exists.
fn configured_merchants(
    file: Option<&Path>,
    ctx: &Context,
) -> Result<Vec<crate::config::MerchantSpec>, crate::config::ConfigError> {
    let path = match file {
        Some(f) => ctx.cwd.join(f),
        None => {
            let default = ctx.cwd.join(DEFAULT_FILE);
            if !default.is_file() {
                return Ok(Vec::new());
            }
            default
        }
    };
    let config = crate::config::Config::load(&path)?;
    Ok(config.merchants().cloned().collect())
}

/// The banner lines for one configured merchant: the variables it is started with.
fn merchant_lines(spec: &crate::config::MerchantSpec, env: &[(String, String)]) -> String {
    let notify = spec
        .notify_url
        .as_ref()
        .map_or_else(String::new, |u| format!(", notifications to {u}"));
    let mut out = format!(
        "\x20 merchant `{}` ({}){notify}: start it with\n",
        spec.name,
        spec.client_id()
    );
    for (k, v) in env {
        if k != "MERCHANT_URL" {
            out.push_str(&format!("\x20   {k}={v}\n"));
        }
    }
    out
}

/// Parses `CLIENT_ID=URL`.
fn notify_url(spec: &str) -> Result<(&str, &str), String> {
    let (id, url) = spec
        .split_once('=')
        .filter(|(id, url)| !id.is_empty() && url::Url::parse(url).is_ok())
        .ok_or_else(|| {
            format!(
                "--notify-url {spec}: expected CLIENT_ID=URL, e.g. SANDBOX_MY_SHOP=http://127.0.0.1:8000/apo/notify"
            )
        })?;
    if url.chars().any(char::is_control) {
        return Err(format!(
            "--notify-url {id}: the URL holds a control character (CR, LF, tab, …); remove it"
        ));
    }
    if url::Url::parse(url).is_ok_and(|u| sandbox::targets_control_api(&u)) {
        return Err(format!(
            "--notify-url {id}: {url} is a sandbox control API (/_sandbox/…); give the \
             merchant's notification endpoint"
        ));
    }
    Ok((id, url))
}

/// How to trust the CA, for the banner.
fn trust_lines(ca: &Path) -> String {
    let ca = ca.display();
    format!(
        "\x20 trust the CA     {ca}\n\
         \x20   Python         SSL_CERT_FILE={ca}  (requests: REQUESTS_CA_BUNDLE={ca})\n\
         \x20   Node.js        NODE_EXTRA_CA_CERTS={ca}\n\
         \x20   Java           keytool -importcert -noprompt -alias apoflow-sandbox -file {ca} -keystore truststore.jks -storepass changeit\n\
         \x20   curl           curl --cacert {ca}\n"
    )
}

/// The signals that stop the sandbox: Ctrl-C (SIGINT) and, on Unix, SIGTERM. Listening starts
/// when this is made (before the banner), so a signal sent as soon as the banner is read is
/// not lost to the default action (which would leave the key files behind).
struct StopSignals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            StopSignals { unix }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Waits for one of them.
    async fn recv(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.unix {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        #[cfg(not(unix))]
        let _ = self;
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the sandbox; returns an exit code.
pub fn run(args: SandboxArgs, ctx: &Context) -> u8 {
    let SandboxArgs {
        listen,
        merchants,
        notify_urls,
        control_token,
        max_connections,
        idle_timeout,
        body_timeout,
        no_resends,
        tls_dir,
        config: config_file,
        state,
    } = args;
    if control_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        eprintln!(
            "error: --control-token is empty: give a token callers must present (e.g. \
             --control-token \"$(openssl rand -hex 16)\"), or leave the flag out to open the \
             control API to loopback callers only"
        );
        return exit::INVALID;
    }
    let configured = match configured_merchants(config_file.as_deref(), ctx) {
        Ok(m) => m,
        Err(e) => {
            crate::output::Sink::stderr().print(&e.to_diagnostic().render(ctx.color_stderr()));
            return exit::INVALID;
        }
    };
    let wirings = match configured
        .iter()
        .map(Wiring::new)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let mut config = match Config::embedded() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: the embedded sandbox keys do not load: {e}");
            return exit::INVALID;
        }
    };
    for spec in &merchants {
        match merchant(spec) {
            Ok((id, key)) => config.register_merchant(&id, key),
            Err(msg) => {
                eprintln!("error: {msg}");
                return exit::INVALID;
            }
        }
    }
    for wiring in &wirings {
        wiring.register(&mut config);
    }
    for spec in &notify_urls {
        match notify_url(spec) {
            Ok((id, url)) => config.default_notify_url(id, Some(url.to_owned())),
            Err(msg) => {
                eprintln!("error: {msg}");
                return exit::INVALID;
            }
        }
    }
    if let Some(dir) = &tls_dir
        && let Err(e) = config.tls_dir(dir)
    {
        eprintln!("error: {e}");
        return exit::INVALID;
    }
    config.limits(sandbox::Limits {
        max_connections: max_connections as usize,
        idle_timeout: std::time::Duration::from_secs(idle_timeout),
        body_timeout: std::time::Duration::from_secs(body_timeout),
    });
    config.resends(!no_resends);
    let token_set = control_token.is_some();
    config.control_token(control_token);
    let resume = match state
        .as_deref()
        .map(|f| sandbox::Resume::open(&ctx.cwd.join(f)))
    {
        None => None,
        Some(Ok(r)) => Some(r),
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let state_line = match (&state, &resume) {
        (Some(file), Some(r)) => {
            let (payments, deliveries) = r.counts();
            format!(
                "\x20 state            {}  (resumed {payments} payments, {deliveries} deliveries)\n",
                file.display()
            )
        }
        _ => "\x20 state            in memory  (lost when stopped; --state FILE keeps it)\n"
            .to_owned(),
    };
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
        let listener = match tokio::net::TcpListener::bind(&listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "error: cannot listen on {listen}: {e} (give --listen HOST:PORT, e.g. 127.0.0.1:8088)"
                );
                return exit::INVALID;
            }
        };
        let clients = config.client_ids().join(", ");
        let started = match resume {
            Some(resume) => sandbox::start_resumed(listener, config, resume),
            None => sandbox::start(listener, config),
        };
        let handle = match started {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: cannot start the sandbox on {listen}: {e}");
                return exit::INVALID;
            }
        };
        let url = handle.url();
        // The key files live as long as the sandbox; they are removed when it stops.
        let default_keys = match KeyFiles::write(EMBEDDED_MERCHANT_PRIVATE_PEM, EMBEDDED_APO_PUBLIC_PEM) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("error: failed to write the merchant key files: {e}");
                return exit::INVALID;
            }
        };
        let mut merchant_keys = Vec::new();
        let mut merchant_banner = String::new();
        for wiring in &wirings {
            match wiring.env(url, EMBEDDED_APO_PUBLIC_PEM, handle.ca_file()) {
                Ok((keys, env)) => {
                    merchant_banner.push_str(&merchant_lines(wiring.spec(), &env));
                    merchant_keys.push(keys);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::INVALID;
                }
            }
        }
        let control = if token_set {
            "token required: x-sandbox-token header"
        } else {
            "loopback callers only"
        };
        let stop = StopSignals::listen();
        let banner = format!(
            "apoflow sandbox listening on {url}\n\
             \x20 gateway URL      {url}  (POST /ams/api/v1/payments/… or /ams/sandbox/api/v1/payments/…)\n\
             \x20 client ids       {clients}\n\
             \x20 default merchant {}: sign with {}\n\
             \x20 APO public key   {}  (verify responses and notifications)\n\
             \x20 control API      {url}/_sandbox/  ({control})\n\
             {state_line}\
             {}{merchant_banner}\
             Press Ctrl-C to stop.\n",
            crate::apo::target::EMBEDDED_CLIENT_ID,
            default_keys.merchant_private.display(),
            default_keys.apo_public.display(),
            handle.ca_file().map(trust_lines).unwrap_or_default(),
        );
        // A closed stdout (e.g. piped into `head`) must not stop the sandbox.
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes());
        let _ = out.flush();
        drop(out);
        stop.recv().await;
        let stopped = handle.stop().await;
        drop((default_keys, merchant_keys));
        stopped_line(&stopped)
    })
}

/// Says on stderr what became of the state, and returns the exit code: 0, or 2 when the state
/// file could not be written.
fn stopped_line(stopped: &sandbox::Stopped) -> u8 {
    let pending = stopped.pending;
    match (&stopped.state_file, &stopped.state_error) {
        (Some(_), Some(e)) => {
            eprintln!("error: failed to write the state: {e}");
            exit::INVALID
        }
        (Some(file), None) => {
            eprintln!(
                "stopped: state written to {} ({pending} pending deliveries go out at the next start)",
                file.display()
            );
            exit::SUCCESS
        }
        (None, _) => {
            if pending > 0 {
                eprintln!(
                    "stopped: {pending} pending deliveries are lost (run with --state FILE to keep them)"
                );
            }
            exit::SUCCESS
        }
    }
}
