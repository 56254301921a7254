//! A keyed pseudorandom permutation of `[0, n)` in O(1) memory.
//!
//! A balanced Feistel network permutes the smallest even-width bit domain
//! `[0, 2^2h)` that holds `n`; cycle walking (re-applying the network until
//! the value falls below `n`) restricts it to `[0, n)`. Since `2^2h < 4n`,
//! a position takes fewer than four rounds of the network on average, and
//! every position is computed on its own: any slice of the order can be
//! rendered, resumed or sharded without the rest.

use crate::space::to_u64;

const ROUNDS: usize = 6;

/// Positions [`Permutation::apply_run`] takes through the network at once.
pub(crate) const RUN: usize = 64;

/// Values [`Permutation::apply_run`] takes through the rounds side by side.
const LANES: usize = 8;

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

    /// The indexes at positions `first..first + out.len()`, into `out`;
    /// every position must be below `n`. The same values as
    /// [`Permutation::apply`], computed a run at a time: every position
    /// goes through the network once, then the ones that fell outside
    /// `[0, n)` go through it again, and so on. The positions of a pass do
    /// not depend on each other, so the processor overlaps their rounds,
    /// where one position's rounds must wait for each other.
    pub fn apply_run(&self, first: u64, out: &mut [u64]) {
        for (number, chunk) in out.chunks_mut(RUN).enumerate() {
            let base = first + to_u64(number * RUN);
            debug_assert!(base + to_u64(chunk.len()) <= self.n);
            for (slot, position) in chunk.iter_mut().zip(base..) {
                *slot = position;
            }
            // Which of the chunk's values still walk: all of them at first.
            let mut walking: [usize; RUN] = std::array::from_fn(|i| i);
            let mut left = chunk.len();
            while left > 0 {
                for group in walking[..left].chunks(LANES) {
                    // A short last group repeats its first lane.
                    let lane = |l: usize| group.get(l).copied().unwrap_or(group[0]);
                    let x = self.network_lanes(std::array::from_fn(|l| chunk[lane(l)]));
                    for (&i, y) in group.iter().zip(x) {
                        chunk[i] = y;
                    }
                }
                let mut still = 0;
                for k in 0..left {
                    let i = walking[k];
                    walking[still] = i;
                    still += usize::from(chunk[i] >= self.n);
                }
                left = still;
            }
        }
    }

    /// The network on `LANES` values at once, round by round, so that the
    /// lanes' multiplications overlap.
    fn network_lanes(&self, x: [u64; LANES]) -> [u64; LANES] {
        let mut left = x.map(|x| x >> self.half_bits);
        let mut right = x.map(|x| x & self.mask);
        for key in self.keys {
            for l in 0..LANES {
                let next = left[l] ^ (mix(right[l] ^ key) & self.mask);
                left[l] = right[l];
                right[l] = next;
            }
        }
        std::array::from_fn(|l| (left[l] << self.half_bits) | right[l])
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

    proptest! {
        #[test]
        fn a_run_is_the_positions_one_by_one(n in 1u64..100_000, seed: u64, start in 0u64..100_000, len in 0usize..300) {
            let p = Permutation::new(n, seed);
            let start = start % n;
            let len = len.min(usize::try_from(n - start).unwrap());
            let mut run = vec![0; len];
            p.apply_run(start, &mut run);
            let one_by_one: Vec<u64> = (start..).take(len).map(|i| p.apply(i)).collect();
            prop_assert_eq!(run, one_by_one);
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
