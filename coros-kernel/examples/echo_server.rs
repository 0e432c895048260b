//! An echo server on the kernel, Beazley's pyos8 in spirit: one task per client.
//!
//! Run it with `cargo run --release -p coros-kernel --example echo_server` (add
//! `-- --addr HOST:PORT` to listen elsewhere than 127.0.0.1:7878), then poke it with
//! `nc 127.0.0.1 7878`: each line comes back. The load generator in the bench crate drives it
//! too: `cargo run --release -p coros-bench --bin echo_load`.
//!
//! Each connection owns one fixed 16 KiB buffer and echoes what it reads before reading more,
//! so a client that sends without reading back stalls its own connection (TCP flow control
//! pushes back) instead of growing the server's memory. EOF, resets and half-closed sockets end
//! the connection's task cleanly; running out of descriptors makes the accept loop back off.

use std::io::{self, ErrorKind};
use std::net::Shutdown;
use std::time::Duration;

use coros_kernel::{Kernel, TcpListener, TcpStream, sleep, spawn};

const BUF: usize = 16 * 1024;

async fn serve(conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match conn.recv(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        };
        match conn.send_all(&buf[..n]).await {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    // The client half-closed: everything it sent has been echoed; close our side too.
    match conn.shutdown(Shutdown::Write) {
        Err(e) if e.kind() != ErrorKind::NotConnected => Err(e),
        _ => Ok(()),
    }
}

pub(crate) async fn accept_loop(listener: TcpListener) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((conn, _peer)) => {
                conn.set_nodelay(true)?;
                spawn(async move {
                    if let Err(e) = serve(conn).await {
                        eprintln!("connection error: {e}");
                    }
                })
                .await?
                .detach();
            }
            // EMFILE / ENFILE: the connection stays queued; wait for descriptors to free up.
            Err(e) if matches!(e.raw_os_error(), Some(23 | 24)) => {
                eprintln!("accept: {e}; backing off");
                sleep(Duration::from_millis(100)).await?;
            }
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
            Err(e) => return Err(e),
        }
    }
}

fn parse_addr() -> Result<String, String> {
    let mut addr = "127.0.0.1:7878".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            "-h" | "--help" => {
                return Err("usage: echo_server [--addr HOST:PORT]".to_owned());
            }
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    Ok(addr)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = parse_addr()?;
    let listener = TcpListener::bind(&addr)?;
    println!("echo server listening on {}", listener.local_addr()?);
    Kernel::new()?.block_on(accept_loop(listener))??;
    Ok(())
}
