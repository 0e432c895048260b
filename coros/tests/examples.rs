//! The examples' output, checked: the seed's programs against CPython's transcripts
//! (`tests/python/*.py` made the `.txt` files; rerun them with `python3` to compare).

use std::cell::RefCell;
use std::rc::Rc;

#[path = "../examples/awaitable.rs"]
mod awaitable;
#[path = "../examples/ping_pong.rs"]
mod ping_pong;
#[path = "../examples/pipeline.rs"]
mod pipeline;
#[path = "../examples/return_yield.rs"]
mod return_yield;

#[test]
fn awaitable_prints_the_cpython_transcript_line_for_line() {
    let out = RefCell::new(Vec::new());
    awaitable::run(&out).unwrap();
    let ours = String::from_utf8(out.into_inner()).unwrap();
    assert_eq!(ours, include_str!("python/awaitable.txt"));
}

#[test]
fn return_yield_completes_with_the_sent_value_and_refuses_late_and_early_sends() {
    let mut out = Vec::new();
    return_yield::run(&mut out).unwrap();
    let ours = String::from_utf8(out).unwrap();
    let python = include_str!("python/return_yield.txt");
    // Same values as CPython: the completion carries 5 in both.
    assert!(python.contains("complete: 5"));
    assert_eq!(
        ours.lines().collect::<Vec<_>>(),
        [
            "primed: Yielded(())",
            "complete: 5",
            "send after return: the coroutine has finished (value handed back: Some(6))",
            "send before priming: the coroutine has not started: start it before sending or \
             throwing (value handed back: Some(5), status Created)",
        ]
    );
}

#[test]
fn ping_pong_tallies_every_ping() {
    let mut out = Vec::new();
    let last = ping_pong::run(&mut out).unwrap();
    assert_eq!(
        last,
        ping_pong::Pong {
            count: 5,
            total: 14
        }
    );
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 6);
}

#[test]
fn pipeline_greps_broadcasts_and_counts() {
    let text = "a yield here\nnothing\nyield again\nno\n";
    let out = Rc::new(RefCell::new(Vec::new()));
    pipeline::run("yield", text, out.clone());
    let printed = String::from_utf8(out.borrow().clone()).unwrap();
    assert_eq!(
        printed.lines().collect::<Vec<_>>(),
        [
            "1: a yield here",
            "2: a yield here",
            "1: yield again",
            "2: yield again",
            "counted 2 matching lines",
        ]
    );
}
