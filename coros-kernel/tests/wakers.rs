//! Standard futures keep working: wakers are honoured, from this thread or another.

use std::cell::Cell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use coros_kernel::{Kernel, TcpListener, kill, sleep, spawn, yield_now};
use futures::channel::oneshot;

#[test]
fn oneshot_completed_by_another_task_wakes_the_receiver() {
    let v = Kernel::new()
        .unwrap()
        .block_on(async {
            let (tx, rx) = oneshot::channel();
            spawn(async move {
                yield_now().await.unwrap();
                tx.send(42).unwrap();
            })
            .await
            .unwrap()
            .detach();
            rx.await.unwrap()
        })
        .unwrap();
    assert_eq!(v, 42);
}

#[test]
fn oneshot_completed_by_another_thread_wakes_the_kernel() {
    let (tx, rx) = oneshot::channel();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send("from a thread").unwrap();
    });
    let v = Kernel::new()
        .unwrap()
        .block_on(async { rx.await.unwrap() })
        .unwrap();
    assert_eq!(v, "from a thread");
    t.join().unwrap();
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_wake_from_another_thread_interrupts_the_io_wait() {
    // The kernel blocks in the poller on a listener nobody connects to; only the thread's
    // wake can end the run, well before the 60-second timer.
    let (tx, rx) = oneshot::channel::<()>();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.send(()).unwrap();
    });
    let start = std::time::Instant::now();
    Kernel::new()
        .unwrap()
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let acceptor = spawn(async move {
                let _ = listener.accept().await;
            })
            .await
            .unwrap();
            let _sleeper = spawn(sleep(Duration::from_secs(60))).await.unwrap();
            rx.await.unwrap();
            kill(acceptor.id()).await.unwrap().unwrap();
        })
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(30));
    t.join().unwrap();
}

#[test]
fn a_future_that_wakes_itself_is_polled_again() {
    let polls = Kernel::new()
        .unwrap()
        .block_on(async {
            let mut n = 0;
            poll_fn(|cx| {
                n += 1;
                if n < 5 {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                } else {
                    Poll::Ready(n)
                }
            })
            .await
        })
        .unwrap();
    assert_eq!(polls, 5);
}

#[test]
fn a_stale_waker_never_polls_the_task_that_reuses_its_slot() {
    let polls = Rc::new(Cell::new(0));
    let p = polls.clone();
    Kernel::new()
        .unwrap()
        .block_on(async move {
            // The first task leaves its waker behind and ends.
            let (wtx, wrx) = oneshot::channel();
            let first = spawn(async move {
                let mut wtx = Some(wtx);
                poll_fn(|cx| {
                    if let Some(tx) = wtx.take() {
                        let _ = tx.send(cx.waker().clone());
                    }
                    Poll::Ready(())
                })
                .await
            })
            .await
            .unwrap();
            first.await.unwrap();
            let stale = wrx.await.unwrap();
            // The second task takes the freed slot and parks, counting its polls.
            let second = spawn(poll_fn(move |_| {
                p.set(p.get() + 1);
                Poll::<()>::Pending
            }))
            .await
            .unwrap();
            yield_now().await.unwrap();
            stale.wake();
            for _ in 0..3 {
                yield_now().await.unwrap();
            }
            kill(second.id()).await.unwrap().unwrap();
        })
        .unwrap();
    assert_eq!(polls.get(), 1);
}

#[test]
fn tokio_oneshot_works_inside_the_kernel_too() {
    let v = Kernel::new()
        .unwrap()
        .block_on(async {
            let (tx, rx) = tokio::sync::oneshot::channel();
            spawn(async move { tx.send(7).unwrap() })
                .await
                .unwrap()
                .detach();
            rx.await.unwrap()
        })
        .unwrap();
    assert_eq!(v, 7);
}
