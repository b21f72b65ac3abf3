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
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
