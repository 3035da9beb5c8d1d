//! HTTPS for the sandbox, so unmodified SDKs (which dial port 443 with verified TLS) connect.
//!
//! ```text
//! Config::tls_dir(DIR) ─► LocalCa::open(DIR): DIR/ca.pem + DIR/ca-key.pem (0600), made once, reused
//! start(listener)      ─► LocalCa::server_config(bound ip): a fresh leaf for localhost,
//!                         127.0.0.1, ::1 and the bound address ─► TlsListener (handshakes off
//!                         the accept loop) ─► axum::serve
//! ```
//! Clients trust `DIR/ca.pem` (e.g. `SSL_CERT_FILE=DIR/ca.pem` for Python). The CA is an ECDSA
//! P-256 key valid for [`CA_YEARS`] years; each leaf is valid for [`LEAF_DAYS`] days from the
//! day before the start. Certificates and keys come from `rcgen`, TLS from rustls with the
//! aws-lc-rs provider (the one reqwest's rustls already uses).

use std::fmt;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData as _,
};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

use crate::serve::{Admitted, GatedListener};

/// The CA certificate's file name in the TLS directory.
pub const CA_FILE: &str = "ca.pem";
/// The CA key's file name in the TLS directory (mode 0600).
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// The CA's common name; a reused `ca.pem` must carry it.
const CA_NAME: &str = "apoflow sandbox local CA";
/// How long the CA is valid.
pub const CA_YEARS: i16 = 10;
/// How long each leaf certificate is valid.
pub const LEAF_DAYS: i32 = 90;
/// How long a client may take to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why HTTPS could not be set up. Each message names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The directory could not be created.
    #[error("failed to create the TLS directory {}: {source}; give a writable --tls-dir", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("failed to write {}: {source}; give a writable --tls-dir", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("failed to read {}: {source}; make it readable, or delete {CA_FILE} and {CA_KEY_FILE} in its directory to create a new CA", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not a usable CA certificate or key.
    #[error("{} is not a usable {what}: {problem}; delete {CA_FILE} and {CA_KEY_FILE} in {} to create a new CA (then trust the new {CA_FILE})", path.display(), dir.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
        /// What it should be.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// One file of the pair is missing.
    #[error("{} exists but {} does not; restore it, or delete {} to create a new CA (then trust the new {CA_FILE})", present.display(), missing.display(), present.display())]
    HalfPair {
        /// The file that exists.
        present: PathBuf,
        /// The file that does not.
        missing: PathBuf,
    },
    /// A certificate or key could not be made.
    #[error("failed to make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the configuration.
    #[error("failed to set up TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The local CA of a TLS directory, loaded or created by [`LocalCa::open`].
pub struct LocalCa {
    dir: PathBuf,
    ca_file: PathBuf,
    key: KeyPair,
}

impl fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("LocalCa")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The CA's parameters: rebuilt identically on every start, so leaves signed with a reused
/// key name the subject and key identifier of the `ca.pem` made at the first start.
fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(Vec::new())?;
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, CA_NAME);
    p.distinguished_name
        .push(DnType::OrganizationName, "apoflow");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

/// Sets `params` valid from `from` days to `to` days from today (UTC).
fn validity(params: &mut CertificateParams, from: i32, to: i32) {
    let today = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let day = |days: i32| {
        let d = today
            .checked_add(jiff::Span::new().days(days))
            .unwrap_or(today);
        rcgen::date_time_ymd(
            i32::from(d.year()),
            u8::try_from(d.month()).unwrap_or(1),
            u8::try_from(d.day()).unwrap_or(1),
        )
    };
    params.not_before = day(from);
    params.not_after = day(to);
}

fn write_file(path: &Path, text: &str, private: bool) -> Result<(), TlsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let written = options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    written.map_err(|source| TlsError::Write {
        path: path.to_owned(),
        source,
    })
}

fn read_file(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

impl LocalCa {
    /// Loads the CA in `dir`, or creates it (and `dir`) when neither file exists. Both files
    /// must then parse, and the certificate must be this CA's for this key.
    pub fn open(dir: &Path) -> Result<Self, TlsError> {
        std::fs::create_dir_all(dir).map_err(|source| TlsError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let ca_file = dir.join(CA_FILE);
        let key_file = dir.join(CA_KEY_FILE);
        let key = match (ca_file.exists(), key_file.exists()) {
            (false, false) => {
                let key = KeyPair::generate()?;
                let mut params = ca_params()?;
                validity(&mut params, -1, 365 * i32::from(CA_YEARS));
                let cert = params.self_signed(&key)?;
                write_file(&key_file, &key.serialize_pem(), true)?;
                write_file(&ca_file, &cert.pem(), false)?;
                key
            }
            (true, true) => Self::load(dir, &ca_file, &key_file)?,
            (true, false) => {
                return Err(TlsError::HalfPair {
                    present: ca_file,
                    missing: key_file,
                });
            }
            (false, true) => {
                return Err(TlsError::HalfPair {
                    present: key_file,
                    missing: ca_file,
                });
            }
        };
        Ok(LocalCa {
            dir: dir.to_owned(),
            ca_file,
            key,
        })
    }

    fn load(dir: &Path, ca_file: &Path, key_file: &Path) -> Result<KeyPair, TlsError> {
        let corrupt = |path: &Path, what, problem: String| TlsError::Corrupt {
            path: path.to_owned(),
            dir: dir.to_owned(),
            what,
            problem,
        };
        let key = KeyPair::from_pem(&read_file(key_file)?)
            .map_err(|e| corrupt(key_file, "CA private key (PEM)", e.to_string()))?;
        let cert = CertificateDer::from_pem_slice(read_file(ca_file)?.as_bytes())
            .map_err(|e| corrupt(ca_file, "CA certificate (PEM)", e.to_string()))?;
        // Without an X.509 parser: the certificate must embed this key's public key and the
        // CA's name, which is all the leaves rely on.
        let contains = |needle: &[u8]| cert.windows(needle.len()).any(|w| w == needle);
        if !contains(&key.subject_public_key_info()) {
            return Err(corrupt(
                ca_file,
                "CA certificate",
                format!("it does not match the key in {CA_KEY_FILE}"),
            ));
        }
        if !contains(CA_NAME.as_bytes()) {
            return Err(corrupt(
                ca_file,
                "CA certificate",
                format!("it is not apoflow's local CA (no subject {CA_NAME:?})"),
            ));
        }
        Ok(key)
    }

    /// The CA certificate clients trust (`DIR/ca.pem`).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// A server configuration with a fresh leaf certificate (see [`LocalCa::leaf`]).
    pub fn server_config(&self, bound: IpAddr) -> Result<rustls::ServerConfig, TlsError> {
        let (cert, key) = self.leaf(bound)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)?;
        // axum serves HTTP/1.1 only.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }

    /// A fresh leaf certificate and its key, signed by this CA, for `localhost`, `127.0.0.1`,
    /// `::1` and `bound` (when it is a specific address; `0.0.0.0`/`::` add nothing).
    fn leaf(
        &self,
        bound: IpAddr,
    ) -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), TlsError> {
        let mut names = vec![
            "localhost".to_owned(),
            Ipv4Addr::LOCALHOST.to_string(),
            Ipv6Addr::LOCALHOST.to_string(),
        ];
        if !bound.is_unspecified() && !names.contains(&bound.to_string()) {
            names.push(bound.to_string());
        }
        let mut leaf = CertificateParams::new(names)?;
        leaf.distinguished_name = rcgen::DistinguishedName::new();
        leaf.distinguished_name
            .push(DnType::CommonName, "apoflow sandbox");
        validity(&mut leaf, -1, LEAF_DAYS);
        leaf.use_authority_key_identifier_extension = true;
        leaf.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate()?;
        let issuer = Issuer::new(ca_params()?, &self.key);
        let cert = leaf.signed_by(&leaf_key, &issuer)?;
        Ok((
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        ))
    }
}

/// A TCP listener that hands out finished TLS connections. Handshakes run in their own tasks
/// (bounded by [`HANDSHAKE_TIMEOUT`]), so a slow or failing client never stalls the others;
/// failed handshakes are logged at debug level and dropped.
pub struct TlsListener {
    local: SocketAddr,
    accepted: mpsc::Receiver<(TlsStream<Admitted<TcpStream>>, SocketAddr)>,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `listener` with `config`. Must be called inside a tokio runtime.
    pub fn new(mut listener: GatedListener, config: rustls::ServerConfig) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let (tx, accepted) = mpsc::channel(64);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = listener.accept().await;
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            local,
            accepted,
            acceptor_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<Admitted<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(conn) => conn,
            // The acceptor task only ends when aborted, i.e. when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_created_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let first = LocalCa::open(&tls).unwrap();
        let pem = std::fs::read_to_string(first.ca_file()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(tls.join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = LocalCa::open(&tls).unwrap();
        assert_eq!(std::fs::read_to_string(again.ca_file()).unwrap(), pem);
        again.server_config("127.0.0.7".parse().unwrap()).unwrap();
    }

    /// The leaf chains to the ca.pem made at an earlier start, for every name, as rustls
    /// clients (reqwest) check it; not for other names.
    #[test]
    fn the_leaf_verifies_against_the_ca_for_each_name() {
        use rustls::client::danger::ServerCertVerifier as _;
        use rustls::pki_types::{ServerName, UnixTime};
        let dir = tempfile::tempdir().unwrap();
        drop(LocalCa::open(dir.path()).unwrap());
        let ca = LocalCa::open(dir.path()).unwrap();
        let (leaf, _) = ca.leaf("127.0.0.7".parse().unwrap()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(ca.ca_file()).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        let check = |name: &str| {
            let name = ServerName::try_from(name.to_owned()).unwrap();
            verifier.verify_server_cert(&leaf, &[], &name, &[], UnixTime::now())
        };
        for name in ["localhost", "127.0.0.1", "::1", "127.0.0.7"] {
            check(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(check("example.com").is_err());
        assert!(check("127.0.0.8").is_err());
    }

    #[test]
    fn a_broken_or_half_pair_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        drop(LocalCa::open(dir.path()).unwrap());
        let key = dir.path().join(CA_KEY_FILE);
        let good_key = std::fs::read_to_string(&key).unwrap();
        std::fs::write(&key, "not a key").unwrap();
        let e = LocalCa::open(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("ca-key.pem is not a usable CA private key"),
            "{e}"
        );
        assert!(e.contains("delete ca.pem and ca-key.pem"), "{e}");
        // Another key: the certificate no longer matches it.
        std::fs::write(&key, KeyPair::generate().unwrap().serialize_pem()).unwrap();
        let e = LocalCa::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("does not match the key"), "{e}");
        std::fs::write(&key, good_key).unwrap();
        std::fs::write(dir.path().join(CA_FILE), "garbage").unwrap();
        let e = LocalCa::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("ca.pem is not a usable CA certificate"), "{e}");
        std::fs::remove_file(dir.path().join(CA_FILE)).unwrap();
        let e = LocalCa::open(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("exists but") && e.contains("ca.pem does not"),
            "{e}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_unwritable_directory_is_a_clear_error() {
        let e = LocalCa::open(Path::new("/proc/apoflow-no/tls"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("failed to create the TLS directory /proc/apoflow-no/tls"),
            "{e}"
        );
    }
}
