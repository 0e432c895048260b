//! Errors of the kernel, each written by hand: `Display` + `Error`, `#[non_exhaustive]`.

use std::any::Any;
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::sync::Mutex;

use crate::task::{TaskId, WaitingOn};

/// A system call was awaited where no kernel task is running.
///
/// System calls reach the kernel through the task that awaits them; awaited from a plain thread,
/// from another executor, or from an exit hook, they have no kernel to talk to and evaluate to
/// this error instead of panicking or hanging.
///
/// # Examples
///
/// ```
/// let r = futures::executor::block_on(coros_kernel::tid());
/// assert!(r.is_err());
/// assert_eq!(
///     r.unwrap_err().to_string(),
///     "system call awaited outside a running coros kernel task"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutsideKernel;

impl fmt::Display for OutsideKernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("system call awaited outside a running coros kernel task")
    }
}

impl std::error::Error for OutsideKernel {}

impl From<OutsideKernel> for io::Error {
    fn from(e: OutsideKernel) -> io::Error {
        io::Error::other(e)
    }
}

/// Why a task did not deliver a value to the one who joined it.
///
/// Opaque, in the shape of tokio's `JoinError`: ask it with [`is_killed`](Self::is_killed),
/// [`is_panic`](Self::is_panic), [`panic_message`](Self::panic_message),
/// [`into_panic`](Self::into_panic).
///
/// # Examples
///
/// ```
/// use coros_kernel::{Kernel, spawn};
///
/// let kernel = Kernel::new()?;
/// let err = kernel.block_on(async {
///     let child = spawn(async { panic!("boom") }).await?;
///     Ok::<_, coros_kernel::OutsideKernel>(child.await.unwrap_err())
/// })??;
/// assert!(err.is_panic());
/// assert_eq!(err.panic_message(), Some("boom"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub struct JoinError {
    // Boxed so that a task's `Result<T, JoinError>` stays as small as `T` allows.
    inner: Box<JoinInner>,
}

struct JoinInner {
    id: TaskId,
    repr: JoinRepr,
}

pub(crate) enum JoinRepr {
    Killed,
    Panicked {
        message: Option<String>,
        // A `Mutex` only to make `JoinError` `Sync` (so it fits in `io::Error` and
        // `Box<dyn Error + Send + Sync>`); the payload is only ever reached by value.
        payload: Mutex<Box<dyn Any + Send + 'static>>,
    },
    SelfJoin,
    Gone,
    OutsideKernel,
    /// A handle made by polling a `spawn` call again after it had answered.
    Duplicate,
}

impl JoinError {
    pub(crate) fn new(id: TaskId, repr: JoinRepr) -> JoinError {
        JoinError {
            inner: Box::new(JoinInner { id, repr }),
        }
    }

    pub(crate) fn panicked(id: TaskId, payload: Box<dyn Any + Send + 'static>) -> JoinError {
        let message = panic_message(&*payload);
        JoinError::new(
            id,
            JoinRepr::Panicked {
                message,
                payload: Mutex::new(payload),
            },
        )
    }

    /// The task that was joined.
    pub fn id(&self) -> TaskId {
        self.inner.id
    }

    /// The task was killed before it finished.
    pub fn is_killed(&self) -> bool {
        matches!(self.inner.repr, JoinRepr::Killed)
    }

    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.inner.repr, JoinRepr::Panicked { .. })
    }

    /// A task tried to wait for itself, which could never end.
    pub fn is_self_join(&self) -> bool {
        matches!(self.inner.repr, JoinRepr::SelfJoin)
    }

    /// The task had already ended and how it ended is no longer known (only [`wait`] by id can
    /// see this; a [`JoinHandle`](crate::JoinHandle) keeps the outcome).
    ///
    /// [`wait`]: crate::wait
    pub fn is_gone(&self) -> bool {
        matches!(self.inner.repr, JoinRepr::Gone)
    }

    /// The handle came from polling a [`spawn`] call again after it had already answered: the
    /// task was spawned once, and its result goes to the handle that first answer gave.
    ///
    /// [`spawn`]: crate::spawn
    pub fn is_duplicate(&self) -> bool {
        matches!(self.inner.repr, JoinRepr::Duplicate)
    }

    /// The join was awaited outside a running kernel task and the task had not ended yet.
    pub fn is_outside_kernel(&self) -> bool {
        matches!(self.inner.repr, JoinRepr::OutsideKernel)
    }

    /// The panic message, when the task panicked with a string (as `panic!` does).
    pub fn panic_message(&self) -> Option<&str> {
        match &self.inner.repr {
            JoinRepr::Panicked { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// The panic payload, to resume the panic with [`std::panic::resume_unwind`].
    ///
    /// # Panics
    ///
    /// Panics if the task did not panic; see [`try_into_panic`](Self::try_into_panic).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self.try_into_panic() {
            Ok(payload) => payload,
            Err(e) => panic!("`JoinError::into_panic` on an error that is not a panic: {e}"),
        }
    }

    /// The panic payload, or the error itself if the task did not panic.
    ///
    /// # Errors
    ///
    /// Gives `self` back when the task did not panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.inner.repr {
            JoinRepr::Panicked { payload, .. } => {
                Ok(payload.into_inner().unwrap_or_else(|e| e.into_inner()))
            }
            _ => Err(self),
        }
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Option<String> {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        Some((*s).to_owned())
    } else {
        payload.downcast_ref::<String>().cloned()
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.inner.repr {
            JoinRepr::Killed => "Killed".to_owned(),
            JoinRepr::Panicked { message, .. } => format!("Panicked({message:?})"),
            JoinRepr::SelfJoin => "SelfJoin".to_owned(),
            JoinRepr::Gone => "Gone".to_owned(),
            JoinRepr::OutsideKernel => "OutsideKernel".to_owned(),
            JoinRepr::Duplicate => "Duplicate".to_owned(),
        };
        write!(f, "JoinError::{what}(task {})", self.inner.id)
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.inner.id;
        match &self.inner.repr {
            JoinRepr::Killed => write!(f, "task {id} was killed"),
            JoinRepr::Panicked {
                message: Some(m), ..
            } => write!(f, "task {id} panicked: {m}"),
            JoinRepr::Panicked { message: None, .. } => write!(f, "task {id} panicked"),
            JoinRepr::SelfJoin => write!(f, "task {id} cannot wait for itself"),
            JoinRepr::Gone => write!(f, "task {id} has already ended"),
            JoinRepr::OutsideKernel => {
                write!(f, "task {id} joined outside a running coros kernel task")
            }
            JoinRepr::Duplicate => write!(
                f,
                "task {id}'s result goes to the handle its spawn call first returned"
            ),
        }
    }
}

impl std::error::Error for JoinError {}

/// Why [`kill`](crate::kill) had no one to kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KillError {
    id: TaskId,
    finished: bool,
}

impl KillError {
    pub(crate) fn new(id: TaskId, finished: bool) -> KillError {
        KillError { id, finished }
    }

    /// The task the kill was aimed at.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task had already ended (finished, panicked or been killed).
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

impl fmt::Display for KillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.finished {
            write!(f, "task {} has already ended", self.id)
        } else {
            write!(f, "no task {} in this kernel", self.id)
        }
    }
}

impl std::error::Error for KillError {}

/// A timeout ran out before the future it bounded was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Elapsed {
    outside: bool,
}

impl Elapsed {
    pub(crate) fn new(outside: bool) -> Elapsed {
        Elapsed { outside }
    }

    /// The timeout could not be armed because it was awaited outside a running kernel task.
    pub fn is_outside_kernel(&self) -> bool {
        self.outside
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.outside {
            f.write_str("timeout awaited outside a running coros kernel task")
        } else {
            f.write_str("deadline has elapsed")
        }
    }
}

impl std::error::Error for Elapsed {}

/// Another task already waits for the same readiness on this descriptor (curio's rule).
///
/// It reaches the task inside an [`io::Error`] of kind [`io::ErrorKind::ResourceBusy`]; get it
/// back with `err.get_ref().and_then(|e| e.downcast_ref::<ResourceBusy>())`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceBusy {
    /// The descriptor.
    pub fd: RawFd,
    /// The task already waiting on it.
    pub holder: TaskId,
    /// `true` for write readiness, `false` for read readiness.
    pub writing: bool,
}

impl fmt::Display for ResourceBusy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.writing { "write" } else { "read" };
        write!(
            f,
            "resource busy: task {} already waits to {what} fd {}",
            self.holder, self.fd
        )
    }
}

impl std::error::Error for ResourceBusy {}

impl From<ResourceBusy> for io::Error {
    fn from(e: ResourceBusy) -> io::Error {
        io::Error::new(io::ErrorKind::ResourceBusy, e)
    }
}

/// One task that can never run again, as listed in a [`RunError`] for a deadlock.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StuckTask {
    /// The task.
    pub id: TaskId,
    /// What it waits for.
    pub waiting_on: WaitingOn,
}

/// Why [`Kernel::run`](crate::Kernel::run) or [`Kernel::block_on`](crate::Kernel::block_on)
/// gave up.
#[non_exhaustive]
pub struct RunError {
    repr: RunRepr,
}

pub(crate) enum RunRepr {
    Deadlock(Vec<StuckTask>),
    Main(JoinError),
    Io(io::Error),
    /// A system call replaced the running kernel (`mem::swap` on the `&mut Kernel` it got).
    Swapped,
}

impl RunError {
    pub(crate) fn new(repr: RunRepr) -> RunError {
        RunError { repr }
    }

    /// No task can ever run again: the stuck tasks and what each waits for.
    pub fn deadlock(&self) -> Option<&[StuckTask]> {
        match &self.repr {
            RunRepr::Deadlock(stuck) => Some(stuck),
            _ => None,
        }
    }

    /// The future given to [`Kernel::block_on`](crate::Kernel::block_on) panicked or was killed.
    pub fn main_task(&self) -> Option<&JoinError> {
        match &self.repr {
            RunRepr::Main(e) => Some(e),
            _ => None,
        }
    }

    /// Takes the main task's error out, to resume its panic say.
    ///
    /// # Errors
    ///
    /// Gives `self` back when the run did not fail because of the main task.
    pub fn into_main_task(self) -> Result<JoinError, RunError> {
        match self.repr {
            RunRepr::Main(e) => Ok(e),
            repr => Err(RunError { repr }),
        }
    }

    /// The operating system's poller failed.
    pub fn io(&self) -> Option<&io::Error> {
        match &self.repr {
            RunRepr::Io(e) => Some(e),
            _ => None,
        }
    }

    /// A system call replaced the running kernel with another one (`std::mem::swap` or
    /// `mem::replace` on the `&mut Kernel` that [`SystemCall::handle`](crate::SystemCall::handle)
    /// gets), so the run could not go on. The tasks of the kernel swapped in are dropped.
    pub fn is_kernel_swapped(&self) -> bool {
        matches!(self.repr, RunRepr::Swapped)
    }
}

impl fmt::Debug for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            RunRepr::Deadlock(stuck) => {
                write!(f, "deadlock: no task can run again; stuck:")?;
                for (i, s) in stuck.iter().enumerate() {
                    let sep = if i == 0 { " " } else { "; " };
                    write!(f, "{sep}task {} waits for {}", s.id, s.waiting_on)?;
                }
                Ok(())
            }
            RunRepr::Main(e) => write!(f, "main task failed: {e}"),
            RunRepr::Io(e) => write!(f, "kernel poller failed: {e}"),
            RunRepr::Swapped => f.write_str(
                "a system call swapped the running kernel for another; the run cannot go on",
            ),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            RunRepr::Deadlock(_) | RunRepr::Swapped => None,
            RunRepr::Main(e) => Some(e),
            RunRepr::Io(e) => Some(e),
        }
    }
}
