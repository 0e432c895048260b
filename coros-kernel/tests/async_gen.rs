//! Async generators (from `coros`) inside the kernel: their bodies sleep, do I/O and make
//! system calls, and their yields still go to whoever drives them.

use std::cell::RefCell;
use std::io;
use std::net::{Shutdown, SocketAddr};

use coros::{AsyncGenerator, Co, CoroutineState::*, Interrupt};
use coros_kernel::{JoinHandle, Kernel, TcpListener, TcpStream, spawn, tid};

#[path = "../examples/async_gen.rs"]
mod kernel_seed;
#[path = "../examples/agen_pipeline.rs"]
mod pipeline;

#[test]
#[cfg_attr(miri, ignore = "real timers and epoll")]
fn the_seeds_pep_525_program_prints_cpythons_transcript_on_the_kernel() {
    let (out, elapsed) = kernel_seed::run(Vec::new()).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        include_str!("../../coros/tests/python/async_gen.txt")
    );
    // Four sleeps of 0.1 s before the print: a lower bound, and a generous upper one.
    assert!((0.4..2.0).contains(&elapsed), "elapsed {elapsed}");
}

#[test]
fn system_calls_in_a_generator_body_reach_the_kernel() {
    let kernel = Kernel::new().unwrap();
    let (driver, seen) = kernel
        .block_on(async {
            let mut agen = AsyncGenerator::new(|co: Co<u64, u64>| async move {
                // `tid` tunnels through the generator to the task that drives it.
                let me = tid().await.map(|id| id.as_u64()).unwrap_or(0);
                let mut got = co.yield_(me).await.unwrap_or(0);
                coros_kernel::yield_now().await.unwrap();
                got += co.yield_(got).await.unwrap_or(0);
                got
            });
            let driver = tid().await.unwrap().as_u64();
            let mut seen = Vec::new();
            seen.push(agen.start().await.unwrap());
            seen.push(agen.asend(5).await.unwrap());
            seen.push(agen.asend(6).await.unwrap());
            (driver, seen)
        })
        .unwrap();
    assert_eq!(seen, [Yielded(driver), Yielded(5), Complete(11)]);
}

#[test]
fn a_generator_driven_by_one_task_can_be_thrown_into_and_closed_while_it_sleeps() {
    let kernel = Kernel::new().unwrap();
    let log = kernel
        .block_on(async {
            let log = RefCell::new(Vec::new());
            let mut agen = AsyncGenerator::new(|co: Co<&str, (), &str>| {
                let log = &log;
                async move {
                    loop {
                        match co.yield_("tick").await {
                            Ok(()) => coros_kernel::sleep(std::time::Duration::from_millis(1))
                                .await
                                .unwrap(),
                            Err(Interrupt::Throw(why)) => log.borrow_mut().push(why),
                            Err(_) => {
                                coros_kernel::sleep(std::time::Duration::from_millis(1))
                                    .await
                                    .unwrap();
                                log.borrow_mut().push("closed after a sleep");
                                return;
                            }
                        }
                    }
                }
            });
            agen.start().await.unwrap();
            agen.asend(()).await.unwrap();
            assert_eq!(agen.athrow("oops").await.unwrap(), Yielded("tick"));
            assert_eq!(agen.aclose().await.unwrap(), Some(()));
            drop(agen);
            log.into_inner()
        })
        .unwrap();
    assert_eq!(log, ["oops", "closed after a sleep"]);
}

#[test]
#[cfg_attr(miri, ignore = "real sockets")]
fn the_tcp_pipeline_numbers_and_upper_cases_each_line() {
    let reply = pipeline::run("one\ntwo\nthree, no newline").unwrap();
    assert_eq!(reply, "1: ONE\n2: TWO\n3: THREE, NO NEWLINE\n");
}

/// Starts a task that accepts one connection on a free loopback port and serves it.
async fn pipeline_server() -> io::Result<(SocketAddr, JoinHandle<io::Result<usize>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = spawn(async move {
        let (stream, _) = listener.accept().await?;
        pipeline::serve(stream).await
    })
    .await
    .map_err(io::Error::other)?;
    Ok((addr, server))
}

/// Drives `serve` with a writer task and a reader task at once, so the transfer is larger
/// than every socket buffer on the way and only completes if each stage waits its turn.
#[test]
#[cfg_attr(miri, ignore = "real sockets")]
fn the_tcp_pipeline_streams_more_than_the_socket_buffers_hold() {
    const LINES: usize = 50_000;
    let kernel = Kernel::new().unwrap();
    let (served, reply_lines) = kernel
        .block_on(async move {
            let (addr, server) = pipeline_server().await?;
            let stream = std::rc::Rc::new(TcpStream::connect(addr)?);
            let writer_stream = stream.clone();
            let writer = spawn(async move {
                for i in 0..LINES {
                    writer_stream
                        .send_all(format!("line {i}\n").as_bytes())
                        .await?;
                }
                writer_stream.shutdown(Shutdown::Write)
            })
            .await
            .map_err(io::Error::other)?;
            let mut back = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                let n = stream.recv(&mut buf).await?;
                if n == 0 {
                    break;
                }
                back.extend_from_slice(&buf[..n]);
            }
            writer.await.map_err(io::Error::other)??;
            let served = server.await.map_err(io::Error::other)??;
            let text = String::from_utf8(back).map_err(io::Error::other)?;
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            Ok::<_, io::Error>((served, lines))
        })
        .unwrap()
        .unwrap();
    assert_eq!(served, LINES);
    assert_eq!(reply_lines.len(), LINES);
    assert_eq!(reply_lines[0], "1: LINE 0");
    assert_eq!(
        reply_lines[LINES - 1],
        format!("{LINES}: LINE {}", LINES - 1)
    );
}

#[test]
#[cfg_attr(miri, ignore = "real sockets")]
fn a_line_longer_than_the_limit_ends_the_connection_with_invalid_data() {
    let kernel = Kernel::new().unwrap();
    let result = kernel
        .block_on(async move {
            let (addr, server) = pipeline_server().await?;
            let stream = TcpStream::connect(addr)?;
            let writer = spawn(async move {
                let chunk = vec![b'x'; 8192];
                // Stops when the server gives up and closes: that is the point.
                for _ in 0..(pipeline::MAX_LINE / chunk.len() + 4) {
                    if stream.send_all(&chunk).await.is_err() {
                        break;
                    }
                }
            })
            .await
            .map_err(io::Error::other)?;
            let served = server.await.map_err(io::Error::other)?;
            writer.await.map_err(io::Error::other)?;
            Ok::<_, io::Error>(served)
        })
        .unwrap()
        .unwrap();
    let err = result.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}
