//! The kernel workloads, written once for coros-kernel and each peer (tokio's current_thread
//! runtime, smol's `LocalExecutor`), in the way each peer's documentation shows.
//!
//! Not a module of the library: the `kernel_peers` binary and the criterion benches include this
//! file with `#[path]`, so both measure exactly the same code.
// Each includer uses a subset of the workloads.
#![allow(dead_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

/// The peers of the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Coros,
    Tokio,
    Smol,
}

impl Peer {
    pub(crate) const ALL: [Peer; 3] = [Peer::Coros, Peer::Tokio, Peer::Smol];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::Coros => "coros",
            Peer::Tokio => "tokio",
            Peer::Smol => "smol",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.name() == s)
    }
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `tasks` tasks each yield `yields` times; returns the time taken from the moment all are
/// spawned until all have finished (each peer's clock starts after its spawns, so that with
/// many tasks and few yields the figure is still the switches').
pub(crate) fn switch(peer: Peer, tasks: usize, yields: usize) -> Duration {
    match peer {
        Peer::Coros => {
            let mut kernel = coros_kernel::Kernel::new().expect("kernel");
            for _ in 0..tasks {
                kernel
                    .spawn(async move {
                        for _ in 0..yields {
                            coros_kernel::yield_now().await.expect("in the kernel");
                        }
                    })
                    .detach();
            }
            let start = Instant::now();
            kernel.run().expect("run");
            start.elapsed()
        }
        Peer::Tokio => {
            let rt = tokio_rt();
            rt.block_on(async {
                let handles: Vec<_> = (0..tasks)
                    .map(|_| {
                        tokio::spawn(async move {
                            for _ in 0..yields {
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                // The spawned tasks first run when this one awaits.
                let start = Instant::now();
                for h in handles {
                    h.await.expect("join");
                }
                start.elapsed()
            })
        }
        Peer::Smol => {
            let ex = async_executor::LocalExecutor::new();
            futures::executor::block_on(ex.run(async {
                let handles: Vec<_> = (0..tasks)
                    .map(|_| {
                        ex.spawn(async move {
                            for _ in 0..yields {
                                smol::future::yield_now().await;
                            }
                        })
                    })
                    .collect();
                let start = Instant::now();
                for h in handles {
                    h.await;
                }
                start.elapsed()
            }))
        }
    }
}

/// Spawns `n` trivial tasks from a task, runs them and joins each; returns the time taken.
pub(crate) fn spawn_join(peer: Peer, n: usize) -> Duration {
    match peer {
        Peer::Coros => {
            let kernel = coros_kernel::Kernel::new().expect("kernel");
            let start = Instant::now();
            kernel
                .block_on(async move {
                    let mut handles = Vec::with_capacity(n);
                    for i in 0..n {
                        handles.push(
                            coros_kernel::spawn(async move { black_box(i) })
                                .await
                                .expect("in the kernel"),
                        );
                    }
                    for h in handles {
                        black_box(h.await.expect("join"));
                    }
                })
                .expect("run");
            start.elapsed()
        }
        Peer::Tokio => {
            let rt = tokio_rt();
            let start = Instant::now();
            rt.block_on(async {
                let mut handles = Vec::with_capacity(n);
                for i in 0..n {
                    handles.push(tokio::spawn(async move { black_box(i) }));
                }
                for h in handles {
                    black_box(h.await.expect("join"));
                }
            });
            start.elapsed()
        }
        Peer::Smol => {
            let ex = async_executor::LocalExecutor::new();
            let start = Instant::now();
            futures::executor::block_on(ex.run(async {
                let mut handles = Vec::with_capacity(n);
                for i in 0..n {
                    handles.push(ex.spawn(async move { black_box(i) }));
                }
                for h in handles {
                    black_box(h.await);
                }
            }));
            start.elapsed()
        }
    }
}

/// The CPU time every thread of this process has used so far, in nanoseconds, from the
/// scheduler's statistics (`/proc/self/task/*/schedstat`); `None` where the OS does not tell.
pub(crate) fn process_cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// How long after the start the `i`th of `n` timers fires: the deadlines spread over a window
/// that grows with `n` (1 ms plus 1 µs per timer), so that arming them all takes less time
/// than the earliest one waits and every timer is armed before it is due.
fn timer_delay(i: usize, n: usize) -> Duration {
    let window = Duration::from_millis(1) + Duration::from_micros(n as u64);
    window + window * (i % 64) as u32 / 64
}

/// Spawns `n` tasks from a task, each sleeping until its own deadline (see [`timer_delay`]),
/// and joins each; returns the CPU time the process used meanwhile, in nanoseconds (the
/// waiting itself costs none), or `None` where the OS does not tell.
pub(crate) fn timers(peer: Peer, n: usize) -> Option<u64> {
    match peer {
        Peer::Coros => {
            let kernel = coros_kernel::Kernel::new().expect("kernel");
            let cpu0 = process_cpu_ns()?;
            let start = Instant::now();
            kernel
                .block_on(async move {
                    let mut handles = Vec::with_capacity(n);
                    for i in 0..n {
                        let deadline = start + timer_delay(i, n);
                        handles.push(
                            coros_kernel::spawn(async move {
                                coros_kernel::sleep_until(deadline)
                                    .await
                                    .expect("in the kernel");
                            })
                            .await
                            .expect("in the kernel"),
                        );
                    }
                    for h in handles {
                        h.await.expect("join");
                    }
                })
                .expect("run");
            Some(process_cpu_ns()? - cpu0)
        }
        Peer::Tokio => {
            let rt = tokio_rt();
            let cpu0 = process_cpu_ns()?;
            let start = tokio::time::Instant::now();
            rt.block_on(async {
                let mut handles = Vec::with_capacity(n);
                for i in 0..n {
                    let deadline = start + timer_delay(i, n);
                    handles.push(tokio::spawn(tokio::time::sleep_until(deadline)));
                }
                for h in handles {
                    h.await.expect("join");
                }
            });
            Some(process_cpu_ns()? - cpu0)
        }
        Peer::Smol => {
            let ex = async_executor::LocalExecutor::new();
            let cpu0 = process_cpu_ns()?;
            let start = Instant::now();
            // smol's own `block_on` drives the timers' reactor on this thread.
            smol::block_on(ex.run(async {
                let mut handles = Vec::with_capacity(n);
                for i in 0..n {
                    let deadline = start + timer_delay(i, n);
                    handles.push(ex.spawn(async move {
                        smol::Timer::at(deadline).await;
                    }));
                }
                for h in handles {
                    h.await;
                }
            }));
            Some(process_cpu_ns()? - cpu0)
        }
    }
}

/// `n` `tid()` system calls in one task; returns the time taken.
pub(crate) fn syscall_tid(n: usize) -> Duration {
    let kernel = coros_kernel::Kernel::new().expect("kernel");
    kernel
        .block_on(async move {
            let start = Instant::now();
            for _ in 0..n {
                black_box(coros_kernel::tid().await.expect("in the kernel"));
            }
            start.elapsed()
        })
        .expect("run")
}

/// `n` layer-1 `send` round trips on a coros `Coroutine` (a `u64` in, a `u64` back).
pub(crate) fn layer1_send(n: usize) -> Duration {
    use coros::{Co, Coroutine, CoroutineState};
    let mut co = Coroutine::new(|co: Co<u64, u64>| async move {
        let mut y = 0u64;
        while let Ok(x) = co.yield_(y).await {
            y = x.wrapping_add(1);
        }
    });
    assert!(matches!(co.start(), Ok(CoroutineState::Yielded(0))));
    let start = Instant::now();
    for i in 0..n as u64 {
        match co.send(black_box(i)) {
            Ok(CoroutineState::Yielded(y)) => {
                black_box(y);
            }
            _ => unreachable!("the body loops forever"),
        }
    }
    start.elapsed()
}

/// Parks `n` tasks (each awaiting a future that never completes), then gives back what
/// `measure` returned once all of them have been polled once and are parked.
pub(crate) fn park<R: 'static>(peer: Peer, n: usize, measure: fn() -> R) -> R {
    match peer {
        Peer::Coros => {
            let kernel = coros_kernel::Kernel::new().expect("kernel");
            kernel
                .block_on(async move {
                    for _ in 0..n {
                        coros_kernel::spawn(std::future::pending::<()>())
                            .await
                            .expect("in the kernel")
                            .detach();
                    }
                    // Every task runs once (and parks) before this one runs again.
                    coros_kernel::yield_now().await.expect("in the kernel");
                    measure()
                })
                .expect("run")
        }
        Peer::Tokio => tokio_rt().block_on(async move {
            for _ in 0..n {
                drop(tokio::spawn(std::future::pending::<()>()));
            }
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            measure()
        }),
        Peer::Smol => {
            let ex = async_executor::LocalExecutor::new();
            futures::executor::block_on(ex.run(async {
                for _ in 0..n {
                    ex.spawn(std::future::pending::<()>()).detach();
                }
                smol::future::yield_now().await;
                smol::future::yield_now().await;
                measure()
            }))
        }
    }
}

/// The process's peak resident set size in bytes (`VmHWM`), if the OS tells.
pub(crate) fn max_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
