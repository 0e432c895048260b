//! Layer 3 through the public API: asend / athrow / aclose on real executors.

mod support;

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use coros::{AsyncGenerator, Co, CoroutineState::*, ErrorKind, Interrupt, Status};
use futures::StreamExt;
use support::DropCount;

#[path = "../examples/async_gen.rs"]
mod seed;

#[tokio::test(start_paused = true)]
#[cfg_attr(
    miri,
    ignore = "tokio\'s I/O driver and clock are outside what Miri runs"
)]
async fn the_seeds_pep_525_program_prints_cpythons_transcript_on_tokio() {
    let origin = tokio::time::Instant::now();
    let out = RefCell::new(Vec::new());
    let elapsed = seed::run(tokio::time::sleep, || origin.elapsed().as_secs_f64(), &out)
        .await
        .unwrap();
    let printed = String::from_utf8(out.into_inner()).unwrap();
    assert_eq!(printed, include_str!("python/async_gen.txt"));
    // Four sleeps of 0.1 s before the print; tokio's paused clock makes it exact, and the
    // bound stays generous for the real clock.
    assert!((0.4..0.6).contains(&elapsed), "elapsed {elapsed}");
}

#[tokio::test]
#[cfg_attr(
    miri,
    ignore = "tokio\'s I/O driver and clock are outside what Miri runs"
)]
async fn the_seeds_program_on_tokios_real_clock_takes_at_least_the_sleeps() {
    let origin = std::time::Instant::now();
    let out = RefCell::new(Vec::new());
    let elapsed = seed::run(tokio::time::sleep, || origin.elapsed().as_secs_f64(), &out)
        .await
        .unwrap();
    assert!(elapsed >= 0.4, "elapsed {elapsed}");
    assert!(
        String::from_utf8(out.into_inner())
            .unwrap()
            .ends_with("world\n")
    );
}

type Handle = Co<u32, u32, &'static str>;

#[tokio::test]
#[cfg_attr(
    miri,
    ignore = "tokio\'s I/O driver and clock are outside what Miri runs"
)]
async fn asend_athrow_and_the_return_value() {
    let mut agen = AsyncGenerator::new(|co: Handle| async move {
        let mut total = 0;
        loop {
            tokio::task::yield_now().await;
            match co.yield_(total).await {
                Ok(n) => total += n,
                Err(Interrupt::Throw(why)) => {
                    tokio::task::yield_now().await;
                    let _ = co.yield_(why.len() as u32).await;
                    return total;
                }
                Err(_) => return 0,
            }
        }
    });
    assert_eq!(agen.status(), Status::Created);
    assert_eq!(agen.start().await.unwrap(), Yielded(0));
    assert_eq!(agen.asend(5).await.unwrap(), Yielded(5));
    assert_eq!(agen.asend(6).await.unwrap(), Yielded(11));
    assert_eq!(agen.athrow("four").await.unwrap(), Yielded(4));
    assert_eq!(agen.asend(0).await.unwrap(), Complete(11));
    let err = agen.asend(1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Finished);
    assert_eq!(err.into_value(), Some(1));
    assert_eq!(
        agen.athrow("late").await.unwrap_err().into_value(),
        Some("late")
    );
}

#[tokio::test]
#[cfg_attr(
    miri,
    ignore = "tokio\'s I/O driver and clock are outside what Miri runs"
)]
async fn asend_before_start_is_refused_with_the_value() {
    let mut agen = AsyncGenerator::new(|co: Handle| async move { co.yield_(1).await });
    let err = agen.asend(3).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotStarted);
    assert_eq!(err.into_value(), Some(3));
    assert_eq!(agen.status(), Status::Created);
}

#[tokio::test(start_paused = true)]
#[cfg_attr(
    miri,
    ignore = "tokio\'s I/O driver and clock are outside what Miri runs"
)]
async fn aclose_lets_the_body_await_during_cleanup() {
    let log = RefCell::new(Vec::new());
    let mut agen = AsyncGenerator::new(|co: Co<u32>| {
        let log = &log;
        async move {
            let mut n = 0;
            while co.yield_(n).await.is_ok() {
                n += 1;
            }
            log.borrow_mut().push("cleanup starts");
            tokio::time::sleep(Duration::from_millis(50)).await;
            log.borrow_mut().push("cleanup done");
            n
        }
    });
    agen.start().await.unwrap();
    agen.asend(()).await.unwrap();
    assert_eq!(agen.aclose().await.unwrap(), Some(1));
    assert_eq!(*log.borrow(), ["cleanup starts", "cleanup done"]);
    assert_eq!(agen.status(), Status::Finished);
    assert_eq!(agen.aclose().await.unwrap(), None);
}

#[tokio::test]
#[cfg_attr(
    miri,
    ignore = "tokio\'s I/O driver and clock are outside what Miri runs"
)]
async fn yielding_after_aclose_is_an_error_with_the_value() {
    let mut agen = AsyncGenerator::new(|co: Co<&str>| async move {
        let _ = co.yield_("first").await;
        tokio::task::yield_now().await;
        let _ = co.yield_("ignored the close").await;
    });
    agen.start().await.unwrap();
    let err = agen.aclose().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IgnoredClose);
    assert_eq!(err.into_value(), Some("ignored the close"));
    assert_eq!(agen.status(), Status::Suspended);
}

#[test]
fn dropping_an_in_flight_asend_cancels_the_body() {
    let drops = DropCount::new();
    let guard = drops.guard();
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    let mut agen = AsyncGenerator::new(move |co: Co<u32, u32>| async move {
        let _guard = guard;
        let _ = co.yield_(0).await;
        let _ = rx.await;
        let _ = co.yield_(1).await;
    });
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(
        pin!(agen.start()).poll(&mut cx),
        Poll::Ready(Ok(Yielded(0)))
    );
    {
        let mut step = pin!(agen.asend(7));
        assert!(
            step.as_mut().poll(&mut cx).is_pending(),
            "waits on the channel"
        );
    }
    assert_eq!(drops.get(), 1, "the cancelled body was dropped");
    assert_eq!(agen.status(), Status::Finished);
    assert!(tx.send(()).is_err(), "the receiver went with the body");
    let mut again = pin!(agen.asend(8));
    match again.as_mut().poll(&mut cx) {
        Poll::Ready(Err(err)) => assert_eq!(err.kind(), ErrorKind::Finished),
        other => panic!("expected a finished error, got {other:?}"),
    }
}

#[test]
fn a_step_dropped_before_its_first_poll_changes_nothing() {
    let mut agen = AsyncGenerator::new(|co: Co<u32, u32>| async move {
        let _ = co.yield_(0).await;
    });
    drop(agen.start());
    assert_eq!(agen.status(), Status::Created);
}

#[tokio::test]
#[cfg_attr(
    miri,
    ignore = "tokio\'s I/O driver and clock are outside what Miri runs"
)]
async fn the_body_is_woken_by_another_task_through_the_forwarded_waker() {
    let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
    let mut agen = AsyncGenerator::new(|co: Co<u32>| async move {
        let value = rx.await.unwrap_or(0);
        let _ = co.yield_(value).await;
    });
    let sender = tokio::spawn(async move {
        tokio::task::yield_now().await;
        tx.send(99).unwrap();
    });
    assert_eq!(agen.start().await.unwrap(), Yielded(99));
    sender.await.unwrap();
}

#[test]
fn the_body_is_woken_from_another_thread() {
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let mut agen = AsyncGenerator::new(|co: Co<u32>| async move {
        let value = rx.await.unwrap_or(0);
        let _ = co.yield_(value * 2).await;
    });
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        tx.send(21).unwrap();
    });
    let got = futures::executor::block_on(agen.start()).unwrap();
    assert_eq!(got, Yielded(42));
    thread.join().unwrap();
}

/// A generator of `0..n` that awaits between items.
fn count_to(n: u32) -> AsyncGenerator<u32, (), std::convert::Infallible, impl Future<Output = ()>> {
    AsyncGenerator::new(move |co: Co<u32>| async move {
        for i in 0..n {
            tokio::task::yield_now().await;
            let _ = co.yield_(i).await;
        }
    })
}

#[tokio::test]
#[cfg_attr(
    miri,
    ignore = "tokio\'s I/O driver and clock are outside what Miri runs"
)]
async fn delegation_an_async_generator_awaits_another_ones_steps() {
    let mut outer = AsyncGenerator::new(|co: Co<String>| async move {
        let mut inner = count_to(3);
        let mut step = inner.start().await;
        while let Ok(Yielded(x)) = step {
            let _ = co.yield_(format!("inner gave {x}")).await;
            step = inner.asend(()).await;
        }
    });
    let items: Vec<String> = (&mut outer).collect().await;
    assert_eq!(items, ["inner gave 0", "inner gave 1", "inner gave 2"]);
}

#[tokio::test]
#[cfg_attr(
    miri,
    ignore = "tokio\'s I/O driver and clock are outside what Miri runs"
)]
async fn an_async_generator_that_receives_nothing_is_a_stream() {
    let doubled: Vec<u32> = count_to(5).map(|x| x * 2).collect().await;
    assert_eq!(doubled, [0, 2, 4, 6, 8]);
    let mut stream = count_to(2);
    assert_eq!(stream.next().await, Some(0));
    assert_eq!(stream.next().await, Some(1));
    assert_eq!(stream.next().await, None);
    assert_eq!(stream.next().await, None);
    assert!(futures::stream::FusedStream::is_terminated(&stream));
}

#[tokio::test]
#[cfg_attr(
    miri,
    ignore = "tokio\'s I/O driver and clock are outside what Miri runs"
)]
async fn a_step_while_a_stream_poll_is_in_flight_reports_running() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut agen = AsyncGenerator::new(|co: Co<u32>| async move {
        let _ = rx.await;
        let _ = co.yield_(1).await;
    });
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        std::pin::Pin::new(&mut agen)
            .poll_next_unpin_compat(&mut cx)
            .is_pending()
    );
    let err = agen.aclose().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Running);
    tx.send(()).unwrap();
    assert_eq!(agen.next().await, Some(1));
}

/// `StreamExt::poll_next_unpin` through a pinned reference.
trait PollNext {
    fn poll_next_unpin_compat(self, cx: &mut Context<'_>) -> Poll<Option<u32>>;
}

impl<S: futures::Stream<Item = u32> + Unpin> PollNext for std::pin::Pin<&mut S> {
    fn poll_next_unpin_compat(self, cx: &mut Context<'_>) -> Poll<Option<u32>> {
        self.get_mut().poll_next_unpin(cx)
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "tokio's I/O driver and clock are outside what Miri runs"
)]
fn async_generators_and_their_steps_are_send_when_their_bodies_are() {
    fn assert_send<T: Send>(_: &T) {}
    let mut agen = count_to(3);
    assert_send(&agen);
    assert_send(&agen.anext());
    assert_send(&agen.aclose());
    // And one moved into a multi-threaded runtime's task works there.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let task = runtime.spawn(async move {
        let mut items = Vec::new();
        while let Ok(Yielded(x)) = agen.anext().await {
            items.push(x);
        }
        items
    });
    let got = runtime.block_on(task).unwrap();
    assert_eq!(got, [0, 1, 2]);
}

#[test]
fn a_stream_poll_keeps_what_it_sent_until_the_body_reaches_its_yield() {
    // The yield hands its value over from inside a manual poll, then the body waits on a
    // channel before awaiting that yield again: the `()` the next poll sends arrives while the
    // body is elsewhere, and must still reach the yield once the channel fires.
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    let mut agen = AsyncGenerator::new(|co: Co<u32>| async move {
        let mut first = pin!(co.yield_(1));
        std::future::poll_fn(|cx| {
            assert!(first.as_mut().poll(cx).is_pending(), "hands 1 over");
            Poll::Ready(())
        })
        .await;
        let _ = rx.await;
        let _ = first.await;
        let _ = co.yield_(2).await;
    });
    futures::executor::block_on(async {
        assert_eq!(agen.next().await, Some(1));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            agen.poll_next_unpin(&mut cx).is_pending(),
            "waits on the channel"
        );
        tx.send(()).unwrap();
        // One poll must now get through: the channel is ready and the yield gets its `()`.
        assert_eq!(agen.poll_next_unpin(&mut cx), Poll::Ready(Some(2)));
        assert_eq!(agen.next().await, None);
    });
}

#[test]
fn a_generator_whose_step_panicked_drops_its_body_on_the_next_next() {
    let drops = DropCount::new();
    let guard = drops.guard();
    let mut generator = coros::Generator::new(move |co: Co<u32>| async move {
        let _guard = guard;
        let _ = co.yield_(1).await;
        panic!("inside the body");
    });
    assert_eq!(generator.next(), Some(1));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| generator.next()));
    assert!(panicked.is_err());
    assert_eq!(generator.next(), None);
    assert_eq!(
        drops.get(),
        1,
        "the body went with the next call, not with the generator"
    );
    assert_eq!(generator.status(), Status::Finished);
    drop(generator);
    assert_eq!(drops.get(), 1);
}
