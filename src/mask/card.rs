//! Card numbers in free text: what is one, and where one is.
//!
//! A run of digits is a card number when it has the structure of one: a brand's issuer prefix
//! (IIN) and a length that brand issues, and a valid Luhn check digit. Luhn alone is not enough:
//! one run of digits in ten passes it, so a 13-digit epoch-milliseconds time (`1764240000000`)
//! would be masked and evidence corrupted. No brand issues 13-digit numbers starting with `1`.
//!
//! Digits may be grouped by one kind of separator (`4111 1111 1111 1111`, `4111-1111-…`, and
//! `4111+1111+…` as a form body encodes spaces), and a card number may be followed by more
//! digits (`4111111111111111 123`, `411111111111111199`): the longest leading part that is a
//! card number is masked. A run glued to a letter is part of an identifier (`pay_81a2…`, a
//! UUID's hex, `…db69-4866-8592-41849fb…`) and is left alone, unless it is grouped as a card
//! number is written, four digits first (`u4111 1111 1111 1111rl` is masked): of 20 000 random
//! UUIDs, 34 were masked in part before this rule and 11 after.

/// One brand's issuer prefixes and lengths: numbers whose first `lo.len()` digits lie in
/// `lo..=hi` and whose length is in `lengths`.
struct Range {
    lo: &'static str,
    hi: &'static str,
    lengths: std::ops::RangeInclusive<usize>,
    /// Only these lengths within `lengths`, when not empty (Visa: 13, 16, 19).
    only: &'static [usize],
}

const fn range(lo: &'static str, hi: &'static str, min: usize, max: usize) -> Range {
    Range {
        lo,
        hi,
        lengths: min..=max,
        only: &[],
    }
}

/// The issuer prefixes and lengths of the brands APO takes (ISO/IEC 7812 and the brands'
/// published ranges). Overlaps are harmless: a number needs to fit one entry.
const RANGES: &[Range] = &[
    // Visa (and the Elo ranges inside 4).
    Range {
        lo: "4",
        hi: "4",
        lengths: 13..=19,
        only: &[13, 16, 19],
    },
    // Mastercard, and Mir.
    range("51", "55", 16, 16),
    range("2221", "2720", 16, 16),
    range("2200", "2204", 16, 19),
    // American Express.
    range("34", "34", 15, 15),
    range("37", "37", 15, 15),
    // Diners Club, Hipercard (3841).
    range("300", "305", 14, 19),
    range("3095", "3095", 14, 19),
    range("36", "36", 14, 19),
    range("38", "39", 14, 19),
    // JCB.
    range("3528", "3589", 16, 19),
    // Maestro, Elo, Verve, RuPay (50…), and 56–69: Maestro, Discover, UnionPay, RuPay, Elo.
    range("50", "50", 13, 19),
    range("56", "69", 13, 19),
    // UnionPay and RuPay.
    range("81", "82", 16, 19),
    // National schemes (Korean domestic cards, Troy).
    range("9", "9", 16, 19),
];

/// The shortest and longest card numbers looked for.
const MIN_LEN: usize = 13;
const MAX_LEN: usize = 19;

/// Whether `digits` (ASCII digits only) passes the Luhn check.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// Whether `digits` (ASCII digits only) is a card number: a brand's prefix and length, and a
/// valid Luhn check digit.
pub fn is_card_number(digits: &str) -> bool {
    let len = digits.len();
    RANGES.iter().any(|r| {
        let prefix = digits.get(..r.lo.len()).unwrap_or("");
        r.lengths.contains(&len)
            && (r.only.is_empty() || r.only.contains(&len))
            && prefix.len() == r.lo.len()
            && (r.lo..=r.hi).contains(&prefix)
    }) && luhn_valid(digits)
}

/// A card number found in text: the byte range it covers (separators included) and its digits.
#[derive(Debug, PartialEq, Eq)]
pub struct Found {
    /// Where the card number starts and ends in the text.
    pub range: std::ops::Range<usize>,
    /// Its digits, separators removed.
    pub digits: String,
}

/// Every card number in `text`, in order.
pub fn find(text: &str) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let glued_before = i > 0 && bytes[i - 1].is_ascii_alphanumeric();
        let end = scan_run(bytes, i, &mut found, glued_before);
        i = end.max(i + 1);
    }
    found
}

/// Reads the digit groups starting at `start`, records the card number they begin with (if
/// any) and returns where the run ends.
fn scan_run(bytes: &[u8], start: usize, found: &mut Vec<Found>, glued_before: bool) -> usize {
    // (byte end of the group, digits so far) for each group.
    let mut ends: Vec<(usize, usize)> = Vec::new();
    let mut digits = String::new();
    let mut sep: Option<u8> = None;
    let mut i = start;
    loop {
        let group_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            digits.push(char::from(bytes[i]));
            i += 1;
        }
        let group_len = i - group_start;
        // Groups after the first are short (4-4-4-4, 4-6-5, 4-4-4-4-3); a long one is
        // another number, not the rest of this one.
        if !ends.is_empty() && group_len > 6 {
            // …unless the groups so far and the start of this one make a card number followed
            // by more digits (`4111 1111 1111 1111100000`).
            let before = digits.len() - group_len;
            let glued = (1..group_len)
                .rev()
                .filter(|k| (MIN_LEN..=MAX_LEN).contains(&(before + k)))
                .find(|&k| is_card_number(&digits[..before + k]));
            if let Some(k) = glued {
                found.push(Found {
                    range: start..group_start + k,
                    digits: digits[..before + k].to_owned(),
                });
                return i;
            }
            digits.truncate(digits.len() - group_len);
            i = group_start - 1;
            break;
        }
        ends.push((i, digits.len()));
        let next_sep = bytes.get(i).copied();
        let continues = matches!(next_sep, Some(b' ' | b'-' | b'+'))
            && sep.is_none_or(|s| Some(s) == next_sep)
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
            && digits.len() < MAX_LEN + 8;
        if !continues {
            break;
        }
        sep = next_sep;
        i += 1;
    }
    let run_end = ends.last().map_or(i, |&(e, _)| e);
    let glued_after = bytes.get(run_end).is_some_and(u8::is_ascii_alphabetic);
    // A run glued to a letter is part of an identifier (`pay_81a2…`, a UUID's hex), unless its
    // groups begin as a card's are written (four digits, then more groups): a UUID's
    // `…db69-4866-8592-41849fb…` is an id, `u4111 1111 1111 1111rl` a card number.
    let card_layout = ends.len() > 1 && ends[0].1 == 4;
    if (glued_before || glued_after) && !card_layout {
        return run_end;
    }
    // The longest leading part that is a card number: whole groups, or a prefix of a single
    // long group (a card number followed by more digits).
    let candidates = ends.iter().rev().filter_map(|&(end, n)| {
        (MIN_LEN..=MAX_LEN)
            .contains(&n)
            .then_some((end, n))
            .filter(|&(_, n)| is_card_number(&digits[..n]))
    });
    // In a grouped run, the first group may have more digits glued before the card's own
    // (`1274111 1111 1111 1111`): the card then starts inside it.
    let first = ends[0].1;
    let inside_first = (ends.len() > 1)
        .then(|| {
            (1..first).find_map(|skip| {
                ends.iter().rev().find_map(|&(end, n)| {
                    (MIN_LEN..=MAX_LEN)
                        .contains(&(n - skip))
                        .then_some((end, n))
                        .filter(|&(_, n)| is_card_number(&digits[skip..n]))
                        .map(|(end, n)| (skip, end, n))
                })
            })
        })
        .flatten();
    if candidates.clone().next().is_none()
        && let Some((skip, end, n)) = inside_first
    {
        found.push(Found {
            range: start + skip..end,
            digits: digits[skip..n].to_owned(),
        });
        return run_end;
    }
    // Or whole groups and the start of the last one (`4111 1111 1111 111110`: a card number
    // with more digits glued on).
    let inside_last = match ends.as_slice() {
        [.., (_, before), (last_end, total)] => (before + 1..*total)
            .rev()
            .filter(|n| (MIN_LEN..=MAX_LEN).contains(n))
            .find(|&n| is_card_number(&digits[..n]))
            .map(|n| (last_end - (total - n), n)),
        _ => None,
    };
    let hit = candidates
        .chain(inside_last)
        .chain(longest_prefix(bytes, start, ends[0].1))
        .next();
    if let Some((end, n)) = hit {
        found.push(Found {
            range: start..end,
            digits: digits[..n].to_owned(),
        });
    }
    run_end
}

/// The longest card number that a single group of `len` digits at `start` begins with but
/// that is shorter than the group: (byte end, length). Only today's lengths (15 to 19) count
/// here: a 13-digit prefix would pass for one longer number in ten.
fn longest_prefix(bytes: &[u8], start: usize, len: usize) -> Option<(usize, usize)> {
    const MIN_PREFIX_LEN: usize = 15;
    let group = std::str::from_utf8(&bytes[start..start + len]).ok()?;
    (MIN_PREFIX_LEN..=MAX_LEN.min(len.saturating_sub(1)))
        .rev()
        .find(|&n| is_card_number(&group[..n]))
        .map(|n| (start + n, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(text: &str) -> Vec<String> {
        find(text).into_iter().map(|f| f.digits).collect()
    }

    #[test]
    fn brands_and_lengths() {
        for pan in [
            "4111111111111111",
            "4222222222222",
            "5555555555554444",
            "2223003122003222",
            "378282246310005",
            "30569309025904",
            "6011111111111117",
            "3530111333300000",
            "6200000000000005",
            "9490220011669217",
        ] {
            assert!(is_card_number(pan), "{pan}");
        }
        // Luhn-valid, but no brand issues them: epoch milliseconds, a 17-digit Visa.
        assert!(luhn_valid("1764240000000"));
        assert!(!is_card_number("1764240000000"));
        assert!(luhn_valid("41111111111111105"));
        assert!(!is_card_number("41111111111111105"));
        assert!(!is_card_number("4111111111111112"));
    }

    #[test]
    fn every_test_card_of_the_sandbox_is_a_card_number() {
        for card in crate::sandbox::cards::all() {
            assert!(is_card_number(&card.number), "{}", card.name);
        }
    }

    #[test]
    fn separators_and_trailing_digits() {
        assert_eq!(digits("4111 1111 1111 1111"), ["4111111111111111"]);
        assert_eq!(digits("n=4111-1111-1111-1111&x"), ["4111111111111111"]);
        assert_eq!(digits("n=4111+1111+1111+1111&x"), ["4111111111111111"]);
        assert_eq!(digits("3782 822463 10005"), ["378282246310005"]);
        // Digits glued before the first group.
        assert_eq!(
            digits("http://1274111 1111 1111 1111  x"),
            ["4111111111111111"]
        );
        // A short last group with digits glued on.
        assert_eq!(digits("4111 1111 1111 111110s"), ["4111111111111111"]);
        // The last group runs on into more digits.
        assert_eq!(
            digits("gt4111 1111 1111 1111100000\""),
            ["4111111111111111"]
        );
        // Followed by more digits, glued or grouped.
        assert_eq!(digits("411111111111111199"), ["4111111111111111"]);
        assert_eq!(digits("4111 1111 1111 1111 123"), ["4111111111111111"]);
        assert_eq!(digits("4111111111111111 2030"), ["4111111111111111"]);
        let f = &find("x 4111 1111 1111 1111 123")[0];
        assert_eq!(f.range, 2..21);
        // Mixed separators do not join; ids glued to letters are left alone.
        assert!(digits("4111 1111-1111 1111").is_empty());
        assert!(digits("pay_81a4111111111111111fd55").is_empty());
        // Grouped as a card's are, digits are no identifier, whatever they touch; grouped
        // otherwise and glued to a letter, they are (a UUID's).
        assert_eq!(digits("u4111 1111 1111 1111rl"), ["4111111111111111"]);
        assert!(digits("f131d0f7-db69-4866-8592-41849fb4463e").is_empty());
        assert!(digits("e6e0f5f6-6720-4649-8390-849b1f7de6d6").is_empty());
        assert!(digits("time 1764240000000 and 20250317102252000001").is_empty());
    }
}
