//! Killing a task in every state it can be in, and the sweep over how a task ends
//! ({ok, panic while running, panic in drop} x {joined before, after, never} x {killed never,
//! before start, while parked, after finish}): destructors run once, timers and readiness waits
//! are withdrawn, descriptors close, joiners learn `Killed`, the run returns, nothing leaks.
//!
//! The tests of this file run one at a time (they count the process's descriptors and heap).

mod counting_alloc;
mod support;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard, Once};
use std::task::Poll;
use std::time::Duration;

use coros_kernel::{
    Exit, JoinError, JoinHandle, Kernel, SystemCall, TaskId, TcpListener, TcpStream, WaitingOn,
    kill, readable, sleep, spawn, syscall, tid, wait, yield_now,
};
use counting_alloc::live_bytes;
use futures::channel::oneshot;
use support::Drops;

// ---------------------------------------------------------------------------------------------
// Helpers: a per-thread heap counter, descriptor and epoll counts, a probe system call.

/// One test at a time: descriptor counts are per process.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps the scripted panics of this file off stderr; others go to the default hook.
fn quiet_scripted_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if !msg.is_some_and(|m| m.starts_with("scripted")) {
                default(info);
            }
        }));
    });
}

/// Open descriptors of this process (not counted under Miri, which has no `/proc`).
fn open_fds() -> usize {
    if cfg!(miri) {
        return 0;
    }
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Descriptors registered in this process's epoll instances (the `tfd:` lines of their
/// `fdinfo`), the kernel's own notifier included.
fn epoll_registrations() -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let is_epoll = std::fs::read_link(entry.path())
            .is_ok_and(|t| t.to_string_lossy().contains("eventpoll"));
        if !is_epoll {
            continue;
        }
        let info = format!("/proc/self/fdinfo/{}", entry.file_name().to_string_lossy());
        if let Ok(text) = std::fs::read_to_string(info) {
            n += text.lines().filter(|l| l.starts_with("tfd:")).count();
        }
    }
    n
}

/// A system call that answers at once with what `f` reads from the kernel.
struct Probe<F>(F);

impl<T, F: FnMut(&mut Kernel, TaskId) -> T + Unpin> SystemCall for Probe<F> {
    type Output = T;

    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<T> {
        Poll::Ready((self.0)(kernel, task))
    }
}

async fn probe<T>(f: impl FnMut(&mut Kernel, TaskId) -> T + Unpin) -> T {
    syscall(Probe(f)).await.expect("inside a kernel task")
}

async fn alive(id: TaskId) -> bool {
    probe(move |k, _| k.is_alive(id)).await
}

async fn waiting_on(id: TaskId) -> Option<WaitingOn> {
    probe(move |k, _| k.waiting_on(id)).await
}

/// A guard whose destructor counts itself and then panics.
struct Bomb(Drops);

impl Drop for Bomb {
    fn drop(&mut self) {
        drop(self.0.guard());
        panic!("scripted panic in drop");
    }
}

/// How a task ended, as a joiner saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Value(u32),
    Killed,
    Panicked(Option<String>),
    Other(String),
}

fn outcome(r: Result<u32, JoinError>) -> Outcome {
    match r {
        Ok(v) => Outcome::Value(v),
        Err(e) if e.is_killed() => Outcome::Killed,
        Err(e) if e.is_panic() => Outcome::Panicked(e.panic_message().map(str::to_owned)),
        Err(e) => Outcome::Other(e.to_string()),
    }
}

fn exit_outcome(exit: &Exit, value: u32) -> Outcome {
    match exit {
        Exit::Completed => Outcome::Value(value),
        Exit::Killed => Outcome::Killed,
        Exit::Panicked(m) => Outcome::Panicked(m.clone()),
        other => Outcome::Other(format!("{other:?}")),
    }
}

/// Runs `f` on its own thread and fails if it has not returned within `limit`: a registration
/// left behind by a killed task (a timer an hour away, a readiness wait) would keep the kernel
/// waiting instead of returning, so a hang is the failure this turns into an error.
fn watchdog<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => std::panic::resume_unwind(p),
        Err(_) => panic!("the kernel did not return within {limit:?}: something kept it waiting"),
    }
}

// ---------------------------------------------------------------------------------------------
// Kill in every state.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    Ready,
    Sleeping,
    Joining,
    /// In `TcpStream::recv`, on a socket the task owns.
    Reading,
    /// In `readable` on a plain descriptor the task owns.
    ReadingPlainFd,
    /// In `TcpStream::send_all` to a peer that never reads.
    Writing,
    Finished,
    KillingItself,
}

const STATES: [State; 9] = [
    State::NotStarted,
    State::Ready,
    State::Sleeping,
    State::Joining,
    State::Reading,
    State::ReadingPlainFd,
    State::Writing,
    State::Finished,
    State::KillingItself,
];

/// What one state's run measured.
#[derive(Debug)]
struct StateReport {
    drops: usize,
    resumed_after_kill: bool,
    joiner: Outcome,
    waiter: Result<(), String>,
    kill: Result<(), String>,
    started: bool,
    fds_closed_by_kill: isize,
    registrations_withdrawn_by_kill: isize,
    peer_saw_eof: Option<bool>,
    stuck: Vec<(TaskId, WaitingOn)>,
    controller: Option<TaskId>,
    exits: Vec<(TaskId, Exit)>,
    victim: Option<TaskId>,
    fds_before_kernel: usize,
    fds_after_kernel: usize,
}

async fn in_state(state: State, id: TaskId) -> bool {
    let alive = alive(id).await;
    match (state, waiting_on(id).await) {
        (State::Ready, None) => alive,
        (State::Sleeping, Some(WaitingOn::Sleep { .. })) => true,
        (State::Joining, Some(WaitingOn::Join(_))) => true,
        (State::Reading | State::ReadingPlainFd, Some(WaitingOn::Readable(_))) => true,
        (State::Writing, Some(WaitingOn::Writable(_))) => true,
        _ => false,
    }
}

fn kill_in_state(state: State) -> StateReport {
    let fds_before_kernel = open_fds();
    let drops = Drops::new();
    let resumed = Rc::new(Cell::new(false));
    let started = Rc::new(Cell::new(false));
    let exits = Rc::new(RefCell::new(Vec::new()));
    let report: Rc<RefCell<Option<StateReport>>> = Rc::default();

    let mut k = Kernel::new().unwrap();
    let e = exits.clone();
    k.on_exit(move |x| e.borrow_mut().push((x.id, x.exit.clone())));
    let (d, r, s, out) = (
        drops.clone(),
        resumed.clone(),
        started.clone(),
        report.clone(),
    );
    let controller = k.spawn(async move {
        // What the victim owns, and the peer the controller keeps.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (conn, _) = listener.accept().await.unwrap();
        let (plain, plain_peer) = UnixStream::pair().unwrap();
        let (gate_tx, gate_rx) = oneshot::channel::<()>();
        let helper = spawn(async move { gate_rx.await.is_ok() }).await.unwrap();
        let helper_id = helper.id();

        // Joiners first, then the killer, then the victim: the joiners wait before the victim
        // ever runs, and the killer runs before it too.
        let slot: Rc<RefCell<Option<JoinHandle<u32>>>> = Rc::default();
        let vid: Rc<Cell<Option<TaskId>>> = Rc::default();
        let (sl, vi) = (slot.clone(), vid.clone());
        let joiner = spawn(async move {
            let h = sl.borrow_mut().take().unwrap();
            outcome(h.await)
        })
        .await
        .unwrap();
        let vi2 = vid.clone();
        let waiter = spawn(async move {
            let id = vi2.get().unwrap();
            wait(id).await.unwrap().map_err(|e| e.to_string())
        })
        .await
        .unwrap();
        let (r2, vi3, s2) = (r.clone(), vid.clone(), s.clone());
        let killer = spawn(async move {
            let id = vi3.get().unwrap();
            match state {
                State::NotStarted => {}
                State::Finished | State::KillingItself => {
                    while alive(id).await {
                        yield_now().await.unwrap();
                    }
                }
                _ => {
                    while !(s2.get() && in_state(state, id).await) {
                        yield_now().await.unwrap();
                    }
                }
            }
            let (fds, regs) = (open_fds(), epoll_registrations());
            let killed = kill(id).await.unwrap().map_err(|e| e.to_string());
            let fds_closed = fds as isize - open_fds() as isize;
            let regs_gone = regs as isize - epoll_registrations() as isize;
            // Whatever the victim waited for may happen now; it must not resume.
            for _ in 0..3 {
                yield_now().await.unwrap();
            }
            (killed, fds_closed, regs_gone, r2.get())
        })
        .await
        .unwrap();

        let guard = d.guard();
        let s3 = s.clone();
        // The victim owns only the descriptor it waits on.
        let (owned_conn, conn) = match state {
            State::Reading | State::Writing => (Some(conn), None),
            _ => (None, Some(conn)),
        };
        let (owned_plain, plain) = match state {
            State::ReadingPlainFd => (Some(plain), None),
            _ => (None, Some(plain)),
        };
        let victim = spawn(async move {
            let _g = guard;
            s.set(true);
            match state {
                State::NotStarted | State::Finished => return 7,
                State::Ready => loop {
                    yield_now().await.unwrap();
                },
                State::Sleeping => sleep(Duration::from_secs(3600)).await.unwrap(),
                State::Joining => {
                    let _ = wait(helper_id).await;
                }
                State::Reading => {
                    let mut buf = [0u8; 16];
                    let _ = owned_conn.as_ref().unwrap().recv(&mut buf).await;
                }
                State::ReadingPlainFd => {
                    let _ = readable(owned_plain.as_ref().unwrap().as_fd()).await;
                }
                State::Writing => {
                    let big = vec![0u8; 64 << 20];
                    let _ = owned_conn.as_ref().unwrap().send_all(&big).await;
                }
                State::KillingItself => {
                    let me = tid().await.unwrap();
                    let _ = kill(me).await;
                }
            }
            r.set(true);
            drop((owned_conn, owned_plain));
            0
        })
        .await
        .unwrap();
        vi.set(Some(victim.id()));
        *slot.borrow_mut() = Some(victim);

        let joiner = joiner.await.unwrap();
        let waiter = waiter.await.unwrap();
        let (kill_result, fds_closed_by_kill, regs, resumed_after_kill) = killer.await.unwrap();
        // The helper a joining victim waited for ends now; the dead joiner must not mind.
        let _ = gate_tx.send(());
        assert!(helper.await.unwrap());

        // The peers see the victim's sockets closed: EOF.
        let peer_saw_eof = match state {
            State::Reading => {
                let mut buf = [0u8; 8];
                Some(client.recv(&mut buf).await.unwrap() == 0)
            }
            State::ReadingPlainFd => {
                use std::io::Read;
                let mut buf = [0u8; 8];
                Some((&plain_peer).read(&mut buf).unwrap() == 0)
            }
            _ => None,
        };
        drop((client, listener, plain_peer, conn, plain));
        *out.borrow_mut() = Some(StateReport {
            drops: d.count(),
            resumed_after_kill,
            joiner,
            waiter,
            kill: kill_result,
            started: s3.get(),
            fds_closed_by_kill,
            registrations_withdrawn_by_kill: regs,
            peer_saw_eof,
            stuck: Vec::new(),
            controller: None,
            exits: Vec::new(),
            victim: vid.get(),
            fds_before_kernel: 0,
            fds_after_kernel: 0,
        });
        // Nothing is left to wait for: no timer, no readiness wait, no waker. A killed task's
        // registration left behind would keep the kernel waiting here instead of returning.
        std::future::pending::<()>().await;
    });
    let controller_id = controller.id();
    let run = k.run();
    drop(controller);
    let mut rep = report.borrow_mut().take().expect("the controller reported");
    let err = run.expect_err("the controller is stuck on purpose");
    rep.stuck = err
        .deadlock()
        .expect("a deadlock report")
        .iter()
        .map(|s| (s.id, s.waiting_on))
        .collect();
    rep.controller = Some(controller_id);
    rep.exits = exits.borrow().clone();
    rep.fds_before_kernel = fds_before_kernel;
    rep.fds_after_kernel = open_fds();
    rep
}

#[test]
#[cfg_attr(miri, ignore = "counts descriptors in /proc and uses TCP")]
fn a_task_killed_in_any_state_is_dropped_once_and_leaves_nothing_behind() {
    let _serial = serial();
    for state in STATES {
        let rep = watchdog(Duration::from_secs(60), move || kill_in_state(state));
        let victim = rep.victim.unwrap();
        let killed = state != State::Finished;
        // A task that killed itself is gone before the killer gets to it.
        let expect_kill_ok = killed && state != State::KillingItself;
        println!(
            "kill {state:?}: drops {}, joiner {:?}, waiter {:?}, kill {:?}, fds closed by the \
             kill {}, epoll registrations withdrawn {}, peer EOF {:?}",
            rep.drops,
            rep.joiner,
            rep.waiter,
            rep.kill,
            rep.fds_closed_by_kill,
            rep.registrations_withdrawn_by_kill,
            rep.peer_saw_eof,
        );
        assert_eq!(rep.drops, 1, "{state:?}: destructors ran once");
        assert_eq!(rep.started, state != State::NotStarted, "{state:?}");
        assert!(!rep.resumed_after_kill, "{state:?}: resumed after its kill");
        if expect_kill_ok {
            assert_eq!(rep.kill, Ok(()), "{state:?}");
        } else {
            assert!(rep.kill.as_ref().unwrap_err().contains("already ended"));
        }
        if killed {
            assert_eq!(rep.joiner, Outcome::Killed, "{state:?}");
            let waited = rep.waiter.as_ref().unwrap_err();
            assert!(waited.contains("killed"), "{state:?}: {waited}");
        } else {
            assert_eq!(rep.joiner, Outcome::Value(7), "{state:?}");
            assert_eq!(rep.waiter, Ok(()), "{state:?}");
        }
        let owned_fd = matches!(
            state,
            State::Reading | State::ReadingPlainFd | State::Writing
        );
        // The victim's own socket closes with it; the kernel's sockets and plain descriptors
        // alike leave the poller.
        assert_eq!(rep.fds_closed_by_kill, isize::from(owned_fd), "{state:?}");
        assert_eq!(
            rep.registrations_withdrawn_by_kill,
            isize::from(owned_fd),
            "{state:?}"
        );
        if let Some(eof) = rep.peer_saw_eof {
            assert!(eof, "{state:?}: the peer sees EOF");
        }
        // The run ended with only the controller left, stuck on purpose: no timer or readiness
        // wait of the victim kept the kernel waiting.
        assert_eq!(
            rep.stuck,
            [(rep.controller.unwrap(), WaitingOn::Waker)],
            "{state:?}"
        );
        let victim_exits: Vec<_> = rep.exits.iter().filter(|(id, _)| *id == victim).collect();
        assert_eq!(victim_exits.len(), 1, "{state:?}: {victim_exits:?}");
        assert_eq!(
            victim_exits[0].1,
            if killed {
                Exit::Killed
            } else {
                Exit::Completed
            }
        );
        assert_eq!(
            rep.fds_after_kernel, rep.fds_before_kernel,
            "{state:?}: every descriptor of the run closed"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The sweep.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    Ok,
    PanicWhileRunning,
    PanicInDrop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Joined {
    Before,
    After,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Killed {
    Never,
    BeforeStart,
    WhileParked,
    AfterFinish,
}

fn expected(body: Body, killed: Killed) -> Outcome {
    match (killed, body) {
        (Killed::BeforeStart | Killed::WhileParked, _) => Outcome::Killed,
        (_, Body::Ok) => Outcome::Value(42),
        (_, Body::PanicWhileRunning) => {
            Outcome::Panicked(Some("scripted panic while running".into()))
        }
        (_, Body::PanicInDrop) => Outcome::Panicked(Some("scripted panic in drop".into())),
    }
}

/// One point of the sweep; `Err` lists what went wrong.
fn sweep_point(body: Body, joined: Joined, killed: Killed) -> Result<(), String> {
    let drops = Drops::new();
    let bombs = Drops::new();
    let started = Rc::new(Cell::new(false));
    let exits: Rc<RefCell<Vec<(TaskId, Exit)>>> = Rc::default();
    let seen: Rc<RefCell<Vec<(&'static str, Outcome)>>> = Rc::default();
    let kill_result: Rc<RefCell<Option<Result<(), bool>>>> = Rc::default();
    let vid: Rc<Cell<Option<TaskId>>> = Rc::default();

    let mut k = Kernel::new().map_err(|e| e.to_string())?;
    let e = exits.clone();
    k.on_exit(move |x| e.borrow_mut().push((x.id, x.exit.clone())));
    let (d, b, s, sn, kr, vi) = (
        drops.clone(),
        bombs.clone(),
        started.clone(),
        seen.clone(),
        kill_result.clone(),
        vid.clone(),
    );
    k.spawn(async move {
        let (gate_tx, gate_rx) = oneshot::channel::<()>();
        let slot: Rc<RefCell<Option<JoinHandle<u32>>>> = Rc::default();
        // Spawned in this order: joiner, killer, victim (so both run before the victim starts).
        let joiner = if joined == Joined::Before {
            let (sl, sn) = (slot.clone(), sn.clone());
            Some(
                spawn(async move {
                    let h = sl.borrow_mut().take().unwrap();
                    let seen = outcome(h.await);
                    sn.borrow_mut().push(("before", seen));
                })
                .await
                .unwrap(),
            )
        } else {
            None
        };
        let vi2 = vi.clone();
        let killer = spawn(async move {
            let id = vi2.get().unwrap();
            let mut gate = Some(gate_tx);
            let r = match killed {
                Killed::Never => {
                    let _ = gate.take().unwrap().send(());
                    None
                }
                Killed::BeforeStart => Some(kill(id).await.unwrap()),
                Killed::WhileParked => {
                    while waiting_on(id).await.is_none() {
                        yield_now().await.unwrap();
                    }
                    Some(kill(id).await.unwrap())
                }
                Killed::AfterFinish => {
                    let _ = gate.take().unwrap().send(());
                    while alive(id).await {
                        yield_now().await.unwrap();
                    }
                    Some(kill(id).await.unwrap())
                }
            };
            *kr.borrow_mut() = r.map(|r| r.map_err(|e| e.is_finished()));
        })
        .await
        .unwrap();
        let guard = d.guard();
        let bomb = (body == Body::PanicInDrop).then(|| Bomb(b.clone()));
        let victim = spawn(async move {
            let _g = guard;
            let _bomb = bomb;
            s.set(true);
            let _ = gate_rx.await;
            if body == Body::PanicWhileRunning {
                panic!("scripted panic while running");
            }
            42u32
        })
        .await
        .unwrap();
        let id = victim.id();
        vi.set(Some(id));
        let after = match joined {
            Joined::Before => {
                *slot.borrow_mut() = Some(victim);
                None
            }
            Joined::After => Some(victim),
            Joined::Never => {
                victim.detach();
                None
            }
        };
        killer.await.unwrap();
        while alive(id).await {
            yield_now().await.unwrap();
        }
        if let Some(h) = after {
            let seen = outcome(h.await);
            sn.borrow_mut().push(("after", seen));
        }
        if let Some(j) = joiner {
            j.await.unwrap();
        }
    })
    .detach();
    let run = k.run();

    let mut errors = Vec::new();
    if let Err(e) = run {
        errors.push(format!("run: {e}"));
    }
    let want = expected(body, killed);
    let id = vid.get().ok_or("the victim was never spawned")?;
    let victim_exits: Vec<Outcome> = exits
        .borrow()
        .iter()
        .filter(|(t, _)| *t == id)
        .map(|(_, x)| exit_outcome(x, 42))
        .collect();
    if victim_exits != [want.clone()] {
        errors.push(format!("exits {victim_exits:?}, want [{want:?}]"));
    }
    if drops.count() != 1 {
        errors.push(format!("destructor ran {} times", drops.count()));
    }
    let bomb_drops = usize::from(body == Body::PanicInDrop);
    if bombs.count() != bomb_drops {
        errors.push(format!("panicking destructor ran {} times", bombs.count()));
    }
    if started.get() == (killed == Killed::BeforeStart) {
        errors.push(format!("started: {}", started.get()));
    }
    let want_seen: Vec<(&str, Outcome)> = match joined {
        Joined::Before => vec![("before", want.clone())],
        Joined::After => vec![("after", want.clone())],
        Joined::Never => vec![],
    };
    if *seen.borrow() != want_seen {
        errors.push(format!(
            "joiners saw {:?}, want {want_seen:?}",
            seen.borrow()
        ));
    }
    let want_kill = match killed {
        Killed::Never => None,
        Killed::BeforeStart | Killed::WhileParked => Some(Ok(())),
        Killed::AfterFinish => Some(Err(true)),
    };
    if *kill_result.borrow() != want_kill {
        errors.push(format!("kill gave {:?}", kill_result.borrow()));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[test]
fn the_kill_sweep_ends_every_task_once_with_no_failure_and_no_leak() {
    let _serial = serial();
    quiet_scripted_panics();
    let mut points = Vec::new();
    for body in [Body::Ok, Body::PanicWhileRunning, Body::PanicInDrop] {
        for joined in [Joined::Before, Joined::After, Joined::Never] {
            for killed in [
                Killed::Never,
                Killed::BeforeStart,
                Killed::WhileParked,
                Killed::AfterFinish,
            ] {
                points.push((body, joined, killed));
            }
        }
    }
    // A first pass warms up what the process allocates once (thread-locals, the panic path).
    for &(body, joined, killed) in &points {
        let _ = sweep_point(body, joined, killed);
    }
    let fds = open_fds();
    let mut failures = Vec::new();
    let mut leaks = Vec::new();
    for &(body, joined, killed) in &points {
        let before = live_bytes();
        let r = sweep_point(body, joined, killed);
        let leaked = live_bytes() - before;
        if let Err(e) = r {
            failures.push(format!(
                "{body:?} x joined {joined:?} x killed {killed:?}: {e}"
            ));
        }
        if leaked != 0 {
            leaks.push(format!(
                "{body:?} x joined {joined:?} x killed {killed:?}: {leaked} bytes"
            ));
        }
    }
    println!(
        "kill sweep: {} points, {} failures, {} leaks, descriptors {} -> {}",
        points.len(),
        failures.len(),
        leaks.len(),
        fds,
        open_fds()
    );
    assert_eq!(points.len(), 36);
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(leaks.is_empty(), "{leaks:#?}");
    assert_eq!(open_fds(), fds);
}

// ---------------------------------------------------------------------------------------------
// Killing from outside the loop, before the run.

fn kill_before_run(body: Body) -> (Outcome, usize, usize, bool) {
    let drops = Drops::new();
    let bombs = Drops::new();
    let mut k = Kernel::new().unwrap();
    let guard = drops.guard();
    let bomb = (body == Body::PanicInDrop).then(|| Bomb(bombs.clone()));
    let victim = k.spawn(async move {
        let _g = guard;
        let _bomb = bomb;
        if body == Body::PanicWhileRunning {
            panic!("scripted panic while running");
        }
        42u32
    });
    let id = victim.id();
    let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| k.kill(id)));
    let kill_returned = matches!(killed, Ok(Ok(())));
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    k.spawn(async move {
        // Bounded, so that a joiner that is never answered fails instead of spinning.
        let r = coros_kernel::timeout(Duration::from_secs(2), victim).await;
        *s.borrow_mut() = Some(match r {
            Ok(r) => outcome(r),
            Err(_) => Outcome::Other("the joiner was never answered".into()),
        });
    })
    .detach();
    k.run().unwrap();
    let seen = seen.borrow_mut().take().unwrap();
    (seen, drops.count(), bombs.count(), kill_returned)
}

#[test]
fn a_task_killed_before_the_run_is_dropped_at_once_and_joins_as_killed() {
    let _serial = serial();
    quiet_scripted_panics();
    for body in [Body::Ok, Body::PanicWhileRunning] {
        let (seen, drops, bombs, returned) = kill_before_run(body);
        assert!(returned, "{body:?}");
        assert_eq!(seen, Outcome::Killed, "{body:?}");
        assert_eq!((drops, bombs), (1, 0), "{body:?}");
    }
}

#[test]
fn a_task_killed_before_the_run_whose_destructor_panics_still_joins_as_killed() {
    let _serial = serial();
    quiet_scripted_panics();
    let (seen, drops, bombs, returned) = kill_before_run(Body::PanicInDrop);
    assert_eq!((drops, bombs), (1, 1));
    assert_eq!(seen, Outcome::Killed);
    assert!(returned, "Kernel::kill panicked instead of returning Ok");
}

#[test]
#[cfg_attr(miri, ignore = "writes to a socket pair in non-blocking mode")]
fn a_killed_reader_of_a_plain_descriptor_leaves_it_to_the_next_reader() {
    // After the kill, another task may wait on the same descriptor (no `ResourceBusy` from a
    // dead holder) and is woken by its data.
    let _serial = serial();
    let got = Kernel::new()
        .unwrap()
        .block_on(async {
            let (a, mut b) = UnixStream::pair().unwrap();
            let a = Rc::new(a);
            let a1 = a.clone();
            let first =
                spawn(async move { readable(a1.as_fd()).await.unwrap().map_err(|e| e.kind()) })
                    .await
                    .unwrap();
            yield_now().await.unwrap();
            kill(first.id()).await.unwrap().unwrap();
            assert!(first.await.unwrap_err().is_killed());
            let a2 = a.clone();
            let second =
                spawn(async move { readable(a2.as_fd()).await.unwrap().map_err(|e| e.kind()) })
                    .await
                    .unwrap();
            yield_now().await.unwrap();
            b.write_all(b"x").unwrap();
            second.await.unwrap()
        })
        .unwrap();
    assert_eq!(got, Ok(()));
}
