//! Misuse that must stay sound, the classes of bug known from crates of this kind: a yield
//! reached from the wrong context (another thread, another coroutine, a foreign waker), a
//! suspended coroutine or an in-flight step forgotten with `mem::forget`, a waker clone kept past
//! its step and woken later, `Yield` futures moved between coroutines, and panics in the
//! destructors of a body. Every case runs under Miri (`cargo +nightly miri test -p coros --test
//! hardening`), which checks that none of it touches freed or foreign memory.

use std::any::Any;
use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use coros::{
    AsyncGenerator, Co, Coroutine, CoroutineState::*, ErrorKind, Generator, Interrupt, Status,
    Yield,
};

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Counts drops, from any thread.
#[derive(Debug, Clone, Default)]
struct Drops(Arc<AtomicUsize>);

impl Drops {
    fn token(&self, value: u32) -> Token {
        Token(value, self.0.clone())
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A value whose drops are counted.
#[derive(Debug)]
struct Token(u32, Arc<AtomicUsize>);

impl Drop for Token {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

impl PartialEq for Token {
    fn eq(&self, other: &Token) -> bool {
        self.0 == other.0
    }
}

/// A guard whose destructor counts itself and then panics.
struct Bomb(Drops);

impl Drop for Bomb {
    fn drop(&mut self) {
        self.0.0.fetch_add(1, Ordering::SeqCst);
        panic!("bomb");
    }
}

/// A waker that counts its wakes.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_once<F: Future>(f: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(waker))
}

/// Where "forgotten" values go under Miri: a static keeps them reachable, so Miri's leak check
/// stays quiet, and statics are never dropped, so their destructors never run, exactly as
/// with `mem::forget`, which is what runs elsewhere.
fn forget<T: Send + 'static>(value: T) {
    static FORGOTTEN: Mutex<Vec<Box<dyn Any + Send>>> = Mutex::new(Vec::new());
    if cfg!(miri) {
        FORGOTTEN.lock().unwrap().push(Box::new(value));
    } else {
        std::mem::forget(value);
    }
}

// ---------------------------------------------------------------------------------------------
// A yield reached from the wrong context.

#[test]
fn a_yield_polled_on_another_thread_during_a_step_stays_pending_and_touches_nothing() {
    let drops = Drops::default();
    let d = drops.clone();
    let mut co = Coroutine::new(move |co: Co<Token, u32>| async move {
        // While this step runs, another thread polls a yield of this very coroutine with the
        // step's own waker: the frame is this thread's, so the yield must not take it.
        let foreign = poll_fn(|cx| {
            let waker = cx.waker();
            let pending = std::thread::scope(|s| {
                s.spawn(|| {
                    let mut y = pin!(co.yield_(d.token(99)));
                    poll_once(y.as_mut(), waker).is_pending()
                })
                .join()
                .unwrap()
            });
            Poll::Ready(pending)
        })
        .await;
        let sent = co.yield_(d.token(1)).await.unwrap_or(0);
        (foreign, sent)
    });
    match co.start().unwrap() {
        Yielded(t) => assert_eq!(t.0, 1),
        Complete(_) => panic!("completed early"),
    }
    assert_eq!(
        drops.get(),
        2,
        "the foreign yield's value and the yielded token"
    );
    assert_eq!(co.send(5).unwrap().complete(), Some((true, 5)));
}

#[test]
fn an_async_generators_yield_polled_on_another_thread_stays_pending() {
    let outer = Arc::new(CountingWaker::default());
    let waker = Waker::from(outer.clone());
    let mut agen = AsyncGenerator::new(|co: Co<u32>| async move {
        let foreign = poll_fn(|cx| {
            let waker = cx.waker();
            let pending = std::thread::scope(|s| {
                s.spawn(|| poll_once(pin!(co.yield_(7)), waker).is_pending())
                    .join()
                    .unwrap()
            });
            Poll::Ready(pending)
        })
        .await;
        let _ = co.yield_(1).await;
        foreign
    });
    assert_eq!(
        poll_once(pin!(agen.start()), &waker),
        Poll::Ready(Ok(Yielded(1)))
    );
    assert_eq!(
        poll_once(pin!(agen.asend(())), &waker),
        Poll::Ready(Ok(Complete(true)))
    );
}

#[test]
fn a_yield_under_a_combinator_with_its_own_waker_never_reaches_the_slot() {
    use futures::stream::{FuturesUnordered, StreamExt};
    let drops = Drops::default();
    let d = drops.clone();
    let mut co = Coroutine::new(move |co: Co<Token, u32>| async move {
        let mut set = FuturesUnordered::new();
        set.push(co.yield_(d.token(3)));
        // The combinator polls with its own waker: the yield cannot find its coroutine.
        let hidden = set
            .next()
            .await
            .map(|r| r.map_err(|e| matches!(e, Interrupt::Detached)));
        let sent = co.yield_(d.token(4)).await.unwrap_or(0);
        (hidden, sent)
    });
    match co.start().unwrap() {
        Yielded(t) => assert_eq!(t.0, 4),
        Complete(_) => panic!("completed early"),
    }
    assert_eq!(
        drops.get(),
        2,
        "the hidden yield's value dropped once, with its future"
    );
    let (hidden, sent) = co.send(8).unwrap().complete().unwrap();
    assert_eq!(sent, 8);
    // The yield is told it is outside its coroutine (`Co::yield_`'s docs say the step stalls;
    // what happens is this typed error, and the value stays with the yield).
    assert!(matches!(hidden, Some(Err(true))), "{hidden:?}");
}

#[test]
fn a_yield_of_an_outer_coroutine_inside_an_inner_async_generator_stalls_the_outer() {
    let drops = Drops::default();
    let d = drops.clone();
    let mut outer = Coroutine::new(move |outer: Co<Token, u32>| async move {
        let d2 = d.clone();
        let mut inner = AsyncGenerator::new(move |_: Co<u32>| async move {
            // The outer coroutine's handle, awaited in the inner generator's body: the frame
            // it finds is the inner one, not its own.
            let _ = outer.yield_(d2.token(5)).await;
        });
        let _ = inner.start().await;
        let _ = outer.yield_(d.token(6)).await;
    });
    let err = outer.start().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stalled);
    assert_eq!(outer.status(), Status::Finished);
    assert_eq!(drops.get(), 1, "the stalled yield's value dropped once");
}

// ---------------------------------------------------------------------------------------------
// `Yield` futures moved between coroutines.

type Shared = Rc<RefCell<Option<Yield<Token, u32, std::convert::Infallible>>>>;

#[test]
fn a_fresh_yield_moved_into_another_coroutine_stalls_it_and_its_value_drops_once() {
    let drops = Drops::default();
    let cell: Shared = Rc::default();
    let (c, d) = (cell.clone(), drops.clone());
    let mut a = Coroutine::new(move |co: Co<Token, u32>| {
        *c.borrow_mut() = Some(co.yield_(d.token(1)));
        async move {
            let got = co.yield_(d.token(2)).await;
            got.unwrap_or(0)
        }
    });
    let moved = cell.borrow_mut().take().unwrap();
    let mut b = Coroutine::new(move |_: Co<Token, u32>| async move {
        let r = moved.await;
        r.unwrap_or(0)
    });
    assert_eq!(b.start().unwrap_err().kind(), ErrorKind::Stalled);
    assert_eq!(
        drops.get(),
        1,
        "the moved yield's value, dropped with B's body"
    );
    match a.start().unwrap() {
        Yielded(t) => assert_eq!(t.0, 2),
        Complete(_) => panic!("completed early"),
    }
    assert_eq!(a.send(9).unwrap().complete(), Some(9));
    assert_eq!(drops.get(), 2);
}

#[test]
fn a_yield_moved_out_after_handing_its_value_over_resumes_nothing_elsewhere() {
    let drops = Drops::default();
    let cell: Shared = Rc::default();
    let (c, d) = (cell.clone(), drops.clone());
    // A yields through a future kept in a shared cell, so it can be taken away mid-flight.
    let mut a = Coroutine::new(move |co: Co<Token, u32>| async move {
        *c.borrow_mut() = Some(co.yield_(d.token(1)));
        poll_fn(|cx| match c.borrow_mut().as_mut() {
            Some(y) => Pin::new(y).poll(cx).map(|r| r.ok()),
            None => Poll::Ready(None),
        })
        .await
    });
    match a.start().unwrap() {
        Yielded(t) => assert_eq!(t.0, 1),
        Complete(_) => panic!("completed early"),
    }
    // The handed-over yield moves to B, whose frame it does not belong to.
    let moved = cell.borrow_mut().take().unwrap();
    let mut b = Coroutine::new(move |_: Co<Token, u32>| async move { moved.await.ok() });
    assert_eq!(b.start().unwrap_err().kind(), ErrorKind::Stalled);
    // A, resumed, finds its yield gone and returns; the sent value no yield took is dropped.
    assert_eq!(a.send(5).unwrap().complete(), Some(None));
    assert_eq!(drops.get(), 1, "each token dropped once");
}

// ---------------------------------------------------------------------------------------------
// `mem::forget`.

#[test]
fn forgetting_a_suspended_coroutine_runs_no_destructor_and_harms_no_other() {
    let drops = Drops::default();
    let handle: Arc<Mutex<Option<Co<u32, u32>>>> = Arc::default();
    let (d, h) = (drops.clone(), handle.clone());
    let mut co = Coroutine::new(move |co: Co<u32, u32>| {
        *h.lock().unwrap() = Some(co);
        let guard = d.token(0);
        async move {
            let _guard = guard;
            let mut x = co.yield_(1).await.unwrap_or(0);
            loop {
                x = co.yield_(x + 1).await.unwrap_or(0);
            }
        }
    });
    assert_eq!(co.start().unwrap(), Yielded(1));
    assert_eq!(co.send(1).unwrap(), Yielded(2));
    forget(co);
    assert_eq!(drops.get(), 0, "a forgotten body's destructors never run");

    // The forgotten coroutine's handle, used in a new coroutine, finds no frame of its own.
    let stale = handle.lock().unwrap().take().unwrap();
    let mut other = Coroutine::new(move |co: Co<u32, u32>| async move {
        let _ = stale.yield_(10).await;
        co.yield_(11).await
    });
    assert_eq!(other.start().unwrap_err().kind(), ErrorKind::Stalled);
    let outside = futures::executor::block_on(stale.yield_(12));
    assert_eq!(outside, Err(Interrupt::Detached));

    // And new coroutines work as ever.
    let mut fresh = Generator::new(|co: Co<u32>| async move {
        for i in 0..3 {
            let _ = co.yield_(i).await;
        }
    });
    assert_eq!(fresh.by_ref().collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn forgetting_an_in_flight_asend_leaves_the_generator_running_and_sound() {
    let drops = Drops::default();
    let d = drops.clone();
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let mut agen = AsyncGenerator::new(move |co: Co<u32, u32>| async move {
        let _guard = d.token(0);
        let first = co.yield_(0).await.unwrap_or(0);
        let later = rx.await.unwrap_or(0);
        let _ = co.yield_(first + later).await;
    });
    let outer = Arc::new(CountingWaker::default());
    let waker = Waker::from(outer.clone());
    assert_eq!(
        poll_once(pin!(agen.start()), &waker),
        Poll::Ready(Ok(Yielded(0)))
    );
    {
        // A step is `Unpin` and owns nothing on the heap: forgetting it leaks nothing.
        let mut step = agen.asend(40);
        assert!(poll_once(Pin::new(&mut step), &waker).is_pending());
        // The step took the value and waits on the channel; it is forgotten, not dropped, so
        // it never cancels the body.
        std::mem::forget(step);
    }
    assert_eq!(agen.status(), Status::Suspended);
    assert_eq!(drops.get(), 0);
    // A new step is refused while the forgotten one is in flight, with its value back.
    match poll_once(pin!(agen.asend(1)), &waker) {
        Poll::Ready(Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::Running);
            assert_eq!(e.into_value(), Some(1));
        }
        other => panic!("{other:?}"),
    }
    tx.send(2).unwrap();
    assert!(
        outer.0.load(Ordering::SeqCst) >= 1,
        "the channel woke the forgotten step's waker"
    );
    drop(agen);
    assert_eq!(drops.get(), 1, "dropping the generator drops the body once");
}

#[test]
fn forgetting_a_step_stream_poll_in_flight_then_resuming_by_the_stream() {
    use futures::StreamExt;
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let mut agen = AsyncGenerator::new(move |co: Co<u32>| async move {
        let _ = co.yield_(1).await;
        let v = rx.await.unwrap_or(0);
        let _ = co.yield_(v).await;
    });
    let waker = Waker::noop();
    assert_eq!(poll_once(pin!(agen.next()), waker), Poll::Ready(Some(1)));
    {
        let mut step = agen.anext();
        assert!(poll_once(Pin::new(&mut step), waker).is_pending());
        std::mem::forget(step);
    }
    tx.send(5).unwrap();
    // The stream picks up the step in flight where the forgotten future left it.
    assert_eq!(poll_once(pin!(agen.next()), waker), Poll::Ready(Some(5)));
    assert_eq!(poll_once(pin!(agen.next()), waker), Poll::Ready(None));
}

// ---------------------------------------------------------------------------------------------
// Waker clones kept past their step.

#[test]
fn a_waker_cloned_in_a_synchronous_step_and_woken_later_does_nothing() {
    let kept: Arc<Mutex<Vec<Waker>>> = Arc::default();
    let k = kept.clone();
    let mut co = Coroutine::new(move |co: Co<u32, u32>| async move {
        poll_fn(|cx| {
            k.lock().unwrap().push(cx.waker().clone());
            k.lock().unwrap().push(cx.waker().clone().clone());
            Poll::Ready(())
        })
        .await;
        co.yield_(1).await
    });
    assert_eq!(co.start().unwrap(), Yielded(1));
    assert_eq!(co.send(2).unwrap(), Complete(Ok(2)));
    drop(co);
    let wakers = std::mem::take(&mut *kept.lock().unwrap());
    for w in &wakers {
        w.wake_by_ref();
    }
    std::thread::spawn(move || {
        for w in wakers {
            w.wake();
        }
    })
    .join()
    .unwrap();
}

#[test]
fn a_waker_cloned_in_an_async_step_and_woken_later_wakes_the_outer_task_only() {
    let kept: Arc<Mutex<Vec<Waker>>> = Arc::default();
    let k = kept.clone();
    let mut agen = AsyncGenerator::new(move |co: Co<u32>| async move {
        poll_fn(|cx| {
            k.lock().unwrap().push(cx.waker().clone());
            Poll::Ready(())
        })
        .await;
        let _ = co.yield_(1).await;
    });
    let outer = Arc::new(CountingWaker::default());
    let waker = Waker::from(outer.clone());
    assert_eq!(
        poll_once(pin!(agen.start()), &waker),
        Poll::Ready(Ok(Yielded(1)))
    );
    assert_eq!(
        poll_once(pin!(agen.asend(())), &waker),
        Poll::Ready(Ok(Complete(())))
    );
    drop(agen);
    let w = kept.lock().unwrap().pop().unwrap();
    // The clone is the outer task's waker: each wake reaches its counter. (Not checked with
    // `will_wake`, which compares vtable addresses and is only best-effort, under Miri too.)
    w.wake_by_ref();
    let clone = w.clone();
    std::thread::spawn(move || clone.wake()).join().unwrap();
    w.wake();
    assert_eq!(outer.0.load(Ordering::SeqCst), 3);
}

// ---------------------------------------------------------------------------------------------
// Panics in the destructors of a body.

fn bomb_body(
    drops: &Drops,
    bombs: &Drops,
) -> Coroutine<u32, u32, (), impl Future<Output = Result<u32, Interrupt<()>>> + use<>> {
    let (guard, bomb) = (drops.token(0), Bomb(bombs.clone()));
    Coroutine::new(move |co: Co<u32, u32, ()>| async move {
        let _guard = guard;
        let _bomb = bomb;
        let x = co.yield_(1).await?;
        Ok(x)
    })
}

/// Whether `f` panicked; the bombs' own panics are kept off stderr.
fn panics<T>(f: impl FnOnce() -> T) -> bool {
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"bomb") {
                default(info);
            }
        }));
    });
    catch_unwind(AssertUnwindSafe(f)).is_err()
}

#[test]
fn a_body_whose_destructor_panics_is_dropped_once_however_it_ends() {
    let (drops, bombs) = (Drops::default(), Drops::default());
    let mut n = 0;

    // Dropped while suspended.
    let mut co = bomb_body(&drops, &bombs);
    co.start().unwrap();
    assert!(panics(move || drop(co)));
    n += 1;
    assert_eq!((drops.get(), bombs.get()), (n, n));

    // Dropped unstarted.
    let co = bomb_body(&drops, &bombs);
    assert!(panics(move || drop(co)));
    n += 1;
    assert_eq!((drops.get(), bombs.get()), (n, n));

    // Completing: the destructors run inside the step, whose caller sees the panic.
    let mut co = bomb_body(&drops, &bombs);
    co.start().unwrap();
    assert!(panics(|| co.send(2)));
    n += 1;
    assert_eq!((drops.get(), bombs.get()), (n, n));
    assert_eq!(co.status(), Status::Finished);
    assert_eq!(co.send(3).unwrap_err().kind(), ErrorKind::Finished);
    drop(co);
    assert_eq!((drops.get(), bombs.get()), (n, n));

    // Closed.
    let mut co = bomb_body(&drops, &bombs);
    co.start().unwrap();
    assert!(panics(|| co.close()));
    n += 1;
    assert_eq!(co.status(), Status::Finished);
    assert_eq!(co.close().unwrap(), None);
    drop(co);
    assert_eq!((drops.get(), bombs.get()), (n, n));

    // Closed before it started, and thrown into before it started: both finish it.
    let mut co = bomb_body(&drops, &bombs);
    assert!(panics(|| co.close()));
    n += 1;
    assert_eq!(co.status(), Status::Finished);
    let mut co2 = bomb_body(&drops, &bombs);
    assert!(panics(|| co2.throw(())));
    n += 1;
    assert_eq!(co2.status(), Status::Finished);
    drop((co, co2));
    assert_eq!((drops.get(), bombs.get()), (n, n));

    // Stalled: the synchronous driver drops the body that awaited something else.
    let (guard, bomb) = (drops.token(0), Bomb(bombs.clone()));
    let mut co = Coroutine::new(move |_: Co<u32>| async move {
        let _guard = guard;
        let _bomb = bomb;
        std::future::pending::<()>().await;
    });
    assert!(panics(|| co.start()));
    n += 1;
    assert_eq!(co.status(), Status::Finished);
    drop(co);
    assert_eq!((drops.get(), bombs.get()), (n, n));
    println!("panicking destructors: {n} ways to end, each body dropped exactly once");
}

#[test]
fn an_async_generator_whose_destructor_panics_is_dropped_once_when_its_step_is_cancelled() {
    let (drops, bombs) = (Drops::default(), Drops::default());
    let (guard, bomb) = (drops.token(0), Bomb(bombs.clone()));
    let (_tx, rx) = futures::channel::oneshot::channel::<()>();
    let mut agen = AsyncGenerator::new(move |co: Co<u32>| async move {
        let _guard = guard;
        let _bomb = bomb;
        let _ = co.yield_(1).await;
        let _ = rx.await;
    });
    let waker = Waker::noop();
    assert_eq!(
        poll_once(pin!(agen.start()), waker),
        Poll::Ready(Ok(Yielded(1)))
    );
    let cancelled = panics(|| {
        let mut step = pin!(agen.asend(()));
        assert!(poll_once(step.as_mut(), waker).is_pending());
        // Dropping the step in flight cancels the body, whose destructor panics.
    });
    assert!(cancelled);
    assert_eq!(agen.status(), Status::Finished);
    drop(agen);
    assert_eq!((drops.get(), bombs.get()), (1, 1));
}

#[test]
fn a_generator_whose_destructor_panics_stops_iterating_after_the_panic() {
    let (drops, bombs) = (Drops::default(), Drops::default());
    let (guard, bomb) = (drops.token(0), Bomb(bombs.clone()));
    let mut g = Generator::new(move |co: Co<u32>| async move {
        let _guard = guard;
        let _bomb = bomb;
        for i in 0..2 {
            let _ = co.yield_(i).await;
        }
    });
    assert_eq!(g.next(), Some(0));
    assert_eq!(g.next(), Some(1));
    assert!(
        panics(|| g.next()),
        "the end of the body runs the panicking destructor"
    );
    assert_eq!(g.next(), None);
    drop(g);
    assert_eq!((drops.get(), bombs.get()), (1, 1));
}
