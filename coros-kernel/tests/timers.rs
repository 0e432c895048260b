//! Sleep, sleep-until and timeouts; a sleeper is not starved by a busy task.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use coros_kernel::{Kernel, sleep, sleep_until, spawn, timeout, yield_now};
use support::Drops;

#[test]
fn sleepers_wake_in_deadline_order() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut k = Kernel::new().unwrap();
    // One origin for all deadlines, so the order does not depend on how fast tasks start.
    let start = Instant::now();
    for ms in [30u64, 10, 20] {
        let log = log.clone();
        k.spawn(async move {
            sleep_until(start + Duration::from_millis(ms))
                .await
                .unwrap();
            log.borrow_mut().push(ms);
        })
        .detach();
    }
    k.run().unwrap();
    assert_eq!(*log.borrow(), [10, 20, 30]);
}

#[test]
fn sleep_lasts_at_least_its_duration() {
    let start = Instant::now();
    Kernel::new()
        .unwrap()
        .block_on(async { sleep(Duration::from_millis(15)).await.unwrap() })
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(15));
}

#[test]
fn sleep_until_a_past_deadline_returns_at_once() {
    Kernel::new()
        .unwrap()
        .block_on(async {
            sleep_until(Instant::now() - Duration::from_millis(1))
                .await
                .unwrap();
            sleep(Duration::ZERO).await.unwrap();
        })
        .unwrap();
}

#[test]
fn timeout_drops_the_future_it_bounds_when_time_runs_out() {
    let drops = Drops::new();
    let d = drops.clone();
    let r = Kernel::new()
        .unwrap()
        .block_on(async move {
            timeout(Duration::from_millis(5), async move {
                let _g = d.guard();
                sleep(Duration::from_secs(3600)).await.unwrap();
            })
            .await
        })
        .unwrap();
    assert!(r.is_err());
    assert_eq!(drops.count(), 1);
}

#[test]
fn timeout_gives_the_value_of_a_future_that_finishes_in_time() {
    let r = Kernel::new()
        .unwrap()
        .block_on(async {
            timeout(Duration::from_secs(60), async {
                sleep(Duration::from_millis(1)).await.unwrap();
                5
            })
            .await
        })
        .unwrap();
    assert_eq!(r.unwrap(), 5);
}

#[test]
fn timeout_bounds_a_join() {
    let r = Kernel::new()
        .unwrap()
        .block_on(async {
            let child = spawn(std::future::pending::<()>()).await.unwrap();
            timeout(Duration::from_millis(2), child).await
        })
        .unwrap();
    assert!(r.is_err());
}

#[test]
fn a_cancelled_sleep_leaves_no_timer_behind() {
    // If the 60-second timer stayed registered, the run would wait for it.
    let start = Instant::now();
    Kernel::new()
        .unwrap()
        .block_on(async {
            let _ = timeout(Duration::from_millis(1), sleep(Duration::from_secs(60))).await;
        })
        .unwrap();
    let mut k = Kernel::new().unwrap();
    k.spawn(async {
        let _ = timeout(Duration::from_millis(1), sleep(Duration::from_secs(60))).await;
    })
    .detach();
    k.run().unwrap();
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_sleeping_ticker_ticks_beside_a_busy_task() {
    let ticks = Rc::new(RefCell::new(0));
    let t = ticks.clone();
    Kernel::new()
        .unwrap()
        .block_on(async move {
            let ticker = spawn(async move {
                for _ in 0..3 {
                    sleep(Duration::from_millis(2)).await.unwrap();
                    *t.borrow_mut() += 1;
                }
            })
            .await
            .unwrap();
            // Busy: yields but never sleeps, until the ticker is done.
            while !ticker.is_finished() {
                yield_now().await.unwrap();
            }
        })
        .unwrap();
    assert_eq!(*ticks.borrow(), 3);
}

#[test]
fn sleeping_for_duration_max_never_ends_and_is_reported_as_a_deadlock() {
    let mut k = Kernel::new().unwrap();
    let sleeper = k.spawn(async { sleep(Duration::MAX).await });
    let id = sleeper.id();
    let err = k.run().unwrap_err();
    let report = err.deadlock().expect("a deadlock report");
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].id, id);
    assert_eq!(
        report[0].waiting_on,
        coros_kernel::WaitingOn::Other("a sleep that never ends")
    );
}

#[test]
fn a_task_sleeping_for_duration_max_can_be_killed() {
    let mut k = Kernel::new().unwrap();
    let sleeper = k.spawn(async { sleep(Duration::MAX).await });
    let id = sleeper.id();
    k.spawn(async move {
        yield_now().await.unwrap();
        coros_kernel::kill(id).await.unwrap().unwrap();
    })
    .detach();
    k.run().unwrap();
    assert!(
        futures::executor::block_on(sleeper)
            .unwrap_err()
            .is_killed()
    );
}

#[test]
fn timeout_of_duration_max_is_no_time_limit() {
    let v = Kernel::new()
        .unwrap()
        .block_on(async {
            let quick = timeout(Duration::MAX, async { 7 }).await.unwrap();
            let slept = timeout(Duration::MAX, async {
                sleep(Duration::from_millis(1)).await.unwrap();
                8
            })
            .await
            .unwrap();
            (quick, slept)
        })
        .unwrap();
    assert_eq!(v, (7, 8));
}
