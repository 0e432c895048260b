//! The engine: one slot, one handle, one step — shared by [`Coroutine`](crate::Coroutine) and
//! [`AsyncGenerator`](crate::AsyncGenerator).
//!
//! A driver (sync or async) resumes the body by putting what it sends into a slot on its own
//! stack and polling the body once. The body's pending [`Yield`] future takes the value out of
//! the slot and completes; the next `yield_` puts its value in and returns `Pending`; the driver
//! takes it out. Nothing of the slot is stored in the body, so after inlining the compiler keeps
//! the whole exchange in registers.
//!
//! # How the slot reaches the yield
//!
//! The slot's address travels only through the [`Waker`] in the poll's [`Context`]: the driver
//! builds a waker whose data pointer is the slot's frame and whose vtable is [`VTABLE`], a
//! `static` with a unique address. A [`Yield`] accepts the pointer only when all of these hold:
//!
//! 1. the waker's vtable *is* [`VTABLE`] (no other code makes wakers with it, and clones of our
//!    waker are never ours: cloning returns the caller's waker, or a no-op one, so no copy of the
//!    pointer can outlive the poll);
//! 2. the frame's coroutine id equals the handle's id. Ids come from a global counter, one per
//!    coroutine, and a handle `Co<Y, R, E>` is only ever made for a frame of the same `Y, R, E`,
//!    so equal ids prove the frame's type;
//! 3. the frame was made on this thread. A `&Waker` may be sent to a scoped thread during the
//!    poll; the slot is a `Cell`, so only the driver's thread may touch it.
//!
//! A yield that fails (1) is outside any coroutine and completes with
//! [`Interrupt::Detached`]; one that fails (2) or (3) stays pending, and the driver reports
//! the step as stalled.
//!
//! # States of the slot
//!
//! `Empty` → the driver puts `Send`, `Throw` or `Close` (or leaves it `Empty` to start the body)
//! → the waiting yield takes it (`Empty`) → the next yield puts `Yielded` → the driver takes it.
//! Only the driver and the yield future on the driver's thread change it, one at a time.

// Discussion: this is the crate's only unsafe code. It buys the difference between a slot the
// body never owns, which the compiler can keep out of shared memory, and a slot in an `Rc` cell
// (genawaiter's shape): the bench crate's `send_round_trip` and `coro_peers` measure coros
// against that shape side by side.
#![allow(
    unsafe_code,
    reason = "the waker-carried slot; every block states its invariant in a SAFETY comment"
)]

use core::cell::Cell;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::pin::Pin;
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use crate::error::Interrupt;

/// What the driver sends down into a suspended body.
#[derive(Debug)]
pub(crate) enum Input<R, E> {
    /// Nothing is sent: start the body, or poll it again while it awaits something else.
    Empty,
    /// The pending `yield_` evaluates to `Ok(value)`.
    Send(R),
    /// The pending `yield_` evaluates to `Err(Interrupt::Throw(error))`.
    Throw(E),
    /// The pending `yield_` evaluates to `Err(Interrupt::Close)`.
    Close,
}

impl<R, E> Input<R, E> {
    /// The sent value, if this is a send.
    pub(crate) fn into_sent(self) -> Option<R> {
        match self {
            Input::Send(value) => Some(value),
            _ => None,
        }
    }

    /// The thrown error, if this is a throw.
    pub(crate) fn into_thrown(self) -> Option<E> {
        match self {
            Input::Throw(error) => Some(error),
            _ => None,
        }
    }
}

/// The one-value exchange between a driver and the yield it resumes.
enum Slot<Y, R, E> {
    Empty,
    Send(R),
    Throw(E),
    Close,
    Yielded(Y),
}

/// The non-generic head of a [`Frame`]: read before the frame's type is known.
#[repr(C)]
struct Header {
    /// Which coroutine this frame belongs to.
    id: u64,
    /// The thread the frame lives on (an address unique to that thread).
    thread: usize,
    /// The caller's waker, for async drivers; null for the synchronous one.
    outer: *const Waker,
}

/// What the driver keeps on its stack for one poll; the waker's data points here.
#[repr(C)]
pub(crate) struct Frame<Y, R, E> {
    header: Header,
    slot: Cell<Slot<Y, R, E>>,
}

thread_local! {
    /// Only its address is used: it names the current thread without a system call.
    static THREAD_MARK: u8 = const { 0 };
}

#[inline(always)]
fn thread_mark() -> usize {
    THREAD_MARK.with(|mark| ptr::from_ref(mark) as usize)
}

static NEXT_ID: AtomicU64 = AtomicU64::new(FLAGS + 1);

/// A fresh coroutine id, never reused in the life of the process. Ids are multiples of 4: a
/// [`Yield`] keeps its two flags in the low bits.
pub(crate) fn next_id() -> u64 {
    // Relaxed is enough: only uniqueness matters, not ordering with other memory.
    NEXT_ID.fetch_add(FLAGS + 1, Ordering::Relaxed)
}

/// The vtable that marks a waker as carrying a [`Frame`]. A `static`, so its address is unique.
static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

static NOOP_VTABLE: RawWakerVTable = RawWakerVTable::new(|_| NOOP_RAW, |_| {}, |_| {}, |_| {});
const NOOP_RAW: RawWaker = RawWaker::new(ptr::null(), &NOOP_VTABLE);

fn header<'a>(data: *const ()) -> &'a Header {
    // SAFETY: only `Frame::poll_with` makes wakers with `VTABLE`, with `data` pointing to a
    // `Frame` (whose first field is the `#[repr(C)]` header) that outlives the poll. A
    // `&Waker` cannot outlive the poll's `Context`, and owned wakers with `VTABLE` are never
    // made (clone returns another vtable), so this runs only while the frame is alive. The
    // header is never written after construction, so reading it from any thread is sound.
    unsafe { &*data.cast::<Header>() }
}

fn clone(data: *const ()) -> RawWaker {
    let outer = header(data).outer;
    if outer.is_null() {
        return NOOP_RAW;
    }
    // SAFETY: a non-null `outer` is the `&Waker` the async driver was polled with; it
    // outlives the frame (see `header`).
    let outer = unsafe { &*outer }.clone();
    let raw = RawWaker::new(outer.data(), outer.vtable());
    // The clone's ownership moves into `raw`, to be released through its own vtable.
    core::mem::forget(outer);
    raw
}

fn wake(data: *const ()) {
    // Never reached for our vtable (no owned waker carries it), but forwarding is correct.
    wake_by_ref(data);
}

fn wake_by_ref(data: *const ()) {
    let outer = header(data).outer;
    if !outer.is_null() {
        // SAFETY: as in `clone`.
        unsafe { &*outer }.wake_by_ref();
    }
}

fn drop_waker(_: *const ()) {}

impl<Y, R, E> Frame<Y, R, E> {
    /// Puts `input` in the slot, polls `body` once with a waker that carries this frame and
    /// returns what the body did.
    #[inline(always)]
    pub(crate) fn step<F: Future>(
        id: u64,
        outer: Option<&Waker>,
        input: Input<R, E>,
        body: Pin<&mut F>,
    ) -> Stepped<Y, R, E, F::Output> {
        let frame = Frame {
            header: Header {
                id,
                thread: thread_mark(),
                outer: outer.map_or(ptr::null(), ptr::from_ref),
            },
            slot: Cell::new(match input {
                Input::Empty => Slot::Empty,
                Input::Send(value) => Slot::Send(value),
                Input::Throw(error) => Slot::Throw(error),
                Input::Close => Slot::Close,
            }),
        };
        // SAFETY: the data pointer is `frame`, alive on this stack until after the poll; the
        // vtable's functions only read its header (see `header`), and `drop_waker` does
        // nothing, so never dropping this waker is fine.
        let waker = unsafe { Waker::new(ptr::from_ref(&frame).cast(), &VTABLE) };
        let mut cx = Context::from_waker(&waker);
        match body.poll(&mut cx) {
            // Discussion: a value still in the slot here belonged to a yield that the body
            // itself cancelled (a `select!` that dropped it) before completing; it is dropped
            // with that yield.
            Poll::Ready(output) => Stepped::Complete(output),
            Poll::Pending => match frame.slot.into_inner() {
                Slot::Yielded(value) => Stepped::Yielded(value),
                Slot::Empty => Stepped::Pending(Input::Empty),
                Slot::Send(value) => Stepped::Pending(Input::Send(value)),
                Slot::Throw(error) => Stepped::Pending(Input::Throw(error)),
                Slot::Close => Stepped::Pending(Input::Close),
            },
        }
    }
}

/// What one [`Frame::step`] did.
#[derive(Debug)]
pub(crate) enum Stepped<Y, R, E, T> {
    /// The body returned.
    Complete(T),
    /// The body suspended at a yield with this value.
    Yielded(Y),
    /// The body is waiting for something that is not a yield; what the driver sent and no
    /// yield took is handed back, to be sent on the next poll.
    Pending(Input<R, E>),
}

/// The body's side of a coroutine: `co.yield_(value).await` suspends the body and evaluates to
/// what the driver sends next.
///
/// A handle is cheap to copy; pass it to sub-coroutines (plain `async fn`s taking the handle)
/// to delegate, as Python's `yield from` does: their yields go to the same driver, and sends
/// and throws come back to them.
///
/// Type parameters, here and everywhere in the crate: `Y` is what the body yields, `R` what the
/// driver sends in, `E` what the driver may throw in.
pub struct Co<Y, R = (), E = core::convert::Infallible> {
    id: u64,
    _types: PhantomData<fn(Y) -> (R, E)>,
}

impl<Y, R, E> Co<Y, R, E> {
    pub(crate) fn new(id: u64) -> Self {
        Co {
            id,
            _types: PhantomData,
        }
    }

    /// Suspends the body, handing `value` to the driver; evaluates to what the driver sends
    /// back.
    ///
    /// # Errors
    ///
    /// - [`Interrupt::Throw`] when the driver throws an error in (`throw` / `athrow`);
    /// - [`Interrupt::Close`] when the driver closes the coroutine (`close` / `aclose`): clean
    ///   up and return; yielding again is reported to the driver as an error;
    /// - [`Interrupt::Detached`] when the yield is awaited outside the coroutine's own driver
    ///   (say, in a task spawned on another executor).
    ///
    /// A yield must be awaited by the body itself, directly or through `async fn`s, `join!` or
    /// `select!`; a combinator that polls with a waker of its own (such as
    /// `FuturesUnordered`) hides the coroutine from it, and the yield then completes with
    /// [`Interrupt::Detached`].
    #[inline]
    pub fn yield_(&self, value: Y) -> Yield<Y, R, E> {
        Yield {
            state: self.id | HELD,
            value: MaybeUninit::new(value),
            _types: PhantomData,
        }
    }
}

impl<Y, R, E> Clone for Co<Y, R, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Y, R, E> Copy for Co<Y, R, E> {}

impl<Y, R, E> fmt::Debug for Co<Y, R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Co").field("id", &self.id).finish()
    }
}

/// The future returned by [`Co::yield_`].
#[must_use = "a yield does nothing unless awaited"]
pub struct Yield<Y, R, E> {
    /// The coroutine's id, with [`HELD`] set while `value` holds the value to hand over (and
    /// maybe [`PARKED`]). One word answers both questions a poll asks: is this my coroutine's
    /// frame, and have I yielded yet.
    state: u64,
    /// Initialized exactly while `state` has [`HELD`]. (An `Option` would add a tag that every
    /// round trip writes twice.)
    value: MaybeUninit<Y>,
    _types: PhantomData<fn(Y) -> (R, E)>,
}

/// A flag of [`Yield::state`]: the value is still in the yield.
const HELD: u64 = 1;
/// A flag of [`Yield::state`], beside [`HELD`]: a poll found that the yield could not hand its
/// value over yet.
///
/// No poll needs to know it. It is there so that every first poll writes `state` (clearing
/// `HELD` or setting this): the state the yield was built with is then never read, and where
/// the driver's loop is inlined whole (a coroutine made and driven in one function, an async
/// step) the compiler drops that store, which leaves a round trip with nothing in memory.
const PARKED: u64 = 2;
/// Both flags; ids keep these bits clear.
const FLAGS: u64 = HELD | PARKED;

impl<Y, R, E> Drop for Yield<Y, R, E> {
    #[inline]
    fn drop(&mut self) {
        if core::mem::needs_drop::<Y>() && self.state & HELD != 0 {
            // SAFETY: `value` is initialized while `state` has `HELD` (see the field).
            unsafe { self.value.assume_init_drop() }
        }
    }
}

impl<Y, R, E> Unpin for Yield<Y, R, E> {}

impl<Y, R, E> fmt::Debug for Yield<Y, R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Yield")
            .field("id", &(self.state & !FLAGS))
            .field("handed_over", &(self.state & HELD == 0))
            .finish()
    }
}

impl<Y, R, E> Future for Yield<Y, R, E> {
    type Output = Result<R, Interrupt<E>>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let waker = cx.waker();
        let state = this.state;
        // Every path but the resumed one writes `state` once, at the end: a yield that hands
        // its value over clears `HELD`, one that cannot sets `PARKED` (see there).
        let parked = if state & HELD != 0 {
            state | PARKED
        } else {
            state
        };
        let (poll, state) = if !ptr::eq(waker.vtable(), &VTABLE) {
            (Poll::Ready(Err(Interrupt::Detached)), parked)
        } else {
            let head = header(waker.data());
            // Ids keep the flag bits clear; saying so lets the compiler see that a fresh
            // yield (whose state has `HELD`) is never the resumed one, and test it once.
            let id = head.id & !FLAGS;
            if head.thread != thread_mark() {
                (Poll::Pending, parked)
            } else if state == id {
                // Resumed after handing the value over: take what the driver sent. The state
                // stays as it is, with no store.
                // SAFETY: the vtable check makes `data` a live `Frame` (see `header`); the id
                // in `state` equals the frame's, so it is the frame of this handle's
                // coroutine, whose types are `Y, R, E`; equal thread marks mean we are on the
                // driver's thread.
                let frame = unsafe { &*waker.data().cast::<Frame<Y, R, E>>() };
                let slot = &frame.slot;
                return match slot.replace(Slot::Empty) {
                    Slot::Send(value) => Poll::Ready(Ok(value)),
                    Slot::Throw(error) => Poll::Ready(Err(Interrupt::Throw(error))),
                    Slot::Close => Poll::Ready(Err(Interrupt::Close)),
                    other => {
                        slot.set(other);
                        Poll::Pending
                    }
                };
            } else if parked == id | FLAGS {
                // SAFETY: as above.
                let frame = unsafe { &*waker.data().cast::<Frame<Y, R, E>>() };
                let slot = &frame.slot;
                match slot.replace(Slot::Empty) {
                    Slot::Empty => {
                        // SAFETY: `state` has `HELD`, so `value` is initialized; the state
                        // written below clears `HELD`, which makes this its only move out.
                        let value = unsafe { this.value.assume_init_read() };
                        slot.set(Slot::Yielded(value));
                        (Poll::Pending, id)
                    }
                    // Another yield of this body already went up in this step (two yields
                    // under one `join!`); wait for the next step.
                    other => {
                        slot.set(other);
                        (Poll::Pending, parked)
                    }
                }
            } else {
                // Another coroutine's frame.
                (Poll::Pending, parked)
            }
        };
        this.state = state;
        poll
    }
}
