//! Auto traits are API: what may cross threads, and what may not.

use coros_kernel::{
    Elapsed, JoinError, KillError, OutsideKernel, ResourceBusy, RunError, StuckTask, TaskExit,
    TaskId, WaitingOn,
};

fn send_sync<T: Send + Sync>() {}

#[test]
fn ids_and_errors_are_send_and_sync() {
    send_sync::<TaskId>();
    send_sync::<WaitingOn>();
    send_sync::<TaskExit>();
    send_sync::<OutsideKernel>();
    send_sync::<JoinError>();
    send_sync::<KillError>();
    send_sync::<Elapsed>();
    send_sync::<ResourceBusy>();
    send_sync::<StuckTask>();
    send_sync::<RunError>();
}

#[test]
fn errors_fit_in_boxed_send_sync_errors() {
    fn boxed<E: std::error::Error + Send + Sync + 'static>(
        e: E,
    ) -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(e)
    }
    let err = coros_kernel::Kernel::new()
        .unwrap()
        .block_on(async {
            coros_kernel::spawn(async { panic!("x") })
                .await
                .unwrap()
                .await
                .unwrap_err()
        })
        .unwrap();
    assert_eq!(boxed(err).to_string(), "task 2 panicked: x");
}
