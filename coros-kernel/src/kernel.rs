//! The kernel: the task loop, the scoped access system calls use, and the calls' kernel-side
//! operations.
//!
//! # How a system call reaches the kernel
//!
//! While `Kernel::run` runs, the kernel lives in the loop's frame. Around each poll of a task the
//! loop records which task runs and makes the kernel reachable through a thread-local slot
//! (`current.rs`), so a system call awaited anywhere inside that task (however deeply nested, and
//! whatever waker the future above it uses) takes the kernel out of the slot, calls its `handle`,
//! and puts it back before returning.
//!
//! Discussion: this is the safe form of "the kernel and the task, passed down". Tying the access
//! to the identity of `cx.waker()` would be faster by a few nanoseconds, but a wrapper waker (an
//! async generator driving its body, a `select`) hides the kernel's waker and would cut the call
//! off from its kernel. The slot is checked at every use: no kernel, a kernel that is busy (a
//! call awaited from an exit hook, or from a destructor a call runs), or no current task all give
//! [`OutsideKernel`](crate::OutsideKernel) instead of a panic.

use std::fmt;
use std::future::Future;
use std::io;
use std::num::NonZeroU64;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::current::Scope;
use crate::error::{JoinError, JoinRepr, KillError, RunError, RunRepr, StuckTask};
use crate::poller::{Reactor, Remote};
use crate::task::{
    Exit, JoinHandle, JoinSlot, KERNEL_ID_BITS, ReadyQueue, RunState, TaskCell, TaskExit, TaskId,
    TaskObj, TaskTable, WaitKind, WaitRepr, WaitingOn,
};
use crate::timer::{TimerId, Timers};
use crate::waker::PollWaker;

type ExitHook = Box<dyn FnMut(&TaskExit)>;

static NEXT_KERNEL_ID: AtomicU64 = AtomicU64::new(1);

/// How many polls may pass before timers and I/O are looked at even though tasks are ready, so a
/// task that yields in a loop cannot starve a sleeper or a socket (tokio uses the same number).
const EVENT_INTERVAL: u32 = 61;

/// A single-threaded kernel that runs tasks (any `Future + 'static`), as pyos's `Scheduler`.
///
/// Build one with [`Kernel::new`], give it tasks with [`spawn`](Kernel::spawn), then hand the
/// thread to it with [`run`](Kernel::run) (until every task has ended) or
/// [`block_on`](Kernel::block_on) (until one future is done). Tasks talk to the kernel by awaiting
/// system calls ([`tid`](crate::tid), [`yield_now`](crate::yield_now), [`spawn`](crate::spawn),
/// ...). Inside [`SystemCall::handle`](crate::SystemCall::handle) the kernel is passed by
/// `&mut`, and its methods are what a system call may do: wake a task, spawn, kill, add a timer,
/// say what a task waits for.
///
/// # Examples
///
/// ```
/// use coros_kernel::{Kernel, tid, yield_now};
///
/// let mut kernel = Kernel::new()?;
/// kernel.on_exit(|e| println!("Task {} terminated", e.id));
/// for name in ["foo", "bar"] {
///     kernel.spawn(async move {
///         let me = tid().await?;
///         println!("I'm {name} {me}");
///         yield_now().await
///     }).detach();
/// }
/// kernel.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// ```text
/// I'm foo 1
/// I'm bar 2
/// Task 1 terminated
/// Task 2 terminated
/// ```
///
/// A kernel belongs to its thread: its tasks need not be `Send`, so it is not `Send` itself.
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(coros_kernel::Kernel::new().unwrap());
/// ```
pub struct Kernel {
    id: u64,
    tasks: TaskTable,
    ready: ReadyQueue,
    timers: Timers,
    reactor: Reactor,
    remote: Arc<Remote>,
    current: Option<TaskId>,
    /// Someone woke the current task while it ran: it goes back to the ready queue after.
    current_woken: bool,
    /// The current task killed itself: it ends as killed when its poll returns.
    current_killed: bool,
    graveyard: Vec<(Rc<dyn TaskObj>, JoinError)>,
    /// Finished tasks whose value no one will take, to drop with the kernel released.
    released: Vec<Rc<dyn TaskObj>>,
    exit_hook: Option<ExitHook>,
    exits: Vec<TaskExit>,
    /// Something went into `graveyard`, `released` or `exits` since the loop last emptied them.
    ended_some: bool,
    /// The origin of the compact sleep deadlines in the task table.
    epoch: Instant,
    /// Descriptions given as `WaitingOn::Other`, interned.
    wait_texts: Vec<&'static str>,
    next_seq: u64,
    main: Option<TaskId>,
    main_done: bool,
    running: bool,
    ticks: u32,
    wake_buf: Vec<TaskId>,
    remote_buf: Vec<(u32, u64)>,
}

impl fmt::Debug for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernel")
            .field("live_tasks", &self.tasks.live())
            .field("ready", &self.ready.len())
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

enum Step {
    Poll(TaskId, Rc<dyn TaskObj>),
    Done,
    Fail(RunError),
}

impl Kernel {
    /// Creates a kernel with no tasks.
    ///
    /// # Errors
    ///
    /// Fails if the operating system's poller cannot be created (out of descriptors, say), or
    /// after 2^46 kernels, when task ids could no longer tell kernels apart.
    pub fn new() -> io::Result<Kernel> {
        let id = NEXT_KERNEL_ID.fetch_add(1, Ordering::Relaxed);
        if id >= 1 << KERNEL_ID_BITS {
            // 2^46 kernels: never reached in practice, but past it task ids would be ambiguous.
            return Err(io::Error::other("kernel ids exhausted"));
        }
        Ok(Kernel {
            id,
            tasks: TaskTable::new(id),
            ready: ReadyQueue::new(),
            timers: Timers::new(),
            reactor: Reactor::new(),
            remote: Arc::new(Remote::new(id)?),
            current: None,
            current_woken: false,
            current_killed: false,
            graveyard: Vec::new(),
            released: Vec::new(),
            exit_hook: None,
            exits: Vec::new(),
            ended_some: false,
            epoch: Instant::now(),
            wait_texts: Vec::new(),
            next_seq: 1,
            main: None,
            main_done: false,
            running: false,
            ticks: 0,
            wake_buf: Vec::new(),
            remote_buf: Vec::new(),
        })
    }

    /// Adds a task; it runs when the kernel reaches it in the ready queue (pyos's `new`).
    ///
    /// Tasks from inside the kernel use the [`spawn`](crate::spawn) system call, which comes here.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut kernel = coros_kernel::Kernel::new()?;
    /// let child = kernel.spawn(async { "done" });
    /// kernel.run()?;
    /// assert_eq!(futures::executor::block_on(child)?, "done");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn<F>(&mut self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let seq = NonZeroU64::new(self.next_seq).expect("task numbers start at 1");
        self.next_seq += 1;
        let cell = Rc::new(TaskCell::new(fut));
        let task: Rc<dyn TaskObj> = cell.clone();
        let join: Rc<dyn JoinSlot<F::Output>> = cell;
        let id = self.tasks.insert(seq, task);
        self.ready.push(id.into());
        JoinHandle::new(id, join)
    }

    /// Sets the hook called each time a task ends, with its id and how it ended.
    ///
    /// The library prints nothing itself; the pyos example prints `Task N terminated` from here.
    /// The hook runs inside the kernel's bookkeeping: system calls awaited from it fail with
    /// [`OutsideKernel`](crate::OutsideKernel).
    ///
    /// # Examples
    ///
    /// ```
    /// use coros_kernel::{Exit, Kernel};
    ///
    /// let mut kernel = Kernel::new()?;
    /// kernel.on_exit(|e| match &e.exit {
    ///     Exit::Completed => println!("Task {} terminated", e.id),
    ///     Exit::Panicked(msg) => println!("Task {} panicked: {msg:?}", e.id),
    ///     other => println!("Task {} ended: {other:?}", e.id),
    /// });
    /// kernel.spawn(async {}).detach();
    /// kernel.spawn(async { panic!("oops") }).detach();
    /// kernel.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// ```text
    /// Task 1 terminated
    /// Task 2 panicked: Some("oops")
    /// ```
    pub fn on_exit(&mut self, hook: impl FnMut(&TaskExit) + 'static) {
        self.exit_hook = Some(Box::new(hook));
    }

    /// Runs until every task has ended (pyos's `mainloop`). The only way in for synchronous code.
    ///
    /// # Errors
    ///
    /// A deadlock (tasks remain but none can ever run again: nothing ready, no timer, no I/O
    /// interest, no waker held anywhere) ends the run with a [`RunError`] listing the stuck
    /// tasks and what each waits for; the stuck tasks are then dropped. A failing OS poller ends
    /// it too, and so does a system call that swaps the running kernel for another
    /// ([`RunError::is_kernel_swapped`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use coros_kernel::{Kernel, WaitingOn, wait};
    ///
    /// let mut kernel = Kernel::new()?;
    /// let stuck = kernel.spawn(std::future::pending::<()>());
    /// let id = stuck.id();
    /// kernel.spawn(async move { wait(id).await }).detach();
    /// let err = kernel.run().unwrap_err();
    /// let report = err.deadlock().unwrap();
    /// assert_eq!(report[1].waiting_on, WaitingOn::Join(id));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "deadlock: no task can run again; stuck: task 1 waits for a waker that no one holds; \
    ///      task 2 waits for task 1 to end"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run(self) -> Result<(), RunError> {
        self.drive()
    }

    /// Runs `fut` as a task until it is done and returns its value; other tasks still alive then
    /// are dropped (as killed).
    ///
    /// # Errors
    ///
    /// As [`run`](Kernel::run), and also when `fut` panics or is killed
    /// ([`RunError::main_task`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use coros_kernel::{Kernel, sleep};
    ///
    /// let v = Kernel::new()?.block_on(async {
    ///     sleep(Duration::from_millis(1)).await?;
    ///     Ok::<_, coros_kernel::OutsideKernel>(7)
    /// })??;
    /// assert_eq!(v, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn block_on<F>(mut self, fut: F) -> Result<F::Output, RunError>
    where
        F: Future + 'static,
    {
        let mut main = self.spawn(fut);
        self.main = Some(main.id());
        self.drive()?;
        match main.take_now() {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(RunError::new(RunRepr::Main(e))),
            None => Err(RunError::new(RunRepr::Main(JoinError::new(
                main.id(),
                JoinRepr::Gone,
            )))),
        }
    }

    fn drive(mut self) -> Result<(), RunError> {
        self.running = true;
        let remote = self.remote.clone();
        let mut run = Run {
            scope: Scope::enter(),
            kernel: self,
        };
        let Run { scope, kernel } = &mut run;
        // Discussion: `SystemCall::handle` gets `&mut Kernel`, so a call could `mem::swap` the
        // running kernel for another. Memory stays sound (the slot points at the place, not at
        // a kernel), but the loop would then go on with a kernel that never polled the task, and
        // fail on an index deep in the task table. The id is compared after each lend instead,
        // and the run ends with a typed error.
        let id = kernel.id;
        loop {
            match kernel.next_step() {
                Step::Poll(task, obj) => {
                    let poll_waker = PollWaker {
                        remote: &remote,
                        index: task.index(),
                        seq: task.as_u64(),
                    };
                    let res = scope.lend_during(kernel, || {
                        poll_waker.with(|waker| {
                            let mut cx = Context::from_waker(waker);
                            panic::catch_unwind(AssertUnwindSafe(|| obj.poll_task(&mut cx)))
                        })
                    });
                    if kernel.id != id {
                        return Err(RunError::new(RunRepr::Swapped));
                    }
                    if kernel.after_poll(task, obj, res) {
                        kernel.ended_some = false;
                        kernel.bury(Some(scope));
                        if kernel.id != id {
                            return Err(RunError::new(RunRepr::Swapped));
                        }
                        kernel.deliver_exits();
                    }
                }
                Step::Done => return Ok(()),
                Step::Fail(e) => return Err(e),
            }
        }
    }

    fn next_step(&mut self) -> Step {
        loop {
            if self.main_done {
                return Step::Done;
            }
            self.take_remote_wakes();
            self.ticks += 1;
            if self.ticks >= EVENT_INTERVAL {
                self.ticks = 0;
                if let Err(e) = self.maintain(Some(Duration::ZERO)) {
                    return Step::Fail(RunError::new(RunRepr::Io(e)));
                }
            }
            while let Some(entry) = self.ready.pop() {
                let Some((id, slot)) = self.tasks.queued(entry) else {
                    continue;
                };
                slot.state = RunState::Running;
                slot.waiting = WaitRepr::UNKNOWN;
                let obj = slot.task.clone().expect("a queued task is in its slot");
                self.current = Some(id);
                self.current_woken = false;
                self.current_killed = false;
                return Step::Poll(id, obj);
            }
            if self.tasks.live() == 0 {
                return Step::Done;
            }
            let deadline = self.timers.next_deadline();
            if deadline.is_none() && self.reactor.waiting() == 0 && !self.waker_outstanding() {
                // Discussion: a waker may have been used and dropped on another thread just now;
                // its wake was queued before its count went down, so look at the queue again.
                if self.remote.has_wakes() {
                    continue;
                }
                return Step::Fail(RunError::new(RunRepr::Deadlock(self.stuck())));
            }
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if let Err(e) = self.maintain(timeout) {
                return Step::Fail(RunError::new(RunRepr::Io(e)));
            }
        }
    }

    /// Queues the tasks woken from other threads.
    fn take_remote_wakes(&mut self) {
        self.remote.take_wakes(&mut self.remote_buf);
        if !self.remote_buf.is_empty() {
            let mut buf = std::mem::take(&mut self.remote_buf);
            for (index, seq) in buf.drain(..) {
                self.wake_slot(index, seq);
            }
            self.remote_buf = buf;
        }
    }

    /// Looks at I/O (waiting up to `timeout`; `Some(ZERO)` only peeks) and fires due timers.
    fn maintain(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let mut wake = std::mem::take(&mut self.wake_buf);
        if timeout != Some(Duration::ZERO) || self.reactor.waiting() > 0 {
            self.reactor
                .wait(self.remote.poller(), timeout, &mut wake)?;
        }
        if !self.timers.is_empty() {
            self.timers.fire(Instant::now(), &mut wake);
        }
        for t in wake.drain(..) {
            self.wake(t);
        }
        self.wake_buf = wake;
        Ok(())
    }

    /// Whether some task's waker is held anywhere (a channel, another thread), so that a task
    /// may still be woken.
    fn waker_outstanding(&self) -> bool {
        // Discussion: a waker kept by another stuck task's future counts too: the kernel then
        // waits, as it cannot tell that the waker will never be used.
        self.remote.owned_wakers.load(Ordering::Acquire) > 0
    }

    fn stuck(&self) -> Vec<StuckTask> {
        self.tasks
            .iter()
            .map(|(id, s)| StuckTask {
                id,
                waiting_on: self.unpack_wait(s.waiting),
            })
            .collect()
    }

    fn after_poll(
        &mut self,
        task: TaskId,
        obj: Rc<dyn TaskObj>,
        res: std::thread::Result<Poll<()>>,
    ) -> bool {
        self.current = None;
        match res {
            Ok(Poll::Pending) => {
                drop(obj);
                if self.current_killed {
                    self.finish(task, None);
                } else {
                    let slot = self.tasks.running_mut(task);
                    if self.current_woken {
                        slot.state = RunState::Queued;
                        self.ready.push(task.into());
                    } else {
                        slot.state = RunState::Parked;
                        if slot.waiting == WaitRepr::UNKNOWN {
                            slot.waiting = WaitRepr::WAKER;
                        }
                    }
                }
            }
            Ok(Poll::Ready(())) => {
                drop(obj);
                self.finish_completed(task);
            }
            Err(payload) => {
                drop(obj);
                self.finish(task, Some(payload));
            }
        }
        self.ended_some
    }

    fn finish_completed(&mut self, task: TaskId) {
        let Some(removed) = self.tasks.remove(task) else {
            return;
        };
        if let Some(obj) = removed.task
            && Rc::strong_count(&obj) == 1
        {
            // No handle wants the value: it is dropped with the kernel released, as its
            // destructor may need the kernel (a socket deregistering, say).
            self.released.push(obj);
            self.ended_some = true;
        }
        for j in removed.joiners {
            self.wake(j);
        }
        self.exited(TaskExit {
            id: task,
            exit: Exit::Completed,
        });
    }

    /// Ends `task` as killed (`payload == None`) or panicked.
    fn finish(&mut self, task: TaskId, payload: Option<Box<dyn std::any::Any + Send>>) {
        let Some(removed) = self.tasks.remove(task) else {
            return;
        };
        let panicked = payload.is_some();
        let (err, exit) = match payload {
            None => (JoinError::new(task, JoinRepr::Killed), Exit::Killed),
            Some(p) => {
                let e = JoinError::panicked(task, p);
                let msg = e.panic_message().map(str::to_owned);
                (e, Exit::Panicked(msg))
            }
        };
        if let Some(obj) = removed.task {
            obj.mark_failed(panicked);
            self.graveyard.push((obj, err));
            self.ended_some = true;
        }
        for j in removed.joiners {
            self.wake(j);
        }
        self.exited(TaskExit { id: task, exit });
    }

    fn exited(&mut self, event: TaskExit) {
        if self.main == Some(event.id) {
            self.main_done = true;
        }
        if self.exit_hook.is_some() {
            self.exits.push(event);
            self.ended_some = true;
        }
    }

    /// Tells the exit hook about the tasks that ended, once their futures have been dropped (so
    /// a killed task's destructors have run before the hook hears of its end).
    fn deliver_exits(&mut self) {
        if self.exits.is_empty() {
            return;
        }
        let mut exits = std::mem::take(&mut self.exits);
        if let Some(mut hook) = self.exit_hook.take() {
            for e in exits.drain(..) {
                hook(&e);
            }
            if self.exit_hook.is_none() {
                self.exit_hook = Some(hook);
            }
        }
        exits.clear();
        self.exits = exits;
    }

    pub(crate) fn wake_slot(&mut self, index: u32, seq: u64) {
        if let Some(id) = self.tasks.id_at(index, seq) {
            self.wake(id);
        }
    }

    /// Schedules `task` to run: to the back of the ready queue if parked; if it is the running
    /// task, it goes back there when its poll returns. Waking a task that is already queued, or
    /// that has ended, does nothing.
    #[inline]
    pub fn wake(&mut self, task: TaskId) {
        if self.current == Some(task) {
            // The usual case (a yield, a call answered by a wake-up): no table lookup.
            self.current_woken = true;
        } else {
            self.wake_other(task);
        }
    }

    #[inline(never)]
    fn wake_other(&mut self, task: TaskId) {
        let Some(slot) = self.tasks.get_mut(task) else {
            return;
        };
        match slot.state {
            RunState::Parked => {
                slot.state = RunState::Queued;
                self.ready.push(task.into());
            }
            RunState::Running => self.current_woken = true,
            RunState::Queued => {}
        }
    }

    /// Kills `task`: its future is dropped wherever it waits (its destructors run, its sockets
    /// close, its timers and readiness waits are withdrawn) and whoever joins it gets a
    /// [`JoinError`] for which [`is_killed`](JoinError::is_killed) holds.
    ///
    /// A task killing itself ends as killed when its current poll returns.
    ///
    /// # Errors
    ///
    /// [`KillError`] when the task has already ended or never existed in this kernel.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut kernel = coros_kernel::Kernel::new()?;
    /// let looper = kernel.spawn(async {
    ///     loop {
    ///         coros_kernel::yield_now().await?;
    ///     }
    ///     #[allow(unreachable_code, reason = "names the block's error type")]
    ///     Ok::<(), coros_kernel::OutsideKernel>(())
    /// });
    /// kernel.kill(looper.id())?;
    /// assert!(kernel.kill(looper.id()).unwrap_err().is_finished());
    /// kernel.run()?;
    /// assert!(futures::executor::block_on(looper).unwrap_err().is_killed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kill(&mut self, task: TaskId) -> Result<(), KillError> {
        let Some(slot) = self.tasks.get_mut(task) else {
            let finished = self.tasks.owns(task) && task.as_u64() < self.next_seq;
            return Err(KillError::new(task, finished));
        };
        if slot.state == RunState::Running {
            self.current_killed = true;
            return Ok(());
        }
        // Discussion: the victim's future is not dropped here: `kill` may run inside another
        // task's system call, while the kernel is borrowed, and the victim's destructors may
        // need the kernel (to withdraw a timer or a readiness wait). It goes to the graveyard,
        // which the loop empties right after the current poll, with the kernel released.
        self.finish(task, None);
        if !self.running {
            // Outside a run no scope lends the kernel: the victim's destructors find no kernel
            // (as a call awaited in them would outside a run), but take the same path as in
            // one, so a destructor that panics cannot keep its joiners from an answer.
            self.bury(None);
            self.deliver_exits();
        }
        Ok(())
    }

    /// Whether `task` is alive (queued, running or parked) in this kernel.
    pub fn is_alive(&self, task: TaskId) -> bool {
        self.tasks.get(task).is_some()
    }

    /// How many tasks are alive.
    pub fn live_tasks(&self) -> usize {
        self.tasks.live()
    }

    /// The ids of the live tasks, in slot order.
    pub fn task_ids(&self) -> Vec<TaskId> {
        self.tasks.iter().map(|(id, _)| id).collect()
    }

    /// What a parked task waits for, as set by the system call that parked it.
    pub fn waiting_on(&self, task: TaskId) -> Option<WaitingOn> {
        let slot = self.tasks.get(task)?;
        (slot.state == RunState::Parked).then(|| self.unpack_wait(slot.waiting))
    }

    /// The task being polled, if any.
    pub fn current_task(&self) -> Option<TaskId> {
        self.current
    }

    /// Records what `task` waits for; a system call that parks its task calls this so a
    /// deadlock report can say why the task is stuck.
    pub fn set_waiting_on(&mut self, task: TaskId, what: WaitingOn) {
        let packed = self.pack_wait(what);
        if let Some(slot) = self.tasks.get_mut(task) {
            slot.waiting = packed;
        }
    }

    fn pack_wait(&mut self, what: WaitingOn) -> WaitRepr {
        match what {
            WaitingOn::Sleep { until } => WaitRepr::sleep(
                u64::try_from(until.saturating_duration_since(self.epoch).as_nanos())
                    .unwrap_or(u64::MAX),
            ),
            WaitingOn::Join(id) => WaitRepr::join(id),
            WaitingOn::Readable(fd) => WaitRepr::readable(fd),
            WaitingOn::Writable(fd) => WaitRepr::writable(fd),
            WaitingOn::Waker => WaitRepr::WAKER,
            WaitingOn::Other(text) => {
                let i = match self.wait_texts.iter().position(|t| std::ptr::eq(*t, text)) {
                    Some(i) => i,
                    None => {
                        self.wait_texts.push(text);
                        self.wait_texts.len() - 1
                    }
                };
                WaitRepr::other(i as u32)
            }
        }
    }

    fn unpack_wait(&self, w: WaitRepr) -> WaitingOn {
        match w.kind() {
            WaitKind::Unknown | WaitKind::Waker => WaitingOn::Waker,
            WaitKind::Sleep(nanos) => WaitingOn::Sleep {
                until: self.epoch + Duration::from_nanos(nanos),
            },
            WaitKind::Join { index, seq_low } => match self.tasks.id_at_low(index, seq_low) {
                Some(id) => WaitingOn::Join(id),
                None => WaitingOn::Waker,
            },
            WaitKind::Readable(fd) => WaitingOn::Readable(fd),
            WaitKind::Writable(fd) => WaitingOn::Writable(fd),
            WaitKind::Other(i) => {
                WaitingOn::Other(self.wait_texts.get(i as usize).copied().unwrap_or("?"))
            }
        }
    }

    /// Arranges for `task` to be woken at `deadline`.
    ///
    /// # Examples
    ///
    /// A user's own sleep, built as [`sleep`](crate::sleep) is:
    ///
    /// ```
    /// use std::task::Poll;
    /// use std::time::{Duration, Instant};
    /// use coros_kernel::{Kernel, SystemCall, TaskId, TimerId, WaitingOn, syscall};
    ///
    /// struct Nap {
    ///     until: Instant,
    ///     timer: Option<TimerId>,
    /// }
    ///
    /// impl SystemCall for Nap {
    ///     type Output = ();
    ///
    ///     fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<()> {
    ///         match self.timer {
    ///             // The kernel removes a timer when it fires.
    ///             Some(t) if !kernel.timer_pending(t) => return Poll::Ready(()),
    ///             Some(_) => {}
    ///             None => self.timer = Some(kernel.add_timer(self.until, task)),
    ///         }
    ///         kernel.set_waiting_on(task, WaitingOn::Other("a nap"));
    ///         Poll::Pending
    ///     }
    ///
    ///     fn cancel(&mut self, kernel: &mut Kernel, _task: TaskId) {
    ///         if let Some(t) = self.timer {
    ///             kernel.cancel_timer(t);
    ///         }
    ///     }
    /// }
    ///
    /// let start = Instant::now();
    /// Kernel::new()?.block_on(async move {
    ///     let until = start + Duration::from_millis(2);
    ///     syscall(Nap { until, timer: None }).await
    /// })??;
    /// assert!(start.elapsed() >= Duration::from_millis(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_timer(&mut self, deadline: Instant, task: TaskId) -> TimerId {
        self.timers.insert(deadline, task)
    }

    /// Withdraws a timer; `true` if it had not fired yet.
    pub fn cancel_timer(&mut self, timer: TimerId) -> bool {
        self.timers.remove(timer)
    }

    /// Whether a timer is still waiting to fire.
    pub fn timer_pending(&self, timer: TimerId) -> bool {
        self.timers.contains(timer)
    }

    /// Registers `joiner` to be woken when `target` ends; `false` if `target` is not alive.
    pub fn add_joiner(&mut self, target: TaskId, joiner: TaskId) -> bool {
        self.tasks.add_joiner(target, joiner)
    }

    /// Withdraws a registration made with [`add_joiner`](Kernel::add_joiner).
    pub fn remove_joiner(&mut self, target: TaskId, joiner: TaskId) {
        self.tasks.remove_joiner(target, joiner);
    }

    /// How `task` ended, if it has: for [`wait`](crate::wait), which keeps the task's outcome
    /// cell from when it started waiting.
    pub(crate) fn outcome_of(&self, task: TaskId) -> Option<Rc<dyn TaskObj>> {
        self.tasks.get(task).and_then(|s| s.task.clone())
    }

    pub(crate) fn reactor(&mut self) -> (&mut Reactor, &Arc<Remote>) {
        (&mut self.reactor, &self.remote)
    }

    pub(crate) fn kernel_id(&self) -> u64 {
        self.id
    }
}

/// A kernel while it runs, with the scope that makes it reachable around each poll.
struct Run {
    scope: Scope,
    kernel: Kernel,
}

impl Drop for Run {
    fn drop(&mut self) {
        // Tasks still alive are ended as killed, and dropped while the kernel is still reachable
        // so that their destructors can withdraw what they registered.
        let k = &mut self.kernel;
        k.current = None;
        k.exit_hook = None;
        for id in k.task_ids() {
            k.finish(id, None);
        }
        k.bury(Some(&self.scope));
    }
}

impl Kernel {
    /// Drops the futures of killed and failed tasks, with the kernel reachable through `scope`
    /// (when the kernel runs) so that their destructors may withdraw what they registered.
    ///
    /// Discussion: every dead task takes this one path, in a run or not (`Kernel::kill` before
    /// the run): a destructor's panic is caught, and the task's result is stored whatever its
    /// destructors did, so its joiners always get an answer.
    fn bury(&mut self, scope: Option<&Scope>) {
        loop {
            let dead = std::mem::take(&mut self.graveyard);
            let released = std::mem::take(&mut self.released);
            if dead.is_empty() && released.is_empty() {
                return;
            }
            let drop_all = || {
                for obj in released {
                    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(obj)));
                }
                for (obj, err) in dead {
                    // A destructor that panics must not take the kernel down with it.
                    let _ = panic::catch_unwind(AssertUnwindSafe(|| obj.drop_future()));
                    obj.fail(err);
                }
            };
            match scope {
                Some(scope) => scope.lend_during(self, drop_all),
                None => drop_all(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_id_of_a_kernel_65536_kernels_older_names_no_task() {
        // Task ids used to carry only the low 16 bits of their kernel's id. Skip ids until a
        // kernel's agrees with `a`'s in those bits (other tests make kernels meanwhile).
        let mut a = Kernel::new().unwrap();
        let b = loop {
            let next = NEXT_KERNEL_ID.load(Ordering::Relaxed);
            let want = a.id + (1 << 16) * ((next - a.id) / (1 << 16) + 1);
            NEXT_KERNEL_ID.fetch_add(want - next, Ordering::Relaxed);
            let b = Kernel::new().unwrap();
            if b.id as u16 == a.id as u16 {
                break b;
            }
        };
        let mut b = b;
        let in_a = a.spawn(async {});
        let in_b = b.spawn(async {});
        assert_eq!(in_a.id().as_u64(), in_b.id().as_u64());
        assert!(!b.is_alive(in_a.id()));
        assert!(!b.kill(in_a.id()).unwrap_err().is_finished());
        assert!(b.is_alive(in_b.id()), "a's id killed b's task");
        assert!(a.is_alive(in_a.id()));
        drop((in_a, in_b));
    }
}
