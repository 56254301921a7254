//! `domgen` against maskprocessor (`mp64`): the same mask must print the
//! same bytes (README, "Order"). The test fails, never skips, when `mp64` is missing.

use crate::util::{domgen, external};

/// Asserts that `domgen generate --pattern PATTERN` prints exactly what
/// `mp64 MASK…` prints (`mask` is mp64's arguments).
#[track_caller]
fn same_as_maskprocessor(pattern: &str, mask: &[&str]) {
    same_as_maskprocessor_with(&[], pattern, mask);
}

/// As [`same_as_maskprocessor`], with `extra` flags for `domgen`.
#[track_caller]
fn same_as_maskprocessor_with(extra: &[&str], pattern: &str, mask: &[&str]) {
    let mp = external(
        "mp64",
        mask,
        "install maskprocessor with `apt-get install maskprocessor` (it provides mp64)",
    );
    assert!(
        mp.status.success(),
        "mp64 {mask:?} failed: {}",
        String::from_utf8_lossy(&mp.stderr)
    );
    let mut args = vec!["generate", "--pattern", pattern, "--out", "-"];
    args.extend_from_slice(extra);
    let ours = domgen(&[], &args);
    let ours = ours.success().as_bytes();
    assert!(!mp.stdout.is_empty(), "mp64 {mask:?} printed nothing");
    if ours != mp.stdout.as_slice() {
        let first = ours
            .split(|&b| b == b'\n')
            .zip(mp.stdout.split(|&b| b == b'\n'))
            .position(|(a, b)| a != b);
        panic!(
            "`{pattern}` ({} bytes) differs from mp64 {mask:?} ({} bytes); first differing line: {first:?}",
            ours.len(),
            mp.stdout.len()
        );
    }
}

#[test]
fn maskprocessor_letters_and_digit() {
    same_as_maskprocessor("shop{alpha:2}{digit:1}.com", &["shop?l?l?d.com"]);
}

#[test]
fn maskprocessor_digits_then_letter() {
    same_as_maskprocessor("{digit:2}{alpha:1}.net", &["?d?d?l.net"]);
}

#[test]
fn maskprocessor_hex() {
    // maskprocessor 0.73 (Debian's) has no built-in ?h; its help defines
    // 0-9a-f as `-1 ?dabcdef`, which is our hex charset in the same order.
    same_as_maskprocessor("x{hex:2}.io", &["-1", "?dabcdef", "x?1?1.io"]);
}

#[test]
fn maskprocessor_larger_mask() {
    // 1,757,600 names.
    same_as_maskprocessor("{alpha:3}{digit:2}.com", &["?l?l?l?d?d.com"]);
}

#[test]
fn maskprocessor_custom_charset() {
    // mp64's -1 defines ?1 with its characters in the order written.
    same_as_maskprocessor_with(
        &["--charset", "c=zyx90"],
        "{c:2}w.org",
        &["-1", "zyx90", "?1?1w.org"],
    );
}
