//! The seed's Appendix A, line for line: pyos4's scheduler with `GetTid` and `YieldControl`,
//! its tasks written as native coroutines.
//!
//! Run it with `cargo run -p coros-kernel --example pyos`; it prints exactly what
//! `python3 coros-kernel/tests/fixtures/pyos_appendix_a.py` prints (a test checks this):
//!
//! ```text
//! I'm foo 1
//! I'm bar 2
//! I'm foo 1
//! I'm bar 2
//! I'm foo 1
//! I'm bar 2
//! Task 1 terminated
//! I'm bar 2
//! I'm bar 2
//! Task 2 terminated
//! ```
//!
//! The Python `Scheduler` prints "Task N terminated" itself; the kernel prints nothing, and the
//! program does it from the exit hook.

use coros_kernel::{Kernel, OutsideKernel, tid, yield_now};

// async def foo():
//     mytid = await GetTid()
//     for i in range(3):
//         print("I'm foo", mytid)
//         await YieldControl()
async fn foo() -> Result<(), OutsideKernel> {
    let mytid = tid().await?;
    for _ in 0..3 {
        println!("I'm foo {mytid}");
        yield_now().await?;
    }
    Ok(())
}

// async def bar(): the same, five times.
async fn bar() -> Result<(), OutsideKernel> {
    let mytid = tid().await?;
    for _ in 0..5 {
        println!("I'm bar {mytid}");
        yield_now().await?;
    }
    Ok(())
}

pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut sched = Kernel::new()?;
    sched.on_exit(|exit| println!("Task {} terminated", exit.id));
    sched.spawn(foo()).detach();
    sched.spawn(bar()).detach();
    sched.run()?;
    Ok(())
}
