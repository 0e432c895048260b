//! Helpers shared by the tests: drop counters.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

use std::cell::Cell;
use std::rc::Rc;

/// Counts how many times its guards were dropped.
#[derive(Clone, Default)]
pub(crate) struct Drops(Rc<Cell<usize>>);

impl Drops {
    pub(crate) fn new() -> Drops {
        Drops::default()
    }

    pub(crate) fn guard(&self) -> DropGuard {
        DropGuard(self.0.clone())
    }

    pub(crate) fn count(&self) -> usize {
        self.0.get()
    }
}

pub(crate) struct DropGuard(Rc<Cell<usize>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// The path of an example binary, which `cargo test` builds next to the test binaries.
pub(crate) fn example_path(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    profile_dir.join("examples").join(name)
}
