//! The test cards (fixtures/cards.yaml, compiled in) and what a card looks like once entered:
//! a [`CardProfile`] that keeps only what APO returns (BIN, last four, brand, fingerprint),
//! never the full number.

use std::sync::LazyLock;

use serde::Deserialize;

/// How a card behaves under 3-D Secure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ThreeDs {
    /// A challenge page when 3-D Secure is requested; the buyer decides.
    #[default]
    Challenge,
    /// Never challenged (the documented exemption card).
    Exempt,
    /// The challenge always fails.
    Fails,
}

/// One row of fixtures/cards.yaml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCard {
    /// Stable name used by flows.
    pub name: String,
    /// The card number.
    pub number: String,
    /// VISA, MASTERCARD, …
    pub brand: String,
    /// CREDIT or DEBIT.
    pub funding: String,
    /// Issuing country.
    pub country: String,
    /// Issuer name.
    pub issuer: String,
    /// SUCCESS or the decline's paymentResultCode.
    pub outcome: String,
    /// 3-D Secure behaviour.
    #[serde(default)]
    pub three_ds: ThreeDs,
    /// Stays PROCESSING this many virtual seconds before `outcome` applies.
    #[serde(default)]
    pub processing_seconds: u64,
    /// With `processing_seconds`: the wait is APO's PENDING (the buyer has paid, the final
    /// result is pending): `paymentStatus` PENDING and a PAYMENT_PENDING notification.
    #[serde(default)]
    pub pending: bool,
    /// `apo` (documented) or `apoflow` (ours).
    pub source: String,
}

#[derive(Deserialize)]
struct CardsFile {
    cards: Vec<TestCard>,
}

/// The card table, parsed once. The file is part of the binary and checked by a unit test.
pub fn all() -> &'static [TestCard] {
    static CARDS: LazyLock<Vec<TestCard>> = LazyLock::new(|| {
        serde_saphyr::from_str::<CardsFile>(include_str!("../../fixtures/cards.yaml"))
            .map(|f| f.cards)
            .unwrap_or_default()
    });
    &CARDS
}

/// The card used for numbers that are not in the table.
pub const DEFAULT_CARD: &str = "visa_success";

/// The card entry for a number (unknown valid numbers behave as [`DEFAULT_CARD`] with their own
/// brand guessed from the first digit).
pub fn lookup(number: &str) -> Option<&'static TestCard> {
    all()
        .iter()
        .find(|c| c.number == number)
        .or_else(|| by_name(DEFAULT_CARD))
}

/// The card entry with this name.
pub fn by_name(name: &str) -> Option<&'static TestCard> {
    all().iter().find(|c| c.name == name)
}

/// What the sandbox keeps of an entered card: never the full number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardProfile {
    /// The table row that decides the outcome.
    pub card: &'static str,
    /// Brand.
    pub brand: String,
    /// CREDIT / DEBIT.
    pub funding: String,
    /// Issuing country.
    pub country: String,
    /// Issuer name.
    pub issuer: String,
    /// First six digits.
    pub bin: String,
    /// Last four digits.
    pub last_four: String,
    /// Length of the number, for the masked form.
    pub length: usize,
    /// Stable, non-reversible-by-design identifier of the number (FNV-1a; test data only).
    pub fingerprint: String,
    /// Holder name as typed.
    pub holder: String,
}

impl CardProfile {
    /// Builds the profile from a number (digits only, Luhn-checked by the caller); the number
    /// itself is dropped here.
    pub fn from_number(number: &str, holder: &str) -> Option<Self> {
        let card = lookup(number)?;
        let brand = if all().iter().any(|c| c.number == number) {
            card.brand.clone()
        } else {
            match number.as_bytes().first() {
                Some(b'4') => "VISA",
                Some(b'5' | b'2') => "MASTERCARD",
                Some(b'3') => "AMEX",
                _ => "UNKNOWN",
            }
            .to_owned()
        };
        Some(CardProfile {
            card: card.name.as_str(),
            brand,
            funding: card.funding.clone(),
            country: card.country.clone(),
            issuer: card.issuer.clone(),
            bin: number.chars().take(6).collect(),
            last_four: number[number.len().saturating_sub(4)..].to_owned(),
            length: number.len(),
            fingerprint: fingerprint(number),
            holder: holder.to_owned(),
        })
    }

    /// The table row.
    pub fn test_card(&self) -> Option<&'static TestCard> {
        by_name(self.card)
    }

    /// `************1358`.
    pub fn masked(&self) -> String {
        format!(
            "{}{}",
            "*".repeat(self.length.saturating_sub(4)),
            self.last_four
        )
    }
}

fn fingerprint(number: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"apoflow-sandbox:".iter().chain(number.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_loads_and_numbers_pass_luhn() {
        assert!(all().len() >= 15, "fixtures/cards.yaml did not parse");
        for c in all() {
            assert!(crate::mask::luhn_valid(&c.number), "{} fails Luhn", c.name);
        }
        assert!(by_name(DEFAULT_CARD).is_some());
    }

    #[test]
    fn profile_keeps_no_number() {
        let p = CardProfile::from_number("4054695723100768", "A B").unwrap();
        assert_eq!(p.masked(), "************0768");
        assert_eq!(p.bin, "405469");
        assert!(!format!("{p:?}").contains("4054695723100768"));
    }
}
