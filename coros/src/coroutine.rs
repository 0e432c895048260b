//! The synchronous driver: `send`, `throw` and `close` from ordinary code.

use core::convert::Infallible;
use core::fmt;
use core::future::Future;

use crate::engine::{Co, Input, Stepped};
use crate::error::{ErrorKind, ResumeError};
use crate::machine::{Machine, Phase, Refused};
use crate::state::{CoroutineState, Status};

/// A coroutine driven synchronously: Python's generator with `send`, `throw` and `close`.
///
/// The body is an `async` block that receives a [`Co`] handle; `co.yield_(v).await` suspends
/// it, hands `v` to the caller of [`send`](Self::send), and evaluates to what the caller sends
/// next. Type parameters: `Y` is yielded, `R` is sent in, `E` may be thrown in, and the body's
/// output `F::Output` is what it returns.
///
/// A coroutine is made with one allocation (the body) and resumes without allocating. It is
/// `Send` exactly when its body is.
///
/// # Examples
///
/// Python's `ping = yield pong` inside and `buzz = co.send(bizz)` outside:
///
/// ```
/// use coros::{Co, Coroutine, CoroutineState};
///
/// let mut co = Coroutine::new(|co: Co<u64, u64>| async move {
///     let mut total = 0;
///     let mut ping = co.yield_(total).await?;
///     while ping != 0 {
///         total += ping;
///         ping = co.yield_(total).await?;
///     }
///     Ok::<_, coros::Interrupt<_>>(total)
/// });
/// assert_eq!(co.start()?, CoroutineState::Yielded(0));
/// assert_eq!(co.send(5)?, CoroutineState::Yielded(5));
/// assert_eq!(co.send(7)?, CoroutineState::Yielded(12));
/// assert_eq!(co.send(0)?, CoroutineState::Complete(Ok(12)));
/// // A finished coroutine answers with an error that hands the value back.
/// let err = co.send(1).unwrap_err();
/// assert_eq!(err.kind(), coros::ErrorKind::Finished);
/// assert_eq!(err.into_value(), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A coroutine holding something that is not `Send` is not `Send` either:
///
/// ```compile_fail
/// use coros::{Co, Coroutine};
/// fn assert_send<T: Send>(_: T) {}
/// let co = Coroutine::new(|co: Co<u8>| async move {
///     let rc = std::rc::Rc::new(1u8);
///     let _ = co.yield_(*rc).await;
///     drop(rc);
/// });
/// assert_send(co);
/// ```
pub struct Coroutine<Y, R, E, F> {
    machine: Machine<Y, R, E, F>,
}

/// A coroutine that only yields: Python's plain generator, and an [`Iterator`].
///
/// # Examples
///
/// ```
/// use coros::{Co, Generator};
///
/// let squares = Generator::new(|co: Co<u32>| async move {
///     for i in 1..=4 {
///         let _ = co.yield_(i * i).await;
///     }
/// });
/// assert_eq!(squares.map(|x| x + 1).collect::<Vec<_>>(), [2, 5, 10, 17]);
/// ```
pub type Generator<Y, F> = Coroutine<Y, (), Infallible, F>;

impl<Y, R, E, F: Future> Coroutine<Y, R, E, F> {
    /// Makes a coroutine from a body; the body does not run until [`start`](Self::start).
    ///
    /// `body` is called once, at once, with the coroutine's handle, and returns the future
    /// that is the coroutine's frame (usually an `async move` block).
    pub fn new(body: impl FnOnce(Co<Y, R, E>) -> F) -> Self {
        Coroutine {
            machine: Machine::new(body),
        }
    }

    /// Where the coroutine stands (CPython's `inspect.getgeneratorstate`).
    pub fn status(&self) -> Status {
        self.machine.status()
    }

    /// Runs the body from its start to its first yield (Python's priming `next(g)`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AlreadyStarted`] if the body has started, [`ErrorKind::Finished`] if it has
    /// finished, [`ErrorKind::Stalled`] if it awaited something that is not a yield.
    ///
    /// # Panics
    ///
    /// A panic in the body reaches the caller; the coroutine is then finished.
    #[inline]
    pub fn start(&mut self) -> Result<CoroutineState<Y, F::Output>, ResumeError<()>> {
        self.resume(Input::Empty, |_| None)
    }

    /// Resumes the body, making its pending `yield_` evaluate to `Ok(value)`; returns what the
    /// body did next.
    ///
    /// # Errors
    ///
    /// The value comes back in the error when it cannot be delivered:
    /// [`ErrorKind::NotStarted`] before [`start`](Self::start) (the coroutine stays unstarted),
    /// [`ErrorKind::Finished`] after the end. [`ErrorKind::Stalled`] if the body then awaited
    /// something that is not a yield (the coroutine is then finished).
    ///
    /// # Panics
    ///
    /// A panic in the body reaches the caller; the coroutine is then finished.
    #[inline]
    pub fn send(&mut self, value: R) -> Result<CoroutineState<Y, F::Output>, ResumeError<R>> {
        self.resume(Input::Send(value), Input::into_sent)
    }

    /// Raises `error` at the body's pending yield: the `yield_` evaluates to
    /// `Err(Interrupt::Throw(error))`. The body may handle it and yield again, or return.
    ///
    /// # Errors
    ///
    /// The error comes back when it cannot be delivered: [`ErrorKind::NotStarted`] if the body
    /// never ran (as in CPython, the coroutine is then finished without running), and
    /// [`ErrorKind::Finished`] after the end. [`ErrorKind::Stalled`] as for
    /// [`send`](Self::send).
    ///
    /// # Panics
    ///
    /// A panic in the body reaches the caller; the coroutine is then finished.
    #[inline]
    pub fn throw(&mut self, error: E) -> Result<CoroutineState<Y, F::Output>, ResumeError<E>> {
        self.resume(Input::Throw(error), Input::into_thrown)
    }

    /// Closes the coroutine: its pending `yield_` evaluates to `Err(Interrupt::Close)`, so the
    /// body can clean up and return. Returns the body's return value, or `None` when the
    /// coroutine was not suspended (closing an unstarted or finished coroutine does nothing
    /// but mark it finished).
    ///
    /// Dropping a coroutine without closing it drops the body: its destructors run, but code
    /// after the yield does not.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::IgnoredClose`] if the body yields again instead of returning; the yielded
    /// value is in the error, and the coroutine stays suspended at that yield (CPython's
    /// "generator ignored GeneratorExit"). [`ErrorKind::Stalled`] as for [`send`](Self::send).
    ///
    /// # Panics
    ///
    /// A panic in the body reaches the caller; the coroutine is then finished.
    pub fn close(&mut self) -> Result<Option<F::Output>, ResumeError<Y>> {
        let input = match self.machine.begin(Input::Close) {
            Ok(input) => input,
            Err(Refused::NothingToClose) => return Ok(None),
            Err(Refused::Error(kind, _)) => return Err(ResumeError::new(kind, None)),
        };
        match self.machine.step(input, None) {
            Stepped::Complete(output) => Ok(Some(output)),
            Stepped::Yielded(value) => Err(ResumeError::new(ErrorKind::IgnoredClose, Some(value))),
            Stepped::Pending(_) => {
                self.machine.finish();
                Err(ResumeError::new(ErrorKind::Stalled, None))
            }
        }
    }

    #[inline(always)]
    fn resume<V>(
        &mut self,
        input: Input<R, E>,
        payload: fn(Input<R, E>) -> Option<V>,
    ) -> Result<CoroutineState<Y, F::Output>, ResumeError<V>> {
        let input = match self.machine.begin(input) {
            Ok(input) => input,
            Err(refused) => return Err(refusal(refused, payload)),
        };
        match self.machine.step(input, None) {
            Stepped::Yielded(value) => Ok(CoroutineState::Yielded(value)),
            Stepped::Complete(output) => Ok(CoroutineState::Complete(output)),
            Stepped::Pending(left) => {
                self.machine.finish();
                Err(ResumeError::new(ErrorKind::Stalled, payload(left)))
            }
        }
    }
}

#[cold]
pub(crate) fn refusal<R, E, V>(
    refused: Refused<R, E>,
    payload: fn(Input<R, E>) -> Option<V>,
) -> ResumeError<V> {
    match refused {
        Refused::Error(kind, input) => ResumeError::new(kind, payload(input)),
        // Only `close` can be refused this way, and it does not come here.
        Refused::NothingToClose => ResumeError::new(ErrorKind::Finished, None),
    }
}

/// Yields until the body returns. A stall (the body awaiting something that is not a yield)
/// ends the iteration and leaves the coroutine [`Status::Finished`]; call
/// [`start`](Coroutine::start) and [`send`](Coroutine::send) to see that error.
impl<Y, E, F: Future<Output = ()>> Iterator for Coroutine<Y, (), E, F> {
    type Item = Y;

    #[inline]
    fn next(&mut self) -> Option<Y> {
        // One step, as `start` or `send(())` would take it, without their error values.
        let input = match self.machine.phase() {
            Phase::Suspended => Input::Send(()),
            Phase::Created => Input::Empty,
            // A step panicked (`Running`): drop the body now, as `start` or `send` would.
            Phase::Running => {
                self.machine.finish();
                return None;
            }
            // Finished (a synchronous step never leaves `Waiting`): nothing more comes.
            Phase::Waiting | Phase::Finished => return None,
        };
        match self.machine.step(input, None) {
            Stepped::Yielded(value) => Some(value),
            Stepped::Complete(()) => None,
            Stepped::Pending(_) => {
                self.machine.finish();
                None
            }
        }
    }
}

impl<Y, R, E, F> fmt::Debug for Coroutine<Y, R, E, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Coroutine")
            .field("machine", &self.machine)
            .finish()
    }
}
