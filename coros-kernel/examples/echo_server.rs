//! An echo server on the kernel, Beazley's pyos8 in spirit: one task per client.
//!
//! Run it with `cargo run --release -p coros-kernel --example echo_server` (add
//! `-- --addr HOST:PORT` to listen elsewhere than 127.0.0.1:7878), then poke it with
//! `nc 127.0.0.1 7878`: each line comes back. The load generator in the bench crate drives it
//! too: `cargo run --release -p coros-bench --bin echo_load`.
//!
//! Options: `--idle-timeout SECS` closes a connection that sends nothing for that long (off
//! by default). Ctrl-C (SIGINT) or SIGTERM stops the server cleanly: the accept loop and every
//! connection task are killed, so their destructors run and their sockets close, and the
//! process exits 0.
//!
//! Each connection owns one fixed 16 KiB buffer and echoes what it reads before reading more,
//! so a client that sends without reading back stalls its own connection (TCP flow control
//! pushes back) instead of growing the server's memory. EOF, resets and half-closed sockets end
//! the connection's task cleanly; running out of descriptors makes the accept loop back off.

use std::cell::RefCell;
use std::io::{self, ErrorKind};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use coros_kernel::{
    JoinHandle, Kernel, TcpListener, TcpStream, kill, readable, sleep, spawn, timeout,
};
use futures::future::{Either, select};

const BUF: usize = 16 * 1024;

/// The connection tasks alive, so that a shutdown can kill them.
type Connections = Rc<RefCell<Vec<JoinHandle<()>>>>;

async fn serve(conn: TcpStream, idle: Option<Duration>) -> io::Result<()> {
    let mut buf = vec![0u8; BUF];
    loop {
        let received = match idle {
            Some(limit) => match timeout(limit, conn.recv(&mut buf)).await {
                Ok(received) => received,
                // Idle for too long: close, as if the client had gone.
                Err(_) => break,
            },
            None => conn.recv(&mut buf).await,
        };
        let n = match received {
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
    // The client half-closed (or idled out): everything it sent has been echoed; close our
    // side too.
    match conn.shutdown(Shutdown::Write) {
        Err(e) if e.kind() != ErrorKind::NotConnected => Err(e),
        _ => Ok(()),
    }
}

/// Accepts connections for ever, one task each, with no idle limit.
#[allow(
    dead_code,
    reason = "the tour's entry point; this example's main adds signals"
)]
pub(crate) async fn accept_loop(listener: TcpListener) -> io::Result<()> {
    accept_loop_with(listener, None, Connections::default()).await
}

async fn accept_loop_with(
    listener: TcpListener,
    idle: Option<Duration>,
    connections: Connections,
) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((conn, _peer)) => {
                conn.set_nodelay(true)?;
                let task = spawn(async move {
                    if let Err(e) = serve(conn, idle).await {
                        eprintln!("connection error: {e}");
                    }
                })
                .await?;
                let mut alive = connections.borrow_mut();
                alive.retain(|task| !task.is_finished());
                alive.push(task);
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

/// Serves until SIGINT or SIGTERM arrives on `signals`, then kills the accept loop and every
/// connection task: their destructors run and their sockets close.
async fn serve_until_signalled(
    listener: TcpListener,
    idle: Option<Duration>,
    signals: UnixStream,
) -> io::Result<()> {
    let connections = Connections::default();
    let server = spawn(accept_loop_with(listener, idle, connections.clone())).await?;
    let server_id = server.id();
    let signalled = readable(signals.as_fd());
    match select(pin!(server), pin!(signalled)).await {
        // The accept loop ended by itself: an error it could not go on after.
        Either::Left((ended, _)) => return ended.map_err(io::Error::other)?,
        Either::Right((ready, _)) => ready??,
    }
    println!("shutting down");
    kill(server_id).await?.map_err(io::Error::other)?;
    let alive: Vec<_> = connections.borrow_mut().drain(..).collect();
    for task in alive {
        if !task.is_finished() {
            // A task that ended meanwhile answers with a typed error; nothing to do then.
            let _ = kill(task.id()).await?;
        }
    }
    Ok(())
}

struct Args {
    addr: String,
    idle: Option<Duration>,
}

fn parse_args() -> Result<Args, String> {
    let mut parsed = Args {
        addr: "127.0.0.1:7878".to_owned(),
        idle: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => parsed.addr = args.next().ok_or("--addr needs HOST:PORT")?,
            "--idle-timeout" => {
                let secs: f64 = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or("--idle-timeout needs a positive number of seconds")?;
                parsed.idle = Some(Duration::from_secs_f64(secs));
            }
            "-h" | "--help" => {
                return Err(
                    "usage: echo_server [--addr HOST:PORT] [--idle-timeout SECS]".to_owned(),
                );
            }
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    Ok(parsed)
}

#[allow(
    dead_code,
    reason = "the tour includes this file for its accept loop only"
)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let listener = TcpListener::bind(&args.addr)?;
    // Signals arrive as bytes on a socket pair, which a kernel task can wait on like any
    // descriptor.
    let (signals, notify) = UnixStream::pair()?;
    signals.set_nonblocking(true)?;
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::low_level::pipe::register(signal, notify.try_clone()?)?;
    }
    println!("echo server listening on {}", listener.local_addr()?);
    Kernel::new()?.block_on(serve_until_signalled(listener, args.idle, signals))??;
    Ok(())
}
