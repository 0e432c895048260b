//! The seed's Appendix A: the `pyos` example prints what CPython prints.

mod support;

use std::process::Command;

const EXPECTED: &str = include_str!("fixtures/pyos_appendix_a.out");

#[test]
#[cfg_attr(miri, ignore)]
fn pyos_example_prints_the_cpython_transcript() {
    let bin = support::example_path("pyos");
    let out = Command::new(&bin)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(out.status.success(), "pyos failed: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), EXPECTED);
}

#[test]
#[cfg_attr(miri, ignore)]
fn fixture_is_what_python3_prints() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pyos_appendix_a.py"
    );
    match Command::new("python3").arg(script).output() {
        Ok(out) => assert_eq!(String::from_utf8_lossy(&out.stdout), EXPECTED),
        Err(e) => eprintln!("SKIP: python3 not available ({e})"),
    }
}
