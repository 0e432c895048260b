//! A ticker that sleeps between ticks beside a task that keeps the CPU busy (yielding but never
//! sleeping): the kernel still fires the ticker's timer on time, so neither starves.
//!
//! Run it with `cargo run -p coros-kernel --example sleeping_ticker`; it prints five ticks about
//! 20 ms apart and how many rounds the busy task made meanwhile.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use coros_kernel::{Kernel, sleep, spawn, yield_now};

pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let rounds = Rc::new(Cell::new(0u64));
    let r = rounds.clone();
    Kernel::new()?.block_on(async move {
        let ticker = spawn(async move {
            for tick in 1..=5 {
                sleep(Duration::from_millis(20)).await?;
                println!(
                    "tick {tick} at {:>3} ms (busy task at {} rounds)",
                    start.elapsed().as_millis(),
                    r.get()
                );
            }
            Ok::<_, coros_kernel::OutsideKernel>(())
        })
        .await?;
        while !ticker.is_finished() {
            rounds.set(rounds.get() + 1);
            yield_now().await?;
        }
        println!("busy task made {} rounds", rounds.get());
        ticker.await.map_err(|e| e.to_string())??;
        Ok::<_, Box<dyn std::error::Error>>(())
    })??;
    Ok(())
}
