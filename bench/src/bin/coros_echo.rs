//! The coros-kernel echo server for the load generator: the same server as the
//! `coros-kernel` example `echo_server`, built here so that `echo_load` finds it next to itself.
//!
//! `cargo run --release -p coros-bench --bin coros_echo -- [--addr HOST:PORT]`

use std::io::{self, ErrorKind};
use std::net::Shutdown;
use std::time::Duration;

use coros_kernel::{Kernel, TcpListener, TcpStream, sleep, spawn};

async fn serve(conn: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match conn.recv(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        };
        if conn.send_all(&buf[..n]).await.is_err() {
            return Ok(());
        }
    }
    let _ = conn.shutdown(Shutdown::Write);
    Ok(())
}

async fn accept_loop(listener: TcpListener) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                conn.set_nodelay(true)?;
                spawn(async move {
                    let _ = serve(conn).await;
                })
                .await?
                .detach();
            }
            Err(e) if matches!(e.raw_os_error(), Some(23 | 24)) => {
                sleep(Duration::from_millis(100)).await?;
            }
            Err(e) => return Err(e),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = echo_addr();
    let listener = TcpListener::bind(&addr)?;
    println!("echo server listening on {}", listener.local_addr()?);
    Kernel::new()?.block_on(accept_loop(listener))??;
    Ok(())
}

fn echo_addr() -> String {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).cloned().unwrap_or_default(),
        None => "127.0.0.1:7878".to_owned(),
    }
}
