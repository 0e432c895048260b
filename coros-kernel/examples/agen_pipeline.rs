//! A pipeline of async generators over a real TCP connection on the coros kernel:
//! `lines(socket)` produces the lines a client sends, `numbered(lines)` transforms them, and
//! the consumer writes each result back. Every stage pulls from the one before only when it
//! needs the next item (`anext`), so the pipeline holds at most one line per stage: a client
//! that stops reading stops the server reading too (back-pressure), and memory stays bounded.
//!
//! Run: `cargo run -p coros-kernel --example agen_pipeline` (a built-in client sends a few
//! lines and prints what comes back), or `cargo run -p coros-kernel --example agen_pipeline --
//! --serve 127.0.0.1:7879` and poke it with `nc 127.0.0.1 7879`.

use std::future::Future;
use std::io;
use std::net::Shutdown;

use coros::{AsyncGenerator, Co, CoroutineState};
use coros_kernel::{Kernel, TcpListener, TcpStream, spawn};

/// The longest line accepted; a longer one ends the connection with `InvalidData`, so one
/// client cannot make the server buffer without bound.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// Produces each line (without its newline) that arrives on `stream`, reading the socket only
/// when the consumer asks for the next line; returns at EOF, or with the socket's error.
pub(crate) fn lines(
    stream: &TcpStream,
) -> AsyncGenerator<String, (), std::convert::Infallible, impl Future<Output = io::Result<()>> + '_>
{
    AsyncGenerator::new(move |co: Co<String>| async move {
        let mut pending = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line[..end]).into_owned();
                if co.yield_(text).await.is_err() {
                    return Ok(());
                }
            }
            if pending.len() > MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            let n = stream.recv(&mut chunk).await?;
            if n == 0 {
                if !pending.is_empty() {
                    let text = String::from_utf8_lossy(&pending).into_owned();
                    pending.clear();
                    let _ = co.yield_(text).await;
                }
                return Ok(());
            }
            pending.extend_from_slice(&chunk[..n]);
        }
    })
}

/// Transforms: numbers each line and upper-cases it, pulling from `source` one at a time.
pub(crate) fn numbered<S>(
    mut source: AsyncGenerator<String, (), std::convert::Infallible, S>,
) -> AsyncGenerator<String, (), std::convert::Infallible, impl Future<Output = io::Result<()>>>
where
    S: Future<Output = io::Result<()>>,
{
    AsyncGenerator::new(move |co: Co<String>| async move {
        let mut n = 0;
        loop {
            match source.anext().await.map_err(io::Error::other)? {
                CoroutineState::Yielded(line) => {
                    n += 1;
                    if co
                        .yield_(format!("{n}: {}", line.to_uppercase()))
                        .await
                        .is_err()
                    {
                        return Ok(());
                    }
                }
                CoroutineState::Complete(result) => return result,
            }
        }
    })
}

/// Serves one connection: lines -> numbered -> written back. Returns how many lines it sent.
pub(crate) async fn serve(stream: TcpStream) -> io::Result<usize> {
    let mut results = numbered(lines(&stream));
    let mut sent = 0;
    loop {
        match results.anext().await.map_err(io::Error::other)? {
            CoroutineState::Yielded(mut line) => {
                line.push('\n');
                stream.send_all(line.as_bytes()).await?;
                sent += 1;
            }
            CoroutineState::Complete(result) => {
                result?;
                stream.shutdown(Shutdown::Write)?;
                return Ok(sent);
            }
        }
    }
}

/// Sends `input` from a client on the same kernel and returns what came back.
pub(crate) async fn client(addr: std::net::SocketAddr, input: &str) -> io::Result<String> {
    let stream = TcpStream::connect(addr)?;
    stream.send_all(input.as_bytes()).await?;
    stream.shutdown(Shutdown::Write)?;
    let mut back = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.recv(&mut buf).await?;
        if n == 0 {
            return String::from_utf8(back).map_err(io::Error::other);
        }
        back.extend_from_slice(&buf[..n]);
    }
}

/// Runs one server connection and the built-in client on a new kernel; returns the reply.
pub(crate) fn run(input: &'static str) -> io::Result<String> {
    let kernel = Kernel::new()?;
    kernel
        .block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?;
            let server = spawn(async move {
                let (stream, _) = listener.accept().await?;
                serve(stream).await
            })
            .await
            .map_err(io::Error::other)?;
            let reply = client(addr, input).await?;
            server.await.map_err(io::Error::other)??;
            Ok(reply)
        })
        .map_err(io::Error::other)?
}

#[allow(dead_code, reason = "tests include this file for `run` only")]
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, addr] = args.as_slice()
        && flag == "--serve"
    {
        let listener = TcpListener::bind(addr.as_str())?;
        println!("agen_pipeline listening on {}", listener.local_addr()?);
        let kernel = Kernel::new()?;
        return kernel
            .block_on(async move {
                loop {
                    let (stream, peer) = listener.accept().await?;
                    spawn(async move {
                        if let Err(err) = serve(stream).await {
                            eprintln!("{peer}: {err}");
                        }
                    })
                    .await
                    .map_err(io::Error::other)?
                    .detach();
                }
            })
            .map_err(io::Error::other)?;
    }
    print!("{}", run("async generators\nall the way down\nover tcp\n")?);
    Ok(())
}
