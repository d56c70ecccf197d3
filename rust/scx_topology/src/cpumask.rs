//! [`Cpumask`]: a set of CPU ids with the kernel's two text formats.
//!
//! The kernel prints CPU sets in two ways:
//!
//! * **hex words** (`shared_cpu_map`, `core_cpus`, `cpumap`): 32-bit words
//!   in hexadecimal, most significant word first, separated by commas,
//!   e.g. `0300,00000003` is CPUs 0, 1, 40 and 41;
//! * **cpulists** (`*_list`, `online`, `possible`): ranges and single ids,
//!   e.g. `0-3,8,10-11`.
//!
//! Both are parsed and printed here. The bits are stored in a `bitvec`
//! vector of `u64` words with CPU `n` at bit `n % 64` of word `n / 64`,
//! which is also the layout a BPF program reads from a `u64[]` map value
//! (see [`Cpumask::as_bpf_words`]).

use std::cmp::Ordering;
use std::fmt;
use std::ops::{BitAnd, BitOr, BitXor, Sub};

use anyhow::{bail, Context, Result};
use bitvec::prelude::*;

/// A set of CPU ids.
///
/// Equality, ordering and hashing depend only on which CPUs are in the set,
/// never on how much storage it happens to hold.
///
/// ```
/// use scx_topology::Cpumask;
///
/// let a = Cpumask::parse_list("0-3,8").unwrap();
/// let b = Cpumask::parse_hex("0300,00000003").unwrap();
/// assert_eq!(b.to_string(), "0-1,40-41");
/// assert_eq!((&a & &b).to_string(), "0-1");
/// assert_eq!(a.weight(), 5);
/// assert_eq!(a.to_hex_string(), "0000010f");
/// assert_eq!(a.as_bpf_words(), vec![0x10f]);
/// ```
#[derive(Clone, Default)]
pub struct Cpumask {
    bits: BitVec<u64, Lsb0>,
}

/// The largest CPU id the parsers accept, plus one: eight times the
/// kernel's largest `NR_CPUS` (8192), so that a corrupted file naming CPU
/// 18446744073709551615 is an error instead of an exabyte of bits.
pub const MAX_CPUS: usize = 1 << 16;

impl Cpumask {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The set holding exactly the given CPUs.
    pub fn from_cpus<I: IntoIterator<Item = usize>>(cpus: I) -> Self {
        let mut m = Self::new();
        for c in cpus {
            m.set(c);
        }
        m
    }

    /// The set `0..n`.
    pub fn first_n(n: usize) -> Self {
        let mut m = Self::new();
        if n > 0 {
            m.bits.resize(n, true);
        }
        m
    }

    /// Parse the kernel's cpulist format (`0-3,8,10-11`). Surrounding
    /// whitespace and an empty string (the empty set) are accepted, as are
    /// strided ranges (`0-7:2/4`, as accepted by the kernel's bitmap_parselist).
    /// CPU ids of [`MAX_CPUS`] or more are an error.
    pub fn parse_list(s: &str) -> Result<Self> {
        let mut m = Self::new();
        let s = s.trim();
        if s.is_empty() {
            return Ok(m);
        }
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (range, stride) = match part.split_once(':') {
                Some((r, g)) => {
                    let (used, size) = g
                        .split_once('/')
                        .with_context(|| format!("bad stride in cpulist item {part:?}"))?;
                    let used: usize = used.parse().with_context(|| format!("bad cpulist {s:?}"))?;
                    let size: usize = size.parse().with_context(|| format!("bad cpulist {s:?}"))?;
                    if size == 0 || used > size {
                        bail!("bad stride in cpulist item {part:?}");
                    }
                    (r, Some((used, size)))
                }
                None => (part, None),
            };
            let (lo, hi) = match range.split_once('-') {
                Some((a, b)) => (
                    a.trim()
                        .parse::<usize>()
                        .with_context(|| format!("bad cpulist {s:?}"))?,
                    b.trim()
                        .parse::<usize>()
                        .with_context(|| format!("bad cpulist {s:?}"))?,
                ),
                None => {
                    let v = range
                        .trim()
                        .parse::<usize>()
                        .with_context(|| format!("bad cpulist {s:?}"))?;
                    (v, v)
                }
            };
            if hi < lo {
                bail!("bad cpulist range {part:?}");
            }
            if hi >= MAX_CPUS {
                bail!("cpulist item {part:?} names a CPU beyond {}", MAX_CPUS - 1);
            }
            m.grow(hi + 1);
            for c in lo..=hi {
                let keep = match stride {
                    Some((used, size)) => (c - lo) % size < used,
                    None => true,
                };
                if keep {
                    m.bits.set(c, true);
                }
            }
        }
        m.normalize();
        Ok(m)
    }

    /// Parse the kernel's hex-word format (`0300,00000003`): comma-separated
    /// hex words, most significant first, each holding 32 CPUs (the first
    /// word may be shorter). A `0x` prefix on a word (hwloc's spelling) is
    /// accepted; an empty string is the empty set.
    pub fn parse_hex(s: &str) -> Result<Self> {
        let s = s.trim();
        let mut m = Self::new();
        if s.is_empty() {
            return Ok(m);
        }
        let words: Vec<&str> = s.split(',').collect();
        let n = words.len();
        if n * 32 > MAX_CPUS {
            bail!("hex cpumask of {n} words is wider than {MAX_CPUS} CPUs");
        }
        m.grow(n * 32);
        for (i, w) in words.iter().enumerate() {
            let w = w.trim();
            let w = w
                .strip_prefix("0x")
                .or_else(|| w.strip_prefix("0X"))
                .unwrap_or(w);
            if w.is_empty() {
                continue;
            }
            // Each comma-separated word is 32 bits; accept up to 8 digits.
            let v = u32::from_str_radix(w, 16)
                .with_context(|| format!("bad hex cpumask word {w:?} in {s:?}"))?;
            let base = (n - 1 - i) * 32;
            for b in 0..32 {
                if v & (1 << b) != 0 {
                    m.bits.set(base + b, true);
                }
            }
        }
        m.normalize();
        Ok(m)
    }

    fn grow(&mut self, len: usize) {
        if self.bits.len() < len {
            self.bits.resize(len, false);
        }
    }

    fn normalize(&mut self) {
        let len = self.bits.last_one().map_or(0, |i| i + 1);
        self.bits.truncate(len);
    }

    /// Add `cpu`.
    pub fn set(&mut self, cpu: usize) {
        self.grow(cpu + 1);
        self.bits.set(cpu, true);
    }

    /// Remove `cpu`.
    pub fn clear(&mut self, cpu: usize) {
        if cpu < self.bits.len() {
            self.bits.set(cpu, false);
            self.normalize();
        }
    }

    /// Whether `cpu` is in the set.
    pub fn test(&self, cpu: usize) -> bool {
        self.bits.get(cpu).is_some_and(|b| *b)
    }

    /// Number of CPUs in the set.
    pub fn weight(&self) -> usize {
        self.bits.count_ones()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// Lowest CPU in the set.
    pub fn first(&self) -> Option<usize> {
        self.bits.first_one()
    }

    /// Highest CPU in the set.
    pub fn last(&self) -> Option<usize> {
        self.bits.last_one()
    }

    /// CPUs in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits.iter_ones()
    }

    /// CPUs in ascending order, collected.
    pub fn to_vec(&self) -> Vec<usize> {
        self.iter().collect()
    }

    fn zip(&self, other: &Self, f: impl Fn(bool, bool) -> bool) -> Self {
        let len = self.bits.len().max(other.bits.len());
        let mut out = BitVec::<u64, Lsb0>::repeat(false, len);
        for i in 0..len {
            out.set(i, f(self.test(i), other.test(i)));
        }
        let mut m = Self { bits: out };
        m.normalize();
        m
    }

    /// Intersection.
    pub fn and(&self, other: &Self) -> Self {
        let len = self.bits.len().min(other.bits.len());
        let mut bits = self.bits[..len].to_bitvec();
        bits &= &other.bits[..len];
        let mut m = Self { bits };
        m.normalize();
        m
    }

    /// Union.
    pub fn or(&self, other: &Self) -> Self {
        let (big, small) = if self.bits.len() >= other.bits.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut bits = big.bits.clone();
        bits[..small.bits.len()] |= &small.bits;
        Self { bits }
    }

    /// CPUs in `self` and not in `other`.
    pub fn andnot(&self, other: &Self) -> Self {
        self.zip(other, |a, b| a && !b)
    }

    /// Symmetric difference.
    pub fn xor(&self, other: &Self) -> Self {
        self.zip(other, |a, b| a != b)
    }

    /// Whether every CPU of `self` is in `other`.
    pub fn is_subset(&self, other: &Self) -> bool {
        self.iter().all(|c| other.test(c))
    }

    /// Whether the sets share a CPU.
    pub fn intersects(&self, other: &Self) -> bool {
        !self.and(other).is_empty()
    }

    /// The set as little-endian `u64` words, CPU `n` at bit `n % 64` of
    /// word `n / 64`: the layout of a BPF `u64[]` cpumask. The vector has
    /// the fewest words that hold the highest CPU (none for the empty set);
    /// see [`Cpumask::as_bpf_words_len`] for a fixed length.
    pub fn as_bpf_words(&self) -> Vec<u64> {
        let mut v = vec![0u64; self.bits.len().div_ceil(64)];
        for c in self.iter() {
            v[c / 64] |= 1 << (c % 64);
        }
        v
    }

    /// Like [`Cpumask::as_bpf_words`], padded with zero words (or cut) to
    /// exactly `nr_words` words, e.g. `nr_cpu_ids.div_ceil(64)`.
    pub fn as_bpf_words_len(&self, nr_words: usize) -> Vec<u64> {
        let mut v = self.as_bpf_words();
        v.resize(nr_words, 0);
        v
    }

    /// The set from little-endian `u64` words (the inverse of
    /// [`Cpumask::as_bpf_words`]).
    pub fn from_bpf_words(words: &[u64]) -> Self {
        let mut m = Self {
            bits: BitVec::from_slice(words),
        };
        m.normalize();
        m
    }

    /// The cpulist form (`0-3,8`); the empty set prints as an empty string.
    pub fn to_cpulist(&self) -> String {
        let mut out = String::new();
        let mut it = self.iter().peekable();
        while let Some(lo) = it.next() {
            let mut hi = lo;
            while it.peek() == Some(&(hi + 1)) {
                hi = it.next().unwrap_or(hi);
            }
            if !out.is_empty() {
                out.push(',');
            }
            if hi == lo {
                out.push_str(&lo.to_string());
            } else {
                out.push_str(&format!("{lo}-{hi}"));
            }
        }
        out
    }

    /// The hex-word form with as many 32-bit words as the highest CPU needs
    /// (at least one), each word printed with 8 digits.
    pub fn to_hex_string(&self) -> String {
        let words = self.bits.len().div_ceil(32).max(1);
        self.hex_words(words * 32, true)
    }

    /// The hex-word form as the kernel prints it for a system with
    /// `nr_bits` (usually `nr_cpu_ids`) CPUs: full 32-bit words of 8 digits,
    /// and a first word only as wide as the remaining bits need.
    pub fn to_hex_string_width(&self, nr_bits: usize) -> String {
        self.hex_words(nr_bits.max(self.bits.len()).max(1), false)
    }

    fn hex_words(&self, nr_bits: usize, full_first: bool) -> String {
        let words = nr_bits.div_ceil(32);
        let mut out = String::new();
        for w in (0..words).rev() {
            let mut v: u32 = 0;
            for b in 0..32 {
                if self.test(w * 32 + b) {
                    v |= 1 << b;
                }
            }
            if w + 1 == words && !full_first {
                let bits_in_first = nr_bits - w * 32;
                let digits = bits_in_first.div_ceil(4);
                out.push_str(&format!("{v:0digits$x}"));
            } else {
                if !out.is_empty() {
                    out.push(',');
                }
                out.push_str(&format!("{v:08x}"));
            }
        }
        out
    }
}

impl PartialEq for Cpumask {
    fn eq(&self, other: &Self) -> bool {
        self.bits == other.bits
    }
}

impl Eq for Cpumask {}

impl std::hash::Hash for Cpumask {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for c in self.iter() {
            c.hash(state);
        }
    }
}

impl PartialOrd for Cpumask {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cpumask {
    /// Lexicographic by ascending CPU ids: `{0,5}` < `{1}`.
    fn cmp(&self, other: &Self) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl fmt::Display for Cpumask {
    /// The cpulist form; use `{:x}` for the hex-word form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_cpulist())
    }
}

impl fmt::LowerHex for Cpumask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex_string())
    }
}

impl fmt::Debug for Cpumask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cpumask({})", self.to_cpulist())
    }
}

impl FromIterator<usize> for Cpumask {
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> Self {
        Self::from_cpus(iter)
    }
}

impl std::str::FromStr for Cpumask {
    type Err = anyhow::Error;
    /// Parses the cpulist form.
    fn from_str(s: &str) -> Result<Self> {
        Self::parse_list(s)
    }
}

macro_rules! binop {
    ($tr:ident, $f:ident, $m:ident) => {
        impl $tr<&Cpumask> for &Cpumask {
            type Output = Cpumask;
            fn $f(self, rhs: &Cpumask) -> Cpumask {
                self.$m(rhs)
            }
        }
        impl $tr<Cpumask> for Cpumask {
            type Output = Cpumask;
            fn $f(self, rhs: Cpumask) -> Cpumask {
                self.$m(&rhs)
            }
        }
    };
}
binop!(BitAnd, bitand, and);
binop!(BitOr, bitor, or);
binop!(BitXor, bitxor, xor);
binop!(Sub, sub, andnot);

impl serde::Serialize for Cpumask {
    /// Serialises as the sorted list of CPU ids.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_roundtrip() {
        for s in ["", "0", "0-3,8,10-11", "1,3,5", "0-383", "40-47,100"] {
            assert_eq!(Cpumask::parse_list(s).unwrap().to_cpulist(), s);
        }
        assert_eq!(Cpumask::parse_list(" 0-3\n").unwrap().weight(), 4);
        assert_eq!(
            Cpumask::parse_list("0-7:2/4").unwrap().to_cpulist(),
            "0-1,4-5"
        );
        assert!(Cpumask::parse_list("3-1").is_err());
        assert!(Cpumask::parse_list("x").is_err());
    }

    #[test]
    fn hex_forms() {
        let m = Cpumask::parse_hex("0300,00000003\n").unwrap();
        assert_eq!(m.to_vec(), vec![0, 1, 40, 41]);
        assert_eq!(m.to_hex_string(), "00000300,00000003");
        assert_eq!(m.to_hex_string_width(42), "300,00000003");
        assert_eq!(
            Cpumask::parse_hex("0x0000ffff,0xffffffff")
                .unwrap()
                .weight(),
            48
        );
        assert_eq!(
            Cpumask::parse_hex("00000000,00000000").unwrap(),
            Cpumask::new()
        );
        assert_eq!(Cpumask::from_cpus([0, 4]).to_hex_string_width(8), "11");
        assert_eq!(Cpumask::new().to_hex_string(), "00000000");
        assert!(Cpumask::parse_hex("zz").is_err());
        let big = Cpumask::first_n(384);
        assert_eq!(Cpumask::parse_hex(&big.to_hex_string()).unwrap(), big);
    }

    #[test]
    fn ids_beyond_max_cpus_are_errors() {
        assert!(Cpumask::parse_list("99999999999999999999").is_err());
        assert!(Cpumask::parse_list(&format!("0-{MAX_CPUS}")).is_err());
        assert_eq!(
            Cpumask::parse_list(&format!("{}", MAX_CPUS - 1))
                .unwrap()
                .weight(),
            1
        );
        let wide = vec!["00000000"; MAX_CPUS / 32 + 1].join(",");
        assert!(Cpumask::parse_hex(&wide).is_err());
        assert!(Cpumask::parse_list("3-1").is_err());
        assert!(Cpumask::parse_list("-1").is_err());
    }

    #[test]
    fn algebra() {
        let a = Cpumask::parse_list("0-7").unwrap();
        let b = Cpumask::parse_list("4-11").unwrap();
        assert_eq!((&a & &b).to_string(), "4-7");
        assert_eq!((&a | &b).to_string(), "0-11");
        assert_eq!((&a - &b).to_string(), "0-3");
        assert_eq!((&a ^ &b).to_string(), "0-3,8-11");
        assert!(Cpumask::parse_list("1-2").unwrap().is_subset(&a));
        assert!(a.intersects(&b));
        let mut c = a.clone();
        c.clear(7);
        c.clear(100);
        assert_eq!(c.last(), Some(6));
        assert_eq!(a.and(&Cpumask::parse_list("100").unwrap()), Cpumask::new());
    }

    #[test]
    fn bpf_words() {
        let m = Cpumask::from_cpus([0, 63, 64, 130]);
        assert_eq!(m.as_bpf_words(), vec![1 | (1 << 63), 1, 4]);
        assert_eq!(m.as_bpf_words_len(4), vec![1 | (1 << 63), 1, 4, 0]);
        assert_eq!(Cpumask::from_bpf_words(&m.as_bpf_words_len(6)), m);
    }

    #[test]
    fn equality_ignores_capacity() {
        let mut a = Cpumask::from_cpus([1, 200]);
        a.clear(200);
        assert_eq!(a, Cpumask::from_cpus([1]));
        let mut set = std::collections::HashSet::new();
        set.insert(a);
        assert!(set.contains(&Cpumask::from_cpus([1])));
    }
}
