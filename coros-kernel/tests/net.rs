//! TCP on the kernel, over 127.0.0.1 only: echo, EOF, half-close, reset, busy readers, errors.

use std::io::{self, ErrorKind};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::Duration;

use coros_kernel::{
    Kernel, ResourceBusy, TcpListener, TcpStream, kill, readable, sleep, spawn, timeout, yield_now,
};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

async fn echo(conn: TcpStream) -> io::Result<u64> {
    let mut buf = [0u8; 1024];
    let mut total = 0;
    loop {
        let n = conn.recv(&mut buf).await?;
        if n == 0 {
            conn.shutdown(Shutdown::Write)?;
            return Ok(total);
        }
        total += n as u64;
        conn.send_all(&buf[..n]).await?;
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn echo_round_trips_and_half_close_between_two_tasks() {
    let got: BoxResult<(Vec<u8>, u64)> = Kernel::new()
        .unwrap()
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?;
            let server = spawn(async move {
                let (conn, _) = listener.accept().await?;
                echo(conn).await
            })
            .await?;
            let client = TcpStream::connect(addr)?;
            let mut back = Vec::new();
            let mut buf = [0u8; 64];
            for word in [&b"hello "[..], b"kernel"] {
                client.send_all(word).await?;
                let n = client.recv(&mut buf).await?;
                back.extend_from_slice(&buf[..n]);
            }
            // Half-close: we stop sending, the server sees EOF, replies with its own EOF.
            client.shutdown(Shutdown::Write)?;
            assert_eq!(client.recv(&mut buf).await?, 0);
            let total = server.await??;
            Ok((back, total))
        })
        .unwrap();
    let (back, total) = got.unwrap();
    assert_eq!(back, b"hello kernel");
    assert_eq!(total, 12);
}

#[test]
#[cfg_attr(miri, ignore)]
fn many_clients_at_once_each_get_their_own_echo() {
    let r: BoxResult<usize> = Kernel::new()
        .unwrap()
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?;
            spawn(async move {
                loop {
                    let Ok((conn, _)) = listener.accept().await else {
                        return;
                    };
                    spawn(echo(conn)).await.unwrap().detach();
                }
            })
            .await?
            .detach();
            let mut clients = Vec::new();
            for i in 0..20u8 {
                clients.push(
                    spawn(async move {
                        let c = TcpStream::connect_async(addr).await?;
                        let msg = [i; 100];
                        let mut got = Vec::new();
                        for _ in 0..10 {
                            c.send_all(&msg).await?;
                            let mut left = msg.len();
                            let mut buf = [0u8; 100];
                            while left > 0 {
                                let n = c.recv(&mut buf[..left]).await?;
                                assert!(n > 0);
                                got.extend_from_slice(&buf[..n]);
                                left -= n;
                            }
                        }
                        assert!(got.iter().all(|&b| b == i));
                        io::Result::Ok(got.len())
                    })
                    .await?,
                );
            }
            let mut total = 0;
            for c in clients {
                total += c.await??;
            }
            Ok(total)
        })
        .unwrap();
    assert_eq!(r.unwrap(), 20 * 10 * 100);
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_reset_connection_is_an_io_error_for_the_task_and_the_kernel_goes_on() {
    let r: BoxResult<(ErrorKind, &str)> = Kernel::new()
        .unwrap()
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?;
            let client = TcpStream::connect(addr)?;
            let (conn, _) = listener.accept().await?;
            conn.send_all(b"never read").await?;
            // Closing with unread data makes the client's side send a reset.
            drop(client);
            sleep(Duration::from_millis(5)).await?;
            let mut buf = [0u8; 16];
            let err = conn.recv(&mut buf).await.unwrap_err();
            let after = spawn(async { "the kernel goes on" }).await?.await?;
            Ok((err.kind(), after))
        })
        .unwrap();
    let (kind, after) = r.unwrap();
    assert_eq!(kind, ErrorKind::ConnectionReset);
    assert_eq!(after, "the kernel goes on");
}

#[test]
#[cfg_attr(miri, ignore)]
fn sending_to_a_closed_peer_is_a_broken_pipe_not_a_crash() {
    let r: BoxResult<ErrorKind> = Kernel::new()
        .unwrap()
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let client = TcpStream::connect(listener.local_addr()?)?;
            let (conn, _) = listener.accept().await?;
            drop(client);
            sleep(Duration::from_millis(5)).await?;
            let chunk = [0u8; 65536];
            loop {
                if let Err(e) = conn.send(&chunk).await {
                    return Ok(e.kind());
                }
            }
        })
        .unwrap();
    let kind = r.unwrap();
    assert!(
        matches!(kind, ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
        "{kind:?}"
    );
}

#[test]
#[cfg_attr(miri, ignore)]
fn two_tasks_reading_the_same_stream_get_resource_busy() {
    let r: BoxResult<io::Error> = Kernel::new()
        .unwrap()
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let client = TcpStream::connect(listener.local_addr()?)?;
            let (conn, _) = listener.accept().await?;
            let conn = Rc::new(conn);
            let first = {
                let conn = conn.clone();
                spawn(async move {
                    let mut buf = [0u8; 8];
                    conn.recv(&mut buf).await
                })
                .await?
            };
            yield_now().await?;
            let mut buf = [0u8; 8];
            let err = conn.recv(&mut buf).await.unwrap_err();
            // The first reader is unaffected and still gets the data.
            client.send_all(b"data").await?;
            assert_eq!(first.await??, 4);
            Ok(err)
        })
        .unwrap();
    let err = r.unwrap();
    assert_eq!(err.kind(), ErrorKind::ResourceBusy);
    let busy = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<ResourceBusy>())
        .unwrap();
    assert_eq!(busy.holder.as_u64(), 2);
    assert!(!busy.writing);
}

#[test]
#[cfg_attr(miri, ignore)]
fn readiness_calls_on_a_plain_descriptor_wake_and_report_busy() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let r: BoxResult<io::Error> = Kernel::new()
        .unwrap()
        .block_on(async {
            let (a, mut b) = UnixStream::pair()?;
            a.set_nonblocking(true)?;
            let a = Rc::new(a);
            let waiter = {
                let a = a.clone();
                spawn(async move { readable(a.as_fd()).await? }).await?
            };
            yield_now().await?;
            let busy = readable(a.as_fd()).await?.unwrap_err();
            b.write_all(b"x")?;
            waiter.await??;
            // Once the wait is over the descriptor is free again, and readable at once.
            readable(a.as_fd()).await??;
            Ok(busy)
        })
        .unwrap();
    assert_eq!(r.unwrap().kind(), ErrorKind::ResourceBusy);
}

#[test]
#[cfg_attr(miri, ignore)]
fn binding_an_address_in_use_is_an_io_error() {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = TcpListener::bind(first.local_addr().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
}

#[test]
#[cfg_attr(miri, ignore)]
fn killing_a_task_waiting_in_recv_closes_its_socket() {
    let r: BoxResult<usize> = Kernel::new()
        .unwrap()
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let client = TcpStream::connect(listener.local_addr()?)?;
            let (conn, _) = listener.accept().await?;
            let reader = spawn(async move {
                let mut buf = [0u8; 8];
                conn.recv(&mut buf).await
            })
            .await?;
            yield_now().await?;
            kill(reader.id()).await??;
            // The peer sees the socket closed: EOF.
            let mut buf = [0u8; 8];
            Ok(timeout(Duration::from_secs(10), client.recv(&mut buf)).await??)
        })
        .unwrap();
    assert_eq!(r.unwrap(), 0);
}

#[test]
#[cfg_attr(miri, ignore)]
fn run_returns_when_tasks_are_done_though_sockets_were_registered() {
    let mut k = Kernel::new().unwrap();
    k.spawn(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = spawn(async move {
            sleep(Duration::from_millis(2)).await.unwrap();
            TcpStream::connect(addr).unwrap()
        })
        .await
        .unwrap();
        let (_conn, _) = listener.accept().await.unwrap();
        let _c = client.await.unwrap();
    })
    .detach();
    k.run().unwrap();
}

#[test]
#[cfg_attr(miri, ignore)]
fn connecting_to_a_closed_port_is_an_io_error() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    let err = Kernel::new()
        .unwrap()
        .block_on(async move { TcpStream::connect_async(addr).await.unwrap_err() })
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
#[cfg_attr(miri, ignore)]
fn connect_async_lets_other_tasks_run_and_reaches_the_listener() {
    let r: BoxResult<Vec<u8>> = Kernel::new()
        .unwrap()
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?;
            let server = spawn(async move {
                let (conn, peer) = listener.accept().await?;
                conn.send_all(peer.ip().to_string().as_bytes()).await?;
                io::Result::Ok(())
            })
            .await?;
            let client = TcpStream::connect_async(addr).await?;
            assert_eq!(client.peer_addr()?, addr);
            let mut buf = [0u8; 9];
            let mut got = Vec::new();
            while got.len() < 9 {
                let n = client.recv(&mut buf).await?;
                got.extend_from_slice(&buf[..n]);
            }
            server.await??;
            Ok(got)
        })
        .unwrap();
    assert_eq!(r.unwrap(), b"127.0.0.1");
}

#[test]
#[cfg_attr(miri, ignore)]
fn socket_calls_outside_a_kernel_are_io_errors() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = futures::executor::block_on(listener.accept()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other);
    assert!(
        err.to_string()
            .contains("outside a running coros kernel task")
    );
}

#[test]
#[cfg_attr(miri, ignore)]
fn eof_arriving_with_the_last_data_is_seen_after_a_short_read() {
    let r: BoxResult<Vec<usize>> = Kernel::new()
        .unwrap()
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let client = TcpStream::connect(listener.local_addr()?)?;
            let (conn, _) = listener.accept().await?;
            // The reader waits first, so its socket is registered with the poller.
            let reader = spawn(async move {
                let mut buf = [0u8; 64];
                let mut sizes = Vec::new();
                for _ in 0..3 {
                    let n = timeout(Duration::from_secs(10), conn.recv(&mut buf)).await??;
                    sizes.push(n);
                    yield_now().await?;
                }
                BoxResult::Ok(sizes)
            })
            .await?;
            sleep(Duration::from_millis(5)).await?;
            client.send_all(b"a").await?;
            sleep(Duration::from_millis(5)).await?;
            // The last data and the EOF come in one edge.
            client.send_all(b"bc").await?;
            client.shutdown(Shutdown::Write)?;
            reader.await.map_err(|e| e.to_string())?
        })
        .unwrap();
    assert_eq!(r.unwrap(), [1, 2, 0]);
}

/// A user's system call: what a task waits for (the kernel's own introspection).
struct WaitingOf(coros_kernel::TaskId);

impl coros_kernel::SystemCall for WaitingOf {
    type Output = Option<coros_kernel::WaitingOn>;

    fn handle(
        &mut self,
        kernel: &mut Kernel,
        _task: coros_kernel::TaskId,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(kernel.waiting_on(self.0))
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_client_that_never_reads_stalls_its_echo_instead_of_growing_memory() {
    use std::io::Write;
    let r: BoxResult<(u64, Option<coros_kernel::WaitingOn>)> = Kernel::new()
        .unwrap()
        .block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
            client.set_nonblocking(true)?;
            let (conn, _) = listener.accept().await?;
            let server = spawn(echo(conn)).await?;
            // Send without ever reading back, until the connection stops taking data.
            let chunk = vec![0u8; 64 * 1024];
            let mut sent = 0u64;
            let mut stalled = 0;
            while stalled < 20 && sent < 1 << 30 {
                match client.write(&chunk) {
                    Ok(n) => {
                        sent += n as u64;
                        stalled = 0;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        stalled += 1;
                        sleep(Duration::from_millis(2)).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let waiting = coros_kernel::syscall(WaitingOf(server.id())).await?;
            Ok((sent, waiting))
        })
        .unwrap();
    let (sent, waiting) = r.unwrap();
    // The server holds one buffer and waits to write; the rest sits in the sockets' buffers,
    // which the OS bounds: far below the gigabyte the client was ready to send.
    assert!(
        matches!(waiting, Some(coros_kernel::WaitingOn::Writable(_))),
        "{waiting:?}"
    );
    assert!(sent < 256 << 20, "{sent} bytes accepted");
}
