//! Every side-by-side comparison of coros with its peers, in one command, written as a table
//! on the terminal, as JSON lines, as plots and as `BENCHMARKS.md`.
//!
//! ```text
//! cargo run --release -p coros-bench --bin bench_all -- [--quick] [--json FILE]
//!     [--md FILE] [--plots DIR] [--runs N] [--only SECTIONS]
//! ```
//!
//! - **layer 1 and 3** (`coro`): a send round trip against a plain call, genawaiter (stack, rc,
//!   sync), corosensei, nightly `std::ops::Coroutine` (built from `bench/nightly` when a nightly
//!   toolchain exists) and a CPython generator; one async generator step against async-stream
//!   and genawaiter's `async_resume`;
//! - **kernel** (`kernel`): task switch from 2 to 1,000,000 tasks, spawn + join, a system
//!   call's round trip, against tokio's current_thread runtime and smol's `LocalExecutor`, and
//!   the seed's scheduler, asyncio and curio in CPython;
//! - **timers** (`timers`): from 10 to 1,000,000 timers armed and fired;
//! - **memory** (`memory`): heap bytes per parked task from 10 to 1,000,000 tasks, and the
//!   resident memory of 1,000,000 parked tasks;
//! - **echo** (`echo`): round trips per second and server CPU per round trip at 1, 50 and 500
//!   loopback connections against tokio, and CPython's seed scheduler, asyncio, uvloop and curio.
//!
//! Every figure is the median of at least 5 runs, with the minimum and maximum; in each run the
//! peers take turns in a rotating order, and each ratio to coros is the median of the ratios
//! taken run by run. `--quick` runs less of everything (to 100,000 tasks, shorter echo runs)
//! and writes its report under the target directory instead of over `BENCHMARKS.md`.
//! curio and uvloop come from a virtual environment under the target directory, made on the
//! first run with `pip`; a peer that cannot run is named on a `SKIP` line.

#[path = "../../peers.rs"]
mod peers;

#[path = "../../coro_work.rs"]
mod coro_work;

#[path = "../../kernel_work.rs"]
mod kernel_work;

#[path = "../../echo_work.rs"]
mod echo_work;

mod plot;
mod record;
mod report;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use kernel_work::Peer;
use record::{Figure, Obs, Param, Sampler, Spec};

/// The system allocator, counting the bytes live while [`COUNTING`] is on: the memory rows
/// read it to find what each parked task keeps on the heap.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call goes to `System` with the caller's arguments unchanged; the counting
// only reads the layouts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// The sections, in the order they run.
const SECTIONS: [&str; 5] = ["coro", "kernel", "timers", "memory", "echo"];

/// What the command line asked for, and how big each workload is.
#[derive(Debug, Clone)]
struct Options {
    quick: bool,
    runs: usize,
    json: PathBuf,
    md: PathBuf,
    plots: PathBuf,
    only: Vec<String>,
    /// Task counts of the scaling series (switch, memory) and timer counts.
    counts: Vec<usize>,
    /// Switches per run of the switch series (at least 4 per task).
    switches: usize,
    /// Switches or calls per run of a CPython peer.
    py_switches: usize,
    /// Tasks of the spawn + join row.
    spawns: usize,
    /// System calls per run of the syscall row.
    syscalls: usize,
    /// Tasks of the resident-memory row.
    parked: usize,
    /// Echo: connection counts, seconds per run, the cap on round trips per run.
    conns: Vec<usize>,
    echo_secs: f64,
    echo_max: u64,
    /// Layer 1: about how long one sample's batch runs.
    batch: Duration,
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target"))
}

fn usage(why: &str) -> ! {
    eprintln!("bench_all: {why}");
    eprintln!(
        "usage: bench_all [--quick] [--json FILE] [--md FILE] [--plots DIR] [--runs N (>= 5)] \
         [--only coro,kernel,timers,memory,echo]"
    );
    std::process::exit(2)
}

impl Options {
    fn from_args(args: &[String]) -> Options {
        let quick = args.iter().any(|a| a == "--quick");
        let out = if quick {
            target_dir().join("bench-quick")
        } else {
            workspace_dir()
        };
        let mut o = Options {
            quick,
            runs: if quick { 5 } else { 7 },
            json: target_dir().join(if quick {
                "bench-quick/results.jsonl"
            } else {
                "bench_all.jsonl"
            }),
            md: out.join("BENCHMARKS.md"),
            plots: if quick {
                out.join("plots")
            } else {
                workspace_dir().join("bench").join("plots")
            },
            only: SECTIONS.iter().map(|s| s.to_string()).collect(),
            counts: if quick {
                vec![10, 100, 1_000, 10_000, 100_000]
            } else {
                vec![10, 100, 1_000, 10_000, 100_000, 1_000_000]
            },
            switches: if quick { 200_000 } else { 2_000_000 },
            py_switches: if quick { 20_000 } else { 200_000 },
            spawns: if quick { 100_000 } else { 1_000_000 },
            syscalls: if quick { 1_000_000 } else { 10_000_000 },
            parked: if quick { 100_000 } else { 1_000_000 },
            conns: vec![1, 50, 500],
            echo_secs: if quick { 0.2 } else { 1.0 },
            echo_max: 5_000_000,
            batch: Duration::from_millis(if quick { 5 } else { 20 }),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--quick" => {}
                "--json" => o.json = PathBuf::from(value()),
                "--md" => o.md = PathBuf::from(value()),
                "--plots" => o.plots = PathBuf::from(value()),
                "--runs" => {
                    o.runs = match value().parse() {
                        Ok(n) if n >= 5 => n,
                        _ => usage("--runs takes a number of at least 5"),
                    }
                }
                "--only" => {
                    o.only = value().split(',').map(str::to_owned).collect();
                    if let Some(bad) = o.only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                        usage(&format!("unknown section {bad:?}"));
                    }
                }
                other => usage(&format!("unknown argument {other:?}")),
            }
        }
        o
    }

    fn runs(&self, section: &str) -> bool {
        self.only.iter().any(|s| s == section)
    }
}

/// Everything a run found, for the report.
#[derive(Debug, Default)]
struct Results {
    figures: Vec<Figure>,
    skipped: Vec<String>,
    notes: Vec<String>,
}

impl Results {
    fn skip(&mut self, why: String) {
        println!("SKIP {why}");
        self.skipped.push(why);
    }

    /// Adds the figures of `spec` among `series`, printing each.
    fn add(&mut self, series: &[record::Series], spec: Spec) {
        for figure in record::figures(series, &spec) {
            let params: Vec<String> = figure
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            println!(
                "  {:<20} {:<28} {:>14.3} {:<14} [{:.3} .. {:.3}]  x coros {}  {}",
                figure.name,
                figure.peer,
                figure.median,
                figure.unit,
                figure.min,
                figure.max,
                figure
                    .ratio_to_coros
                    .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}")),
                params.join(" ")
            );
            self.figures.push(figure);
        }
    }
}

fn ns_per(d: Duration, n: usize) -> f64 {
    d.as_nanos() as f64 / n as f64
}

// ---------------------------------------------------------------------------------------------
// Layers 1 and 3.

fn coro(o: &Options, r: &mut Results) {
    println!("\n== send round trip and async generator step");
    // A run here lasts a fraction of a second, so take three times as many: the median of
    // short batches needs more of them to settle on a machine that does other work.
    let runs = 3 * o.runs;
    let plan = coro_work::Plan {
        rounds: runs,
        samples: 1,
        batch: o.batch,
    };
    let mut skipped = Vec::new();
    let series = coro_work::with_sources(plan, &mut skipped, |sources| {
        let mut samplers: Vec<Sampler<'_>> = sources
            .iter_mut()
            .map(|source| -> Sampler<'_> {
                Box::new(move || {
                    source(1)
                        .into_iter()
                        .filter_map(|(peer, ns)| {
                            let metric = if coro_work::SEND_PEERS.contains(&peer.as_str()) {
                                "send_round_trip"
                            } else if peer == "coros asend"
                                || coro_work::ITEM_PEERS.contains(&peer.as_str())
                            {
                                "async_gen_step"
                            } else {
                                return None;
                            };
                            Some(Obs::new(metric, peer, ns))
                        })
                        .collect()
                })
            })
            .collect();
        record::alternate(runs, &mut samplers)
    });
    for why in skipped {
        r.skip(why);
    }
    // In table order.
    let order = |metric: &str, names: &[&str]| -> Vec<record::Series> {
        let _ = metric;
        names
            .iter()
            .filter_map(|name| {
                series
                    .iter()
                    .find(|s| s.peer == *name && s.metric == metric)
                    .map(|s| record::Series {
                        metric: s.metric,
                        peer: s.peer.clone(),
                        runs: s.runs.clone(),
                    })
            })
            .collect()
    };
    r.add(
        &order("send_round_trip", &coro_work::SEND_PEERS),
        Spec {
            metric: "send_round_trip",
            unit: "ns",
            coros: "coros",
            params: vec![("batch_ms", Param::Int(o.batch.as_millis() as u64))],
        },
    );
    r.add(
        &order(
            "async_gen_step",
            &[
                "coros AsyncGen stream",
                "coros asend",
                "async-stream",
                "genawaiter rc async_resume",
                "coros Generator::next",
            ],
        ),
        Spec {
            metric: "async_gen_step",
            unit: "ns",
            coros: "coros AsyncGen stream",
            params: vec![("batch_ms", Param::Int(o.batch.as_millis() as u64))],
        },
    );
}

// ---------------------------------------------------------------------------------------------
// CPython peers.

/// The Python interpreters the CPython peers run on: the system's, and a virtual environment's
/// with curio and uvloop when they could be installed.
#[derive(Debug, Default)]
struct Pythons {
    system: Option<PathBuf>,
    curio: Option<PathBuf>,
    uvloop: Option<PathBuf>,
}

fn python_imports(python: &Path, module: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `command` until it ends or `limit` passes (then kills it); whether it succeeded.
fn run_bounded(command: &mut Command, limit: Duration) -> bool {
    let Ok(mut child) = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn() else {
        return false;
    };
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// The CPython interpreters for the CPython peers; `limit` bounds the time spent making the
/// virtual environment (a quick run must not wait long on the package index).
fn pythons(r: &mut Results, limit: Duration) -> Pythons {
    let mut found = Pythons::default();
    let system = PathBuf::from("python3");
    if !python_imports(&system, "sys") {
        r.skip("every CPython peer: python3 is not installed".to_owned());
        return found;
    }
    found.system = Some(system.clone());
    let venv = target_dir().join("bench-venv");
    let python = venv.join("bin").join("python");
    let wanted = ["curio", "uvloop"];
    if !wanted
        .iter()
        .all(|m| python.exists() && python_imports(&python, m))
    {
        println!(
            "installing curio and uvloop into {} with pip",
            venv.display()
        );
        let made = python.exists()
            || run_bounded(Command::new(&system).args(["-m", "venv"]).arg(&venv), limit);
        if made {
            run_bounded(
                Command::new(&python).args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "curio",
                    "uvloop",
                ]),
                limit,
            );
        }
    }
    for module in wanted {
        if python.exists() && python_imports(&python, module) {
            let slot = if module == "curio" {
                &mut found.curio
            } else {
                &mut found.uvloop
            };
            *slot = Some(python.clone());
        } else {
            r.skip(format!(
                "{module} peers: cannot install {module} into {} with pip",
                venv.display()
            ));
        }
    }
    found
}

/// A sampler that runs `bench/python/kernel_switch.py TASKS YIELDS 1 MODE` on `python` and
/// reports its figure as `peer`.
fn py_switch<'a>(
    python: &'a Path,
    metric: &'static str,
    peer: &'static str,
    mode: &'static str,
    tasks: usize,
    yields: usize,
) -> Sampler<'a> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/kernel_switch.py");
    Box::new(move || {
        let out = Command::new(python)
            .arg(&script)
            .args([
                tasks.to_string(),
                yields.to_string(),
                "1".into(),
                mode.into(),
            ])
            .output();
        match out {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .map(|ns| Obs::new(metric, peer, ns))
                .collect(),
            _ => {
                eprintln!("{peer}: kernel_switch.py {mode} failed");
                Vec::new()
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The kernel.

fn kernel(o: &Options, py: &Pythons, r: &mut Results) {
    println!("\n== kernel: task switch, spawn + join, system call");
    let mut counts = vec![2];
    counts.extend(o.counts.iter().copied());
    for &tasks in &counts {
        let yields = (o.switches / tasks).max(4);
        let mut samplers: Vec<Sampler<'_>> = Peer::ALL
            .iter()
            .map(|&peer| -> Sampler<'_> {
                Box::new(move || {
                    let took = kernel_work::switch(peer, tasks, yields);
                    vec![Obs::new(
                        "kernel_switch",
                        peer.name(),
                        ns_per(took, tasks * yields),
                    )]
                })
            })
            .collect();
        // The CPython peers, at the two counts the seed's scheduler is usually run with.
        if tasks == 2 || tasks == 1000 {
            let yields = o.py_switches / tasks;
            if let Some(python) = &py.system {
                samplers.push(py_switch(
                    python,
                    "kernel_switch",
                    "cpython seed scheduler",
                    "seed",
                    tasks,
                    yields,
                ));
                samplers.push(py_switch(
                    python,
                    "kernel_switch",
                    "cpython asyncio",
                    "asyncio",
                    tasks,
                    yields,
                ));
            }
            if let Some(python) = &py.curio {
                samplers.push(py_switch(
                    python,
                    "kernel_switch",
                    "cpython curio",
                    "curio",
                    tasks,
                    yields,
                ));
            }
        }
        let series = record::alternate(o.runs, &mut samplers);
        r.add(
            &series,
            Spec {
                metric: "kernel_switch",
                unit: "ns",
                coros: "coros",
                params: vec![
                    ("tasks", Param::Int(tasks as u64)),
                    ("yields_per_task", Param::Int(yields as u64)),
                ],
            },
        );
    }

    let n = o.spawns;
    let mut samplers: Vec<Sampler<'_>> = Peer::ALL
        .iter()
        .map(|&peer| -> Sampler<'_> {
            Box::new(move || {
                let took = kernel_work::spawn_join(peer, n);
                vec![Obs::new("kernel_spawn_join", peer.name(), ns_per(took, n))]
            })
        })
        .collect();
    let series = record::alternate(o.runs, &mut samplers);
    r.add(
        &series,
        Spec {
            metric: "kernel_spawn_join",
            unit: "ns",
            coros: "coros",
            params: vec![("tasks", Param::Int(n as u64))],
        },
    );

    let n = o.syscalls;
    let mut samplers: Vec<Sampler<'_>> = vec![
        Box::new(move || {
            let took = kernel_work::syscall_tid(n);
            vec![Obs::new("kernel_syscall", "coros", ns_per(took, n))]
        }),
        Box::new(move || {
            let took = kernel_work::layer1_send(n);
            vec![Obs::new(
                "kernel_syscall",
                "coros layer-1 send",
                ns_per(took, n),
            )]
        }),
    ];
    if let Some(python) = &py.system {
        samplers.push(py_switch(
            python,
            "kernel_syscall",
            "cpython seed scheduler",
            "seed-tid",
            1,
            o.py_switches,
        ));
    }
    let series = record::alternate(o.runs, &mut samplers);
    r.add(
        &series,
        Spec {
            metric: "kernel_syscall",
            unit: "ns",
            coros: "coros",
            params: vec![
                ("calls", Param::Int(n as u64)),
                ("call", Param::Text("tid".into())),
            ],
        },
    );
}

fn timers(o: &Options, r: &mut Results) {
    println!("\n== timers armed and fired");
    if kernel_work::process_cpu_ns().is_none() {
        r.skip(
            "timers: this OS does not tell a thread's CPU time (/proc/self/task/*/schedstat)"
                .into(),
        );
        return;
    }
    for &n in &o.counts {
        let mut samplers: Vec<Sampler<'_>> = Peer::ALL
            .iter()
            .map(|&peer| -> Sampler<'_> {
                Box::new(move || match kernel_work::timers(peer, n) {
                    Some(cpu) => vec![Obs::new(
                        "kernel_timers",
                        peer.name(),
                        cpu as f64 / n as f64,
                    )],
                    None => Vec::new(),
                })
            })
            .collect();
        let series = record::alternate(o.runs, &mut samplers);
        r.add(
            &series,
            Spec {
                metric: "kernel_timers",
                unit: "ns CPU",
                coros: "coros",
                params: vec![("timers", Param::Int(n as u64))],
            },
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Memory.

/// Heap bytes live with `n` tasks parked on `peer`, the runtime's own included.
fn heap_with(peer: Peer, n: usize) -> f64 {
    COUNTING.store(true, Ordering::SeqCst);
    let before = live_bytes();
    let during = kernel_work::park(peer, n, live_bytes);
    COUNTING.store(false, Ordering::SeqCst);
    (during - before) as f64
}

/// The child mode `--park PEER N`: parks `n` tasks and prints the peak resident memory.
fn park_child(peer: &str, n: &str) {
    let peer = Peer::parse(peer).unwrap_or_else(|| usage(&format!("unknown peer {peer}")));
    let n: usize = n
        .parse()
        .unwrap_or_else(|_| usage("--park takes a task count"));
    let rss = kernel_work::park(peer, n, kernel_work::max_rss);
    println!("{}", rss.unwrap_or(0));
}

/// Peak resident memory of a fresh process that parks `n` tasks on `peer`.
fn rss_with(peer: Peer, n: usize) -> Option<f64> {
    let out = Command::new(std::env::current_exe().ok()?)
        .args(["--park", peer.name(), &n.to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn memory(o: &Options, r: &mut Results) {
    println!("\n== memory per parked task");
    for &n in &o.counts {
        let mut samplers: Vec<Sampler<'_>> = Peer::ALL
            .iter()
            .map(|&peer| -> Sampler<'_> {
                Box::new(move || {
                    let per = (heap_with(peer, n) - heap_with(peer, 0)) / n as f64;
                    vec![Obs::new("kernel_task_heap", peer.name(), per)]
                })
            })
            .collect();
        let series = record::alternate(o.runs, &mut samplers);
        r.add(
            &series,
            Spec {
                metric: "kernel_task_heap",
                unit: "bytes",
                coros: "coros",
                params: vec![("tasks", Param::Int(n as u64))],
            },
        );
    }
    let n = o.parked;
    let base: Vec<Option<f64>> = Peer::ALL.iter().map(|&p| rss_with(p, 0)).collect();
    let mut samplers: Vec<Sampler<'_>> = Peer::ALL
        .iter()
        .zip(base)
        .map(|(&peer, base)| -> Sampler<'_> {
            Box::new(move || match (rss_with(peer, n), base) {
                (Some(full), Some(empty)) => {
                    vec![Obs::new(
                        "kernel_task_rss",
                        peer.name(),
                        (full - empty) / n as f64,
                    )]
                }
                _ => Vec::new(),
            })
        })
        .collect();
    let series = record::alternate(o.runs, &mut samplers);
    if series.is_empty() {
        r.skip("resident memory per task: this OS does not tell a process's peak RSS".into());
    }
    r.add(
        &series,
        Spec {
            metric: "kernel_task_rss",
            unit: "bytes",
            coros: "coros",
            params: vec![("tasks", Param::Int(n as u64))],
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Echo.

/// A server of the echo rows, started once and killed when dropped.
struct Server {
    peer: &'static str,
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the Rust echo servers next to this binary (cargo builds only the binary it runs).
fn build_servers() -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args([
        "build",
        "--quiet",
        "-p",
        "coros-bench",
        "--bin",
        "coros_echo",
        "--bin",
        "tokio_echo",
    ]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let status = command
        .current_dir(workspace_dir())
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo build failed ({status})"))
    }
}

fn echo(o: &Options, py: &Pythons, r: &mut Results) {
    println!("\n== echo over loopback");
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let mut commands: Vec<(&'static str, Command)> = Vec::new();
    match build_servers() {
        Ok(()) => {
            for (peer, bin) in [("coros", "coros_echo"), ("tokio", "tokio_echo")] {
                let mut c = Command::new(exe_dir.join(bin));
                c.args(["--addr", "127.0.0.1:0"]);
                commands.push((peer, c));
            }
        }
        Err(why) => {
            r.skip(format!("echo: cannot build the Rust echo servers: {why}"));
            return;
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/echo_server.py");
    let py_servers = [
        ("cpython seed scheduler", "seed", &py.system),
        ("cpython asyncio", "asyncio", &py.system),
        ("cpython uvloop", "uvloop", &py.uvloop),
        ("cpython curio", "curio", &py.curio),
    ];
    for (peer, mode, python) in py_servers {
        if let Some(python) = python {
            let mut c = Command::new(python);
            c.arg(&script).args([mode, "--addr", "127.0.0.1:0"]);
            commands.push((peer, c));
        }
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let split = echo_work::has_taskset() && cpus >= 2;
    let placement = if split {
        "server on CPU 0, clients on CPU 1"
    } else {
        r.skip("echo CPU pinning: taskset or a second CPU is missing".into());
        "unpinned"
    };
    let mut servers = Vec::new();
    for (peer, command) in &commands {
        match echo_work::start_server(command, split.then_some(0)) {
            Ok((child, addr)) => servers.push(Server { peer, child, addr }),
            Err(e) => r.skip(format!("echo {peer}: the server did not start ({e})")),
        }
    }
    if split {
        echo_work::pin(std::process::id(), "1");
    }
    for &c in &o.conns {
        let mut samplers: Vec<Sampler<'_>> = servers
            .iter()
            .map(|server| -> Sampler<'_> {
                Box::new(move || {
                    match echo_work::run_load(
                        &server.addr,
                        server.child.id(),
                        c,
                        o.echo_secs,
                        o.echo_max,
                    ) {
                        Ok(s) => vec![
                            Obs::new("echo_round_trips", server.peer, s.rt_per_sec),
                            Obs::new("echo_server_cpu", server.peer, s.cpu_us_per_rt),
                        ],
                        Err(e) => {
                            eprintln!("echo {} at {c} connections: {e}", server.peer);
                            Vec::new()
                        }
                    }
                })
            })
            .collect();
        let series = record::alternate(o.runs, &mut samplers);
        let params = vec![
            ("connections", Param::Int(c as u64)),
            ("message_bytes", Param::Int(echo_work::MSG as u64)),
            ("secs_per_run", Param::Num(o.echo_secs)),
            ("placement", Param::Text(placement.into())),
        ];
        r.add(
            &series,
            Spec {
                metric: "echo_round_trips",
                unit: "round trips/s",
                coros: "coros",
                params: params.clone(),
            },
        );
        r.add(
            &series,
            Spec {
                metric: "echo_server_cpu",
                unit: "us CPU/round trip",
                coros: "coros",
                params,
            },
        );
    }
    drop(servers);
    if split {
        echo_work::pin(std::process::id(), &format!("0-{}", cpus - 1));
    }
}

// ---------------------------------------------------------------------------------------------

/// CPU time (in clock ticks) the whole machine spent busy, and this process with its waited-for
/// children (the servers, the CPython peers, the builds it started), from `/proc`.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy = fields.iter().take(8).sum::<u64>() - fields.get(3)? - fields.get(4)?;
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    let own: Vec<u64> = own
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse().ok())
        .collect();
    Some((busy, own.iter().sum()))
}

/// Measures how much of the machine's CPU time other processes took while it ran.
struct Noise {
    start: Instant,
    ticks: Option<(u64, u64)>,
}

impl Noise {
    fn start() -> Noise {
        Noise {
            start: Instant::now(),
            ticks: cpu_ticks(),
        }
    }

    /// The share of all CPUs' time since [`Noise::start`] that other processes used.
    fn other_share(&self) -> Option<f64> {
        let (busy0, own0) = self.ticks?;
        let (busy1, own1) = cpu_ticks()?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        // Clock ticks are 1/100 s on Linux.
        let total = self.start.elapsed().as_secs_f64() * 100.0 * cpus;
        let other = (busy1 - busy0) as f64 - (own1.saturating_sub(own0)) as f64;
        (total > 0.0).then(|| (other / total).clamp(0.0, 1.0))
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--park") && args.len() == 3 {
        park_child(&args[1], &args[2]);
        return;
    }
    let o = Options::from_args(&args);
    if cfg!(debug_assertions) {
        println!("note: a debug build; run with --release for figures worth reading");
    }
    let started = Instant::now();
    let load_before = load_average();
    println!(
        "bench_all{}: medians of {} runs; load average {load_before}",
        if o.quick { " --quick" } else { "" },
        o.runs
    );
    let mut r = Results::default();
    let py = if o.runs("kernel") || o.runs("echo") {
        pythons(&mut r, Duration::from_secs(if o.quick { 60 } else { 300 }))
    } else {
        Pythons::default()
    };
    let mut shares = Vec::new();
    let mut load_mid = None;
    for section in SECTIONS {
        if !o.runs(section) {
            continue;
        }
        if section == "echo" {
            // The echo clients' threads count in the load average themselves.
            load_mid = Some(load_average());
        }
        let noise = Noise::start();
        match section {
            "coro" => coro(&o, &mut r),
            "kernel" => kernel(&o, &py, &mut r),
            "timers" => timers(&o, &mut r),
            "memory" => memory(&o, &mut r),
            _ => echo(&o, &py, &mut r),
        }
        let share = noise.other_share();
        println!(
            "  ({section}: {:.1} s; other processes took {} of the CPUs)",
            noise.start.elapsed().as_secs_f64(),
            share.map_or_else(
                || "an unknown share".into(),
                |s| format!("{:.0}%", s * 100.0)
            )
        );
        if let Some(share) = share {
            shares.push(format!("{section} {:.0}%", share * 100.0));
        }
    }
    let elapsed = started.elapsed();
    r.notes.push(match load_mid {
        Some(mid) => format!(
            "load average (1, 5, 15 min) {load_before} before the run, {mid} before the echo rows"
        ),
        None => format!(
            "load average (1, 5, 15 min) {load_before} before the run, {} after",
            load_average()
        ),
    });
    if !shares.is_empty() {
        r.notes.push(format!(
            "share of the CPUs' time other processes used during each section: {}",
            shares.join(", ")
        ));
    }

    let machine = report::Machine::probe();
    let extra = [
        ("commit", machine.commit.clone()),
        ("dirty", machine.dirty.to_string()),
        ("date", machine.date.clone()),
        ("mode", if o.quick { "quick" } else { "full" }.to_owned()),
    ];
    if let Some(dir) = o.json.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::File::create(&o.json) {
        Ok(mut file) => {
            for figure in &r.figures {
                let _ = writeln!(file, "{}", figure.json(&extra));
            }
            println!(
                "\n{} figures written to {}",
                r.figures.len(),
                o.json.display()
            );
        }
        Err(e) => eprintln!("bench_all: cannot write {}: {e}", o.json.display()),
    }
    let plots = plot::all(&r.figures, &o.plots);
    for (name, err) in &plots.failed {
        eprintln!("bench_all: plot {name}: {err}");
    }
    let md = report::markdown(&report::Input {
        figures: &r.figures,
        skipped: &r.skipped,
        notes: &r.notes,
        machine: &machine,
        plots: &plots.written,
        md_path: &o.md,
        json_path: &o.json,
        plots_dir: &o.plots,
        quick: o.quick,
        runs: o.runs,
        elapsed,
        command: &std::env::args().skip(1).collect::<Vec<_>>().join(" "),
    });
    if let Some(dir) = o.md.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(&o.md, md) {
        Ok(()) => println!("report written to {}", o.md.display()),
        Err(e) => eprintln!("bench_all: cannot write {}: {e}", o.md.display()),
    }
    println!("done in {:.0} s", elapsed.as_secs_f64());
}
