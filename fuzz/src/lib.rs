//! Checks shared by the fuzz targets: whatever a compiled [`Space`] renders
//! must be a valid hostname, and every way of reaching a name (by index, by
//! position, through a cursor) must agree.

use domgen_pattern::{MAX_NAME_LEN, Space};

/// Panics unless `name` is a valid hostname as the README's "What is refused" defines it:
/// ASCII, at most 253 octets, LDH labels of 1–63 octets without a hyphen at
/// either edge, and no `--` at positions 3–4 outside an A-label.
pub fn assert_valid(name: &str) {
    assert!(name.is_ascii(), "name {name:?} is not ASCII");
    assert!(
        name.len() <= MAX_NAME_LEN,
        "name {name:?} is {} octets, over {MAX_NAME_LEN}",
        name.len()
    );
    for label in name.split('.') {
        assert!(
            (1..=63).contains(&label.len()),
            "name {name:?}: label {label:?} is {} octets, not 1-63",
            label.len()
        );
        assert!(
            label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "name {name:?}: label {label:?} is not LDH"
        );
        assert!(
            !label.starts_with('-') && !label.ends_with('-'),
            "name {name:?}: label {label:?} has a hyphen at an edge"
        );
        assert!(
            label.get(2..4) != Some("--") || label.starts_with("xn--"),
            "name {name:?}: label {label:?} has `--` at positions 3-4 but is no A-label"
        );
    }
}

/// A few positions spread over `0..total`: both ends and some in between,
/// plus one picked by `salt`. Sorted, without repeats, all `< total`.
pub fn sample_positions(total: u64, salt: u64) -> Vec<u64> {
    if total == 0 {
        return Vec::new();
    }
    let last = total - 1;
    let mut out = vec![
        0,
        1,
        total / 3,
        total / 2,
        last - last / 3,
        last.saturating_sub(1),
        last,
        salt % total,
    ];
    out.retain(|&p| p < total);
    out.sort_unstable();
    out.dedup();
    out
}

/// Renders a handful of names of `space` every way the API offers and
/// checks each one with [`assert_valid`]; cursors must agree with
/// [`Space::name`] of [`Space::index_at`].
pub fn check_space(space: &Space, salt: u64) {
    let total = space.total();
    assert!(
        space.max_name_len() <= MAX_NAME_LEN,
        "max_name_len {} over {MAX_NAME_LEN}",
        space.max_name_len()
    );
    let selection = space.selection();
    assert!(
        selection.start <= selection.end && selection.end <= total,
        "selection {selection:?} outside 0..{total}"
    );

    // By index: first, last and a few in the middle.
    for index in sample_positions(total, salt) {
        let name = space.name(index);
        assert_valid(&name);
        assert!(
            name.len() <= space.max_name_len(),
            "name {name:?} longer than max_name_len {}",
            space.max_name_len()
        );
    }

    // By position of the order (a permutation when shuffled).
    for position in sample_positions(total, salt.rotate_left(17)) {
        let index = space.index_at(position);
        assert!(
            index < total,
            "index_at({position}) = {index}, total {total}"
        );
        assert_valid(&space.name(index));
    }

    // Cursors over short runs at the start, the middle, the end and the
    // spec's selection: one name at a time, then as lines.
    let mut starts = vec![0, total / 2, total.saturating_sub(5), selection.start];
    starts.sort_unstable();
    starts.dedup();
    for start in starts {
        let end = if start == selection.start {
            selection.end.min(start.saturating_add(5))
        } else {
            total.min(start + 5)
        };
        let mut cursor = space.cursor(start..end);
        let mut position = start;
        let mut out = Vec::new();
        while let Some(index) = cursor.write_next(&mut out) {
            assert_eq!(
                index,
                space.index_at(position),
                "cursor index at position {position}"
            );
            let name = std::str::from_utf8(&out).expect("cursor writes ASCII");
            assert_valid(name);
            assert_eq!(
                name,
                space.name(index),
                "cursor name at position {position}"
            );
            out.clear();
            position += 1;
        }
        assert_eq!(position, end, "cursor stopped early");

        let mut cursor = space.cursor(start..end);
        let written = cursor.write_lines(&mut out, u64::MAX, b'\n');
        assert_eq!(written, end - start, "write_lines count");
        let text = std::str::from_utf8(&out).expect("cursor writes ASCII");
        for (position, line) in (start..end).zip(text.split_terminator('\n')) {
            assert_valid(line);
            assert_eq!(
                line,
                space.name(space.index_at(position)),
                "write_lines name at position {position}"
            );
        }
    }
}

/// A cheap, stable hash of the fuzz input, to vary seeds and positions.
pub fn salt(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h: u64, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
