//! The main demo: every layer-1 example in turn, each under a heading.
//!
//! Run: `cargo run --example tour` (from `coros/`, or with `-p coros` from the workspace root).

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

#[path = "async_gen.rs"]
mod async_gen;
#[path = "awaitable.rs"]
mod awaitable;
#[path = "ping_pong.rs"]
mod ping_pong;
#[path = "pipeline.rs"]
mod pipeline;
#[path = "return_yield.rs"]
mod return_yield;

pub(crate) fn main() -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "== ping_pong: ping = yield pong / buzz = co.send(bizz)"
    )?;
    ping_pong::run(&mut out)?;
    writeln!(out, "\n== return_yield: def foo(): return (yield)")?;
    return_yield::run(&mut out)?;
    drop(out);
    println!("\n== awaitable: await Awaitable() tunnels yields up and sends down");
    awaitable::run(&RefCell::new(io::stdout().lock()))?;
    println!("\n== pipeline: grep('yield') -> broadcast -> [printer, printer, counter]");
    let text = include_str!("pipeline.rs");
    pipeline::run("yield", text, Rc::new(RefCell::new(io::stdout())));

    println!("\n== async_gen: PEP 525's asend / athrow, the body sleeping on tokio");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    runtime.block_on(async {
        let origin = tokio::time::Instant::now();
        let out = RefCell::new(io::stdout());
        async_gen::run(tokio::time::sleep, || origin.elapsed().as_secs_f64(), &out)
            .await
            .map(drop)
    })
}
