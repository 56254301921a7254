//! `domgen report`'s picture of a run: live heap and RSS over time, the
//! memory state as bands behind them, leaks as marks. The SVG is written
//! by hand (a few hundred bytes of markup need no plotting library); the
//! PNG rasterises the same series.

use std::fmt::Write as _;

use crate::Failure;
use crate::monitor_cmd::{LeakRow, Row};

const W: f64 = 900.0;
const H: f64 = 420.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

fn state_colour(state: Option<&str>) -> &'static str {
    match state {
        Some("critical") => "#f4b6b6",
        Some("warning") => "#f9d9a8",
        Some("elevated") => "#fbf0b8",
        Some("normal") => "#dff0d8",
        _ => "#eeeeee",
    }
}

#[allow(clippy::cast_precision_loss, reason = "figures to draw")]
fn mib(bytes: i64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20)
}

/// The scales: seconds and MiB to pixels.
struct Scale {
    t_max: f64,
    y_max: f64,
}

impl Scale {
    fn new(samples: &[Row]) -> Scale {
        let t_max = samples.iter().map(|s| s.secs).fold(0.0, f64::max).max(1.0);
        let y_max = samples
            .iter()
            .flat_map(|s| [Some(s.heap_used_bytes), s.rss_bytes])
            .flatten()
            .map(mib)
            .fold(0.0, f64::max)
            .max(1.0)
            * 1.1;
        Scale { t_max, y_max }
    }
    fn x(&self, secs: f64) -> f64 {
        LEFT + secs / self.t_max * (W - LEFT - RIGHT)
    }
    fn y(&self, mib: f64) -> f64 {
        H - BOTTOM - mib / self.y_max * (H - TOP - BOTTOM)
    }
}

/// The picture as SVG: one `<path>` per series (ids `live-heap` and `rss`),
/// `<rect class="state …">` bands, `<g id="leaks">` marks.
pub fn svg(run: uuid::Uuid, samples: &[Row], leaks: &[LeakRow]) -> Result<String, Failure> {
    let sc = Scale::new(samples);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="DejaVu Sans, sans-serif" font-size="12">"#
    );
    let _ = write!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(
        s,
        r#"<text x="{}" y="22" font-size="15">domgen run {run}: memory over time</text>"#,
        LEFT
    );
    // State bands: each sample's state until the next sample.
    s.push_str(r#"<g id="states">"#);
    for (i, row) in samples.iter().enumerate() {
        let x0 = sc.x(row.secs);
        let x1 = samples.get(i + 1).map_or(sc.x(sc.t_max), |n| sc.x(n.secs));
        let state = row.memory_state.as_deref().unwrap_or("unknown");
        let _ = write!(
            s,
            r#"<rect class="state {state}" x="{x0:.1}" y="{TOP}" width="{:.1}" height="{}" fill="{}"/>"#,
            (x1 - x0).max(0.5),
            H - TOP - BOTTOM,
            state_colour(Some(state))
        );
    }
    s.push_str("</g>");
    // Axes, ticks and labels.
    let _ = write!(
        s,
        r#"<path d="M{LEFT} {TOP}V{}H{}" stroke="black" fill="none"/>"#,
        H - BOTTOM,
        W - RIGHT
    );
    for k in 0..=4 {
        let v = sc.y_max * f64::from(k) / 4.0;
        let t = sc.t_max * f64::from(k) / 4.0;
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{v:.1} MiB</text><text x="{:.1}" y="{}" text-anchor="middle">{t:.0} s</text>"#,
            LEFT - 6.0,
            sc.y(v) + 4.0,
            sc.x(t),
            H - BOTTOM + 18.0
        );
    }
    let series = |get: &dyn Fn(&Row) -> Option<i64>| -> String {
        let mut d = String::new();
        for row in samples {
            if let Some(v) = get(row) {
                let cmd = if d.is_empty() { 'M' } else { 'L' };
                let _ = write!(d, "{cmd}{:.1} {:.1}", sc.x(row.secs), sc.y(mib(v)));
            }
        }
        d
    };
    let _ = write!(
        s,
        r##"<path id="rss" class="series" d="{}" stroke="#1f77b4" stroke-width="2" fill="none"/>"##,
        series(&|r| r.rss_bytes)
    );
    let _ = write!(
        s,
        r##"<path id="live-heap" class="series" d="{}" stroke="#d62728" stroke-width="2" fill="none"/>"##,
        series(&|r| Some(r.heap_used_bytes))
    );
    s.push_str(r#"<g id="leaks">"#);
    for leak in leaks {
        let x = sc.x(leak.secs.clamp(0.0, sc.t_max));
        let _ = write!(
            s,
            r##"<g class="leak {}"><line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="#7b1fa2" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" fill="#7b1fa2">{}</text></g>"##,
            leak.leak_type,
            H - BOTTOM,
            x + 3.0,
            TOP + 12.0,
            leak.leak_type
        );
    }
    s.push_str("</g>");
    // Legend.
    let _ = write!(
        s,
        r##"<g id="legend"><line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#d62728" stroke-width="2"/><text x="{3}" y="{4}">live heap</text><line x1="{5}" y1="{1}" x2="{6}" y2="{1}" stroke="#1f77b4" stroke-width="2"/><text x="{7}" y="{4}">RSS</text><text x="{8}" y="{4}">background: memory state (green normal, yellow elevated, orange warning, red critical)</text></g>"##,
        LEFT,
        H - 12.0,
        LEFT + 20.0,
        LEFT + 24.0,
        H - 8.0,
        LEFT + 100.0,
        LEFT + 120.0,
        LEFT + 124.0,
        LEFT + 170.0
    );
    s.push_str("</svg>\n");
    Ok(s)
}

/// The picture as PNG: the same bands, series and marks, without text.
pub fn png(_run: uuid::Uuid, samples: &[Row], leaks: &[LeakRow]) -> Result<Vec<u8>, Failure> {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "constants"
    )]
    let (w, h) = (W as u32, H as u32);
    let mut img = vec![255u8; usize::try_from(w * h * 3).unwrap_or(0)];
    let sc = Scale::new(samples);
    let put = |x: f64, y: f64, rgb: [u8; 3], img: &mut Vec<u8>| {
        if x >= 0.0 && y >= 0.0 && x < W && y < H {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "checked in range"
            )]
            let i = (y as usize * w as usize + x as usize) * 3;
            img[i..i + 3].copy_from_slice(&rgb);
        }
    };
    let hex = |c: &str| -> [u8; 3] {
        let n = u32::from_str_radix(c.trim_start_matches('#'), 16).unwrap_or(0);
        let [_, r, g, b] = n.to_be_bytes();
        [r, g, b]
    };
    for (i, row) in samples.iter().enumerate() {
        let x0 = sc.x(row.secs);
        let x1 = samples.get(i + 1).map_or(sc.x(sc.t_max), |n| sc.x(n.secs));
        let colour = hex(state_colour(row.memory_state.as_deref()));
        let mut x = x0;
        while x <= x1.max(x0 + 1.0) {
            let mut y = TOP;
            while y < H - BOTTOM {
                put(x, y, colour, &mut img);
                y += 1.0;
            }
            x += 1.0;
        }
    }
    let line = |a: (f64, f64), b: (f64, f64), rgb: [u8; 3], img: &mut Vec<u8>| {
        let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).max(1.0);
        let mut k = 0.0;
        while k <= steps {
            let (x, y) = (a.0 + (b.0 - a.0) * k / steps, a.1 + (b.1 - a.1) * k / steps);
            for (dx, dy) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)] {
                put(x + dx, y + dy, rgb, img);
            }
            k += 1.0;
        }
    };
    line((LEFT, TOP), (LEFT, H - BOTTOM), [0, 0, 0], &mut img);
    line(
        (LEFT, H - BOTTOM),
        (W - RIGHT, H - BOTTOM),
        [0, 0, 0],
        &mut img,
    );
    for leak in leaks {
        let x = sc.x(leak.secs.clamp(0.0, sc.t_max));
        line((x, TOP), (x, H - BOTTOM), hex("#7b1fa2"), &mut img);
    }
    let get_rss = |r: &Row| r.rss_bytes;
    let get_heap = |r: &Row| Some(r.heap_used_bytes);
    for (get, colour) in [
        (&get_rss as &dyn Fn(&Row) -> Option<i64>, "#1f77b4"),
        (&get_heap, "#d62728"),
    ] {
        let points: Vec<(f64, f64)> = samples
            .iter()
            .filter_map(|r| Some((sc.x(r.secs), sc.y(mib(get(r)?)))))
            .collect();
        for pair in points.windows(2) {
            line(pair[0], pair[1], hex(colour), &mut img);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| Failure::Run(anyhow::anyhow!("cannot encode the PNG: {e}")))?;
        writer
            .write_image_data(&img)
            .map_err(|e| Failure::Run(anyhow::anyhow!("cannot encode the PNG: {e}")))?;
    }
    Ok(out)
}
