//! What wires a merchant to the sandbox: its client id and key pair registered with the
//! sandbox, and the environment it is started with (where APO is, the files it signs and
//! verifies with, written for the run into a private folder, mode 0700, files 0600, removed when
//! the run ends). `apoflow run --merchant` and `apoflow sandbox` use the same wiring.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::apo::keys::PublicKey;
use crate::apo::target::{EMBEDDED_MERCHANT_PRIVATE_PEM, EMBEDDED_MERCHANT_PUBLIC_PEM};
use crate::config::MerchantSpec;

/// A configured merchant with its key pair read.
#[derive(Debug)]
pub struct Wiring<'a> {
    spec: &'a MerchantSpec,
    private_pem: String,
    public_key: PublicKey,
}

impl<'a> Wiring<'a> {
    /// Reads the merchant's key pair: its configured files, or the fixed test-only merchant
    /// keys. Errors name the merchant and the file.
    pub fn new(spec: &'a MerchantSpec) -> Result<Self, String> {
        let (private_pem, public_pem) = match &spec.keys {
            None => (
                EMBEDDED_MERCHANT_PRIVATE_PEM.to_owned(),
                EMBEDDED_MERCHANT_PUBLIC_PEM.to_owned(),
            ),
            Some((private, public)) => {
                let read = |path: &Path| {
                    fs::read_to_string(path).map_err(|e| {
                        format!(
                            "merchant `{}`: failed to read its key file {}: {e}",
                            spec.name,
                            path.display()
                        )
                    })
                };
                (read(private)?, read(public)?)
            }
        };
        let public_key = PublicKey::from_text(&public_pem)
            .map_err(|e| format!("merchant `{}`: its public key: {e}", spec.name))?;
        Ok(Wiring {
            spec,
            private_pem,
            public_key,
        })
    }

    /// Registers its client id, public key and dashboard-level notification URL, and asks that
    /// its buyers return after its notification (`sandbox::Config::notify_before_return`).
    pub fn register(&self, config: &mut crate::sandbox::Config) {
        let id = self.spec.client_id();
        config.register_merchant(&id, self.public_key.clone());
        config.default_notify_url(&id, self.spec.notify_url.as_ref().map(|u| u.to_string()));
        config.notify_before_return(&id);
    }

    /// The merchant as configured.
    pub fn spec(&self) -> &MerchantSpec {
        self.spec
    }

    /// Writes its key files (with `apo_public_pem`, the key APO's responses and
    /// notifications verify with) and returns them with the environment that points it at the
    /// sandbox at `gateway` (and, under TLS, at the CA to trust): `APO_GATEWAY_URL`,
    /// `APO_CLIENT_ID`, `APO_MERCHANT_PRIVATE_KEY_FILE`, `APO_PUBLIC_KEY_FILE`, `MERCHANT_URL`,
    /// and with a CA `SSL_CERT_FILE`, `NODE_EXTRA_CA_CERTS`, `APO_CA_FILE`.
    pub fn env(
        &self,
        gateway: &str,
        apo_public_pem: &str,
        ca_file: Option<&Path>,
    ) -> Result<(KeyFiles, Vec<(String, String)>), String> {
        let keys = KeyFiles::write(&self.private_pem, apo_public_pem)
            .map_err(|e| format!("failed to write the merchant's key files: {e}"))?;
        let path = |p: &Path| p.display().to_string();
        let mut env = vec![
            (
                "APO_GATEWAY_URL".to_owned(),
                gateway.trim_end_matches('/').to_owned(),
            ),
            ("APO_CLIENT_ID".to_owned(), self.spec.client_id()),
            (
                "APO_MERCHANT_PRIVATE_KEY_FILE".to_owned(),
                path(&keys.merchant_private),
            ),
            ("APO_PUBLIC_KEY_FILE".to_owned(), path(&keys.apo_public)),
            (
                "MERCHANT_URL".to_owned(),
                self.spec.url.as_str().trim_end_matches('/').to_owned(),
            ),
        ];
        if let Some(ca) = ca_file {
            // Python's ssl (and so the official SDK) reads SSL_CERT_FILE; Node adds
            // NODE_EXTRA_CA_CERTS to its roots; APO_CA_FILE names it for anything else.
            for name in ["SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS", "APO_CA_FILE"] {
                env.push((name.to_owned(), path(ca)));
            }
        }
        Ok((keys, env))
    }
}

/// The key files of one run; the folder is removed on drop.
#[derive(Debug)]
pub struct KeyFiles {
    dir: PathBuf,
    /// The merchant's private key (PEM, PKCS#8): `APO_MERCHANT_PRIVATE_KEY_FILE`.
    pub merchant_private: PathBuf,
    /// APO's (the sandbox's) public key (PEM, SPKI): `APO_PUBLIC_KEY_FILE`.
    pub apo_public: PathBuf,
}

impl KeyFiles {
    /// Writes both keys into a new private folder under the system's temporary folder. The
    /// private key's text is registered with the masker first, so it can reach no output.
    pub fn write(merchant_private_pem: &str, apo_public_pem: &str) -> std::io::Result<KeyFiles> {
        crate::mask::register_secret(merchant_private_pem);
        let dir = std::env::temp_dir().join(format!(
            "apoflow-merchant-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let files = KeyFiles {
            merchant_private: dir.join("merchant-private.pem"),
            apo_public: dir.join("apo-public.pem"),
            dir,
        };
        write_private(&files.merchant_private, merchant_private_pem)?;
        write_private(&files.apo_public, apo_public_pem)?;
        Ok(files)
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

impl Drop for KeyFiles {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_are_private_and_removed() {
        let files = KeyFiles::write("-----BEGIN PRIVATE KEY-----\nsecretsecret\n", "pub").unwrap();
        let mode = fs::metadata(&files.merchant_private)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(fs::read_to_string(&files.apo_public).unwrap(), "pub");
        let dir = files.dir.clone();
        drop(files);
        assert!(!dir.exists());
    }
}
