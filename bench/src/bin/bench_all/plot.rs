//! The scaling plots: one SVG per series, coros and its peers on the same log-log axes.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::record::Figure;

/// One plot to draw: the figures named `metric`, `x_param` on the x axis.
struct PlotSpec {
    file: &'static str,
    metric: &'static str,
    x_param: &'static str,
    title: &'static str,
    x_desc: &'static str,
    y_desc: &'static str,
    legend: SeriesLabelPosition,
}

const PLOTS: [PlotSpec; 5] = [
    PlotSpec {
        file: "kernel_switch.svg",
        metric: "kernel_switch",
        x_param: "tasks",
        title: "Task switch: ns per switch (lower is better)",
        x_desc: "tasks",
        y_desc: "ns per switch",
        legend: SeriesLabelPosition::UpperRight,
    },
    PlotSpec {
        file: "kernel_task_heap.svg",
        metric: "kernel_task_heap",
        x_param: "tasks",
        title: "Parked task: heap bytes per task (lower is better)",
        x_desc: "tasks",
        y_desc: "bytes per task",
        legend: SeriesLabelPosition::UpperRight,
    },
    PlotSpec {
        file: "kernel_timers.svg",
        metric: "kernel_timers",
        x_param: "timers",
        title: "Timers armed and fired: CPU ns per timer (lower is better)",
        x_desc: "timers",
        y_desc: "CPU ns per timer",
        legend: SeriesLabelPosition::UpperRight,
    },
    PlotSpec {
        file: "echo_round_trips.svg",
        metric: "echo_round_trips",
        x_param: "connections",
        title: "Echo over loopback: round trips per second (higher is better)",
        x_desc: "connections",
        y_desc: "round trips per second",
        legend: SeriesLabelPosition::LowerRight,
    },
    PlotSpec {
        file: "echo_server_cpu.svg",
        metric: "echo_server_cpu",
        x_param: "connections",
        title: "Echo over loopback: server CPU us per round trip (lower is better)",
        x_desc: "connections",
        y_desc: "server CPU us per round trip",
        legend: SeriesLabelPosition::UpperRight,
    },
];

/// What [`all`] drew.
#[derive(Debug, Default)]
pub(crate) struct Plots {
    /// `(metric, path)` of each plot written.
    pub(crate) written: Vec<(&'static str, PathBuf)>,
    /// `(file, error)` of each plot that could not be.
    pub(crate) failed: Vec<(&'static str, String)>,
}

/// Draws every plot whose figures exist into `dir`.
pub(crate) fn all(figures: &[Figure], dir: &Path) -> Plots {
    let mut plots = Plots::default();
    if let Err(e) = std::fs::create_dir_all(dir) {
        plots.failed.push(("(all)", e.to_string()));
        return plots;
    }
    for spec in &PLOTS {
        let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for f in figures.iter().filter(|f| f.name == spec.metric) {
            let Some(x) = f.param(spec.x_param).and_then(|p| p.as_f64()) else {
                continue;
            };
            if !(f.median > 0.0 && f.median.is_finite()) {
                continue;
            }
            match series.iter_mut().find(|(peer, _)| *peer == f.peer) {
                Some((_, points)) => points.push((x, f.median)),
                None => series.push((f.peer.clone(), vec![(x, f.median)])),
            }
        }
        if series.is_empty() {
            continue;
        }
        for (_, points) in &mut series {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        let path = dir.join(spec.file);
        match draw(&path, spec, &series) {
            Ok(()) => plots.written.push((spec.metric, path)),
            Err(e) => plots.failed.push((spec.file, e.to_string())),
        }
    }
    plots
}

/// The colours of the peers after coros, which is always red.
const COLOURS: [RGBColor; 7] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
];

/// `12000` as `12k`, for the axes.
fn short(x: f64) -> String {
    let (value, suffix) = if x >= 1e6 {
        (x / 1e6, "M")
    } else if x >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    if value >= 10.0 || value.fract() == 0.0 {
        format!("{value:.0}{suffix}")
    } else {
        format!("{value:.1}{suffix}")
    }
}

fn draw(
    path: &Path,
    spec: &PlotSpec,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), Box<dyn std::error::Error>> {
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let x = (x0 / 1.5)..(x1 * 1.5);
    let root = SVGBackend::new(path, (860, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let builder = || {
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(spec.title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72);
        builder
    };
    // A log y axis when the figures span a decade or more; otherwise a linear one from zero,
    // on which a log axis would show a single label.
    if y1 / y0 >= 10.0 {
        let y = (y0 / 1.6)..(y1 * 2.5);
        let mut chart = builder().build_cartesian_2d(x.log_scale(), y.log_scale())?;
        chart
            .configure_mesh()
            .x_desc(spec.x_desc)
            .y_desc(spec.y_desc)
            .x_labels(8)
            .y_labels(8)
            .max_light_lines(4)
            .x_label_formatter(&|x| short(*x))
            .y_label_formatter(&|y| short(*y))
            .label_style(("sans-serif", 14))
            .draw()?;
        lines(&mut chart, series, spec)?;
    } else {
        let y = 0.0..(y1 * 1.35);
        let mut chart = builder().build_cartesian_2d(x.log_scale(), y)?;
        chart
            .configure_mesh()
            .x_desc(spec.x_desc)
            .y_desc(spec.y_desc)
            .x_labels(8)
            .y_labels(8)
            .max_light_lines(4)
            .x_label_formatter(&|x| short(*x))
            .y_label_formatter(&|y| short(*y))
            .label_style(("sans-serif", 14))
            .draw()?;
        lines(&mut chart, series, spec)?;
    }
    root.present()?;
    Ok(())
}

/// Draws each peer's line and points on `chart`, coros in red and thicker, and the legend.
fn lines<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    series: &[(String, Vec<(f64, f64)>)],
    spec: &PlotSpec,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let mut next = 0;
    for (peer, points) in series {
        let (colour, width) = if peer == "coros" {
            (RGBColor(214, 39, 40), 3)
        } else {
            next += 1;
            (COLOURS[(next - 1) % COLOURS.len()], 2)
        };
        let style = ShapeStyle {
            color: colour.to_rgba(),
            filled: true,
            stroke_width: width,
        };
        chart
            .draw_series(LineSeries::new(points.iter().copied(), style))?
            .label(peer.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
        chart.draw_series(
            points
                .iter()
                .map(move |&point| Circle::new(point, width + 1, style)),
        )?;
    }
    chart
        .configure_series_labels()
        .position(spec.legend.clone())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}
