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

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MSG: usize = 64;

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

fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Pins this process (and the threads it makes afterwards) to `cpu`.
fn pin_self(cpu: usize) {
    let _ = Command::new("taskset")
        .args(["-pc", &cpu.to_string(), &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status();
}

fn start_server(bin: &str, cpu: Option<usize>) -> (Child, String) {
    let path = sibling(bin);
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string()]).arg(&path);
            c
        }
        None => Command::new(&path),
    };
    let mut child = cmd
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {} ({e}); build with --bins", path.display()));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("server's first line");
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("an address")
        .to_owned();
    (child, addr)
}

/// CPU time of every thread of `pid`, in nanoseconds.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    dir.filter_map(|t| {
        let t = t.ok()?;
        let s = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
        s.split_whitespace().next()?.parse::<u64>().ok()
    })
    .sum()
}

struct Sample {
    rt_per_sec: f64,
    cpu_us_per_rt: f64,
}

fn run_load(addr: &str, pid: u32, conns: usize, o: &Options) -> Sample {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let streams: Vec<TcpStream> = (0..conns)
        .map(|_| {
            let s = TcpStream::connect(addr).expect("connect");
            s.set_nodelay(true).expect("nodelay");
            s
        })
        .collect();
    // Warm up each connection once.
    for mut s in &streams {
        s.write_all(&[1; MSG]).expect("send");
        let mut buf = [0; MSG];
        s.read_exact(&mut buf).expect("recv");
    }
    let cpu0 = cpu_ns(pid);
    let start = Instant::now();
    let threads: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            let (stop, count, max) = (stop.clone(), count.clone(), o.max);
            std::thread::spawn(move || {
                let ping = [7u8; MSG];
                let mut buf = [0u8; MSG];
                while !stop.load(Ordering::Relaxed) {
                    if s.write_all(&ping).is_err() || s.read_exact(&mut buf).is_err() {
                        break;
                    }
                    if count.fetch_add(1, Ordering::Relaxed) + 1 >= max {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let deadline = start + Duration::from_secs_f64(o.secs);
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_ns(pid).saturating_sub(cpu0);
    let n = count.load(Ordering::Relaxed).max(1);
    Sample {
        rt_per_sec: n as f64 / elapsed,
        cpu_us_per_rt: cpu as f64 / 1000.0 / n as f64,
    }
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
                let (mut child, addr) = start_server(server, cpus.map(|(s, _)| s));
                if let Some((_, client_cpu)) = cpus {
                    pin_self(client_cpu);
                }
                let samples: Vec<Sample> = (0..o.runs)
                    .map(|_| run_load(&addr, child.id(), c, &o))
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
