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

#[path = "../peers.rs"]
mod peers;

#[path = "../coro_work.rs"]
mod coro_work;

use std::time::Duration;

use coro_work::Plan;

fn plan_from_args() -> Plan {
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

fn usage(flag: &str) -> ! {
    eprintln!("coro_peers: bad argument {flag:?}");
    eprintln!("usage: coro_peers [--rounds N] [--samples S] [--batch-ms M]  (N, S, M > 0)");
    std::process::exit(2)
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
    let plan = plan_from_args();
    let mut skipped = Vec::new();
    let rounds = coro_work::with_sources(plan, &mut skipped, |sources| {
        coro_work::rounds(plan, sources)
    });
    for why in skipped {
        println!("SKIP {why}");
    }
    let mut stats: Vec<(String, Stats)> = Vec::new();
    for (name, ns) in rounds.into_iter().flatten() {
        match stats.iter_mut().find(|(peer, _)| *peer == name) {
            Some((_, peer)) => peer.samples.push(ns),
            None => stats.push((name, Stats { samples: vec![ns] })),
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
        &coro_work::SEND_PEERS,
        &stats,
    );
    table(
        "async step, nothing awaited in between (u64 in, u64 back)",
        "coros",
        &coro_work::ASEND_PEERS,
        &stats,
    );
    table(
        "async step, receiving nothing: one item",
        "coros AsyncGen stream",
        &coro_work::ITEM_PEERS,
        &stats,
    );
}
