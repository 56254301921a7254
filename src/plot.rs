//! `domgen report`'s picture of a run: live heap and RSS over time as
//! lines, the memory state as coloured bands behind them, leaks as marked
//! vertical lines, with axes, a caption and a legend. Drawn with
//! `plotters`, once for its SVG backend and once for its bitmap backend
//! (encoded as PNG with the `png` crate).
//!
//! Text is measured (and, in the PNG, rasterised) with a font read from
//! the system at run time: DejaVu Sans, see [`FONT_PATHS`].

use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use domgen::pg::read::{LeakReport, Sample};

use crate::failure::Failure;

/// The picture's size in pixels.
const W: u32 = 900;
const H: u32 = 420;

/// Where the font is looked for, first found wins; the first is Debian's
/// (package `fonts-dejavu-core`).
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
];

/// Series colours. The tests find the series in the SVG by these strokes.
pub const HEAP_COLOUR: RGBColor = RGBColor(0xd6, 0x27, 0x28);
/// RSS's line.
pub const RSS_COLOUR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const LEAK_COLOUR: RGBColor = RGBColor(0x7b, 0x1f, 0xa2);

/// The memory states, in order of severity, with their band colours.
pub const STATES: [(&str, RGBColor); 4] = [
    ("normal", RGBColor(0xdf, 0xf0, 0xd8)),
    ("elevated", RGBColor(0xfb, 0xf0, 0xb8)),
    ("warning", RGBColor(0xf9, 0xd9, 0xa8)),
    ("critical", RGBColor(0xf4, 0xb6, 0xb6)),
];
const UNKNOWN_COLOUR: RGBColor = RGBColor(0xee, 0xee, 0xee);

fn state_colour(state: Option<&str>) -> RGBColor {
    STATES
        .iter()
        .find(|(name, _)| Some(*name) == state)
        .map_or(UNKNOWN_COLOUR, |(_, c)| *c)
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20)
}

/// Registers the system's DejaVu Sans as plotters' `sans-serif`, once per
/// process; plotters needs it to measure text even for the SVG.
fn font() -> Result<(), Failure> {
    static FONT: OnceLock<Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let Some((path, bytes)) = FONT_PATHS
            .iter()
            .find_map(|p| std::fs::read(p).ok().map(|b| (*p, b)))
        else {
            return Err(format!(
                "cannot draw the picture's text: no font at {} (install DejaVu Sans: \
                 `apt-get install fonts-dejavu-core`), or use --format json|csv",
                FONT_PATHS[0]
            ));
        };
        // plotters keeps fonts for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("cannot draw the picture's text: {path} is not a usable font"))
    })
    .clone()
    .map_err(|e| Failure::Run(anyhow::anyhow!(e)))
}

/// The legend, in its own panel: the series, the leak mark and the states.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    leaks: usize,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let text = |s: String, y: i32| {
        Text::new(
            s,
            (36, y),
            TextStyle::from(("sans-serif", 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
        )
    };
    let mut y = 50;
    for (name, colour) in [("live heap", HEAP_COLOUR), ("RSS", RSS_COLOUR)] {
        area.draw(&PathElement::new([(8, y), (30, y)], colour.stroke_width(2)))?;
        area.draw(&text(name.to_owned(), y))?;
        y += 20;
    }
    area.draw(&DashedPathElement::new(
        [(19, y - 8), (19, y + 8)],
        4,
        2,
        LEAK_COLOUR.stroke_width(1),
    ))?;
    area.draw(&text(format!("leak ({leaks} reported)"), y))?;
    y += 30;
    area.draw(&Text::new(
        "memory state:",
        (8, y),
        TextStyle::from(("sans-serif", 12).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;
    y += 20;
    for (name, colour) in STATES {
        area.draw(&Rectangle::new([(8, y - 6), (30, y + 6)], colour.filled()))?;
        area.draw(&text(name.to_owned(), y))?;
        y += 20;
    }
    Ok(())
}

/// Draws the picture on `root`.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    run: uuid::Uuid,
    samples: &[Sample],
    leaks: &[LeakReport],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let t_max = samples.iter().map(|s| s.secs).fold(0.0, f64::max).max(1.0);
    let y_max = samples
        .iter()
        .flat_map(|s| [Some(s.heap_used_bytes), s.rss_bytes])
        .flatten()
        .map(mib)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;

    // A sliver past the last sample, so its state shows as a band too.
    let x_end = t_max * 1.01;
    let x_decimals = if t_max < 10.0 { 1 } else { 0 };
    root.fill(&WHITE).map_err(e)?;
    // The legend gets a panel right of the chart, so it never hides a line.
    let (chart_area, legend_area) = root.split_horizontally(W - 170);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(
            format!("domgen run {run}: memory over time"),
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_end, 0.0..y_max)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("time since the first sample (s)")
        .y_desc("memory (MiB)")
        .x_label_formatter(&|v| format!("{v:.x_decimals$}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;

    // State bands: runs of equal state, each until the next sample.
    let mut bands: Vec<(f64, f64, RGBColor)> = Vec::new();
    for (i, row) in samples.iter().enumerate() {
        let end = samples.get(i + 1).map_or(x_end, |n| n.secs);
        let colour = state_colour(row.memory_state.as_deref());
        match bands.last_mut() {
            Some(last) if last.2 == colour => last.1 = end,
            _ => bands.push((row.secs, end, colour)),
        }
    }
    chart
        .draw_series(
            bands
                .iter()
                .map(|&(x0, x1, c)| Rectangle::new([(x0, 0.0), (x1, y_max)], c.filled())),
        )
        .map_err(e)?;

    chart
        .draw_series(LineSeries::new(
            samples
                .iter()
                .filter_map(|r| Some((r.secs, mib(r.rss_bytes?)))),
            RSS_COLOUR.stroke_width(2),
        ))
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(
            samples.iter().map(|r| (r.secs, mib(r.heap_used_bytes))),
            HEAP_COLOUR.stroke_width(2),
        ))
        .map_err(e)?;

    // Leaks: a dashed vertical line each, labelled with the rule at its top.
    chart
        .draw_series(leaks.iter().map(|l| {
            let x = l.secs.clamp(0.0, t_max);
            DashedPathElement::new([(x, 0.0), (x, y_max)], 5, 3, LEAK_COLOUR.stroke_width(1))
        }))
        .map_err(e)?;
    chart
        .draw_series(leaks.iter().map(|l| {
            Text::new(
                format!(" {}", l.leak_type),
                (l.secs.clamp(0.0, t_max), y_max * 0.97),
                ("sans-serif", 11).into_font().color(&LEAK_COLOUR),
            )
        }))
        .map_err(e)?;

    legend(&legend_area, leaks.len()).map_err(e)?;
    root.present().map_err(e)
}

/// The picture as SVG (plotters' SVG backend): one `<polyline>` per series
/// (stroke [`HEAP_COLOUR`], [`RSS_COLOUR`]), `<rect>` bands filled with
/// [`STATES`]' colours, legend texts "live heap" and "RSS".
pub fn svg(run: uuid::Uuid, samples: &[Sample], leaks: &[LeakReport]) -> Result<String, Failure> {
    font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        draw(&root, run, samples, leaks)
            .map_err(|e| Failure::Run(anyhow::anyhow!("cannot draw the SVG: {e}")))?;
    }
    out.push('\n');
    Ok(out)
}

/// The picture as PNG: the same drawing on plotters' bitmap backend.
pub fn png(run: uuid::Uuid, samples: &[Sample], leaks: &[LeakReport]) -> Result<Vec<u8>, Failure> {
    font()?;
    let mut img = vec![255u8; usize::try_from(W * H * 3).unwrap_or(0)];
    {
        let root = BitMapBackend::with_buffer(&mut img, (W, H)).into_drawing_area();
        draw(&root, run, samples, leaks)
            .map_err(|e| Failure::Run(anyhow::anyhow!("cannot draw the PNG: {e}")))?;
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, W, H);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(secs: f64, heap_mib: i64, state: &str) -> Sample {
        Sample {
            secs,
            sampled_at: String::new(),
            heap_used_bytes: heap_mib << 20,
            heap_size_bytes: 64 << 20,
            rss_bytes: Some((heap_mib + 10) << 20),
            peak_heap_bytes: None,
            threads: None,
            batches_in_flight: None,
            memory_state: Some(state.to_owned()),
        }
    }

    /// `Failure` is not `Debug`.
    fn ok<T>(r: Result<T, Failure>) -> T {
        match r {
            Ok(v) => v,
            Err(Failure::Run(e) | Failure::Usage(e)) => panic!("{e:#}"),
            Err(Failure::Interrupted) => panic!("interrupted"),
        }
    }

    /// States become bands of their colour, leaks dashed lines with their
    /// rule as label; without the font this says what to install instead.
    #[test]
    fn bands_and_leak_marks() {
        let samples = [
            row(0.0, 5, "normal"),
            row(1.0, 6, "normal"),
            row(2.0, 40, "warning"),
            row(3.0, 80, "critical"),
        ];
        let leaks = [LeakReport {
            secs: 2.5,
            leak_type: "rapid_growth".to_owned(),
            leak_source: String::new(),
            leaked_bytes: 1 << 20,
            severity: None,
        }];
        if !std::path::Path::new(FONT_PATHS[0]).exists() {
            let err = svg(uuid::Uuid::nil(), &samples, &leaks).unwrap_err();
            let Failure::Run(e) = err else {
                panic!("not a run failure")
            };
            assert!(e.to_string().contains("fonts-dejavu-core"), "{e}");
            return;
        }
        let text = ok(svg(uuid::Uuid::nil(), &samples, &leaks));
        let fills = |c: RGBColor| {
            text.matches(&format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2))
                .count()
        };
        for (name, colour) in STATES {
            // The legend's swatch, plus a band for the states the run had.
            let want = if name == "elevated" { 1 } else { 2 };
            assert_eq!(fills(colour), want, "{name}");
        }
        assert!(text.contains("rapid_growth"), "the leak's label");
        assert!(text.contains("leak (1 reported)"));
        // Dashes: plotters draws each as its own segment.
        let dashes = text.matches(r##"stroke="#7B1FA2""##).count();
        assert!(dashes >= 10, "{dashes} leak dashes");
        let png = ok(png(uuid::Uuid::nil(), &samples, &leaks));
        assert!(png.starts_with(b"\x89PNG"));
    }
}
