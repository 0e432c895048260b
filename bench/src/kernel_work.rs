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

/// `tasks` tasks each yield `yields` times; returns the time taken (spawning included, which
/// is small next to the switches when `yields` is large).
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
            let start = Instant::now();
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
                for h in handles {
                    h.await.expect("join");
                }
            });
            start.elapsed()
        }
        Peer::Smol => {
            let ex = async_executor::LocalExecutor::new();
            let start = Instant::now();
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
                for h in handles {
                    h.await;
                }
            }));
            start.elapsed()
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
