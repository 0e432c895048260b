//! `BENCHMARKS.md`: the machine, the headline ratios, and per benchmark what it measures, a
//! table, a plot where there is a series, and why coros is faster or slower there.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::record::{Figure, group_digits};

/// What the report says about the machine and the source it measured.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) memory: String,
    pub(crate) kernel: String,
    pub(crate) rustc: String,
    pub(crate) nightly: Option<String>,
    pub(crate) python: Option<String>,
    pub(crate) commit: String,
    /// Whether the measured crates had uncommitted changes.
    pub(crate) dirty: bool,
    pub(crate) date: String,
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

impl Machine {
    pub(crate) fn probe() -> Machine {
        let cpu = output("lscpu", &[])
            .and_then(|l| {
                l.lines()
                    .find(|l| l.starts_with("Model name:"))
                    .map(|l| l["Model name:".len()..].trim().to_owned())
            })
            .or_else(|| {
                std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
                    c.lines()
                        .find(|l| l.starts_with("model name"))
                        .and_then(|l| l.split_once(':'))
                        .map(|(_, m)| m.trim().to_owned())
                })
            })
            .unwrap_or_else(|| "unknown".into());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                let kb: f64 = m
                    .lines()
                    .find(|l| l.starts_with("MemTotal:"))?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()?;
                Some(format!("{:.0} GiB", kb / 1024.0 / 1024.0))
            })
            .unwrap_or_else(|| "unknown".into());
        let workspace = crate::workspace_dir();
        let workspace = workspace.to_string_lossy();
        let commit = output("git", &["-C", &workspace, "rev-parse", "--short", "HEAD"])
            .unwrap_or_else(|| "unknown".into());
        let dirty = output(
            "git",
            &[
                "-C",
                &workspace,
                "status",
                "--porcelain",
                "--",
                "coros",
                "coros-kernel",
                "bench",
            ],
        )
        .is_some();
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory,
            kernel: output("uname", &["-sr"]).unwrap_or_else(|| "unknown".into()),
            rustc: output("rustc", &["-V"]).unwrap_or_else(|| "unknown".into()),
            nightly: output("rustup", &["run", "nightly", "rustc", "-V"]),
            python: output("python3", &["--version"]),
            commit,
            dirty,
            date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
        }
    }
}

/// Everything the report is made of.
#[derive(Debug)]
pub(crate) struct Input<'a> {
    pub(crate) figures: &'a [Figure],
    pub(crate) skipped: &'a [String],
    pub(crate) notes: &'a [String],
    pub(crate) machine: &'a Machine,
    pub(crate) plots: &'a [(&'static str, PathBuf)],
    pub(crate) md_path: &'a Path,
    pub(crate) json_path: &'a Path,
    pub(crate) plots_dir: &'a Path,
    pub(crate) quick: bool,
    pub(crate) runs: usize,
    pub(crate) elapsed: Duration,
    pub(crate) command: &'a str,
}

/// A value with as many digits as it deserves.
fn num(x: f64) -> String {
    if !x.is_finite() {
        "-".into()
    } else if x >= 10_000.0 {
        group_digits(x.round() as u64)
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn ratio(r: Option<f64>) -> String {
    match r {
        Some(r) if r.is_finite() => format!("{r:.2}"),
        _ => "-".into(),
    }
}

/// The figures named `name` whose parameter `key` (if any) equals `value`.
fn select<'a>(figs: &'a [Figure], name: &str, key: Option<(&str, u64)>) -> Vec<&'a Figure> {
    figs.iter()
        .filter(|f| f.name == name)
        .filter(|f| match key {
            None => true,
            Some((k, v)) => f.param(k).and_then(|p| p.as_f64()) == Some(v as f64),
        })
        .collect()
}

fn find<'a>(figs: &[&'a Figure], peer: &str) -> Option<&'a Figure> {
    figs.iter().find(|f| f.peer == peer).copied()
}

/// "3.1× faster than tokio", "1.2× slower than tokio" or "on par with tokio", from the peer's
/// ratio to coros; `higher_better` for throughput.
fn versus(ratio: f64, peer: &str, higher_better: bool) -> String {
    let coros_gain = if higher_better { 1.0 / ratio } else { ratio };
    if !coros_gain.is_finite() {
        format!("not comparable with {peer}")
    } else if coros_gain >= 1.05 {
        format!("{coros_gain:.1}× faster than {peer}")
    } else if coros_gain <= 1.0 / 1.05 {
        format!("{:.1}× slower than {peer}", 1.0 / coros_gain)
    } else {
        format!("on par with {peer} ({coros_gain:.2}×)")
    }
}

/// The same, for memory: "2.0× less than tokio".
fn versus_mem(ratio: f64, peer: &str) -> String {
    if !ratio.is_finite() {
        format!("not comparable with {peer}")
    } else if ratio >= 1.05 {
        format!("{ratio:.1}× less than {peer}")
    } else if ratio <= 1.0 / 1.05 {
        format!("{:.1}× more than {peer}", 1.0 / ratio)
    } else {
        format!("about as much as {peer}")
    }
}

/// The ratio to coros of `peer` among `figs`, if both ran.
fn ratio_of(figs: &[&Figure], peer: &str) -> Option<f64> {
    find(figs, peer)?.ratio_to_coros
}

/// Whether coros took at least 5% more than `peer` (for times and bytes).
fn behind(figs: &[&Figure], peer: &str) -> bool {
    ratio_of(figs, peer).is_some_and(|r| r < 1.0 / 1.05)
}

/// One sentence comparing coros with each of `peers` among `figs`.
fn compare(figs: &[&Figure], peers: &[&str], higher_better: bool, mem: bool) -> String {
    let parts: Vec<String> = peers
        .iter()
        .filter_map(|p| {
            let f = find(figs, p)?;
            let r = f.ratio_to_coros?;
            let said = if mem {
                versus_mem(r, p)
            } else {
                versus(r, p, higher_better)
            };
            // Say so when some runs disagreed with the median about which side was faster.
            let (agree, runs) = f.agreeing_runs();
            Some(if (r - 1.0).abs() >= 0.05 && agree < runs {
                format!("{said} (in {agree} of {runs} runs)")
            } else {
                said
            })
        })
        .collect();
    match parts.len() {
        0 => String::new(),
        1 => parts[0].clone(),
        n => format!("{} and {}", parts[..n - 1].join(", "), parts[n - 1]),
    }
}

/// A table of one benchmark: a row per peer.
fn table(out: &mut String, figs: &[&Figure], unit: &str) {
    let _ = writeln!(
        out,
        "| peer | median {unit} | min | max | peer ÷ coros |\n|---|---:|---:|---:|---:|"
    );
    for f in figs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            f.peer,
            num(f.median),
            num(f.min),
            num(f.max),
            ratio(f.ratio_to_coros)
        );
    }
    out.push('\n');
}

/// A table of a series: a row per value of `key`, a column per peer, each peer's cell with its
/// ratio to coros in brackets.
fn series_table(out: &mut String, figs: &[Figure], name: &str, key: &str, key_head: &str) {
    let figs: Vec<&Figure> = figs.iter().filter(|f| f.name == name).collect();
    let mut peers: Vec<&str> = Vec::new();
    let mut keys: Vec<u64> = Vec::new();
    for f in &figs {
        if !peers.contains(&f.peer.as_str()) {
            peers.push(&f.peer);
        }
        if let Some(k) = f.param(key).and_then(|p| p.as_f64())
            && !keys.contains(&(k as u64))
        {
            keys.push(k as u64);
        }
    }
    keys.sort_unstable();
    let _ = writeln!(out, "| {key_head} | {} |", peers.join(" | "));
    let _ = writeln!(out, "|---:|{}", "---:|".repeat(peers.len()));
    for k in keys {
        let row = select(
            &figs.iter().copied().cloned().collect::<Vec<_>>(),
            name,
            Some((key, k)),
        )
        .into_iter()
        .map(|f| (f.peer.clone(), f.median, f.ratio_to_coros))
        .collect::<Vec<_>>();
        let cells: Vec<String> = peers
            .iter()
            .map(|p| match row.iter().find(|(peer, _, _)| peer == p) {
                Some((peer, m, _)) if peer == "coros" => format!("**{}**", num(*m)),
                Some((_, m, Some(r))) => format!("{} ({:.2})", num(*m), r),
                Some((_, m, None)) => num(*m),
                None => "".into(),
            })
            .collect();
        let _ = writeln!(out, "| {} | {} |", group_digits(k), cells.join(" | "));
    }
    out.push('\n');
}

fn plot_link(out: &mut String, input: &Input<'_>, metric: &str, alt: &str) {
    let Some((_, path)) = input.plots.iter().find(|(m, _)| *m == metric) else {
        return;
    };
    let base = input.md_path.parent().unwrap_or(Path::new(""));
    let shown = path
        .strip_prefix(base)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.clone());
    let _ = writeln!(out, "![{alt}]({})\n", shown.to_string_lossy());
}

/// A headline: coros' median of `name` (with `key`) and its ratio to each of `peers`.
fn headline(
    out: &mut String,
    figs: &[Figure],
    what: &str,
    name: &str,
    key: Option<(&str, u64)>,
    peers: &[&str],
    (higher_better, mem): (bool, bool),
) {
    let sel = select(figs, name, key);
    let Some(coros) = find(&sel, "coros") else {
        return;
    };
    let sentence = compare(&sel, peers, higher_better, mem);
    if sentence.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "- **{what}**: {} {}; coros is {sentence}.",
        num(coros.median),
        coros.unit
    );
}

pub(crate) fn markdown(input: &Input<'_>) -> String {
    let m = input.machine;
    let figs = input.figures;
    let mut out = String::new();
    let run_command = if input.quick {
        "cargo run --release -p coros-bench --bin bench_all -- --quick"
    } else {
        "cargo run --release -p coros-bench --bin bench_all -- --json bench/results.jsonl"
    };
    let workspace = crate::workspace_dir();
    let shown = |p: &Path| {
        p.strip_prefix(&workspace)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let _ = writeln!(
        out,
        "# Benchmarks\n\n\
         coros against its peers, every comparison run side by side by one command:\n\n\
         ```sh\n{run_command}\n```\n\n\
         That command wrote this file, the plots in `{}/` and, one JSON object per \
         figure, `{}` (fields `name`, `peer`, `unit`, `median`, `min`, `max`, \
         `ratio_to_coros`, `ratio_min`, `ratio_max`, `runs`, `parameters`, `commit`, `dirty`, `date`, `mode`), so that results can \
         be compared between commits. `--quick` runs a smaller version of everything (up to \
         100,000 tasks, 0.2 s echo runs) in under two minutes and writes its report under the \
         target directory instead; it proves the command works, not how fast anything is.\n",
        shown(input.plots_dir),
        shown(input.json_path),
    );
    if input.quick {
        let _ = writeln!(
            out,
            "**This report comes from a `--quick` run: its figures are a smoke check, not \
             measurements.**\n"
        );
    }
    let _ = writeln!(out, "## The machine\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| CPU | {} |", m.cpu);
    let _ = writeln!(out, "| cores | {} |", m.cores);
    let _ = writeln!(out, "| memory | {} |", m.memory);
    let _ = writeln!(out, "| kernel | {} |", m.kernel);
    let _ = writeln!(out, "| rustc | {} |", m.rustc);
    if let Some(n) = &m.nightly {
        let _ = writeln!(out, "| nightly rustc (std::ops::Coroutine row) | {n} |");
    }
    if let Some(p) = &m.python {
        let _ = writeln!(out, "| CPython | {p} |");
    }
    let _ = writeln!(
        out,
        "| commit | {}{} |",
        m.commit,
        if m.dirty {
            " (with uncommitted changes)"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "| date | {} |", m.date);
    let _ = writeln!(
        out,
        "| run | `bench_all {}`, {} runs per figure, {:.0} s |",
        input.command,
        input.runs,
        input.elapsed.as_secs_f64()
    );
    for note in input.notes {
        let _ = writeln!(out, "| noise | {note} |");
    }
    let _ = writeln!(
        out,
        "\nThe noise rows say how busy the machine was with other work. When other processes \
         took a large share of the CPUs, absolute figures carry that noise (see each row's min \
         and max), while the ratios, taken between peers that ran one after the other within \
         the same run, carry much less of it. The echo section's share includes the loopback \
         traffic's interrupt work, which the kernel charges to no process.\n"
    );

    let _ = writeln!(out, "## Headlines\n");
    headline(
        &mut out,
        figs,
        "send round trip",
        "send_round_trip",
        None,
        &[
            "genawaiter stack",
            "genawaiter rc",
            "corosensei",
            "nightly-unboxed",
            "cpython",
        ],
        (false, false),
    );
    headline(
        &mut out,
        figs,
        "async generator step",
        "async_gen_step",
        None,
        &["async-stream", "genawaiter rc async_resume"],
        (false, false),
    );
    for tasks in [2, 1000, 100_000] {
        headline(
            &mut out,
            figs,
            &format!("task switch, {} tasks", group_digits(tasks)),
            "kernel_switch",
            Some(("tasks", tasks)),
            &["tokio", "smol", "cpython seed scheduler"],
            (false, false),
        );
    }
    headline(
        &mut out,
        figs,
        "spawn + join",
        "kernel_spawn_join",
        None,
        &["tokio", "smol"],
        (false, false),
    );
    let max_count = figs
        .iter()
        .filter(|f| f.name == "kernel_timers")
        .filter_map(|f| f.param("timers").and_then(|p| p.as_f64()))
        .fold(0.0, f64::max) as u64;
    headline(
        &mut out,
        figs,
        &format!("{} timers", group_digits(max_count)),
        "kernel_timers",
        Some(("timers", max_count)),
        &["tokio", "smol"],
        (false, false),
    );
    headline(
        &mut out,
        figs,
        &format!("heap per parked task, {} tasks", group_digits(max_count)),
        "kernel_task_heap",
        Some(("tasks", max_count)),
        &["tokio", "smol"],
        (false, true),
    );
    for c in [1, 50, 500] {
        headline(
            &mut out,
            figs,
            &format!("echo, {c} connection{}", if c == 1 { "" } else { "s" }),
            "echo_round_trips",
            Some(("connections", c)),
            &["tokio", "cpython uvloop"],
            (true, false),
        );
    }
    let _ = writeln!(
        out,
        "\n## How to read the tables\n\n\
         Every figure is the median of {} runs (three times as many for the send round trip \
         and the async step, whose runs are short), with the fastest and slowest run beside \
         it. In each run every peer of a benchmark runs once, in an order that rotates from run to run, \
         so that a change in the machine's speed falls on all peers alike. `peer ÷ coros` is \
         the median over the runs of the peer's figure divided by coros' figure in the same run: \
         for times and bytes, above 1 means coros is faster or smaller; for round trips per \
         second, below 1 means coros is faster. In the series tables the bracket after a peer's \
         figure is that ratio. Where the text says \"in k of n runs\", only k of the n runs \
         put coros on the same side as the median ratio does.\n",
        input.runs
    );

    // ----------------------------------------------------------------------------------------
    let send = select(figs, "send_round_trip", None);
    if !send.is_empty() {
        let _ = writeln!(out, "## Send round trip\n");
        let _ = writeln!(
            out,
            "One `send` of a `u64` into a suspended coroutine and the `u64` it yields back \
             (Python's `y = g.send(x)`), with the same body in every peer: receive `x`, yield \
             `x + 1`. Each run times a batch of about {} ms and divides. The plain call is the \
             floor (the body without any coroutine); nightly `std::ops::Coroutine` is what the \
             compiler's own generators cost; CPython is the generator the protocol comes from. \
             Here coros is {}.\n\n\
             Why: coros' body is an `async` block, so the compiler turns it into the same state \
             machine as a nightly coroutine; a round trip is one poll of it. What is sent and \
             what is yielded travel through a slot on the driver's stack whose address reaches \
             the yield through the poll's waker, so after inlining the exchange stays in \
             registers. genawaiter passes values through shared state (an `Rc<RefCell>`, an \
             `Arc<Mutex>`, or a stack cell behind a pointer) that every round trip writes and \
             reads, and corosensei switches whole stacks (saving and restoring registers), which \
             a state machine never does. The boxed nightly coroutine pays an indirect call that \
             the unboxed one (and coros, which is generic over its body) inline away.{}{}\n",
            figs.iter()
                .find(|f| f.name == "send_round_trip")
                .and_then(|f| f.param("batch_ms").map(|p| p.to_string()))
                .unwrap_or_default(),
            compare(
                &send,
                &[
                    "nightly-unboxed",
                    "genawaiter stack",
                    "genawaiter rc",
                    "genawaiter sync",
                    "corosensei",
                    "cpython"
                ],
                false,
                false
            ),
            if behind(&send, "nightly-unboxed") {
                " What coros adds over the unboxed nightly coroutine, and what the difference \
                 between them is made of, is the protocol around the poll: the check that the \
                 waker, the frame's id and its thread are this coroutine's before the slot is \
                 touched, and the state kept so that a send to a finished or unstarted coroutine \
                 is an error rather than a panic; a bare `resume` has neither."
            } else {
                ""
            },
            if behind(&send, "genawaiter stack") {
                " genawaiter's stack generator keeps its shared cell in the caller's frame, which \
                 after inlining is almost as cheap as coros' slot, and checks less per step."
            } else {
                ""
            }
        );
        table(&mut out, &send, "ns");
    }

    let step = select(figs, "async_gen_step", None);
    if !step.is_empty() {
        let _ = writeln!(out, "## Async generator step\n");
        let _ = writeln!(
            out,
            "One item of an async generator that awaits nothing in between, polled once with a \
             no-op waker: coros' `AsyncGen` as a `Stream` (the `coros` row), `async-stream`'s \
             `stream!` and genawaiter's `async_resume` (neither can receive a value), coros' \
             `asend` (which also sends one in) and coros' synchronous `Generator::next` for \
             reference. Here coros is {}.\n\n\
             Why: coros' async generator polls its body through the same slot as the \
             synchronous coroutine, nesting the body's poll inside the caller's with the waker \
             the executor passed, so one step is one poll plus the slot's check. async-stream \
             hands each item through a thread-local cell that the `yield` writes and the stream \
             reads, and genawaiter's `async_resume` goes through its shared `Rc` state and \
             builds a future per step. {}\n",
            compare(
                &step,
                &["async-stream", "genawaiter rc async_resume"],
                false,
                false
            ),
            if ratio_of(&step, "coros asend").is_some_and(|r| r >= 1.05) {
                "`asend` costs a little more than a plain item because the value sent in takes \
                 the slot's other direction."
            } else {
                "`asend`, which also carries a value in, costs about the same as a plain item: \
                 the value travels in the same slot, in the other direction."
            }
        );
        table(&mut out, &step, "ns");
    }

    // ----------------------------------------------------------------------------------------
    if figs.iter().any(|f| f.name == "kernel_switch") {
        let at = |n| select(figs, "kernel_switch", Some(("tasks", n)));
        let _ = writeln!(out, "## Kernel: task switch\n");
        let _ = writeln!(
            out,
            "`T` tasks each yield to the scheduler until at least {} switches are done (at least \
             4 per task), for `T` from 2 to {}; ns per switch, timed from when every task is \
             spawned until all have finished. coros yields with its `yield_now` system call, \
             tokio with `tokio::task::yield_now` on a current_thread runtime, smol with \
             `smol::future::yield_now` on a `LocalExecutor`; the CPython rows are the seed's \
             Appendix A scheduler (`await YieldControl()`), asyncio (`await asyncio.sleep(0)`) \
             and curio (`await curio.sleep(0)`), at 2 and 1,000 tasks. At 2 tasks coros is {}; \
             at 1,000 tasks {}.\n\n\
             Why: a coros task is one allocation holding the task's state and its future, its \
             ready queue is a ring of task indexes, and `yield_now` is a system call that the \
             kernel answers by re-queuing the caller: no waker is cloned, woken or dropped on \
             the way. tokio's `yield_now` hands the task's \
             waker to the runtime, which wakes it only after polling its I/O driver with a zero \
             timeout (an `epoll_wait` system call) once nothing else is ready: at 2 tasks that \
             is every other switch, hence its cost there; with more tasks the driver is polled \
             every 61 polls, and each switch pays the deferred wake, the task's atomic state \
             changes and the scheduler's budget. smol's `yield_now` wakes its own waker at once: \
             an atomic update of the `async-task` cell's state and a push on the executor's \
             queue, which may be shared with other threads. Past what the caches hold, every runtime's cost per switch grows towards that of the \
             memory it touches per task, which is where the bytes per task below matter.\n",
            group_digits(
                figs.iter()
                    .filter(|f| f.name == "kernel_switch")
                    .filter_map(|f| {
                        let t = f.param("tasks")?.as_f64()?;
                        let y = f.param("yields_per_task")?.as_f64()?;
                        Some((t * y) as u64)
                    })
                    .min()
                    .unwrap_or(0)
            ),
            group_digits(
                figs.iter()
                    .filter(|f| f.name == "kernel_switch")
                    .filter_map(|f| f.param("tasks")?.as_f64())
                    .fold(0.0, f64::max) as u64
            ),
            compare(
                &at(2),
                &[
                    "tokio",
                    "smol",
                    "cpython seed scheduler",
                    "cpython asyncio",
                    "cpython curio"
                ],
                false,
                false
            ),
            compare(
                &at(1000),
                &["tokio", "smol", "cpython seed scheduler"],
                false,
                false
            ),
        );
        series_table(&mut out, figs, "kernel_switch", "tasks", "tasks");
        plot_link(
            &mut out,
            input,
            "kernel_switch",
            "ns per switch against tasks",
        );
    }

    let spawn = select(figs, "kernel_spawn_join", None);
    if !spawn.is_empty() {
        let _ = writeln!(out, "## Kernel: spawn + join\n");
        let _ = writeln!(
            out,
            "A task spawns {} trivial tasks (each returns a number), then awaits each one's \
             handle for its value; ns per task, the whole life of a task. Here coros is {}.\n\n\
             Why: spawning in coros is a system call answered at once: one allocation shared by \
             the task and its `JoinHandle` (the future, then its result, in the same place), a \
             slot in the kernel's table and a push on the ready ring. tokio and smol allocate a \
             comparable task cell, but keep atomic reference counts and state words in it \
             because their handles and wakers may cross threads, and smol's `LocalExecutor` \
             also registers every task in a slab to cancel it when the executor drops.\n",
            group_digits(
                spawn
                    .first()
                    .and_then(|f| f.param("tasks")?.as_f64())
                    .unwrap_or(0.0) as u64
            ),
            compare(&spawn, &["tokio", "smol"], false, false)
        );
        table(&mut out, &spawn, "ns");
    }

    let sys = select(figs, "kernel_syscall", None);
    if !sys.is_empty() {
        let _ = writeln!(out, "## Kernel: system call round trip\n");
        let _ = writeln!(
            out,
            "`tid().await` in a task: the call goes up to the kernel, which answers it at once, \
             and the task goes on in the same poll; ns per call. tokio and smol have no system \
             calls to compare with; the rows beside it are coros' own layer-1 `send` round trip \
             (the floor of any exchange between a frame and its driver) and the seed's `GetTid` \
             in CPython, where every call goes through the scheduler's queue. Here coros is {}.\n\n\
             Why: the call reaches the kernel through a thread-local slot the kernel fills \
             around each poll, which costs a few loads and a check more than the layer-1 slot \
             that travels in the waker; the seed pays a task switch per call, since its \
             scheduler re-queues the task to deliver the answer.\n",
            compare(
                &sys,
                &["coros layer-1 send", "cpython seed scheduler"],
                false,
                false
            )
        );
        table(&mut out, &sys, "ns");
    }

    if figs.iter().any(|f| f.name == "kernel_timers") {
        let at = select(figs, "kernel_timers", Some(("timers", max_count)));
        let _ = writeln!(out, "## Kernel: timers\n");
        let _ = writeln!(
            out,
            "`N` tasks, each sleeping until its own deadline (64 deadlines spread between `W` \
             and `2W` after the start, `W` being 1 ms plus 1 µs per timer, so that a timer is \
             normally armed well before it is due), spawned from a task that then joins them \
             all; CPU time of the whole process per timer (the waiting costs \
             none), for `N` from 10 to {}. This includes each timer's task: spawn, arm, fire, \
             wake, finish, join. At {} timers coros is {}.\n\n\
             Why: coros keeps its timers in a `BTreeMap` keyed by deadline, which gives exact \
             cancellation at O(log n) per timer; tokio's hierarchical timing wheel arms and \
             fires in O(1) but sweeps its slots level by level; smol (async-io) also keeps a \
             `BTreeMap`, behind a lock and a queue of pending operations because its reactor \
             may be driven from any thread. At small counts the fixed cost of the first \
             `epoll_wait` and clock reads dominates every peer.\n",
            group_digits(max_count),
            group_digits(max_count),
            compare(&at, &["tokio", "smol"], false, false)
        );
        series_table(&mut out, figs, "kernel_timers", "timers", "timers");
        plot_link(
            &mut out,
            input,
            "kernel_timers",
            "CPU ns per timer against timers",
        );
    }

    if figs.iter().any(|f| f.name == "kernel_task_heap") {
        let at = select(figs, "kernel_task_heap", Some(("tasks", max_count)));
        let _ = writeln!(out, "## Kernel: memory per parked task\n");
        let _ = writeln!(
            out,
            "`N` tasks, each awaiting a future that never completes, all polled once and \
             parked; the heap bytes live at that moment minus those of the same runtime with no \
             task, divided by `N` (counted by a global allocator that adds up what is \
             allocated and freed). The future itself is the same small one for every peer, so \
             the difference is what each runtime keeps per task: its task cell, its handle and \
             its share of the queues and tables. At {} tasks coros keeps {}.\n\n\
             Why: a coros task is its future and result in one allocation plus a small slot in \
             the kernel's table; tokio's task cell carries a header made for its multi-threaded \
             scheduler (state word, queue links, owner id, vtable, and a trailer with the \
             joiner's waker) whatever the runtime's flavour. {}The resident-memory row below measures the same at {} tasks from the outside: \
             the growth of a fresh process's peak RSS, allocator overhead and page granularity \
             included.\n",
            group_digits(max_count),
            compare(&at, &["tokio", "smol"], false, true),
            if ratio_of(&at, "smol").is_some_and(|r| r < 1.05) {
                "smol's `async-task` cell holds only a state word, an awaiter slot and a vtable \
                 pointer before the future (plus the executor's slab entry), so it is about as \
                 small as coros' task, or smaller where coros' table and ready ring have just \
                 grown by doubling (the steps in the series). "
            } else {
                ""
            },
            group_digits(
                select(figs, "kernel_task_rss", None)
                    .first()
                    .and_then(|f| f.param("tasks")?.as_f64())
                    .unwrap_or(0.0) as u64
            ),
        );
        series_table(&mut out, figs, "kernel_task_heap", "tasks", "tasks");
        plot_link(
            &mut out,
            input,
            "kernel_task_heap",
            "heap bytes per parked task against tasks",
        );
        let rss = select(figs, "kernel_task_rss", None);
        if !rss.is_empty() {
            let _ = writeln!(out, "Resident memory per parked task:\n");
            table(&mut out, &rss, "bytes");
        }
    }

    if figs.iter().any(|f| f.name == "echo_round_trips") {
        let placement = figs
            .iter()
            .find(|f| f.name == "echo_round_trips")
            .and_then(|f| f.param("placement").map(|p| p.to_string()))
            .unwrap_or_default();
        let secs = figs
            .iter()
            .find(|f| f.name == "echo_round_trips")
            .and_then(|f| f.param("secs_per_run").map(|p| p.to_string()))
            .unwrap_or_default();
        let cpu50 = select(figs, "echo_server_cpu", Some(("connections", 50)));
        let cpu500 = select(figs, "echo_server_cpu", Some(("connections", 500)));
        let _ = writeln!(out, "## Echo over loopback\n");
        let _ = writeln!(
            out,
            "The repository's load generator (`bench/src/echo_work.rs`) opens `C` connections to \
             an echo server on 127.0.0.1 and runs 64-byte ping-pong on each from a thread of its \
             own, for {secs} s per run ({placement}); round trips per second over all \
             connections, and the server's CPU time per round trip read from its scheduler \
             statistics. The servers: coros-kernel's (`coros_echo`), tokio current_thread's \
             (`tokio_echo`), the seed's scheduler grown with pyos8's `ReadWait`/`WriteWait` and \
             `select` (`bench/python/echo_server.py`), and asyncio, uvloop and curio running the \
             same loop. At 1 connection coros is {}; at 50, {}; at 500, {}.\n\n\
             Why: with one connection every round trip waits on the loopback and on the \
             wake-up of the other CPU, so the rate measures latency more than the server. With \
             many connections the server's own work per round trip shows, but the clients (a \
             thread per connection, all on one CPU) often saturate first and the rates \
             converge; the server's CPU time per round trip is then the figure that separates \
             the servers. A CPU that has gone idle also takes time to wake (on this machine, \
             most of the single connection's round trip), and a server fast enough to empty its \
             queue and sleep between bursts pays that wake-up again and again, so at a middling \
             connection count its rate can fall below that of a slower server that never \
             sleeps, while its CPU per round trip stays lower. By that figure, at 50 \
             connections coros is {}; at 500, {}. coros tries each \
             read or write before waiting (a busy socket costs no `epoll_ctl`), waits with one \
             `epoll_wait` per turn and wakes a task by its index in the table; tokio's \
             current_thread runtime goes through its I/O driver's slab of scheduled I/O, its \
             wakers and its cooperative budget. The CPython servers pay the interpreter on \
             every call; the seed's scheduler also builds and scans its `select` sets on every \
             turn and takes a lock on each `queue.Queue` operation.{}\n",
            compare(
                &select(figs, "echo_round_trips", Some(("connections", 1))),
                &["tokio"],
                true,
                false
            ),
            compare(
                &select(figs, "echo_round_trips", Some(("connections", 50))),
                &["tokio", "cpython uvloop"],
                true,
                false
            ),
            compare(
                &select(figs, "echo_round_trips", Some(("connections", 500))),
                &["tokio", "cpython uvloop"],
                true,
                false
            ),
            compare(&cpu50, &["tokio", "cpython uvloop"], false, false),
            compare(&cpu500, &["tokio", "cpython uvloop"], false, false),
            if behind(&cpu50, "tokio") || behind(&cpu500, "tokio") {
                " Where coros spends more CPU per round trip than tokio, this report does not \
                 yet say why: that case is still to be profiled."
            } else {
                ""
            },
        );
        let _ = writeln!(out, "Round trips per second (higher is better):\n");
        series_table(
            &mut out,
            figs,
            "echo_round_trips",
            "connections",
            "connections",
        );
        plot_link(
            &mut out,
            input,
            "echo_round_trips",
            "round trips per second against connections",
        );
        let _ = writeln!(out, "Server CPU µs per round trip (lower is better):\n");
        series_table(
            &mut out,
            figs,
            "echo_server_cpu",
            "connections",
            "connections",
        );
        plot_link(
            &mut out,
            input,
            "echo_server_cpu",
            "server CPU per round trip against connections",
        );
    }

    if !input.skipped.is_empty() {
        let _ = writeln!(out, "## Skipped\n");
        for s in input.skipped {
            let _ = writeln!(out, "- {s}");
        }
        out.push('\n');
    }
    out
}
