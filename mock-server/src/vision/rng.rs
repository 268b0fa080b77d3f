//! A tiny, well-known generator for derived answers: stable across versions and platforms,
//! unlike the standard library's hasher.

#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Seeded from the first eight bytes of a digest.
    pub fn from_digest(digest: &[u8]) -> SplitMix64 {
        let mut seed = [0u8; 8];
        for (s, d) in seed.iter_mut().zip(digest) {
            *s = *d;
        }
        SplitMix64(u64::from_le_bytes(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}
