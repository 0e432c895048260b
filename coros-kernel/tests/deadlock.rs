//! A kernel where no task can run again reports a deadlock instead of hanging.

use std::time::Duration;

use coros_kernel::{Kernel, WaitingOn, spawn, tid, timeout, wait, yield_now};

#[test]
fn two_tasks_joining_each_other_are_reported_stuck() {
    let mut k = Kernel::new().unwrap();
    let a_id = std::rc::Rc::new(std::cell::Cell::new(None));
    let a = a_id.clone();
    k.spawn(async move {
        a.set(Some(tid().await.unwrap()));
        std::future::pending::<()>().await;
    })
    .detach();
    let a = a_id.clone();
    k.spawn(async move {
        yield_now().await.unwrap();
        let _ = wait(a.get().unwrap()).await;
    })
    .detach();
    let err = k.run().unwrap_err();
    let stuck = err.deadlock().expect("a deadlock");
    assert_eq!(stuck.len(), 2);
    assert_eq!(stuck[0].waiting_on, WaitingOn::Waker);
    assert_eq!(stuck[1].waiting_on, WaitingOn::Join(stuck[0].id));
    assert_eq!(
        err.to_string(),
        "deadlock: no task can run again; stuck: task 1 waits for a waker that no one holds; \
         task 2 waits for task 1 to end"
    );
}

#[test]
fn a_task_waiting_for_itself_gets_an_error_not_a_hang() {
    let err = Kernel::new()
        .unwrap()
        .block_on(async { wait(tid().await.unwrap()).await.unwrap().unwrap_err() })
        .unwrap();
    assert!(err.is_self_join());
}

#[test]
fn a_task_joining_its_own_handle_gets_an_error() {
    let seen = std::rc::Rc::new(std::cell::RefCell::new(None));
    let s = seen.clone();
    Kernel::new()
        .unwrap()
        .block_on(async move {
            let (tx, rx) = futures::channel::oneshot::channel::<coros_kernel::JoinHandle<()>>();
            let me = spawn(async move {
                let own = rx.await.unwrap();
                *s.borrow_mut() = Some(own.await.unwrap_err());
            })
            .await
            .unwrap();
            let id = me.id();
            tx.send(me).unwrap();
            wait(id).await.unwrap().unwrap();
        })
        .unwrap();
    let err = seen.borrow_mut().take().unwrap();
    assert!(err.is_self_join());
    assert_eq!(err.to_string(), "task 2 cannot wait for itself");
}

#[test]
fn deadlock_does_not_hide_behind_a_timeout_that_is_still_running() {
    // A timer is a way out, so this is not a deadlock: the timeout fires.
    let r = Kernel::new()
        .unwrap()
        .block_on(async { timeout(Duration::from_millis(5), std::future::pending::<()>()).await })
        .unwrap();
    assert!(r.is_err());
}

#[test]
fn run_returns_once_all_tasks_are_done() {
    let mut k = Kernel::new().unwrap();
    for _ in 0..10 {
        k.spawn(async { yield_now().await.unwrap() }).detach();
    }
    k.run().unwrap();
}
