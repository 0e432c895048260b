//! The layer-1 and layer-3 comparisons (a send round trip, an async step, one item received),
//! measured the same way for every peer: each sample times a batch of round trips of about a
//! fixed length and divides.
//!
//! Not a module of the library: the `coro_peers` and `bench_all` binaries include this file
//! with `#[path]`, next to `peers.rs` (as `crate::peers`), so both measure exactly the same
//! code.
// Each includer uses a subset.
#![allow(dead_code)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::peers;

/// How a run is shaped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Rounds: in each, every peer takes its samples, in an order that rotates between rounds.
    pub(crate) rounds: usize,
    /// Samples of every peer per round.
    pub(crate) samples: usize,
    /// About how long one sample's batch runs.
    pub(crate) batch: Duration,
}

/// Runs `n` round trips of `round_trip` and returns how long they took.
#[inline(never)]
pub(crate) fn batch(round_trip: &mut impl FnMut(u64) -> u64, n: u64) -> Duration {
    let x = black_box(41);
    let start = Instant::now();
    for _ in 0..n {
        black_box(round_trip(black_box(x)));
    }
    start.elapsed()
}

/// How many round trips of `round_trip` fill about `target`.
pub(crate) fn calibrate(round_trip: &mut impl FnMut(u64) -> u64, target: Duration) -> u64 {
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
pub(crate) type Source<'a> = Box<dyn FnMut(usize) -> Vec<(String, f64)> + 'a>;

/// A source that measures `round_trip` here, calibrating its batch on first use.
pub(crate) fn local<'a>(
    name: &'a str,
    plan: Plan,
    mut round_trip: impl FnMut(u64) -> u64 + 'a,
) -> Source<'a> {
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
pub(crate) fn external(make: impl Fn() -> Command + 'static, plan: Plan) -> Source<'static> {
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
                    "{command:?} failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                Vec::new()
            }
            Err(error) => {
                eprintln!("{command:?}: {error}");
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

/// Builds the nightly peer (`bench/nightly`) and returns a source that runs it, or says why it
/// cannot.
pub(crate) fn nightly_source(bench_dir: &Path, plan: Plan) -> Result<Source<'static>, String> {
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
    eprintln!("building the nightly peer ({})", manifest.display());
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
    // Run the built binary itself: `cargo run` would add cargo's own start-up to each call.
    let exe = target_dir.join("release").join("coros-bench-nightly");
    Ok(external(move || Command::new(&exe), plan))
}

/// The CPython generator peer (`bench/python/send_round_trip.py`), or why it cannot run.
pub(crate) fn python_source(bench_dir: &Path, plan: Plan) -> Result<Source<'static>, String> {
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

/// The peers of the send round trip, in table order; each name is a peer that some source
/// reports.
pub(crate) const SEND_PEERS: [&str; 9] = [
    "plain call",
    "coros",
    "nightly-unboxed",
    "nightly-boxed-dyn",
    "genawaiter stack",
    "corosensei",
    "genawaiter rc",
    "genawaiter sync",
    "cpython",
];

/// The async step: coros' `asend` against its own `send`.
pub(crate) const ASEND_PEERS: [&str; 2] = ["coros", "coros asend"];

/// Receiving nothing: one item.
pub(crate) const ITEM_PEERS: [&str; 4] = [
    "coros Generator::next",
    "coros AsyncGen stream",
    "async-stream",
    "genawaiter rc async_resume",
];

/// Makes every source of the three comparisons (genawaiter's stack generator lives in this
/// frame) and hands them to `f`; each peer that cannot run is named in `skipped` instead.
pub(crate) fn with_sources<R>(
    plan: Plan,
    skipped: &mut Vec<String>,
    f: impl FnOnce(&mut Vec<Source<'_>>) -> R,
) -> R {
    let bench_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
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
        Err(why) => skipped.push(format!("nightly std::ops::Coroutine: {why}")),
    }
    match python_source(bench_dir, plan) {
        Ok(source) => sources.push(source),
        Err(why) => skipped.push(format!("CPython generator send: {why}")),
    }
    f(&mut sources)
}

/// Runs `plan.rounds` rounds over `sources`, the order of the sources rotating from round to
/// round so that a drift of the machine's speed falls on all peers alike, and returns each
/// round's `(peer, ns)` samples.
pub(crate) fn rounds(plan: Plan, sources: &mut [Source<'_>]) -> Vec<Vec<(String, f64)>> {
    let count = sources.len();
    (0..plan.rounds)
        .map(|round| {
            eprintln!("  round {} of {}", round + 1, plan.rounds);
            let mut samples = Vec::new();
            for i in 0..count {
                samples.extend(sources[(round + i) % count](plan.samples));
            }
            samples
        })
        .collect()
}
