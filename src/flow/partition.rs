//! `--partition K/N`: which share of a plan one CI machine runs.
//!
//! Each case goes to shard `hash(key) mod N`, where the key is the flow file's path relative
//! to the working directory (with `/`), the flow's name and the matrix case's name. The hash is
//! 64-bit FNV-1a, fixed here and never seeded, so a case stays in its shard when other cases are
//! added or removed, on every machine and in every version that keeps this function.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::plan::Case;

/// The most shards a run may be split into.
pub const MAX_SHARDS: u32 = 1000;

/// Shard `k` of `n` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// This shard, from 1 to `n`.
    pub k: u32,
    /// How many shards in all.
    pub n: u32,
}

impl FromStr for Partition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a partition: write K/N with 1 <= K <= N <= {MAX_SHARDS}, e.g. `2/3`"
            )
        };
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || k > n || n > MAX_SHARDS {
            return Err(bad());
        }
        Ok(Partition { k, n })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl Partition {
    /// Whether this shard runs `case`; `cwd` is what the flow path is made relative to.
    pub fn keeps(&self, case: &Case, cwd: &Path) -> bool {
        let key = case_key(case, cwd);
        fnv1a(key.as_bytes()) % u64::from(self.n) == u64::from(self.k - 1)
    }
}

/// `flows/pay.yaml\0Pay\0card=visa`: what decides a case's shard.
pub fn case_key(case: &Case, cwd: &Path) -> String {
    let path = &case.file.path;
    let relative = path.strip_prefix(cwd).unwrap_or(path);
    let mut parts: Vec<String> = Vec::new();
    for c in relative.components() {
        match c {
            std::path::Component::CurDir => {}
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    format!(
        "{}\0{}\0{}",
        parts.join("/"),
        case.flow_name,
        case.case_name.as_deref().unwrap_or("")
    )
}

/// 64-bit FNV-1a: small, stable and well spread for short keys.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_parse_and_bad_ones_say_how_to_write_them() {
        assert_eq!("2/3".parse(), Ok(Partition { k: 2, n: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/1001", "/"] {
            let e = bad.parse::<Partition>().unwrap_err();
            assert!(e.contains("write K/N"), "{e}");
        }
    }

    #[test]
    fn the_hash_is_fixed() {
        // FNV-1a's published test vectors: a change here moves cases between shards.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
