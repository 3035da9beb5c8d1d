//! Where a key comes from: a file or an environment variable, never a flow file.
//!
//! A key is read once per run. The private key's text is registered with [`crate::mask`] as
//! soon as it is read, so it can never reach any output; errors name the file or variable and
//! the role of the key, never its content.

use std::fmt;
use std::path::{Path, PathBuf};

use super::keys::{KeyError, PrivateKey, PublicKey};
use crate::mask;

/// Where to read a key from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A file holding the key (base64 or PEM).
    File(PathBuf),
    /// An environment variable holding the key (base64 or PEM; `\n` escapes are accepted).
    Env(String),
}

impl KeySource {
    /// Resolves a relative file path against `base` (the directory of the config file).
    pub fn relative_to(self, base: &Path) -> KeySource {
        match self {
            KeySource::File(p) if p.is_relative() => KeySource::File(base.join(p)),
            other => other,
        }
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::File(p) => write!(f, "file `{}`", p.display()),
            KeySource::Env(name) => write!(f, "environment variable `{name}`"),
        }
    }
}

/// Which key is being loaded; named in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The merchant's private key, which signs requests.
    MerchantPrivate,
    /// APO's public key, which verifies responses and notifications.
    ApoPublic,
}

impl fmt::Display for KeyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyRole::MerchantPrivate => "merchant private key",
            KeyRole::ApoPublic => "APO public key",
        })
    }
}

/// Why a key could not be loaded from its source.
#[derive(Debug, thiserror::Error)]
#[error("failed to load the {role} from {from}: {kind}")]
pub struct KeyLoadError {
    /// Which key.
    pub role: KeyRole,
    /// Where it was looked for.
    pub from: KeySource,
    /// What went wrong.
    pub kind: KeyLoadErrorKind,
}

/// What went wrong while loading a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyLoadErrorKind {
    /// The file could not be read.
    #[error("{0}")]
    Unreadable(std::io::Error),
    /// The environment variable is not set or empty.
    #[error("the variable is not set (export it, or point the config at a file)")]
    EnvNotSet,
    /// The text is not a usable key.
    #[error("{0}")]
    Key(KeyError),
}

/// Reads the text of a key; `env` looks up environment variables (the CLI's `Context`).
fn read_text(
    role: KeyRole,
    source: &KeySource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, KeyLoadError> {
    let fail = |kind| KeyLoadError {
        role,
        from: source.clone(),
        kind,
    };
    match source {
        KeySource::File(path) => {
            std::fs::read_to_string(path).map_err(|e| fail(KeyLoadErrorKind::Unreadable(e)))
        }
        KeySource::Env(name) => env(name)
            .filter(|v| !v.trim().is_empty())
            // A PEM pasted into one line of a `.env` file carries literal `\n` escapes.
            .map(|v| v.replace("\\n", "\n"))
            .ok_or_else(|| fail(KeyLoadErrorKind::EnvNotSet)),
    }
}

/// Loads the merchant private key from its source and registers its text as a secret.
pub fn load_private_key(
    source: &KeySource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PrivateKey, KeyLoadError> {
    let role = KeyRole::MerchantPrivate;
    let text = read_text(role, source, env)?;
    mask::register_key_text(&text);
    PrivateKey::from_text(&text).map_err(|e| KeyLoadError {
        role,
        from: source.clone(),
        kind: KeyLoadErrorKind::Key(e),
    })
}

/// Loads APO's public key from its source.
pub fn load_public_key(
    source: &KeySource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PublicKey, KeyLoadError> {
    let role = KeyRole::ApoPublic;
    let text = read_text(role, source, env)?;
    PublicKey::from_text(&text).map_err(|e| {
        if matches!(e, KeyError::PrivateWherePublicExpected) {
            // A private key pasted in the wrong place is still a secret.
            mask::register_key_text(&text);
        }
        KeyLoadError {
            role,
            from: source.clone(),
            kind: KeyLoadErrorKind::Key(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MERCHANT_PEM: &str = include_str!("../../fixtures/keys/merchant-private.pem");

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn loads_from_a_file_and_masks_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        std::fs::write(&path, MERCHANT_PEM).unwrap();
        load_private_key(
            &KeySource::File("k.pem".into()).relative_to(dir.path()),
            &no_env,
        )
        .unwrap();
        let second_line = MERCHANT_PEM.lines().nth(1).unwrap();
        assert_eq!(mask::mask_text(second_line), mask::MASKED);
    }

    #[test]
    fn loads_from_env_with_escaped_newlines() {
        let one_line = MERCHANT_PEM.trim().replace('\n', "\\n");
        let env = move |name: &str| (name == "K").then(|| one_line.clone());
        load_private_key(&KeySource::Env("K".into()), &env).unwrap();
    }

    #[test]
    fn errors_name_the_source_and_role_but_not_the_key() {
        let err = load_private_key(&KeySource::Env("APO_KEY".into()), &no_env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to load the merchant private key from environment variable `APO_KEY`: \
             the variable is not set (export it, or point the config at a file)"
        );
        let err =
            load_public_key(&KeySource::File("/nonexistent/apo.pub".into()), &no_env).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "failed to load the APO public key from file `/nonexistent/apo.pub`: "
            ),
            "{err}"
        );
        let env = |_: &str| Some(MERCHANT_PEM.to_owned());
        let err = load_public_key(&KeySource::Env("PUB".into()), &env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("this is a private key"), "{err}");
        assert!(!err.contains(&MERCHANT_PEM.lines().nth(1).unwrap()[..16]));
    }
}
