//! pyos6: killing a task that loops forever. The victim is dropped where it waits (its guard's
//! destructor runs) and whoever joins it learns it was killed.
//!
//! Run it with `cargo run -p coros-kernel --example kill_loop`:
//!
//! ```text
//! Task 2: looping (0)
//! Task 2: looping (1)
//! Task 2: looping (2)
//! Task 1: killing task 2
//! Task 2: cleaned up
//! Task 2 terminated (Killed)
//! Task 1: task 2 was killed
//! Task 1 terminated (Completed)
//! ```

use coros_kernel::{Kernel, kill, spawn, tid, yield_now};

struct Cleanup(coros_kernel::TaskId);

impl Drop for Cleanup {
    fn drop(&mut self) {
        println!("Task {}: cleaned up", self.0);
    }
}

async fn looper() {
    let me = tid().await.expect("inside the kernel");
    let _guard = Cleanup(me);
    for i in 0.. {
        println!("Task {me}: looping ({i})");
        yield_now().await.expect("inside the kernel");
    }
}

async fn killer() -> Result<(), Box<dyn std::error::Error>> {
    let me = tid().await?;
    let victim = spawn(looper()).await?;
    for _ in 0..3 {
        yield_now().await?;
    }
    println!("Task {me}: killing task {}", victim.id());
    let id = victim.id();
    kill(id).await??;
    if victim.await.is_err_and(|e| e.is_killed()) {
        println!("Task {me}: task {id} was killed");
    }
    Ok(())
}

pub(crate) fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut kernel = Kernel::new()?;
    kernel.on_exit(|e| println!("Task {} terminated ({:?})", e.id, e.exit));
    let main = kernel.spawn(async { killer().await.map_err(|e| e.to_string()) });
    kernel.run()?;
    futures::executor::block_on(main)??;
    Ok(())
}
