//! A panicking task ends as panicked; the kernel and the other tasks go on.

use std::cell::RefCell;
use std::rc::Rc;

use coros_kernel::{Exit, Kernel, spawn, yield_now};

#[test]
fn a_panicking_task_ends_as_panicked_and_the_others_go_on() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let exits = Rc::new(RefCell::new(Vec::new()));
    let mut k = Kernel::new().unwrap();
    let e = exits.clone();
    k.on_exit(move |x| e.borrow_mut().push((x.id.as_u64(), x.exit.clone())));
    let bad = k.spawn(async {
        yield_now().await.unwrap();
        panic!("task failure");
    });
    let l = log.clone();
    let good = k.spawn(async move {
        for i in 0..3 {
            l.borrow_mut().push(i);
            yield_now().await.unwrap();
        }
        "good"
    });
    k.run().unwrap();
    assert_eq!(*log.borrow(), [0, 1, 2]);
    let err = futures::executor::block_on(bad).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("task failure"));
    assert_eq!(
        *err.into_panic().downcast::<&str>().unwrap(),
        "task failure"
    );
    assert_eq!(futures::executor::block_on(good).unwrap(), "good");
    assert_eq!(
        *exits.borrow(),
        [
            (1, Exit::Panicked(Some("task failure".into()))),
            (2, Exit::Completed)
        ]
    );
}

#[test]
fn joiner_sees_a_formatted_panic_message() {
    let err = Kernel::new()
        .unwrap()
        .block_on(async {
            let child = spawn(async {
                let n = 7;
                panic!("bad value {n}");
            })
            .await
            .unwrap();
            child.await.unwrap_err()
        })
        .unwrap();
    assert!(err.is_panic() && !err.is_killed());
    assert_eq!(err.panic_message(), Some("bad value 7"));
    assert_eq!(err.to_string(), "task 2 panicked: bad value 7");
}

#[test]
fn a_panicking_main_task_is_a_run_error() {
    let err = Kernel::new()
        .unwrap()
        .block_on(async { panic!("main failed") })
        .unwrap_err();
    let join = err.into_main_task().unwrap();
    assert_eq!(join.panic_message(), Some("main failed"));
}
