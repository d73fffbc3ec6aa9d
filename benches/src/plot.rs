//! SVG plots: `scaling.svg`, the speedup against schedulers of each case, and `ratios.svg`,
//! SPAM's time over each peer's per case at the largest scheduler count.

use crate::results::{Results, Runtime};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::error::Error;
use std::path::Path;

/// A drawing area of an SVG file.
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

const FONT: &str = "sans-serif";

/// The colour of a runtime, the same in both plots.
fn color(rt: Runtime) -> RGBColor {
    match rt {
        Runtime::Spam => RGBColor(230, 110, 0),
        Runtime::Tokio => RGBColor(40, 90, 200),
        Runtime::Erlang => RGBColor(150, 40, 150),
    }
}

/// The mark of a legend entry.
enum Key {
    Line(RGBColor),
    Dashed,
    Bar(RGBColor),
}

/// Draws the legend `entries` in one row, centred in `area`.
fn legend(area: &Area, entries: &[(Key, String)]) -> Result<(), Box<dyn Error>> {
    let font = TextStyle::from((FONT, 18));
    let mut widths = Vec::new();
    for (_, text) in entries {
        widths.push(30 + area.estimate_text_size(text, &font)?.0 as i32 + 28);
    }
    let (w, h) = area.dim_in_pixel();
    let (mut x, y) = ((w as i32 - widths.iter().sum::<i32>()) / 2, h as i32 / 2);
    let style = font.pos(Pos::new(HPos::Left, VPos::Center));
    for ((key, text), width) in entries.iter().zip(widths) {
        match key {
            Key::Line(c) => area.draw(&PathElement::new([(x, y), (x + 24, y)], c.stroke_width(3)))?,
            Key::Dashed => area.draw(&DashedPathElement::new([(x, y), (x + 24, y)], 4, 3, BLACK.mix(0.45)))?,
            Key::Bar(c) => area.draw(&Rectangle::new([(x, y - 7), (x + 24, y + 7)], c.mix(0.75).filled()))?,
        }
        area.draw_text(text, &style, (x + 30, y))?;
        x += width;
    }
    Ok(())
}

/// `scaling.svg`: a panel per case of [`Results::scales`], the speedup of each runtime over
/// the smallest scheduler count, the ideal dashed, one legend on top. `Ok(false)` when no case
/// qualifies.
pub fn scaling(r: &Results, path: &Path) -> Result<bool, Box<dyn Error>> {
    let cases: Vec<usize> = (0..r.cases.len()).filter(|&i| r.scales(i)).collect();
    let (Some(&min), Some(&max)) = (r.schedulers.iter().min(), r.schedulers.iter().max()) else {
        return Ok(false);
    };
    if cases.is_empty() {
        return Ok(false);
    }
    let (min_s, max_s) = (min as f64, max as f64);
    let ticks: Vec<i32> = r.schedulers.iter().map(|&s| s as i32).collect();
    let cols = 4.min(cases.len());
    let rows = cases.len().div_ceil(cols);
    let root = SVGBackend::new(path, (300 * cols as u32, 90 + 240 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("Speedup at S schedulers over S={min} (time at S={min} ÷ time at S; higher is better)");
    let root = root.titled(&title, (FONT, 22))?;
    let (top, panels) = root.split_vertically(40);
    let mut keys: Vec<(Key, String)> = r.runtimes.iter().map(|&rt| (Key::Line(color(rt)), rt.name().into())).collect();
    keys.push((Key::Dashed, "ideal (linear)".into()));
    legend(&top, &keys)?;
    for (area, &case) in panels.split_evenly((rows, cols)).iter().zip(&cases) {
        let lines: Vec<(Runtime, Vec<(i32, f64)>)> = r
            .runtimes
            .iter()
            .map(|&rt| {
                let pts = r.scheds_of(case).iter().filter_map(|&s| Some((s as i32, r.speedup(rt, case, s)?))).collect();
                (rt, pts)
            })
            .collect();
        let top = lines.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y)).fold(max_s / min_s, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(area)
            .caption(&r.cases[case].name, (FONT, 16))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(40)
            .build_cartesian_2d((min as i32..max as i32).with_key_points(ticks.clone()), 0f64..top)?;
        chart
            .configure_mesh()
            .y_max_light_lines(1)
            .bold_line_style(BLACK.mix(0.12))
            .y_label_formatter(&|y| format!("{y:.1}×"))
            .x_desc("schedulers")
            .draw()?;
        let ideal = [(min as i32, 1.0), (max as i32, max_s / min_s)];
        chart.draw_series(DashedLineSeries::new(ideal, 4, 3, BLACK.mix(0.45).stroke_width(1)))?;
        // SPAM last, on top where lines overlap.
        for (rt, pts) in lines.into_iter().rev() {
            let c = color(rt);
            chart.draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?;
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, c.filled())))?;
        }
    }
    root.present()?;
    Ok(true)
}

/// A tick of the log axis with the decimals it needs (`0.05`, `0.2`, `1`, `20`).
fn fmt_tick(x: f64) -> String {
    let decimals = (-x.log10().floor()).max(0.0) as usize;
    format!("{x:.decimals$}")
}

/// One case of `ratios.svg`: its label and the subject's ratio to each peer, in peer order.
struct RatioRow {
    label: String,
    bars: Vec<Option<f64>>,
}

/// `ratios.svg`: per case, SPAM's ns/op over each peer's at the sweep's largest scheduler count
/// (a case that runs at a fixed count at its own, said in its label), as bars from 1 on a log
/// scale. Cases Erlang pins are left out, with a footnote. Without SPAM, tokio over Erlang.
/// `Ok(false)` when there is no pair to compare.
pub fn ratios(r: &Results, path: &Path) -> Result<bool, Box<dyn Error>> {
    let subject = if r.runtimes.contains(&Runtime::Spam) { Runtime::Spam } else { Runtime::Tokio };
    let peers: Vec<Runtime> = r.runtimes.iter().copied().filter(|&p| p > subject).collect();
    let Some(&sched) = r.schedulers.iter().max() else { return Ok(false) };
    let (mut rows, mut left_out) = (Vec::new(), Vec::new());
    for (i, case) in r.cases.iter().enumerate() {
        let scheds = r.scheds_of(i);
        let Some(&s) = scheds.iter().find(|&&s| s == sched).or(scheds.last()) else { continue };
        let bars: Vec<Option<f64>> = peers.iter().map(|&p| r.ratio(subject, p, i, s)).collect();
        if bars.iter().all(Option::is_none) {
            continue;
        }
        if r.pinned_in_erlang(i) {
            left_out.push(case.name.as_str());
            continue;
        }
        let label = if s == sched { case.name.clone() } else { format!("{} ({s} scheduler{})", case.name, plural(s)) };
        rows.push(RatioRow { label, bars });
    }
    if rows.is_empty() {
        return Ok(false);
    }
    let values = rows.iter().flat_map(|row| row.bars.iter().flatten());
    let (lo, hi) = values.fold((1.0f64, 1.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    // Room for the value labels at the bar ends.
    let (lo, hi) = (lo / 2.2, hi * 2.2);
    let ticks: Vec<f64> =
        (-4..=4).flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e))).filter(|&t| (lo..=hi).contains(&t)).collect();

    let n = rows.len() as i32;
    let row_h = 16 * peers.len() as u32 + 12;
    let foot = if left_out.is_empty() { 0 } else { 30 };
    let root = SVGBackend::new(path, (1000, 150 + row_h * n as u32 + foot)).into_drawing_area();
    root.fill(&WHITE)?;
    let (s_name, sched_word) = (subject.name(), format!("{sched} scheduler{}", plural(sched)));
    let title = format!("{s_name} time ÷ peer time at {sched_word} (below 1 = {s_name} faster)");
    let root = root.titled(&title, (FONT, 22))?;
    let (top, body) = root.split_vertically(36);
    let keys: Vec<(Key, String)> =
        peers.iter().map(|&p| (Key::Bar(color(p)), format!("{s_name} ÷ {}", p.name()))).collect();
    legend(&top, &keys)?;
    let (plot, footer) = body.split_vertically(body.dim_in_pixel().1 - foot);
    if !left_out.is_empty() {
        let note = format!(
            "Left out: {} (Erlang pins the pair to two schedulers; {s_name} cannot pin processes).",
            left_out.join(", ")
        );
        footer.draw_text(&note, &TextStyle::from((FONT, 14)).color(&BLACK.mix(0.7)), (20, 6))?;
    }

    let label_font = TextStyle::from((FONT, 15));
    let mut label_w = 0;
    for row in &rows {
        label_w = label_w.max(plot.estimate_text_size(&row.label, &label_font)?.0);
    }
    // y in hundredths of a row: row k (0 = top) spans (n-1-k)·100 to (n-k)·100; the 60 above
    // hold the faster/slower arrows.
    let centre = |k: usize| (n - k as i32) * 100 - 50;
    let y_top = n * 100 + 60;
    let mut chart = ChartBuilder::on(&plot)
        .margin(10)
        .margin_right(24)
        .x_label_area_size(44)
        .y_label_area_size(label_w + 20)
        .build_cartesian_2d(
            (lo..hi).log_scale().with_key_points(ticks),
            (0..y_top).with_key_points((0..rows.len()).map(centre).collect()),
        )?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .bold_line_style(BLACK.mix(0.12))
        .x_label_style((FONT, 14))
        .y_label_style(label_font)
        .x_label_formatter(&|x| fmt_tick(*x))
        .y_label_formatter(&|y| {
            let k = (n - (y + 50) / 100) as usize;
            rows.get(k).map_or_else(String::new, |row| row.label.clone())
        })
        .x_desc(format!("{s_name} ns/op ÷ peer ns/op at {sched_word} (log scale)"))
        .axis_desc_style((FONT, 15))
        .draw()?;
    // Every other row shaded, so a case's bars read together.
    chart.draw_series(
        (0..rows.len())
            .step_by(2)
            .map(|k| Rectangle::new([(lo, centre(k) - 50), (hi, centre(k) + 50)], BLACK.mix(0.04).filled())),
    )?;
    let slot = 80 / peers.len() as i32;
    let value_font = TextStyle::from((FONT, 12));
    for (k, row) in rows.iter().enumerate() {
        for (j, (&peer, &x)) in peers.iter().zip(&row.bars).enumerate() {
            let Some(x) = x else { continue };
            let top = centre(k) + 40 - j as i32 * slot;
            let (y0, y1) = (top - slot + 4, top - 4);
            chart.draw_series([Rectangle::new([(1.0, y0), (x, y1)], color(peer).mix(0.75).filled())])?;
            let (at, h) = if x < 1.0 { (x / 1.04, HPos::Right) } else { (x * 1.04, HPos::Left) };
            let style = value_font.pos(Pos::new(h, VPos::Center));
            chart.draw_series([Text::new(format!("{x:.2}"), (at, (y0 + y1) / 2), style)])?;
        }
    }
    chart.draw_series([PathElement::new([(1.0, 0), (1.0, y_top)], BLACK.stroke_width(2))])?;
    let grey = BLACK.mix(0.7);
    let arrow = TextStyle::from((FONT, 14)).color(&grey);
    let y = n * 100 + 30;
    chart.draw_series([
        Text::new(format!("← {s_name} faster"), (1.0 / 1.06, y), arrow.pos(Pos::new(HPos::Right, VPos::Center))),
        Text::new(format!("{s_name} slower →"), (1.06, y), arrow.pos(Pos::new(HPos::Left, VPos::Center))),
    ])?;
    root.present()?;
    Ok(true)
}

/// `"s"` unless `n` is 1.
fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks() {
        assert_eq!(fmt_tick(0.05), "0.05");
        assert_eq!(fmt_tick(0.2), "0.2");
        assert_eq!(fmt_tick(1.0), "1");
        assert_eq!(fmt_tick(20.0), "20");
    }

    #[test]
    fn plots_say_what_they_show() {
        let r = crate::results::fabricated();
        let dir = std::env::temp_dir().join(format!("spam-benches-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(scaling(&r, &dir.join("scaling.svg")).unwrap());
        assert!(ratios(&r, &dir.join("ratios.svg")).unwrap());
        let scaling = std::fs::read_to_string(dir.join("scaling.svg")).unwrap();
        let ratios = std::fs::read_to_string(dir.join("ratios.svg")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // plotters writes a text's content on a line of its own.
        let has = |svg: &str, text: &str| svg.contains(&format!("\n{text}\n</text>"));
        assert!(has(&scaling, "skynet") && !has(&scaling, "memory"));
        assert!(has(&scaling, "SPAM") && has(&scaling, "ideal (linear)"));
        assert!(has(&ratios, "SPAM time ÷ peer time at 8 schedulers (below 1 = SPAM faster)"));
        assert!(has(&ratios, "SPAM ÷ tokio") && has(&ratios, "SPAM ÷ Erlang"));
        assert!(has(&ratios, "pingpong-same (1 scheduler)") && !has(&ratios, "pingpong-across"));
        assert!(ratios.contains("Left out: pingpong-across"));
    }
}
