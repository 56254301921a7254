//! The campaign service's (DomainFlow's) generator configs as specs.

use serde::Deserialize;

use crate::error::{Error, ErrorKind};
use crate::spec::{Spec, WordList};

/// The name of the custom charset a DomainFlow config's `character_set`
/// becomes.
pub const DOMAINFLOW_CHARSET: &str = "domainflow";

/// A generator config of the campaign service, as it stores them.
///
/// `pattern_type` is `prefix_variable`, `suffix_variable` or `both_variable`
/// (or the legacy `prefix`, `suffix`, `both`); `variable_length` is the
/// legacy fallback for a missing `prefix_variable_length` or
/// `suffix_variable_length`; `tld` is written with a leading dot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct DomainflowConfig {
    /// Where the variable part goes.
    pub pattern_type: String,
    /// Length of the variable part before the constant.
    #[serde(default)]
    pub prefix_variable_length: Option<i64>,
    /// Length of the variable part after the constant.
    #[serde(default)]
    pub suffix_variable_length: Option<i64>,
    /// Legacy length, used where the specific one is missing.
    #[serde(default)]
    pub variable_length: Option<i64>,
    /// The characters of the variable part; repeats are ignored.
    pub character_set: String,
    /// The fixed text.
    #[serde(default)]
    pub constant_string: String,
    /// The TLD, e.g. `.com`.
    pub tld: String,
}

impl Spec {
    /// The spec that produces exactly the names of a campaign-service
    /// config, in the same order: offset `o` of the config is index `o`.
    ///
    /// The config's charset is reduced to its distinct characters in order
    /// of first appearance (N of them) and becomes the custom charset
    /// `domainflow`; with L the variable length, the pattern is
    /// `{domainflow:L}CONSTANT.TLD` (prefix), `CONSTANT{domainflow:L}.TLD`
    /// (suffix) or `{domainflow:P}CONSTANT{domainflow:S}.TLD` (both).
    ///
    /// Where the service's rule would make invalid names — a `-` in the
    /// charset (it lands at a label's edge), labels over 63 octets — or
    /// silently cap the total at `i64::MAX`, this refuses with an error
    /// (here, or when the spec compiles) instead. Upper-case letters are
    /// lower-cased, since DNS names are case-insensitive.
    ///
    /// ```
    /// use domgen_pattern::{DomainflowConfig, Space, Spec};
    ///
    /// let config = DomainflowConfig {
    ///     pattern_type: "prefix_variable".into(),
    ///     prefix_variable_length: Some(2),
    ///     character_set: "abca".into(),
    ///     constant_string: "shop".into(),
    ///     tld: ".com".into(),
    ///     ..Default::default()
    /// };
    /// let spec = Spec::from_domainflow(&config)?;
    /// assert_eq!(spec.patterns, ["{domainflow:2}shop.com"]);
    /// let space = Space::compile(&spec)?;
    /// assert_eq!(space.total(), 9);
    /// assert_eq!(space.name(5), "bcshop.com");
    /// # Ok::<(), domgen_pattern::Error>(())
    /// ```
    pub fn from_domainflow(config: &DomainflowConfig) -> Result<Spec, Error> {
        let fail = |field: &str, why: String| {
            Error::new(
                ErrorKind::Domainflow,
                format!("DomainFlow config field `{field}`: {why}"),
            )
        };
        let length = |field: &str, value: Option<i64>| -> Result<usize, Error> {
            let value = value.or(config.variable_length).unwrap_or(0);
            usize::try_from(value).map_err(|_| fail(field, format!("length {value} is negative")))
        };
        let (prefix, suffix) = match config.pattern_type.as_str() {
            "prefix_variable" | "prefix" => (
                length("prefix_variable_length", config.prefix_variable_length)?,
                0,
            ),
            "suffix_variable" | "suffix" => (
                0,
                length("suffix_variable_length", config.suffix_variable_length)?,
            ),
            "both_variable" | "both" => (
                length("prefix_variable_length", config.prefix_variable_length)?,
                length("suffix_variable_length", config.suffix_variable_length)?,
            ),
            other => {
                return Err(fail(
                    "pattern_type",
                    format!(
                        "`{other}` is not one of prefix_variable, suffix_variable, both_variable (or prefix, suffix, both)"
                    ),
                ));
            }
        };
        // The service's reduction: distinct characters, first occurrence kept.
        let mut distinct: Vec<char> = Vec::new();
        for c in config.character_set.chars() {
            if !distinct.contains(&c) {
                distinct.push(c);
            }
        }
        let mut charset = String::with_capacity(distinct.len());
        for &c in &distinct {
            if c == '-' {
                return Err(fail(
                    "character_set",
                    "holds '-', which would put a hyphen at the edge of a label (invalid in DNS); remove it".into(),
                ));
            }
            if !c.is_ascii_alphanumeric() {
                return Err(fail(
                    "character_set",
                    format!("holds {c:?}; hostnames may hold only a-z and 0-9 there"),
                ));
            }
            let lower = c.to_ascii_lowercase();
            if charset.contains(lower) {
                return Err(fail(
                    "character_set",
                    format!(
                        "holds both `{lower}` and `{}`, which make the same DNS names; keep one",
                        lower.to_ascii_uppercase()
                    ),
                ));
            }
            charset.push(lower);
        }
        if charset.is_empty() && prefix + suffix > 0 {
            return Err(fail(
                "character_set",
                "is empty; give it the characters to vary".into(),
            ));
        }
        let n = u128::try_from(charset.len()).unwrap_or(u128::MAX);
        let total = u32::try_from(prefix + suffix)
            .ok()
            .and_then(|l| n.checked_pow(l));
        if total.is_none_or(|t| t > u128::from(i64::MAX.unsigned_abs())) {
            return Err(fail(
                "prefix_variable_length/suffix_variable_length",
                format!(
                    "{} characters over {} positions make more than {} names, the most the service can address; lower the lengths",
                    charset.len(),
                    prefix + suffix,
                    i64::MAX
                ),
            ));
        }
        let constant = config.constant_string.trim().to_ascii_lowercase();
        if let Some(c) = constant
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
        {
            return Err(fail(
                "constant_string",
                format!("holds {c:?}; hostnames may hold only a-z, 0-9, '-' and '.'"),
            ));
        }
        let tld = config.tld.trim().to_ascii_lowercase();
        let tld = tld.strip_prefix('.').unwrap_or(&tld);
        if tld.is_empty() {
            return Err(fail("tld", "is empty; give a TLD such as .com".into()));
        }
        if let Some(c) = tld
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '.' || *c == '-'))
        {
            return Err(fail(
                "tld",
                format!("holds {c:?}; write an ASCII TLD such as .com"),
            ));
        }
        let piece = |len: usize| {
            if len == 0 {
                String::new()
            } else {
                format!("{{{DOMAINFLOW_CHARSET}:{len}}}")
            }
        };
        let pattern = format!("{}{constant}{}.{tld}", piece(prefix), piece(suffix));
        let mut spec = Spec {
            patterns: vec![pattern],
            keywords: WordList::default(),
            ..Spec::default()
        };
        if !charset.is_empty() {
            spec.charsets.insert(DOMAINFLOW_CHARSET.to_owned(), charset);
        }
        Ok(spec)
    }
}
