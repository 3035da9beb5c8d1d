//! THE signer and verifier of APO signatures, used by the client, the sandbox and the receiver.
//!
//! ```text
//! content   = "POST " + <path, with query if any> + "\n" + <client-id> + "." + <time> + "." + <raw body>
//! signature = urlencode(base64(RSASSA-PKCS1-v1_5(SHA-256, private key, content)))
//! header    = "algorithm=RSA256,keyVersion=1,signature=" + signature
//! ```
//!
//! `<time>` is the `request-time` (requests, notifications) or `response-time` (responses)
//! header, taken as the literal string: epoch milliseconds and every ISO 8601 variant the SDKs
//! send are accepted. The body is always the raw bytes sent, never a re-serialisation.
//! Verification accepts spaces after the commas and lowercase percent escapes, as the official
//! SDKs produce; like the Python SDK it decodes `+` as a space, so an un-encoded base64
//! signature containing `+` does not verify (send it URL-encoded).

use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::keys::{PrivateKey, PublicKey};

/// The one algorithm APO uses.
pub const ALGORITHM: &str = "RSA256";

/// What is signed: the method, the path, the client id, the time header and the raw body.
#[derive(Debug, Clone, Copy)]
pub struct SignedParts<'a> {
    /// The HTTP method; always `POST` for APO.
    pub method: &'a str,
    /// The request path, domain excluded, with the query string if any.
    pub path: &'a str,
    /// The `client-id` header.
    pub client_id: &'a str,
    /// The literal `request-time` or `response-time` header.
    pub time: &'a str,
    /// The raw body bytes, exactly as sent.
    pub body: &'a [u8],
}

impl<'a> SignedParts<'a> {
    /// Parts of a POST (every APO call, response and notification is a POST).
    pub fn post(path: &'a str, client_id: &'a str, time: &'a str, body: &'a [u8]) -> Self {
        SignedParts {
            method: "POST",
            path,
            client_id,
            time,
            body,
        }
    }

    /// The content to be signed, as bytes.
    pub fn content(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.method.len()
                + self.path.len()
                + self.client_id.len()
                + self.time.len()
                + self.body.len()
                + 4,
        );
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.path.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(self.client_id.as_bytes());
        out.push(b'.');
        out.extend_from_slice(self.time.as_bytes());
        out.push(b'.');
        out.extend_from_slice(self.body);
        out
    }
}

/// Why a signature did not verify. Each names the cause a user can act on.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// No signature header at all.
    #[error("the signature header is missing")]
    Missing,
    /// The header has no `signature=` part, or is otherwise malformed.
    #[error("the signature header is malformed: {0}")]
    Malformed(String),
    /// The algorithm is not RSA256.
    #[error("the signature algorithm `{0}` is not supported (expected RSA256)")]
    Algorithm(String),
    /// The signature value is not base64 after URL-decoding.
    #[error("the signature value is not URL-encoded base64")]
    NotBase64,
    /// The signature does not match the content and key.
    #[error(
        "the signature does not match the content (wrong key, or body, path, client id or time changed)"
    )]
    Mismatch,
}

/// A parsed `signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The algorithm, `RSA256`.
    pub algorithm: String,
    /// The key version; the SDKs send `1`.
    pub key_version: String,
    /// The raw signature bytes.
    pub signature: Vec<u8>,
}

impl SignatureHeader {
    /// Formats the header value as the SDKs do: no spaces, URL-encoded base64 signature.
    pub fn format(&self) -> String {
        format!(
            "algorithm={},keyVersion={},signature={}",
            self.algorithm,
            self.key_version,
            encode_signature(&self.signature)
        )
    }

    /// Parses a header value such as `algorithm=RSA256, keyVersion=1, signature=abc%3D`.
    pub fn parse(value: &str) -> Result<Self, VerifyError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(VerifyError::Missing);
        }
        let mut algorithm = None;
        let mut key_version = None;
        let mut signature = None;
        for part in value.split(',') {
            let part = part.trim();
            let Some((k, v)) = part.split_once('=') else {
                return Err(VerifyError::Malformed(format!("`{part}` is not key=value")));
            };
            match k.trim() {
                "algorithm" => algorithm = Some(v.trim().to_owned()),
                "keyVersion" => key_version = Some(v.trim().to_owned()),
                "signature" => signature = Some(v.trim().to_owned()),
                // Unknown attributes are ignored, as the SDKs do.
                _ => {}
            }
        }
        let signature =
            signature.ok_or_else(|| VerifyError::Malformed("no `signature=` part".to_owned()))?;
        let algorithm = algorithm.unwrap_or_else(|| ALGORITHM.to_owned());
        if algorithm != ALGORITHM {
            return Err(VerifyError::Algorithm(algorithm));
        }
        Ok(SignatureHeader {
            algorithm,
            key_version: key_version.unwrap_or_else(|| "1".to_owned()),
            signature: decode_signature(&signature)?,
        })
    }
}

/// URL-encodes standard base64 of the signature bytes (`+` → `%2B`, `/` → `%2F`, `=` → `%3D`).
pub fn encode_signature(signature: &[u8]) -> String {
    utf8_percent_encode(&B64.encode(signature), NON_ALPHANUMERIC).to_string()
}

/// URL-decodes (form style, any hex case) then base64-decodes a signature value.
pub fn decode_signature(value: &str) -> Result<Vec<u8>, VerifyError> {
    let plus_as_space = value.replace('+', " ");
    let decoded = percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map_err(|_| VerifyError::NotBase64)?;
    B64.decode(decoded.as_bytes())
        .map_err(|_| VerifyError::NotBase64)
}

/// Signs the parts with a private key; returns the raw signature bytes.
pub fn sign_raw(key: &PrivateKey, parts: &SignedParts<'_>) -> Vec<u8> {
    let mut signature = vec![0; key.pair.public_modulus_len()];
    // PKCS#1 v1.5 padding is deterministic: the random source is not used (aws-lc-rs ignores it).
    let rng = aws_lc_rs::rand::SystemRandom::new();
    key.pair
        .sign(&RSA_PKCS1_SHA256, &rng, &parts.content(), &mut signature)
        // Signing fails only for a buffer of the wrong length or a key outside 2048–8192 bits,
        // which the key loader never yields; treat it as an invariant.
        .expect("RSA PKCS#1 v1.5 signing with a parsed key cannot fail");
    signature
}

/// Signs the parts and returns the full `signature` header value (`keyVersion=1`, as every
/// SDK sends).
pub fn sign(key: &PrivateKey, parts: &SignedParts<'_>) -> String {
    sign_with_key_version(key, parts, "1")
}

/// Signs the parts and returns the full `signature` header value with the given `keyVersion`.
pub fn sign_with_key_version(
    key: &PrivateKey,
    parts: &SignedParts<'_>,
    key_version: &str,
) -> String {
    SignatureHeader {
        algorithm: ALGORITHM.to_owned(),
        key_version: key_version.to_owned(),
        signature: sign_raw(key, parts),
    }
    .format()
}

/// Verifies a `signature` header value over the parts with a public key.
pub fn verify(key: &PublicKey, parts: &SignedParts<'_>, header: &str) -> Result<(), VerifyError> {
    let header = SignatureHeader::parse(header)?;
    key.parsed
        .verify_sig(&parts.content(), &header.signature)
        .map_err(|_| VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vector {
        id: String,
        path: String,
        client_id: String,
        time: String,
        body: String,
        content: String,
        signature_b64: String,
        signature_urlencoded: String,
        header: String,
    }

    fn vectors() -> (PrivateKey, PublicKey, Vec<Vector>) {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/data/signature-vectors.json")).unwrap();
        let sk = PrivateKey::from_text(
            v["keys"]["merchant_private_key_pkcs8_base64"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let pk = PublicKey::from_text(v["keys"]["public_key_x509_spki_base64"].as_str().unwrap())
            .unwrap();
        let s = |x: &serde_json::Value| x.as_str().unwrap().to_owned();
        let vectors = v["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| Vector {
                id: s(&x["id"]),
                path: s(&x["inputs"]["path"]),
                client_id: s(&x["inputs"]["client_id"]),
                time: s(&x["inputs"]["time_value"]),
                body: s(&x["inputs"]["body"]),
                content: s(&x["content_to_be_signed"]),
                signature_b64: s(&x["signature_base64"]),
                signature_urlencoded: s(&x["signature_urlencoded"]),
                header: s(&x["signature_header"]),
            })
            .collect();
        (sk, pk, vectors)
    }

    fn parts(v: &Vector) -> SignedParts<'_> {
        SignedParts::post(&v.path, &v.client_id, &v.time, v.body.as_bytes())
    }

    #[test]
    fn every_vector_content_signature_and_header_is_reproduced() {
        let (sk, _, vectors) = vectors();
        assert_eq!(vectors.len(), 4);
        for v in &vectors {
            assert_eq!(
                String::from_utf8(parts(v).content()).unwrap(),
                v.content,
                "{}",
                v.id
            );
            let raw = sign_raw(&sk, &parts(v));
            assert_eq!(B64.encode(&raw), v.signature_b64, "{}", v.id);
            assert_eq!(encode_signature(&raw), v.signature_urlencoded, "{}", v.id);
            assert_eq!(sign(&sk, &parts(v)), v.header, "{}", v.id);
        }
    }

    #[test]
    fn every_vector_verifies_in_every_sdk_spelling() {
        let (_, pk, vectors) = vectors();
        for v in &vectors {
            verify(&pk, &parts(v), &v.header).unwrap();
            let spaced = v.header.replace(',', ", ");
            verify(&pk, &parts(v), &spaced).unwrap();
            let lower = v
                .header
                .replace("%2B", "%2b")
                .replace("%2F", "%2f")
                .replace("%3D", "%3d");
            verify(&pk, &parts(v), &lower).unwrap();
        }
    }

    #[test]
    fn tampering_with_any_part_fails() {
        let (_, pk, vectors) = vectors();
        let v = &vectors[0];
        let p = parts(v);
        let body = format!("{} ", v.body);
        let cases = [
            SignedParts {
                body: body.as_bytes(),
                ..p
            },
            SignedParts {
                path: "/ams/sandbox/api/v1/payments/pay",
                ..p
            },
            SignedParts {
                time: "1742178172001",
                ..p
            },
            SignedParts {
                client_id: "TEST_5X00000000000001",
                ..p
            },
            SignedParts { method: "GET", ..p },
        ];
        for case in &cases {
            assert_eq!(verify(&pk, case, &v.header), Err(VerifyError::Mismatch));
        }
    }

    #[test]
    fn a_wrong_key_fails() {
        let (_, _, vectors) = vectors();
        let other =
            PublicKey::from_text(include_str!("../../fixtures/keys/sandbox-apo-public.pem"))
                .unwrap();
        assert_eq!(
            verify(&other, &parts(&vectors[0]), &vectors[0].header),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn malformed_headers_are_named() {
        let (_, pk, vectors) = vectors();
        let p = parts(&vectors[0]);
        assert_eq!(verify(&pk, &p, ""), Err(VerifyError::Missing));
        assert!(matches!(
            verify(&pk, &p, "algorithm=RSA256"),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            verify(&pk, &p, "garbage"),
            Err(VerifyError::Malformed(_))
        ));
        assert_eq!(
            verify(&pk, &p, "algorithm=RSA512,signature=abc"),
            Err(VerifyError::Algorithm("RSA512".into()))
        );
        assert_eq!(
            verify(&pk, &p, "signature=%%%"),
            Err(VerifyError::NotBase64)
        );
        // Raw base64 with '+' is not what the SDKs send: '+' decodes as a space.
        let raw = format!(
            "algorithm=RSA256,keyVersion=1,signature={}",
            vectors[0].signature_b64
        );
        if vectors[0].signature_b64.contains('+') {
            assert!(verify(&pk, &p, &raw).is_err());
        }
    }
}
