//! An echo load generator: `C` connections each doing 64-byte ping-pong, bounded in time and in
//! count, on loopback only. It starts each server itself (`coros_echo`, `tokio_echo`, built next
//! to it), and reports round trips per second and the server's CPU time per round trip, read
//! from the server's own scheduler statistics (`/proc/PID/task/*/schedstat`).
//!
//! ```text
//! cargo build --release -p coros-bench --bins
//! cargo run --release -p coros-bench --bin echo_load -- [--secs S] [--max N] [--runs R]
//! ```
//!
//! Each configuration runs with server and clients on the same CPU and on separate CPUs (via
//! `taskset`, when present): across CPUs, C = 1 measures mostly the idle CPU's wake-up latency.
//! Figures are medians over `--runs` runs (default 5).

use std::path::PathBuf;
use std::process::Command;

#[path = "../echo_work.rs"]
mod echo_work;

use echo_work::{Sample, has_taskset, pin, run_load, start_server};

struct Options {
    secs: f64,
    max: u64,
    runs: usize,
    conns: Vec<usize>,
}

fn options() -> Options {
    let mut o = Options {
        secs: 1.0,
        max: 5_000_000,
        runs: 5,
        conns: vec![1, 50],
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--secs" => o.secs = value.parse().unwrap_or_else(|_| usage()),
            "--max" => o.max = value.parse().unwrap_or_else(|_| usage()),
            "--runs" => o.runs = value.parse().unwrap_or_else(|_| usage()),
            "--conns" => {
                o.conns = value
                    .split(',')
                    .map(|c| c.parse().unwrap_or_else(|_| usage()))
                    .collect();
            }
            _ => usage(),
        }
    }
    o
}

fn usage() -> ! {
    eprintln!("usage: echo_load [--secs S] [--max N] [--runs R] [--conns 1,50]");
    std::process::exit(2)
}

fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    exe.with_file_name(name)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn main() {
    let o = options();
    let split = has_taskset() && std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2);
    let modes: &[(&str, Option<(usize, usize)>)] = if split {
        &[("same CPU", Some((0, 0))), ("separate CPUs", Some((0, 1)))]
    } else {
        println!("SKIP CPU pinning: taskset or a second CPU is missing");
        &[("unpinned", None)]
    };
    println!(
        "echo load: 64-byte ping-pong on loopback, {}s or {} round trips per run, medians of {} runs",
        o.secs, o.max, o.runs
    );
    println!();
    println!(
        "| {:<13} | {:>4} | {:>14} | {:>14} | {:>14} | {:>14} | {:>8} | {:>8} |",
        "placement",
        "C",
        "coros rt/s",
        "tokio rt/s",
        "coros us/rt",
        "tokio us/rt",
        "rt ratio",
        "cpu ratio"
    );
    println!(
        "|{:-<15}|{:-<6}|{:-<16}|{:-<16}|{:-<16}|{:-<16}|{:-<10}|{:-<10}|",
        "", "", "", "", "", "", "", ""
    );
    for &(mode, cpus) in modes {
        for &c in &o.conns {
            let mut results = Vec::new();
            for server in ["coros_echo", "tokio_echo"] {
                let mut command = Command::new(sibling(server));
                command.args(["--addr", "127.0.0.1:0"]);
                let (mut child, addr) = start_server(&command, cpus.map(|(s, _)| s))
                    .unwrap_or_else(|e| panic!("cannot start {server} ({e}); build with --bins"));
                if let Some((_, client_cpu)) = cpus {
                    pin(std::process::id(), &client_cpu.to_string());
                }
                let samples: Vec<Sample> = (0..o.runs)
                    .map(|_| run_load(&addr, child.id(), c, o.secs, o.max).expect("load run"))
                    .collect();
                let _ = child.kill();
                let _ = child.wait();
                results.push((
                    median(samples.iter().map(|s| s.rt_per_sec).collect()),
                    median(samples.iter().map(|s| s.cpu_us_per_rt).collect()),
                ));
            }
            let ((crt, ccpu), (trt, tcpu)) = (results[0], results[1]);
            println!(
                "| {mode:<13} | {c:>4} | {crt:>14.0} | {trt:>14.0} | {ccpu:>14.2} | {tcpu:>14.2} | {:>7.2}x | {:>7.2}x |",
                crt / trt,
                ccpu / tcpu
            );
        }
    }
    println!();
    println!(
        "rt ratio: coros / tokio round trips per second (target >= 1); cpu ratio: coros / tokio"
    );
    println!("server CPU per round trip (target <= 0.8)");
}
