//! Wakers under abuse: stale wakers of ended tasks never poll the tasks that reuse their slots,
//! and wakes from other threads (one at a time, or in storms) each schedule the task as
//! documented: a parked task is queued once, a queued one stays queued, no wake is lost.
//!
//! No sockets here: these tests run under Miri too (with shorter counts), which checks the
//! cross-thread paths for data races.

use std::cell::Cell;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Poll, Waker};

use coros_kernel::{Kernel, kill, spawn, yield_now};

/// `full` normally, `miri` under Miri (whose interpreter is some thousand times slower).
const fn scaled(full: usize, miri: usize) -> usize {
    if cfg!(miri) { miri } else { full }
}

/// A waker left behind by a task that ended, finished or killed.
async fn leave_a_waker(finish: bool) -> Waker {
    let (tx, rx) = futures::channel::oneshot::channel();
    let mut tx = Some(tx);
    let task = spawn(poll_fn(move |cx| {
        if let Some(tx) = tx.take() {
            let _ = tx.send(cx.waker().clone());
        }
        if finish {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }))
    .await
    .unwrap();
    yield_now().await.unwrap();
    if finish {
        task.await.unwrap();
    } else {
        kill(task.id()).await.unwrap().unwrap();
        assert!(task.await.unwrap_err().is_killed());
    }
    rx.await.unwrap()
}

#[test]
fn stale_wakers_never_poll_the_tasks_that_reuse_their_slots() {
    let generations = scaled(1_000, 10);
    let spurious = Rc::new(Cell::new(0usize));
    let s = spurious.clone();
    Kernel::new()
        .unwrap()
        .block_on(async move {
            let finished = leave_a_waker(true).await;
            let killed = leave_a_waker(false).await;
            for g in 0..generations {
                // The freed slot goes to the next task spawned; it parks and counts its polls.
                let polls = Rc::new(Cell::new(0usize));
                let p = polls.clone();
                let occupant = spawn(poll_fn(move |_| {
                    p.set(p.get() + 1);
                    Poll::<()>::Pending
                }))
                .await
                .unwrap();
                yield_now().await.unwrap();
                assert_eq!(polls.get(), 1);
                // Woken here, and from another thread (through the kernel's queue).
                finished.wake_by_ref();
                killed.wake_by_ref();
                if g % 10 == 0 {
                    let (f, k) = (finished.clone(), killed.clone());
                    std::thread::spawn(move || {
                        f.wake();
                        k.wake();
                    })
                    .join()
                    .unwrap();
                }
                for _ in 0..3 {
                    yield_now().await.unwrap();
                }
                s.set(s.get() + polls.get() - 1);
                kill(occupant.id()).await.unwrap().unwrap();
            }
        })
        .unwrap();
    println!(
        "stale wakers: {generations} tasks reused the slots, {} spurious polls",
        spurious.get()
    );
    assert_eq!(spurious.get(), 0);
}

#[test]
fn ten_thousand_wakes_from_another_thread_each_poll_the_parked_task_once() {
    let wakes = scaled(10_000, 30);
    let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
    let (polled_tx, polled_rx) = mpsc::channel::<usize>();
    let thread = std::thread::spawn(move || {
        let waker = waker_rx.recv().unwrap();
        for i in 1..=wakes {
            // Wait until the task has been polled `i` times, then wake it once.
            assert_eq!(polled_rx.recv().unwrap(), i);
            waker.wake_by_ref();
        }
    });
    let polls = Kernel::new()
        .unwrap()
        .block_on(async move {
            let mut polls = 0;
            poll_fn(|cx| {
                polls += 1;
                if polls == 1 {
                    waker_tx.send(cx.waker().clone()).unwrap();
                }
                if polls > wakes {
                    return Poll::Ready(polls);
                }
                polled_tx.send(polls).unwrap();
                Poll::Pending
            })
            .await
        })
        .unwrap();
    thread.join().unwrap();
    println!("{wakes} wakes from another thread: {polls} polls");
    assert_eq!(polls, wakes + 1, "one poll per wake, none lost, none extra");
}

#[test]
fn a_storm_of_wakes_from_four_threads_loses_none_and_coalesces() {
    let per_thread = scaled(2_500, 10);
    let threads = 4;
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let (waker_tx, waker_rx) = mpsc::channel::<Waker>();
    let starter = std::thread::spawn(move || {
        let waker = waker_rx.recv().unwrap();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (waker, finished) = (waker.clone(), f.clone());
                std::thread::spawn(move || {
                    for _ in 0..per_thread {
                        waker.wake_by_ref();
                    }
                    // The last wake comes after the count: if it were lost the task would
                    // never see the count complete, and with no waker left the run would end
                    // in a deadlock error instead of returning the poll count.
                    finished.fetch_add(1, Ordering::SeqCst);
                    waker.wake();
                })
            })
            .collect();
        drop(waker);
        for h in handles {
            h.join().unwrap();
        }
    });
    let polls = Kernel::new()
        .unwrap()
        .block_on(async move {
            let mut polls = 0usize;
            poll_fn(|cx| {
                polls += 1;
                if polls == 1 {
                    waker_tx.send(cx.waker().clone()).unwrap();
                }
                if finished.load(Ordering::SeqCst) == threads {
                    Poll::Ready(polls)
                } else {
                    Poll::Pending
                }
            })
            .await
        })
        .expect("no wake was lost");
    starter.join().unwrap();
    let wakes = threads * (per_thread + 1);
    println!("{wakes} wakes from {threads} threads at once: {polls} polls");
    assert!(polls >= 2, "{polls} polls");
    assert!(
        polls <= wakes + 1,
        "a queued task is not queued twice: {polls} polls"
    );
}

#[test]
fn the_borrowed_waker_of_a_poll_may_be_used_from_a_scoped_thread() {
    let polls = Kernel::new()
        .unwrap()
        .block_on(async {
            let mut polls = 0;
            poll_fn(|cx| {
                polls += 1;
                if polls == 1 {
                    let waker = cx.waker();
                    std::thread::scope(|s| {
                        s.spawn(|| waker.wake_by_ref());
                        // Cloned on the other thread: an owned waker made there.
                        s.spawn(|| {
                            let owned = waker.clone();
                            owned.wake();
                        });
                    });
                    Poll::Pending
                } else {
                    Poll::Ready(polls)
                }
            })
            .await
        })
        .unwrap();
    assert_eq!(polls, 2, "two wakes during one poll queue the task once");
}

#[test]
fn wakers_that_outlive_their_kernel_can_still_be_woken_and_dropped() {
    let (tx, rx) = mpsc::channel::<Waker>();
    Kernel::new()
        .unwrap()
        .block_on(async move {
            poll_fn(|cx| {
                tx.send(cx.waker().clone()).unwrap();
                Poll::Ready(())
            })
            .await;
        })
        .unwrap();
    let waker = rx.recv().unwrap();
    waker.wake_by_ref();
    let clone = waker.clone();
    std::thread::spawn(move || clone.wake()).join().unwrap();
    drop(waker);
}

#[test]
fn a_waker_woken_inside_another_kernel_reaches_its_own_kernel() {
    let polls = Rc::new(Cell::new(0usize));
    let p = polls.clone();
    Kernel::new()
        .unwrap()
        .block_on(async move {
            let (tx, rx) = futures::channel::oneshot::channel::<Waker>();
            let mut tx = Some(tx);
            let sleeper = spawn(poll_fn(move |cx| {
                p.set(p.get() + 1);
                match tx.take() {
                    Some(tx) => {
                        tx.send(cx.waker().clone()).unwrap();
                        Poll::Pending
                    }
                    None => Poll::Ready(()),
                }
            }))
            .await
            .unwrap();
            let waker = rx.await.unwrap();
            // A second kernel runs inside this task, and one of its tasks wakes the first
            // kernel's task: the wake must reach the first kernel, not the running one.
            let inner_polls = Kernel::new()
                .unwrap()
                .block_on(async move {
                    waker.wake();
                    yield_now().await.unwrap();
                    yield_now().await.unwrap();
                    3
                })
                .unwrap();
            assert_eq!(inner_polls, 3);
            sleeper.await.unwrap();
        })
        .unwrap();
    assert_eq!(polls.get(), 2);
}
