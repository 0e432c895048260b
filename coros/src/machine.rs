//! The state machine both drivers share: which resumes are allowed when, and what a step does
//! to the coroutine's phase.
//!
//! # Phases
//!
//! | phase | body | entered by | left by |
//! |---|---|---|---|
//! | `Created` | not polled yet | `new` | start (a step), throw or close (→ `Finished`) |
//! | `Suspended` | at a yield | a step that yielded | send, throw, close (a step) |
//! | `Running` | unusable: a poll panicked | a panic unwinding out of a step | the next resume, which finishes the coroutine |
//! | `Waiting` | awaiting something that is not a yield | an async step that returned `Pending` | the next poll of that step |
//! | `Finished` | dropped | completion, stall, panic, close, throw before start | — |
//!
//! Only the driver that holds `&mut` changes the phase; one phase at a time. A step leaves the
//! phase as it found it while the body runs (nothing can look at it then) and writes the new
//! one when the poll returns; only a panic writes `Running`, so a step that begins and finds
//! `Running` knows the previous step panicked, and finishes the coroutine.

use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::Waker;

use crate::engine::{self, Co, Frame, Input, Stepped};
use crate::error::ErrorKind;
use crate::state::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Created,
    Suspended,
    Running,
    Waiting,
    Finished,
}

/// Why a resume was not delivered to the body.
#[derive(Debug)]
pub(crate) enum Refused<R, E> {
    /// The resume is not allowed now; the input comes back.
    Error(ErrorKind, Input<R, E>),
    /// A close of a coroutine that is not suspended: nothing to do.
    NothingToClose,
}

/// A coroutine's body and phase.
///
/// The machine carries the coroutine's `Y, R, E`, and only a `Co<Y, R, E>` made here is given
/// to the body: every frame the machine builds is of the types its handle's yields expect, by
/// construction, which is what makes the engine's id check a proof of the frame's type.
pub(crate) struct Machine<Y, R, E, F> {
    id: u64,
    phase: Phase,
    body: Option<Pin<Box<F>>>,
    _types: PhantomData<fn(R, E) -> Y>,
}

impl<Y, R, E, F: Future> Machine<Y, R, E, F> {
    pub(crate) fn new(make: impl FnOnce(Co<Y, R, E>) -> F) -> Self {
        let id = engine::next_id();
        Machine {
            id,
            phase: Phase::Created,
            body: Some(Box::pin(make(Co::new(id)))),
            _types: PhantomData,
        }
    }

    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn status(&self) -> Status {
        match self.phase {
            Phase::Created => Status::Created,
            Phase::Suspended => Status::Suspended,
            // `Running` seen from outside a step means a step panicked; `Waiting` is a step in
            // flight, which only a `Stream` leaves between calls: still alive.
            Phase::Waiting => Status::Suspended,
            Phase::Running | Phase::Finished => Status::Finished,
        }
    }

    /// Drops the body (its destructors run now) and marks the coroutine finished.
    pub(crate) fn finish(&mut self) {
        self.phase = Phase::Finished;
        self.body = None;
    }

    /// Checks that `input` may be delivered now, applying CPython's rules for coroutines that
    /// have not started or have finished.
    #[inline(always)]
    pub(crate) fn begin(&mut self, input: Input<R, E>) -> Result<Input<R, E>, Refused<R, E>> {
        match (self.phase, input) {
            (Phase::Suspended, input @ (Input::Send(_) | Input::Throw(_) | Input::Close)) => {
                Ok(input)
            }
            (Phase::Created, Input::Empty) => Ok(Input::Empty),
            (Phase::Running, input) => {
                // The previous step panicked: the body is unusable.
                self.finish();
                self.begin(input)
            }
            (Phase::Waiting, input) => Err(Refused::Error(ErrorKind::Running, input)),
            (Phase::Finished, Input::Close) => Err(Refused::NothingToClose),
            (Phase::Finished, input) => Err(Refused::Error(ErrorKind::Finished, input)),
            (Phase::Created, Input::Close) => {
                self.finish();
                Err(Refused::NothingToClose)
            }
            (Phase::Created, input @ Input::Throw(_)) => {
                // CPython: a throw into a generator that never ran finishes it.
                self.finish();
                Err(Refused::Error(ErrorKind::NotStarted, input))
            }
            (Phase::Created, input) => Err(Refused::Error(ErrorKind::NotStarted, input)),
            (Phase::Suspended, input) => Err(Refused::Error(ErrorKind::AlreadyStarted, input)),
        }
    }

    /// Delivers `input` (accepted by [`begin`](Self::begin), or handed back by a previous
    /// `Pending` step) and polls the body once.
    ///
    /// On `Pending` the phase is `Waiting`; the synchronous driver then finishes the coroutine
    /// as stalled, an async one polls again later.
    #[inline(always)]
    pub(crate) fn step(
        &mut self,
        input: Input<R, E>,
        outer: Option<&Waker>,
    ) -> Stepped<Y, R, E, F::Output> {
        let Some(body) = self.body.as_mut() else {
            // `begin` refuses every step of a finished coroutine, so no body means no step.
            return Stepped::Pending(input);
        };
        // If the body panics, the guard marks the phase `Running` while unwinding, which the
        // next `begin` reads as "the previous step panicked". A step that returns forgets the
        // guard, so the hot path stores the phase once, after the poll.
        let guard = Unwinding(&mut self.phase);
        let stepped = Frame::step(self.id, outer, input, body.as_mut());
        core::mem::forget(guard);
        match &stepped {
            Stepped::Complete(_) => self.finish(),
            // A send found the phase `Suspended` and leaves it so: skipping the store lets
            // the compiler drop it from a loop of sends.
            Stepped::Yielded(_) => {
                if self.phase != Phase::Suspended {
                    self.phase = Phase::Suspended;
                }
            }
            Stepped::Pending(_) => self.phase = Phase::Waiting,
        }
        stepped
    }
}

/// Marks a step as panicked: dropped only while a panic unwinds out of the body's poll.
struct Unwinding<'a>(&'a mut Phase);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        *self.0 = Phase::Running;
    }
}

impl<Y, R, E, F> core::fmt::Debug for Machine<Y, R, E, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Machine")
            .field("id", &self.id)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}
