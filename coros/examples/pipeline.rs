//! Beazley's coroutine pipelines (A Curious Course on Coroutines and Concurrency, part 2):
//! a source pushes lines into `grep`, which pushes matches into `broadcast`, which pushes each
//! one into several sinks. Every stage after the source is a coroutine that only receives
//! (`line = yield`), primed once and then fed with `send`; closing the head closes the chain.
//!
//! Run: `cargo run --example pipeline -- [PATTERN] [FILE]` (defaults: `yield` over this file).

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::io::{self, Write};
use std::rc::Rc;

use coros::{Co, Coroutine, Interrupt};

/// A stage's handle: yields nothing, receives lines.
type Stage = Co<(), String>;

/// Something lines can be pushed into: a primed receiving coroutine.
pub(crate) trait Target {
    /// Pushes one line (Python's `target.send(line)`).
    fn push(&mut self, line: String);
    /// Closes the stage, letting it clean up and close its own targets.
    fn finish(&mut self);
}

impl<F: Future<Output = ()>> Target for Coroutine<(), String, Infallible, F> {
    fn push(&mut self, line: String) {
        // A stage that finished early simply drops what it is sent, as a closed sink would.
        let _ = self.send(line);
    }

    fn finish(&mut self) {
        let _ = self.close();
    }
}

/// Makes a stage and primes it (Beazley's `@coroutine` decorator).
fn stage<F: Future<Output = ()>>(
    body: impl FnOnce(Stage) -> F,
) -> Coroutine<(), String, Infallible, F> {
    let mut co = Coroutine::new(body);
    co.start().expect("a new stage starts");
    co
}

/// Receives lines until closed.
async fn receive_all(co: Stage, mut each: impl FnMut(String)) {
    while let Ok(line) = co.yield_(()).await {
        each(line);
    }
}

/// `grep(pattern, target)`: passes on the lines that contain `pattern`.
fn grep(pattern: String, mut target: Box<dyn Target>) -> Box<dyn Target> {
    Box::new(stage(move |co| async move {
        receive_all(co, |line| {
            if line.contains(&pattern) {
                target.push(line);
            }
        })
        .await;
        target.finish();
    }))
}

/// `broadcast(targets)`: passes every line on to each target.
fn broadcast(mut targets: Vec<Box<dyn Target>>) -> Box<dyn Target> {
    Box::new(stage(move |co| async move {
        receive_all(co, |line| {
            for target in &mut targets {
                target.push(line.clone());
            }
        })
        .await;
        for target in &mut targets {
            target.finish();
        }
    }))
}

/// `printer(prefix)`: a sink that writes each line to the shared output.
fn printer<W: Write + 'static>(prefix: &'static str, out: Rc<RefCell<W>>) -> Box<dyn Target> {
    Box::new(stage(move |co| async move {
        receive_all(co, |line| {
            // An output error ends nothing here; the example's caller checks the output.
            let _ = writeln!(out.borrow_mut(), "{prefix}{line}");
        })
        .await;
    }))
}

/// `counter()`: a sink that counts lines and reports the total when closed, in its cleanup.
fn counter<W: Write + 'static>(out: Rc<RefCell<W>>) -> Box<dyn Target> {
    Box::new(stage(move |co: Stage| async move {
        let mut count = 0usize;
        loop {
            match co.yield_(()).await {
                Ok(_) => count += 1,
                Err(Interrupt::Close) => {
                    let _ = writeln!(out.borrow_mut(), "counted {count} matching lines");
                    return;
                }
                Err(_) => return,
            }
        }
    }))
}

/// Runs `text` through grep(pattern) -> broadcast -> [two printers, counter], writing to `out`.
pub(crate) fn run<W: Write + 'static>(pattern: &str, text: &str, out: Rc<RefCell<W>>) {
    let mut head = grep(
        pattern.to_owned(),
        broadcast(vec![
            printer("1: ", out.clone()),
            printer("2: ", out.clone()),
            counter(out),
        ]),
    );
    // The source: Python's `follow(file)` without the tail -f.
    for line in text.lines() {
        head.push(line.to_owned());
    }
    head.finish();
}

#[allow(dead_code, reason = "tests include this file for `run` only")]
fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let pattern = args.next().unwrap_or_else(|| "yield".to_owned());
    let path = args
        .next()
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/pipeline.rs").to_owned());
    let text = std::fs::read_to_string(&path)?;
    run(&pattern, &text, Rc::new(RefCell::new(io::stdout())));
    Ok(())
}
