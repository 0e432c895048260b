//! The layer-1 and layer-3 peers, each written the way its own documentation shows.
//!
//! Not a module of the library: the criterion benches and the `coro_peers` binary include this
//! file with `#[path]`, so that both measure exactly the same code and the kernel benches do
//! not compile it.
//!
//! Every peer does the same work per round trip: it receives a `u64`, applies [`step`] and
//! yields the result back. Each constructor sets its peer up and primes it (runs the body to
//! its first yield), then returns a closure that performs one round trip; the closure is a
//! concrete type, so it inlines into the measuring loop as a direct call would.
// Each includer uses a subset of the peers.
#![allow(dead_code)]

use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};

use coros::CoroutineState;
use futures::Stream;
use genawaiter::GeneratorState;

/// What every body yields first, before anything was sent in.
pub(crate) const FIRST: u64 = 0;

/// The work each body does with a value it receives: the same cheap step for all peers.
#[inline(always)]
pub(crate) fn step(x: u64) -> u64 {
    x.wrapping_add(1)
}

/// Panics on a completion: every body here loops forever.
#[cold]
#[inline(never)]
fn ended(peer: &str) -> ! {
    panic!("{peer}: the body never returns")
}

/// Polls `future` once with a waker that does nothing and returns its output: every step
/// measured here completes on its first poll because nothing is awaited in between.
#[inline(always)]
pub(crate) fn poll_once<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => ended("a step that awaits nothing returned Pending"),
    }
}

/// Polls `stream` once for its next item with a waker that does nothing.
#[inline(always)]
pub(crate) fn next_now<S: Stream<Item = u64> + Unpin>(stream: &mut S) -> u64 {
    match Pin::new(stream).poll_next(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(Some(item)) => item,
        _ => ended("a stream that awaits nothing"),
    }
}

// ---------------------------------------------------------------------------------------------
// One send round trip: a `u64` in, a `u64` back.

/// The floor: a plain function call that does the same work.
pub(crate) fn plain() -> impl FnMut(u64) -> u64 {
    step
}

/// coros: `Coroutine::send`, Python's `y = g.send(x)`.
pub(crate) fn coros_send() -> impl FnMut(u64) -> u64 {
    use coros::{Co, Coroutine};
    let mut co = Coroutine::new(|co: Co<u64, u64>| async move {
        let mut y = FIRST;
        while let Ok(x) = co.yield_(y).await {
            y = step(x);
        }
    });
    assert!(matches!(co.start(), Ok(CoroutineState::Yielded(FIRST))));
    move |x| match co.send(x) {
        Ok(CoroutineState::Yielded(y)) => y,
        _ => ended("coros"),
    }
}

/// genawaiter's `rc` generator: the shared state is an `Rc` cell.
pub(crate) fn genawaiter_rc() -> impl FnMut(u64) -> u64 {
    async fn body(co: genawaiter::rc::Co<u64, u64>) {
        let mut y = FIRST;
        loop {
            y = step(co.yield_(y).await);
        }
    }
    let mut g = genawaiter::rc::Gen::new(body);
    // genawaiter drops the first resume's argument: this resume only primes the body.
    assert_eq!(g.resume_with(0), GeneratorState::Yielded(FIRST));
    move |x| match g.resume_with(x) {
        GeneratorState::Yielded(y) => y,
        GeneratorState::Complete(()) => ended("genawaiter rc"),
    }
}

/// genawaiter's `sync` generator: the shared state is an `Arc<Mutex>`.
pub(crate) fn genawaiter_sync() -> impl FnMut(u64) -> u64 {
    async fn body(co: genawaiter::sync::Co<u64, u64>) {
        let mut y = FIRST;
        loop {
            y = step(co.yield_(y).await);
        }
    }
    let mut g = genawaiter::sync::Gen::new(body);
    assert_eq!(g.resume_with(0), GeneratorState::Yielded(FIRST));
    move |x| match g.resume_with(x) {
        GeneratorState::Yielded(y) => y,
        GeneratorState::Complete(()) => ended("genawaiter sync"),
    }
}

/// The body of genawaiter's `stack` generator, which lives in the caller's frame: make it
/// with `let_gen_using!(g, genawaiter_stack_body)` and drive it with [`genawaiter_stack`].
pub(crate) async fn genawaiter_stack_body(co: genawaiter::stack::Co<'_, u64, u64>) {
    let mut y = FIRST;
    loop {
        y = step(co.yield_(y).await);
    }
}

/// genawaiter's `stack` generator, made by the caller with `let_gen_using!`.
pub(crate) fn genawaiter_stack<'g, 's, F: Future<Output = ()>>(
    g: &'g mut genawaiter::stack::Gen<'s, u64, u64, F>,
) -> impl FnMut(u64) -> u64 + 'g {
    assert_eq!(g.resume_with(0), GeneratorState::Yielded(FIRST));
    move |x| match g.resume_with(x) {
        GeneratorState::Yielded(y) => y,
        GeneratorState::Complete(()) => ended("genawaiter stack"),
    }
}

/// corosensei: a stackful coroutine on its own stack.
pub(crate) fn corosensei() -> impl FnMut(u64) -> u64 {
    use corosensei::{Coroutine, CoroutineResult, Yielder};
    let mut co = Coroutine::new(|yielder: &Yielder<u64, u64>, _first: u64| {
        let mut y = FIRST;
        loop {
            y = step(yielder.suspend(y));
        }
    });
    // corosensei hands the first resume's argument to the closure: it only primes here.
    assert!(matches!(co.resume(0), CoroutineResult::Yield(FIRST)));
    move |x| match co.resume(x) {
        CoroutineResult::Yield(y) => y,
        CoroutineResult::Return(_) => ended("corosensei"),
    }
}

// ---------------------------------------------------------------------------------------------
// One async step.

/// coros: one `AsyncGenerator::asend` with nothing awaited in between, polled once.
pub(crate) fn coros_asend() -> impl FnMut(u64) -> u64 {
    use coros::{AsyncGenerator, Co};
    let mut agen = AsyncGenerator::new(|co: Co<u64, u64>| async move {
        let mut y = FIRST;
        while let Ok(x) = co.yield_(y).await {
            y = step(x);
        }
    });
    assert!(matches!(
        poll_once(agen.start()),
        Ok(CoroutineState::Yielded(FIRST))
    ));
    move |x| match poll_once(agen.asend(x)) {
        Ok(CoroutineState::Yielded(y)) => y,
        _ => ended("coros asend"),
    }
}

// ---------------------------------------------------------------------------------------------
// Receiving nothing: one item of a generator or stream that counts up.

/// coros: the layer-1 `Generator`, one `Iterator::next`.
pub(crate) fn coros_generator() -> impl Iterator<Item = u64> {
    use coros::{Co, Generator};
    Generator::new(|co: Co<u64>| async move {
        let mut y = FIRST;
        while co.yield_(y).await.is_ok() {
            y = step(y);
        }
    })
}

/// coros: the layer-3 `AsyncGen` as a `Stream`, one `poll_next`.
pub(crate) fn coros_stream() -> impl Stream<Item = u64> + Unpin {
    use coros::{AsyncGen, Co};
    AsyncGen::new(|co: Co<u64>| async move {
        let mut y = FIRST;
        while co.yield_(y).await.is_ok() {
            y = step(y);
        }
    })
}

/// async-stream's `stream!`, one `poll_next`.
pub(crate) fn async_stream() -> impl Stream<Item = u64> + Unpin {
    Box::pin(async_stream::stream! {
        let mut y = FIRST;
        loop {
            yield y;
            y = step(y);
        }
    })
}

/// genawaiter's `rc` generator resumed from async code: one `async_resume`, polled once.
pub(crate) fn genawaiter_rc_async() -> impl FnMut() -> u64 {
    let mut g = genawaiter::rc::Gen::new(|co: genawaiter::rc::Co<u64>| async move {
        let mut y = FIRST;
        loop {
            co.yield_(y).await;
            y = step(y);
        }
    });
    move || match poll_once(g.async_resume()) {
        GeneratorState::Yielded(y) => y,
        GeneratorState::Complete(()) => ended("genawaiter rc async"),
    }
}

/// genawaiter's `rc` generator as an `Iterator`.
pub(crate) fn genawaiter_rc_iter() -> impl Iterator<Item = u64> {
    genawaiter::rc::Gen::new(|co: genawaiter::rc::Co<u64>| async move {
        let mut y = FIRST;
        loop {
            co.yield_(y).await;
            y = step(y);
        }
    })
    .into_iter()
}

/// genawaiter's `sync` generator as an `Iterator`.
pub(crate) fn genawaiter_sync_iter() -> impl Iterator<Item = u64> {
    genawaiter::sync::Gen::new(|co: genawaiter::sync::Co<u64>| async move {
        let mut y = FIRST;
        loop {
            co.yield_(y).await;
            y = step(y);
        }
    })
    .into_iter()
}

/// The body of genawaiter's `stack` generator that counts up: make it with
/// `let_gen_using!(g, genawaiter_stack_counter)` and iterate `g.into_iter()`.
pub(crate) async fn genawaiter_stack_counter(co: genawaiter::stack::Co<'_, u64>) {
    let mut y = FIRST;
    loop {
        co.yield_(y).await;
        y = step(y);
    }
}

/// corosensei as an `Iterator` (it has no `Iterator` impl of its own).
pub(crate) fn corosensei_iter() -> impl Iterator<Item = u64> {
    use corosensei::{Coroutine, CoroutineResult, Yielder};
    let mut co = Coroutine::new(|yielder: &Yielder<(), u64>, ()| {
        let mut y = FIRST;
        loop {
            yielder.suspend(y);
            y = step(y);
        }
    });
    core::iter::from_fn(move || match co.resume(()) {
        CoroutineResult::Yield(y) => Some(y),
        CoroutineResult::Return(_) => None,
    })
}

/// The floor: a plain iterator that counts up the same way.
pub(crate) fn plain_iter() -> impl Iterator<Item = u64> {
    core::iter::successors(Some(FIRST), |&y| Some(step(y)))
}
