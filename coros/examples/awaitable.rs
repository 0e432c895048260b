//! The seed's `Awaitable` walk-through: a sub-coroutine yields 1, 2, 3, receives "one", "two",
//! "three" and returns 42 to the coroutine that awaits it — Python's `await` / `yield from`.
//!
//! Run: `cargo run --example awaitable`. It prints, line for line, what CPython prints for the
//! same program (`coros/tests/python/awaitable.py`), the driver printing what each send returned.

use std::cell::RefCell;
use std::io::{self, Write};

use coros::{Co, Coroutine, CoroutineState};

type Handle = Co<u32, &'static str>;

/// Python's `Awaitable.__await__`: three yields, then a return value.
async fn awaitable<W: Write>(co: Handle, out: &RefCell<W>) -> io::Result<u32> {
    for step in 1..=3 {
        let Ok(value) = co.yield_(step).await else {
            unreachable!("nothing is thrown in and the coroutine is never closed early")
        };
        writeln!(out.borrow_mut(), "Awaitable received: {value}")?;
    }
    Ok(42)
}

/// Python's `async def foo()`, awaiting the sub-coroutine.
async fn foo<W: Write>(co: Handle, out: &RefCell<W>) -> io::Result<()> {
    writeln!(out.borrow_mut(), "foo start")?;
    let result = awaitable(co, out).await?;
    writeln!(out.borrow_mut(), "foo received result: {result}")?;
    writeln!(out.borrow_mut(), "foo end")
}

/// Drives `foo()` as the seed's interactive session does, printing each send's result to
/// `out` (body and driver share it, as both print to one stdout in Python).
pub(crate) fn run<W: Write>(out: &RefCell<W>) -> io::Result<()> {
    let mut f_coro = Coroutine::new(|co: Handle| foo(co, out));
    let mut step = f_coro.start().map_err(io::Error::other)?;
    let mut words = ["one", "two", "three"].into_iter();
    loop {
        match step {
            CoroutineState::Yielded(value) => writeln!(out.borrow_mut(), "{value}")?,
            CoroutineState::Complete(result) => {
                result?;
                // Python raises StopIteration with the return value, None here.
                return writeln!(out.borrow_mut(), "StopIteration None");
            }
        }
        let word = words.next().expect("foo completes after three sends");
        step = f_coro.send(word).map_err(io::Error::other)?;
    }
}

#[allow(dead_code, reason = "tests include this file for `run` only")]
fn main() -> io::Result<()> {
    run(&RefCell::new(io::stdout().lock()))
}
