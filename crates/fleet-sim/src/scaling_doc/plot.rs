//! Plots of one trace: backlog (visible + in flight), running tasks and instances over
//! time, one line per policy, as PNG and SVG. Text uses DejaVu Sans shipped inside the
//! `dejavu` crate, so nothing depends on the machine's fonts.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::fleet::{Outcome, Sample};
use crate::policy::PolicyKind;

static FONT: Once = Once::new();

fn ensure_font() {
    FONT.call_once(|| {
        // The font bytes are valid TrueType; a failure here would be a packaging bug.
        if register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular()).is_err() {
            panic!("DejaVu Sans from the dejavu crate could not be registered");
        }
    });
}

fn colour(kind: PolicyKind) -> RGBColor {
    match kind {
        PolicyKind::PlanAsWritten => RGBColor(150, 150, 150),
        PolicyKind::PlanIntentFixed => RGBColor(230, 159, 0),
        PolicyKind::OursFirstDraft => RGBColor(86, 180, 233),
        PolicyKind::Ours => RGBColor(0, 114, 178),
        PolicyKind::KedaLike => RGBColor(204, 121, 167),
        PolicyKind::Oracle => RGBColor(0, 158, 115),
        PolicyKind::FastPaths => RGBColor(213, 94, 0),
        PolicyKind::FastPathsRegisteredOnly => RGBColor(240, 170, 120),
        PolicyKind::OursAlarms => RGBColor(120, 60, 160),
        PolicyKind::BacklogScaler60 => RGBColor(190, 150, 220),
    }
}

type Panel = (&'static str, fn(&Sample) -> f64);

const PANELS: [Panel; 3] = [
    ("backlog: visible + in flight (messages)", |s| {
        (s.visible + s.in_flight) as f64
    }),
    ("running tasks", |s| s.running_tasks as f64),
    ("instances", |s| s.instances as f64),
];

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    outcomes: &[Outcome],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(err)?;
    let areas = root.split_evenly((3, 1));
    let horizon_h = outcomes.iter().map(|o| o.horizon).max().unwrap_or(60) as f64 / 3600.0;
    for (area, (name, value)) in areas.iter().zip(PANELS) {
        // The broken plans' backlog only grows; cap the axis at what working policies
        // need so their lines stay readable (the broken ones run off the top).
        let working = outcomes.iter().filter(|o| {
            !matches!(
                o.policy,
                PolicyKind::PlanAsWritten | PolicyKind::PlanIntentFixed
            )
        });
        let mut ymax = working
            .flat_map(|o| o.samples.iter().map(value))
            .fold(0.0f64, f64::max);
        if ymax < 1.0 {
            ymax = outcomes
                .iter()
                .flat_map(|o| o.samples.iter().map(value))
                .fold(1.0f64, f64::max);
        }
        let ymax = (ymax * 1.15).max(1.0);
        let mut chart = ChartBuilder::on(area)
            .margin(8)
            .caption(name, ("sans-serif", 16))
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..horizon_h, 0.0..ymax)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("hours")
            .label_style(("sans-serif", 12))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        for o in outcomes {
            let c = colour(o.policy);
            let width = if o.policy == PolicyKind::Ours { 2 } else { 1 };
            let pts = o
                .samples
                .iter()
                .map(|s| (s.t as f64 / 3600.0, value(s).min(ymax)));
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(width)))
                .map_err(err)?
                .label(o.policy.label())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Writes `<dir>/<stem>.png` and `<dir>/<stem>.svg`.
pub fn write_plots(
    dir: &Path,
    stem: &str,
    title: &str,
    outcomes: &[Outcome],
) -> Result<(), String> {
    ensure_font();
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let size = (1100, 900);
    let png = dir.join(format!("{stem}.png"));
    draw(
        BitMapBackend::new(&png, size).into_drawing_area(),
        title,
        outcomes,
    )?;
    let svg = dir.join(format!("{stem}.svg"));
    draw(
        SVGBackend::new(&svg, size).into_drawing_area(),
        title,
        outcomes,
    )?;
    Ok(())
}
