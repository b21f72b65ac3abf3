//! Seeded random streams, one per component.
//!
//! Each stream is a ChaCha8 generator (named explicitly, never `StdRng`, whose algorithm may
//! change between releases) seeded from `(run seed, stream name)`, so adding a component or a
//! draw in one component never shifts the draws of another.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A named deterministic random stream.
pub struct Stream(ChaCha8Rng);

impl Stream {
    /// The stream `name` of run `seed`.
    pub fn new(seed: u64, name: &str) -> Self {
        // FNV-1a of the name, mixed with the seed: stable across platforms and releases.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in name.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        Stream(ChaCha8Rng::seed_from_u64(seed ^ h.rotate_left(17)))
    }

    /// A uniform index in `0..n` (`n > 0`).
    pub fn index(&mut self, n: usize) -> usize {
        if n <= 1 { 0 } else { self.0.random_range(0..n) }
    }

    /// A uniform integer in `lo..=hi`.
    pub fn range_u64(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            self.0.random_range(lo..=hi)
        }
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// `n` characters from Kubernetes' name alphabet (no vowels, no confusable digits), as
    /// `k8s.io/apimachinery/pkg/util/rand.String` draws them for generated names.
    pub fn name_suffix(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..n)
            .map(|_| ALPHABET[self.index(ALPHABET.len())] as char)
            .collect()
    }

    /// A Poisson-distributed count with the given mean (0 for a non-positive mean).
    pub fn poisson(&mut self, mean: f64) -> f64 {
        match rand_distr::Poisson::new(mean) {
            Ok(d) if mean > 0.0 => rand_distr::Distribution::sample(&d, &mut self.0),
            _ => 0.0,
        }
    }

    /// A random (version 4 layout) UUID string.
    pub fn uuid(&mut self) -> String {
        let mut b = [0u8; 16];
        for x in b.iter_mut() {
            *x = self.0.random::<u8>();
        }
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        // Lower-case hex in 8-4-4-4-12 groups, written into one string.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(36);
        for (i, x) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                s.push('-');
            }
            s.push(HEX[usize::from(x >> 4)] as char);
            s.push(HEX[usize::from(x & 0x0f)] as char);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `uuid` gives the 8-4-4-4-12 lower-case hex layout of the bytes drawn, with the
    /// version-4 and variant bits set, as formatting each byte with `{:02x}` does.
    #[test]
    fn uuid_is_the_hex_of_its_draws() {
        let (mut a, mut b) = (Stream::new(7, "uids"), Stream::new(7, "uids"));
        for _ in 0..50 {
            let mut bytes = [0u8; 16];
            for x in bytes.iter_mut() {
                *x = b.0.random::<u8>();
            }
            bytes[6] = (bytes[6] & 0x0f) | 0x40;
            bytes[8] = (bytes[8] & 0x3f) | 0x80;
            let h: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
            let want = format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            );
            assert_eq!(a.uuid(), want);
        }
    }

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: Vec<usize> = {
            let mut s = Stream::new(7, "names");
            (0..10).map(|_| s.index(1000)).collect()
        };
        let b: Vec<usize> = {
            let mut s = Stream::new(7, "names");
            (0..10).map(|_| s.index(1000)).collect()
        };
        let c: Vec<usize> = {
            let mut s = Stream::new(7, "uids");
            (0..10).map(|_| s.index(1000)).collect()
        };
        let d: Vec<usize> = {
            let mut s = Stream::new(8, "names");
            (0..10).map(|_| s.index(1000)).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        let mut s = Stream::new(1, "x");
        assert_eq!(s.name_suffix(5).len(), 5);
        assert_eq!(s.uuid().len(), 36);
    }
}
