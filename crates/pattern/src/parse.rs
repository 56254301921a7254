//! The pattern parser: text to pieces, with character spans for errors.

use crate::error::{Error, ErrorKind, pattern_error};
use crate::typo::TypoAlgorithm;

/// The longest a label may be, and so the longest a charset piece may be.
pub(crate) const MAX_LABEL: usize = 63;

/// One piece of a pattern and the characters `[start, end)` it was written in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub kind: PieceKind,
    pub span: (usize, usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PieceKind {
    /// Literal text, lowercased.
    Literal(String),
    Keyword,
    Tld,
    List(String),
    /// `{CS:N}`, `{CS:M-N}` and `{random:N}` (= `{alnum:N}`).
    Chars {
        charset: String,
        min: usize,
        max: usize,
    },
    /// `{typo}` (the spec's algorithms: `None`) or `{typo:ALGO,ALGO}`:
    /// each keyword's look-alikes.
    Typo(Option<Vec<TypoAlgorithm>>),
    /// `{number:A-B}`; `width` > 0 pads with zeros.
    Number {
        lo: u64,
        hi: u64,
        width: usize,
    },
}

const PIECES_HELP: &str = "pieces are {keyword}, {tld}, {typo}, {typo:ALGO,...}, {list:NAME}, {CHARSET:N}, {CHARSET:M-N}, {random}, {random:N} and {number:A-B}; literal text may hold a-z, 0-9, '.' and '-'";

/// Parses pattern `number` (1-based, for messages).
pub(crate) fn parse(number: usize, pattern: &str) -> Result<Vec<Piece>, Error> {
    let chars: Vec<char> = pattern.chars().collect();
    let fail = |span: (usize, usize), what: &str, help: &str| {
        pattern_error(ErrorKind::PatternSyntax, number, pattern, span, what, help)
    };
    if chars.is_empty() {
        return Err(Error::new(
            ErrorKind::PatternSyntax,
            format!("pattern {number} is empty: write a pattern such as {{keyword}}.{{tld}}"),
        ));
    }
    let mut pieces = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            let Some(len) = chars[i + 1..].iter().position(|&c| c == '}') else {
                return Err(fail(
                    (i, chars.len()),
                    "`{` is never closed",
                    "close the piece with `}`",
                ));
            };
            let end = i + 1 + len;
            let body: String = chars[i + 1..end].iter().collect();
            let span = (i, end + 1);
            if body.contains('{') {
                return Err(fail(
                    span,
                    "a piece cannot contain `{`",
                    "close the piece with `}` before opening another",
                ));
            }
            let kind = parse_piece(&body).map_err(|(what, help)| fail(span, &what, help))?;
            pieces.push(Piece { kind, span });
            i = end + 1;
        } else if c == '}' {
            return Err(fail((i, i + 1), "`}` without a matching `{`", PIECES_HELP));
        } else {
            let start = i;
            let mut text = String::new();
            while i < chars.len() && chars[i] != '{' && chars[i] != '}' {
                let c = chars[i];
                if !(c.is_ascii_alphanumeric() || c == '.' || c == '-') {
                    let shown = if c.is_whitespace() {
                        format!("{c:?}")
                    } else {
                        format!("`{c}`")
                    };
                    return Err(fail(
                        (i, i + 1),
                        &format!("character {shown} is not allowed in literal text"),
                        "literal text may hold a-z, 0-9, '.' and '-'; put Unicode words in keywords or lists, which are converted to A-labels",
                    ));
                }
                text.push(c.to_ascii_lowercase());
                i += 1;
            }
            pieces.push(Piece {
                kind: PieceKind::Literal(text),
                span: (start, i),
            });
        }
    }
    Ok(pieces)
}

type PieceError = (String, &'static str);

const TYPO_HELP: &str =
    "write {typo} for the spec's typo algorithms, or name some, e.g. {typo:omission,homoglyph}";

fn parse_piece(body: &str) -> Result<PieceKind, PieceError> {
    let (name, arg) = match body.split_once(':') {
        Some((name, arg)) => (name, Some(arg)),
        None => (body, None),
    };
    if name.is_empty() {
        return Err(("empty piece name".into(), PIECES_HELP));
    }
    match (name, arg) {
        ("keyword", None) => Ok(PieceKind::Keyword),
        ("tld", None) => Ok(PieceKind::Tld),
        ("keyword" | "tld", Some(_)) => Err((
            format!("`{{{name}}}` takes no argument"),
            "write it as {keyword} or {tld}",
        )),
        ("typo", None) => Ok(PieceKind::Typo(None)),
        ("typo", Some(names)) => {
            let mut algorithms = Vec::new();
            for name in names.split(',') {
                let algorithm = TypoAlgorithm::parse(name).map_err(|why| (why, TYPO_HELP))?;
                algorithms.push(algorithm);
            }
            Ok(PieceKind::Typo(Some(algorithms)))
        }
        ("list", Some(list)) if is_name(list) => Ok(PieceKind::List(list.to_owned())),
        ("list", _) => Err((
            "`{list:NAME}` needs a list name (letters, digits, `_`)".into(),
            "define the list in the spec's [lists]",
        )),
        ("random", None) => Ok(PieceKind::Chars {
            charset: "alnum".into(),
            min: 4,
            max: 4,
        }),
        ("number", Some(range)) => parse_number(range),
        ("number", None) => Err((
            "`{number}` needs a range".into(),
            "write {number:A-B}, e.g. {number:1-99} or {number:01-12} for zero-padding",
        )),
        (charset, Some(lengths)) if is_name(charset) => {
            let (min, max) = parse_lengths(lengths)?;
            let charset = if charset == "random" {
                "alnum"
            } else {
                charset
            };
            Ok(PieceKind::Chars {
                charset: charset.to_owned(),
                min,
                max,
            })
        }
        (other, None) if is_name(other) => {
            Err((format!("unknown piece `{{{other}}}`"), PIECES_HELP))
        }
        _ => Err((format!("cannot read piece `{{{body}}}`"), PIECES_HELP)),
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_lengths(text: &str) -> Result<(usize, usize), PieceError> {
    const HELP: &str = "a charset piece takes a length N or a range M-N with 1 <= M <= N <= 63";
    let length = |s: &str| -> Result<usize, PieceError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err((format!("`{s}` is not a length"), HELP));
        }
        match s.parse::<usize>() {
            Ok(0) => Err(("a length must be at least 1".into(), HELP)),
            Ok(n) if n <= MAX_LABEL => Ok(n),
            _ => Err((
                format!("length {s} is longer than a label can be (63 octets)"),
                HELP,
            )),
        }
    };
    let (min, max) = match text.split_once('-') {
        Some((a, b)) => (length(a)?, length(b)?),
        None => {
            let n = length(text)?;
            (n, n)
        }
    };
    if min > max {
        return Err((format!("range {min}-{max} runs backwards"), HELP));
    }
    Ok((min, max))
}

fn parse_number(range: &str) -> Result<PieceKind, PieceError> {
    const HELP: &str = "write {number:A-B} with 0 <= A <= B, e.g. {number:1-99}; a leading zero in A ({number:01-12}) pads to B's width";
    let Some((a, b)) = range.split_once('-') else {
        return Err((format!("`{range}` is not a range A-B"), HELP));
    };
    let value = |s: &str| -> Result<u64, PieceError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err((format!("`{s}` is not a number"), HELP));
        }
        s.parse::<u64>().map_err(|_| {
            (
                format!("{s} is too large (the limit is {})", u64::MAX),
                HELP,
            )
        })
    };
    let (lo, hi) = (value(a)?, value(b)?);
    if lo > hi {
        return Err((format!("range {lo}-{hi} runs backwards"), HELP));
    }
    if hi - lo == u64::MAX {
        return Err((
            format!("range {lo}-{hi} holds 2^64 numbers, more than a space can index"),
            HELP,
        ));
    }
    let width = if a.len() > 1 && a.starts_with('0') {
        b.len()
    } else {
        0
    };
    if width > MAX_LABEL {
        return Err((format!("width {width} is longer than a label can be"), HELP));
    }
    Ok(PieceKind::Number { lo, hi, width })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces() {
        let p = parse(1, "Shop{keyword}-{random:3}{alpha:1-2}{number:01-12}.{tld}").unwrap();
        let kinds: Vec<_> = p.into_iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            vec![
                PieceKind::Literal("shop".into()),
                PieceKind::Keyword,
                PieceKind::Literal("-".into()),
                PieceKind::Chars {
                    charset: "alnum".into(),
                    min: 3,
                    max: 3
                },
                PieceKind::Chars {
                    charset: "alpha".into(),
                    min: 1,
                    max: 2
                },
                PieceKind::Number {
                    lo: 1,
                    hi: 12,
                    width: 2
                },
                PieceKind::Literal(".".into()),
                PieceKind::Tld,
            ]
        );
    }

    #[test]
    fn caret_points_at_the_piece() {
        let e = parse(2, "{keyword}-{rnadom}.{tld}").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("pattern 2"), "{text}");
        assert!(text.contains("\n              ^^^^^^^^\n"), "{text}");
    }
}
