//! Killing tasks: wherever the victim waits, it is dropped whole and its joiners learn why.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use coros_kernel::{Exit, Kernel, kill, sleep, spawn, tid, wait, yield_now};
use support::Drops;

#[test]
fn killing_a_sleeping_task_runs_its_destructors_and_wakes_its_joiner_with_killed() {
    let drops = Drops::new();
    let d = drops.clone();
    let err = Kernel::new()
        .unwrap()
        .block_on(async move {
            let victim = spawn(async move {
                let _g = d.guard();
                sleep(Duration::from_secs(3600)).await.unwrap();
            })
            .await
            .unwrap();
            yield_now().await.unwrap();
            kill(victim.id()).await.unwrap().unwrap();
            victim.await.unwrap_err()
        })
        .unwrap();
    assert!(err.is_killed());
    assert!(!err.is_panic());
    assert_eq!(drops.count(), 1);
}

#[test]
fn kill_is_answered_after_the_victims_destructors_ran() {
    let drops = Drops::new();
    let d = drops.clone();
    let seen = Kernel::new()
        .unwrap()
        .block_on(async move {
            let d2 = d.clone();
            let victim = spawn(async move {
                let _g = d2.guard();
                std::future::pending::<()>().await
            })
            .await
            .unwrap();
            yield_now().await.unwrap();
            kill(victim.id()).await.unwrap().unwrap();
            d.count()
        })
        .unwrap();
    assert_eq!(seen, 1);
}

async fn level3(drops: Drops, reached: Rc<Cell<bool>>) {
    let _g = drops.guard();
    sleep(Duration::from_secs(3600)).await.unwrap();
    reached.set(true);
}

async fn level2(drops: Drops, reached: Rc<Cell<bool>>) {
    let _g = drops.guard();
    level3(drops.clone(), reached.clone()).await;
    reached.set(true);
}

async fn level1(drops: Drops, reached: Rc<Cell<bool>>) {
    let _g = drops.guard();
    level2(drops.clone(), reached.clone()).await;
    // pyos8 kills only the innermost coroutine, and its parent resumes here.
    reached.set(true);
}

#[test]
fn killing_a_task_deep_in_nested_coroutines_kills_the_whole_task() {
    let drops = Drops::new();
    let reached = Rc::new(Cell::new(false));
    let (d, r) = (drops.clone(), reached.clone());
    let err = Kernel::new()
        .unwrap()
        .block_on(async move {
            let victim = spawn(level1(d, r)).await.unwrap();
            yield_now().await.unwrap();
            kill(victim.id()).await.unwrap().unwrap();
            // Give a resumed parent every chance to run.
            for _ in 0..3 {
                yield_now().await.unwrap();
            }
            victim.await.unwrap_err()
        })
        .unwrap();
    assert!(err.is_killed());
    assert_eq!(drops.count(), 3, "every frame's destructor ran once");
    assert!(!reached.get(), "no parent frame resumed");
}

#[test]
fn killing_a_task_that_waits_on_a_join_withdraws_it() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    Kernel::new()
        .unwrap()
        .block_on(async move {
            let sleeper = spawn(sleep(Duration::from_millis(5))).await.unwrap();
            let sid = sleeper.id();
            let l2 = l.clone();
            let joiner = spawn(async move {
                let r = wait(sid).await;
                l2.borrow_mut().push(format!("joiner resumed {r:?}"));
            })
            .await
            .unwrap();
            yield_now().await.unwrap();
            kill(joiner.id()).await.unwrap().unwrap();
            sleeper.await.unwrap().unwrap();
            l.borrow_mut().push("sleeper done".into());
        })
        .unwrap();
    assert_eq!(*log.borrow(), ["sleeper done"]);
}

#[test]
fn killing_a_finished_or_unknown_task_is_a_typed_answer() {
    let (finished, again) = Kernel::new()
        .unwrap()
        .block_on(async {
            let child = spawn(async {}).await.unwrap();
            let id = child.id();
            child.await.unwrap();
            let finished = kill(id).await.unwrap().unwrap_err();
            let again = kill(id).await.unwrap().unwrap_err();
            (finished, again)
        })
        .unwrap();
    assert!(finished.is_finished());
    assert!(again.is_finished());
    assert_eq!(
        finished.to_string(),
        format!("task {} has already ended", finished.id())
    );
}

#[test]
fn killing_a_task_of_another_kernel_that_never_existed_here_is_a_typed_answer() {
    // A task id from a kernel with more tasks than this one.
    let big = Kernel::new()
        .unwrap()
        .block_on(async {
            for _ in 0..5 {
                spawn(async {}).await.unwrap().detach();
            }
            spawn(async {}).await.unwrap().id()
        })
        .unwrap();
    let err = Kernel::new()
        .unwrap()
        .block_on(async move { kill(big).await.unwrap().unwrap_err() })
        .unwrap();
    assert!(!err.is_finished());
    assert_eq!(err.to_string(), "no task 7 in this kernel");
}

#[test]
fn a_task_can_kill_itself_and_never_resumes() {
    let after = Rc::new(Cell::new(false));
    let a = after.clone();
    let mut k = Kernel::new().unwrap();
    let exits = Rc::new(RefCell::new(Vec::new()));
    let e = exits.clone();
    k.on_exit(move |x| e.borrow_mut().push(x.exit.clone()));
    let h = k.spawn(async move {
        let me = tid().await.unwrap();
        let _ = kill(me).await;
        a.set(true);
    });
    k.run().unwrap();
    assert!(!after.get());
    assert_eq!(*exits.borrow(), [Exit::Killed]);
    assert!(futures::executor::block_on(h).unwrap_err().is_killed());
}

#[test]
fn killing_a_looping_task_stops_it() {
    let spins = Rc::new(Cell::new(0u64));
    let s = spins.clone();
    Kernel::new()
        .unwrap()
        .block_on(async move {
            let looper = spawn(async move {
                loop {
                    s.set(s.get() + 1);
                    yield_now().await.unwrap();
                }
            })
            .await
            .unwrap();
            for _ in 0..10 {
                yield_now().await.unwrap();
            }
            kill(looper.id()).await.unwrap().unwrap();
        })
        .unwrap();
    assert_eq!(spins.get(), 10);
}
