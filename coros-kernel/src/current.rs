//! The scoped access through which a system call reaches its kernel: a thread-local slot that
//! the loop fills with its kernel around each poll of a task, and empties before it touches the
//! kernel again.
//!
//! # States of the slot
//!
//! | slot      | when                                                               |
//! |-----------|--------------------------------------------------------------------|
//! | empty     | no kernel runs here, or the loop is in its own bookkeeping         |
//! | a kernel  | a task of that kernel is being polled, or its dead tasks dropped   |
//! | empty     | a system call holds the kernel (taken out for the call's length)   |
//!
//! Only the loop fills the slot ([`Scope::lend_during`]); only [`lend`] empties and refills it, for
//! the length of one call.
//!
//! Discussion: the slot used to hold the kernel itself, in a `RefCell<Option<Kernel>>`. Every
//! access then paid for the thread-local's lazy destructor registration, the `RefCell` flag and
//! the `Option`, and the loop borrowed the kernel through the slot three times per task switch.
//! Measured with callgrind, a `tid().await` took 33 instructions (1.9 ns, 3.5x a layer-1 `send`).
//! A plain pointer in a `Cell` costs one load to reach; the kernel stays in the loop's own frame.
//! Taking the pointer out while a call holds it is the borrow flag: a second access from inside
//! the call (a destructor that withdraws a timer, say) finds the slot empty and gets
//! [`OutsideKernel`], as it did with the `RefCell`.

#![allow(
    unsafe_code,
    reason = "the slot holds a raw pointer to the running kernel; `lend` says why its one block holds"
)]

use std::cell::Cell;
use std::ptr;

use crate::Kernel;
use crate::error::OutsideKernel;
use crate::task::TaskId;

thread_local! {
    static CURRENT: Cell<*mut Kernel> = const { Cell::new(ptr::null_mut()) };
}

/// Puts the pointer back when a call is done with the kernel, also if the call panics.
struct PutBack(*mut Kernel);

impl Drop for PutBack {
    #[inline]
    fn drop(&mut self) {
        CURRENT.set(self.0);
    }
}

/// Lends the kernel in the slot to `f`, if there is one and no one else holds it.
#[inline]
fn lend<R>(f: impl FnOnce(&mut Kernel) -> Option<R>) -> Option<R> {
    let p = CURRENT.replace(ptr::null_mut());
    if p.is_null() {
        return None;
    }
    let _put_back = PutBack(p);
    // SAFETY: a non-null pointer in the slot was put there by `Scope::lend_during` from a
    // `&mut Kernel` that it borrows until it empties the slot again, and the closure it runs
    // meanwhile (a poll, the drop of dead tasks) cannot use that borrow: the kernel is neither
    // used otherwise, nor moved, nor dropped while the pointer is in the slot. The slot is this thread's
    // own, and the pointer is taken out of it for as long as the `&mut` made here lives, so no
    // other `&mut Kernel` is made from it meanwhile (a nested `lend` finds the slot empty).
    // `PutBack` returns it when the `&mut` is gone, on unwind too.
    let k = unsafe { &mut *p };
    f(k)
}

/// Runs `f` with the running kernel and the task being polled.
#[inline]
pub(crate) fn with_current<R>(
    f: impl FnOnce(&mut Kernel, TaskId) -> R,
) -> Result<R, OutsideKernel> {
    lend(|k| {
        let task = k.current_task()?;
        Some(f(k, task))
    })
    .ok_or(OutsideKernel)
}

/// Runs `f` with the running kernel whose id is `id`, if it is reachable from here.
#[inline]
pub(crate) fn with_kernel_id<R>(id: u64, f: impl FnOnce(&mut Kernel) -> R) -> Option<R> {
    lend(|k| (k.kernel_id() == id).then(|| f(k)))
}

/// A run of a kernel on this thread: hides whatever kernel was reachable before (a kernel run
/// from inside another kernel's task), and brings it back when the run ends, also on unwind.
pub(crate) struct Scope {
    prev: *mut Kernel,
}

impl Scope {
    pub(crate) fn enter() -> Scope {
        Scope {
            prev: CURRENT.replace(ptr::null_mut()),
        }
    }

    /// Runs `f` with `kernel` reachable by system calls (a task's poll, the drop of dead
    /// tasks). `f` cannot touch `kernel` itself, which this call borrows for its length; the
    /// kernel is unreachable again when `f` returns or unwinds.
    #[inline]
    pub(crate) fn lend_during<R>(&self, kernel: &mut Kernel, f: impl FnOnce() -> R) -> R {
        struct Clear;
        impl Drop for Clear {
            #[inline]
            fn drop(&mut self) {
                CURRENT.set(ptr::null_mut());
            }
        }
        CURRENT.set(kernel);
        let _clear = Clear;
        f()
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.set(self.prev);
    }
}
