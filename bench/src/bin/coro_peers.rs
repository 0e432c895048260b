//! Side-by-side comparison of coros and its peers in one run, reported as ratios.
//!
//! ```text
//! cargo run --release -p coros-bench --bin coro_peers -- [--rounds N] [--samples S] [--batch-ms M]
//! ```
//!
//! Three tables:
//!
//! - **send round trip** (a `u64` in, a `u64` back): a plain function call (the floor), coros,
//!   genawaiter (stack, rc, sync), corosensei, nightly `std::ops::Coroutine` unboxed and as
//!   `Pin<Box<dyn Coroutine>>` (built from `bench/nightly` with `cargo +nightly` when a nightly
//!   toolchain is installed) and a CPython generator (`bench/python/send_round_trip.py`, when
//!   `python3` is installed); a missing toolchain prints a `SKIP` line instead;
//! - **async step**: coros' `asend` against its own `send`;
//! - **receiving nothing**: one item of coros' `AsyncGen` as a stream against `async-stream`
//!   and genawaiter's `async_resume`, with coros' `Generator::next` beside them.
//!
//! Each sample times a batch of round trips (about `--batch-ms` long) and divides. Every round
//! takes `--samples` samples of every peer, and the order of the peers rotates from round to
//! round, so that a drift of the machine's speed (another build, a frequency change) falls on
//! all peers alike instead of on whichever ran last. The tables give the median, minimum and
//! maximum over all samples, and the ratio of the coros row's median to each peer's (above
//! 1.0, coros is slower; below, faster).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../peers.rs"]
mod peers;

/// How a run is shaped.
#[derive(Debug, Clone, Copy)]
struct Plan {
    rounds: usize,
    samples: usize,
    batch: Duration,
}

impl Plan {
    fn from_args() -> Plan {
        let mut plan = Plan {
            rounds: 7,
            samples: 3,
            batch: Duration::from_millis(10),
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value: u64 = match args.next().map(|value| value.parse()) {
                Some(Ok(value)) if value > 0 => value,
                _ => usage(&flag),
            };
            match flag.as_str() {
                "--rounds" => plan.rounds = value as usize,
                "--samples" => plan.samples = value as usize,
                "--batch-ms" => plan.batch = Duration::from_millis(value),
                _ => usage(&flag),
            }
        }
        plan
    }
}

fn usage(flag: &str) -> ! {
    eprintln!("coro_peers: bad argument {flag:?}");
    eprintln!("usage: coro_peers [--rounds N] [--samples S] [--batch-ms M]  (N, S, M > 0)");
    std::process::exit(2)
}

/// Runs `n` round trips of `round_trip` and returns how long they took.
#[inline(never)]
fn batch(round_trip: &mut impl FnMut(u64) -> u64, n: u64) -> Duration {
    let x = black_box(41);
    let start = Instant::now();
    for _ in 0..n {
        black_box(round_trip(black_box(x)));
    }
    start.elapsed()
}

/// How many round trips of `round_trip` fill about `target`.
fn calibrate(round_trip: &mut impl FnMut(u64) -> u64, target: Duration) -> u64 {
    let mut n = 1000;
    loop {
        let took = batch(round_trip, n);
        if took >= target / 4 {
            let per = took.as_secs_f64() / n as f64;
            return ((target.as_secs_f64() / per) as u64).max(1);
        }
        n *= 4;
    }
}

/// Something that, asked for `samples` samples, answers with `(peer, ns per round trip)`
/// pairs: one peer measured in this process, or a process that measures several.
type Source<'a> = Box<dyn FnMut(usize) -> Vec<(String, f64)> + 'a>;

/// A source that measures `round_trip` here, calibrating its batch on first use.
fn local<'a>(name: &'a str, plan: Plan, mut round_trip: impl FnMut(u64) -> u64 + 'a) -> Source<'a> {
    let mut n = None;
    Box::new(move |samples| {
        let n = *n.get_or_insert_with(|| calibrate(&mut round_trip, plan.batch));
        (0..samples)
            .map(|_| {
                let took = batch(&mut round_trip, n);
                (name.to_owned(), took.as_nanos() as f64 / n as f64)
            })
            .collect()
    })
}

/// A source that runs the command `make` builds, with the sample count and the batch length in
/// nanoseconds as its last two arguments, and reads `name ns` lines from its output.
fn external(make: impl Fn() -> Command + 'static, plan: Plan) -> Source<'static> {
    Box::new(move |samples| {
        let mut command = make();
        command.args([samples.to_string(), plan.batch.as_nanos().to_string()]);
        match command.output() {
            Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| {
                    let (name, ns) = line.split_once(' ')?;
                    Some((name.to_owned(), ns.trim().parse().ok()?))
                })
                .collect(),
            Ok(output) => {
                eprintln!(
                    "coro_peers: {command:?} failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                Vec::new()
            }
            Err(error) => {
                eprintln!("coro_peers: {command:?}: {error}");
                Vec::new()
            }
        }
    })
}

/// A `cargo +nightly` command without the variables the stable `cargo` that runs this binary
/// may have set, so that the nightly toolchain picks its own compiler.
fn nightly_cargo() -> Command {
    let mut command = Command::new("cargo");
    command.arg("+nightly");
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTDOC",
        "CARGO",
        "CARGO_TARGET_DIR",
    ] {
        command.env_remove(var);
    }
    command
}

/// Builds the nightly peer and returns the command that runs it, or says why it cannot.
fn nightly_source(bench_dir: &Path, plan: Plan) -> Result<Source<'static>, String> {
    let manifest = bench_dir.join("nightly").join("Cargo.toml");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| bench_dir.join("..").join("target"))
        .join("nightly");
    let probe = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output();
    match probe {
        Ok(output) if output.status.success() => {}
        Ok(_) => return Err("no nightly toolchain (rustup toolchain install nightly)".into()),
        Err(_) => return Err("rustup is not installed".into()),
    }
    eprintln!(
        "coro_peers: building the nightly peer ({})",
        manifest.display()
    );
    let built = nightly_cargo()
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .map_err(|error| format!("cargo +nightly: {error}"))?;
    if !built.success() {
        return Err(format!("cargo +nightly build failed ({built})"));
    }
    let run = move || {
        let mut run = nightly_cargo();
        run.args(["run", "--release", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target_dir)
            .arg("--");
        run
    };
    Ok(external(run, plan))
}

/// The CPython peer, or why it cannot run.
fn python_source(bench_dir: &Path, plan: Plan) -> Result<Source<'static>, String> {
    match Command::new("python3").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        _ => return Err("python3 is not installed".into()),
    }
    let script = bench_dir.join("python").join("send_round_trip.py");
    let run = move || {
        let mut run = Command::new("python3");
        run.arg(&script);
        run
    };
    Ok(external(run, plan))
}

/// All samples of one peer.
#[derive(Debug, Default)]
struct Stats {
    samples: Vec<f64>,
}

impl Stats {
    fn median(&self) -> f64 {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        if sorted.len() % 2 == 1 {
            sorted[mid]
        } else {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        }
    }

    fn min(&self) -> f64 {
        self.samples.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn max(&self) -> f64 {
        self.samples
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// Prints one table: a row per peer that has samples, with the ratio of `baseline`'s median
/// to the peer's.
fn table(title: &str, baseline: &str, rows: &[&str], stats: &[(String, Stats)]) {
    let find = |name: &str| {
        stats
            .iter()
            .find(|(peer, stats)| peer == name && !stats.samples.is_empty())
            .map(|(_, stats)| stats)
    };
    let base = find(baseline).map(Stats::median);
    println!();
    println!("{title}");
    let ratio_head = format!("{baseline} / peer");
    println!(
        "| {:<28} | {:>9} | {:>9} | {:>9} | {:>w$} |",
        "peer",
        "median ns",
        "min",
        "max",
        ratio_head,
        w = ratio_head.len()
    );
    println!(
        "|{:-<30}|{:->11}|{:->11}|{:->11}|{:->w$}|",
        "",
        "",
        "",
        "",
        "",
        w = ratio_head.len() + 2
    );
    for &row in rows {
        let Some(peer) = find(row) else { continue };
        let median = peer.median();
        let ratio = base.map_or_else(|| "-".to_owned(), |base| format!("{:.2}", base / median));
        println!(
            "| {:<28} | {:>9.3} | {:>9.3} | {:>9.3} | {:>w$} |",
            row,
            median,
            peer.min(),
            peer.max(),
            ratio,
            w = ratio_head.len()
        );
    }
}

fn main() {
    let plan = Plan::from_args();
    let bench_dir = Path::new(env!("CARGO_MANIFEST_DIR"));

    // genawaiter's stack generator lives in this frame, so it is made here, not in `peers`.
    genawaiter::stack::let_gen_using!(stack_gen, peers::genawaiter_stack_body);
    let mut sources: Vec<Source<'_>> = vec![
        local("plain call", plan, peers::plain()),
        local("coros", plan, peers::coros_send()),
        local("genawaiter stack", plan, peers::genawaiter_stack(stack_gen)),
        local("genawaiter rc", plan, peers::genawaiter_rc()),
        local("genawaiter sync", plan, peers::genawaiter_sync()),
        local("corosensei", plan, peers::corosensei()),
        local("coros asend", plan, peers::coros_asend()),
        local("coros Generator::next", plan, {
            let mut generator = peers::coros_generator();
            move |_| generator.next().unwrap_or_default()
        }),
        local("coros AsyncGen stream", plan, {
            let mut stream = peers::coros_stream();
            move |_| peers::next_now(&mut stream)
        }),
        local("async-stream", plan, {
            let mut stream = peers::async_stream();
            move |_| peers::next_now(&mut stream)
        }),
        local("genawaiter rc async_resume", plan, {
            let mut resume = peers::genawaiter_rc_async();
            move |_| resume()
        }),
    ];
    match nightly_source(bench_dir, plan) {
        Ok(source) => sources.push(source),
        Err(why) => println!("SKIP nightly std::ops::Coroutine: {why}"),
    }
    match python_source(bench_dir, plan) {
        Ok(source) => sources.push(source),
        Err(why) => println!("SKIP CPython generator send: {why}"),
    }

    let mut stats: Vec<(String, Stats)> = Vec::new();
    for round in 0..plan.rounds {
        eprintln!("coro_peers: round {} of {}", round + 1, plan.rounds);
        let count = sources.len();
        for i in 0..count {
            let source = &mut sources[(round + i) % count];
            for (name, ns) in source(plan.samples) {
                match stats.iter_mut().find(|(peer, _)| *peer == name) {
                    Some((_, peer)) => peer.samples.push(ns),
                    None => stats.push((name, Stats { samples: vec![ns] })),
                }
            }
        }
    }

    println!(
        "\n{} rounds x {} samples of about {} ms per peer; peer order rotated each round",
        plan.rounds,
        plan.samples,
        plan.batch.as_millis()
    );
    // Timings on a busy machine spread out; say how busy it was.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        println!(
            "load average {} on {} CPUs",
            load.join(" "),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    table(
        "send round trip (u64 in, u64 back), ns per round trip",
        "coros",
        &[
            "plain call",
            "coros",
            "nightly-unboxed",
            "nightly-boxed-dyn",
            "genawaiter stack",
            "corosensei",
            "genawaiter rc",
            "genawaiter sync",
            "cpython",
        ],
        &stats,
    );
    table(
        "async step, nothing awaited in between (u64 in, u64 back)",
        "coros",
        &["coros", "coros asend"],
        &stats,
    );
    table(
        "async step, receiving nothing: one item",
        "coros AsyncGen stream",
        &[
            "coros Generator::next",
            "coros AsyncGen stream",
            "async-stream",
            "genawaiter rc async_resume",
        ],
        &stats,
    );
}
