//! Task switch cost of coros-kernel against tokio's current_thread runtime and smol's
//! `LocalExecutor`: `T` tasks each yield until 100,000 switches are done, for T = 2 and 1,000.
//!
//! `cargo bench -p coros-bench --bench kernel_switch`
#![allow(
    missing_docs,
    reason = "criterion_group! makes an undocumented public fn"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "../src/kernel_work.rs"]
mod kernel_work;

use kernel_work::Peer;

const SWITCHES: usize = 100_000;

fn kernel_switch(c: &mut Criterion) {
    for tasks in [2usize, 1000] {
        let mut group = c.benchmark_group(format!("kernel_switch/{tasks}_tasks"));
        group.throughput(Throughput::Elements(SWITCHES as u64));
        group.sample_size(20);
        for peer in Peer::ALL {
            group.bench_function(peer.name(), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| kernel_work::switch(peer, black_box(tasks), SWITCHES / tasks))
                        .sum()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, kernel_switch);
criterion_main!(benches);
