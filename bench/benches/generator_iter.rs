//! Iterating a generator of `u64`: coros' `Generator` as an `Iterator` against genawaiter,
//! corosensei and a plain iterator (the floor). Each generator counts up forever and is made
//! once, outside the measured loop; one iteration takes the next [`ITEMS`] items and hands
//! each to `black_box`, as a consumer that does something with every item would.
#![allow(
    missing_docs,
    reason = "criterion_group! makes an undocumented public fn"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "../src/peers.rs"]
mod peers;

/// Items taken per measured iteration.
const ITEMS: u64 = 1000;

#[inline(always)]
fn consume(items: impl Iterator<Item = u64>) {
    for item in items.take(ITEMS as usize) {
        black_box(item);
    }
}

fn generator_iter(c: &mut Criterion) {
    let mut group = c.benchmark_group("generator_iter");
    group.throughput(Throughput::Elements(ITEMS));

    let mut plain = peers::plain_iter();
    group.bench_function("plain_iterator", |b| b.iter(|| consume(plain.by_ref())));

    let mut coros = peers::coros_generator();
    group.bench_function("coros", |b| b.iter(|| consume(coros.by_ref())));

    let mut rc = peers::genawaiter_rc_iter();
    group.bench_function("genawaiter_rc", |b| b.iter(|| consume(rc.by_ref())));

    genawaiter::stack::let_gen_using!(stack_gen, peers::genawaiter_stack_counter);
    let mut stack = stack_gen.into_iter();
    group.bench_function("genawaiter_stack", |b| b.iter(|| consume(stack.by_ref())));

    let mut sync = peers::genawaiter_sync_iter();
    group.bench_function("genawaiter_sync", |b| b.iter(|| consume(sync.by_ref())));

    let mut corosensei = peers::corosensei_iter();
    group.bench_function("corosensei", |b| b.iter(|| consume(corosensei.by_ref())));

    group.finish();
}

criterion_group!(benches, generator_iter);
criterion_main!(benches);
