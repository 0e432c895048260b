//! The seed's last answer (PEP 525) on the coros kernel: the same async generator as
//! `coros`'s `async_gen` example, its body sleeping with the kernel's `sleep` system call
//! instead of tokio's. The output matches CPython's, line for line.
//!
//! Run: `cargo run -p coros-kernel --example async_gen`.

use std::cell::RefCell;
use std::io;
use std::time::{Duration, Instant};

use coros_kernel::Kernel;

#[path = "../../coros/examples/async_gen.rs"]
#[allow(dead_code, reason = "its tokio `main` is not used here")]
mod program;

/// The kernel's sleep, shaped as the seed's program wants it.
async fn kernel_sleep(duration: Duration) {
    // The generator's body runs inside a kernel task, so the call always reaches the kernel.
    coros_kernel::sleep(duration)
        .await
        .expect("the body runs inside a kernel task");
}

/// Runs the seed's program on a new kernel, writing to `out`; returns the elapsed seconds.
pub(crate) fn run(out: Vec<u8>) -> io::Result<(Vec<u8>, f64)> {
    let kernel = Kernel::new()?;
    kernel
        .block_on(async move {
            let origin = Instant::now();
            let out = RefCell::new(out);
            let elapsed =
                program::run(kernel_sleep, || origin.elapsed().as_secs_f64(), &out).await?;
            Ok((out.into_inner(), elapsed))
        })
        .map_err(io::Error::other)?
}

#[allow(dead_code, reason = "tests include this file for `run` only")]
fn main() -> io::Result<()> {
    let (out, _) = run(Vec::new())?;
    print!("{}", String::from_utf8_lossy(&out));
    Ok(())
}
