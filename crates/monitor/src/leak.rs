use std::collections::VecDeque;
use std::fmt;

use crate::{Config, Sample};

/// Which rule found a leak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// The live heap rose far above its baseline within a short window.
    RapidGrowth,
    /// The live heap rises steadily: a least-squares slope with a good fit.
    SteadyGrowth,
    /// The process holds more and more threads.
    ThreadGrowth,
    /// An operation (a generation run) left more live heap than it found.
    Operation,
}

impl Rule {
    /// The name written to `memory_leak_detection.leak_type`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::RapidGrowth => "rapid_growth",
            Rule::SteadyGrowth => "steady_growth",
            Rule::ThreadGrowth => "thread_growth",
            Rule::Operation => "operation_leak",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A leak a rule found, with its evidence.
#[derive(Clone, Debug, PartialEq)]
pub struct Leak {
    /// The rule.
    pub rule: Rule,
    /// Bytes (or, for threads, threads) the evidence puts on the leak; the
    /// database's severity is decided by it.
    pub leaked: u64,
    /// One line of evidence: the rule's figures (`leak_source`).
    pub evidence: String,
    /// The operation it belongs to, for [`Rule::Operation`].
    pub operation_id: Option<String>,
    /// The evidence as figures (`operation_context`).
    pub details: serde_json::Value,
}

/// A least-squares fit of `y` against `x`: slope and R².
pub fn fit(points: impl Iterator<Item = (f64, f64)> + Clone) -> Option<(f64, f64)> {
    let (mut n, mut sx, mut sy) = (0.0, 0.0, 0.0);
    for (x, y) in points.clone() {
        n += 1.0;
        sx += x;
        sy += y;
    }
    if n < 2.0 {
        return None;
    }
    let (mx, my) = (sx / n, sy / n);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in points {
        sxx += (x - mx) * (x - mx);
        sxy += (x - mx) * (y - my);
        syy += (y - my) * (y - my);
    }
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    // A flat series fits a flat line perfectly, but it is no growth.
    let r2 = if syy == 0.0 {
        0.0
    } else {
        (sxy * sxy) / (sxx * syy)
    };
    Some((slope, r2))
}

/// The state the sample-driven rules keep between samples.
#[derive(Debug, Default)]
pub(crate) struct Detector {
    /// (secs, heap) the rapid rule measures from.
    baseline: Option<(f64, u64)>,
    /// Threads of the first sample, raised each time the rule fires.
    thread_base: Option<u64>,
    /// The steady rule waits for this many new samples after it fired.
    steady_quiet: usize,
}

fn f(bytes: u64) -> f64 {
    // Exact below 2^53 bytes, which no heap reaches.
    bytes as f64
}

impl Detector {
    /// Runs the rules on the latest sample of `history`.
    pub(crate) fn check(&mut self, config: &Config, history: &VecDeque<Sample>) -> Vec<Leak> {
        let mut leaks = Vec::new();
        let Some(last) = history.back() else {
            return leaks;
        };
        if let Some(heap) = last.heap_used() {
            let (t0, h0) = *self.baseline.get_or_insert((last.secs, heap));
            let since = last.secs - t0;
            if heap > h0.saturating_add(config.rapid_bytes)
                && since <= config.rapid_window.as_secs_f64()
            {
                let grew = heap - h0;
                leaks.push(Leak {
                    rule: Rule::RapidGrowth,
                    leaked: grew,
                    evidence: format!(
                        "rapid_growth: live heap {heap} B is {grew} B above its baseline {h0} B of {since:.1} s ago (threshold {} B within {} s)",
                        config.rapid_bytes,
                        config.rapid_window.as_secs()
                    ),
                    operation_id: None,
                    details: serde_json::json!({
                        "rule": "rapid_growth", "heap_bytes": heap, "baseline_bytes": h0,
                        "grew_bytes": grew, "seconds": since, "threshold_bytes": config.rapid_bytes,
                    }),
                });
                self.baseline = Some((last.secs, heap));
            } else if since >= config.baseline_every.as_secs_f64() {
                self.baseline = Some((last.secs, heap));
            }
        }

        self.steady_quiet = self.steady_quiet.saturating_sub(1);
        let points = history
            .iter()
            .filter_map(|s| Some((s.secs / 60.0, f(s.heap_used()?))));
        let n = points.clone().count();
        if self.steady_quiet == 0 && n >= config.steady_min_samples.max(2) {
            if let Some((slope, r2)) = fit(points.clone()) {
                if slope > config.steady_bytes_per_min && r2 >= config.steady_min_r2 {
                    let first = history.front().map_or(0.0, |s| s.secs);
                    let minutes = (last.secs - first) / 60.0;
                    // What the slope put on over the history.
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "positive, far below 2^64"
                    )]
                    let grew = (slope * minutes).round() as u64;
                    leaks.push(Leak {
                        rule: Rule::SteadyGrowth,
                        leaked: grew,
                        evidence: format!(
                            "steady_growth: live heap rises {:.0} B/min (R² {r2:.3}) over {n} samples, {minutes:.2} min (threshold {:.0} B/min, R² {})",
                            slope, config.steady_bytes_per_min, config.steady_min_r2
                        ),
                        operation_id: None,
                        details: serde_json::json!({
                            "rule": "steady_growth", "bytes_per_min": slope, "r2": r2,
                            "samples": n, "minutes": minutes, "grew_bytes": grew,
                            "threshold_bytes_per_min": config.steady_bytes_per_min,
                        }),
                    });
                    // Report it again only over a history of new samples.
                    self.steady_quiet = n;
                }
            }
        }

        if let Some(threads) = last.threads {
            let base = *self.thread_base.get_or_insert(threads);
            if threads >= base.saturating_add(config.thread_growth) {
                let grew = threads - base;
                leaks.push(Leak {
                    rule: Rule::ThreadGrowth,
                    leaked: grew,
                    evidence: format!(
                        "thread_growth: {threads} threads, {grew} more than the {base} at the start (threshold {})",
                        config.thread_growth
                    ),
                    operation_id: None,
                    details: serde_json::json!({
                        "rule": "thread_growth", "threads": threads, "base_threads": base,
                        "grew_threads": grew, "threshold": config.thread_growth,
                    }),
                });
                self.thread_base = Some(threads);
            }
        }
        leaks
    }
}

/// The per-operation rule: a leak when `after - before` reaches the threshold.
pub(crate) fn operation(
    config: &Config,
    operation_id: &str,
    before: u64,
    after: u64,
) -> Option<Leak> {
    let leaked = after.checked_sub(before)?;
    (leaked > 0 && leaked >= config.operation_bytes).then(|| Leak {
        rule: Rule::Operation,
        leaked,
        evidence: format!(
            "operation_leak: {operation_id} left {leaked} B more live heap than it found ({before} B before, {after} B after; threshold {} B)",
            config.operation_bytes
        ),
        operation_id: Some(operation_id.to_owned()),
        details: serde_json::json!({
            "rule": "operation_leak", "before_bytes": before, "after_bytes": after,
            "leaked_bytes": leaked, "threshold_bytes": config.operation_bytes,
        }),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn sample(secs: f64, live: u64, threads: u64) -> Sample {
        Sample {
            at: SystemTime::now(),
            secs,
            live_bytes: Some(live),
            peak_bytes: None,
            rss_bytes: None,
            threads: Some(threads),
            batches_in_flight: None,
            arena_resets: None,
        }
    }

    fn run(config: &Config, samples: &[Sample]) -> Vec<(usize, Leak)> {
        let mut d = Detector::default();
        let mut h = VecDeque::new();
        let mut out = Vec::new();
        for (i, s) in samples.iter().enumerate() {
            if h.len() == config.history {
                h.pop_front();
            }
            h.push_back(*s);
            out.extend(d.check(config, &h).into_iter().map(|l| (i, l)));
        }
        out
    }

    #[test]
    fn fit_is_exact_on_a_line_and_zero_on_flat() {
        let (slope, r2) = fit((0..10).map(|i| (f64::from(i), 3.0 * f64::from(i) + 1.0))).unwrap();
        assert!((slope - 3.0).abs() < 1e-9 && (r2 - 1.0).abs() < 1e-9);
        assert_eq!(
            fit((0..10).map(|i| (f64::from(i), 5.0))).unwrap(),
            (0.0, 0.0)
        );
        assert_eq!(fit([(1.0, 1.0)].into_iter()), None);
    }

    #[test]
    fn flat_noisy_heap_fires_nothing() {
        let config = Config::default();
        let samples: Vec<_> = (0u32..500)
            .map(|i| {
                sample(
                    f64::from(i) * 0.2,
                    10 << 20 | u64::from((i * 7919) % 4096) << 8,
                    9,
                )
            })
            .collect();
        assert_eq!(run(&config, &samples), []);
    }

    #[test]
    fn steady_growth_fires_then_waits_for_as_many_new_samples() {
        let config = Config {
            history: 50,
            ..Config::default()
        };
        // 1 MiB a second = 60 MiB/min, six times the threshold.
        let samples: Vec<_> = (0u32..60)
            .map(|i| sample(f64::from(i), (1 << 20) * (10 + u64::from(i)), 9))
            .collect();
        let fired = run(&config, &samples);
        let at: Vec<_> = fired.iter().map(|(i, l)| (*i, l.rule)).collect();
        // After firing over n samples it waits for n new ones.
        assert_eq!(at, [(19, Rule::SteadyGrowth), (39, Rule::SteadyGrowth)]);
        // 60 MiB/min over the 19 s of 20 samples.
        assert_eq!(fired[0].1.leaked, 19 << 20);
    }

    #[test]
    fn rapid_growth_fires_on_a_burst_and_the_baseline_moves() {
        let config = Config {
            rapid_window: Duration::from_secs(60),
            baseline_every: Duration::from_secs(120),
            ..Config::default()
        };
        let mut samples = vec![
            sample(0.0, 10 << 20, 9),
            sample(1.0, 10 << 20, 9),
            sample(2.0, 150 << 20, 9),
        ];
        samples.push(sample(3.0, 150 << 20, 9));
        let fired = run(&config, &samples);
        assert_eq!(fired.len(), 1);
        assert_eq!(
            (fired[0].0, fired[0].1.rule, fired[0].1.leaked),
            (2, Rule::RapidGrowth, 140 << 20)
        );
        // Slow growth past the window: the baseline moved, nothing fires.
        let slow: Vec<_> = (0u32..40)
            .map(|i| sample(f64::from(i) * 30.0, (10 + 5 * u64::from(i)) << 20, 9))
            .collect();
        let config = Config {
            steady_bytes_per_min: f64::MAX,
            ..config
        };
        assert_eq!(run(&config, &slow), []);
    }

    #[test]
    fn thread_growth_fires_at_the_threshold() {
        let config = Config {
            thread_growth: 5,
            ..Config::default()
        };
        let samples: Vec<_> = (0u32..12)
            .map(|i| sample(f64::from(i), 1 << 20, 3 + u64::from(i)))
            .collect();
        let fired: Vec<_> = run(&config, &samples)
            .into_iter()
            .map(|(i, l)| (i, l.rule))
            .collect();
        assert_eq!(fired, [(5, Rule::ThreadGrowth), (10, Rule::ThreadGrowth)]);
    }

    #[test]
    fn operation_rule_ignores_noise_and_shrinking() {
        let config = Config::default();
        assert_eq!(operation(&config, "r", 100, 100 + (256 << 10) - 1), None);
        assert_eq!(operation(&config, "r", 100, 50), None);
        assert_eq!(
            operation(&config, "r", 100, 100 + (1 << 20))
                .unwrap()
                .leaked,
            1 << 20
        );
    }
}
