//! Random send / throw / close / start / drop sequences against a small model of CPython's
//! generator rules. The body under test is Python's
//!
//! ```python
//! def body():
//!     total = 0
//!     try:
//!         while True:
//!             try:
//!                 total += yield total
//!             except Recoverable:
//!                 total = -total
//!     except GeneratorExit:
//!         log.append("closed")
//!         return total  # Python 3.13's close() returns it, as coros' close does
//! ```
//!
//! with `Fatal` escaping the loop, and dropping (unlike closing) running no body code.

use std::cell::RefCell;
use std::rc::Rc;

use coros::{Co, Coroutine, CoroutineState, ErrorKind, Interrupt, Status};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Thrown {
    Recoverable,
    Fatal,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Start,
    Send(i64),
    Throw(Thrown),
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Start),
        6 => (-5i64..5).prop_map(Op::Send),
        2 => Just(Op::Throw(Thrown::Recoverable)),
        1 => Just(Op::Throw(Thrown::Fatal)),
        1 => Just(Op::Close),
    ]
}

/// What each operation returned, in a form both sides can produce.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Yielded(i64),
    Returned(Result<i64, String>),
    Refused(ErrorKind),
    ClosedWith(Option<Result<i64, String>>),
}

/// CPython's rules, written out.
#[derive(Debug)]
struct Model {
    phase: Status,
    total: i64,
    log: Vec<&'static str>,
}

impl Model {
    fn apply(&mut self, op: Op) -> Outcome {
        use Status::*;
        match (self.phase, op) {
            (Created, Op::Start) => {
                self.phase = Suspended;
                Outcome::Yielded(self.total)
            }
            (Suspended, Op::Start) => Outcome::Refused(ErrorKind::AlreadyStarted),
            (Finished, Op::Start) => Outcome::Refused(ErrorKind::Finished),
            (Created, Op::Send(_)) => Outcome::Refused(ErrorKind::NotStarted),
            (Finished, Op::Send(_)) => Outcome::Refused(ErrorKind::Finished),
            (Suspended, Op::Send(x)) => {
                self.total += x;
                Outcome::Yielded(self.total)
            }
            (Created, Op::Throw(_)) => {
                self.phase = Finished;
                Outcome::Refused(ErrorKind::NotStarted)
            }
            (Finished, Op::Throw(_)) => Outcome::Refused(ErrorKind::Finished),
            (Suspended, Op::Throw(Thrown::Recoverable)) => {
                self.total = -self.total;
                Outcome::Yielded(self.total)
            }
            (Suspended, Op::Throw(Thrown::Fatal)) => {
                self.phase = Finished;
                Outcome::Returned(Err("Fatal".into()))
            }
            (Created | Finished, Op::Close) => {
                self.phase = Finished;
                Outcome::ClosedWith(None)
            }
            (Suspended, Op::Close) => {
                self.phase = Finished;
                self.log.push("closed");
                Outcome::ClosedWith(Some(Ok(self.total)))
            }
        }
    }
}

type Handle = Co<i64, i64, Thrown>;

fn real(
    log: Rc<RefCell<Vec<&'static str>>>,
) -> Coroutine<i64, i64, Thrown, impl Future<Output = Result<i64, String>>> {
    Coroutine::new(move |co: Handle| async move {
        let mut total = 0;
        loop {
            match co.yield_(total).await {
                Ok(x) => total += x,
                Err(Interrupt::Throw(Thrown::Recoverable)) => total = -total,
                Err(Interrupt::Throw(Thrown::Fatal)) => return Err("Fatal".to_owned()),
                Err(Interrupt::Close) => {
                    log.borrow_mut().push("closed");
                    return Ok(total);
                }
                Err(other) => return Err(format!("{other:?}")),
            }
        }
    })
}

fn state<E>(
    step: Result<CoroutineState<i64, Result<i64, String>>, coros::ResumeError<E>>,
) -> Outcome {
    match step {
        Ok(CoroutineState::Yielded(y)) => Outcome::Yielded(y),
        Ok(CoroutineState::Complete(r)) => Outcome::Returned(r),
        Err(e) => Outcome::Refused(e.kind()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    #[cfg_attr(miri, ignore = "proptest reads files and the clock; the engine runs under Miri in the other tests")]
    fn coroutines_follow_cpythons_generator_rules(ops in proptest::collection::vec(op(), 0..40), drop_at in 0usize..40) {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut co = real(log.clone());
        let mut model = Model { phase: Status::Created, total: 0, log: Vec::new() };
        for (i, &op) in ops.iter().enumerate() {
            if i == drop_at {
                // Dropping runs no body code: nothing is logged, unlike close.
                drop(co);
                prop_assert_eq!(&*log.borrow(), &model.log);
                return Ok(());
            }
            let expected = model.apply(op);
            let got = match op {
                Op::Start => state(co.start()),
                Op::Send(x) => state(co.send(x)),
                Op::Throw(t) => state(co.throw(t)),
                Op::Close => match co.close() {
                    Ok(value) => Outcome::ClosedWith(value),
                    Err(e) => Outcome::Refused(e.kind()),
                },
            };
            prop_assert_eq!(got, expected, "op {} = {:?}", i, op);
            prop_assert_eq!(co.status(), model.phase);
            prop_assert_eq!(&*log.borrow(), &model.log);
        }
    }
}
