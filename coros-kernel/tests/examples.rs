//! The examples print what their docs say (`cargo test` builds them next to the tests).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The ```text block of the example's `//!` docs.
fn documented_output(source: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in source.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            break;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        match (inside, doc) {
            (false, "```text") => inside = true,
            (true, "```") => break,
            (true, l) => {
                out.push_str(l);
                out.push('\n');
            }
            _ => {}
        }
    }
    out
}

fn run(name: &str) -> String {
    let bin = support::example_path(name);
    let out = Command::new(&bin)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(out.status.success(), "{name} failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[cfg_attr(miri, ignore)]
fn spawn_wait_prints_its_documented_transcript() {
    let doc = documented_output(include_str!("../examples/spawn_wait.rs"));
    assert!(!doc.is_empty());
    assert_eq!(run("spawn_wait"), doc);
}

#[test]
#[cfg_attr(miri, ignore)]
fn kill_loop_prints_its_documented_transcript() {
    let doc = documented_output(include_str!("../examples/kill_loop.rs"));
    assert!(!doc.is_empty());
    assert_eq!(run("kill_loop"), doc);
}

#[test]
#[cfg_attr(miri, ignore)]
fn sleeping_ticker_ticks_five_times_while_the_busy_task_runs() {
    let out = run("sleeping_ticker");
    let ticks = out.lines().filter(|l| l.starts_with("tick ")).count();
    assert_eq!(ticks, 5, "{out}");
    let last = out.lines().last().unwrap();
    let rounds: u64 = last
        .strip_prefix("busy task made ")
        .and_then(|r| r.strip_suffix(" rounds"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(rounds > 5, "{out}");
}

#[test]
#[cfg_attr(miri, ignore)]
fn echo_server_says_where_it_listens_and_echoes() {
    let mut child = Command::new(support::example_path("echo_server"))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("echo server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();
    let result = std::panic::catch_unwind(|| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"hello\n").unwrap();
        let mut buf = [0u8; 6];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hello\n");
        // Half-close: the server echoes what is left, then closes its side.
        s.write_all(b"bye").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"bye");
    });
    child.kill().unwrap();
    child.wait().unwrap();
    result.unwrap();
}
