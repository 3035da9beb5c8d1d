//! The test cards (fixtures/cards.yaml, compiled in) and what a card looks like once entered:
//! a [`CardProfile`] that keeps only what APO returns (BIN, last four, brand, fingerprint),
//! never the full number.

use std::path::Path;
use std::sync::{Arc, LazyLock, OnceLock};

use serde::Deserialize;

use crate::diag::{Diagnostic, SourceFile};

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

/// Cards from a file of the user's (`--cards FILE`), installed before any card is looked up.
static EXTRA: OnceLock<Vec<TestCard>> = OnceLock::new();

/// The card table, parsed once: the built-in cards (fixtures/cards.yaml, part of the binary and
/// checked by a unit test), with the cards of [`install_file`] added, or replacing a built-in
/// card of the same name or number.
pub fn all() -> &'static [TestCard] {
    static CARDS: LazyLock<Vec<TestCard>> = LazyLock::new(|| {
        let mut cards =
            serde_saphyr::from_str::<CardsFile>(include_str!("../../fixtures/cards.yaml"))
                .map(|f| f.cards)
                .unwrap_or_default();
        for extra in EXTRA.get().into_iter().flatten() {
            cards.retain(|c| c.name != extra.name && c.number != extra.number);
            cards.push(extra.clone());
        }
        cards
    });
    &CARDS
}

/// Reads a card file of the built-in format (`cards: [{name, number, brand, funding, country,
/// issuer, outcome, three_ds?, processing_seconds?, source}]`) and adds its cards to [`all`]
/// for the life of the process; returns how many. Errors name the file, the line and the card.
pub fn install_file(path: &Path) -> Result<usize, Box<Diagnostic>> {
    let text =
        crate::project::read_text(path, crate::project::MAX_CARD_FILE_BYTES).map_err(|e| {
            Box::new(
                Diagnostic::for_file(path, "cannot read the card file")
                    .with_label(e.to_string())
                    .with_hint("give a YAML file in the format of fixtures/cards.yaml"),
            )
        })?;
    let source = Arc::new(SourceFile::new(path.to_path_buf(), text));
    let file: CardsFile = serde_saphyr::from_str(&source.text).map_err(|e| {
        let (line, column) = e
            .location()
            .map_or((1, 1), |l| (l.line().max(1), l.column().max(1)));
        let message = e.without_snippet().to_string();
        let message = message.lines().next().unwrap_or_default().to_owned();
        Diagnostic::new(
            &source,
            line,
            column,
            format!("invalid card file: {message}"),
        )
        .with_hint("write `cards:` and a list of cards as in fixtures/cards.yaml")
    })?;
    for card in &file.cards {
        let digits = card.number.len();
        if !card.number.bytes().all(|b| b.is_ascii_digit())
            || !(13..=19).contains(&digits)
            || !crate::mask::luhn_valid(&card.number)
        {
            let at = source.find_from(1, 1, &card.number).unwrap_or((1, 1));
            return Err(Box::new(
                Diagnostic::new(
                    &source,
                    at.0,
                    at.1,
                    format!("card `{}`: not a valid card number", card.name),
                )
                .with_hint("13 to 19 digits that pass the Luhn check, as a quoted string"),
            ));
        }
    }
    let count = file.cards.len();
    EXTRA.set(file.cards).map_err(|_| {
        Box::new(Diagnostic::plain("the card file was given twice").with_hint("give --cards once"))
    })?;
    Ok(count)
}

/// The card a forced synchronous `S` pay authorizes with when the payment has no saved card.
pub const DEFAULT_CARD: &str = "visa_success";

/// The [`CardProfile::card`] of a Luhn-valid number that is not in the table: the payment is
/// declined with [`NOT_A_TEST_CARD_CODE`] rather than approved, so a mistyped or real card
/// number never passes for a test card.
pub const NOT_A_TEST_CARD: &str = "";

/// The `paymentResultCode` of a payment made with a number that is not a test card.
pub const NOT_A_TEST_CARD_CODE: &str = "CARD_NOT_SUPPORTED";

/// The card entry for a number, if it is a test card (built in or from `--cards`).
pub fn lookup(number: &str) -> Option<&'static TestCard> {
    all().iter().find(|c| c.number == number)
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
    /// itself is dropped here. A number that is not a test card gets [`NOT_A_TEST_CARD`] and a
    /// brand guessed from its first digit.
    pub fn from_number(number: &str, holder: &str) -> Self {
        let card = lookup(number);
        let guessed = || {
            match number.as_bytes().first() {
                Some(b'4') => "VISA",
                Some(b'5' | b'2') => "MASTERCARD",
                Some(b'3') => "AMEX",
                _ => "UNKNOWN",
            }
            .to_owned()
        };
        let field = |f: fn(&TestCard) -> &String| card.map_or_else(String::new, |c| f(c).clone());
        CardProfile {
            card: card.map_or(NOT_A_TEST_CARD, |c| c.name.as_str()),
            brand: card.map_or_else(guessed, |c| c.brand.clone()),
            funding: field(|c| &c.funding),
            country: field(|c| &c.country),
            issuer: field(|c| &c.issuer),
            bin: number.chars().take(6).collect(),
            last_four: number[number.len().saturating_sub(4)..].to_owned(),
            length: number.len(),
            fingerprint: fingerprint(number),
            holder: holder.to_owned(),
        }
    }

    /// The table row; `None` for a number that is not a test card.
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
        let p = CardProfile::from_number("4054695723100768", "A B");
        assert_eq!(p.masked(), "************0768");
        assert_eq!(p.bin, "405469");
        assert!(!format!("{p:?}").contains("4054695723100768"));
    }
}
