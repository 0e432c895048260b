//! The seed question's loop: `ping = yield pong` inside a coroutine that runs forever, and
//! `buzz = co.send(bizz)` in the caller's loop, with typed values both ways.
//!
//! Run: `cargo run --example ping_pong`. The coroutine keeps a running tally of the pings it
//! receives and answers each with a `Pong` that reports it; the caller stops after five.

use std::io::{self, Write};

use coros::{Co, Coroutine, CoroutineState};

/// What the caller sends in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ping(pub(crate) u32);

/// What the coroutine yields back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pong {
    /// How many pings it has seen.
    pub(crate) count: u32,
    /// The sum of their values.
    pub(crate) total: u32,
}

/// Writes five ping/pong exchanges to `out` and returns the last pong.
pub(crate) fn run(out: &mut impl Write) -> io::Result<Pong> {
    let mut my_coroutine = Coroutine::new(|co: Co<Pong, Ping>| async move {
        let mut pong = Pong { count: 0, total: 0 };
        loop {
            // ping = yield pong
            let Ok(Ping(ping)) = co.yield_(pong).await else {
                return pong;
            };
            pong = Pong {
                count: pong.count + 1,
                total: pong.total + ping,
            };
        }
    });
    let mut buzz = my_coroutine.start().map_err(io::Error::other)?;
    for bizz in [3, 1, 4, 1, 5] {
        writeln!(out, "send {bizz:>2} -> {buzz:?}")?;
        // buzz = myCoroutineGen.send(bizz)
        buzz = my_coroutine.send(Ping(bizz)).map_err(io::Error::other)?;
    }
    writeln!(out, "last  -> {buzz:?}")?;
    match buzz {
        CoroutineState::Yielded(pong) => Ok(pong),
        CoroutineState::Complete(pong) => Ok(pong),
    }
}

#[allow(dead_code, reason = "tests include this file for `run` only")]
fn main() -> io::Result<()> {
    run(&mut io::stdout().lock()).map(drop)
}
