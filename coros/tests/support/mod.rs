//! Helpers shared by the integration tests: drop counters.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::cell::Cell;
use std::rc::Rc;

/// Counts how many times its guards were dropped.
#[derive(Debug, Clone, Default)]
pub(crate) struct DropCount(Rc<Cell<usize>>);

impl DropCount {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A guard that bumps the count once when dropped.
    pub(crate) fn guard(&self) -> Guard {
        Guard(self.0.clone())
    }

    pub(crate) fn get(&self) -> usize {
        self.0.get()
    }
}

#[derive(Debug)]
pub(crate) struct Guard(Rc<Cell<usize>>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}
