//! A small, inspectable kernel that runs Rust futures as tasks that talk to it by awaiting
//! system calls: David Beazley's pyos, for native coroutines, grown into a runtime.
//!
//! ```
//! use coros_kernel::{Kernel, OutsideKernel, tid, yield_now};
//!
//! async fn foo() -> Result<(), OutsideKernel> {
//!     let mytid = tid().await?;
//!     for _ in 0..2 {
//!         println!("I'm foo {mytid}");
//!         yield_now().await?;
//!     }
//!     Ok(())
//! }
//!
//! let mut sched = Kernel::new()?;
//! sched.on_exit(|exit| println!("Task {} terminated", exit.id));
//! sched.spawn(foo()).detach();
//! sched.spawn(foo()).detach();
//! sched.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ```text
//! I'm foo 1
//! I'm foo 2
//! I'm foo 1
//! I'm foo 2
//! Task 1 terminated
//! Task 2 terminated
//! ```
//!
//! # Principles (in curio's spirit)
//!
//! - **Synchronous code enters only through the kernel**: [`Kernel::run`] (until every task has
//!   ended) or [`Kernel::block_on`] (until one future is done). The kernel is the event loop:
//!   single-threaded, no other runtime underneath.
//! - **A task is any `Future + 'static`**, not necessarily `Send`. It yields to the kernel by
//!   awaiting a system call, and standard futures keep working inside it: their wakers are
//!   honoured, from this thread or another.
//! - **New features are system calls, not code in the loop.** [`SystemCall`] is a public trait
//!   whose [`handle`](SystemCall::handle) gets the kernel and the calling task and decides what
//!   the task gets back and when it runs again. Every built-in call is one implementation of
//!   it, exactly as a user's own call would be. The result type is checked at compile time.
//! - **Nothing reaches into kernel state from outside**: a system call reaches its kernel only
//!   while its task is being polled, through scoped access the kernel sets up around each poll.
//!   Awaited anywhere else, a call is a typed error ([`OutsideKernel`]), not a panic or a hang.
//! - **Robust by default**: a panicking task ends as panicked and the kernel goes on; killing a
//!   task drops it wherever it waits (its destructors run, its sockets close) and its joiners
//!   get a typed result; a run where no task can ever go on again returns a deadlock report
//!   instead of hanging.
//! - **Cooperative, so within limits**: the kernel runs one task at a time on its thread and
//!   regains control only when a task returns `Pending`. A task that blocks the thread (a
//!   blocking read, `std::thread::sleep`, or `futures::executor::block_on` inside a task, which
//!   parks the thread for a future only this kernel could wake) stalls every task, and no
//!   deadlock report can see it. A system call that swaps the running kernel for another
//!   (`mem::swap` on the `&mut Kernel` it is lent) ends the run with a typed error
//!   ([`RunError::is_kernel_swapped`]).
//!
//! # The calls, with their pyos names
//!
//! | pyos | coros-kernel | answers |
//! |---|---|---|
//! | `GetTid` | [`tid`] | at once |
//! | `YieldControl` | [`yield_now`] | after the other ready tasks ran |
//! | `NewTask` | [`spawn`] → [`JoinHandle`] | at once |
//! | `KillTask` | [`kill`] | once the victim is dropped |
//! | `WaitTask` | awaiting a [`JoinHandle`] (the value), [`wait`] (by id) | when the task ends |
//! | — | [`sleep`], [`sleep_until`], [`timeout`] | on a timer |
//! | `ReadWait` / `WriteWait` | [`readable`] / [`writable`] | on readiness |
//!
//! On them: [`TcpListener`] and [`TcpStream`] (accept, connect, recv, send, send-all,
//! shutdown). The examples retrace pyos's growth: `pyos` (the seed, line for line), `spawn_wait`,
//! `kill_loop`, `sleeping_ticker` and `echo_server` (pyos8).
//!
//! # The third driver
//!
//! coros has one idea and three drivers: the scheduler here is the one that resumes the frame,
//! what travels up is a system call, and what comes back is the call's result. Unlike the
//! coroutine drivers, the kernel does not pass the call through a slot the driver owns: a task
//! is any future, polled by whatever wrappers sit between the kernel and the call (an async
//! generator, a `select`, a timeout), so the call reaches the kernel through scoped access the
//! kernel sets up around each poll, whatever waker the wrappers hand down.
//!
//! # What differs from pyos, and why
//!
//! - A panicking task ends as panicked and the others go on; in pyos an exception in a task
//!   ends the scheduler's `mainloop`.
//! - `handle` returns `Poll<Output>` instead of setting `task.sendval`: the type of what a call
//!   gives back is checked by the compiler, and a call that answers at once (as [`tid`] does)
//!   costs no task switch.
//! - Waiting for a task gives its value (or why it has none), not a bool.
//! - Killing a task drops the whole task, however deeply nested the coroutine it waits in;
//!   pyos8 killed only the innermost frame and let the parent resume.
//! - Two tasks waiting to read the same descriptor is an error ([`ResourceBusy`], curio's rule),
//!   not one silently replacing the other; the run returns once the tasks are done even though
//!   a poller exists.
//!
//! # Cargo features
//!
//! None.

#![deny(unsafe_code)]

mod current;
mod error;
mod kernel;
mod net;
mod poller;
mod syscall;
mod task;
mod timer;
mod waker;

pub use error::{Elapsed, JoinError, KillError, OutsideKernel, ResourceBusy, RunError, StuckTask};
pub use kernel::Kernel;
pub use net::{TcpListener, TcpStream};
pub use syscall::{
    Call, GetTid, Kill, Readiness, Sleep, Spawn, SystemCall, Wait, YieldNow, kill, readable, sleep,
    sleep_until, spawn, syscall, tid, timeout, wait, writable, yield_now,
};
pub use task::{Exit, JoinHandle, TaskExit, TaskId, WaitingOn};
pub use timer::TimerId;

// The README's examples, which use both crates, run as this crate's doc tests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
struct ReadmeDoctests;
