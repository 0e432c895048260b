//! The seed's last answer (PEP 525) on tokio: an async generator that sleeps 0.1 s and yields
//! 'hello', prints what it is sent, and on a thrown error sleeps 0.2 s and yields 'world'.
//!
//! Run: `cargo run --example async_gen`. The output matches CPython's
//! (`coros/tests/python/async_gen.py`), with the elapsed time rounded to a tenth of a second.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io::{self, Write};
use std::time::Duration;

use coros::{AsyncGenerator, Co, CoroutineState, Interrupt};

/// Python's `ZeroDivisionError`, the error the driver throws in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ZeroDivisionError;

impl fmt::Display for ZeroDivisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("division by zero")
    }
}

impl std::error::Error for ZeroDivisionError {}

/// What the generator receives: Python's `None` or a string.
pub(crate) type Sent = Option<&'static str>;

/// `async def gen()`, over any executor's sleep.
pub(crate) async fn r#gen<S, W>(
    co: Co<&'static str, Sent, ZeroDivisionError>,
    sleep: impl Fn(Duration) -> S,
    out: &RefCell<W>,
) -> io::Result<()>
where
    S: Future<Output = ()>,
    W: Write,
{
    loop {
        sleep(Duration::from_millis(100)).await;
        match co.yield_("hello").await {
            Ok(value) => writeln!(out.borrow_mut(), "got: {}", PyStr(value))?,
            Err(Interrupt::Throw(ZeroDivisionError)) => {
                sleep(Duration::from_millis(200)).await;
                let _ = co.yield_("world").await;
                return Ok(());
            }
            Err(_) => return Ok(()),
        }
    }
}

/// Prints `None` or the string, as Python's `print` does.
struct PyStr(Sent);

impl fmt::Display for PyStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.unwrap_or("None"))
    }
}

/// `async def main()`: drives the generator and prints what CPython prints. `now` reads the
/// executor's clock in seconds.
pub(crate) async fn run<S, W>(
    sleep: impl Fn(Duration) -> S,
    now: impl Fn() -> f64,
    out: &RefCell<W>,
) -> io::Result<f64>
where
    S: Future<Output = ()>,
    W: Write,
{
    let start = now();
    let mut g = AsyncGenerator::new(|co| r#gen(co, sleep, out));
    let yielded = |step: CoroutineState<&'static str, io::Result<()>>| match step {
        CoroutineState::Yielded(value) => Ok(value),
        CoroutineState::Complete(result) => result.map(|()| "StopAsyncIteration"),
    };
    // Python's first `asend(None)` starts the generator.
    let _v = yielded(g.start().await.map_err(io::Error::other)?)?;
    let v = yielded(g.asend(Some("something")).await.map_err(io::Error::other)?)?;
    let b = yielded(g.asend(None).await.map_err(io::Error::other)?)?;
    let c = yielded(g.asend(None).await.map_err(io::Error::other)?)?;
    let elapsed = now() - start;
    writeln!(out.borrow_mut(), "{v} {b} {c} {elapsed:.1}")?;

    let v = yielded(
        g.athrow(ZeroDivisionError)
            .await
            .map_err(io::Error::other)?,
    )?;
    writeln!(out.borrow_mut(), "{v}")?;
    Ok(elapsed)
}

#[allow(dead_code, reason = "tests include this file for `run` only")]
#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let origin = tokio::time::Instant::now();
    let out = RefCell::new(io::stdout());
    run(tokio::time::sleep, || origin.elapsed().as_secs_f64(), &out)
        .await
        .map(drop)
}
