//! One send round trip (a `u64` in, a `u64` back) through nightly's `std::ops::Coroutine`,
//! unboxed and as `Pin<Box<dyn Coroutine>>`, measured the same way as the stable peers in
//! `coro_peers` (the same body, the same loop, `black_box` on the way in and out).
//!
//! Usage: `coros-bench-nightly SAMPLES BATCH_NS`. Prints one line per sample and variant:
//! `name ns_per_round_trip`.
#![feature(coroutines, coroutine_trait, stmt_expr_attributes)]

use std::hint::black_box;
use std::ops::{Coroutine, CoroutineState};
use std::pin::Pin;
use std::time::{Duration, Instant};

/// What every body yields first, as in the stable peers.
const FIRST: u64 = 0;

/// The work each body does with a value it receives, as in the stable peers.
#[inline(always)]
fn step(x: u64) -> u64 {
    x.wrapping_add(1)
}

#[cold]
#[inline(never)]
fn ended() -> ! {
    panic!("the body never returns")
}

/// Makes the coroutine every variant drives, primed to its first yield.
fn make() -> impl Coroutine<u64, Yield = u64, Return = ()> + Unpin {
    #[coroutine]
    |_first: u64| {
        let mut y = FIRST;
        loop {
            y = step(yield y);
        }
    }
}

/// Runs `n` round trips and returns how long they took.
#[inline(never)]
fn batch(round_trip: &mut impl FnMut(u64) -> u64, n: u64) -> Duration {
    let x = black_box(41);
    let start = Instant::now();
    for _ in 0..n {
        black_box(round_trip(black_box(x)));
    }
    start.elapsed()
}

/// How many round trips fill about `target`.
fn calibrate(round_trip: &mut impl FnMut(u64) -> u64, target: Duration) -> u64 {
    let mut n = 1000;
    loop {
        let took = batch(round_trip, n);
        if took >= target / 4 {
            let per = took.as_secs_f64() / n as f64;
            return ((target.as_secs_f64() / per) as u64).max(1);
        }
        n *= 4;
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let samples: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let target = Duration::from_nanos(
        args.next()
            .and_then(|a| a.parse().ok())
            .unwrap_or(10_000_000),
    );

    let mut unboxed = make();
    assert!(matches!(
        Pin::new(&mut unboxed).resume(0),
        CoroutineState::Yielded(FIRST)
    ));
    let mut unboxed = move |x| match Pin::new(&mut unboxed).resume(x) {
        CoroutineState::Yielded(y) => y,
        CoroutineState::Complete(()) => ended(),
    };

    // `black_box` hides the concrete type, as for a coroutine that comes from elsewhere;
    // otherwise the compiler sees through the box and devirtualizes the call.
    let mut boxed: Pin<Box<dyn Coroutine<u64, Yield = u64, Return = ()>>> =
        black_box(Box::pin(make()));
    assert!(matches!(
        boxed.as_mut().resume(0),
        CoroutineState::Yielded(FIRST)
    ));
    let mut boxed = move |x| match boxed.as_mut().resume(x) {
        CoroutineState::Yielded(y) => y,
        CoroutineState::Complete(()) => ended(),
    };

    let n_unboxed = calibrate(&mut unboxed, target);
    let n_boxed = calibrate(&mut boxed, target);
    for _ in 0..samples {
        let took = batch(&mut unboxed, n_unboxed);
        println!(
            "nightly-unboxed {}",
            took.as_nanos() as f64 / n_unboxed as f64
        );
        let took = batch(&mut boxed, n_boxed);
        println!(
            "nightly-boxed-dyn {}",
            took.as_nanos() as f64 / n_boxed as f64
        );
    }
}
