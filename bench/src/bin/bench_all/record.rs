//! Runs of alternating peers, and the figures made of them: medians, extremes and ratios to
//! coros, each ratio taken run by run.

use std::fmt::Write as _;

/// One observation of one run: `value` of `metric` for `peer`.
#[derive(Debug, Clone)]
pub(crate) struct Obs {
    pub(crate) metric: &'static str,
    pub(crate) peer: String,
    pub(crate) value: f64,
}

impl Obs {
    pub(crate) fn new(metric: &'static str, peer: impl Into<String>, value: f64) -> Obs {
        Obs {
            metric,
            peer: peer.into(),
            value,
        }
    }
}

/// Something measured once per run: one peer, or an outside process that measures several.
pub(crate) type Sampler<'a> = Box<dyn FnMut() -> Vec<Obs> + 'a>;

/// Every run's value of one metric for one peer (`None` for a run that gave none).
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) metric: &'static str,
    pub(crate) peer: String,
    pub(crate) runs: Vec<Option<f64>>,
}

/// Runs every sampler `runs` times. In each run the samplers take turns in an order that
/// rotates from run to run, so that a drift of the machine's speed (another build, a change of
/// frequency) falls on all peers alike instead of on whichever ran last.
pub(crate) fn alternate(runs: usize, samplers: &mut [Sampler<'_>]) -> Vec<Series> {
    let mut series: Vec<Series> = Vec::new();
    let count = samplers.len();
    for run in 0..runs {
        for i in 0..count {
            for obs in samplers[(run + i) % count]() {
                let at = match series
                    .iter()
                    .position(|s| s.metric == obs.metric && s.peer == obs.peer)
                {
                    Some(at) => at,
                    None => {
                        series.push(Series {
                            metric: obs.metric,
                            peer: obs.peer,
                            runs: vec![None; runs],
                        });
                        series.len() - 1
                    }
                };
                series[at].runs[run] = Some(obs.value);
            }
        }
    }
    series
}

/// The median of `xs` (the mean of the middle two for an even count).
pub(crate) fn median(xs: &[f64]) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// A parameter's value, as it appears in the JSON.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Int(u64),
    Num(f64),
    Text(String),
}

impl Param {
    fn json(&self) -> String {
        match self {
            Param::Int(n) => n.to_string(),
            Param::Num(x) => json_num(*x),
            Param::Text(s) => json_str(s),
        }
    }

    /// The value as a number, for a plot's x axis.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Param::Int(n) => Some(*n as f64),
            Param::Num(x) => Some(*x),
            Param::Text(_) => None,
        }
    }
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Param::Int(n) => write!(f, "{}", group_digits(*n)),
            Param::Num(x) => write!(f, "{x}"),
            Param::Text(s) => f.write_str(s),
        }
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One figure: a peer's median, minimum and maximum over the runs of one benchmark, and the
/// median over the runs of its value divided by coros' value in the same run.
#[derive(Debug, Clone)]
pub(crate) struct Figure {
    pub(crate) name: &'static str,
    pub(crate) peer: String,
    pub(crate) unit: &'static str,
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) ratio_to_coros: Option<f64>,
    /// The ratio to coros of each run in which both ran.
    pub(crate) ratios: Vec<f64>,
    pub(crate) runs: usize,
    pub(crate) params: Vec<(&'static str, Param)>,
}

impl Figure {
    /// The value of parameter `key`, if it has one.
    pub(crate) fn param(&self, key: &str) -> Option<&Param> {
        self.params.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    fn ratio_extreme(&self, pick: fn(f64, f64) -> f64) -> String {
        self.ratios
            .iter()
            .copied()
            .reduce(pick)
            .map_or("null".to_owned(), json_num)
    }

    /// In how many of the runs the ratio to coros fell on the same side of 1 as its median,
    /// and in how many runs both ran.
    pub(crate) fn agreeing_runs(&self) -> (usize, usize) {
        let Some(median) = self.ratio_to_coros else {
            return (0, 0);
        };
        let agree = self
            .ratios
            .iter()
            .filter(|r| (*r - 1.0) * (median - 1.0) > 0.0)
            .count();
        (agree, self.ratios.len())
    }

    /// One JSON object on one line; `extra` adds fields that all figures of a run share.
    pub(crate) fn json(&self, extra: &[(&str, String)]) -> String {
        let mut out = String::from("{");
        let _ = write!(
            out,
            "\"name\":{},\"peer\":{},\"unit\":{},\"median\":{},\"min\":{},\"max\":{},\
             \"ratio_to_coros\":{},\"ratio_min\":{},\"ratio_max\":{},\"runs\":{},\
             \"parameters\":{{",
            json_str(self.name),
            json_str(&self.peer),
            json_str(self.unit),
            json_num(self.median),
            json_num(self.min),
            json_num(self.max),
            self.ratio_to_coros.map_or("null".to_owned(), json_num),
            self.ratio_extreme(f64::min),
            self.ratio_extreme(f64::max),
            self.runs,
        );
        for (i, (key, value)) in self.params.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}:{}", json_str(key), value.json());
        }
        out.push('}');
        for (key, value) in extra {
            let _ = write!(out, ",{}:{}", json_str(key), json_str(value));
        }
        out.push('}');
        out
    }
}

/// How a benchmark's series become figures.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// The metric of the series to take, which is also the figures' name.
    pub(crate) metric: &'static str,
    pub(crate) unit: &'static str,
    /// The peer the ratios are taken to.
    pub(crate) coros: &'static str,
    pub(crate) params: Vec<(&'static str, Param)>,
}

/// The figures of `spec.metric` among `series`, in the order the series first appeared.
pub(crate) fn figures(series: &[Series], spec: &Spec) -> Vec<Figure> {
    let base = series
        .iter()
        .find(|s| s.metric == spec.metric && s.peer == spec.coros);
    series
        .iter()
        .filter(|s| s.metric == spec.metric)
        .filter_map(|s| {
            let values: Vec<f64> = s.runs.iter().flatten().copied().collect();
            if values.is_empty() {
                return None;
            }
            let ratios: Vec<f64> = match base {
                Some(base) => s
                    .runs
                    .iter()
                    .zip(&base.runs)
                    .filter_map(|(v, b)| Some(v.as_ref()? / b.as_ref()?))
                    .collect(),
                None => Vec::new(),
            };
            Some(Figure {
                name: spec.metric,
                peer: if s.peer == spec.coros {
                    "coros".to_owned()
                } else {
                    s.peer.clone()
                },
                unit: spec.unit,
                median: median(&values),
                min: values.iter().copied().fold(f64::INFINITY, f64::min),
                max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                ratio_to_coros: (!ratios.is_empty()).then(|| median(&ratios)),
                ratios,
                runs: values.len(),
                params: spec.params.clone(),
            })
        })
        .collect()
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        // Enough digits for nanoseconds and ratios; JSON has no NaN.
        let s = format!("{x:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s.is_empty() || s == "-" {
            "0".to_owned()
        } else {
            s.to_owned()
        }
    } else {
        "null".to_owned()
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
