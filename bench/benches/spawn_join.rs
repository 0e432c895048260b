//! Spawn + run + join of 10,000 trivial tasks from a task: coros-kernel against tokio's
//! current_thread runtime and smol's `LocalExecutor`, and the `tid` system call round trip.
//!
//! `cargo bench -p coros-bench --bench spawn_join`
#![allow(
    missing_docs,
    reason = "criterion_group! makes an undocumented public fn"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "../src/kernel_work.rs"]
mod kernel_work;

use kernel_work::Peer;

const TASKS: usize = 10_000;
const CALLS: usize = 100_000;

fn spawn_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join");
    group.throughput(Throughput::Elements(TASKS as u64));
    group.sample_size(20);
    for peer in Peer::ALL {
        group.bench_function(peer.name(), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| kernel_work::spawn_join(peer, black_box(TASKS)))
                    .sum()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("syscall_round_trip");
    group.throughput(Throughput::Elements(CALLS as u64));
    group.bench_function("tid", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| kernel_work::syscall_tid(black_box(CALLS)))
                .sum()
        })
    });
    group.finish();
}

criterion_group!(benches, spawn_join);
criterion_main!(benches);
