//! Churn without leaks: tasks spawned and killed in batches, half parked in a sleep and half in
//! a readiness wait, while a counting allocator watches the live heap across three phases.
//!
//! By default a shortened run (60,000 tasks) keeps the suite fast; `COROS_LONG_TESTS=1` runs
//! the full 1,000,000 of issue 5.

mod counting_alloc;

use std::cell::Cell;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use coros_kernel::{
    Kernel, SystemCall, TaskId, WaitingOn, kill, readable, sleep, spawn, syscall, yield_now,
};
use counting_alloc::live_bytes;

fn long_tests() -> bool {
    std::env::var_os("COROS_LONG_TESTS").is_some_and(|v| v == "1")
}

/// Kills every task of a list from inside one system call: many victims in one graveyard.
struct KillAll(Vec<TaskId>);

impl SystemCall for KillAll {
    type Output = usize;

    fn handle(&mut self, kernel: &mut Kernel, _task: TaskId) -> Poll<usize> {
        Poll::Ready(
            self.0
                .drain(..)
                .filter(|&id| kernel.kill(id).is_ok())
                .count(),
        )
    }
}

/// What the parked tasks of a batch wait for, counted by kind.
struct CountWaits(Vec<TaskId>);

impl SystemCall for CountWaits {
    type Output = (usize, usize);

    fn handle(&mut self, kernel: &mut Kernel, _task: TaskId) -> Poll<(usize, usize)> {
        let (mut sleeping, mut reading) = (0, 0);
        for &id in &self.0 {
            match kernel.waiting_on(id) {
                Some(WaitingOn::Sleep { .. }) => sleeping += 1,
                Some(WaitingOn::Readable(_)) => reading += 1,
                _ => {}
            }
        }
        Poll::Ready((sleeping, reading))
    }
}

struct LiveTasks;

impl SystemCall for LiveTasks {
    type Output = usize;

    fn handle(&mut self, kernel: &mut Kernel, _task: TaskId) -> Poll<usize> {
        Poll::Ready(kernel.live_tasks())
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "a hundred thousand tasks on real sockets is too slow for Miri"
)]
fn churning_tasks_through_sleeps_and_readiness_waits_leaks_nothing() {
    let total: usize = if long_tests() { 1_000_000 } else { 60_000 };
    // Each batch: half the tasks sleep, half wait to read one of `PAIRS` quiet sockets.
    const PAIRS: usize = 256;
    const BATCH: usize = 2 * PAIRS;
    const PHASES: usize = 3;
    let batches_per_phase = total.div_ceil(BATCH * PHASES);

    let dropped = Rc::new(Cell::new(0usize));
    let d = dropped.clone();
    let start = Instant::now();
    let (heap, killed_joins, spawned) = Kernel::new()
        .unwrap()
        .block_on(async move {
            let pool: Rc<Vec<(UnixStream, UnixStream)>> = Rc::new(
                (0..PAIRS)
                    .map(|_| UnixStream::pair().unwrap())
                    .collect::<Vec<_>>(),
            );
            struct Count(Rc<Cell<usize>>);
            impl Drop for Count {
                fn drop(&mut self) {
                    self.0.set(self.0.get() + 1);
                }
            }
            let mut heap = Vec::new();
            let mut killed_joins = 0usize;
            let mut spawned = 0usize;
            for _phase in 0..PHASES {
                for _ in 0..batches_per_phase {
                    let mut sleepers = Vec::with_capacity(PAIRS);
                    let mut readers = Vec::with_capacity(PAIRS);
                    for i in 0..PAIRS {
                        let guard = Count(d.clone());
                        sleepers.push(
                            spawn(async move {
                                let _g = guard;
                                sleep(Duration::from_secs(3600)).await.unwrap();
                            })
                            .await
                            .unwrap(),
                        );
                        let (guard, pool) = (Count(d.clone()), pool.clone());
                        readers.push(
                            spawn(async move {
                                let _g = guard;
                                let _ = readable(pool[i].0.as_fd()).await;
                            })
                            .await
                            .unwrap(),
                        );
                    }
                    spawned += BATCH;
                    // Every task runs once and parks.
                    yield_now().await.unwrap();
                    let ids: Vec<TaskId> =
                        sleepers.iter().chain(&readers).map(|h| h.id()).collect();
                    let (sleeping, reading) = syscall(CountWaits(ids)).await.unwrap();
                    assert_eq!((sleeping, reading), (PAIRS, PAIRS));
                    // Sleepers one `kill` call each, readers all in one call.
                    for h in &sleepers {
                        kill(h.id()).await.unwrap().unwrap();
                    }
                    let readers_ids = readers.iter().map(|h| h.id()).collect();
                    assert_eq!(syscall(KillAll(readers_ids)).await.unwrap(), PAIRS);
                    yield_now().await.unwrap();
                    for h in sleepers.into_iter().chain(readers) {
                        killed_joins += usize::from(h.await.unwrap_err().is_killed());
                    }
                }
                assert_eq!(syscall(LiveTasks).await.unwrap(), 1);
                heap.push(live_bytes());
            }
            (heap, killed_joins, spawned)
        })
        .unwrap();
    let spread = heap.iter().max().unwrap() - heap.iter().min().unwrap();
    println!(
        "churn: {spawned} tasks in batches of {BATCH} ({PAIRS} sleeping, {PAIRS} reading), \
         {killed_joins} joined as killed, {} destructors; live heap after each phase {heap:?}, \
         spread {spread} bytes; {:?}",
        dropped.get(),
        start.elapsed()
    );
    assert_eq!(spawned, PHASES * batches_per_phase * BATCH);
    assert!(spawned >= total);
    assert_eq!(killed_joins, spawned);
    assert_eq!(dropped.get(), spawned, "each task's destructors ran once");
    // Per task, a leak of even one timer entry or registration would be megabytes here.
    assert!(spread <= 64 * 1024, "live heap grew by {spread} bytes");
}
