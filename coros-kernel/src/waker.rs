//! Task wakers: borrowed during a poll, allocated only when a future keeps one.
//!
//! Discussion: the obvious design gives every task an `Arc` waker at spawn. Measured, that
//! allocation was a third of the cost of spawning a task and 48 bytes of every parked task,
//! though most tasks never touch their waker (they wait in system calls). So the waker handed
//! to a poll is *borrowed*: it points at a small record on the loop's stack naming the task,
//! and only when a future clones it (to keep it in a channel, say) does an owned `Arc` waker
//! come into being. This module and `current.rs` (the kernel lent to system calls) are the
//! kernel's two `unsafe` modules, beside one pin projection in `task.rs`; the owned waker is a
//! plain std `Waker` made from an `Arc` by the safe `Wake` trait.
//!
//! The kernel counts owned wakers alive, so that it can tell a deadlock (no waker held
//! anywhere, nothing else to wait for) from a wait for some other thread.

#![allow(
    unsafe_code,
    reason = "the borrowed waker is a `RawWaker` over a record on the loop's stack; each block says why it holds"
)]

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{RawWaker, RawWakerVTable, Wake, Waker};

use crate::poller::Remote;

/// An owned waker of one task: names the task by slot and seq, and reaches its kernel through
/// the kernel's shared [`Remote`], so it may be woken from any thread.
struct TaskWaker {
    remote: Arc<Remote>,
    index: u32,
    seq: u64,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.remote.wake(self.index, self.seq);
    }
}

impl Drop for TaskWaker {
    fn drop(&mut self) {
        self.remote.owned_wakers.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The record a borrowed waker points at, alive on the loop's stack for one poll.
pub(crate) struct PollWaker<'a> {
    pub(crate) remote: &'a Arc<Remote>,
    pub(crate) index: u32,
    pub(crate) seq: u64,
}

impl PollWaker<'_> {
    fn owned(&self) -> Waker {
        self.remote.owned_wakers.fetch_add(1, Ordering::AcqRel);
        Waker::from(Arc::new(TaskWaker {
            remote: self.remote.clone(),
            index: self.index,
            seq: self.seq,
        }))
    }

    /// Calls `f` with a waker borrowing `self`; the waker cannot outlive the call.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Waker) -> R) -> R {
        let data: *const () = (self as *const PollWaker<'_>).cast();
        // SAFETY: the `RawWaker` contract asks that `data` stay valid for the vtable's
        // functions as long as the `Waker` (or any clone made through `clone`) exists. The
        // `Waker` built here lives in this frame only, in a `ManuallyDrop` (its `drop` is a
        // no-op anyway), and is lent to `f` by shared reference: `f` can use it or clone it,
        // never keep it. A clone goes through `borrowed_clone`, which returns an independent
        // `Arc`-based waker that does not point at `self`. So `data`, which points at `self`,
        // is valid for every call of the borrowed vtable, and is never used after this
        // function returns. The vtable functions only read `PollWaker`, which is `Sync`
        // (`&Arc<Remote>` and integers), as a waker may be used from any thread it is lent to.
        let waker = ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(data, &BORROWED)) });
        f(&waker)
    }
}

static BORROWED: RawWakerVTable = RawWakerVTable::new(
    borrowed_clone,
    borrowed_wake,
    borrowed_wake_by_ref,
    borrowed_drop,
);

/// # Safety
///
/// `data` must point at a live `PollWaker` (see [`PollWaker::with`]).
unsafe fn borrowed_clone(data: *const ()) -> RawWaker {
    // SAFETY: per this function's contract, `data` points at a live `PollWaker`.
    let poll_waker = unsafe { &*data.cast::<PollWaker<'_>>() };
    let owned = ManuallyDrop::new(poll_waker.owned());
    // Ownership of the `Arc` passes to the returned `RawWaker`, whose vtable is `Arc`'s.
    RawWaker::new(owned.data(), owned.vtable())
}

/// # Safety
///
/// As [`borrowed_clone`].
unsafe fn borrowed_wake(data: *const ()) {
    // A borrowed waker is never owned by value, but waking it that way is harmless anyway.
    // SAFETY: as `borrowed_clone`.
    unsafe { borrowed_wake_by_ref(data) }
}

/// # Safety
///
/// As [`borrowed_clone`].
unsafe fn borrowed_wake_by_ref(data: *const ()) {
    // SAFETY: per this function's contract, `data` points at a live `PollWaker`.
    let poll_waker = unsafe { &*data.cast::<PollWaker<'_>>() };
    poll_waker.remote.wake(poll_waker.index, poll_waker.seq);
}

/// Nothing to release: the borrowed waker owns nothing.
fn borrowed_drop(_data: *const ()) {}
