//! The readiness layer: the OS poller (`polling`), the table of registered descriptors, and the
//! kernel's `Remote`, through which wakers reach the kernel from any thread.
//!
//! # States of a registration
//!
//! Each registered descriptor has, per direction (read, write), a `ready` flag and at most one
//! waiting task. `ready` is set by an event and cleared only by the owner of the descriptor when
//! an operation reports `WouldBlock`; the waiter is set by a readiness call and cleared by the
//! event that wakes it (or by the call's cancellation).
//!
//! Discussion: the poller is `epoll` through `rustix` (safe, no FFI of our own). The `polling`
//! crate was the first choice, but on Linux each of its waits costs five system calls (it re-arms
//! a timerfd and its notifier around every `epoll_wait`); measured on the echo server, that was
//! most of the CPU spent per round trip beyond the socket calls themselves. Here a wait is one
//! `epoll_wait`, and the notifier (an eventfd, level-triggered) is read only when it fired.
//!
//! Everything is edge-triggered, the notifier included, which is also the one mode Miri's epoll
//! accepts: the kernel's logic (and its `unsafe` modules, the wakers and the lent kernel) runs
//! under Miri with the real readiness layer, so no fake poller is needed; only TCP tests are left
//! out there.
//!
//! Registrations are edge-triggered and persistent, as in tokio: a socket is added
//! once, the first time an operation would block, and an operation is tried *before* waiting
//! (curio's trick), so a busy connection costs no `epoll_ctl` at all. Readiness calls on a plain
//! descriptor (one the kernel does not own) register it for the wait only and remove it after,
//! because the kernel cannot know when the owner closes it.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rustix::buffer::spare_capacity;
use rustix::event::epoll::{self, EventData, EventFlags};
use rustix::event::{EventfdFlags, Timespec, eventfd};
use rustix::fd::OwnedFd;
use rustix::io::Errno;

use crate::current::with_kernel_id;
use crate::error::ResourceBusy;
use crate::task::TaskId;

/// The key of the notifier's events; registrations use keys below it.
const NOTIFY_KEY: u64 = u64::MAX;

/// `epoll` and an eventfd to interrupt its wait from another thread.
pub(crate) struct Poller {
    epoll: OwnedFd,
    notifier: OwnedFd,
    notified: AtomicBool,
}

impl Poller {
    fn new() -> io::Result<Poller> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let notifier = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        // Edge-triggered like everything else (each write to the eventfd is an edge, and the
        // counter is read back to zero when one is seen); Miri also accepts only edge mode.
        epoll::add(
            &epoll,
            &notifier,
            EventData::new_u64(NOTIFY_KEY),
            EventFlags::IN | EventFlags::ET,
        )?;
        Ok(Poller {
            epoll,
            notifier,
            notified: AtomicBool::new(false),
        })
    }

    /// Adds `fd` edge-triggered for reading and writing, with `key` in its events.
    fn add(&self, fd: BorrowedFd<'_>, key: u64) -> io::Result<()> {
        let flags = EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
        Ok(epoll::add(&self.epoll, fd, EventData::new_u64(key), flags)?)
    }

    /// Removes `fd`.
    pub(crate) fn delete(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        Ok(epoll::delete(&self.epoll, fd)?)
    }

    /// Interrupts the current or next `wait`.
    fn notify(&self) {
        // SeqCst: see `Poller::wait` and `Remote::take_wakes`.
        if !self.notified.swap(true, Ordering::SeqCst) {
            let _ = rustix::io::write(&self.notifier, &1u64.to_ne_bytes());
        }
    }

    /// Waits up to `timeout` for events (with `None`, until one comes).
    fn wait(&self, events: &mut Vec<epoll::Event>, timeout: Option<Duration>) -> io::Result<()> {
        events.clear();
        let timeout = timeout.map(|t| Timespec {
            tv_sec: t.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: t.subsec_nanos().into(),
        });
        loop {
            match epoll::wait(&self.epoll, spare_capacity(&mut *events), timeout.as_ref()) {
                Ok(_) => break,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if events.iter().any(|e| ({ e.data }).u64() == NOTIFY_KEY) {
            // Clear the counter first, then the flag: a notification between the two finds the
            // flag still set and skips its write, but its wake is already queued and the loop
            // drains the queue after this wait.
            //
            // Discussion: the waker stores `pending` then swaps `notified`; the loop clears
            // `notified` here then loads `pending`. That is the store-buffering pattern: with
            // Release/Relaxed, each side may miss the other's store, the waker then skips its
            // write (the flag still looked set) and the loop sees no pending wake, so the next
            // wait blocks forever. All four accesses are SeqCst, so at least one side sees the
            // other: either the loop finds `pending` set, or the waker finds the flag clear and
            // writes the eventfd.
            let mut buf = [0u8; 8];
            let _ = rustix::io::read(&self.notifier, &mut buf);
            self.notified.swap(false, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// The part of a kernel that other threads may touch: the poller (to interrupt a wait) and a
/// queue of woken tasks.
pub(crate) struct Remote {
    /// How many owned task wakers exist (see `waker.rs`).
    pub(crate) owned_wakers: AtomicUsize,
    poller: Poller,
    queue: Mutex<Vec<(u32, u64)>>,
    pending: AtomicBool,
    kernel_id: u64,
}

impl Remote {
    pub(crate) fn new(kernel_id: u64) -> io::Result<Remote> {
        Ok(Remote {
            owned_wakers: AtomicUsize::new(0),
            poller: Poller::new()?,
            queue: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            kernel_id,
        })
    }

    /// Wakes task `(index, seq)`; called by its `Waker`, from any thread.
    pub(crate) fn wake(&self, index: u32, seq: u64) {
        // Discussion: on the kernel's own thread, between polls of tasks (the usual case: one
        // task completes a channel another waits on), the kernel is reachable and the task goes
        // straight to the ready queue. Anywhere else the wake is queued and the poller notified,
        // which interrupts a blocking wait; `polling` coalesces repeated notifications.
        if with_kernel_id(self.kernel_id, |k| k.wake_slot(index, seq)).is_some() {
            return;
        }
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((index, seq));
        self.pending.store(true, Ordering::SeqCst);
        self.poller.notify();
    }

    /// Whether wakes are queued.
    pub(crate) fn has_wakes(&self) -> bool {
        self.pending.load(Ordering::SeqCst)
    }

    /// Takes the queued wakes, if any.
    pub(crate) fn take_wakes(&self, into: &mut Vec<(u32, u64)>) {
        // SeqCst, not Relaxed: see the discussion in `Poller::wait`.
        if self.pending.load(Ordering::SeqCst) && self.pending.swap(false, Ordering::SeqCst) {
            into.append(&mut self.queue.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    pub(crate) fn poller(&self) -> &Poller {
        &self.poller
    }
}

/// A registered descriptor, named by slot and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IoKey {
    index: u32,
    generation: u32,
}

impl IoKey {
    fn to_u64(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    fn from_u64(key: u64) -> IoKey {
        IoKey {
            index: key as u32,
            generation: (key >> 32) as u32,
        }
    }
}

/// Read or write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Read = 0,
    Write = 1,
}

struct IoEntry {
    generation: u32,
    fd: RawFd,
    live: bool,
    temporary: bool,
    ready: [bool; 2],
    /// Sticky readiness: the peer closed (EOF, hang-up or error). Never cleared, because no
    /// further edge will announce it: a read that returned data before the EOF must not make
    /// the next read wait.
    closed: [bool; 2],
    waiter: [Option<TaskId>; 2],
}

/// The registered descriptors and the events buffer.
pub(crate) struct Reactor {
    events: Vec<epoll::Event>,
    entries: Vec<IoEntry>,
    free: Vec<u32>,
    by_fd: HashMap<RawFd, u32>,
    waiting: usize,
}

impl Reactor {
    pub(crate) fn new() -> Reactor {
        Reactor {
            events: Vec::with_capacity(1024),
            entries: Vec::new(),
            free: Vec::new(),
            by_fd: HashMap::new(),
            waiting: 0,
        }
    }

    /// How many tasks wait for readiness.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }

    fn entry(&self, key: IoKey) -> Option<&IoEntry> {
        self.entries
            .get(key.index as usize)
            .filter(|e| e.live && e.generation == key.generation)
    }

    fn entry_mut(&mut self, key: IoKey) -> Option<&mut IoEntry> {
        self.entries
            .get_mut(key.index as usize)
            .filter(|e| e.live && e.generation == key.generation)
    }

    /// The registration of `fd`, if the kernel has one.
    pub(crate) fn lookup(&self, fd: RawFd) -> Option<IoKey> {
        let index = *self.by_fd.get(&fd)?;
        let e = &self.entries[index as usize];
        Some(IoKey {
            index,
            generation: e.generation,
        })
    }

    /// Adds `fd` to the poller, edge-triggered, for both directions.
    pub(crate) fn register(
        &mut self,
        poller: &Poller,
        fd: BorrowedFd<'_>,
        temporary: bool,
    ) -> io::Result<IoKey> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push(IoEntry {
                    generation: 0,
                    fd: -1,
                    live: false,
                    temporary: false,
                    ready: [false; 2],
                    closed: [false; 2],
                    waiter: [None; 2],
                });
                u32::try_from(self.entries.len() - 1)
                    .map_err(|_| io::Error::other("too many registered descriptors"))?
            }
        };
        let entry = &mut self.entries[index as usize];
        let key = IoKey {
            index,
            generation: entry.generation,
        };
        // Discussion: epoll forgets a descriptor when it is closed, but a reused descriptor
        // number must not inherit a registration, so every registration is still removed
        // before its descriptor closes: the kernel's sockets deregister in their `Drop`, and a
        // temporary registration is removed when its call completes or is dropped.
        let added = poller.add(fd, key.to_u64());
        if let Err(e) = added {
            self.free.push(index);
            return Err(e);
        }
        entry.fd = fd.as_raw_fd();
        entry.live = true;
        entry.temporary = temporary;
        entry.ready = [false; 2];
        entry.closed = [false; 2];
        entry.waiter = [None; 2];
        self.by_fd.insert(fd.as_raw_fd(), index);
        Ok(key)
    }

    /// Removes a registration; gives back the tasks that were still waiting on it.
    pub(crate) fn deregister(
        &mut self,
        poller: &Poller,
        key: IoKey,
        fd: BorrowedFd<'_>,
    ) -> [Option<TaskId>; 2] {
        let Some(entry) = self.entry_mut(key) else {
            return [None; 2];
        };
        let _ = poller.delete(fd);
        entry.live = false;
        entry.generation = entry.generation.wrapping_add(1);
        let waiters = std::mem::take(&mut entry.waiter);
        let fd = entry.fd;
        self.waiting -= waiters.iter().flatten().count();
        self.by_fd.remove(&fd);
        self.free.push(key.index);
        waiters
    }

    /// Whether `key` is a temporary registration with no waiter left.
    pub(crate) fn is_idle_temporary(&self, key: IoKey) -> bool {
        self.entry(key)
            .is_some_and(|e| e.temporary && e.waiter.iter().all(Option::is_none))
    }

    /// Whether `key` is known ready in `dir` (an event came since the last `clear_ready`).
    pub(crate) fn is_ready(&self, key: IoKey, dir: Dir) -> bool {
        self.entry(key)
            .is_some_and(|e| e.ready[dir as usize] || e.closed[dir as usize])
    }

    /// Forgets that `key` was ready in `dir` (the owner saw `WouldBlock`).
    pub(crate) fn clear_ready(&mut self, key: IoKey, dir: Dir) {
        if let Some(e) = self.entry_mut(key) {
            e.ready[dir as usize] = false;
        }
    }

    /// Readiness check for `task`: ready, busy (another live task waits), or now waiting.
    pub(crate) fn poll_ready(
        &mut self,
        key: IoKey,
        dir: Dir,
        task: TaskId,
        holder_alive: bool,
    ) -> Result<bool, io::Error> {
        let Some(e) = self.entry_mut(key) else {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "descriptor is no longer registered with the kernel",
            ));
        };
        let d = dir as usize;
        if e.ready[d] || e.closed[d] {
            if e.waiter[d] == Some(task) {
                e.waiter[d] = None;
                self.waiting -= 1;
            }
            return Ok(true);
        }
        match e.waiter[d] {
            Some(t) if t == task => {}
            Some(holder) if holder_alive => {
                return Err(ResourceBusy {
                    fd: e.fd,
                    holder,
                    writing: dir == Dir::Write,
                }
                .into());
            }
            Some(_) => e.waiter[d] = Some(task),
            None => {
                e.waiter[d] = Some(task);
                self.waiting += 1;
            }
        }
        Ok(false)
    }

    /// The task waiting on `key` in `dir`, if any.
    pub(crate) fn holder(&self, key: IoKey, dir: Dir) -> Option<TaskId> {
        self.entry(key).and_then(|e| e.waiter[dir as usize])
    }

    /// Stops `task` waiting on `key` in `dir`.
    pub(crate) fn cancel_wait(&mut self, key: IoKey, dir: Dir, task: TaskId) {
        if let Some(e) = self.entry_mut(key)
            && e.waiter[dir as usize] == Some(task)
        {
            e.waiter[dir as usize] = None;
            self.waiting -= 1;
        }
    }

    /// The raw descriptor of a registration.
    pub(crate) fn fd(&self, key: IoKey) -> Option<RawFd> {
        self.entry(key).map(|e| e.fd)
    }

    /// Waits for events (at most `timeout`), marks readiness and collects the tasks to wake.
    pub(crate) fn wait(
        &mut self,
        poller: &Poller,
        timeout: Option<Duration>,
        wake: &mut Vec<TaskId>,
    ) -> io::Result<()> {
        poller.wait(&mut self.events, timeout)?;
        for ev in self.events.iter() {
            let (data, flags) = (ev.data, ev.flags);
            let key = data.u64();
            if key == NOTIFY_KEY {
                continue;
            }
            let key = IoKey::from_u64(key);
            let Some(e) = self
                .entries
                .get_mut(key.index as usize)
                .filter(|e| e.live && e.generation == key.generation)
            else {
                continue;
            };
            let readable = flags.intersects(
                EventFlags::IN
                    | EventFlags::PRI
                    | EventFlags::HUP
                    | EventFlags::RDHUP
                    | EventFlags::ERR,
            );
            let writable = flags.intersects(EventFlags::OUT | EventFlags::HUP | EventFlags::ERR);
            if flags.intersects(EventFlags::RDHUP | EventFlags::HUP | EventFlags::ERR) {
                e.closed[0] = true;
            }
            if flags.intersects(EventFlags::HUP | EventFlags::ERR) {
                e.closed[1] = true;
            }
            for (d, on) in [(0, readable), (1, writable)] {
                if on {
                    e.ready[d] = true;
                    if let Some(t) = e.waiter[d].take() {
                        self.waiting -= 1;
                        wake.push(t);
                    }
                }
            }
        }
        Ok(())
    }
}
