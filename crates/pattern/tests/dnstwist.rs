//! `{typo}` against dnstwist, the tool whose permutation algorithms it
//! follows: for each keyword and algorithm, domgen's names under `.com`
//! are the names `dnstwist --format list --fuzzers ALGO KEYWORD.com`
//! prints, less the keyword's own, as sets.
//!
//! dnstwist is found at `$DNSTWIST`, else on `PATH`; `scripts/test`
//! installs the pinned version. Without it the test fails: it is the
//! oracle, not an option.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use domgen_pattern::{ErrorKind, Space, Spec, TypoAlgorithm, WordList};

/// Keywords of different shapes: short and long, with digits and hyphens,
/// vowel-heavy and consonant-heavy, repeated letters, the pairs homoglyphs
/// read as one letter (`rn`, `cl`), one Unicode keyword, and one so long
/// that some variants pass a label's 63 octets and are dropped.
const KEYWORDS: [&str; 30] = [
    "ab",
    "go",
    "x1",
    "ibm",
    "bank",
    "paypal",
    "google",
    "amazon",
    "facebook",
    "microsoft",
    "cloudflare",
    "apple-support",
    "my-bank-login",
    "secure-pay",
    "web3",
    "365office",
    "2fa",
    "aaa",
    "aeiou",
    "queueing",
    "strengths",
    "rhythm",
    "bcdfghjklm",
    "onomatopoeia",
    "modern",
    "clarinet",
    "mm",
    "münchen",
    "a-1",
    "thisisaverylongkeywordthatgoesonandonforalongtimeindeedokay",
];

/// The words of the `dictionary` algorithm.
const DICTIONARY: [&str; 5] = ["login", "secure", "app", "pay", "bank"];

fn dnstwist() -> PathBuf {
    let path =
        std::env::var_os("DNSTWIST").map_or_else(|| PathBuf::from("dnstwist"), PathBuf::from);
    let runs = Command::new(&path)
        .arg("--help")
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        runs,
        "dnstwist is the oracle of these tests and {} does not run; run scripts/test, which installs it, or set DNSTWIST to its path",
        path.display()
    );
    path
}

/// dnstwist's names for `keyword.com` with `algorithm`, less the keyword's.
fn theirs(
    dnstwist: &Path,
    algorithm: TypoAlgorithm,
    keyword: &str,
    dictionary: &Path,
) -> BTreeSet<String> {
    let mut command = Command::new(dnstwist);
    command.args(["--format", "list", "--fuzzers", algorithm.name()]);
    if algorithm == TypoAlgorithm::Dictionary {
        command.arg("--dictionary").arg(dictionary);
    }
    let out = command
        .arg(format!("{keyword}.com"))
        .output()
        .expect("dnstwist runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // dnstwist refuses to print an empty list.
        assert!(
            stderr.contains("do not generate any permutations"),
            "dnstwist {algorithm} {keyword}.com failed: {stderr}"
        );
        return BTreeSet::new();
    }
    let original = Space::compile(&Spec {
        keywords: WordList::inline([keyword]),
        patterns: vec!["{keyword}.com".into()],
        ..Spec::default()
    })
    .expect("the keyword compiles")
    .name(0);
    String::from_utf8(out.stdout)
        .expect("dnstwist prints UTF-8")
        .lines()
        .filter(|line| !line.is_empty() && *line != original)
        .map(str::to_owned)
        .collect()
}

/// domgen's names of `{typo:ALGO}.com` for `keyword`, checked to have no
/// repeats.
fn ours(algorithm: TypoAlgorithm, keyword: &str) -> BTreeSet<String> {
    let spec = Spec {
        keywords: WordList::inline([keyword]),
        patterns: vec![format!("{{typo:{}}}.com", algorithm.name())],
        lists: [("dictionary".to_owned(), WordList::inline(DICTIONARY))].into(),
        ..Spec::default()
    };
    let space = match Space::compile(&spec) {
        Ok(space) => space,
        Err(e)
            if e.kind() == ErrorKind::BadValue
                && e.to_string().contains("make no valid look-alike") =>
        {
            return BTreeSet::new();
        }
        Err(e) => panic!("{{typo:{algorithm}}} of {keyword}: {e}"),
    };
    let names: Vec<String> = (0..space.total()).map(|i| space.name(i)).collect();
    let set: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(
        set.len(),
        names.len(),
        "{{typo:{algorithm}}} of {keyword} repeats a name"
    );
    set
}

#[test]
fn every_algorithm_makes_the_names_dnstwist_makes() {
    let dnstwist = dnstwist();
    let dir = std::env::temp_dir().join(format!("domgen-dnstwist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let dictionary = dir.join("dictionary.txt");
    std::fs::write(&dictionary, DICTIONARY.join("\n")).expect("the dictionary is written");
    let jobs: Mutex<Vec<(TypoAlgorithm, &str)>> = Mutex::new(
        KEYWORDS
            .iter()
            .flat_map(|&k| TypoAlgorithm::ALL.map(|a| (a, k)))
            .collect(),
    );
    let failures = Mutex::new(Vec::new());
    let made = Mutex::new([0usize; TypoAlgorithm::ALL.len()]);
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let Some((algorithm, keyword)) = jobs.lock().unwrap().pop() else {
                        break;
                    };
                    let theirs = theirs(&dnstwist, algorithm, keyword, &dictionary);
                    let ours = ours(algorithm, keyword);
                    made.lock().unwrap()[algorithm as usize] += theirs.len();
                    if theirs != ours {
                        let missing: Vec<_> = theirs.difference(&ours).take(5).collect();
                        let extra: Vec<_> = ours.difference(&theirs).take(5).collect();
                        failures.lock().unwrap().push(format!(
                            "{algorithm} of {keyword}: dnstwist {} names, domgen {}; missing {missing:?}, extra {extra:?}",
                            theirs.len(),
                            ours.len()
                        ));
                    }
                }
            });
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    let failures = failures.into_inner().unwrap();
    // Not a vacuous comparison: every algorithm made names.
    let made = made.into_inner().unwrap();
    println!("dnstwist's names per algorithm: {made:?}");
    for algorithm in TypoAlgorithm::ALL {
        assert!(
            made[algorithm as usize] > 0,
            "dnstwist made no {algorithm} names"
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
