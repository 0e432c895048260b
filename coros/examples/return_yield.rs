//! The seed's first answer, `def foo(): return (yield)`: prime, send 5, and the coroutine
//! completes with 5; a further send is an error that hands the value back, not a panic; and a
//! value sent before priming is refused, not silently lost.
//!
//! Run: `cargo run --example return_yield`. CPython's run of the same program is
//! `coros/tests/python/return_yield.py`.

use std::io::{self, Write};

use coros::{Co, Coroutine, CoroutineState};

/// Writes the transcript to `out`.
pub(crate) fn run(out: &mut impl Write) -> io::Result<()> {
    let new_foo = || Coroutine::new(|co: Co<(), u32>| async move { co.yield_(()).await });

    let mut f = new_foo();
    let primed = f.start().map_err(io::Error::other)?;
    writeln!(out, "primed: {primed:?}")?;
    match f.send(5).map_err(io::Error::other)? {
        CoroutineState::Complete(Ok(value)) => writeln!(out, "complete: {value}")?,
        other => writeln!(out, "unexpected: {other:?}")?,
    }
    let late = f.send(6).unwrap_err();
    writeln!(
        out,
        "send after return: {late} (value handed back: {:?})",
        late.value()
    )?;

    let mut g = new_foo();
    let early = g.send(5).unwrap_err();
    writeln!(
        out,
        "send before priming: {early} (value handed back: {:?}, status {:?})",
        early.value(),
        g.status()
    )
}

#[allow(dead_code, reason = "tests include this file for `run` only")]
fn main() -> io::Result<()> {
    run(&mut io::stdout().lock())
}
