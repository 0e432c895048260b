//! Where `unsafe` may appear: the crate denies it, and only the modules that need it allow it,
//! each block under a `// SAFETY:` comment.

use std::fs;
use std::path::Path;

const ALLOWED: [&str; 3] = ["current.rs", "task.rs", "waker.rs"];

fn sources() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
#[cfg_attr(miri, ignore = "reads the crate's sources")]
fn the_crate_denies_unsafe_code_and_only_three_modules_allow_it() {
    let files = sources();
    let lib = &files.iter().find(|(n, _)| n == "lib.rs").unwrap().1;
    assert!(
        lib.contains("#![deny(unsafe_code)]"),
        "lib.rs denies unsafe code"
    );
    for (name, text) in &files {
        let flat: String = text.split_whitespace().collect();
        let allows = flat.contains("#![allow(unsafe_code,reason=")
            || flat.contains("#[allow(unsafe_code,reason=");
        let uses = text.contains("unsafe {") || text.contains("unsafe fn ");
        if uses {
            assert!(allows, "{name} uses unsafe code without allowing it");
        }
        if allows {
            assert!(
                ALLOWED.contains(&name.as_str()),
                "{name} allows unsafe code"
            );
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "reads the crate's sources")]
fn the_pin_projection_says_what_stops_a_future_dropping_itself() {
    let files = sources();
    let task = &files.iter().find(|(n, _)| n == "task.rs").unwrap().1;
    let safety =
        &task[task.find("// SAFETY: pinning").unwrap()..task.find("Pin::new_unchecked").unwrap()];
    assert!(safety.contains("`RefCell` borrow"), "{safety}");
}
