//! `apoflow.toml`: named targets with their endpoint, client id and where their keys are, and
//! the merchants under test with how to start them.
//!
//! ```toml
//! [targets.sg-sandbox]
//! region = "sea"                    # or: endpoint = "https://open-sea-global.alipay.com"
//! client_id = "SANDBOX_5X00000000000000"
//! private_key = { env = "APO_MERCHANT_PRIVATE_KEY" }
//! apo_public_key = { file = "keys/antom-public-key.txt" }   # relative to this file
//! key_version = "1"                 # optional
//! ca_file = "certs/corp-ca.pem"     # optional: also trust this CA (a TLS sandbox, a proxy)
//!
//! [merchants.shop]
//! command = "python3 shop.py"       # run by `sh -c` in this file's folder
//! url = "http://127.0.0.1:8710"     # its base URL (`merchant.url` in flows)
//! ready = "/health"                 # polled until 2xx (default `/`)
//! ready_timeout = "30s"             # optional
//! api_timeout = "15s"               # optional: its time-out for a call to APO
//! settle = "2s"                     # optional: how long it takes to finish reacting
//! jobs = 16                         # optional: flows at once when it is under test
//! notify_url = "http://127.0.0.1:8710/apo/notify"   # optional: the dashboard-level webhook
//! ```
//!
//! Keys never come from flow files. Errors point at `apoflow.toml:line:col` with the line, a
//! caret and a hint; the CLI turns them into exit code 2.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::apo::key_source::{KeySource, load_private_key, load_public_key};
use crate::apo::target::{Region, Target};
use crate::diag::{Diagnostic, SourceFile};

/// The config file looked for in the working directory.
pub const DEFAULT_FILE: &str = "apoflow.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    targets: BTreeMap<String, Spanned<RawTarget>>,
    #[serde(default)]
    merchants: BTreeMap<String, Spanned<RawMerchant>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMerchant {
    command: Spanned<String>,
    url: Spanned<String>,
    ready: Option<Spanned<String>>,
    ready_timeout: Option<Spanned<String>>,
    api_timeout: Option<Spanned<String>>,
    settle: Option<Spanned<String>>,
    jobs: Option<Spanned<i64>>,
    client_id: Option<Spanned<String>>,
    notify_url: Option<Spanned<String>>,
    private_key: Option<Spanned<RawKeyFile>>,
    public_key: Option<Spanned<RawKeyFile>>,
    sandbox_listen: Option<Spanned<String>>,
    tls_dir: Option<Spanned<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyFile {
    file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    endpoint: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    client_id: Spanned<String>,
    private_key: Spanned<RawKeySource>,
    apo_public_key: Spanned<RawKeySource>,
    key_version: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeySource {
    file: Option<String>,
    env: Option<String>,
}

/// A target as configured, keys not yet loaded.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// The target's name.
    pub name: String,
    /// The gateway URL.
    pub endpoint: Url,
    /// The merchant's client id.
    pub client_id: String,
    /// Where the merchant private key is (file paths resolved against the config's directory).
    pub private_key: KeySource,
    /// Where APO's public key is.
    pub apo_public_key: KeySource,
    /// The `keyVersion` to send.
    pub key_version: String,
    /// A CA certificate (PEM) to trust besides the system's, resolved against the config's
    /// directory: a standalone `apoflow sandbox --tls-dir` (its `ca.pem`) or a corporate proxy.
    pub ca_file: Option<PathBuf>,
    private_key_span: Range<usize>,
    apo_public_key_span: Range<usize>,
}

/// A merchant under test, as configured: how to start it and where it listens.
#[derive(Debug, Clone)]
pub struct MerchantSpec {
    /// The merchant's name in `apoflow.toml` (`[merchants.NAME]`).
    pub name: String,
    /// The shell command that starts it, run by `sh -c` in [`MerchantSpec::dir`].
    pub command: String,
    /// The folder the command runs in: the config file's folder.
    pub dir: PathBuf,
    /// Its base URL (`merchant.url` in flows).
    pub url: Url,
    /// The path polled until it answers 2xx.
    pub ready: String,
    /// How long to wait for it to become ready.
    pub ready_timeout: std::time::Duration,
    /// How long it waits for APO's answer before it treats a call's result as unknown
    /// (`merchant.api_timeout_ms` in flows: a flow that tests a late answer holds it longer).
    pub api_timeout: std::time::Duration,
    /// How long it takes to do all it does in reaction to one event (an answer, a
    /// notification), its retries included (`merchant.settle_ms` in flows: the bundled flows
    /// watch this long before they conclude that it did not do something).
    pub settle: std::time::Duration,
    /// How many flows run at once while it is under test, unless `--jobs` says otherwise;
    /// `None`: the number of CPU cores.
    pub jobs: Option<usize>,
    /// The client id it calls APO with; `None`: one registered for it
    /// ([`MerchantSpec::client_id`] gives it).
    pub client_id: Option<String>,
    /// The dashboard-level notification URL: where notifications go when a pay carries no
    /// `paymentNotifyUrl`.
    pub notify_url: Option<Url>,
    /// Its own key pair (PEM files), resolved against the config's folder; `None`: the fixed
    /// test-only merchant keys.
    pub keys: Option<(PathBuf, PathBuf)>,
    /// Where the embedded sandbox listens for it (e.g. `127.0.0.1:443` for SDKs that always
    /// dial 443); `None`: a free loopback port.
    pub sandbox_listen: Option<std::net::SocketAddr>,
    /// Serve the sandbox over HTTPS with the local CA kept in this folder.
    pub tls_dir: Option<PathBuf>,
    /// Extra environment variables for the command.
    pub env: BTreeMap<String, String>,
}

/// How long a merchant may take to become ready, unless `ready_timeout` says otherwise.
pub const DEFAULT_READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A merchant's time-out for a call to APO, unless `api_timeout` says otherwise: the 15 s of
/// the official Python SDK's connections.
pub const DEFAULT_API_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The longest `api_timeout`: a flow holds an answer longer than it, and the sandbox holds an
/// answer at most two minutes (`delayMs`).
pub const MAX_API_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(110);

/// How long a merchant takes to finish reacting, unless `settle` says otherwise: a retry after
/// a one-second pause, and the call.
pub const DEFAULT_SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// The longest `settle`.
pub const MAX_SETTLE: std::time::Duration = std::time::Duration::from_secs(60);

/// The most `jobs` a merchant may ask for.
pub const MAX_JOBS: usize = 256;

impl MerchantSpec {
    /// The client id: the configured one, or `SANDBOX_APOFLOW_<NAME>` (upper case, other
    /// characters as `_`), registered with the sandbox for this merchant.
    pub fn client_id(&self) -> String {
        self.client_id.clone().unwrap_or_else(|| {
            let name: String = self
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("SANDBOX_APOFLOW_{name}")
        })
    }
}

/// A loaded `apoflow.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    source: Arc<SourceFile>,
    targets: BTreeMap<String, TargetSpec>,
    merchants: BTreeMap<String, MerchantSpec>,
}

/// A problem in `apoflow.toml`, with its location when there is one.
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line and column, with the text of that line and the caret's width.
    pub location: Option<Location>,
    /// What is wrong (a lowercase fragment).
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

/// Where in the file a [`ConfigError`] is.
#[derive(Debug, Clone)]
pub struct Location {
    /// 1-based line.
    pub line: u64,
    /// 1-based column (in characters).
    pub column: u64,
    /// How many characters the caret underlines.
    pub width: u64,
    /// The config file's text, for the quoted line.
    pub source: Arc<SourceFile>,
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// The error as a diagnostic, for the one renderer ([`crate::diag`]): location, the line
    /// quoted with a caret, the hint.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let d = match &self.location {
            Some(loc) => Diagnostic::new(&loc.source, loc.line, loc.column, self.message.clone())
                .with_width(loc.width.max(1)),
            None => Diagnostic::for_file(&self.file, self.message.clone()),
        };
        match &self.hint {
            Some(hint) => d.with_hint(hint.clone()),
            None => d,
        }
    }
}

/// One line, for contexts that hold errors as text: `file:line:column: message (hint: …)`.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(loc) = &self.location {
            write!(f, ":{}:{}", loc.line, loc.column)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Turns a byte span of the config text into a location.
fn locate(source: &Arc<SourceFile>, span: &Range<usize>) -> Location {
    let text = &source.text;
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let mut end = span.end.clamp(start, line_end);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let (line, column) = source.position(start);
    Location {
        line,
        column,
        width: text[start..end].chars().count() as u64,
        source: Arc::clone(source),
    }
}

impl Config {
    /// Reads and checks a config file (keys are not read yet).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            location: None,
            message: format!("failed to read the config file: {e}"),
            hint: (e.kind() == std::io::ErrorKind::NotFound).then(|| {
                "targets are defined in apoflow.toml (see docs/src/targets.md); \
                 pass --config FILE to use another file"
                    .to_owned()
            }),
        })?;
        Config::parse(path, text)
    }

    /// Checks config text; `path` is used for messages and to resolve relative key files.
    pub fn parse(path: &Path, text: String) -> Result<Config, ConfigError> {
        let source = Arc::new(SourceFile::new(path.to_owned(), text));
        let text = &source.text;
        let error = |span: Option<Range<usize>>, message: String, hint: Option<&str>| ConfigError {
            file: path.to_owned(),
            location: span.map(|s| locate(&source, &s)),
            message,
            hint: hint.map(str::to_owned),
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_owned();
            let hint = if message.contains("unknown field") && message.contains("`command`") {
                Some(
                    "a merchant takes command, url, ready, ready_timeout, api_timeout, settle, jobs, \
                     client_id, notify_url, private_key, public_key, sandbox_listen, tls_dir and env",
                )
            } else if message.contains("unknown field") {
                Some(
                    "a target takes endpoint or region, client_id, private_key, \
                     apo_public_key, key_version and ca_file",
                )
            } else if message.contains("missing field") {
                Some(
                    "every target needs client_id, private_key = { file = \"...\" } or \
                     { env = \"VAR\" }, and apo_public_key",
                )
            } else {
                None
            };
            error(e.span(), message, hint)
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut targets = BTreeMap::new();
        for (name, raw_target) in raw.targets {
            let target_span = raw_target.span();
            let raw_target = raw_target.into_inner();
            let endpoint = match (&raw_target.endpoint, &raw_target.region) {
                (Some(_), Some(region)) => {
                    return Err(error(
                        Some(region.span()),
                        format!("target `{name}` has both endpoint and region"),
                        Some("keep one: region picks a preset endpoint"),
                    ));
                }
                (None, None) => {
                    return Err(error(
                        Some(target_span),
                        format!("target `{name}` has neither endpoint nor region"),
                        Some(
                            "add region = \"sea\" | \"na\" | \"eu\", or endpoint = \"https://...\"",
                        ),
                    ));
                }
                (None, Some(region)) => {
                    let preset: Region = region.get_ref().parse().map_err(|()| {
                        error(
                            Some(region.span()),
                            format!("unknown region `{}`", region.get_ref()),
                            Some(
                                "use sea (Asia), na (North America) or eu (Europe), or give \
                                 endpoint = \"https://...\"",
                            ),
                        )
                    })?;
                    Url::parse(preset.endpoint()).expect("region presets are valid URLs")
                }
                (Some(endpoint), None) => check_endpoint(endpoint.get_ref()).map_err(|m| {
                    error(
                        Some(endpoint.span()),
                        m,
                        Some("e.g. endpoint = \"https://open-sea-global.alipay.com\""),
                    )
                })?,
            };
            let client_id = raw_target.client_id.get_ref().trim().to_owned();
            if client_id.is_empty() {
                return Err(error(
                    Some(raw_target.client_id.span()),
                    format!("target `{name}` has an empty client_id"),
                    Some("copy the client id from Antom Dashboard → Developer → Quick start"),
                ));
            }
            let key = |raw: &Spanned<RawKeySource>, field: &str| {
                key_source(raw.get_ref())
                    .map(|s| s.relative_to(base))
                    .ok_or_else(|| {
                        error(
                            Some(raw.span()),
                            format!(
                                "`{field}` of target `{name}` needs exactly one of file or env"
                            ),
                            Some("write { file = \"path/to/key.txt\" } or { env = \"VARIABLE\" }"),
                        )
                    })
            };
            let spec = TargetSpec {
                name: name.clone(),
                endpoint,
                client_id,
                private_key: key(&raw_target.private_key, "private_key")?,
                apo_public_key: key(&raw_target.apo_public_key, "apo_public_key")?,
                key_version: raw_target
                    .key_version
                    .map_or_else(|| "1".to_owned(), |v| v.into_inner()),
                ca_file: raw_target.ca_file.map(|f| base.join(f.into_inner())),
                private_key_span: raw_target.private_key.span(),
                apo_public_key_span: raw_target.apo_public_key.span(),
            };
            targets.insert(name, spec);
        }
        let mut merchants = BTreeMap::new();
        for (name, raw) in raw.merchants {
            let spec = merchant_spec(&name, raw.into_inner(), base, &error)?;
            merchants.insert(name, spec);
        }
        Ok(Config {
            path: path.to_owned(),
            source: Arc::clone(&source),
            targets,
            merchants,
        })
    }

    /// A configured merchant.
    pub fn merchant(&self, name: &str) -> Result<&MerchantSpec, ConfigError> {
        self.merchants.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.merchants.keys().map(String::as_str).collect();
            ConfigError {
                file: self.path.clone(),
                location: None,
                message: format!("no merchant named `{name}`"),
                hint: Some(if known.is_empty() {
                    "the file defines no [merchants.NAME] table yet (see \
                     docs/src/merchant.md)"
                        .to_owned()
                } else {
                    format!("configured merchants: {}", known.join(", "))
                }),
            }
        })
    }

    /// Every configured merchant, by name.
    pub fn merchants(&self) -> impl Iterator<Item = &MerchantSpec> {
        self.merchants.values()
    }

    /// The names of the configured targets, sorted.
    pub fn target_names(&self) -> impl Iterator<Item = &str> {
        self.targets.keys().map(String::as_str)
    }

    /// A configured target, keys not loaded.
    pub fn spec(&self, name: &str) -> Result<&TargetSpec, ConfigError> {
        self.targets.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.target_names().collect();
            ConfigError {
                file: self.path.clone(),
                location: None,
                message: format!("no target named `{name}`"),
                hint: Some(if known.is_empty() {
                    "the file defines no [targets.NAME] table yet".to_owned()
                } else {
                    format!("configured targets: {}", known.join(", "))
                }),
            }
        })
    }

    /// Builds a target: reads and parses its keys (once; share the result). `env` looks up
    /// environment variables. Key errors point at the key's line in the config.
    pub fn target(
        &self,
        name: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Target, ConfigError> {
        let spec = self.spec(name)?;
        let key_error = |span: &Range<usize>, e: crate::apo::key_source::KeyLoadError| {
            ConfigError {
            file: self.path.clone(),
            location: Some(locate(&self.source, span)),
            message: e.to_string(),
            hint: Some(
                "the merchant private key is base64 PKCS#8 or PKCS#1 (PEM or bare); APO's public \
                 key is base64 X.509 (PEM or bare), from Antom Dashboard"
                    .to_owned(),
            ),
        }
        };
        let private_key = load_private_key(&spec.private_key, env)
            .map_err(|e| key_error(&spec.private_key_span, e))?;
        let apo_public_key = load_public_key(&spec.apo_public_key, env)
            .map_err(|e| key_error(&spec.apo_public_key_span, e))?;
        Ok(Target {
            name: spec.name.clone(),
            base_url: spec.endpoint.clone(),
            client_id: spec.client_id.clone(),
            private_key,
            apo_public_key,
            key_version: spec.key_version.clone(),
        })
    }
}

/// Builds a located [`ConfigError`] from a span, a message and a hint.
type ErrorAt<'a> = dyn Fn(Option<Range<usize>>, String, Option<&str>) -> ConfigError + 'a;

/// Checks a `[merchants.NAME]` table.
fn merchant_spec(
    name: &str,
    raw: RawMerchant,
    base: &Path,
    error: &ErrorAt<'_>,
) -> Result<MerchantSpec, ConfigError> {
    if raw.command.get_ref().trim().is_empty() {
        return Err(error(
            Some(raw.command.span()),
            format!("merchant `{name}` has an empty command"),
            Some("e.g. command = \"python3 shop.py\" (run by `sh -c` in this file's folder)"),
        ));
    }
    let url = Url::parse(raw.url.get_ref())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            error(
                Some(raw.url.span()),
                format!(
                    "merchant `{name}`: `{}` is not an http(s) URL",
                    raw.url.get_ref()
                ),
                Some("its base URL, e.g. url = \"http://127.0.0.1:8710\""),
            )
        })?;
    let ready = match &raw.ready {
        Some(r) if !r.get_ref().starts_with('/') => {
            return Err(error(
                Some(r.span()),
                format!("merchant `{name}`: ready `{}` is not a path", r.get_ref()),
                Some("a path on its url polled until it answers 2xx, e.g. ready = \"/health\""),
            ));
        }
        Some(r) => r.get_ref().clone(),
        None => "/".to_owned(),
    };
    let ready_timeout = match &raw.ready_timeout {
        None => DEFAULT_READY_TIMEOUT,
        Some(t) => crate::flow::model::parse_duration(t.get_ref())
            .map_err(|m| error(Some(t.span()), m, Some("e.g. ready_timeout = \"60s\"")))?,
    };
    // A duration from 1 ms to `max`, or `default` when not given.
    let bounded =
        |raw: &Option<Spanned<String>>, key: &str, default, max: std::time::Duration, hint| {
            let Some(t) = raw else { return Ok(default) };
            crate::flow::model::parse_duration(t.get_ref())
                .ok()
                .filter(|d| !d.is_zero() && *d <= max)
                .ok_or_else(|| {
                    error(
                        Some(t.span()),
                        format!(
                            "merchant `{name}`: {key} `{}` is not a duration from 1ms to {}s",
                            t.get_ref(),
                            max.as_secs()
                        ),
                        Some(hint),
                    )
                })
        };
    let api_timeout = bounded(
        &raw.api_timeout,
        "api_timeout",
        DEFAULT_API_TIMEOUT,
        MAX_API_TIMEOUT,
        "the merchant's own time-out for a call to APO, e.g. api_timeout = \"5s\"",
    )?;
    let settle = bounded(
        &raw.settle,
        "settle",
        DEFAULT_SETTLE,
        MAX_SETTLE,
        "how long the merchant takes to finish reacting to one event, its retries included, \
         e.g. settle = \"3s\"",
    )?;
    let jobs = match &raw.jobs {
        None => None,
        Some(j) => Some(
            usize::try_from(*j.get_ref())
                .ok()
                .filter(|n| (1..=MAX_JOBS).contains(n))
                .ok_or_else(|| {
                    error(
                        Some(j.span()),
                        format!(
                            "merchant `{name}`: jobs {} is not from 1 to {MAX_JOBS}",
                            j.get_ref()
                        ),
                        Some("how many flows may run at once against it, e.g. jobs = 16"),
                    )
                })?,
        ),
    };
    let notify_url = match &raw.notify_url {
        None => None,
        Some(u) => Some(
            Url::parse(u.get_ref())
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    error(
                        Some(u.span()),
                        format!(
                            "merchant `{name}`: notify_url `{}` is not an http(s) URL",
                            u.get_ref()
                        ),
                        Some("the merchant's webhook, e.g. \"http://127.0.0.1:8710/apo/notify\""),
                    )
                })?,
        ),
    };
    let keys = match (&raw.private_key, &raw.public_key) {
        (None, None) => None,
        (Some(private), Some(public)) => Some((
            base.join(&private.get_ref().file),
            base.join(&public.get_ref().file),
        )),
        (Some(one), None) | (None, Some(one)) => {
            return Err(error(
                Some(one.span()),
                format!("merchant `{name}` has one key of its pair"),
                Some(
                    "give both private_key = { file = \"...\" } and public_key = { file = \"...\" }, \
                     or neither to use the fixed test-only merchant keys",
                ),
            ));
        }
    };
    let sandbox_listen = match &raw.sandbox_listen {
        None => None,
        Some(a) => Some(a.get_ref().parse().map_err(|_| {
            error(
                Some(a.span()),
                format!(
                    "merchant `{name}`: sandbox_listen `{}` is not an address",
                    a.get_ref()
                ),
                Some("an IP and a port, e.g. sandbox_listen = \"127.0.0.1:443\""),
            )
        })?),
    };
    let client_id = match &raw.client_id {
        Some(c) if c.get_ref().trim().is_empty() => {
            return Err(error(
                Some(c.span()),
                format!("merchant `{name}` has an empty client_id"),
                Some("leave it out to get one registered for this merchant"),
            ));
        }
        other => other.as_ref().map(|c| c.get_ref().trim().to_owned()),
    };
    Ok(MerchantSpec {
        name: name.to_owned(),
        command: raw.command.into_inner(),
        dir: base.to_owned(),
        url,
        ready,
        ready_timeout,
        api_timeout,
        settle,
        jobs,
        client_id,
        notify_url,
        keys,
        sandbox_listen,
        tls_dir: raw.tls_dir.map(|d| base.join(d.into_inner())),
        env: raw.env,
    })
}

fn key_source(raw: &RawKeySource) -> Option<KeySource> {
    match (&raw.file, &raw.env) {
        (Some(file), None) => Some(KeySource::File(PathBuf::from(file))),
        (None, Some(env)) => Some(KeySource::Env(env.clone())),
        _ => None,
    }
}

/// Accepts https URLs, and http only on loopback (a local `apoflow sandbox`).
fn check_endpoint(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "`{text}` is plain http; APO only accepts https (http is allowed on loopback only)"
        )),
        other => Err(format!("`{text}` has scheme `{other}`; expected https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("apoflow.toml"), text.to_owned())
    }

    const GOOD: &str = r#"
[targets.sg]
region = "sea"
client_id = "SANDBOX_5X00000000000000"
private_key = { env = "APO_KEY" }
apo_public_key = { file = "keys/apo.txt" }

[targets.local]
endpoint = "http://127.0.0.1:4010"
client_id = "SANDBOX_APOFLOW_MERCHANT"
private_key = { file = "/abs/merchant.pem" }
apo_public_key = { env = "APO_PUB" }
key_version = "2"
"#;

    #[test]
    fn a_good_file_names_its_targets() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.target_names().collect::<Vec<_>>(), ["local", "sg"]);
        let sg = c.spec("sg").unwrap();
        assert_eq!(sg.endpoint.as_str(), "https://open-sea-global.alipay.com/");
        assert_eq!(sg.private_key, KeySource::Env("APO_KEY".into()));
        assert_eq!(sg.apo_public_key, KeySource::File("keys/apo.txt".into()));
        assert_eq!(sg.key_version, "1");
        let local = c.spec("local").unwrap();
        assert_eq!(local.key_version, "2");
        let err = c.spec("nope").unwrap_err().to_string();
        assert!(
            err.contains("no target named `nope`") && err.contains("local, sg"),
            "{err}"
        );
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let err = parse(&GOOD.replace("region = \"sea\"", "region = \"asia\"")).unwrap_err();
        assert_eq!(
            err.to_diagnostic().render(false),
            "error: unknown region `asia`\n --> apoflow.toml:3:10\n  |\n3 | region = \"asia\"\n  |          ^^^^^^\n  |\n  = hint: use sea (Asia), na (North America) or eu (Europe), or give endpoint = \"https://...\"\n"
        );
        assert_eq!(
            err.to_string(),
            "apoflow.toml:3:10: unknown region `asia` (hint: use sea (Asia), na (North America) or eu (Europe), or give endpoint = \"https://...\")"
        );
        let err = parse(&GOOD.replace("key_version", "keyversion")).unwrap_err();
        assert_eq!(err.location.as_ref().unwrap().line, 13);
        assert!(err.message.contains("unknown field"), "{err}");
        let err = parse(&GOOD.replace("{ env = \"APO_KEY\" }", "{ }")).unwrap_err();
        assert_eq!(err.location.as_ref().unwrap().line, 5);
        assert!(err.message.contains("exactly one of file or env"), "{err}");
        let err = parse(&GOOD.replace("http://127.0.0.1:4010", "http://apo.example")).unwrap_err();
        assert!(err.message.contains("plain http"), "{err}");
        let err = parse("[targets.x]\nclient_id = \"a\"\n").unwrap_err();
        assert!(err.message.contains("missing field"), "{err}");
        let err = parse("targets = [").unwrap_err();
        assert_eq!(err.location.as_ref().unwrap().line, 1);
    }

    const MERCHANT: &str = r#"
[merchants.shop]
command = "python3 shop.py"
url = "http://127.0.0.1:8710"
ready = "/health"
ready_timeout = "5s"
api_timeout = "3s"
settle = "750ms"
jobs = 12
notify_url = "http://127.0.0.1:8710/apo/notify"
sandbox_listen = "127.0.0.1:443"
tls_dir = "tls"
env = { SHOP_MODE = "test" }
"#;

    #[test]
    fn a_merchant_is_read_with_its_defaults() {
        let c = Config::parse(Path::new("/p/apoflow.toml"), MERCHANT.to_owned()).unwrap();
        let m = c.merchant("shop").unwrap();
        assert_eq!(m.command, "python3 shop.py");
        assert_eq!(m.dir, Path::new("/p"));
        assert_eq!(m.ready, "/health");
        assert_eq!(m.ready_timeout, std::time::Duration::from_secs(5));
        assert_eq!(m.api_timeout, std::time::Duration::from_secs(3));
        assert_eq!(m.settle, std::time::Duration::from_millis(750));
        assert_eq!(m.jobs, Some(12));
        assert_eq!(m.client_id(), "SANDBOX_APOFLOW_SHOP");
        assert_eq!(m.tls_dir.as_deref(), Some(Path::new("/p/tls")));
        assert_eq!(m.sandbox_listen.unwrap().port(), 443);
        assert_eq!(m.env["SHOP_MODE"], "test");
        let minimal =
            parse("[merchants.my-shop]\ncommand = \"x\"\nurl = \"http://127.0.0.1:1\"\n").unwrap();
        let m = minimal.merchant("my-shop").unwrap();
        assert_eq!(
            (
                m.ready.as_str(),
                m.ready_timeout,
                m.api_timeout,
                m.settle,
                m.jobs
            ),
            (
                "/",
                DEFAULT_READY_TIMEOUT,
                DEFAULT_API_TIMEOUT,
                DEFAULT_SETTLE,
                None
            )
        );
        assert_eq!(m.client_id(), "SANDBOX_APOFLOW_MY_SHOP");
        let err = minimal.merchant("nope").unwrap_err().to_string();
        assert!(err.contains("configured merchants: my-shop"), "{err}");
    }

    #[test]
    fn merchant_errors_point_at_their_line() {
        for (from, to, line, says) in [
            (
                "url = \"http://127.0.0.1:8710\"",
                "url = \"127.0.0.1:8710\"",
                4,
                "not an http(s) URL",
            ),
            ("ready = \"/health\"", "ready = \"health\"", 5, "not a path"),
            ("\"5s\"", "\"5 seconds\"", 6, "invalid duration"),
            ("\"3s\"", "\"0s\"", 7, "not a duration from 1ms to 110s"),
            ("\"3s\"", "\"2m\"", 7, "not a duration from 1ms to 110s"),
            (
                "\"750ms\"",
                "\"0s\"",
                8,
                "settle `0s` is not a duration from 1ms to 60s",
            ),
            (
                "\"750ms\"",
                "\"soon\"",
                8,
                "settle `soon` is not a duration",
            ),
            ("jobs = 12", "jobs = 0", 9, "jobs 0 is not from 1 to 256"),
            (
                "jobs = 12",
                "jobs = 1000",
                9,
                "jobs 1000 is not from 1 to 256",
            ),
            ("\"127.0.0.1:443\"", "\"localhost\"", 11, "not an address"),
            ("tls_dir", "tls_folder", 12, "unknown field"),
            (
                "command = \"python3 shop.py\"",
                "command = \" \"",
                3,
                "empty command",
            ),
        ] {
            let err = parse(&MERCHANT.replace(from, to)).unwrap_err();
            assert_eq!(err.location.as_ref().map(|l| l.line), Some(line), "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
        let err = parse(&format!("{MERCHANT}private_key = {{ file = \"k.pem\" }}\n")).unwrap_err();
        assert!(err.message.contains("one key of its pair"), "{err}");
        let err = parse(&MERCHANT.replace("tls_dir", "tls_folder")).unwrap_err();
        assert!(
            err.to_string().contains("a merchant takes command"),
            "{err}"
        );
    }

    #[test]
    fn key_errors_point_at_the_key_line() {
        let c = parse(GOOD).unwrap();
        let err = c.target("sg", &|_| None).unwrap_err();
        assert_eq!(err.location.as_ref().unwrap().line, 5);
        assert!(
            err.message
                .contains("merchant private key from environment variable `APO_KEY`"),
            "{err}"
        );
    }

    #[test]
    fn a_target_loads_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("apo.pem"),
            crate::apo::target::EMBEDDED_APO_PUBLIC_PEM,
        )
        .unwrap();
        let text = GOOD.replace("keys/apo.txt", "apo.pem");
        let c = Config::parse(&dir.path().join("apoflow.toml"), text).unwrap();
        let env = |name: &str| {
            (name == "APO_KEY").then(|| crate::apo::target::EMBEDDED_MERCHANT_PRIVATE_PEM.into())
        };
        let t = c.target("sg", &env).unwrap();
        assert_eq!(t.client_id, "SANDBOX_5X00000000000000");
        assert_eq!(t.name, "sg");
    }
}
