//! Layer 1 through the public API: send, throw, close, delegation, misuse, generators, status.

mod support;

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::fmt;
use std::rc::Rc;

use coros::{Co, Coroutine, CoroutineState::*, ErrorKind, Generator, Interrupt, Status};
use support::DropCount;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Boom(&'static str);

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "boom: {}", self.0)
    }
}

impl std::error::Error for Boom {}

type Handle = Co<u32, u32, Boom>;

/// `ping = yield pong`: echoes each ping plus one, forever, until interrupted.
fn echo_plus_one() -> Coroutine<u32, u32, Boom, impl Future<Output = Result<(), Interrupt<Boom>>>> {
    Coroutine::new(|co: Handle| async move {
        let mut pong = 0;
        loop {
            let ping = co.yield_(pong).await?;
            pong = ping + 1;
        }
    })
}

#[test]
fn send_round_trips_values_both_ways() {
    let mut co = echo_plus_one();
    assert_eq!(co.start().unwrap(), Yielded(0));
    for ping in [1, 10, 41] {
        assert_eq!(co.send(ping).unwrap(), Yielded(ping + 1));
    }
    assert_eq!(co.status(), Status::Suspended);
}

#[test]
fn return_value_completes_and_later_sends_fail_with_the_value_back() {
    let mut co = Coroutine::new(|co: Co<(), u32>| async move { co.yield_(()).await });
    assert_eq!(co.start().unwrap(), Yielded(()));
    assert_eq!(co.send(5).unwrap(), Complete(Ok(5)));
    assert_eq!(co.status(), Status::Finished);
    let err = co.send(6).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Finished);
    assert_eq!(err.into_value(), Some(6));
    assert_eq!(co.start().unwrap_err().kind(), ErrorKind::Finished);
}

#[test]
fn sending_before_start_is_refused_and_keeps_the_value() {
    let mut co = echo_plus_one();
    let err = co.send(7).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotStarted);
    assert_eq!(err.value(), Some(&7));
    // Still unstarted, and it can be started normally afterwards.
    assert_eq!(co.status(), Status::Created);
    assert_eq!(co.start().unwrap(), Yielded(0));
    assert_eq!(co.start().unwrap_err().kind(), ErrorKind::AlreadyStarted);
    assert_eq!(co.send(1).unwrap(), Yielded(2));
}

#[test]
fn throw_caught_by_the_body_goes_on_and_yields_again() {
    // The seed's last answer: on the thrown error, yield 'world'.
    let mut co = Coroutine::new(|co: Co<&str, (), Boom>| async move {
        loop {
            match co.yield_("hello").await {
                Ok(()) => {}
                Err(Interrupt::Throw(_)) => {
                    let _ = co.yield_("world").await;
                    return "done";
                }
                Err(_) => return "closed",
            }
        }
    });
    assert_eq!(co.start().unwrap(), Yielded("hello"));
    assert_eq!(co.send(()).unwrap(), Yielded("hello"));
    assert_eq!(co.throw(Boom("zero")).unwrap(), Yielded("world"));
    assert_eq!(co.send(()).unwrap(), Complete("done"));
}

#[test]
fn throw_uncaught_completes_with_the_error() {
    let mut co = echo_plus_one();
    co.start().unwrap();
    assert_eq!(
        co.throw(Boom("x")).unwrap(),
        Complete(Err(Interrupt::Throw(Boom("x"))))
    );
    assert_eq!(co.status(), Status::Finished);
}

#[test]
fn throw_into_unstarted_finishes_without_running_and_returns_the_error() {
    let ran = Rc::new(Cell::new(false));
    let drops = DropCount::new();
    let guard = drops.guard();
    let flag = ran.clone();
    let mut co = Coroutine::new(move |co: Handle| async move {
        let _guard = guard;
        flag.set(true);
        co.yield_(1).await
    });
    let err = co.throw(Boom("early")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotStarted);
    assert_eq!(err.into_value(), Some(Boom("early")));
    assert!(!ran.get());
    assert_eq!(drops.get(), 1, "the unstarted body is dropped");
    assert_eq!(co.status(), Status::Finished);
}

#[test]
fn throw_into_finished_returns_the_error() {
    let mut co = Coroutine::new(|_: Handle| async { 3 });
    assert_eq!(co.start().unwrap(), Complete(3));
    let err = co.throw(Boom("late")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Finished);
    assert_eq!(err.into_value(), Some(Boom("late")));
}

#[test]
fn close_runs_cleanup_in_the_body_and_returns_its_value() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let body_log = log.clone();
    let mut co = Coroutine::new(move |co: Co<u32>| async move {
        let mut n = 0;
        loop {
            match co.yield_(n).await {
                Ok(()) => n += 1,
                Err(Interrupt::Close) => {
                    body_log.borrow_mut().push(format!("cleanup after {n}"));
                    return n;
                }
                Err(_) => unreachable!(),
            }
        }
    });
    co.start().unwrap();
    co.send(()).unwrap();
    assert_eq!(co.close().unwrap(), Some(1));
    assert_eq!(*log.borrow(), ["cleanup after 1"]);
    assert_eq!(co.status(), Status::Finished);
    assert_eq!(co.close().unwrap(), None, "closing twice is harmless");
}

#[test]
fn close_of_unstarted_or_finished_is_ok_and_drops_the_body() {
    let drops = DropCount::new();
    let guard = drops.guard();
    let mut co = Coroutine::new(move |co: Co<u32>| async move {
        let _guard = guard;
        let _ = co.yield_(1).await;
    });
    assert_eq!(co.close().unwrap(), None);
    assert_eq!(drops.get(), 1);
    assert_eq!(co.status(), Status::Finished);
    assert_eq!(co.start().unwrap_err().kind(), ErrorKind::Finished);
}

#[test]
fn yielding_after_close_is_an_error_with_the_value_and_stays_suspended() {
    let mut co = Coroutine::new(|co: Co<&str>| async move {
        let _ = co.yield_("first").await;
        // Ignores GeneratorExit.
        let _ = co.yield_("stubborn").await;
    });
    co.start().unwrap();
    let err = co.close().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IgnoredClose);
    assert_eq!(err.into_value(), Some("stubborn"));
    assert_eq!(co.status(), Status::Suspended);
    // A second close now finds the body at its last yield, and it returns.
    assert_eq!(co.close().unwrap(), Some(()));
}

#[test]
fn dropping_a_live_coroutine_runs_destructors_once() {
    let drops = DropCount::new();
    let guard = drops.guard();
    let mut co = Coroutine::new(move |co: Co<u32>| async move {
        let _guard = guard;
        loop {
            let _ = co.yield_(0).await;
        }
    });
    co.start().unwrap();
    co.send(()).unwrap();
    assert_eq!(drops.get(), 0);
    drop(co);
    assert_eq!(drops.get(), 1);
}

#[test]
fn completion_drops_the_body_at_once() {
    let drops = DropCount::new();
    let guard = drops.guard();
    let mut co = Coroutine::new(move |_: Co<u32>| async move {
        let _guard = guard;
    });
    assert_eq!(co.start().unwrap(), Complete(()));
    assert_eq!(drops.get(), 1);
}

// Delegation: three levels of plain async fns, all yielding through the same handle.

async fn level3(co: Handle, tag: u32) -> Result<u32, Interrupt<Boom>> {
    let a = co.yield_(tag).await?;
    match co.yield_(tag + 1).await {
        Ok(b) => Ok(a + b),
        // A throw reaches the innermost frame, which handles it.
        Err(Interrupt::Throw(Boom(why))) => {
            let c = co.yield_(why.len() as u32).await?;
            Ok(a + c)
        }
        Err(other) => Err(other),
    }
}

async fn level2(co: Handle) -> Result<u32, Interrupt<Boom>> {
    let x = level3(co, 100).await?;
    let y = level3(co, 200).await?;
    Ok(x * 1000 + y)
}

async fn level1(co: Handle) -> Result<u32, Interrupt<Boom>> {
    let total = level2(co).await?;
    co.yield_(total).await?;
    Ok(total)
}

#[test]
fn delegation_three_levels_deep_forwards_send_and_throw() {
    let mut co = Coroutine::new(level1);
    assert_eq!(co.start().unwrap(), Yielded(100));
    assert_eq!(co.send(1).unwrap(), Yielded(101));
    assert_eq!(co.send(2).unwrap(), Yielded(200));
    assert_eq!(co.send(3).unwrap(), Yielded(201));
    assert_eq!(co.throw(Boom("four")).unwrap(), Yielded(4));
    assert_eq!(co.send(5).unwrap(), Yielded(3008));
    assert_eq!(co.send(0).unwrap(), Complete(Ok(3008)));
}

#[test]
fn throw_propagates_out_of_nested_frames_when_unhandled() {
    let mut co = Coroutine::new(level1);
    co.start().unwrap();
    co.send(1).unwrap();
    // Close reaches level3's second yield, which passes it up through `?`.
    assert_eq!(co.close().unwrap(), Some(Err(Interrupt::Close)));
}

#[test]
fn awaiting_something_that_is_not_a_yield_stalls_with_a_typed_error() {
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let mut co = Coroutine::new(|co: Co<u32, u32>| async move {
        let first = co.yield_(1).await.unwrap_or(0);
        let from_channel = rx.await.unwrap_or(0);
        first + from_channel
    });
    assert_eq!(co.start().unwrap(), Yielded(1));
    let err = co.send(9).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stalled);
    assert!(err.to_string().contains("async generator"), "{err}");
    assert_eq!(co.status(), Status::Finished);
    drop(tx);
}

#[test]
fn a_handle_used_in_another_coroutine_stalls_that_coroutine() {
    let smuggled: Rc<Cell<Option<Co<u32>>>> = Rc::new(Cell::new(None));
    let out = smuggled.clone();
    let mut a = Coroutine::new(move |co: Co<u32>| {
        out.set(Some(co));
        async move {
            let _ = co.yield_(1).await;
        }
    });
    let foreign = smuggled.get().unwrap();
    let mut b = Coroutine::new(move |_: Co<u32>| async move {
        let _ = foreign.yield_(2).await;
    });
    assert_eq!(b.start().unwrap_err().kind(), ErrorKind::Stalled);
    // The handle's own coroutine is unaffected.
    assert_eq!(a.start().unwrap(), Yielded(1));
}

#[test]
fn a_yield_awaited_outside_any_driver_reports_detached() {
    let smuggled: Rc<Cell<Option<Co<u32>>>> = Rc::new(Cell::new(None));
    let out = smuggled.clone();
    let _co = Coroutine::new(move |co: Co<u32>| {
        out.set(Some(co));
        async {}
    });
    let handle = smuggled.get().unwrap();
    let got = futures::executor::block_on(handle.yield_(5));
    assert_eq!(got, Err(Interrupt::<Infallible>::Detached));
}

#[test]
fn a_panic_in_the_body_reaches_the_caller_and_finishes_the_coroutine() {
    let drops = DropCount::new();
    let guard = drops.guard();
    let mut co = Coroutine::new(move |co: Co<u32, u32>| async move {
        let _guard = guard;
        let x = co.yield_(0).await.unwrap_or(0);
        assert!(x != 13, "unlucky number");
        x
    });
    co.start().unwrap();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| co.send(13)));
    let message = panic.unwrap_err();
    assert_eq!(message.downcast_ref::<&str>(), Some(&"unlucky number"));
    assert_eq!(co.status(), Status::Finished);
    assert_eq!(co.send(1).unwrap_err().kind(), ErrorKind::Finished);
    assert_eq!(drops.get(), 1, "the panicked body is dropped, once");
}

#[test]
fn two_yields_under_one_join_go_up_one_step_at_a_time() {
    let mut co = Coroutine::new(|co: Co<u32, u32>| async move {
        let (a, b) = futures::join!(co.yield_(1), co.yield_(2));
        (a.unwrap(), b.unwrap())
    });
    assert_eq!(co.start().unwrap(), Yielded(1));
    assert_eq!(co.send(10).unwrap(), Yielded(2));
    assert_eq!(co.send(20).unwrap(), Complete((10, 20)));
}

#[test]
fn generators_are_iterators() {
    let fib = Generator::new(|co: Co<u64>| async move {
        let (mut a, mut b) = (0u64, 1u64);
        loop {
            let _ = co.yield_(a).await;
            (a, b) = (b, a + b);
        }
    });
    let evens: Vec<u64> = fib.filter(|n| n % 2 == 0).take(5).collect();
    assert_eq!(evens, [0, 2, 8, 34, 144]);

    let mut count = 0;
    for x in Generator::new(|co: Co<u32>| async move {
        for i in 0..4 {
            let _ = co.yield_(i).await;
        }
    }) {
        assert_eq!(x, count);
        count += 1;
    }
    assert_eq!(count, 4);
}

#[test]
fn an_exhausted_generator_stays_exhausted() {
    let mut g = Generator::new(|co: Co<u8>| async move {
        let _ = co.yield_(1).await;
    });
    assert_eq!(g.next(), Some(1));
    assert_eq!(g.next(), None);
    assert_eq!(g.next(), None);
    assert_eq!(g.status(), Status::Finished);
}

#[test]
fn status_follows_the_life_cycle() {
    let mut co = echo_plus_one();
    assert_eq!(co.status(), Status::Created);
    co.start().unwrap();
    assert_eq!(co.status(), Status::Suspended);
    co.close().unwrap();
    assert_eq!(co.status(), Status::Finished);
}

#[test]
fn coroutines_are_send_when_their_bodies_are() {
    fn assert_send<T: Send>(_: &T) {}
    let co = echo_plus_one();
    assert_send(&co);
    // And one moved to another thread works there.
    let mut co = co;
    let handle = std::thread::spawn(move || {
        co.start().unwrap();
        co.send(4).unwrap()
    });
    assert_eq!(handle.join().unwrap(), Yielded(5));
}

#[test]
fn a_coroutine_resumes_another_from_inside_its_body() {
    // Nested drivers: each frame is found by its own id.
    let mut outer = Coroutine::new(|co: Co<u32>| async move {
        let mut inner = Generator::new(|co: Co<u32>| async move {
            for i in 10..13 {
                let _ = co.yield_(i).await;
            }
        });
        for x in inner.by_ref() {
            let _ = co.yield_(x * 2).await;
        }
    });
    let got: Vec<u32> = std::iter::from_fn(|| outer_next(&mut outer)).collect();
    assert_eq!(got, [20, 22, 24]);
}

fn outer_next<F: Future<Output = ()>>(co: &mut Coroutine<u32, (), Infallible, F>) -> Option<u32> {
    co.next()
}

#[test]
fn a_body_cannot_resume_its_own_coroutine() {
    // `send` takes `&mut self`, so a body can only reach its own coroutine through shared
    // ownership with a run-time borrow check, which refuses while the step runs.
    type Shared = Rc<RefCell<Option<Box<dyn FnMut() -> bool>>>>;
    let slot: Shared = Rc::new(RefCell::new(None));
    let inside = slot.clone();
    let co = Rc::new(RefCell::new(Coroutine::new(
        move |co: Co<bool>| async move {
            let try_resume = inside.borrow_mut().take().expect("set before start");
            let mut try_resume = try_resume;
            let _ = co.yield_(try_resume()).await;
        },
    )));
    let weak = Rc::downgrade(&co);
    *slot.borrow_mut() = Some(Box::new(move || {
        let co = weak.upgrade().expect("alive");
        // The running step holds the only mutable borrow.
        co.try_borrow_mut().is_ok()
    }));
    let step = co.borrow_mut().start().unwrap();
    assert_eq!(step, Yielded(false), "the re-entrant borrow was refused");
}
