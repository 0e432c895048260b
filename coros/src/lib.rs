//! Coroutines for native `async`/`await`: Python's generator protocol — `send`, `throw`,
//! `close`, and PEP 525's `asend`, `athrow`, `aclose` — on stable Rust.
//!
//! ```
//! use coros::{Co, Coroutine, CoroutineState::*};
//!
//! // Python:  def averager():            total, n = 0, 0
//! //              while True: x = yield avg; ...
//! let mut avg = Coroutine::new(|co: Co<f64, f64>| async move {
//!     let (mut total, mut n) = (0.0, 0.0);
//!     let mut x = co.yield_(f64::NAN).await?;
//!     loop {
//!         total += x;
//!         n += 1.0;
//!         x = co.yield_(total / n).await?;
//!     }
//!     #[allow(unreachable_code, reason = "the loop only ends through `?`")]
//!     Ok::<(), coros::Interrupt<std::convert::Infallible>>(())
//! });
//! avg.start()?;                              // next(g)
//! assert_eq!(avg.send(10.0)?, Yielded(10.0)); // g.send(10)
//! assert_eq!(avg.send(20.0)?, Yielded(15.0));
//! assert_eq!(avg.close()?, Some(Err(coros::Interrupt::Close))); // g.close()
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The three types
//!
//! - [`Coroutine`] is driven synchronously with [`send`](Coroutine::send),
//!   [`throw`](Coroutine::throw) and [`close`](Coroutine::close); [`Generator`] is the
//!   coroutine that only yields, and an [`Iterator`].
//! - [`AsyncGenerator`] is driven by awaiting [`asend`](AsyncGenerator::asend),
//!   [`athrow`](AsyncGenerator::athrow) and [`aclose`](AsyncGenerator::aclose); its body may
//!   await timers and I/O of whatever executor runs it. With nothing sent in it is a `Stream`.
//! - [`Co`] is the body's handle: `co.yield_(value).await` suspends and evaluates to what the
//!   driver sends next. Sub-coroutines are plain `async fn`s that take the handle; awaiting
//!   them is Python's `yield from`, with sends and throws forwarded to wherever the yield is.
//!
//! Both drivers share one engine: the driver puts what it sends in a slot on its own stack and
//! polls the body once; the pending yield takes it, and the next yield puts its value there.
//! The slot reaches the yield only through the poll's waker, so the body owns no part of it
//! and the compiler can keep the exchange in registers: no allocation per resume, and a round
//! trip faster than every stable peer's (the bench crate measures them side by side).
//!
//! # Python and coros
//!
//! | Python | coros |
//! |---|---|
//! | `g = gen(); next(g)` | `let mut g = Coroutine::new(body); g.start()` |
//! | `x = yield v` | `let x = co.yield_(v).await?;` |
//! | `g.send(v)` | `g.send(v)` → `Ok(Yielded(y))` or `Ok(Complete(t))` |
//! | `StopIteration(t)` | `Ok(CoroutineState::Complete(t))`, a value, not an error |
//! | `g.throw(e)` | `g.throw(e)`: the yield evaluates to `Err(Interrupt::Throw(e))` |
//! | `g.close()`, `GeneratorExit` | `g.close()`: the yield evaluates to `Err(Interrupt::Close)` |
//! | "generator ignored GeneratorExit" | `Err` with [`ErrorKind::IgnoredClose`] |
//! | send to a finished generator | `Err` with [`ErrorKind::Finished`], the value handed back |
//! | "can't send non-None value to a just-started generator" | `Err` with [`ErrorKind::NotStarted`] |
//! | "generator already executing" | impossible: every step takes `&mut self` |
//! | `yield from sub()` / `await sub()` | `sub(co).await` |
//! | `inspect.getgeneratorstate(g)` | `g.status()` |
//! | `await agen.asend(v)` / `athrow` / `aclose` | `agen.asend(v).await` / `athrow` / `aclose` |
//! | `StopAsyncIteration` | `Ok(Complete(t))`, or `None` from the `Stream` |
//!
//! # Errors are values
//!
//! No misuse panics: resuming a finished coroutine, sending before starting, a body that
//! yields after close, or a synchronous body that awaits something that is not a yield are all
//! [`ResumeError`]s, in release builds too. A panic inside the body reaches the caller of the
//! resume and leaves the coroutine finished.
//!
//! # Features
//!
//! - `stream` (default): [`AsyncGenerator`] implements `futures_core::Stream` when `R = ()`.

#![deny(unsafe_code)]

mod async_gen;
mod coroutine;
mod engine;
mod error;
mod machine;
mod state;

pub use async_gen::{AsyncGen, AsyncGenerator, Close, Step};
pub use coroutine::{Coroutine, Generator};
pub use engine::{Co, Yield};
pub use error::{ErrorKind, Interrupt, ResumeError};
pub use state::{CoroutineState, Status};
