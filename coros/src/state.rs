//! What a resume returns and where a coroutine stands.

/// What one resume of a coroutine produced: it suspended with a value, or it returned.
///
/// Named as nightly's `std::ops::CoroutineState`, so that a later move to std is mechanical.
/// Python spells `Complete(v)` as `StopIteration(v)`; here it is a value, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoroutineState<Y, T> {
    /// The body suspended at a yield, handing over this value.
    Yielded(Y),
    /// The body returned this value; the coroutine is finished.
    Complete(T),
}

impl<Y, T> CoroutineState<Y, T> {
    /// The yielded value, if the body suspended.
    pub fn yielded(self) -> Option<Y> {
        match self {
            CoroutineState::Yielded(value) => Some(value),
            CoroutineState::Complete(_) => None,
        }
    }

    /// The returned value, if the body completed.
    pub fn complete(self) -> Option<T> {
        match self {
            CoroutineState::Yielded(_) => None,
            CoroutineState::Complete(value) => Some(value),
        }
    }
}

/// Where a coroutine or async generator stands (CPython's `inspect.getgeneratorstate`).
///
/// Python's fourth state, `GEN_RUNNING`, can only be seen from inside a running step. In coros
/// every step borrows its coroutine mutably, so nothing can observe (or resume) a coroutine
/// while it runs: "generator already executing" is ruled out by the type checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Made, not started: the body has not run (`GEN_CREATED`).
    Created,
    /// Suspended at a yield, waiting to be resumed (`GEN_SUSPENDED`).
    Suspended,
    /// Returned, failed, stalled, panicked or closed; the body has been dropped
    /// (`GEN_CLOSED`).
    Finished,
}
