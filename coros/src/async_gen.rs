//! The async driver: `asend`, `athrow` and `aclose` from async code (PEP 525).

use core::convert::Infallible;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::coroutine::refusal;
use crate::engine::{Co, Input, Stepped};
use crate::error::{ErrorKind, ResumeError};
use crate::machine::{Machine, Phase, Refused};
use crate::state::{CoroutineState, Status};

/// An async generator: a body that both awaits (timers, sockets, other async generators) and
/// yields, driven by awaiting [`asend`](Self::asend), [`athrow`](Self::athrow) and
/// [`aclose`](Self::aclose) (PEP 525).
///
/// It runs on any executor: the body's own awaits register with the executor's waker, and its
/// yields go to this generator. Type parameters as for [`Coroutine`](crate::Coroutine): `Y`
/// yielded, `R` sent in, `E` thrown in, `F::Output` returned.
///
/// Each step borrows the generator mutably, so a second step cannot start while one is in
/// flight ("already running" is a type error). A step future dropped before it completes
/// cancels the step: the body is dropped (its destructors run) and the generator is
/// [`Status::Finished`], as a cancelled `asend` in Python raises `CancelledError` into the body.
///
/// With nothing sent in (`R = ()`) and nothing returned, it is a `futures_core::Stream` (with
/// the default `stream` feature).
///
/// # Examples
///
/// ```
/// use coros::{AsyncGenerator, Co, CoroutineState};
///
/// # futures::executor::block_on(async {
/// let mut agen = AsyncGenerator::new(|co: Co<&str, u32>| async move {
///     let mut sum = 0;
///     while let Ok(n) = co.yield_("more?").await {
///         async {}.await; // a real body would await I/O or a timer here
///         sum += n;
///     }
///     sum
/// });
/// assert_eq!(agen.start().await?, CoroutineState::Yielded("more?"));
/// assert_eq!(agen.asend(2).await?, CoroutineState::Yielded("more?"));
/// assert_eq!(agen.asend(3).await?, CoroutineState::Yielded("more?"));
/// assert_eq!(agen.aclose().await?, Some(5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// A generator whose body holds something that is not `Send` is not `Send` either, so it
/// cannot be spawned on a multi-threaded executor:
///
/// ```compile_fail
/// use coros::{AsyncGenerator, Co};
/// fn assert_send<T: Send>(_: T) {}
/// let agen = AsyncGenerator::new(|co: Co<u8>| async move {
///     let rc = std::rc::Rc::new(1u8);
///     let _ = co.yield_(*rc).await;
///     drop(rc);
/// });
/// assert_send(agen);
/// ```
pub struct AsyncGenerator<Y, R, E, F> {
    machine: Machine<Y, R, E, F>,
    /// Whether a `Stream` poll left its step in flight with the `()` it sent still untaken
    /// (the body was waiting for something else before reaching its yield): the next poll
    /// must send it again, or the yield would wait for ever.
    stream_owes_send: bool,
}

/// An async generator that only yields.
pub type AsyncGen<Y, F> = AsyncGenerator<Y, (), Infallible, F>;

impl<Y, R, E, F: Future> AsyncGenerator<Y, R, E, F> {
    /// Makes an async generator from a body; the body does not run until
    /// [`start`](Self::start).
    pub fn new(body: impl FnOnce(Co<Y, R, E>) -> F) -> Self {
        AsyncGenerator {
            machine: Machine::new(body),
            stream_owes_send: false,
        }
    }

    /// Where the generator stands.
    pub fn status(&self) -> Status {
        self.machine.status()
    }

    /// Runs the body from its start to its first yield (Python's first `asend(None)` or
    /// `anext`).
    ///
    /// # Errors
    ///
    /// As [`Coroutine::start`](crate::Coroutine::start), except that awaiting something other
    /// than a yield is not an error here: the step waits for it.
    pub fn start(&mut self) -> Step<'_, Y, R, E, F, ()> {
        Step::new(self, Input::Empty, |_| None)
    }

    /// Resumes the body with `value` and waits until it yields or returns.
    ///
    /// # Errors
    ///
    /// As [`Coroutine::send`](crate::Coroutine::send); the value comes back in the error when
    /// it cannot be delivered.
    pub fn asend(&mut self, value: R) -> Step<'_, Y, R, E, F, R> {
        Step::new(self, Input::Send(value), Input::into_sent)
    }

    /// Raises `error` at the body's pending yield and waits until it yields or returns.
    ///
    /// # Errors
    ///
    /// As [`Coroutine::throw`](crate::Coroutine::throw).
    pub fn athrow(&mut self, error: E) -> Step<'_, Y, R, E, F, E> {
        Step::new(self, Input::Throw(error), Input::into_thrown)
    }

    /// Closes the generator: its pending yield evaluates to `Err(Interrupt::Close)` and the
    /// body may await during its cleanup. Returns the body's return value, or `None` when it
    /// was not suspended.
    ///
    /// # Errors
    ///
    /// As [`Coroutine::close`](crate::Coroutine::close): [`ErrorKind::IgnoredClose`] with the
    /// yielded value if the body yields again.
    pub fn aclose(&mut self) -> Close<'_, Y, R, E, F> {
        Close {
            generator: self,
            input: Some(Input::Close),
            begun: false,
        }
    }
}

impl<Y, E, F: Future> AsyncGenerator<Y, (), E, F> {
    /// Python's `anext(agen)`: starts the generator if it has not started, and otherwise
    /// resumes it; for generators that receive nothing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Finished`] once the generator has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use coros::{AsyncGenerator, Co, CoroutineState::*};
    ///
    /// # futures::executor::block_on(async {
    /// let mut agen = AsyncGenerator::new(|co: Co<u8>| async move {
    ///     let _ = co.yield_(1).await;
    ///     let _ = co.yield_(2).await;
    ///     "done"
    /// });
    /// assert_eq!(agen.anext().await?, Yielded(1));
    /// assert_eq!(agen.anext().await?, Yielded(2));
    /// assert_eq!(agen.anext().await?, Complete("done"));
    /// # Ok::<(), coros::ResumeError<()>>(())
    /// # }).unwrap();
    /// ```
    pub fn anext(&mut self) -> Step<'_, Y, (), E, F, ()> {
        let input = match self.machine.phase() {
            Phase::Created => Input::Empty,
            _ => Input::Send(()),
        };
        Step::new(self, input, |_| None)
    }
}

impl<Y, R, E, F> fmt::Debug for AsyncGenerator<Y, R, E, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncGenerator")
            .field("machine", &self.machine)
            .finish()
    }
}

/// The future of one step: [`AsyncGenerator::start`], [`asend`](AsyncGenerator::asend) or
/// [`athrow`](AsyncGenerator::athrow). `V` is the type handed back in an error.
#[must_use = "a step does nothing unless awaited"]
pub struct Step<'a, Y, R, E, F: Future, V> {
    generator: &'a mut AsyncGenerator<Y, R, E, F>,
    /// What is still to be delivered; `None` once the step has completed.
    input: Option<Input<R, E>>,
    /// Whether the step has begun (the resume was accepted and the body polled).
    begun: bool,
    payload: fn(Input<R, E>) -> Option<V>,
}

impl<'a, Y, R, E, F: Future, V> Step<'a, Y, R, E, F, V> {
    fn new(
        generator: &'a mut AsyncGenerator<Y, R, E, F>,
        input: Input<R, E>,
        payload: fn(Input<R, E>) -> Option<V>,
    ) -> Self {
        Step {
            generator,
            input: Some(input),
            begun: false,
            payload,
        }
    }
}

impl<Y, R, E, F: Future, V> Unpin for Step<'_, Y, R, E, F, V> {}

impl<Y, R, E, F: Future, V> Future for Step<'_, Y, R, E, F, V> {
    type Output = Result<CoroutineState<Y, F::Output>, ResumeError<V>>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let payload = this.payload;
        let stepped = poll_step(
            &mut this.generator.machine,
            &mut this.input,
            &mut this.begun,
            cx,
        );
        stepped.map(|result| result.map_err(|refused| refusal(refused, payload)))
    }
}

/// What one step produced, or why it was refused.
type StepResult<Y, R, E, T> = Result<CoroutineState<Y, T>, Refused<R, E>>;

/// Polls one step of `machine`: begins it with `input` on the first poll, continues it on the
/// next ones, and leaves `input` empty once the step is over.
#[inline(always)]
fn poll_step<Y, R, E, F: Future>(
    machine: &mut Machine<Y, R, E, F>,
    input: &mut Option<Input<R, E>>,
    begun: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<StepResult<Y, R, E, F::Output>> {
    let Some(mut next) = input.take() else {
        // Polled after completion: the generator has moved on without this step.
        return Poll::Ready(Err(Refused::Error(ErrorKind::Finished, Input::Empty)));
    };
    if !*begun {
        next = match machine.begin(next) {
            Ok(next) => next,
            Err(refused) => return Poll::Ready(Err(refused)),
        };
        *begun = true;
    }
    match machine.step(next, Some(cx.waker())) {
        Stepped::Yielded(value) => Poll::Ready(Ok(CoroutineState::Yielded(value))),
        Stepped::Complete(output) => Poll::Ready(Ok(CoroutineState::Complete(output))),
        Stepped::Pending(left) => {
            *input = Some(left);
            Poll::Pending
        }
    }
}

impl<Y, R, E, F: Future, V> Drop for Step<'_, Y, R, E, F, V> {
    #[inline]
    fn drop(&mut self) {
        cancel_if_in_flight(
            &mut self.generator.machine,
            self.begun,
            self.input.is_some(),
        );
    }
}

/// A step dropped between its first poll and its end cancels the body (see [`AsyncGenerator`]).
///
/// The test is inlined and the cancel is not, so that a step's drop is small enough to inline
/// where a panic unwinds through it: the compiler then sees which of the step's fields it
/// reads, and stores no others.
#[inline(always)]
fn cancel_if_in_flight<Y, R, E, F: Future>(
    machine: &mut Machine<Y, R, E, F>,
    begun: bool,
    unfinished: bool,
) {
    if begun && unfinished && machine.phase() == Phase::Waiting {
        cancel(machine);
    }
}

#[cold]
#[inline(never)]
fn cancel<Y, R, E, F: Future>(machine: &mut Machine<Y, R, E, F>) {
    machine.finish();
}

impl<Y, R, E, F: Future, V> fmt::Debug for Step<'_, Y, R, E, F, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Step")
            .field("begun", &self.begun)
            .field("done", &self.input.is_none())
            .finish_non_exhaustive()
    }
}

/// The future of [`AsyncGenerator::aclose`].
#[must_use = "closing does nothing unless awaited"]
pub struct Close<'a, Y, R, E, F: Future> {
    generator: &'a mut AsyncGenerator<Y, R, E, F>,
    input: Option<Input<R, E>>,
    begun: bool,
}

impl<Y, R, E, F: Future> Unpin for Close<'_, Y, R, E, F> {}

impl<Y, R, E, F: Future> Future for Close<'_, Y, R, E, F> {
    type Output = Result<Option<F::Output>, ResumeError<Y>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let stepped = poll_step(
            &mut this.generator.machine,
            &mut this.input,
            &mut this.begun,
            cx,
        );
        stepped.map(|result| match result {
            Ok(CoroutineState::Complete(output)) => Ok(Some(output)),
            Ok(CoroutineState::Yielded(value)) => {
                Err(ResumeError::new(ErrorKind::IgnoredClose, Some(value)))
            }
            Err(Refused::NothingToClose) => Ok(None),
            Err(Refused::Error(kind, _)) => Err(ResumeError::new(kind, None)),
        })
    }
}

impl<Y, R, E, F: Future> Drop for Close<'_, Y, R, E, F> {
    fn drop(&mut self) {
        // An unfinished close that is dropped finishes the job by dropping the body.
        cancel_if_in_flight(
            &mut self.generator.machine,
            self.begun,
            self.input.is_some(),
        );
    }
}

impl<Y, R, E, F: Future> fmt::Debug for Close<'_, Y, R, E, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Close")
            .field("begun", &self.begun)
            .field("done", &self.input.is_none())
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "stream")]
impl<Y, E, F: Future<Output = ()>> futures_core::Stream for AsyncGenerator<Y, (), E, F> {
    type Item = Y;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Y>> {
        let this = self.get_mut();
        let machine = &mut this.machine;
        let input = match machine.phase() {
            Phase::Created => Input::Empty,
            Phase::Suspended => Input::Send(()),
            // A step in flight from an earlier poll: keep polling it, with what it still owes.
            Phase::Waiting if this.stream_owes_send => Input::Send(()),
            Phase::Waiting => Input::Empty,
            Phase::Running | Phase::Finished => {
                machine.finish();
                return Poll::Ready(None);
            }
        };
        match machine.step(input, Some(cx.waker())) {
            Stepped::Yielded(value) => {
                this.stream_owes_send = false;
                Poll::Ready(Some(value))
            }
            Stepped::Complete(()) => {
                this.stream_owes_send = false;
                Poll::Ready(None)
            }
            Stepped::Pending(left) => {
                this.stream_owes_send = matches!(left, Input::Send(()));
                Poll::Pending
            }
        }
    }
}

#[cfg(feature = "stream")]
impl<Y, E, F: Future<Output = ()>> futures_core::FusedStream for AsyncGenerator<Y, (), E, F> {
    fn is_terminated(&self) -> bool {
        self.machine.status() == Status::Finished
    }
}
