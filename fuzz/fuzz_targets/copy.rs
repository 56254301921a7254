//! The binary COPY encoder: for a fuzzed pattern and position range, the
//! stream decodes back to exactly the space's names at those positions,
//! with the campaign id and each position, and stays within the size the
//! engine plans for.

#![no_main]

use domgen_engine::Encoder;
use domgen_fuzz::salt;
use domgen_pattern::{Order, Space, Spec, WordList};
use domgen_pg::copy::{CopyRows, decode};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let Ok(pattern) = std::str::from_utf8(data) else {
        return;
    };
    let salt = salt(data);
    let spec = Spec {
        keywords: WordList::inline(["shop", "café", "x1"]),
        tlds: WordList::inline(["com", "co.uk"]),
        patterns: vec![pattern.to_owned()],
        order: if salt % 2 == 0 { Order::Sequential } else { Order::Shuffled },
        seed: salt,
        ..Spec::default()
    };
    let Ok(space) = Space::compile(&spec) else {
        return;
    };
    let total = space.total();
    let start = salt % total.max(1);
    let end = total.min(start + 1 + (salt >> 32) % 64);
    let id = Uuid::from_u128(u128::from(salt));
    let encoder = CopyRows::new(id);
    if let Err(message) = encoder.check_positions(&(start..end)) {
        // Refused before any run: only positions past int8's range.
        assert!(end > domgen_pg::copy::MAX_POSITIONS, "{message}");
        return;
    }
    let mut out = Vec::new();
    encoder.encode(&space, start..end, &mut out);
    let names = usize::try_from(end - start).unwrap();
    assert!(out.len() <= names * encoder.max_bytes_per_name(space.max_name_len()) + encoder.batch_overhead());
    let rows = decode(&out).expect("the encoder writes a valid stream");
    assert_eq!(rows.len(), names);
    for (row, position) in rows.into_iter().zip(start..end) {
        assert_eq!(row.0, id);
        assert_eq!(row.1, i64::try_from(position).unwrap());
        assert_eq!(row.2, space.name(space.index_at(position)));
    }
});
