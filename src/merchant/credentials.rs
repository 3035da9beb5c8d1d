//! The files a merchant signs and verifies with: its private key and APO's public key, written
//! for the run into a private folder (mode 0700, files 0600) and removed when the run ends.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

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
