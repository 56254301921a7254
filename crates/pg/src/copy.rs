//! The binary COPY encoder: names to `COPY … FROM STDIN (FORMAT binary)`
//! rows, written straight into a worker's batch buffer. No I/O, so it can
//! be fuzzed and benched alone.
//!
//! A batch is a complete COPY stream: the 19-byte header, one tuple per
//! name — `(campaign_id uuid, offset_index int8, domain_name text)`, then
//! the [`PieceFields`] asked for (keyword, pattern, TLD: `text`, the
//! keyword NULL for a pattern without one) — and the trailer. Each field
//! is its length (big-endian i32) and its bytes; the name's length is
//! reserved, the name rendered in place, and the length filled in. The
//! pieces are copied from the space's own strings ([`Space::pieces`]).

use std::ops::Range;

use domgen_engine::Encoder;
use domgen_pattern::Space;
use uuid::Uuid;

/// The signature, flags and header-extension length of a binary COPY stream.
pub const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The end-of-data marker: a field count of -1.
pub const TRAILER: &[u8; 2] = &[0xff, 0xff];

/// Bytes a row takes besides the name: field count, three lengths, the
/// uuid and the int8.
const ROW_OVERHEAD: usize = 2 + 4 + 16 + 4 + 8 + 4;

/// Positions a COPY stream can carry: `offset_index` is an `int8`, so an
/// exclusive end of at most 2^63.
pub const MAX_POSITIONS: u64 = 1 << 63;

/// Which pieces of its name ([`Space::pieces`]) a row carries after the
/// name, each a `text` field, in this order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PieceFields {
    /// The keyword of the pattern's first `{keyword}` (or the one its
    /// `{typo}` look-alike was made from), NULL without either.
    pub keyword: bool,
    /// The pattern's text as written in the spec.
    pub pattern: bool,
    /// The TLD, without its leading dot.
    pub tld: bool,
}

impl PieceFields {
    /// Whether no piece is written: rows of three fields.
    pub fn is_empty(&self) -> bool {
        !(self.keyword || self.pattern || self.tld)
    }

    fn count(&self) -> usize {
        usize::from(self.keyword) + usize::from(self.pattern) + usize::from(self.tld)
    }
}

/// Encodes batches as binary COPY rows of `generated_domains`.
///
/// `offset_index` is the name's *position* in the campaign's order (equal
/// to its index when the order is sequential), so positions are unique
/// per campaign and a resumed or sharded run can tell which are written.
#[derive(Clone, Copy, Debug)]
pub struct CopyRows {
    campaign_id: Uuid,
    pieces: PieceFields,
    /// The field count, big-endian.
    fields: [u8; 2],
    /// The most bytes the pieces of one row take, lengths included.
    pieces_max: usize,
}

impl CopyRows {
    /// Rows of three fields for `campaign_id`.
    pub fn new(campaign_id: Uuid) -> CopyRows {
        CopyRows {
            campaign_id,
            pieces: PieceFields::default(),
            fields: 3i16.to_be_bytes(),
            pieces_max: 0,
        }
    }

    /// Rows that also carry `pieces` of each name of `space`, the space
    /// this encoder will encode (its longest pieces size the rows).
    pub fn with_pieces(self, pieces: PieceFields, space: &Space) -> CopyRows {
        let (keyword, pattern, tld) = space.max_pieces_len();
        let count = i16::try_from(3 + pieces.count()).expect("at most six fields");
        CopyRows {
            pieces,
            fields: count.to_be_bytes(),
            pieces_max: 4 * pieces.count()
                + if pieces.keyword { keyword } else { 0 }
                + if pieces.pattern { pattern } else { 0 }
                + if pieces.tld { tld } else { 0 },
            ..self
        }
    }

    /// The pieces each row carries.
    pub fn pieces(&self) -> PieceFields {
        self.pieces
    }

    /// The fields every row starts with: the field count, `campaign_id`
    /// and `offset_index`.
    #[inline(always)]
    fn row_start(&self, fields: [u8; 2], position: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(&fields);
        out.extend_from_slice(&16i32.to_be_bytes());
        out.extend_from_slice(self.campaign_id.as_bytes());
        out.extend_from_slice(&8i32.to_be_bytes());
        let position = i64::try_from(position).expect("check_positions admits only int8");
        out.extend_from_slice(&position.to_be_bytes());
    }

    /// The rows of three fields: one branch per batch away from
    /// [`CopyRows::encode_with_pieces`], so rows without pieces pay nothing
    /// for them.
    fn encode_names(&self, space: &Space, positions: Range<u64>, out: &mut Vec<u8>) {
        let mut cursor = space.cursor(positions.clone());
        for position in positions {
            self.row_start(3i16.to_be_bytes(), position, out);
            let length_at = out.len();
            out.extend_from_slice(&[0; 4]);
            cursor.write_next(out);
            let length = i32::try_from(out.len() - length_at - 4).expect("names are short");
            out[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
        }
    }

    fn encode_with_pieces(&self, space: &Space, positions: Range<u64>, out: &mut Vec<u8>) {
        fn text(value: Option<&str>, out: &mut Vec<u8>) {
            match value {
                Some(value) => {
                    let length = i32::try_from(value.len()).expect("pieces are short");
                    out.extend_from_slice(&length.to_be_bytes());
                    out.extend_from_slice(value.as_bytes());
                }
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        let mut cursor = space.cursor(positions.clone());
        for position in positions {
            self.row_start(self.fields, position, out);
            let length_at = out.len();
            out.extend_from_slice(&[0; 4]);
            let (_, pieces) = cursor
                .write_next_with_pieces(out)
                .expect("the cursor covers the positions");
            let length = i32::try_from(out.len() - length_at - 4).expect("names are short");
            out[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
            if self.pieces.keyword {
                text(pieces.keyword, out);
            }
            if self.pieces.pattern {
                text(Some(pieces.pattern_text), out);
            }
            if self.pieces.tld {
                text(Some(pieces.tld), out);
            }
        }
    }
}

impl Encoder for CopyRows {
    fn max_bytes_per_name(&self, max_name_len: usize) -> usize {
        ROW_OVERHEAD + max_name_len + self.pieces_max
    }

    fn batch_overhead(&self) -> usize {
        HEADER.len() + TRAILER.len()
    }

    /// `offset_index` is an `int8`: positions from 2^63 on cannot be
    /// stored.
    fn check_positions(&self, positions: &Range<u64>) -> Result<(), String> {
        if positions.end > MAX_POSITIONS {
            return Err(format!(
                "positions up to {} do not fit PostgreSQL's bigint offset_index (at most {MAX_POSITIONS} positions); select fewer with `offset`/`limit`",
                positions.end
            ));
        }
        Ok(())
    }

    fn encode(&self, space: &Space, positions: Range<u64>, out: &mut Vec<u8>) {
        out.extend_from_slice(HEADER);
        if self.pieces.is_empty() {
            self.encode_names(space, positions, out);
        } else {
            self.encode_with_pieces(space, positions, out);
        }
        out.extend_from_slice(TRAILER);
    }
}

/// A row as [`decode_rows`] reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedRow {
    /// `campaign_id`.
    pub campaign_id: Uuid,
    /// `offset_index`.
    pub position: i64,
    /// `domain_name`.
    pub name: String,
    /// The text fields after the name, NULL as `None`.
    pub pieces: Vec<Option<String>>,
}

/// Decodes a binary COPY stream of `(uuid, int8, text)` rows: for tests and
/// fuzzing the encoder. Returns `None` on any malformed input, or on rows
/// with other fields.
pub fn decode(bytes: &[u8]) -> Option<Vec<(Uuid, i64, String)>> {
    decode_rows(bytes)?
        .into_iter()
        .map(|row| {
            row.pieces
                .is_empty()
                .then_some((row.campaign_id, row.position, row.name))
        })
        .collect()
}

/// Decodes a binary COPY stream of `(uuid, int8, text, text…)` rows, as
/// [`CopyRows`] writes them with or without pieces. Returns `None` on any
/// malformed input.
pub fn decode_rows(mut bytes: &[u8]) -> Option<Vec<DecodedRow>> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, tail) = bytes.split_at_checked(n)?;
        *bytes = tail;
        Some(head)
    }
    fn field<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = i32::from_be_bytes(take(bytes, 4)?.try_into().ok()?);
        take(bytes, usize::try_from(len).ok()?)
    }
    fn text(bytes: &mut &[u8]) -> Option<Option<String>> {
        let len = i32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
        if len == -1 {
            *bytes = &bytes[4..];
            return Some(None);
        }
        Some(Some(String::from_utf8(field(bytes)?.to_vec()).ok()?))
    }
    if take(&mut bytes, HEADER.len())? != HEADER {
        return None;
    }
    let mut rows = Vec::new();
    loop {
        let count = i16::from_be_bytes(take(&mut bytes, 2)?.try_into().ok()?);
        match count {
            -1 => return bytes.is_empty().then_some(rows),
            3..=6 => {
                let campaign_id = Uuid::from_slice(field(&mut bytes)?).ok()?;
                let position = i64::from_be_bytes(field(&mut bytes)?.try_into().ok()?);
                let name = String::from_utf8(field(&mut bytes)?.to_vec()).ok()?;
                let pieces = (3..count)
                    .map(|_| text(&mut bytes))
                    .collect::<Option<Vec<_>>>()?;
                rows.push(DecodedRow {
                    campaign_id,
                    position,
                    name,
                    pieces,
                });
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domgen_pattern::{Order, Spec, WordList};

    #[test]
    fn rows_round_trip_in_both_orders() {
        for order in [Order::Sequential, Order::Shuffled] {
            let space = Space::compile(&Spec {
                keywords: WordList::inline(["shop", "café"]),
                patterns: vec!["{keyword}{digit:1-2}.com".into()],
                order,
                ..Spec::default()
            })
            .unwrap();
            let id = Uuid::from_u128(0x1234);
            let mut out = Vec::new();
            CopyRows::new(id).encode(&space, 3..150, &mut out);
            let rows = decode(&out).unwrap();
            assert_eq!(rows.len(), 147);
            for (i, (row_id, position, name)) in rows.into_iter().enumerate() {
                let expected = 3 + u64::try_from(i).unwrap();
                assert_eq!(row_id, id);
                assert_eq!(position, i64::try_from(expected).unwrap());
                assert_eq!(name, space.name(space.index_at(expected)));
            }
            let max = CopyRows::new(id).max_bytes_per_name(space.max_name_len());
            assert!(out.len() <= 147 * max + CopyRows::new(id).batch_overhead());
        }
    }

    #[test]
    fn pieces_round_trip_in_both_orders() {
        for order in [Order::Sequential, Order::Shuffled] {
            let space = Space::compile(&Spec {
                keywords: WordList::inline(["shop", "café"]),
                tlds: WordList::inline(["com", "co.uk"]),
                patterns: vec!["{keyword}{digit:1}.{tld}".into(), "x{alpha:1}.io".into()],
                order,
                ..Spec::default()
            })
            .unwrap();
            let every = PieceFields {
                keyword: true,
                pattern: true,
                tld: true,
            };
            let only_tld = PieceFields {
                tld: true,
                ..PieceFields::default()
            };
            for fields in [every, only_tld] {
                let encoder = CopyRows::new(Uuid::nil()).with_pieces(fields, &space);
                let mut out = Vec::new();
                encoder.encode(&space, 0..space.total(), &mut out);
                let rows = decode_rows(&out).unwrap();
                assert_eq!(rows.len(), 66);
                for (position, row) in (0..).zip(rows) {
                    let index = space.index_at(position);
                    let pieces = space.pieces(index);
                    assert_eq!(row.name, space.name(index));
                    let mut expected = Vec::new();
                    if fields.keyword {
                        expected.push(pieces.keyword.map(str::to_owned));
                    }
                    if fields.pattern {
                        expected.push(Some(pieces.pattern_text.to_owned()));
                    }
                    expected.push(Some(pieces.tld.to_owned()));
                    assert_eq!(row.pieces, expected, "position {position}");
                }
                let max = encoder.max_bytes_per_name(space.max_name_len());
                assert!(out.len() <= 66 * max + encoder.batch_overhead());
            }
        }
    }

    /// The copy fuzz target's first crash (crash-dd61c0f8…): a space whose
    /// positions pass 2^63 reached `encode` and panicked on the `int8`.
    /// Such positions are now refused before a run, with a message.
    #[test]
    fn positions_past_int8_are_refused_before_encoding() {
        let space = Space::compile(&Spec {
            patterns: vec!["{number:0-18446744073709551614}.com".into()],
            ..Spec::default()
        })
        .unwrap();
        assert_eq!(space.total(), u64::MAX);
        let encoder = CopyRows::new(Uuid::nil());
        assert!(encoder.check_positions(&(0..MAX_POSITIONS)).is_ok());
        let refused = encoder
            .check_positions(&(MAX_POSITIONS - 3..MAX_POSITIONS + 1))
            .unwrap_err();
        assert!(refused.contains("9223372036854775809"), "{refused}");
        assert!(refused.contains("`offset`/`limit`"), "{refused}");

        let generator = domgen_engine::GeneratorBuilder::new()
            .threads(1)
            .build()
            .unwrap();
        let mut sink = domgen_engine::NullSink::default();
        let err = generator
            .run(
                &space,
                &encoder,
                &mut sink,
                domgen_engine::RunOptions::new(0..space.total()),
            )
            .unwrap_err();
        assert_eq!(err.kind(), domgen_engine::ErrorKind::Positions);
        assert!(generator.check(&space, &encoder).is_err());

        // The last positions an int8 holds encode and decode exactly.
        let mut out = Vec::new();
        encoder.encode(&space, MAX_POSITIONS - 2..MAX_POSITIONS, &mut out);
        let rows = decode(&out).unwrap();
        assert_eq!(rows[1].1, i64::MAX);
        assert_eq!(rows[1].2, space.name(space.index_at(MAX_POSITIONS - 1)));
    }

    #[test]
    fn an_empty_batch_is_a_valid_stream() {
        let space = Space::compile(&Spec {
            patterns: vec!["a.com".into()],
            ..Spec::default()
        })
        .unwrap();
        let mut out = Vec::new();
        CopyRows::new(Uuid::nil()).encode(&space, 0..0, &mut out);
        assert_eq!(decode(&out), Some(vec![]));
        assert_eq!(out.len(), 21);
    }
}
