//! Random programs of spawn, yield, sleep, wait, kill and panic against a small model: every
//! task ends exactly once, its destructors run exactly once, every waiter wakes, and what a
//! waiter learns matches how the task ended.

mod support;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use coros_kernel::{Exit, Kernel, TaskId, kill, sleep, wait, yield_now};
use proptest::prelude::*;
use support::Drops;

#[derive(Debug, Clone)]
enum Op {
    Yield,
    Sleep(u8),
    /// Wait for an earlier task (so waits cannot form a cycle).
    Wait(usize),
    /// Kill any task, oneself included.
    Kill(usize),
    Panic,
}

fn op(tasks: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Yield),
        2 => (0u8..3).prop_map(Op::Sleep),
        3 => (0..tasks).prop_map(Op::Wait),
        2 => (0..tasks).prop_map(Op::Kill),
        1 => Just(Op::Panic),
    ]
}

fn program() -> impl Strategy<Value = Vec<Vec<Op>>> {
    (1usize..7).prop_flat_map(|n| prop::collection::vec(prop::collection::vec(op(n), 0..6), n))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Completed,
    Killed,
    Panicked,
    Gone,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    #[cfg_attr(miri, ignore)]
    fn every_task_ends_once_and_every_waiter_learns_how(prog in program()) {
        let n = prog.len();
        let drops = Drops::new();
        let ids: Rc<RefCell<Vec<TaskId>>> = Rc::default();
        let seen: Rc<RefCell<Vec<(usize, Seen)>>> = Rc::default();
        let exits: Rc<RefCell<HashMap<TaskId, Vec<Exit>>>> = Rc::default();

        let mut k = Kernel::new().unwrap();
        let e = exits.clone();
        k.on_exit(move |x| e.borrow_mut().entry(x.id).or_default().push(x.exit.clone()));
        for (i, script) in prog.iter().cloned().enumerate() {
            let (task_ids, seen, guard) = (ids.clone(), seen.clone(), drops.guard());
            let handle = k.spawn(async move {
                let _guard = guard;
                for op in script {
                    match op {
                        Op::Yield => yield_now().await.unwrap(),
                        Op::Sleep(ms) => sleep(Duration::from_millis(ms.into())).await.unwrap(),
                        Op::Wait(t) if t < i => {
                            let target = task_ids.borrow()[t];
                            let r = wait(target).await.unwrap();
                            let s = match r {
                                Ok(()) => Seen::Completed,
                                Err(e) if e.is_killed() => Seen::Killed,
                                Err(e) if e.is_panic() => Seen::Panicked,
                                Err(e) => {
                                    assert!(e.is_gone(), "{e}");
                                    Seen::Gone
                                }
                            };
                            seen.borrow_mut().push((t, s));
                        }
                        Op::Wait(_) => {}
                        Op::Kill(t) => {
                            let target = task_ids.borrow()[t];
                            let _ = kill(target).await.unwrap();
                        }
                        Op::Panic => panic!("scripted panic"),
                    }
                }
            });
            ids.borrow_mut().push(handle.id());
            handle.detach();
        }
        let r = k.run();
        prop_assert!(r.is_ok(), "{:?}", r.err());

        // Every task ended exactly once, and its destructors ran exactly once.
        let exits = exits.borrow();
        prop_assert_eq!(exits.len(), n);
        for id in ids.borrow().iter() {
            prop_assert_eq!(exits[id].len(), 1, "task {} ended {:?}", id, exits[id]);
        }
        prop_assert_eq!(drops.count(), n);

        // What each waiter saw is how the task ended.
        for &(t, s) in seen.borrow().iter() {
            let how = &exits[&ids.borrow()[t]][0];
            let expected = match how {
                Exit::Completed => Seen::Completed,
                Exit::Killed => Seen::Killed,
                Exit::Panicked(_) => Seen::Panicked,
                other => panic!("unexpected exit {other:?}"),
            };
            prop_assert!(s == expected || s == Seen::Gone, "saw {:?}, ended {:?}", s, how);
        }
    }
}
