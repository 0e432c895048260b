//! The main demo: every example of the project in turn — layers 1 and 3 (`coros`), then the
//! kernel (pyos's steps, async generators on the kernel, a TCP pipeline, the echo server).
//!
//! Run: `cargo run -p coros-kernel --example tour`.

// The tour gathers examples that each stand alone, and two of them include the same seed
// program; each copy is used by its own example.
#![allow(
    clippy::duplicate_mod,
    reason = "each included example keeps its own copy"
)]

use std::io::{self, BufRead, BufReader, Write};
use std::net::Shutdown;
use std::time::Duration;

use coros_kernel::{Kernel, TcpListener, kill, spawn};

#[path = "../../coros/examples/tour.rs"]
#[allow(dead_code, reason = "only its `main` is used here")]
mod layers_1_and_3;

#[path = "agen_pipeline.rs"]
#[allow(dead_code, reason = "only its `run` is used here")]
mod agen_pipeline;
#[path = "async_gen.rs"]
#[allow(dead_code, reason = "only its `run` is used here")]
mod async_gen;
#[path = "echo_server.rs"]
#[allow(dead_code, reason = "only its accept loop is used here")]
mod echo_server;
#[path = "kill_loop.rs"]
mod kill_loop;
#[path = "pyos.rs"]
mod pyos;
#[path = "sleeping_ticker.rs"]
mod sleeping_ticker;
#[path = "spawn_wait.rs"]
mod spawn_wait;

fn heading(title: &str) {
    println!("\n== {title}");
}

/// Starts the echo server on a free port inside a kernel task, sends it a few lines from a
/// plain blocking client on another thread, prints what comes back, and stops the server.
fn echo_demo() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("echo server listening on {addr}");
    let client = std::thread::spawn(move || -> io::Result<Vec<String>> {
        let mut stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(b"hello\nfrom a client\n")?;
        stream.shutdown(Shutdown::Write)?;
        BufReader::new(stream).lines().collect()
    });
    Kernel::new()?.block_on(async move {
        let server = spawn(echo_server::accept_loop(listener)).await?;
        // Let the server run until the client is done, then stop it as pyos's KillTask would.
        while !client.is_finished() {
            coros_kernel::sleep(Duration::from_millis(5)).await?;
        }
        kill(server.id()).await?.map_err(io::Error::other)?;
        for line in client.join().map_err(|_| "the client panicked")?? {
            println!("echoed: {line}");
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })??;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    layers_1_and_3::main()?;

    heading("pyos: the seed's Appendix A, line for line");
    pyos::main()?;
    heading("spawn_wait: a child task and waiting for its value");
    spawn_wait::main()?;
    heading("kill_loop: killing a task that loops forever");
    kill_loop::main()?;
    heading("sleeping_ticker: a sleeping ticker beside a busy task");
    sleeping_ticker::main()?;
    heading("async_gen on the kernel: the same PEP 525 generator, kernel sleeps");
    let (out, _) = async_gen::run(Vec::new())?;
    print!("{}", String::from_utf8_lossy(&out));
    heading("agen_pipeline: async generators pulling lines over TCP");
    print!(
        "{}",
        agen_pipeline::run("async generators\nall the way down\n")?
    );
    heading("echo_server: one task per client");
    echo_demo()
}
