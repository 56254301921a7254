//! RFC 3492 Punycode encoding that appends to a caller's buffer.
//!
//! The `idna` crate validates and maps words when a spec compiles; this
//! encoder runs per name, for labels that compose a Unicode word with other
//! pieces, so it must not allocate. Tests check it against `idna`'s encoder.

const BASE: u64 = 36;
const T_MIN: u64 = 1;
const T_MAX: u64 = 26;
const SKEW: u64 = 38;
const DAMP: u64 = 700;
const INITIAL_BIAS: u64 = 72;
const INITIAL_N: u32 = 128;

/// Appends the Punycode form of `label` (without the `xn--` prefix) to `out`.
pub(crate) fn encode(label: &str, out: &mut Vec<u8>) {
    let mut basic = 0u64;
    let mut total = 0u64;
    for c in label.chars() {
        total += 1;
        if c.is_ascii() {
            out.push(ascii_byte(c));
            basic += 1;
        }
    }
    if basic > 0 {
        out.push(b'-');
    }
    let mut n = INITIAL_N;
    let mut delta = 0u64;
    let mut bias = INITIAL_BIAS;
    let mut handled = basic;
    while handled < total {
        let m = label
            .chars()
            .map(u32::from)
            .filter(|&c| c >= n)
            .min()
            .unwrap_or(n);
        delta += u64::from(m - n) * (handled + 1);
        n = m;
        for c in label.chars().map(u32::from) {
            if c < n {
                delta += 1;
            } else if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta += 1;
        n += 1;
    }
}

fn ascii_byte(c: char) -> u8 {
    u8::try_from(c).unwrap_or(b'?')
}

fn digit(d: u64) -> u8 {
    // d < 36 by construction of the encoding.
    let d = u8::try_from(d).unwrap_or(0);
    if d < 26 { b'a' + d } else { b'0' + (d - 26) }
}

fn adapt(delta: u64, points: u64, first: bool) -> u64 {
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    fn ours(s: &str) -> String {
        let mut out = Vec::new();
        super::encode(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn known_values() {
        assert_eq!(ours("café"), "caf-dma");
        assert_eq!(ours("münchen"), "mnchen-3ya");
        assert_eq!(ours("日本"), "wgv71a");
    }

    proptest! {
        #[test]
        fn agrees_with_idna(s in "[a-z0-9\\-éüßж日本語ñ]{1,20}") {
            prop_assert_eq!(ours(&s), idna::punycode::encode_str(&s).unwrap());
        }
    }
}
