//! The `SystemCall` trait, the awaitable [`Call`] that carries one to the kernel, and the
//! built-in calls, each implemented through the same trait a user's own call would use.

use std::fmt;
use std::future::{Future, IntoFuture, poll_fn};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::Kernel;
use crate::current::{with_current, with_kernel_id};
use crate::error::{Elapsed, JoinError, JoinRepr, KillError, OutsideKernel};
use crate::poller::{Dir, IoKey};
use crate::task::{JoinHandle, TaskId, TaskObj, WaitingOn};
use crate::timer::TimerId;

/// A request from a task to the kernel, with a result type checked at compile time.
///
/// This is pyos's `SystemCall`: awaiting one (wrapped in a [`Call`], see [`syscall`]) hands it to
/// the kernel, whose answer becomes the value of the `await`. [`handle`](Self::handle) gets the
/// kernel and the calling task and decides, exactly as pyos's `handle()` does:
///
/// - answer at once with `Poll::Ready(value)`: no task switch (curio does this for cheap traps);
/// - or park the task with `Poll::Pending`, having arranged its wake-up: [`Kernel::wake`] (back
///   of the ready queue), [`Kernel::add_timer`], [`Kernel::add_joiner`], or a waker given to
///   someone. When the task is resumed, `handle` is called again and decides anew (a wake-up may
///   be spurious).
///
/// Every built-in call ([`tid`], [`yield_now`], [`spawn`], [`kill`], [`wait`], [`sleep`],
/// [`readable`], ...) is an implementation of this trait and nothing more.
///
/// # Examples
///
/// A call that answers with the number of live tasks:
///
/// ```
/// use std::task::Poll;
/// use coros_kernel::{Kernel, SystemCall, TaskId, syscall};
///
/// struct LiveTasks;
///
/// impl SystemCall for LiveTasks {
///     type Output = usize;
///
///     fn handle(&mut self, kernel: &mut Kernel, _task: TaskId) -> Poll<usize> {
///         Poll::Ready(kernel.live_tasks())
///     }
/// }
///
/// let n = Kernel::new()?.block_on(async { syscall(LiveTasks).await })??;
/// assert_eq!(n, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait SystemCall: Unpin {
    /// What the task gets back.
    type Output;

    /// Decides what the calling `task` gets and when it runs again; see the trait's docs.
    ///
    /// `kernel` is the running kernel, lent for this call: use its methods, but do not replace
    /// it (`std::mem::swap`, `mem::replace`). A kernel swapped for another is detected when the
    /// task's poll returns, and the run ends with a [`RunError`](crate::RunError) for which
    /// [`is_kernel_swapped`](crate::RunError::is_kernel_swapped) holds.
    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<Self::Output>;

    /// Called when the awaiting future is dropped while the call is parked (the task was killed,
    /// or a timeout gave up on it): withdraw what `handle` registered. Not called if the kernel
    /// is gone by then; registrations must tolerate that (timers and wakers of ended tasks are
    /// ignored by the kernel).
    fn cancel(&mut self, kernel: &mut Kernel, task: TaskId) {
        let _ = (kernel, task);
    }
}

/// Wraps a system call so it can be awaited.
///
/// # Examples
///
/// ```
/// # use coros_kernel::{Kernel, syscall};
/// # struct Nothing;
/// # impl coros_kernel::SystemCall for Nothing {
/// #     type Output = ();
/// #     fn handle(&mut self, _: &mut Kernel, _: coros_kernel::TaskId) -> std::task::Poll<()> {
/// #         std::task::Poll::Ready(())
/// #     }
/// # }
/// Kernel::new()?.block_on(async { syscall(Nothing).await })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn syscall<S: SystemCall>(call: S) -> Call<S> {
    Call::new(call)
}

/// A system call on its way to the kernel; awaiting it gives the call's output, or
/// [`OutsideKernel`] when no kernel task is running here.
#[must_use = "a system call does nothing unless awaited"]
pub struct Call<S: SystemCall> {
    call: S,
    /// The task the call parked, while it is parked; its id also names its kernel.
    ///
    /// Discussion: the id carries its kernel's id, which is what `Drop` checks before it
    /// cancels, as `Kernel` checks a `TaskId` it is given. A separate kernel
    /// field (and a state besides `Fresh`/`Parked`/`Done`) made every `Call`, and so every
    /// `JoinHandle`, 16 bytes larger.
    parked: Option<TaskId>,
}

impl<S: SystemCall> Call<S> {
    pub(crate) fn new(call: S) -> Call<S> {
        Call { call, parked: None }
    }

    pub(crate) fn get_ref(&self) -> &S {
        &self.call
    }

    pub(crate) fn get_mut(&mut self) -> &mut S {
        &mut self.call
    }
}

impl<S: SystemCall> fmt::Debug for Call<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.parked.is_some() {
            "parked"
        } else {
            "not parked"
        };
        f.debug_struct("Call")
            .field("call", &std::any::type_name::<S>())
            .field("state", &state)
            .finish()
    }
}

impl<S: SystemCall> Future for Call<S> {
    type Output = Result<S::Output, OutsideKernel>;

    #[inline]
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let call = &mut this.call;
        match with_current(|k, task| (call.handle(k, task), task)) {
            Err(e) => {
                this.parked = None;
                Poll::Ready(Err(e))
            }
            Ok((Poll::Ready(v), _)) => {
                this.parked = None;
                Poll::Ready(Ok(v))
            }
            Ok((Poll::Pending, task)) => {
                this.parked = Some(task);
                Poll::Pending
            }
        }
    }
}

impl<S: SystemCall> Drop for Call<S> {
    fn drop(&mut self) {
        if let Some(task) = self.parked {
            let call = &mut self.call;
            with_kernel_id(task.kernel(), |k| call.cancel(k, task));
        }
    }
}

/// pyos's `GetTid`: the calling task's id. Answered at once, no task switch.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct GetTid;

impl SystemCall for GetTid {
    type Output = TaskId;

    fn handle(&mut self, _kernel: &mut Kernel, task: TaskId) -> Poll<TaskId> {
        Poll::Ready(task)
    }
}

/// The calling task's id (pyos's `GetTid`).
///
/// # Errors
///
/// [`OutsideKernel`] when awaited outside a kernel task.
///
/// # Examples
///
/// ```
/// let id = coros_kernel::Kernel::new()?.block_on(async { coros_kernel::tid().await })??;
/// assert_eq!(id.as_u64(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tid() -> Call<GetTid> {
    Call::new(GetTid)
}

/// pyos's `YieldControl`: go to the back of the ready queue.
#[derive(Debug, Clone, Copy, Default)]
pub struct YieldNow {
    yielded: bool,
}

impl SystemCall for YieldNow {
    type Output = ();

    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        kernel.wake(task);
        Poll::Pending
    }
}

/// Lets every other ready task run once before this one goes on (pyos's `YieldControl`).
///
/// # Errors
///
/// [`OutsideKernel`] when awaited outside a kernel task.
pub fn yield_now() -> Call<YieldNow> {
    Call::new(YieldNow::default())
}

/// pyos's `NewTask`: start a task, get a [`JoinHandle`] to its result.
///
/// Polled again after it answered (a future polled past its completion), it spawns nothing
/// more and answers with a handle whose await fails with [`JoinError::is_duplicate`].
pub struct Spawn<F> {
    fut: Option<F>,
    /// The task spawned by the first answer.
    spawned: Option<TaskId>,
}

// The future is only ever moved, never polled in place, so `Spawn` is `Unpin` whatever `F` is.
impl<F> Unpin for Spawn<F> {}

impl<F> fmt::Debug for Spawn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawn").finish_non_exhaustive()
    }
}

impl<F: Future + 'static> SystemCall for Spawn<F> {
    type Output = JoinHandle<F::Output>;

    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<Self::Output> {
        match self.fut.take() {
            Some(fut) => {
                let handle = kernel.spawn(fut);
                self.spawned = Some(handle.id());
                Poll::Ready(handle)
            }
            // Discussion: the trait's `Output` is the handle itself, so a repeated poll cannot
            // answer with an `Err`; it answers with a handle that holds the error instead.
            None => Poll::Ready(JoinHandle::duplicate(self.spawned.unwrap_or(task))),
        }
    }
}

/// Starts a new task running `fut` and gives a [`JoinHandle`] to await its value (pyos's
/// `NewTask`); the new task runs after those already ready. Answered at once.
///
/// # Errors
///
/// [`OutsideKernel`] when awaited outside a kernel task (`fut` is then dropped unrun).
pub fn spawn<F: Future + 'static>(fut: F) -> Call<Spawn<F>> {
    Call::new(Spawn {
        fut: Some(fut),
        spawned: None,
    })
}

/// pyos's `KillTask`.
#[derive(Debug, Clone, Copy)]
pub struct Kill {
    target: TaskId,
    killed: bool,
}

impl SystemCall for Kill {
    type Output = Result<(), KillError>;

    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<Self::Output> {
        if self.killed {
            return Poll::Ready(Ok(()));
        }
        kernel.kill(self.target)?;
        self.killed = true;
        if self.target == task {
            // Killing oneself: the task ends when this poll returns; it never resumes.
            kernel.set_waiting_on(task, WaitingOn::Other("its own kill"));
        } else {
            // Discussion: the killer resumes only after the victim's future has been dropped
            // (the loop drops it right after this poll), so when `kill` returns the victim's
            // destructors have run and its sockets are closed. One task switch buys that.
            kernel.wake(task);
        }
        Poll::Pending
    }
}

/// Kills a task (pyos's `KillTask`): see [`Kernel::kill`]. When it returns, the victim's
/// destructors have run.
///
/// # Errors
///
/// The outer [`OutsideKernel`] outside a kernel task; the inner [`KillError`] when the target
/// has already ended or never existed.
pub fn kill(target: TaskId) -> Call<Kill> {
    Call::new(Kill {
        target,
        killed: false,
    })
}

/// pyos's `WaitTask`, by id.
pub struct Wait {
    target: TaskId,
    outcome: Option<Rc<dyn TaskObj>>,
}

impl fmt::Debug for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("target", &self.target)
            .finish()
    }
}

impl SystemCall for Wait {
    type Output = Result<(), JoinError>;

    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<Self::Output> {
        if let Some(o) = &self.outcome
            && let Some(r) = o.ended(self.target)
        {
            return Poll::Ready(r);
        }
        if self.target == task {
            return Poll::Ready(Err(JoinError::new(task, JoinRepr::SelfJoin)));
        }
        if self.outcome.is_none() {
            match kernel.outcome_of(self.target) {
                Some(o) if kernel.add_joiner(self.target, task) => self.outcome = Some(o),
                _ => return Poll::Ready(Err(JoinError::new(self.target, JoinRepr::Gone))),
            }
        }
        kernel.set_waiting_on(task, WaitingOn::Join(self.target));
        Poll::Pending
    }

    fn cancel(&mut self, kernel: &mut Kernel, task: TaskId) {
        kernel.remove_joiner(self.target, task);
    }
}

/// Waits for a task by id and tells how it ended (pyos's `WaitTask`); to get its value, await
/// its [`JoinHandle`] instead.
///
/// # Errors
///
/// The outer [`OutsideKernel`] outside a kernel task. The inner [`JoinError`] when the task was
/// killed or panicked, when a task waits for itself ([`JoinError::is_self_join`]) or when it had
/// already ended before the wait began ([`JoinError::is_gone`]).
pub fn wait(target: TaskId) -> Call<Wait> {
    Call::new(Wait {
        target,
        outcome: None,
    })
}

/// Sleeping until a deadline.
#[derive(Debug, Clone, Copy)]
pub struct Sleep {
    after: Duration,
    deadline: Option<Instant>,
    timer: Option<TimerId>,
    /// The deadline is past what an `Instant` can hold: the sleep never ends.
    forever: bool,
}

impl SystemCall for Sleep {
    type Output = ();

    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<()> {
        let deadline = match self.deadline {
            Some(d) => d,
            None if self.forever => return Self::park_forever(kernel, task),
            None => match Instant::now().checked_add(self.after) {
                Some(d) => {
                    self.deadline = Some(d);
                    d
                }
                None => {
                    // Discussion: a duration no clock can reach (`Duration::MAX`, a timeout
                    // meaning "no timeout") sleeps forever: the task parks with no timer, so
                    // it ends only if killed or dropped, and a run with nothing else to wake
                    // it ends in a deadlock report instead of waiting for ever.
                    self.forever = true;
                    return Self::park_forever(kernel, task);
                }
            },
        };
        match self.timer {
            // Discussion: the kernel removes a timer when it fires, so "still registered" tells a
            // spurious wake-up (a waker, a timeout's other branch) from the real one without
            // reading the clock.
            Some(t) if kernel.timer_pending(t) => {}
            Some(_) => return Poll::Ready(()),
            None => {
                if deadline <= Instant::now() {
                    return Poll::Ready(());
                }
                self.timer = Some(kernel.add_timer(deadline, task));
            }
        }
        kernel.set_waiting_on(task, WaitingOn::Sleep { until: deadline });
        Poll::Pending
    }

    fn cancel(&mut self, kernel: &mut Kernel, _task: TaskId) {
        if let Some(t) = self.timer {
            kernel.cancel_timer(t);
        }
    }
}

impl Sleep {
    fn park_forever(kernel: &mut Kernel, task: TaskId) -> Poll<()> {
        kernel.set_waiting_on(task, WaitingOn::Other("a sleep that never ends"));
        Poll::Pending
    }
}

/// Sleeps for `duration`; other tasks run meanwhile. A zero duration returns at once; one too
/// long for the clock to reach (`Duration::MAX`) never ends: the task waits until it is killed,
/// and a run where nothing else can wake it ends in a deadlock report.
///
/// # Errors
///
/// [`OutsideKernel`] when awaited outside a kernel task.
pub fn sleep(duration: Duration) -> Call<Sleep> {
    Call::new(Sleep {
        after: duration,
        deadline: None,
        timer: None,
        forever: false,
    })
}

/// Sleeps until `deadline`; a deadline in the past returns at once.
///
/// # Errors
///
/// [`OutsideKernel`] when awaited outside a kernel task.
pub fn sleep_until(deadline: Instant) -> Call<Sleep> {
    Call::new(Sleep {
        after: Duration::ZERO,
        deadline: Some(deadline),
        timer: None,
        forever: false,
    })
}

/// Runs `fut` for at most `duration`; if time runs out first, `fut` is dropped (wherever it
/// waits: a sleep, a socket, a join) and the result is [`Elapsed`]. A `duration` too long for
/// the clock to reach (`Duration::MAX`) means no time limit.
///
/// # Errors
///
/// [`Elapsed`] when the time ran out, or ([`Elapsed::is_outside_kernel`]) when the timer could
/// not be armed outside a kernel task and `fut` was not ready at once.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use coros_kernel::{Kernel, sleep, timeout};
///
/// let r = Kernel::new()?.block_on(async {
///     timeout(Duration::from_millis(1), sleep(Duration::from_secs(60))).await
/// })?;
/// assert!(r.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn timeout<F: IntoFuture>(duration: Duration, fut: F) -> Result<F::Output, Elapsed> {
    let mut fut = pin!(fut.into_future());
    let mut timer = sleep(duration);
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut timer).poll(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Err(Elapsed::new(false))),
            Poll::Ready(Err(OutsideKernel)) => Poll::Ready(Err(Elapsed::new(true))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Waiting for read or write readiness of a descriptor.
#[derive(Debug)]
pub struct Readiness<'fd> {
    fd: BorrowedFd<'fd>,
    dir: Dir,
    key: Option<(IoKey, bool)>,
}

impl SystemCall for Readiness<'_> {
    type Output = io::Result<()>;

    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<io::Result<()>> {
        let (key, _) = match self.key {
            Some(k) => k,
            None => {
                let (reactor, remote) = kernel.reactor();
                let k = match reactor.lookup(self.fd.as_raw_fd()) {
                    Some(key) => (key, false),
                    None => match reactor.register(remote.poller(), self.fd, true) {
                        Ok(key) => (key, true),
                        Err(e) => return Poll::Ready(Err(e)),
                    },
                };
                self.key = Some(k);
                k
            }
        };
        match io_poll(kernel, key, self.dir, task) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                self.release(kernel, task);
                Poll::Ready(r)
            }
        }
    }

    fn cancel(&mut self, kernel: &mut Kernel, task: TaskId) {
        self.release(kernel, task);
    }
}

impl Readiness<'_> {
    fn release(&mut self, kernel: &mut Kernel, task: TaskId) {
        if let Some((key, _temporary)) = self.key.take() {
            let (reactor, remote) = kernel.reactor();
            reactor.cancel_wait(key, self.dir, task);
            if reactor.is_idle_temporary(key) {
                reactor.deregister(remote.poller(), key, self.fd);
            }
        }
    }
}

/// Readiness check shared by [`Readiness`] and the kernel's sockets.
pub(crate) fn io_poll(
    kernel: &mut Kernel,
    key: IoKey,
    dir: Dir,
    task: TaskId,
) -> Poll<io::Result<()>> {
    let holder_alive = kernel
        .reactor()
        .0
        .holder(key, dir)
        .is_some_and(|h| kernel.is_alive(h));
    let (reactor, _) = kernel.reactor();
    let fd = reactor.fd(key);
    match reactor.poll_ready(key, dir, task, holder_alive) {
        Ok(true) => Poll::Ready(Ok(())),
        Ok(false) => {
            if let Some(fd) = fd {
                let what = match dir {
                    Dir::Read => WaitingOn::Readable(fd),
                    Dir::Write => WaitingOn::Writable(fd),
                };
                kernel.set_waiting_on(task, what);
            }
            Poll::Pending
        }
        Err(e) => Poll::Ready(Err(e)),
    }
}

/// Waits until `fd` is readable (pyos's `ReadWait`); the descriptor is registered for the wait
/// only.
///
/// # Errors
///
/// The outer [`OutsideKernel`] outside a kernel task. Inside, an [`io::Error`] from the poller,
/// or of kind [`io::ErrorKind::ResourceBusy`] (carrying a [`ResourceBusy`](crate::ResourceBusy))
/// when another task already waits to read the same descriptor.
pub fn readable(fd: BorrowedFd<'_>) -> Call<Readiness<'_>> {
    Call::new(Readiness {
        fd,
        dir: Dir::Read,
        key: None,
    })
}

/// Waits until `fd` is writable (pyos's `WriteWait`); see [`readable`].
///
/// # Errors
///
/// As [`readable`], for writing.
pub fn writable(fd: BorrowedFd<'_>) -> Call<Readiness<'_>> {
    Call::new(Readiness {
        fd,
        dir: Dir::Write,
        key: None,
    })
}
