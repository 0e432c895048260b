//! pyos5/6: a task spawns a child and waits for it, getting the child's value back (pyos's
//! `WaitTask` gave back only a bool).
//!
//! Run it with `cargo run -p coros-kernel --example spawn_wait`:
//!
//! ```text
//! Task 1: spawning a child
//! Task 1: waiting for task 2
//! Task 2: child working (0)
//! Task 2: child working (1)
//! Task 2: child working (2)
//! Task 2 terminated
//! Task 1: child returned 42
//! Task 1 terminated
//! ```

use coros_kernel::{Kernel, OutsideKernel, spawn, tid, yield_now};

async fn child() -> Result<u32, OutsideKernel> {
    let me = tid().await?;
    for i in 0..3 {
        println!("Task {me}: child working ({i})");
        yield_now().await?;
    }
    Ok(42)
}

async fn parent() -> Result<(), Box<dyn std::error::Error>> {
    let me = tid().await?;
    println!("Task {me}: spawning a child");
    let handle = spawn(child()).await?;
    println!("Task {me}: waiting for task {}", handle.id());
    let value = handle.await??;
    println!("Task {me}: child returned {value}");
    Ok(())
}

pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut kernel = Kernel::new()?;
    kernel.on_exit(|exit| println!("Task {} terminated", exit.id));
    let main = kernel.spawn(async { parent().await.map_err(|e| e.to_string()) });
    kernel.run()?;
    futures::executor::block_on(main)??;
    Ok(())
}
