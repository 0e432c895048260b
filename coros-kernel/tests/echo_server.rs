//! The shipped echo server, run as a process: it echoes, closes idle connections after
//! `--idle-timeout`, and stops cleanly on SIGINT (its connections close, it exits 0).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// Waits for the child to exit, for at most `limit`.
fn wait_for(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
#[cfg_attr(miri, ignore = "runs a process with real sockets")]
fn the_echo_server_reaps_idle_clients_and_stops_cleanly_on_sigint() {
    let mut child = Command::new(support::example_path("echo_server"))
        .args(["--addr", "127.0.0.1:0", "--idle-timeout", "0.3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the echo_server example is built by cargo test");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("echo server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_owned();

    // A busy client is echoed.
    let mut busy = TcpStream::connect(&addr).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    busy.write_all(b"ping\n").unwrap();
    let mut echoed = [0u8; 5];
    busy.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"ping\n");

    // An idle client is closed once the timeout has passed, not before.
    let started = Instant::now();
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(idle.read(&mut byte).unwrap(), 0, "EOF from the server");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed too early"
    );

    // SIGINT: the server stops, closes the busy connection and exits 0.
    let pid = Pid::from_child(&child);
    kill_process(pid, Signal::INT).unwrap();
    let status = wait_for(&mut child, Duration::from_secs(10));
    let status = status.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the server did not stop on SIGINT");
    });
    assert!(status.success(), "exit status {status:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(
        rest.contains("shutting down"),
        "stdout after start: {rest:?}"
    );
    assert_eq!(
        busy.read(&mut byte).unwrap(),
        0,
        "the busy connection was closed"
    );
}
