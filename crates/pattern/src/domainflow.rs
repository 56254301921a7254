//! The campaign service's (DomainFlow's) generator configs as specs, and
//! the key under which the service keeps each config's next offset.

use std::fmt::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind};
use crate::spec::{Order, Spec, WordList};

/// The name of the custom charset a DomainFlow config's `character_set`
/// becomes.
pub const DOMAINFLOW_CHARSET: &str = "domainflow";

/// A generator config of the campaign service, as it stores them.
///
/// `pattern_type` is `prefix_variable`, `suffix_variable` or `both_variable`
/// (or the legacy `prefix`, `suffix`, `both`); `variable_length` is the
/// legacy fallback for a missing `prefix_variable_length` or
/// `suffix_variable_length`; `tld` is written with a leading dot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
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
        spec.domainflow = Some(config.clone());
        Ok(spec)
    }

    /// The campaign service's key for this spec's offsets, when the spec
    /// was converted from one of its configs ([`Spec::domainflow`]);
    /// `Ok(None)` for every other spec. A campaign continuing such a spec
    /// takes its positions from the service's own row for the config, so
    /// the service and domgen, taking turns, neither repeat nor skip a name.
    ///
    /// The service's offset `o` of the config is this spec's position `o`
    /// (see [`Spec::from_domainflow`]), but only in sequential order and
    /// while the spec is as converted; and a row's offsets belong to one
    /// sequence only if no other config with the same hash makes other
    /// names. This refuses, saying why, when
    ///
    /// - the spec's patterns, words, lists or charsets were changed after
    ///   the conversion;
    /// - the order is shuffled;
    /// - the charset is not given sorted: the service hashes it sorted but
    ///   makes names in the order given, so `bac` and `abc` share one row
    ///   and count different sequences (a charset given sorted is the one
    ///   config of its row this accepts);
    /// - a length the pattern uses comes from the legacy `variable_length`,
    ///   which the hash leaves out (it hashes an absent length as 0).
    ///
    /// ```
    /// use domgen_pattern::{DomainflowConfig, Spec};
    ///
    /// let mut config = DomainflowConfig {
    ///     pattern_type: "prefix_variable".into(),
    ///     prefix_variable_length: Some(3),
    ///     character_set: "abc".into(),
    ///     constant_string: "shop".into(),
    ///     tld: ".com".into(),
    ///     ..Default::default()
    /// };
    /// let key = Spec::from_domainflow(&config)?.service_key()?.unwrap();
    /// assert_eq!(key.hash, config.service_hash());
    /// assert_eq!(key.hash.len(), 64);
    ///
    /// config.character_set = "bac".into();
    /// let e = Spec::from_domainflow(&config)?.service_key().unwrap_err();
    /// assert!(e.to_string().contains("give the charset sorted (`abc`"));
    /// # Ok::<(), domgen_pattern::Error>(())
    /// ```
    pub fn service_key(&self) -> Result<Option<ServiceKey>, Error> {
        let Some(config) = &self.domainflow else {
            return Ok(None);
        };
        let fail = |why: String| Error::new(ErrorKind::Domainflow, why);
        let converted = Spec::from_domainflow(config)?;
        let changed: Vec<&str> = [
            ("patterns", self.patterns != converted.patterns),
            ("keywords", self.keywords != converted.keywords),
            ("tlds", self.tlds != converted.tlds),
            ("lists", self.lists != converted.lists),
            ("charsets", self.charsets != converted.charsets),
        ]
        .into_iter()
        .filter_map(|(what, differs)| differs.then_some(what))
        .collect();
        if !changed.is_empty() {
            return Err(fail(format!(
                "this spec was converted from a DomainFlow config (`Spec::domainflow`), but its {} changed since, so the campaign service's offsets of that config are not this spec's positions; convert the config again, or set `Spec::domainflow` to `None` to continue domgen's own cursor for this spec",
                changed.join(", ")
            )));
        }
        if self.order != Order::Sequential {
            return Err(fail(format!(
                "the campaign service's offsets count its config's names in sequential order, and this spec's order is {}: its positions hold other names, so continuing the service's offsets would repeat and skip names; use the sequential order, or set `Spec::domainflow` to `None` to continue domgen's own cursor for this spec",
                self.order
            )));
        }
        let lower = config.character_set.to_lowercase();
        if lower.chars().zip(lower.chars().skip(1)).any(|(a, b)| a > b) {
            let mut sorted: Vec<char> = lower.chars().collect();
            sorted.sort_unstable();
            let hashed: String = sorted.iter().collect();
            sorted.dedup();
            let suggested: String = sorted.into_iter().collect();
            return Err(fail(format!(
                "DomainFlow config field `character_set`: `{}` is not sorted. The campaign service hashes the charset sorted (as `{hashed}`) but makes names in the order given, so its config_hash cannot tell this config from the same characters in another order, which put other names at the same offsets, and its row's offset may count another sequence. To continue the service's offsets, give the charset sorted (`{suggested}`: a config with other names); or set `Spec::domainflow` to `None` to continue domgen's own cursor for this spec",
                config.character_set
            )));
        }
        let uses = match config.pattern_type.as_str() {
            "prefix_variable" | "prefix" => [true, false],
            "suffix_variable" | "suffix" => [false, true],
            _ => [true, true],
        };
        for ((field, length), used) in [
            ("prefix_variable_length", config.prefix_variable_length),
            ("suffix_variable_length", config.suffix_variable_length),
        ]
        .into_iter()
        .zip(uses)
        {
            if let (true, None, Some(legacy @ 1..)) = (used, length, config.variable_length) {
                return Err(fail(format!(
                    "DomainFlow config field `variable_length`: `{field}` is absent, so its length {legacy} comes from the legacy `variable_length`, which the campaign service's config_hash leaves out (it hashes the absent `{field}` as 0); the hash cannot tell this config from one with another length. To continue the service's offsets, give `{field}` = {legacy}"
                )));
            }
        }
        Ok(Some(ServiceKey {
            hash: config.service_hash(),
            document: config.service_document(),
        }))
    }
}

/// The campaign service's key for a config's next offset: the primary key
/// `config_hash` of its row in `domain_generation_config_states`, and the
/// document it hashes. See [`Spec::service_key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceKey {
    /// `config_hash`: [`DomainflowConfig::service_hash`].
    pub hash: String,
    /// The JSON hashed: [`DomainflowConfig::service_document`].
    pub document: String,
}

impl DomainflowConfig {
    /// The compact JSON the campaign service hashes into its `config_hash`,
    /// written as Go's `encoding/json` writes its struct: the keys
    /// `patternType` (lower-cased), `prefixVariableLength`,
    /// `suffixVariableLength` (0 when absent; the legacy `variable_length`
    /// is left out), `characterSet` (lower-cased, its characters sorted,
    /// repeats kept), `constantString` (as given) and `tld` (lower-cased,
    /// trimmed of dots, with one leading dot), in this order, without
    /// spaces.
    ///
    /// Strings are escaped as `json.Marshal` escapes them (Go 1.22 and
    /// later): `"`, `\`, `\b`, `\f`, `\n`, `\r`, `\t` with a backslash, other
    /// control characters, `<`, `>`, `&`, U+2028 and U+2029 as `\u00XX` or
    /// `\u20XX` with lower-case hex, everything else as it is. Lower-casing
    /// uses Rust's Unicode rules; Go's differ for a few non-ASCII letters,
    /// which no config that [`Spec::from_domainflow`] accepts holds in
    /// these fields.
    ///
    /// ```
    /// use domgen_pattern::DomainflowConfig;
    ///
    /// let config = DomainflowConfig {
    ///     pattern_type: "Prefix_Variable".into(),
    ///     prefix_variable_length: Some(3),
    ///     character_set: "CbA".into(),
    ///     constant_string: "a<b>&c".into(),
    ///     tld: "..COM.".into(),
    ///     ..Default::default()
    /// };
    /// assert_eq!(
    ///     config.service_document(),
    ///     r#"{"patternType":"prefix_variable","prefixVariableLength":3,"suffixVariableLength":0,"characterSet":"abc","constantString":"a\u003cb\u003e\u0026c","tld":".com"}"#
    /// );
    /// ```
    pub fn service_document(&self) -> String {
        let mut charset: Vec<char> = self.character_set.to_lowercase().chars().collect();
        charset.sort_unstable();
        let charset: String = charset.into_iter().collect();
        let tld = self.tld.trim_matches('.').to_lowercase();
        let tld = if tld.is_empty() {
            tld
        } else {
            format!(".{tld}")
        };
        let mut doc = String::with_capacity(160);
        doc.push_str("{\"patternType\":");
        go_json_string(&mut doc, &self.pattern_type.to_lowercase());
        let _ = write!(
            doc,
            ",\"prefixVariableLength\":{},\"suffixVariableLength\":{},\"characterSet\":",
            self.prefix_variable_length.unwrap_or(0),
            self.suffix_variable_length.unwrap_or(0)
        );
        go_json_string(&mut doc, &charset);
        doc.push_str(",\"constantString\":");
        go_json_string(&mut doc, &self.constant_string);
        doc.push_str(",\"tld\":");
        go_json_string(&mut doc, &tld);
        doc.push('}');
        doc
    }

    /// The campaign service's `config_hash` of this config: the lower-case
    /// hex SHA-256 of [`DomainflowConfig::service_document`].
    pub fn service_hash(&self) -> String {
        let digest = Sha256::digest(self.service_document().as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest.iter() {
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }
}

/// Appends `s` to `out` as a JSON string, escaped as Go's `json.Marshal`
/// escapes it (see [`DomainflowConfig::service_document`]). serde_json
/// writes `<`, `>`, `&` and U+2028/9 as they are, so it would hash
/// differently.
fn go_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
