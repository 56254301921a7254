//! `domgen check` and `domgen count`: a spec's names, counted and shown.

use std::io::{self, Write};

use anyhow::Context;
use domgen::Order;
use domgen::pattern::{TypoAlgorithm, TypoCount, TypoReport};

use crate::cli::SpecArgs;
use crate::failure::Failure;

pub(crate) fn check(args: &SpecArgs, show: u64) -> Result<(), Failure> {
    let spec = args.load()?;
    let space = args.compile_spec(&spec)?;
    let rules = space.filter_rules(&spec.filter)?;
    let mut out = io::stdout().lock();
    let patterns = space.patterns().len();
    let mut run = || -> io::Result<()> {
        writeln!(
            out,
            "total: {} names from {patterns} pattern{}",
            space.total(),
            if patterns == 1 { "" } else { "s" }
        )?;
        let width = space
            .patterns()
            .map(|p| p.text.chars().count())
            .max()
            .unwrap_or(0);
        for (i, p) in space.patterns().enumerate() {
            write!(
                out,
                "  {:>2}. {:<width$}  {:>20} names  (indexes {}..{})",
                i + 1,
                p.text,
                p.count,
                p.start,
                p.start + p.count
            )?;
            if rules.is_empty() {
                writeln!(out)?;
            } else {
                writeln!(out, "  of {} before the filter", p.unfiltered)?;
            }
        }
        for (algorithms, reports) in space.typo_reports() {
            write_typos(&mut out, &algorithms, &reports)?;
        }
        if !rules.is_empty() {
            writeln!(out, "filter (each rule by itself):")?;
        }
        for rule in &rules {
            let excluded: u64 = rule.excluded.iter().sum();
            match &rule.example {
                Some(example) => writeln!(
                    out,
                    "  {}: leaves out {excluded} names, e.g. {example}",
                    rule.rule
                )?,
                None => writeln!(out, "  {}: leaves out no name", rule.rule)?,
            }
        }
        let sel = space.selection();
        writeln!(
            out,
            "selected: positions {}..{} in {} order ({} names)",
            sel.start,
            sel.end,
            space.order(),
            space.len()
        )?;
        if space.order() == Order::Shuffled {
            writeln!(
                out,
                "seed: {} (shuffled order version {})",
                space.seed(),
                space.shuffle_version()
            )?;
        }
        let first = sel.start..sel.start + show.min(space.len());
        if !first.is_empty() {
            writeln!(out, "first names:")?;
            let mut cursor = space.cursor(first);
            let mut line = Vec::new();
            while cursor.write_next(&mut line).is_some() {
                out.write_all(b"  ")?;
                line.push(b'\n');
                out.write_all(&line)?;
                line.clear();
            }
        }
        out.flush()
    };
    run().context("cannot write to standard output")?;
    Ok(())
}

/// Keywords whose look-alikes `check` counts one by one; the rest are in
/// the totals.
const TYPO_KEYWORDS_SHOWN: usize = 20;

/// What each typo algorithm made: in all, then keyword by keyword.
fn write_typos(
    out: &mut impl Write,
    algorithms: &[TypoAlgorithm],
    reports: &[TypoReport],
) -> io::Result<()> {
    let line = |counts: &mut dyn Iterator<Item = (TypoAlgorithm, TypoCount)>| {
        let mut kept = 0;
        let mut dropped = 0;
        let mut parts = Vec::new();
        let mut drops = Vec::new();
        for (algorithm, count) in counts {
            kept += count.kept;
            dropped += count.dropped;
            parts.push(format!("{algorithm} {}", count.kept));
            if count.dropped > 0 {
                drops.push(format!("{algorithm} {}", count.dropped));
            }
        }
        let dropped = if dropped == 0 {
            String::new()
        } else {
            format!(
                "; dropped as not valid hostnames: {dropped} ({})",
                drops.join(", ")
            )
        };
        format!("{kept} ({}){dropped}", parts.join(", "))
    };
    let names: Vec<&str> = algorithms.iter().map(|a| a.name()).collect();
    writeln!(out, "look-alikes by {{typo:{}}}:", names.join(","))?;
    let totals = algorithms.iter().enumerate().map(|(i, &algorithm)| {
        let sum = reports
            .iter()
            .fold(TypoCount::default(), |sum, r| TypoCount {
                kept: sum.kept + r.counts[i].1.kept,
                dropped: sum.dropped + r.counts[i].1.dropped,
            });
        (algorithm, sum)
    });
    writeln!(
        out,
        "  all {} keywords: {}",
        reports.len(),
        line(&mut totals.collect::<Vec<_>>().into_iter())
    )?;
    for report in reports.iter().take(TYPO_KEYWORDS_SHOWN) {
        writeln!(
            out,
            "  {}: {}",
            report.keyword,
            line(&mut report.counts.iter().copied())
        )?;
    }
    if reports.len() > TYPO_KEYWORDS_SHOWN {
        writeln!(
            out,
            "  … and {} more keywords",
            reports.len() - TYPO_KEYWORDS_SHOWN
        )?;
    }
    Ok(())
}

pub(crate) fn count(args: &SpecArgs) -> Result<(), Failure> {
    let space = args.compile()?;
    let mut out = io::stdout().lock();
    writeln!(out, "{}", space.len())
        .and_then(|()| out.flush())
        .context("cannot write to standard output")?;
    Ok(())
}
