//! RSA keys as APO's dashboard and SDKs hand them out: base64 PKCS#8 or PKCS#1 private keys and
//! X.509 SubjectPublicKeyInfo public keys, with or without PEM armour.
//!
//! Keys are parsed once per run and shared; the key material itself never appears in an error
//! message or in `Debug` output. Parsing, generation and signing are aws-lc-rs's (the crypto
//! library rustls already builds into the binary): see `docs/src/performance.md` for why.

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

/// The key size APO requires ("the key length must be 2048 bits"), and the smallest key
/// accepted (aws-lc-rs signs and verifies RSA with 2048- to 8192-bit keys).
pub const KEY_BITS: usize = 2048;

/// Why a key could not be used. The messages say what to do and never contain key material.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The text is empty.
    #[error("the key is empty")]
    Empty,
    /// The text is not base64 (after removing PEM armour and white space).
    #[error(
        "the key is not valid base64 (expected the base64 body of a DER key, with or without PEM armour)"
    )]
    NotBase64,
    /// The bytes are not a private key in any accepted format.
    #[error("the key is not an RSA private key in PKCS#8 or PKCS#1 form")]
    NotPrivateKey,
    /// The bytes are not a public key in any accepted format.
    #[error(
        "the key is not an RSA public key in X.509 SubjectPublicKeyInfo (or PKCS#1) form; \
         note that APO's public key is not the merchant private key"
    )]
    NotPublicKey,
    /// A private key was given where a public key is expected.
    #[error("this is a private key, but a public key is expected here")]
    PrivateWherePublicExpected,
    /// The key is smaller than [`KEY_BITS`].
    #[error("the key has fewer than 2048 bits; APO keys are 2048-bit RSA")]
    TooSmall,
    /// Generating or encoding a key failed (the operating system's random source failed).
    #[error("failed to generate or encode a key: {0}")]
    Generate(String),
}

/// A merchant (or sandbox) private key, used to sign.
#[derive(Clone)]
pub struct PrivateKey {
    pub(crate) pair: KeyPair,
    public: PublicKey,
}

/// A public key, used to verify: parsed once, its X.509 SubjectPublicKeyInfo DER kept.
#[derive(Clone)]
pub struct PublicKey {
    pub(crate) parsed: ParsedPublicKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(***)")
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PublicKey(..)")
    }
}

/// Strips PEM armour lines and all white space, then decodes base64.
fn der_from_text(text: &str) -> Result<Vec<u8>, KeyError> {
    let body: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("-----"))
        .flat_map(|line| line.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    if body.is_empty() {
        return Err(KeyError::Empty);
    }
    B64.decode(body.as_bytes()).map_err(|_| KeyError::NotBase64)
}

/// A rejected private key: too small, or not a key.
fn private_key_error(e: &KeyRejected) -> KeyError {
    if e.description_() == "TooSmall" {
        KeyError::TooSmall
    } else {
        KeyError::NotPrivateKey
    }
}

impl PrivateKey {
    /// Parses a private key: base64 PKCS#8 (`MIIEv…`, the dashboard's format) or PKCS#1
    /// (`MIIEp…`), with or without PEM armour.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let der = der_from_text(text)?;
        let pair = KeyPair::from_pkcs8(&der).or_else(|pkcs8| {
            KeyPair::from_der(&der).map_err(|pkcs1| {
                // Report "too small" when either form parsed as a key.
                match private_key_error(&pkcs8) {
                    KeyError::TooSmall => KeyError::TooSmall,
                    _ => private_key_error(&pkcs1),
                }
            })
        })?;
        Self::from_pair(pair)
    }

    fn from_pair(pair: KeyPair) -> Result<Self, KeyError> {
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|_| KeyError::NotPrivateKey)?;
        let public =
            PublicKey::from_spki_der(spki.as_ref()).map_err(|_| KeyError::NotPrivateKey)?;
        Ok(PrivateKey { pair, public })
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// Generates a fresh 2048-bit key from the operating system's random source. Slow (up to
    /// a second): never call it on a request path.
    pub fn generate() -> Result<Self, KeyError> {
        let pair =
            KeyPair::generate(KeySize::Rsa2048).map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_pair(pair)
    }

    /// The key as APO's dashboard hands it out: base64 of the PKCS#8 DER, one line, no
    /// armour. This is secret: write it only to a file the user asked for.
    pub fn to_pkcs8_base64(&self) -> Result<String, KeyError> {
        let der = self
            .pair
            .as_der()
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Ok(B64.encode(der.as_ref()))
    }
}

impl PublicKey {
    /// The key as APO's dashboard shows it: base64 of the X.509 SubjectPublicKeyInfo DER, one
    /// line, no armour.
    pub fn to_spki_base64(&self) -> Result<String, KeyError> {
        Ok(B64.encode(self.parsed.as_ref()))
    }

    /// The key in PEM (`-----BEGIN PUBLIC KEY-----`, SPKI, 64 characters a line), as SDKs
    /// read key files.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        let body = self.to_spki_base64()?;
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        Ok(pem)
    }

    /// Parses a public key: base64 X.509 SubjectPublicKeyInfo (`MIIBI…`, APO's format) or a
    /// PKCS#1 `RSAPublicKey`, with or without PEM armour.
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        let der = der_from_text(text)?;
        aws_lc_rs::rsa::PublicKey::from_der(&der)
            .ok()
            .and_then(|key| key.as_der().ok())
            .and_then(|spki| Self::from_spki_der(spki.as_ref()).ok())
            .ok_or_else(|| {
                if PrivateKey::from_text(text).is_ok() {
                    KeyError::PrivateWherePublicExpected
                } else {
                    KeyError::NotPublicKey
                }
            })
    }

    /// A verifier for X.509 SubjectPublicKeyInfo DER.
    fn from_spki_der(spki: &[u8]) -> Result<Self, KeyRejected> {
        ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki).map(|parsed| PublicKey { parsed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_key_round_trips_through_pem() {
        let pem = crate::apo::target::EMBEDDED_APO_PUBLIC_PEM;
        let key = PublicKey::from_text(pem).unwrap();
        assert_eq!(key.to_pem().unwrap().trim(), pem.trim());
    }

    pub(crate) fn vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../../tests/data/signature-vectors.json"))
            .expect("vectors parse")
    }

    #[test]
    fn loads_every_form_of_the_vector_keys() {
        let v = vectors();
        let keys = &v["keys"];
        for field in [
            "merchant_private_key_pkcs8_base64",
            "merchant_private_key_pkcs1_base64",
            "private_key_pkcs8_pem",
        ] {
            let text = keys[field].as_str().unwrap();
            PrivateKey::from_text(text).unwrap_or_else(|e| panic!("{field}: {e}"));
        }
        for field in ["public_key_x509_spki_base64", "public_key_pem"] {
            PublicKey::from_text(keys[field].as_str().unwrap()).unwrap();
        }
    }

    #[test]
    fn bad_keys_give_clear_errors_without_key_material() {
        assert_eq!(PrivateKey::from_text("  ").unwrap_err(), KeyError::Empty);
        assert_eq!(
            PrivateKey::from_text("not base64!").unwrap_err(),
            KeyError::NotBase64
        );
        assert_eq!(
            PrivateKey::from_text("AAAA").unwrap_err(),
            KeyError::NotPrivateKey
        );
        let v = vectors();
        let sk = v["keys"]["merchant_private_key_pkcs8_base64"]
            .as_str()
            .unwrap();
        assert_eq!(
            PublicKey::from_text(sk).unwrap_err(),
            KeyError::PrivateWherePublicExpected
        );
        let pk = v["keys"]["public_key_x509_spki_base64"].as_str().unwrap();
        let err = PrivateKey::from_text(pk).unwrap_err().to_string();
        assert!(!err.contains(&pk[..20]));
        let debug = format!("{:?}", PrivateKey::from_text(sk).unwrap());
        assert_eq!(debug, "PrivateKey(***)");
        // A 512-bit key (test-only, made with `openssl genrsa 512`).
        let small = "MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAuspfc+j9FRtnMgk0+HuZaPnJPDe/vHFfi7hFHtU3Y/wPo6ZtxdXM57N5OnLEKt86BZ7C9Zn08TZkir9oRKru0wIDAQABAkEAgM3cVIltO4jR+Gbw6AgTGZhlc+jdhoyHXkmLIF/W+lI+x7MaxBPfHwpJCfOQ2PhsRL02GxU/vTqKcq7TYEJnAQIhAPUpwmw+jtC4vGS0TZ4zhCa5FEqY3IJGGB+xqsi2oIyDAiEAwwwTNo4Jj7i5IV7IgMHfpTz9EAoEIKyxAnkiumNdI3ECIBJtZx23vghWOmLfYo4nlSFL/Ah3YOux1RJcyld30q19AiEAwshER68BDW5EM3ccdLkoRzPo5SObi6Xp/7ZJYCnq0YECIQCQD8XYVVw7b9O0lpp4JYzUFJtPgy2Np9+e1r5LXMnYdg==";
        assert_eq!(
            PrivateKey::from_text(small).unwrap_err(),
            KeyError::TooSmall
        );
    }

    #[test]
    fn encodings_round_trip_to_the_dashboard_format() {
        let v = vectors();
        let sk_text = v["keys"]["merchant_private_key_pkcs8_base64"]
            .as_str()
            .unwrap();
        let sk = PrivateKey::from_text(sk_text).unwrap();
        assert_eq!(sk.to_pkcs8_base64().unwrap(), sk_text);
        assert_eq!(
            sk.public_key().to_spki_base64().unwrap(),
            v["keys"]["public_key_x509_spki_base64"].as_str().unwrap()
        );
    }
}
