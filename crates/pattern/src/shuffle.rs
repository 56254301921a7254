//! Keyed pseudorandom permutations of `[0, n)` in O(1) memory.
//!
//! A Feistel network permutes a bit domain that holds `n`; cycle walking
//! (re-applying the network until the value falls below `n`) restricts it
//! to `[0, n)`. Every position is computed on its own: any slice of the
//! order can be rendered, resumed or sharded without the rest.
//!
//! The order is part of a campaign's contract, so a network, once
//! released, never changes; a faster one comes as a new version, and a
//! campaign keeps the version it was started with
//! ([`Spec::shuffle_version`]).
//!
//! - Version 1: a balanced network of 6 rounds over the smallest even
//!   width `2h` with `2^2h >= n` (fewer than 4 networks a position), each
//!   round the SplitMix64 finaliser (two multiplications).
//! - Version 2: an unbalanced network of 4 rounds over exactly
//!   `⌈log₂ n⌉` bits (fewer than 2 networks a position), each round one
//!   multiply-shift hash: `((half ^ key) * odd) >> (64 - width)`, the high
//!   bits of a product depending on every bit of the half. The halves
//!   take turns; each round is a bijection, so the network is one. Its
//!   statistical check is in the tests: the first positions of the order
//!   fall evenly over the space (chi-square over 64 buckets), and the
//!   distance between the indexes at neighbouring positions is
//!   distributed as between two independent uniform draws (Kolmogorov-
//!   Smirnov), across sizes and seeds. Two rounds fail it, three pass;
//!   four is Luby and Rackoff's count for a strong pseudorandom
//!   permutation, a round of margin.
//!
//! [`Spec::shuffle_version`]: crate::Spec::shuffle_version

use crate::space::to_u64;

/// The order versions, oldest first: what [`crate::Spec::shuffle_version`] may say.
pub const SHUFFLE_VERSIONS: [u8; 2] = [1, 2];

/// The version new specs get.
pub const LATEST_SHUFFLE: u8 = 2;

/// Positions [`Permutation::apply_run`] takes through the network at once.
pub(crate) const RUN: usize = 32;

/// Values [`Permutation::apply_run`] takes through the rounds side by side.
const LANES: usize = 8;

/// The permutation for one `(n, seed, version)`.
#[derive(Clone, Debug)]
pub(crate) struct Permutation {
    n: u64,
    network: Network,
}

#[derive(Clone, Debug)]
enum Network {
    V1(Balanced),
    V2(Unbalanced),
}

/// Version 1's network.
#[derive(Clone, Debug)]
struct Balanced {
    half_bits: u32,
    mask: u64,
    keys: [u64; 6],
}

/// Version 2's network: `x = left << right_bits | right`.
#[derive(Clone, Debug)]
struct Unbalanced {
    right_bits: u32,
    right_mask: u64,
    /// `64 - width` of the half each round changes: left, right, left,
    /// right.
    shifts: [u32; 4],
    keys: [u64; 4],
    /// Odd multipliers.
    multipliers: [u64; 4],
}

impl Permutation {
    /// The permutation of `[0, n)` keyed by `seed`, of order version
    /// `version` (one of [`SHUFFLE_VERSIONS`]).
    ///
    /// # Panics
    ///
    /// If `version` is not one of [`SHUFFLE_VERSIONS`].
    pub fn new(n: u64, seed: u64, version: u8) -> Permutation {
        let width = u64::BITS - n.saturating_sub(1).leading_zeros();
        let network = match version {
            1 => {
                // Smallest even width 2h with 2^2h >= n (at least 2 bits).
                let half_bits = width.max(2).div_ceil(2);
                let mut state = seed;
                Network::V1(Balanced {
                    half_bits,
                    mask: (1u64 << half_bits) - 1,
                    keys: std::array::from_fn(|_| splitmix64(&mut state)),
                })
            }
            2 => {
                let bits = width.max(2);
                let left_bits = bits / 2;
                let right_bits = bits - left_bits;
                // Version 2's keys are not version 1's with a seed.
                let mut state = seed ^ 0x6a09_e667_f3bc_c908;
                let keys = std::array::from_fn(|_| splitmix64(&mut state));
                let multipliers = std::array::from_fn(|_| splitmix64(&mut state) | 1);
                Network::V2(Unbalanced {
                    right_bits,
                    right_mask: (1u64 << right_bits) - 1,
                    shifts: [
                        64 - left_bits,
                        64 - right_bits,
                        64 - left_bits,
                        64 - right_bits,
                    ],
                    keys,
                    multipliers,
                })
            }
            _ => panic!("order version {version} is not one of {SHUFFLE_VERSIONS:?}"),
        };
        Permutation { n, network }
    }

    /// The index at `position`; `position` must be below `n`.
    pub fn apply(&self, position: u64) -> u64 {
        debug_assert!(position < self.n);
        let mut x = position;
        loop {
            x = match &self.network {
                Network::V1(network) => network.apply(x),
                Network::V2(network) => network.apply(x),
            };
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
        match &self.network {
            Network::V1(network) => self.walk_run(first, out, |x| network.lanes(x)),
            Network::V2(network) => self.walk_run(first, out, |x| network.lanes(x)),
        }
    }

    fn walk_run(
        &self,
        first: u64,
        out: &mut [u64],
        network: impl Fn([u64; LANES]) -> [u64; LANES],
    ) {
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
                    let x = network(std::array::from_fn(|l| chunk[lane(l)]));
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
}

impl Balanced {
    fn apply(&self, x: u64) -> u64 {
        let mut left = x >> self.half_bits;
        let mut right = x & self.mask;
        for key in self.keys {
            let next = left ^ (mix(right ^ key) & self.mask);
            left = right;
            right = next;
        }
        (left << self.half_bits) | right
    }

    /// The network on `LANES` values at once, round by round, so that the
    /// lanes' multiplications overlap.
    fn lanes(&self, x: [u64; LANES]) -> [u64; LANES] {
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
}

impl Unbalanced {
    /// Round `r`'s hash of the half it does not change, `half`: as wide
    /// as the half it changes.
    #[inline(always)]
    fn hash(&self, r: usize, half: u64) -> u64 {
        (half ^ self.keys[r]).wrapping_mul(self.multipliers[r]) >> self.shifts[r]
    }

    fn apply(&self, x: u64) -> u64 {
        let mut left = x >> self.right_bits;
        let mut right = x & self.right_mask;
        for r in (0..4).step_by(2) {
            left ^= self.hash(r, right);
            right ^= self.hash(r + 1, left);
        }
        (left << self.right_bits) | right
    }

    fn lanes(&self, x: [u64; LANES]) -> [u64; LANES] {
        let mut left = x.map(|x| x >> self.right_bits);
        let mut right = x.map(|x| x & self.right_mask);
        for r in (0..4).step_by(2) {
            for l in 0..LANES {
                left[l] ^= self.hash(r, right[l]);
            }
            for l in 0..LANES {
                right[l] ^= self.hash(r + 1, left[l]);
            }
        }
        std::array::from_fn(|l| (left[l] << self.right_bits) | right[l])
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
        fn is_a_permutation(n in 1u64..3000, seed: u64, version in 1u8..=2) {
            let p = Permutation::new(n, seed, version);
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
        fn a_run_is_the_positions_one_by_one(n in 1u64..100_000, seed: u64, start in 0u64..100_000, len in 0usize..300, version in 1u8..=2) {
            let p = Permutation::new(n, seed, version);
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
        for version in SHUFFLE_VERSIONS {
            for n in [
                u64::MAX,
                u64::MAX - 1,
                1 << 63,
                (1 << 63) + 1,
                1 << 32,
                (1 << 32) + 1,
            ] {
                let p = Permutation::new(n, 7, version);
                for i in [0, 1, n / 2, n - 1] {
                    assert!(p.apply(i) < n);
                }
            }
        }
    }

    #[test]
    fn seed_and_version_change_the_order() {
        let differ = |a: &Permutation, b: &Permutation| {
            (0..1000).filter(|&i| a.apply(i) != b.apply(i)).count()
        };
        for version in SHUFFLE_VERSIONS {
            let (a, b) = (
                Permutation::new(1000, 1, version),
                Permutation::new(1000, 2, version),
            );
            assert!(differ(&a, &b) > 900, "version {version}");
        }
        let (v1, v2) = (Permutation::new(1000, 1, 1), Permutation::new(1000, 1, 2));
        assert!(differ(&v1, &v2) > 900);
    }

    /// Version 1's order, pinned: it must never change.
    #[test]
    fn version_1_is_as_released() {
        let p = Permutation::new(1000, 42, 1);
        let first: Vec<u64> = (0..8).map(|i| p.apply(i)).collect();
        assert_eq!(first, PINNED_V1);
    }

    /// Version 2's order, pinned: it must never change.
    #[test]
    fn version_2_is_as_released() {
        let p = Permutation::new(1000, 42, 2);
        let first: Vec<u64> = (0..8).map(|i| p.apply(i)).collect();
        assert_eq!(first, PINNED_V2);
    }

    const PINNED_V1: [u64; 8] = [899, 754, 631, 534, 148, 897, 634, 156];
    const PINNED_V2: [u64; 8] = [966, 581, 617, 429, 932, 227, 306, 391];

    /// The statistical check of a network: for each size and seed, the
    /// indexes at the first `SAMPLE` positions fall evenly into 64 equal
    /// ranges of `[0, n)`, and evenly over their lowest 6 bits (chi-square,
    /// 63 degrees of freedom, between the 0.01 % critical values 29.4 and
    /// 113.7: too even fails as too uneven does), and the distances between
    /// the indexes at neighbouring positions, over `n`, follow the
    /// distribution of `|U - V|` for independent uniform `U`, `V`,
    /// `F(d) = 1 - (1 - d)^2` (Kolmogorov-Smirnov statistic under the
    /// 0.01 % critical value 2.23 / √SAMPLE). With 36 sizes and seeds, a
    /// good permutation fails one of its 108 statistics about once in a
    /// hundred sets of seeds; a permutation that kept neighbours near each
    /// other, or filled the space in a pattern, fails by far.
    fn passes_the_statistical_check(p: &dyn Fn(u64) -> u64, n: u64) -> Result<(), String> {
        const SAMPLE: u64 = 20_000;
        const BUCKETS: u64 = 64;
        let indexes: Vec<u64> = (0..SAMPLE.min(n)).map(p).collect();
        let chi_square = |bucket: &dyn Fn(u64) -> u64| {
            let mut counts = [0u64; 64];
            for &i in &indexes {
                counts[usize::try_from(bucket(i)).unwrap()] += 1;
            }
            let expected = indexes.len() as f64 / BUCKETS as f64;
            let chi2: f64 = counts
                .iter()
                .map(|&c| (c as f64 - expected).powi(2) / expected)
                .sum();
            if (29.4..=113.7).contains(&chi2) {
                Ok(())
            } else {
                Err(format!("chi-square {chi2:.1} over 64 buckets: {counts:?}"))
            }
        };
        chi_square(&|i| {
            u64::try_from(u128::from(i) * u128::from(BUCKETS) / u128::from(n)).unwrap()
        })?;
        chi_square(&|i| i % BUCKETS).map_err(|e| format!("low bits: {e}"))?;
        let mut distances: Vec<f64> = indexes
            .windows(2)
            .map(|w| w[0].abs_diff(w[1]) as f64 / n as f64)
            .collect();
        distances.sort_by(f64::total_cmp);
        let m = distances.len() as f64;
        let ks = distances
            .iter()
            .enumerate()
            .map(|(k, &d)| {
                let f = 1.0 - (1.0 - d).powi(2);
                (f - k as f64 / m).abs().max((f - (k + 1) as f64 / m).abs())
            })
            .fold(0.0, f64::max);
        if ks > 2.23 / m.sqrt() {
            return Err(format!("neighbour distances: Kolmogorov-Smirnov {ks:.4}"));
        }
        Ok(())
    }

    const SIZES: [u64; 6] = [
        1 << 20,
        (1 << 20) + 1,
        1_000_003,
        118_813_760,
        1 << 40,
        12_345_678_901_234_567,
    ];

    #[test]
    fn both_versions_pass_the_statistical_check() {
        for version in SHUFFLE_VERSIONS {
            for n in SIZES {
                for seed in [0, 42, u64::MAX] {
                    let p = Permutation::new(n, seed, version);
                    if let Err(e) = passes_the_statistical_check(&|i| p.apply(i), n) {
                        panic!("version {version}, n {n}, seed {seed}: {e}");
                    }
                }
            }
        }
    }

    /// The check has teeth: version 2's network cut to 2 rounds, or an
    /// affine map, fails it somewhere.
    #[test]
    fn weaker_permutations_fail_the_statistical_check() {
        for rounds in [1, 2] {
            let failed = SIZES.iter().any(|&n| {
                let Network::V2(network) = Permutation::new(n, 42, 2).network else {
                    unreachable!()
                };
                let cut = |position: u64| {
                    let mut x = position;
                    loop {
                        let mut left = x >> network.right_bits;
                        let mut right = x & network.right_mask;
                        for r in 0..rounds {
                            if r % 2 == 0 {
                                left ^= network.hash(r, right);
                            } else {
                                right ^= network.hash(r, left);
                            }
                        }
                        x = (left << network.right_bits) | right;
                        if x < n {
                            return x;
                        }
                    }
                };
                passes_the_statistical_check(&cut, n).is_err()
            });
            assert!(failed, "{rounds} rounds pass");
        }
        let n = 1_000_003u64;
        let affine = |i: u64| (i * 387_419 + 11) % n;
        assert!(passes_the_statistical_check(&affine, n).is_err());
    }
}
