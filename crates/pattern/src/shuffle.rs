//! A keyed pseudorandom permutation of `[0, n)` in O(1) memory.
//!
//! A balanced Feistel network permutes the smallest even-width bit domain
//! `[0, 2^2h)` that holds `n`; cycle walking (re-applying the network until
//! the value falls below `n`) restricts it to `[0, n)`. Since `2^2h < 4n`,
//! a position takes fewer than four rounds of the network on average, and
//! every position is computed on its own: any slice of the order can be
//! rendered, resumed or sharded without the rest.

const ROUNDS: usize = 6;

/// The permutation for one `(n, seed)`.
#[derive(Clone, Debug)]
pub(crate) struct Permutation {
    n: u64,
    half_bits: u32,
    mask: u64,
    keys: [u64; ROUNDS],
}

impl Permutation {
    pub fn new(n: u64, seed: u64) -> Permutation {
        // Smallest even width 2h with 2^2h >= n (at least 2 bits).
        let bits = (u64::BITS - n.saturating_sub(1).leading_zeros()).max(2);
        let half_bits = bits.div_ceil(2);
        let mut state = seed;
        let keys = std::array::from_fn(|_| splitmix64(&mut state));
        Permutation {
            n,
            half_bits,
            mask: (1u64 << half_bits) - 1,
            keys,
        }
    }

    /// The index at `position`; `position` must be below `n`.
    pub fn apply(&self, position: u64) -> u64 {
        debug_assert!(position < self.n);
        let mut x = position;
        loop {
            x = self.network(x);
            if x < self.n {
                return x;
            }
        }
    }

    fn network(&self, x: u64) -> u64 {
        let mut left = x >> self.half_bits;
        let mut right = x & self.mask;
        for key in self.keys {
            let next = left ^ (mix(right ^ key) & self.mask);
            left = right;
            right = next;
        }
        (left << self.half_bits) | right
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mix(*state)
}

/// The SplitMix64 / MurmurHash3 finaliser: a cheap full-avalanche mixer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn is_a_permutation(n in 1u64..3000, seed: u64) {
            let p = Permutation::new(n, seed);
            let mut seen = vec![false; usize::try_from(n).unwrap()];
            for i in 0..n {
                let j = usize::try_from(p.apply(i)).unwrap();
                prop_assert!(!seen[j]);
                seen[j] = true;
            }
        }
    }

    #[test]
    fn huge_domains_stay_in_range() {
        for n in [u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) + 1] {
            let p = Permutation::new(n, 7);
            for i in [0, 1, n / 2, n - 1] {
                assert!(p.apply(i) < n);
            }
        }
    }

    #[test]
    fn seed_changes_the_order() {
        let a = Permutation::new(1000, 1);
        let b = Permutation::new(1000, 2);
        let differ = (0..1000).filter(|&i| a.apply(i) != b.apply(i)).count();
        assert!(differ > 900, "{differ}");
    }
}
