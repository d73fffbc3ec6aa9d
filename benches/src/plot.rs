//! SVG plots: speedup against schedulers per case, and SPAM's time ratios to its peers per case.

use crate::results::{Results, Runtime};
use plotters::prelude::*;
use std::error::Error;
use std::path::Path;

fn color(rt: Runtime) -> RGBColor {
    match rt {
        Runtime::Spam => RGBColor(230, 110, 0),
        Runtime::Tokio => RGBColor(40, 90, 200),
        Runtime::Erlang => RGBColor(150, 40, 150),
    }
}

/// `scaling.svg`: one panel per case that ran at two or more scheduler counts; a line per
/// runtime plus the ideal (dashed grey). `Ok(false)` when no case qualifies.
pub fn scaling(r: &Results, path: &Path) -> Result<bool, Box<dyn Error>> {
    let cases: Vec<usize> = (0..r.cases.len()).filter(|&i| r.scheds_of(i).len() >= 2).collect();
    if cases.is_empty() {
        return Ok(false);
    }
    let cols = 4.min(cases.len());
    let rows = cases.len().div_ceil(cols);
    let root = SVGBackend::new(path, (300 * cols as u32, 40 + 240 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled("Speedup over the smallest scheduler count", ("sans-serif", 22))?;
    let max_s = *r.schedulers.iter().max().unwrap_or(&1) as f64;
    let min_s = *r.schedulers.iter().min().unwrap_or(&1) as f64;
    for (area, &case) in root.split_evenly((rows, cols)).iter().zip(&cases) {
        let speedups: Vec<(Runtime, Vec<(f64, f64)>)> = r
            .runtimes
            .iter()
            .map(|&rt| {
                let pts = r.scheds_of(case).iter().filter_map(|&s| Some((s as f64, r.speedup(rt, case, s)?))).collect();
                (rt, pts)
            })
            .collect();
        let top = speedups.iter().flat_map(|(_, p)| p.iter().map(|&(_, y)| y)).fold(max_s / min_s, f64::max) * 1.1;
        let mut chart = ChartBuilder::on(area)
            .caption(&r.cases[case].name, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(36)
            .build_cartesian_2d(min_s..max_s, 0f64..top)?;
        chart
            .configure_mesh()
            .x_labels(r.schedulers.len().min(16))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.1}×"))
            .x_desc("schedulers")
            .draw()?;
        let ideal = vec![(min_s, 1.0), (max_s, max_s / min_s)];
        chart.draw_series(DashedLineSeries::new(ideal, 4, 4, BLACK.mix(0.35).stroke_width(1)))?;
        for (rt, pts) in speedups {
            if pts.is_empty() {
                continue;
            }
            let c = color(rt);
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))?
                .label(rt.name())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, c.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 12))
            .draw()?;
    }
    root.present()?;
    Ok(true)
}

/// `ratios.svg`: for every case, SPAM's ns/op over each peer's at the case's largest scheduler
/// count, as bars from 1 on a log scale (left of 1 = SPAM faster). Without SPAM, tokio over Erlang. `Ok(false)`
/// when there is no pair to compare.
pub fn ratios(r: &Results, path: &Path) -> Result<bool, Box<dyn Error>> {
    let subject = if r.runtimes.contains(&Runtime::Spam) { Runtime::Spam } else { Runtime::Tokio };
    let mut bars: Vec<(String, Runtime, f64)> = Vec::new();
    for (i, case) in r.cases.iter().enumerate() {
        let Some(&sched) = r.scheds_of(i).last() else { continue };
        for &peer in r.runtimes.iter().filter(|&&p| p > subject) {
            if let Some(x) = r.ratio(subject, peer, i, sched) {
                bars.push((format!("{} S={sched} ÷{}", case.name, peer.name()), peer, x));
            }
        }
    }
    if bars.is_empty() {
        return Ok(false);
    }
    let (lo, hi) = bars.iter().fold((1.0f64, 1.0f64), |(lo, hi), b| (lo.min(b.2), hi.max(b.2)));
    let (lo, hi) = ((lo / 1.5).min(0.5), (hi * 1.5).max(2.0));
    let n = bars.len() as i32;
    let root = SVGBackend::new(path, (900, 80 + 22 * n as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let title =
        format!("{} time ÷ peer time per operation (log scale; < 1: {} faster)", subject.name(), subject.name());
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(230)
        .build_cartesian_2d((lo..hi).log_scale(), (0..n).into_segmented())?;
    // Row i is drawn top-down: segment n-1-i.
    let row = |i: i32| n - 1 - i;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(bars.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(k) if (0..n).contains(k) => bars[row(*k) as usize].0.clone(),
            _ => String::new(),
        })
        .x_labels(12)
        .x_label_formatter(&|x| format!("{x:.2}"))
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (_, peer, x))| {
        let y = row(i as i32);
        let (a, b) = (SegmentValue::Exact(y), SegmentValue::Exact(y + 1));
        let mut rect = Rectangle::new([(1.0, a), (*x, b)], color(*peer).mix(0.7).filled());
        rect.set_margin(3, 3, 0, 0);
        rect
    }))?;
    chart.draw_series(LineSeries::new(
        vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Exact(n))],
        BLACK.stroke_width(1),
    ))?;
    root.present()?;
    Ok(true)
}
