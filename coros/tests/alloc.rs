//! Allocation counts, which are deterministic where timings are not: one allocation per
//! coroutine (its frame), none per resume.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use coros::{AsyncGenerator, Co, Coroutine, CoroutineState, Generator};

struct Counting;

thread_local! {
    /// This thread's allocations: the test harness's own threads allocate at times of their
    /// choosing, and must not be counted.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Polls a future that never waits to completion.
fn poll_ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => panic!("nothing here waits"),
    }
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn one_allocation_per_coroutine_and_none_per_resume() {
    let before = allocations();
    let mut co = Coroutine::new(|co: Co<u64, u64>| async move {
        let mut x = 0;
        while let Ok(v) = co.yield_(x).await {
            x = v * 2;
        }
        x
    });
    assert_eq!(allocations() - before, 1, "creating a coroutine");

    let before = allocations();
    co.start().unwrap();
    for i in 0..10_000 {
        assert_eq!(co.send(i).unwrap(), CoroutineState::Yielded(i * 2));
    }
    co.close().unwrap();
    assert_eq!(
        allocations() - before,
        0,
        "10,000 sends, a start and a close"
    );

    let before = allocations();
    let sum: u64 = Generator::new(|co: Co<u64>| async move {
        for i in 0..1_000 {
            let _ = co.yield_(i).await;
        }
    })
    .sum();
    assert_eq!(sum, 499_500);
    assert_eq!(allocations() - before, 1, "a whole generator run");

    let before = allocations();
    let mut agen = AsyncGenerator::new(|co: Co<u64, u64>| async move {
        let mut x = 0;
        while let Ok(v) = co.yield_(x).await {
            x = v + 1;
        }
    });
    // Polled with a no-op waker: an executor's own first-use allocations would be counted.
    poll_ready(async {
        agen.start().await.unwrap();
        for i in 0..1_000 {
            assert_eq!(agen.asend(i).await.unwrap(), CoroutineState::Yielded(i + 1));
        }
    });
    assert_eq!(
        allocations() - before,
        1,
        "an async generator and 1,000 asends"
    );
}
