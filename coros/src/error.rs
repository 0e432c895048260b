//! Errors: what the body sees at a yield ([`Interrupt`]) and what a driver's caller sees when
//! a resume cannot happen ([`ResumeError`]).

use core::fmt;

/// Why a pending [`yield_`](crate::Co::yield_) did not receive a value.
///
/// The body usually propagates it with `?`, which ends the coroutine with this error, or
/// matches on it to go on (Python: `except ZeroDivisionError: ... yield 'world'`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Interrupt<E> {
    /// The driver threw this error in (Python's `g.throw(e)`).
    Throw(E),
    /// The driver is closing the coroutine (Python's `GeneratorExit`): clean up and return.
    /// Yielding again makes `close` fail with [`ErrorKind::IgnoredClose`].
    Close,
    /// The yield was awaited outside its coroutine's driver (say, in a task spawned on another
    /// executor), so nothing can resume it.
    Detached,
}

impl<E> Interrupt<E> {
    /// Whether this is the close signal.
    pub fn is_close(&self) -> bool {
        matches!(self, Interrupt::Close)
    }

    /// The thrown error, if this is a throw.
    pub fn into_thrown(self) -> Option<E> {
        match self {
            Interrupt::Throw(error) => Some(error),
            _ => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for Interrupt<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interrupt::Throw(error) => write!(f, "thrown into the coroutine: {error}"),
            Interrupt::Close => f.write_str("the coroutine is being closed"),
            Interrupt::Detached => f.write_str(
                "a yield was awaited outside its coroutine's driver, so nothing can resume it",
            ),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for Interrupt<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Interrupt::Throw(error) => Some(error),
            _ => None,
        }
    }
}

/// Why a resume ([`send`](crate::Coroutine::send), [`throw`](crate::Coroutine::throw),
/// [`close`](crate::Coroutine::close) and their async forms) failed.
///
/// Nothing is lost: the value the caller tried to hand over (the sent value, the thrown
/// error), or the value the body yielded while it was being closed, comes back in the error
/// ([`into_value`](ResumeError::into_value)).
#[derive(Clone, PartialEq, Eq)]
pub struct ResumeError<V> {
    kind: ErrorKind,
    value: Option<V>,
}

/// The kind of a [`ResumeError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A value was sent before the coroutine was started, so no yield was there to take it
    /// (CPython: "can't send non-None value to a just-started generator"). Start it first.
    /// A throw into a coroutine that never started also reports this kind; the coroutine is
    /// then finished, as in CPython.
    NotStarted,
    /// The coroutine was started already: resume it with a value instead.
    AlreadyStarted,
    /// A step of this async generator is still in flight (a `Stream` poll that returned
    /// `Pending`); finish it first (CPython: "asynchronous generator is already running").
    Running,
    /// The coroutine has finished (returned, failed, stalled, panicked or was closed).
    Finished,
    /// The body awaited something that is not one of its own yields, and the synchronous
    /// driver has nothing to wait with. Run such a body as an
    /// [`AsyncGenerator`](crate::AsyncGenerator) (or as a kernel task) instead. The coroutine
    /// is finished.
    Stalled,
    /// The body yielded after being closed (CPython: "generator ignored GeneratorExit"). The
    /// yielded value is in the error; the coroutine stays suspended at that yield.
    IgnoredClose,
}

impl<V> ResumeError<V> {
    pub(crate) fn new(kind: ErrorKind, value: Option<V>) -> Self {
        ResumeError { kind, value }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The value that was not delivered (or, for [`ErrorKind::IgnoredClose`], that the body
    /// yielded), if any.
    pub fn into_value(self) -> Option<V> {
        self.value
    }

    /// A reference to the value that was not delivered, if any.
    pub fn value(&self) -> Option<&V> {
        self.value.as_ref()
    }
}

impl<V> fmt::Debug for ResumeError<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResumeError")
            .field("kind", &self.kind)
            .field("has_value", &self.value.is_some())
            .finish()
    }
}

impl<V> fmt::Display for ResumeError<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::NotStarted => {
                "the coroutine has not started: start it before sending or throwing"
            }
            ErrorKind::AlreadyStarted => "the coroutine has started already: send it a value",
            ErrorKind::Running => "a step of the async generator is still in flight",
            ErrorKind::Finished => "the coroutine has finished",
            ErrorKind::Stalled => {
                "the coroutine awaited something that is not a yield; a synchronous driver \
                 cannot wait for it: run the body as an async generator or a kernel task"
            }
            ErrorKind::IgnoredClose => "the coroutine yielded while being closed",
        })
    }
}

impl<V> std::error::Error for ResumeError<V> {}
