//! Secrets registered at run time (key material, tokens), found in every encoding they can take
//! on the way out.
//!
//! A secret is looked for as it is, and as the base64 and base64url of any text holding it (at
//! each of the three byte alignments base64 has, the characters that depend on the secret
//! alone). Before matching, the text is read through a decoding view that undoes
//! percent-encoding (`%2B`), JSON escapes (`\/`, `\u002b`, `\"`) and drops line breaks (raw or
//! escaped `\n`) with the indentation after them, so a secret split across PEM lines, sent in
//! a query string or quoted in JSON is still found. What matched is replaced in the original
//! text, encoding included.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{Arc, LazyLock, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

/// Secrets shorter than this are not registered: masking them would garble ordinary text.
pub const MIN_SECRET_LEN: usize = 8;

/// The registered secrets and the matcher built from them and their encodings.
#[derive(Default)]
struct Registry {
    secrets: Vec<String>,
    /// Built on first use after a registration (a key registers ~30 lines at once).
    built: Option<Arc<Built>>,
}

/// The matcher of every encoding of every secret.
struct Built {
    /// `None` only if the automaton could not be built (far beyond any real set of
    /// secrets): then the secrets are replaced as they are, without their encodings.
    matcher: Option<AhoCorasick>,
    /// For each pattern of the matcher, whether it is a base64 form.
    base64: Vec<bool>,
    secrets: Vec<String>,
}

impl Built {
    fn of(secrets: &[String]) -> Built {
        let (patterns, base64): (Vec<Vec<u8>>, Vec<bool>) =
            secrets.iter().flat_map(|s| encodings(s.as_bytes())).unzip();
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok();
        Built {
            matcher,
            base64,
            secrets: secrets.to_vec(),
        }
    }

    /// The current matcher, built if a secret was registered since the last one.
    fn current() -> Option<Arc<Built>> {
        let built = {
            let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
            if registry.secrets.is_empty() {
                return None;
            }
            registry.built.clone()
        };
        built.or_else(|| {
            let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
            let secrets = &registry.secrets;
            let built = Arc::new(Built::of(secrets));
            registry.built = Some(Arc::clone(&built));
            Some(built)
        })
    }
}

static REGISTRY: LazyLock<RwLock<Registry>> = LazyLock::new(RwLock::default);

/// Builds the matcher now if a secret was registered since it was last built, so that the
/// first output after a registration does not pay for it (and servers keep their timing).
pub fn prepare() {
    let _ = Built::current();
}

/// Registers a secret (trimmed); returns whether it was new. The matcher is rebuilt on
/// [`prepare`] or on first use.
pub fn register(secret: &str) -> bool {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_LEN {
        return false;
    }
    let known = |r: &Registry| r.secrets.iter().any(|s| s == secret);
    if known(&REGISTRY.read().unwrap_or_else(|e| e.into_inner())) {
        return false;
    }
    let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    if known(&registry) {
        return false;
    }
    registry.secrets.push(secret.to_owned());
    registry.built = None;
    true
}

/// The forms of `secret` to look for: itself, and the part of its base64 and base64url that
/// depends on it alone at each alignment (marked `true`).
fn encodings(secret: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let mut out = vec![(secret.to_vec(), false)];
    for align in 0..3 {
        let stable = base64_stable(secret, align);
        if stable.len() >= MIN_SECRET_LEN {
            let url: Vec<u8> = stable
                .iter()
                .map(|&b| match b {
                    b'+' => b'-',
                    b'/' => b'_',
                    b => b,
                })
                .collect();
            if url != stable {
                out.push((url, true));
            }
            out.push((stable, true));
        }
    }
    out
}

/// The base64 characters that depend on `secret` alone when it follows `align` other bytes.
fn base64_stable(secret: &[u8], align: usize) -> Vec<u8> {
    let mut input = vec![0u8; align];
    input.extend_from_slice(secret);
    let encoded = STANDARD_NO_PAD.encode(&input).into_bytes();
    let (first_bit, end_bit) = (8 * align, 8 * input.len());
    encoded
        .into_iter()
        .enumerate()
        // Character j carries bits 6j..6j+6; keep it when they all belong to the secret.
        .filter(|&(j, _)| 6 * j >= first_bit && 6 * j + 6 <= end_bit)
        .map(|(_, c)| c)
        .collect()
}

/// Replaces every registered secret, in any of its encodings, with `masked`.
pub fn mask<'a>(text: Cow<'a, str>, masked: &str) -> Cow<'a, str> {
    let Some(built) = Built::current() else {
        return text;
    };
    let Some(matcher) = &built.matcher else {
        let mut out = text;
        for s in &built.secrets {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), masked));
            }
        }
        return out;
    };
    let base64 = &built.base64;
    // The raw text too: a `%` or `\\` just before a secret would make the view decode it away.
    let view = DecodedView::of(&text);
    let widen = |m: &aho_corasick::Match| base64[m.pattern().as_usize()];
    let mut ranges: Vec<Range<usize>> = matcher
        .find_iter(&view.bytes)
        .map(|m| widened(&text, view.original(m.range()), widen(&m)))
        .chain(
            matcher
                .find_iter(text.as_bytes())
                .map(|m| widened(&text, m.range(), widen(&m))),
        )
        .collect();
    if ranges.is_empty() {
        return text;
    }
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for r in ranges {
        if r.end <= last {
            continue;
        }
        out.push_str(&text[last..r.start.max(last)]);
        out.push_str(masked);
        last = r.end;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// The text as a secret would read once its encodings are undone, with, for each decoded
/// byte, the range of the original text it came from.
struct DecodedView {
    bytes: Vec<u8>,
    spans: Vec<Range<usize>>,
}

impl DecodedView {
    fn of(text: &str) -> DecodedView {
        let b = text.as_bytes();
        let mut view = DecodedView {
            bytes: Vec::with_capacity(b.len()),
            spans: Vec::with_capacity(b.len()),
        };
        let mut i = 0;
        while i < b.len() {
            let (decoded, len) = match (b[i], b.get(i + 1).copied()) {
                (b'\r' | b'\n', _) => (None, 1),
                (b'\\', Some(b'n' | b'r')) => (None, 2),
                (b'\\', Some(c @ (b'/' | b'"' | b'\\'))) => (Some(c), 2),
                (b'\\', Some(b'u')) => match hex(b.get(i + 2..i + 6)) {
                    Some(c) if c < 0x80 => (Some(c as u8), 6),
                    _ => (Some(b'\\'), 1),
                },
                (b'%', _) => match hex(b.get(i + 1..i + 3)) {
                    Some(c) => (Some(c as u8), 3),
                    None => (Some(b'%'), 1),
                },
                (c, _) => (Some(c), 1),
            };
            match decoded {
                Some(c) => {
                    view.bytes.push(c);
                    view.spans.push(i..i + len);
                    i += len;
                }
                None => {
                    // A line break and the indentation after it are not part of any secret.
                    i += len;
                    while i < b.len() && matches!(b[i], b' ' | b'\t') {
                        i += 1;
                    }
                }
            }
        }
        view
    }

    /// The range of the original text that decoded bytes `r` came from.
    fn original(&self, r: Range<usize>) -> Range<usize> {
        self.spans[r.start].start..self.spans[r.end - 1].end
    }
}

/// `r` widened to character boundaries and, for a base64 form, by one base64 character on each
/// side (a boundary character carries a few bits of the secret).
fn widened(text: &str, r: Range<usize>, base64: bool) -> Range<usize> {
    let (mut start, mut end) = (r.start, r.end);
    let b64 = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_');
    if base64 && start > 0 && b64(text.as_bytes()[start - 1]) {
        start -= 1;
    }
    if base64 && text.as_bytes().get(end).copied().is_some_and(b64) {
        end += 1;
    }
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// The value of 2 or 4 hexadecimal digits.
fn hex(digits: Option<&[u8]>) -> Option<u32> {
    let digits = std::str::from_utf8(digits?).ok()?;
    if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stable_base64_part_appears_in_any_encoding_holding_the_secret() {
        let secret = b"tok_9f8e7d6c5b4a";
        for prefix in ["", "a", "ab", "abc", "user:"] {
            for suffix in ["", "x", "xy"] {
                let plain = [prefix.as_bytes(), secret, suffix.as_bytes()].concat();
                let encoded = base64::engine::general_purpose::STANDARD.encode(&plain);
                let align = prefix.len() % 3;
                let stable = String::from_utf8(base64_stable(secret, align)).unwrap();
                assert!(encoded.contains(&stable), "{prefix:?} {suffix:?}");
                assert!(stable.len() >= secret.len(), "{stable}");
            }
        }
    }

    #[test]
    fn the_decoded_view_undoes_escapes_and_line_breaks() {
        let text = "a%2Bb\\/c\\u002bd\\ne\r\n  f";
        let view = DecodedView::of(text);
        assert_eq!(view.bytes, b"a+b/c+def");
        assert_eq!(view.original(1..2), 1..4);
        assert_eq!(
            widened(text, 1..4, true),
            0..5,
            "widened to the letters around"
        );
        assert_eq!(&text[view.spans[5].clone()], "\\u002b");
    }
}
