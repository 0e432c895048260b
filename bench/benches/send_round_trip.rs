//! One send round trip (a `u64` in, a `u64` back) in coros and its stable peers, with a plain
//! function call as the floor. Nightly `std::ops::Coroutine` and CPython are measured by the
//! `coro_peers` binary, which needs toolchains that criterion cannot drive.
#![allow(
    missing_docs,
    reason = "criterion_group! makes an undocumented public fn"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../src/peers.rs"]
mod peers;

fn send_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("send_round_trip");
    let x = 41;

    let mut plain = peers::plain();
    group.bench_function("plain_call", |b| b.iter(|| plain(black_box(x))));

    let mut coros = peers::coros_send();
    group.bench_function("coros", |b| b.iter(|| coros(black_box(x))));

    let mut rc = peers::genawaiter_rc();
    group.bench_function("genawaiter_rc", |b| b.iter(|| rc(black_box(x))));

    genawaiter::stack::let_gen_using!(stack_gen, peers::genawaiter_stack_body);
    let mut stack = peers::genawaiter_stack(stack_gen);
    group.bench_function("genawaiter_stack", |b| b.iter(|| stack(black_box(x))));

    let mut sync = peers::genawaiter_sync();
    group.bench_function("genawaiter_sync", |b| b.iter(|| sync(black_box(x))));

    let mut corosensei = peers::corosensei();
    group.bench_function("corosensei", |b| b.iter(|| corosensei(black_box(x))));

    group.finish();
}

criterion_group!(benches, send_round_trip);
criterion_main!(benches);
