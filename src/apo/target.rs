//! A target: where APO calls go and with which credentials. Either a live APO account (from
//! `apoflow.toml`, see [`super::config`]) or the embedded sandbox with its fixed test-only keys.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use url::Url;

use super::endpoint::Endpoint;
use super::keys::{PrivateKey, PublicKey};

/// The client id of the embedded sandbox's default merchant. It starts with `SANDBOX_`, so
/// calls use the `/ams/sandbox/api/...` paths, exactly as with APO's own sandbox.
pub const EMBEDDED_CLIENT_ID: &str = "SANDBOX_APOFLOW_MERCHANT";

/// The embedded default merchant's private key (test-only; signs the runner's requests).
pub const EMBEDDED_MERCHANT_PRIVATE_PEM: &str =
    include_str!("../../fixtures/keys/merchant-private.pem");
/// The embedded default merchant's public key (the sandbox verifies requests with it).
pub const EMBEDDED_MERCHANT_PUBLIC_PEM: &str =
    include_str!("../../fixtures/keys/merchant-public.pem");
/// The embedded sandbox's own "APO" private key (test-only; signs responses, notifications).
pub const EMBEDDED_APO_PRIVATE_PEM: &str =
    include_str!("../../fixtures/keys/sandbox-apo-private.pem");
/// The embedded sandbox's "APO" public key (the runner verifies responses with it).
pub const EMBEDDED_APO_PUBLIC_PEM: &str =
    include_str!("../../fixtures/keys/sandbox-apo-public.pem");

/// The embedded keys, parsed once per process.
static EMBEDDED_KEYS: LazyLock<(PrivateKey, PublicKey)> = LazyLock::new(|| {
    (
        PrivateKey::from_text(EMBEDDED_MERCHANT_PRIVATE_PEM)
            .expect("fixtures/keys/merchant-private.pem is a valid key (unit-tested)"),
        PublicKey::from_text(EMBEDDED_APO_PUBLIC_PEM)
            .expect("fixtures/keys/sandbox-apo-public.pem is a valid key (unit-tested)"),
    )
});

/// APO's regional gateways (shared/reference/apo-api.md §1.1), usable as `region = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// Asia: `https://open-sea-global.alipay.com`.
    Sea,
    /// North America: `https://open-na-global.alipay.com`.
    Na,
    /// Europe: `https://open-de-global.alipay.com`.
    Eu,
}

impl Region {
    /// Every preset.
    pub const ALL: [Region; 3] = [Region::Sea, Region::Na, Region::Eu];

    /// The name used in `apoflow.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Region::Sea => "sea",
            Region::Na => "na",
            Region::Eu => "eu",
        }
    }

    /// The recommended gateway of the region.
    pub fn endpoint(self) -> &'static str {
        match self {
            Region::Sea => "https://open-sea-global.alipay.com",
            Region::Na => "https://open-na-global.alipay.com",
            Region::Eu => "https://open-de-global.alipay.com",
        }
    }
}

impl FromStr for Region {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

/// Where APO calls go and with which credentials. Keys are parsed once, when the target is
/// built, and shared by every call.
#[derive(Clone)]
pub struct Target {
    /// The target's name (`embedded`, or its name in `apoflow.toml`).
    pub name: String,
    /// The gateway, e.g. `https://open-sea-global.alipay.com`; API paths are appended to it.
    pub base_url: Url,
    /// The merchant's client id; `SANDBOX_…` ids use the sandbox paths.
    pub client_id: String,
    /// The merchant's private key, which signs requests.
    pub private_key: PrivateKey,
    /// APO's public key, which verifies responses and notifications.
    pub apo_public_key: PublicKey,
    /// The `keyVersion` sent in the signature header (`1` unless configured).
    pub key_version: String,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("base_url", &self.base_url.as_str())
            .field("client_id", &self.client_id)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// The name of the embedded target.
    pub const EMBEDDED_NAME: &'static str = "embedded";

    /// The embedded sandbox at `base_url`, as its default merchant
    /// ([`EMBEDDED_CLIENT_ID`], keys from `fixtures/keys/`).
    pub fn embedded(base_url: Url) -> Target {
        Target::prepare_embedded();
        let (private_key, apo_public_key) = EMBEDDED_KEYS.clone();
        Target {
            name: Target::EMBEDDED_NAME.to_owned(),
            base_url,
            client_id: EMBEDDED_CLIENT_ID.to_owned(),
            private_key,
            apo_public_key,
            key_version: "1".to_owned(),
        }
    }

    /// Does the costly part of [`Target::embedded`] ahead (a few milliseconds): parses the
    /// embedded keys and registers the private one with the masker. Done once; later calls
    /// cost nothing.
    pub fn prepare_embedded() {
        LazyLock::force(&EMBEDDED_KEYS);
        // Test-only, but a private key all the same: never printed.
        crate::mask::register_key_text(EMBEDDED_MERCHANT_PRIVATE_PEM);
    }

    /// Whether this is the embedded sandbox.
    pub fn is_embedded(&self) -> bool {
        self.name == Target::EMBEDDED_NAME
    }

    /// The path this target's client calls and signs for an endpoint.
    pub fn path(&self, endpoint: Endpoint) -> Cow<'static, str> {
        endpoint.path_for(&self.client_id)
    }

    /// The full URL of a path on this target (the base URL's own path, if any, is kept as a
    /// prefix; the signed path is the API path alone, as the SDKs sign it).
    pub fn url_for_path(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        let joined = format!("{}{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url.set_query(None);
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_target_signs_with_the_fixture_merchant_key() {
        let t = Target::embedded(Url::parse("http://127.0.0.1:9/").unwrap());
        assert!(t.is_embedded());
        assert_eq!(
            t.path(Endpoint::Pay),
            "/ams/sandbox/api/v1/payments/pay",
            "SANDBOX_ ids use the sandbox paths"
        );
        let merchant_public = PublicKey::from_text(EMBEDDED_MERCHANT_PUBLIC_PEM).unwrap();
        let parts = crate::apo::sign::SignedParts::post("/p", "c", "1", b"{}");
        let header = crate::apo::sign::sign(&t.private_key, &parts);
        crate::apo::sign::verify(&merchant_public, &parts, &header).unwrap();
        let apo_private = PrivateKey::from_text(EMBEDDED_APO_PRIVATE_PEM).unwrap();
        let header = crate::apo::sign::sign(&apo_private, &parts);
        crate::apo::sign::verify(&t.apo_public_key, &parts, &header).unwrap();
        assert!(!format!("{t:?}").contains("MII"));
    }

    #[test]
    fn urls_keep_a_base_prefix() {
        let mut t = Target::embedded(Url::parse("http://127.0.0.1:9").unwrap());
        assert_eq!(
            t.url_for_path("/ams/api/v1/payments/pay").as_str(),
            "http://127.0.0.1:9/ams/api/v1/payments/pay"
        );
        t.base_url = Url::parse("https://proxy.test/apo/").unwrap();
        assert_eq!(
            t.url_for_path("/ams/api/v1/payments/pay").as_str(),
            "https://proxy.test/apo/ams/api/v1/payments/pay"
        );
    }

    #[test]
    fn regions() {
        assert_eq!("SEA".parse::<Region>(), Ok(Region::Sea));
        assert!("asia".parse::<Region>().is_err());
        assert_eq!(Region::Eu.endpoint(), "https://open-de-global.alipay.com");
    }
}
