//! coros-kernel against its peers in one run: tokio's current_thread runtime, smol's
//! `LocalExecutor`, and the seed's Python scheduler, reported as medians and ratios.
//!
//! ```text
//! cargo run --release -p coros-bench --bin kernel_peers -- [--runs N]
//! ```
//!
//! Rows:
//!
//! - **switch**: `T` tasks each yield until a million switches are done (T = 2 and T = 1,000);
//!   ns per switch. coros yields with the `yield_now` system call, tokio with
//!   `tokio::task::yield_now`, smol with `smol::future::yield_now`.
//! - **spawn + run + join**: a task spawns 1,000,000 trivial tasks, then joins each; ns per task.
//! - **syscall round trip**: `tid().await` in a task, ns per call, against one layer-1
//!   `Coroutine::send` round trip, and against the same loop awaiting a ready future instead of a
//!   system call (the cost of the loop's shape: its counter lives in the task's heap frame,
//!   which `black_box` makes the compiler store and reload on every turn).
//! - **bytes per parked task**: 1,000,000 tasks parked on a future that never completes; the
//!   growth of the process's peak RSS over an empty run, divided by the task count. Each figure
//!   comes from a fresh process (this binary re-run with `--park PEER N`).
//! - **seed scheduler**: `bench/python/kernel_switch.py` (the seed's Appendix A scheduler) with
//!   2 tasks, ns per switch; skipped with a printed line if `python3` is missing.
//!
//! Every figure is the median of `--runs` runs (default 7, at least 5); peers take turns in a
//! rotating order so that a drift of the machine's speed falls on all alike.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[path = "../kernel_work.rs"]
mod kernel_work;

use kernel_work::Peer;

const SWITCHES: usize = 1_000_000;
const SPAWNS: usize = 1_000_000;
const PARKED: usize = 1_000_000;
const SYSCALLS: usize = 10_000_000;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn ns_per(d: Duration, n: usize) -> f64 {
    d.as_nanos() as f64 / n as f64
}

/// Medians per peer of `f(peer)`, with the peers' order rotating from run to run.
fn per_peer(runs: usize, mut f: impl FnMut(Peer) -> f64) -> [f64; 3] {
    let mut samples: [Vec<f64>; 3] = Default::default();
    for run in 0..runs {
        for k in 0..3 {
            let i = (run + k) % 3;
            samples[i].push(f(Peer::ALL[i]));
        }
    }
    samples.map(median)
}

/// Child mode: park `n` tasks on `peer` and print the peak RSS in bytes.
fn park_child(peer: &str, n: &str) {
    let peer = Peer::parse(peer).unwrap_or_else(|| panic!("unknown peer {peer}"));
    let n: usize = n.parse().expect("task count");
    let rss = kernel_work::park(peer, n, kernel_work::max_rss);
    println!("{}", rss.unwrap_or(0));
}

fn park_rss(peer: Peer, n: usize) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out = Command::new(exe)
        .args(["--park", peer.name(), &n.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn python_switch(runs: usize) -> Result<f64, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/kernel_switch.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(["2", "200000", &runs.to_string()])
        .output()
        .map_err(|e| format!("python3 not available ({e})"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let xs: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    if xs.is_empty() {
        return Err("python3 printed no figures".into());
    }
    Ok(median(xs))
}

/// `n` awaits of an already-ready future in a kernel task, in the same loop as
/// `kernel_work::syscall_tid`: what that loop costs without the system call.
fn empty_await(n: usize) -> Duration {
    let kernel = coros_kernel::Kernel::new().expect("kernel");
    kernel
        .block_on(async move {
            let start = std::time::Instant::now();
            for i in 0..n {
                std::hint::black_box(std::future::ready(i).await);
            }
            start.elapsed()
        })
        .expect("run")
}

fn row(name: &str, unit: &str, v: [f64; 3], target: &str) {
    println!(
        "| {name:<34} | {:>9.1} | {:>9.1} | {:>9.1} | {:>6.2}x | {:>6.2}x | {target} |",
        v[0],
        v[1],
        v[2],
        v[0] / v[1],
        v[0] / v[2],
    );
    let _ = unit;
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--park") && args.len() == 3 {
        park_child(&args[1], &args[2]);
        return;
    }
    let mut runs = 7;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next().and_then(|v| v.parse::<usize>().ok())) {
            ("--runs", Some(n)) if n >= 5 => runs = n,
            _ => {
                eprintln!("usage: kernel_peers [--runs N (>= 5)]");
                std::process::exit(2);
            }
        }
    }

    println!("kernel peers: medians of {runs} runs; ratios are coros / peer (lower is better)");
    println!();
    println!(
        "| {:<34} | {:>9} | {:>9} | {:>9} | {:>7} | {:>7} | target |",
        "workload", "coros", "tokio", "smol", "/tokio", "/smol"
    );
    println!(
        "|{:-<36}|{:-<11}|{:-<11}|{:-<11}|{:-<9}|{:-<9}|--------|",
        "", "", "", "", "", ""
    );

    for tasks in [2usize, 1000] {
        let yields = SWITCHES / tasks;
        let v = per_peer(runs, |p| {
            ns_per(kernel_work::switch(p, tasks, yields), tasks * yields)
        });
        let name = format!("switch, {tasks} tasks (ns/switch)");
        row(&name, "ns", v, "<= 0.25x tokio, < smol");
    }

    let v = per_peer(runs, |p| ns_per(kernel_work::spawn_join(p, SPAWNS), SPAWNS));
    row("spawn+run+join 1M (ns/task)", "ns", v, "<= 0.5x smol");

    let base: [Option<f64>; 3] = Peer::ALL.map(|p| park_rss(p, 0));
    let v = per_peer(runs.min(5), |p| {
        let i = Peer::ALL.iter().position(|&q| q == p).unwrap_or(0);
        match (park_rss(p, PARKED), base[i]) {
            (Some(full), Some(empty)) => (full - empty) / PARKED as f64,
            _ => f64::NAN,
        }
    });
    row("parked task, 1M (bytes/task, RSS)", "B", v, "<= smol");

    let mut tid = Vec::new();
    let mut send = Vec::new();
    let mut floor = Vec::new();
    for _ in 0..runs {
        tid.push(ns_per(kernel_work::syscall_tid(SYSCALLS), SYSCALLS));
        send.push(ns_per(
            kernel_work::layer1_send(SYSCALLS * 10),
            SYSCALLS * 10,
        ));
        floor.push(ns_per(empty_await(SYSCALLS), SYSCALLS));
    }
    let (tid, send, floor) = (median(tid), median(send), median(floor));
    println!();
    println!(
        "syscall round trip (tid): {tid:.2} ns; layer-1 send round trip: {send:.2} ns; \
         ratio {:.2}x (target <= 2x)",
        tid / send
    );
    println!(
        "the tid loop awaiting a ready future instead: {floor:.2} ns ({:.2}x send); \
         the call itself: {:.2} ns",
        floor / send,
        tid - floor
    );

    let coros_switch = median(
        (0..runs)
            .map(|_| ns_per(kernel_work::switch(Peer::Coros, 2, SWITCHES / 2), SWITCHES))
            .collect(),
    );
    match python_switch(runs) {
        Ok(py) => println!(
            "seed's Python scheduler (python3, 2 tasks): {py:.0} ns/switch; coros {coros_switch:.1} \
             ns/switch, {:.0}x faster (target >= 100x)",
            py / coros_switch
        ),
        Err(e) => println!("SKIP seed's Python scheduler: {e}"),
    }
}
