//! System calls: the built-ins, a call defined outside the crate, and calls outside a kernel.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::Poll;

use coros_kernel::{
    Kernel, OutsideKernel, SystemCall, TaskId, kill, sleep, spawn, syscall, tid, wait, yield_now,
};

/// A system call written by a user of the crate: how many tasks are alive.
struct LiveTasks;

impl SystemCall for LiveTasks {
    type Output = usize;

    fn handle(&mut self, kernel: &mut Kernel, _task: TaskId) -> Poll<usize> {
        Poll::Ready(kernel.live_tasks())
    }
}

/// A user's call that parks the task and wakes it on the second poll, like `yield_now`.
struct YieldTwice {
    left: u32,
}

impl SystemCall for YieldTwice {
    type Output = &'static str;

    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<&'static str> {
        if self.left == 0 {
            return Poll::Ready("resumed");
        }
        self.left -= 1;
        kernel.wake(task);
        Poll::Pending
    }
}

#[test]
fn user_defined_call_counts_live_tasks() {
    let n = Kernel::new()
        .unwrap()
        .block_on(async {
            let a = spawn(sleep(std::time::Duration::from_millis(1))).await?;
            let b = spawn(async {}).await?;
            let n = syscall(LiveTasks).await?;
            let _ = (a.await, b.await);
            let after = syscall(LiveTasks).await?;
            Ok::<_, OutsideKernel>((n, after))
        })
        .unwrap()
        .unwrap();
    assert_eq!(n, (3, 1));
}

#[test]
fn user_defined_call_can_park_and_wake_its_task() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut k = Kernel::new().unwrap();
    let l = log.clone();
    k.spawn(async move {
        let r = syscall(YieldTwice { left: 2 }).await.unwrap();
        l.borrow_mut().push(format!("a {r}"));
    })
    .detach();
    let l = log.clone();
    k.spawn(async move {
        l.borrow_mut().push("b".to_owned());
    })
    .detach();
    k.run().unwrap();
    assert_eq!(*log.borrow(), ["b", "a resumed"]);
}

#[test]
fn task_ids_start_at_one_and_count_up() {
    let ids = Rc::new(RefCell::new(Vec::new()));
    let mut k = Kernel::new().unwrap();
    for _ in 0..3 {
        let ids = ids.clone();
        k.spawn(async move {
            let me = tid().await.unwrap().as_u64();
            ids.borrow_mut().push(me);
        })
        .detach();
    }
    k.run().unwrap();
    assert_eq!(*ids.borrow(), [1, 2, 3]);
}

#[test]
fn yield_now_round_robins_ready_tasks() {
    let log = Rc::new(RefCell::new(String::new()));
    let mut k = Kernel::new().unwrap();
    for name in ['a', 'b', 'c'] {
        let log = log.clone();
        k.spawn(async move {
            for _ in 0..2 {
                log.borrow_mut().push(name);
                yield_now().await.unwrap();
            }
        })
        .detach();
    }
    k.run().unwrap();
    assert_eq!(*log.borrow(), "abcabc");
}

#[test]
fn tid_answers_without_a_task_switch() {
    let log = Rc::new(RefCell::new(String::new()));
    let mut k = Kernel::new().unwrap();
    let l = log.clone();
    k.spawn(async move {
        l.borrow_mut().push('a');
        tid().await.unwrap();
        l.borrow_mut().push('a');
    })
    .detach();
    let l = log.clone();
    k.spawn(async move { l.borrow_mut().push('b') }).detach();
    k.run().unwrap();
    assert_eq!(*log.borrow(), "aab");
}

#[test]
fn join_returns_the_childs_value_not_a_bool() {
    let v = Kernel::new()
        .unwrap()
        .block_on(async {
            let child = spawn(async {
                yield_now().await.unwrap();
                String::from("child's value")
            })
            .await
            .unwrap();
            child.await.unwrap()
        })
        .unwrap();
    assert_eq!(v, "child's value");
}

#[test]
fn wait_by_id_reports_how_the_task_ended() {
    let (ok, killed) = Kernel::new()
        .unwrap()
        .block_on(async {
            let a = spawn(async { yield_now().await.unwrap() }).await.unwrap();
            let b = spawn(sleep(std::time::Duration::from_secs(60)))
                .await
                .unwrap();
            let ok = wait(a.id()).await.unwrap();
            kill(b.id()).await.unwrap().unwrap();
            let killed = b.await;
            (ok, killed)
        })
        .unwrap();
    assert!(ok.is_ok());
    assert!(killed.unwrap_err().is_killed());
}

#[test]
fn spawned_task_runs_after_those_already_ready() {
    let log = Rc::new(RefCell::new(String::new()));
    let mut k = Kernel::new().unwrap();
    let l = log.clone();
    k.spawn(async move {
        let l2 = l.clone();
        spawn(async move { l2.borrow_mut().push('c') })
            .await
            .unwrap()
            .detach();
        l.borrow_mut().push('a');
    })
    .detach();
    let l = log.clone();
    k.spawn(async move { l.borrow_mut().push('b') }).detach();
    k.run().unwrap();
    assert_eq!(*log.borrow(), "abc");
}

#[test]
fn system_calls_outside_a_kernel_are_typed_errors() {
    use futures::executor::block_on;
    fn outside<T>(r: Result<T, OutsideKernel>) -> bool {
        matches!(r, Err(OutsideKernel { .. }))
    }
    assert!(outside(block_on(tid())));
    assert!(outside(block_on(yield_now())));
    assert!(outside(block_on(sleep(std::time::Duration::from_secs(5)))));
    assert!(outside(block_on(spawn(async {}))));
    assert!(outside(block_on(syscall(LiveTasks))));
    // Inside another runtime too.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(outside(rt.block_on(tid())));
}

#[test]
fn join_handle_outside_a_kernel_gives_the_result_once_the_task_ended() {
    let mut k = Kernel::new().unwrap();
    let done = k.spawn(async { 5 });
    let never = k.spawn(std::future::pending::<()>());
    let r = k.run();
    assert!(r.unwrap_err().deadlock().is_some());
    assert_eq!(futures::executor::block_on(done).unwrap(), 5);
    assert!(futures::executor::block_on(never).unwrap_err().is_killed());
}

#[test]
fn syscall_inside_a_wrapper_waker_still_reaches_the_kernel() {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};

    /// A waker that forwards to another, as an async generator's driver does.
    struct Forward(Waker);
    impl Wake for Forward {
        fn wake(self: Arc<Self>) {
            self.0.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.wake_by_ref();
        }
    }

    let id = Kernel::new()
        .unwrap()
        .block_on(async {
            let mut inner = pin!(async {
                yield_now().await.unwrap();
                tid().await.unwrap()
            });
            std::future::poll_fn(|cx| {
                let w = Waker::from(Arc::new(Forward(cx.waker().clone())));
                inner.as_mut().poll(&mut Context::from_waker(&w))
            })
            .await
        })
        .unwrap();
    assert_eq!(id.as_u64(), 1);
}

#[test]
fn a_kernel_can_run_inside_a_task_of_another() {
    let (inner, outer_after) = Kernel::new()
        .unwrap()
        .block_on(async {
            let before = tid().await.unwrap();
            let inner = Kernel::new()
                .unwrap()
                .block_on(async {
                    let child = spawn(async { tid().await.unwrap() }).await.unwrap();
                    child.await.unwrap()
                })
                .unwrap();
            // Back in the outer kernel, whose task this still is.
            let after = tid().await.unwrap();
            assert_eq!(before, after);
            yield_now().await.unwrap();
            (inner.as_u64(), after.as_u64())
        })
        .unwrap();
    assert_eq!((inner, outer_after), (2, 1));
}

#[test]
fn a_task_id_names_no_task_in_another_kernel() {
    // A task of kernel A that is still alive, and its id and handle.
    let mut a = Kernel::new().unwrap();
    let handle = a.spawn(std::future::pending::<()>());
    let id = handle.id();
    let (killed, waited, joined) = Kernel::new()
        .unwrap()
        .block_on(async move {
            // Kernel B's first task (this one) has the same number and slot as `id`.
            assert_eq!(tid().await.unwrap().as_u64(), id.as_u64());
            spawn(std::future::pending::<()>()).await.unwrap().detach();
            let killed = kill(id).await.unwrap().unwrap_err();
            let waited = wait(id).await.unwrap().unwrap_err();
            let joined = handle.await.unwrap_err();
            assert!(coros_kernel::syscall(LiveTasks).await.unwrap() == 2);
            (killed, waited, joined)
        })
        .unwrap();
    assert!(!killed.is_finished());
    assert!(waited.is_gone());
    assert!(joined.is_gone());
    drop(a);
}

/// A user's call that parks until cancelled, counting its `handle` and `cancel` calls.
struct ParkForever {
    log: Rc<RefCell<Vec<&'static str>>>,
}

impl SystemCall for ParkForever {
    type Output = ();

    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<()> {
        self.log.borrow_mut().push("handle");
        kernel.set_waiting_on(task, coros_kernel::WaitingOn::Other("forever"));
        Poll::Pending
    }

    fn cancel(&mut self, _kernel: &mut Kernel, _task: TaskId) {
        self.log.borrow_mut().push("cancel");
    }
}

#[test]
fn a_parked_user_call_is_cancelled_once_when_its_task_is_killed() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    Kernel::new()
        .unwrap()
        .block_on(async move {
            let victim = spawn(syscall(ParkForever { log: l })).await.unwrap();
            yield_now().await.unwrap();
            kill(victim.id()).await.unwrap().unwrap();
        })
        .unwrap();
    assert_eq!(*log.borrow(), ["handle", "cancel"]);
}

#[test]
fn a_parked_user_call_is_cancelled_when_a_timeout_gives_up_on_it() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let r = Kernel::new()
        .unwrap()
        .block_on(async move {
            coros_kernel::timeout(
                std::time::Duration::from_millis(1),
                syscall(ParkForever { log: l }),
            )
            .await
        })
        .unwrap();
    assert!(r.is_err());
    // `handle` runs again each time the task resumes (the timer's wake-up resumes it too);
    // `cancel` runs once, last.
    let log = log.borrow();
    assert_eq!(log.iter().filter(|&&e| e == "cancel").count(), 1);
    assert_eq!(log.last(), Some(&"cancel"));
}

#[test]
fn a_deadlock_report_names_a_user_calls_own_description() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut k = Kernel::new().unwrap();
    k.spawn(syscall(ParkForever { log: log.clone() })).detach();
    let err = k.run().unwrap_err();
    assert_eq!(
        err.deadlock().unwrap()[0].waiting_on,
        coros_kernel::WaitingOn::Other("forever")
    );
    assert_eq!(
        err.to_string(),
        "deadlock: no task can run again; stuck: task 1 waits for forever"
    );
    // The stuck task is dropped when the run gives up, and its call withdrawn.
    assert_eq!(*log.borrow(), ["handle", "cancel"]);
}

#[test]
fn a_spawn_call_polled_again_after_it_answered_spawns_nothing_and_errs() {
    let k = Kernel::new().unwrap();
    let runs = Rc::new(RefCell::new(0));
    let r = runs.clone();
    let (first, second) = k
        .block_on(async move {
            let mut call = std::pin::pin!(spawn(async move {
                *r.borrow_mut() += 1;
                5
            }));
            let first = std::future::poll_fn(|cx| call.as_mut().poll(cx)).await;
            let second = std::future::poll_fn(|cx| call.as_mut().poll(cx)).await;
            let (first, second) = (first.unwrap(), second.unwrap());
            assert_eq!(first.id(), second.id());
            assert!(second.is_finished());
            (first.await, second.await)
        })
        .unwrap();
    assert_eq!(first.unwrap(), 5);
    let err = second.unwrap_err();
    assert!(err.is_duplicate(), "{err:?}");
    assert!(!err.is_gone() && !err.is_killed());
    assert_eq!(*runs.borrow(), 1, "spawned once");
}

/// A misbehaving call: swaps the kernel it is lent for a fresh one, and keeps the real one.
struct SwapKernel(Rc<RefCell<Option<Kernel>>>);

impl SystemCall for SwapKernel {
    type Output = ();

    fn handle(&mut self, kernel: &mut Kernel, _task: TaskId) -> Poll<()> {
        let mut other = Kernel::new().unwrap();
        other.spawn(async {}).detach();
        std::mem::swap(kernel, &mut other);
        *self.0.borrow_mut() = Some(other);
        Poll::Ready(())
    }
}

#[test]
fn a_call_that_swaps_the_running_kernel_ends_the_run_with_a_typed_error() {
    let kept = Rc::new(RefCell::new(None));
    let mut k = Kernel::new().unwrap();
    let call = SwapKernel(kept.clone());
    k.spawn(async move { syscall(call).await.unwrap() })
        .detach();
    k.spawn(async {}).detach();
    let err = k.run().unwrap_err();
    assert!(err.is_kernel_swapped(), "{err}");
    assert!(err.deadlock().is_none() && err.io().is_none());
    assert!(err.to_string().contains("swapped the running kernel"));
    drop(kept.borrow_mut().take());
}
