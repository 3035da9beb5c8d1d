//! `apoflow.toml`: named targets with their endpoint, client id and where their keys are.
//!
//! ```toml
//! [targets.sg-sandbox]
//! region = "sea"                    # or: endpoint = "https://open-sea-global.alipay.com"
//! client_id = "SANDBOX_5X00000000000000"
//! private_key = { env = "APO_MERCHANT_PRIVATE_KEY" }
//! apo_public_key = { file = "keys/antom-public-key.txt" }   # relative to this file
//! key_version = "1"                 # optional
//! ```
//!
//! Keys never come from flow files. Errors point at `apoflow.toml:line:col` with the line, a
//! caret and a hint; the CLI turns them into exit code 2.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::key_source::{KeySource, load_private_key, load_public_key};
use super::target::{Region, Target};

/// The config file looked for in the working directory.
pub const DEFAULT_FILE: &str = "apoflow.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    targets: BTreeMap<String, Spanned<RawTarget>>,
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
    private_key_span: Range<usize>,
    apo_public_key_span: Range<usize>,
}

/// A loaded `apoflow.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    path: PathBuf,
    text: String,
    targets: BTreeMap<String, TargetSpec>,
}

/// A problem in `apoflow.toml`, with its location when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The text of the line.
    pub line_text: String,
    /// How many characters the caret underlines.
    pub width: usize,
}

impl std::error::Error for ConfigError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match &self.location {
            Some(loc) => {
                writeln!(f, "{file}:{}:{}: {}", loc.line, loc.column, self.message)?;
                let gutter = " ".repeat(loc.line.to_string().len());
                writeln!(f, "{gutter} |")?;
                writeln!(f, "{} | {}", loc.line, loc.line_text)?;
                write!(
                    f,
                    "{gutter} | {}{}",
                    " ".repeat(loc.column - 1),
                    "^".repeat(loc.width.max(1))
                )?;
            }
            None => write!(f, "{file}: {}", self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// Turns a byte span into a line/column location.
fn locate(text: &str, span: &Range<usize>) -> Location {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line_text = text[line_start..line_end].trim_end_matches('\r');
    let column = text[line_start..start].chars().count() + 1;
    let mut end = span.end.clamp(start, line_end);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Location {
        line: text[..start].matches('\n').count() + 1,
        column,
        line_text: line_text.to_owned(),
        width: text[start..end].chars().count(),
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
                "targets are defined in apoflow.toml (see the README, \"Signing, keys and \
                 targets\"); pass --config FILE to use another file"
                    .to_owned()
            }),
        })?;
        Config::parse(path, text)
    }

    /// Checks config text; `path` is used for messages and to resolve relative key files.
    pub fn parse(path: &Path, text: String) -> Result<Config, ConfigError> {
        let error = |span: Option<Range<usize>>, message: String, hint: Option<&str>| ConfigError {
            file: path.to_owned(),
            location: span.map(|s| locate(&text, &s)),
            message,
            hint: hint.map(str::to_owned),
        };
        let raw: RawConfig = toml::from_str(&text).map_err(|e| {
            let message = e.message().trim().to_owned();
            let hint = if message.contains("unknown field") {
                Some(
                    "a target takes endpoint or region, client_id, private_key, \
                     apo_public_key and key_version",
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
                private_key_span: raw_target.private_key.span(),
                apo_public_key_span: raw_target.apo_public_key.span(),
            };
            targets.insert(name, spec);
        }
        Ok(Config {
            path: path.to_owned(),
            text,
            targets,
        })
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
        let key_error = |span: &Range<usize>, e: super::key_source::KeyLoadError| ConfigError {
            file: self.path.clone(),
            location: Some(locate(&self.text, span)),
            message: e.to_string(),
            hint: Some(
                "the merchant private key is base64 PKCS#8 or PKCS#1 (PEM or bare); APO's public \
                 key is base64 X.509 (PEM or bare), from Antom Dashboard"
                    .to_owned(),
            ),
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
            err.to_string(),
            "apoflow.toml:3:10: unknown region `asia`\n  |\n3 | region = \"asia\"\n  |          ^^^^^^\n  = hint: use sea (Asia), na (North America) or eu (Europe), or give endpoint = \"https://...\""
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
