//! The echo load generator: `C` connections each doing 64-byte ping-pong from a thread of its
//! own, bounded in time and in count, on loopback only; and the pieces around it (starting a
//! server, pinning to a CPU, reading a process's CPU time).
//!
//! Not a module of the library: the `echo_load` and `bench_all` binaries include this file with
//! `#[path]`, so both drive the servers the same way.
// Each includer uses a subset.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// The size of one ping and of its echo.
pub(crate) const MSG: usize = 64;

/// Whether `taskset` can pin processes to CPUs here.
pub(crate) fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Pins thread (or process) `pid` to the CPUs in `cpus` (a `taskset` list such as `1` or
/// `0-3`); the threads it makes afterwards inherit the mask.
pub(crate) fn pin(pid: u32, cpus: &str) {
    let _ = Command::new("taskset")
        .args(["-pc", cpus, &pid.to_string()])
        .stdout(Stdio::null())
        .status();
}

/// Starts `command` (a server that prints `... listening on ADDR` as its first line, on CPU
/// `cpu` when given) and returns it with the address it listens on.
pub(crate) fn start_server(
    command: &Command,
    cpu: Option<usize>,
) -> std::io::Result<(Child, String)> {
    let mut cmd = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string()]).arg(command.get_program());
            c
        }
        None => Command::new(command.get_program()),
    };
    cmd.args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    let mut child = cmd.stdout(Stdio::piped()).spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    let Some(addr) = line.trim().rsplit(' ').next().filter(|a| a.contains(':')) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(std::io::Error::other(format!(
            "{:?} printed no address",
            command.get_program()
        )));
    };
    Ok((child, addr.to_owned()))
}

/// CPU time of every thread of process `pid`, in nanoseconds, from the scheduler's
/// statistics (`/proc/PID/task/*/schedstat`).
pub(crate) fn cpu_ns(pid: u32) -> u64 {
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

/// What one load run measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Round trips per second, over all connections.
    pub(crate) rt_per_sec: f64,
    /// The server's CPU time per round trip, in microseconds.
    pub(crate) cpu_us_per_rt: f64,
}

/// Opens `conns` connections to `addr` (the server's process is `pid`) and runs ping-pong on
/// all of them at once for `secs` seconds or `max` round trips, whichever comes first.
pub(crate) fn run_load(
    addr: &str,
    pid: u32,
    conns: usize,
    secs: f64,
    max: u64,
) -> std::io::Result<Sample> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let streams = (0..conns)
        .map(|_| {
            let s = TcpStream::connect(addr)?;
            s.set_nodelay(true)?;
            Ok(s)
        })
        .collect::<std::io::Result<Vec<TcpStream>>>()?;
    // Warm up each connection once.
    for mut s in &streams {
        s.write_all(&[1; MSG])?;
        let mut buf = [0; MSG];
        s.read_exact(&mut buf)?;
    }
    // Every client thread starts its first ping at once, and the clock with them.
    let ready = Arc::new(Barrier::new(conns + 1));
    let threads: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            let (stop, count, ready) = (stop.clone(), count.clone(), ready.clone());
            std::thread::spawn(move || {
                ready.wait();
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
    ready.wait();
    let cpu0 = cpu_ns(pid);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
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
    Ok(Sample {
        rt_per_sec: n as f64 / elapsed,
        cpu_us_per_rt: cpu as f64 / 1000.0 / n as f64,
    })
}
