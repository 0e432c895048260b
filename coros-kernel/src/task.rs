//! The task table: ids, slots, join handles and task wakers.
//!
//! # States of a task
//!
//! A slot is either free (no task in it) or holds one task in exactly one of these states:
//!
//! | state     | in the ready queue | who moves it on                                       |
//! |-----------|--------------------|-------------------------------------------------------|
//! | `Queued`  | yes (once)         | the loop, when it pops the task (→ `Running`)         |
//! | `Running` | no                 | the loop, when `poll` returns (→ `Queued`, `Parked`, or gone) |
//! | `Parked`  | no                 | `Kernel::wake`: system calls, wakers, timers, I/O (→ `Queued`) |
//!
//! Two flags may coexist with `Running`, kept by the kernel since only one task runs at a time:
//! `current_woken` (someone woke the task while it ran: it goes back to the ready queue when
//! `poll` returns) and `current_killed` (the task killed itself: it ends as killed when `poll`
//! returns). A task that ends leaves the table at once; its result
//! lives on in its [`TaskCell`], which its [`JoinHandle`] shares. A killed task leaves the table
//! at once too, but its future is dropped only after the current poll (see `Kernel::kill`).
//!
//! Discussion: slots are reused, so every reference to a task (ready queue entries, timers,
//! wakers, I/O waiters) carries the task's `seq`, which is unique for the kernel's lifetime and
//! doubles as the slot's generation. A stale reference finds a different `seq` in the slot and is
//! ignored: a waker of a finished task never polls the newer task that took its slot.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::num::NonZeroU64;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::Kernel;
use crate::error::{JoinError, JoinRepr};
use crate::syscall::{Call, SystemCall};

/// A task's id: a number unique within its kernel, counting from 1 as the seed's `Task.taskid`.
///
/// `Display` shows the number alone, so `println!("I'm foo {tid}")` prints `I'm foo 1`. An id
/// also remembers its kernel: given to another kernel, it names no task there.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    // The task's number in the low 48 bits, the low 16 bits of its kernel's id above them.
    // Discussion: a separate `kernel` field made `Result<TaskId, _>` a byte wider and the
    // `tid` round trip nine instructions longer (measured with callgrind); packed, a `TaskId`
    // is as cheap to pass around as before it remembered its kernel.
    packed: NonZeroU64,
    index: u32,
    /// Bits 16 to 45 of the kernel's id, in what was the struct's padding.
    ///
    /// Discussion: 16 bits alone named a kernel only up to the 65,536th `Kernel::new`; after
    /// that an id of one kernel could kill a task of another, and a dropped call could cancel
    /// on the wrong kernel. With these 30 bits more, ids of two kernels never meet (46 bits of
    /// kernel ids, which `Kernel::new` refuses to exceed), and a `TaskId` stays 16 bytes.
    kernel_high: u32,
}

const SEQ_BITS: u32 = 48;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
/// How many bits of a kernel's id a [`TaskId`] keeps: 16 in `packed`, 30 in `kernel_high`.
pub(crate) const KERNEL_ID_BITS: u32 = 46;
const KERNEL_HIGH_BITS: u32 = KERNEL_ID_BITS - 16;
const KERNEL_HIGH_MASK: u32 = (1 << KERNEL_HIGH_BITS) - 1;

impl TaskId {
    pub(crate) fn new(seq: NonZeroU64, index: u32, kernel: u64) -> TaskId {
        debug_assert!(kernel < 1 << KERNEL_ID_BITS);
        let packed = (u64::from(kernel as u16) << SEQ_BITS) | (seq.get() & SEQ_MASK);
        TaskId {
            packed: NonZeroU64::new(packed).unwrap_or(seq),
            index,
            kernel_high: (kernel >> 16) as u32 & KERNEL_HIGH_MASK,
        }
    }

    /// The task's number (1 for the first task a kernel spawns).
    pub fn as_u64(self) -> u64 {
        self.packed.get() & SEQ_MASK
    }

    /// The id of the kernel that made this id.
    pub(crate) fn kernel(self) -> u64 {
        (u64::from(self.kernel_high) << 16) | (self.packed.get() >> SEQ_BITS)
    }

    pub(crate) fn index(self) -> u32 {
        self.index
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({})", self.as_u64())
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_u64(), f)
    }
}

/// What a parked task waits for, as reported in a deadlock and set by system calls with
/// [`Kernel::set_waiting_on`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitingOn {
    /// A timer ([`sleep`](crate::sleep), [`sleep_until`](crate::sleep_until), a timeout).
    Sleep {
        /// When it fires.
        until: Instant,
    },
    /// Another task's end ([`JoinHandle`], [`wait`](crate::wait)).
    Join(TaskId),
    /// Read readiness of a descriptor.
    Readable(RawFd),
    /// Write readiness of a descriptor.
    Writable(RawFd),
    /// A future that returned `Pending` by itself and will be woken through its `Waker`.
    Waker,
    /// A system call's own description.
    Other(&'static str),
}

impl fmt::Display for WaitingOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitingOn::Sleep { .. } => f.write_str("a timer"),
            WaitingOn::Join(id) => write!(f, "task {id} to end"),
            WaitingOn::Readable(fd) => write!(f, "fd {fd} to become readable"),
            WaitingOn::Writable(fd) => write!(f, "fd {fd} to become writable"),
            WaitingOn::Waker => f.write_str("a waker that no one holds"),
            WaitingOn::Other(what) => f.write_str(what),
        }
    }
}

/// How a task ended, as told to the exit hook ([`Kernel::on_exit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exit {
    /// The future completed.
    Completed,
    /// The future panicked; the message when the payload was a string.
    Panicked(Option<String>),
    /// The task was killed.
    Killed,
}

/// The event given to the exit hook when a task ends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskExit {
    /// The task that ended.
    pub id: TaskId,
    /// How it ended.
    pub exit: Exit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunState {
    Queued,
    Running,
    Parked,
}

/// What the kernel does with a task without knowing its future's type.
pub(crate) trait TaskObj {
    /// Polls the future; when it completes, stores its value and drops it.
    fn poll_task(&self, cx: &mut Context<'_>) -> Poll<()>;
    /// Marks the task as ended without a value (killed or panicked), before its future is
    /// dropped.
    fn mark_failed(&self, panicked: bool);
    /// Drops the future where it waits (a kill, or the end of a panicked task).
    fn drop_future(&self);
    /// Stores why the task has no value (after `drop_future`).
    fn fail(&self, err: JoinError);
    /// How the task ended, for [`wait`](crate::wait), which does not know the type either.
    fn ended(&self, id: TaskId) -> Option<Result<(), JoinError>>;
}

/// What a [`JoinHandle`] needs of its task: the typed result.
pub(crate) trait JoinSlot<T> {
    fn take(&self) -> Option<Result<T, JoinError>>;
    fn is_ended(&self) -> bool;
    /// Whether the task has ended but its future still waits to be dropped (by the loop, right
    /// after the current poll), so that its result is not stored yet.
    fn awaits_burial(&self) -> bool;
    /// Why an ended task has no result to give (it was taken already, or never stored).
    fn lost(&self, id: TaskId) -> JoinError;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ended {
    Running,
    Completed,
    Killed,
    Panicked,
}

enum Stage<F: Future> {
    Running(F),
    Done(Result<F::Output, JoinError>),
    Taken,
}

/// A task: its future, then its result, in one allocation shared by the kernel (as
/// `Rc<dyn TaskObj>`) and the task's [`JoinHandle`] (as `Rc<dyn JoinSlot<T>>`).
///
/// # States
///
/// `Running(F)` → `Done(result)` when the future completes, is killed or panics (the future
/// is dropped in place on the way) → `Taken` when the join handle takes the result. Only the
/// kernel moves a task from `Running`; only the handle takes the result.
///
/// Discussion: a future and its result in one `Rc` is one allocation per task instead of two
/// (measured: a parked task went from 176 to about 120 bytes). It costs the one pin projection
/// below, whose invariant is local to this type.
///
/// The task's seq is not kept here but in its slot (a `TaskCell` outlives its slot only as a
/// result, which needs no id): 8 bytes less in every task.
pub(crate) struct TaskCell<F: Future> {
    stage: RefCell<Stage<F>>,
    ended: Cell<Ended>,
}

impl<F: Future> TaskCell<F> {
    pub(crate) fn new(fut: F) -> TaskCell<F> {
        TaskCell {
            stage: RefCell::new(Stage::Running(fut)),
            ended: Cell::new(Ended::Running),
        }
    }
}

impl<F: Future> TaskObj for TaskCell<F> {
    #[allow(
        unsafe_code,
        reason = "the one pin projection of a task's future; see SAFETY"
    )]
    fn poll_task(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut stage = self.stage.borrow_mut();
        let Stage::Running(fut) = &mut *stage else {
            return Poll::Ready(());
        };
        // SAFETY: pinning `fut` requires that it is never moved again until it is dropped.
        // A `TaskCell` lives only inside an `Rc` (the type is private to the crate and made
        // only by `Kernel::spawn`, which puts it there at once), and nothing ever moves a
        // `TaskCell` out of its `Rc` (no `Rc::try_unwrap`, `into_inner` or `get_mut`). Inside,
        // the future leaves `Stage::Running` only by being dropped in place: the assignments
        // to `*stage` below and in `drop_future` and `fail` run the future's destructor where
        // it lies; `take` replaces the stage only when it is `Done`, when no future is there.
        // Nor can the future be dropped during its own poll (a kill of the running task, a
        // destructor that drops the task): the `RefCell` borrow held here for the whole poll is
        // what stops it, since `drop_future` and `fail` need the same borrow (they run only after
        // the poll, from the kernel's graveyard), and `take` finds the cell borrowed and gives up.
        let fut = unsafe { Pin::new_unchecked(fut) };
        match fut.poll(cx) {
            Poll::Ready(value) => {
                *stage = Stage::Done(Ok(value));
                self.ended.set(Ended::Completed);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn mark_failed(&self, panicked: bool) {
        self.ended.set(if panicked {
            Ended::Panicked
        } else {
            Ended::Killed
        });
    }

    fn drop_future(&self) {
        let mut stage = self.stage.borrow_mut();
        if matches!(*stage, Stage::Running(_)) {
            // Dropped in place.
            *stage = Stage::Taken;
        }
    }

    fn fail(&self, err: JoinError) {
        *self.stage.borrow_mut() = Stage::Done(Err(err));
    }

    fn ended(&self, id: TaskId) -> Option<Result<(), JoinError>> {
        match self.ended.get() {
            Ended::Running => None,
            Ended::Completed => Some(Ok(())),
            Ended::Killed => Some(Err(JoinError::new(id, JoinRepr::Killed))),
            Ended::Panicked => {
                // The message, if the handle has not taken the error away yet.
                let message = match self.stage.try_borrow().as_deref() {
                    Ok(Stage::Done(Err(e))) => e.panic_message().map(str::to_owned),
                    _ => None,
                };
                let payload: Box<dyn std::any::Any + Send> = match message {
                    Some(m) => Box::new(m),
                    None => Box::new(()),
                };
                Some(Err(JoinError::panicked(id, payload)))
            }
        }
    }
}

impl<F: Future> JoinSlot<F::Output> for TaskCell<F> {
    fn take(&self) -> Option<Result<F::Output, JoinError>> {
        // Borrowed means the task is being polled: it is the caller, joining itself.
        let mut stage = self.stage.try_borrow_mut().ok()?;
        match &*stage {
            Stage::Done(_) => match std::mem::replace(&mut *stage, Stage::Taken) {
                Stage::Done(r) => Some(r),
                _ => None,
            },
            _ => None,
        }
    }

    fn is_ended(&self) -> bool {
        self.ended.get() != Ended::Running
    }

    fn awaits_burial(&self) -> bool {
        self.is_ended() && matches!(self.stage.try_borrow().as_deref(), Ok(Stage::Running(_)))
    }

    fn lost(&self, id: TaskId) -> JoinError {
        match TaskObj::ended(self, id) {
            Some(Err(e)) => e,
            _ => JoinError::new(id, JoinRepr::Gone),
        }
    }
}

/// The result slot of a duplicate [`JoinHandle`]: ended, with the error and no value.
struct Duplicate(TaskId);

impl<T> JoinSlot<T> for Duplicate {
    fn take(&self) -> Option<Result<T, JoinError>> {
        Some(Err(JoinError::new(self.0, JoinRepr::Duplicate)))
    }

    fn is_ended(&self) -> bool {
        true
    }

    fn awaits_burial(&self) -> bool {
        false
    }

    fn lost(&self, id: TaskId) -> JoinError {
        JoinError::new(id, JoinRepr::Duplicate)
    }
}

/// Why a parked task waits, in 8 bytes: [`WaitingOn`] as the slot stores it (see
/// `Kernel::set_waiting_on` for the conversions). A tag in the top 3 bits, a payload below.
///
/// Discussion: as an enum it took 16 bytes of every slot (a deadline in nanoseconds, or a
/// task's index and seq, beside a tag). Packed, a deadline keeps 61 bits (73 years past the
/// kernel's start) and a joined task its index and the low 29 bits of its seq, enough to find it
/// in its slot again (it is alive while anyone is parked joining it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitRepr(u64);

/// [`WaitRepr`] unpacked.
pub(crate) enum WaitKind {
    Unknown,
    Waker,
    /// Nanoseconds since the kernel's epoch.
    Sleep(u64),
    /// A task's index and the low 29 bits of its seq.
    Join {
        index: u32,
        seq_low: u32,
    },
    Readable(RawFd),
    Writable(RawFd),
    /// An index into the kernel's interned descriptions.
    Other(u32),
}

const TAG_SHIFT: u32 = 61;
const PAYLOAD_MASK: u64 = (1 << TAG_SHIFT) - 1;
const JOIN_SEQ_MASK: u64 = (1 << 29) - 1;

impl WaitRepr {
    pub(crate) const UNKNOWN: WaitRepr = WaitRepr(0);
    pub(crate) const WAKER: WaitRepr = WaitRepr(1 << TAG_SHIFT);

    fn tagged(tag: u64, payload: u64) -> WaitRepr {
        WaitRepr((tag << TAG_SHIFT) | (payload & PAYLOAD_MASK))
    }

    pub(crate) fn sleep(nanos: u64) -> WaitRepr {
        WaitRepr::tagged(2, nanos.min(PAYLOAD_MASK))
    }

    pub(crate) fn join(id: TaskId) -> WaitRepr {
        WaitRepr::tagged(
            3,
            ((id.as_u64() & JOIN_SEQ_MASK) << 32) | u64::from(id.index()),
        )
    }

    pub(crate) fn readable(fd: RawFd) -> WaitRepr {
        WaitRepr::tagged(4, u64::from(fd as u32))
    }

    pub(crate) fn writable(fd: RawFd) -> WaitRepr {
        WaitRepr::tagged(5, u64::from(fd as u32))
    }

    pub(crate) fn other(i: u32) -> WaitRepr {
        WaitRepr::tagged(6, u64::from(i))
    }

    pub(crate) fn kind(self) -> WaitKind {
        let payload = self.0 & PAYLOAD_MASK;
        match self.0 >> TAG_SHIFT {
            1 => WaitKind::Waker,
            2 => WaitKind::Sleep(payload),
            3 => WaitKind::Join {
                index: payload as u32,
                seq_low: (payload >> 32) as u32,
            },
            4 => WaitKind::Readable(payload as u32 as RawFd),
            5 => WaitKind::Writable(payload as u32 as RawFd),
            6 => WaitKind::Other(payload as u32),
            _ => WaitKind::Unknown,
        }
    }
}

/// One task's place in the table: 32 bytes.
pub(crate) struct Slot {
    /// The task; `None` when the slot is free.
    pub(crate) task: Option<Rc<dyn TaskObj>>,
    /// The low 32 bits of the task's seq, the slot's generation.
    seq: u32,
    /// Bits 32 to 47 of the task's seq (a `TaskId` keeps 48).
    seq_high: u16,
    pub(crate) state: RunState,
    has_joiners: bool,
    pub(crate) waiting: WaitRepr,
}

impl Slot {
    fn empty() -> Slot {
        Slot {
            task: None,
            seq: 0,
            seq_high: 0,
            state: RunState::Parked,
            has_joiners: false,
            waiting: WaitRepr::UNKNOWN,
        }
    }

    /// The full seq of the task in the slot.
    fn full_seq(&self) -> u64 {
        (u64::from(self.seq_high) << 32) | u64::from(self.seq)
    }

    fn holds(&self, seq: u64) -> bool {
        // Discussion: comparing the low 32 bits of the seq could only confuse two tasks if a
        // stale reference (a waker, a timer) outlived 2^32 later tasks and the slot happened to
        // hold exactly the one 2^32 tasks younger; the slot stays 8 bytes smaller.
        self.task.is_some() && self.seq == seq as u32
    }
}

/// The end of the free list of [`TaskTable`].
const NO_FREE: u32 = u32::MAX;

/// Slots indexed by `TaskId::index`, with a free list; `kernel` is the owning kernel's id, which
/// its task ids carry.
///
/// Discussion: the slot is kept small (it is most of what a parked task costs): who waits for a
/// task lives in a side table, since most tasks are never joined while they run. The free list
/// runs through the free slots themselves (a free slot's `waiting` holds the next free index),
/// so freeing a million tasks grows no second vector.
pub(crate) struct TaskTable {
    kernel: u64,
    slots: Vec<Slot>,
    /// The first free slot, or `NO_FREE`.
    free_head: u32,
    joiners: HashMap<u32, Vec<TaskId>>,
    live: usize,
}

/// A ready-queue entry: a slot and the low half of its task's seq (enough to tell a stale entry
/// from a live one; half the size of a `TaskId`).
#[derive(Clone, Copy)]
pub(crate) struct QueueEntry {
    index: u32,
    seq: u32,
}

impl From<TaskId> for QueueEntry {
    fn from(id: TaskId) -> QueueEntry {
        QueueEntry {
            index: id.index(),
            // The low half: see `Slot::holds`.
            seq: id.as_u64() as u32,
        }
    }
}

/// The ready queue: a ring of entries with two ever-growing counters masked into a buffer whose
/// length is a power of two.
///
/// Discussion: `VecDeque` cost about 25 instructions per push and pop on the task switch path
/// (callgrind), most of it wrapping its head and length with compares; masking two counters
/// costs about half. It grows in place (a `Vec` resize, which the allocator can do without a
/// copy) and moves only the wrapped part, as `VecDeque` does, so the peak memory is the same.
pub(crate) struct ReadyQueue {
    buf: Vec<QueueEntry>,
    head: usize,
    tail: usize,
}

impl ReadyQueue {
    pub(crate) fn new() -> ReadyQueue {
        ReadyQueue {
            buf: Vec::new(),
            head: 0,
            tail: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head)
    }

    #[inline]
    pub(crate) fn push(&mut self, e: QueueEntry) {
        if self.len() == self.buf.len() {
            self.grow();
        }
        let mask = self.buf.len() - 1;
        self.buf[self.tail & mask] = e;
        self.tail = self.tail.wrapping_add(1);
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<QueueEntry> {
        if self.head == self.tail {
            return None;
        }
        let e = self.buf[self.head & (self.buf.len().wrapping_sub(1))];
        self.head = self.head.wrapping_add(1);
        Some(e)
    }

    #[cold]
    fn grow(&mut self) {
        let old = self.buf.len();
        let empty = QueueEntry { index: 0, seq: 0 };
        self.buf.resize((old * 2).max(64), empty);
        // The ring was full: its entries run from `h` to the old end, then from 0 to `h`; the
        // second part moves after the first.
        let h = if old == 0 { 0 } else { self.head & (old - 1) };
        self.buf.copy_within(0..h, old);
        self.head = h;
        self.tail = h + old;
    }
}

impl TaskTable {
    pub(crate) fn new(kernel: u64) -> TaskTable {
        TaskTable {
            kernel,
            slots: Vec::new(),
            free_head: NO_FREE,
            joiners: HashMap::new(),
            live: 0,
        }
    }

    pub(crate) fn live(&self) -> usize {
        self.live
    }

    pub(crate) fn insert(&mut self, seq: NonZeroU64, task: Rc<dyn TaskObj>) -> TaskId {
        let index = if self.free_head != NO_FREE {
            let i = self.free_head;
            self.free_head = self.slots[i as usize].waiting.0 as u32;
            i
        } else {
            self.slots.push(Slot::empty());
            u32::try_from(self.slots.len() - 1)
                .ok()
                .filter(|&i| i != NO_FREE)
                .expect("more than 2^32 - 1 live tasks")
        };
        let id = TaskId::new(seq, index, self.kernel);
        let slot = &mut self.slots[index as usize];
        slot.seq = seq.get() as u32;
        slot.seq_high = (seq.get() >> 32) as u16;
        slot.task = Some(task);
        slot.state = RunState::Queued;
        slot.has_joiners = false;
        slot.waiting = WaitRepr::UNKNOWN;
        self.live += 1;
        id
    }

    /// Whether `id` was made by this table's kernel.
    pub(crate) fn owns(&self, id: TaskId) -> bool {
        id.kernel() == self.kernel
    }

    pub(crate) fn get(&self, id: TaskId) -> Option<&Slot> {
        if !self.owns(id) {
            return None;
        }
        self.slots
            .get(id.index() as usize)
            .filter(|s| s.holds(id.as_u64()))
    }

    pub(crate) fn get_mut(&mut self, id: TaskId) -> Option<&mut Slot> {
        if !self.owns(id) {
            return None;
        }
        self.slots
            .get_mut(id.index() as usize)
            .filter(|s| s.holds(id.as_u64()))
    }

    /// The slot of the running task (which stays in its slot until its poll returns).
    #[inline]
    pub(crate) fn running_mut(&mut self, id: TaskId) -> &mut Slot {
        &mut self.slots[id.index() as usize]
    }

    /// The live task in slot `index` if its seq is `seq`.
    pub(crate) fn id_at(&self, index: u32, seq: u64) -> Option<TaskId> {
        let slot = self.slots.get(index as usize)?;
        if !slot.holds(seq) {
            return None;
        }
        Some(TaskId::new(NonZeroU64::new(seq)?, index, self.kernel))
    }

    /// The live task in slot `index` whose seq has the low 29 bits `seq_low` (see
    /// [`WaitRepr`]).
    pub(crate) fn id_at_low(&self, index: u32, seq_low: u32) -> Option<TaskId> {
        let slot = self.slots.get(index as usize)?;
        let seq = slot.full_seq();
        if slot.task.is_none() || seq & JOIN_SEQ_MASK != u64::from(seq_low) {
            return None;
        }
        Some(TaskId::new(NonZeroU64::new(seq)?, index, self.kernel))
    }

    /// The queued task an entry of the ready queue names, if it still is one.
    pub(crate) fn queued(&mut self, e: QueueEntry) -> Option<(TaskId, &mut Slot)> {
        let slot = self.slots.get_mut(e.index as usize)?;
        if slot.seq != e.seq || slot.state != RunState::Queued || slot.task.is_none() {
            return None;
        }
        let id = TaskId::new(NonZeroU64::new(slot.full_seq())?, e.index, self.kernel);
        Some((id, slot))
    }

    /// Registers `joiner` to be woken when `target` ends; `false` if `target` is not alive.
    pub(crate) fn add_joiner(&mut self, target: TaskId, joiner: TaskId) -> bool {
        let Some(slot) = self.get_mut(target) else {
            return false;
        };
        slot.has_joiners = true;
        self.joiners.entry(target.index()).or_default().push(joiner);
        true
    }

    pub(crate) fn remove_joiner(&mut self, target: TaskId, joiner: TaskId) {
        if self.get(target).is_some_and(|s| s.has_joiners)
            && let Some(list) = self.joiners.get_mut(&target.index())
        {
            list.retain(|&j| j != joiner);
        }
    }

    /// Frees the slot, handing back what the kernel must still act on.
    pub(crate) fn remove(&mut self, id: TaskId) -> Option<Removed> {
        let slot = self.get_mut(id)?;
        let has_joiners = std::mem::take(&mut slot.has_joiners);
        let task = slot.task.take();
        let joiners = if has_joiners {
            self.joiners.remove(&id.index()).unwrap_or_default()
        } else {
            Vec::new()
        };
        let slot = &mut self.slots[id.index() as usize];
        let removed = Removed { task, joiners };
        slot.waiting = WaitRepr(u64::from(self.free_head));
        self.free_head = id.index();
        self.live -= 1;
        Some(removed)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (TaskId, &Slot)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.task.as_ref()?;
            let seq = NonZeroU64::new(s.full_seq())?;
            Some((TaskId::new(seq, i as u32, self.kernel), s))
        })
    }
}

pub(crate) struct Removed {
    pub(crate) task: Option<Rc<dyn TaskObj>>,
    pub(crate) joiners: Vec<TaskId>,
}

/// A handle to await a spawned task's result; dropping it detaches the task, which runs on.
///
/// Awaiting it gives the task's value, or a [`JoinError`] telling why there is none (killed,
/// panicked, or the task awaiting itself). It is how pyos's `WaitTask` returns the child's value
/// instead of a bool.
///
/// # Examples
///
/// ```
/// use coros_kernel::{Kernel, spawn};
///
/// let kernel = Kernel::new()?;
/// let v = kernel.block_on(async {
///     let child = spawn(async { 6 * 7 }).await?;
///     Ok::<_, Box<dyn std::error::Error>>(child.await?)
/// })??;
/// assert_eq!(v, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping a JoinHandle detaches the task; await it to get its result"]
pub struct JoinHandle<T> {
    call: Call<Join<T>>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(id: TaskId, cell: Rc<dyn JoinSlot<T>>) -> JoinHandle<T> {
        JoinHandle {
            call: Call::new(Join {
                cell,
                target_packed: id.packed,
                target_index: id.index,
                target_high_flags: id.kernel_high,
            }),
        }
    }

    /// A handle of `id` that holds no result, for a `spawn` call polled again after it
    /// answered (see [`Spawn`](crate::Spawn)).
    pub(crate) fn duplicate(id: TaskId) -> JoinHandle<T> {
        JoinHandle::new(id, Rc::new(Duplicate(id)))
    }

    /// The id of the task.
    pub fn id(&self) -> TaskId {
        self.call.get_ref().target()
    }

    /// Takes the result if the task has ended, without waiting.
    pub(crate) fn take_now(&mut self) -> Option<Result<T, JoinError>> {
        self.call.get_ref().cell.take()
    }

    /// Lets the task run on without anyone awaiting it (as dropping the handle does, said out
    /// loud: pyos's `sched.new(foo())`).
    pub fn detach(self) {}

    /// Whether the task has ended (completed, panicked or been killed).
    pub fn is_finished(&self) -> bool {
        self.call.get_ref().cell.is_ended()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Discussion: a finished task's result is in the cell, so it can be taken even where no
        // kernel runs (after `Kernel::run` returned, say); only waiting needs the kernel.
        let id = self.id();
        let join = self.call.get_mut();
        if join.flag(DONE) {
            return Poll::Ready(Err(JoinError::new(id, JoinRepr::Gone)));
        }
        if let Some(r) = join.cell.take() {
            join.set_flag(DONE, true);
            return Poll::Ready(r);
        }
        let r = match Pin::new(&mut self.call).poll(cx) {
            Poll::Ready(Ok(r)) => r,
            Poll::Ready(Err(_)) => Err(JoinError::new(id, JoinRepr::OutsideKernel)),
            Poll::Pending => return Poll::Pending,
        };
        self.call.get_mut().set_flag(DONE, true);
        Poll::Ready(r)
    }
}

/// The system call behind awaiting a [`JoinHandle`], and the handle's own state.
///
/// Discussion: the target's id is kept as its parts so that the two flags fit beside them (in
/// the two bits of `kernel_high` a kernel id never uses): 32 bytes, and a `JoinHandle` of 48
/// instead of 64. A million handles kept while their tasks run are 16 MB less to fault in.
pub(crate) struct Join<T> {
    cell: Rc<dyn JoinSlot<T>>,
    target_packed: NonZeroU64,
    target_index: u32,
    /// The target's `kernel_high`, and the flags `REGISTERED` and `DONE` above it.
    target_high_flags: u32,
}

/// The join is registered with the kernel (`Kernel::add_joiner`).
const REGISTERED: u32 = 1 << 30;
/// The handle has given its result away.
const DONE: u32 = 1 << 31;

impl<T> Join<T> {
    fn target(&self) -> TaskId {
        TaskId {
            packed: self.target_packed,
            index: self.target_index,
            kernel_high: self.target_high_flags & KERNEL_HIGH_MASK,
        }
    }

    fn flag(&self, flag: u32) -> bool {
        self.target_high_flags & flag != 0
    }

    fn set_flag(&mut self, flag: u32, on: bool) {
        if on {
            self.target_high_flags |= flag;
        } else {
            self.target_high_flags &= !flag;
        }
    }
}

impl<T> Unpin for Join<T> {}

impl<T> SystemCall for Join<T> {
    type Output = Result<T, JoinError>;

    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<Self::Output> {
        if let Some(r) = self.cell.take() {
            return Poll::Ready(r);
        }
        let target = self.target();
        if target == task {
            return Poll::Ready(Err(JoinError::new(task, JoinRepr::SelfJoin)));
        }
        if !kernel.is_alive(target) {
            if self.cell.awaits_burial() {
                // Killed or panicked in this very poll: its result is stored once the loop has
                // dropped its future, right after this poll. Come back then.
                //
                // Discussion: only while the future is still there. Once it is dropped the
                // result is stored or will never be, and waking itself again would spin.
                kernel.wake(task);
                return Poll::Pending;
            }
            if self.cell.is_ended() {
                return Poll::Ready(Err(self.cell.lost(target)));
            }
            return Poll::Ready(Err(JoinError::new(target, JoinRepr::Gone)));
        }
        if !self.flag(REGISTERED) {
            let registered = kernel.add_joiner(target, task);
            self.set_flag(REGISTERED, registered);
        }
        kernel.set_waiting_on(task, WaitingOn::Join(target));
        Poll::Pending
    }

    fn cancel(&mut self, kernel: &mut Kernel, task: TaskId) {
        if self.flag(REGISTERED) {
            kernel.remove_joiner(self.target(), task);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_slot_and_a_queue_entry_stay_small() {
        // Most of what a parked task costs; see `Slot`.
        assert_eq!(std::mem::size_of::<WaitRepr>(), 8);
        assert_eq!(std::mem::size_of::<Slot>(), 32);
        assert_eq!(std::mem::size_of::<QueueEntry>(), 8);
        assert_eq!(std::mem::size_of::<JoinHandle<usize>>(), 48);
        assert_eq!(std::mem::size_of::<TaskId>(), 16);
        assert_eq!(std::mem::size_of::<Option<TaskId>>(), 16);
    }
}
