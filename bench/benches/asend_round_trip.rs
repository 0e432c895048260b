//! One async-generator step with nothing awaited in between, polled once with a waker that
//! does nothing (the same poll for every peer):
//!
//! - `asend_round_trip`: coros' `AsyncGenerator::asend` (a `u64` in, a `u64` back) against
//!   the layer-1 `Coroutine::send` it is built on;
//! - `receive_nothing`: one item of coros' `AsyncGen` as a `Stream` against `async-stream`
//!   and genawaiter's `async_resume`, with coros' layer-1 `Generator` as the reference.
#![allow(
    missing_docs,
    reason = "criterion_group! makes an undocumented public fn"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../src/peers.rs"]
mod peers;

fn asend_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("asend_round_trip");
    let x = 41;

    let mut send = peers::coros_send();
    group.bench_function("coros_send", |b| b.iter(|| send(black_box(x))));

    let mut asend = peers::coros_asend();
    group.bench_function("coros_asend", |b| b.iter(|| asend(black_box(x))));

    group.finish();
}

fn receive_nothing(c: &mut Criterion) {
    let mut group = c.benchmark_group("receive_nothing");

    let mut generator = peers::coros_generator();
    group.bench_function("coros_generator_next", |b| b.iter(|| generator.next()));

    let mut stream = peers::coros_stream();
    group.bench_function("coros_stream", |b| b.iter(|| peers::next_now(&mut stream)));

    let mut async_stream = peers::async_stream();
    group.bench_function("async_stream", |b| {
        b.iter(|| peers::next_now(&mut async_stream))
    });

    let mut genawaiter = peers::genawaiter_rc_async();
    group.bench_function("genawaiter_rc_async_resume", |b| b.iter(&mut genawaiter));

    group.finish();
}

criterion_group!(benches, asend_round_trip, receive_nothing);
criterion_main!(benches);
