//! Timers: a map from deadline to the task to wake.
//!
//! Discussion: a `BTreeMap` keyed by `(deadline, serial)` gives exact cancellation (a sleep that
//! is dropped, by a timeout or a kill, removes its own entry), so a fired timer never wakes a task
//! for a reason it no longer has. Entries also carry the task's seq, so a timer left behind by a
//! task that ended (its cancellation could not reach the kernel) wakes no one.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::task::TaskId;

/// A timer registered with [`Kernel::add_timer`](crate::Kernel::add_timer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    deadline: Instant,
    serial: u64,
}

impl TimerId {
    /// When the timer fires.
    pub fn deadline(self) -> Instant {
        self.deadline
    }
}

pub(crate) struct Timers {
    map: BTreeMap<TimerId, TaskId>,
    serial: u64,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            map: BTreeMap::new(),
            serial: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn insert(&mut self, deadline: Instant, task: TaskId) -> TimerId {
        self.serial += 1;
        let id = TimerId {
            deadline,
            serial: self.serial,
        };
        self.map.insert(id, task);
        id
    }

    pub(crate) fn remove(&mut self, id: TimerId) -> bool {
        self.map.remove(&id).is_some()
    }

    pub(crate) fn contains(&self, id: TimerId) -> bool {
        self.map.contains_key(&id)
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.map.first_key_value().map(|(k, _)| k.deadline)
    }

    /// Removes every timer due at `now`, pushing its task onto `wake`.
    pub(crate) fn fire(&mut self, now: Instant, wake: &mut Vec<TaskId>) {
        while let Some(entry) = self.map.first_entry() {
            if entry.key().deadline > now {
                break;
            }
            wake.push(entry.remove());
        }
    }
}
