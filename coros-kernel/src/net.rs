//! TCP on the kernel: a listener and a stream whose operations try the socket first and wait for
//! readiness only when it would block (curio's trick, and pyos8's `ReadWait`/`WriteWait`).
//!
//! Discussion: a socket registers with the kernel's poller lazily, the first time an operation
//! would block, and stays registered (edge-triggered) until it is dropped; dropping deregisters
//! before the descriptor closes, so a reused descriptor number never inherits a stale
//! registration. Errors of the socket (reset, broken pipe, too many open files) come back to the
//! task as `io::Error`s; the kernel itself never sees them.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::task::Poll;

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use crate::Kernel;
use crate::current::with_kernel_id;
use crate::poller::{Dir, IoKey, Remote};
use crate::syscall::{Call, SystemCall, io_poll};
use crate::task::TaskId;

/// A socket's registration with the kernel's poller, made on first need.
struct Registration {
    key: Cell<Option<(IoKey, u64)>>,
    remote: Cell<Option<Arc<Remote>>>,
}

impl Registration {
    fn new() -> Registration {
        Registration {
            key: Cell::new(None),
            remote: Cell::new(None),
        }
    }

    fn ensure(&self, kernel: &mut Kernel, fd: BorrowedFd<'_>) -> io::Result<IoKey> {
        if let Some((key, kid)) = self.key.get() {
            if kid == kernel.kernel_id() {
                return Ok(key);
            }
            return Err(io::Error::other("socket is registered with another kernel"));
        }
        let kid = kernel.kernel_id();
        let (reactor, remote) = kernel.reactor();
        let key = reactor.register(remote.poller(), fd, false)?;
        self.remote.set(Some(remote.clone()));
        self.key.set(Some((key, kid)));
        Ok(key)
    }

    /// Waits until the socket is ready in `dir`, after an operation reported `WouldBlock`.
    async fn wait(&self, fd: BorrowedFd<'_>, dir: Dir) -> io::Result<()> {
        Call::new(IoWait {
            reg: self,
            fd,
            dir,
            key: None,
            would_block: true,
        })
        .await?
    }

    /// Waits until the socket is ready in `dir`, without having tried it (see `drained`).
    async fn wait_untried(&self, fd: BorrowedFd<'_>, dir: Dir) -> io::Result<()> {
        Call::new(IoWait {
            reg: self,
            fd,
            dir,
            key: None,
            would_block: false,
        })
        .await?
    }

    /// Whether the socket is known to have nothing for `dir` since its last operation.
    fn drained(&self, dir: Dir) -> bool {
        let Some((key, kid)) = self.key.get() else {
            return false;
        };
        with_kernel_id(kid, |k| !k.reactor().0.is_ready(key, dir)).unwrap_or(false)
    }

    /// Records that an operation emptied the socket for `dir`.
    fn mark_drained(&self, dir: Dir) {
        if let Some((key, kid)) = self.key.get() {
            with_kernel_id(kid, |k| k.reactor().0.clear_ready(key, dir));
        }
    }

    fn deregister(&mut self, fd: BorrowedFd<'_>) {
        let Some((key, kid)) = self.key.take() else {
            return;
        };
        let remote = self.remote.take();
        let done = with_kernel_id(kid, |k| {
            let (reactor, remote) = k.reactor();
            reactor.deregister(remote.poller(), key, fd);
        });
        if done.is_none()
            && let Some(remote) = remote
        {
            // The kernel is out of reach (being torn down): still honour the poller's rule that a
            // descriptor leaves it before it closes.
            let _ = remote.poller().delete(fd);
        }
    }
}

/// The system call behind every socket wait.
struct IoWait<'a> {
    reg: &'a Registration,
    fd: BorrowedFd<'a>,
    dir: Dir,
    key: Option<IoKey>,
    would_block: bool,
}

impl SystemCall for IoWait<'_> {
    type Output = io::Result<()>;

    fn handle(&mut self, kernel: &mut Kernel, task: TaskId) -> Poll<io::Result<()>> {
        let key = match self.key {
            Some(k) => k,
            None => {
                let key = match self.reg.ensure(kernel, self.fd) {
                    Ok(k) => k,
                    Err(e) => return Poll::Ready(Err(e)),
                };
                if self.would_block {
                    // The operation just saw `WouldBlock`, and no event has been read since.
                    kernel.reactor().0.clear_ready(key, self.dir);
                }
                self.key = Some(key);
                key
            }
        };
        io_poll(kernel, key, self.dir, task)
    }

    fn cancel(&mut self, kernel: &mut Kernel, task: TaskId) {
        if let Some(key) = self.key {
            kernel.reactor().0.cancel_wait(key, self.dir, task);
        }
    }
}

fn retry(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// A TCP listener on the kernel.
///
/// # Examples
///
/// ```
/// use coros_kernel::{Kernel, TcpListener, TcpStream, spawn};
///
/// Kernel::new()?.block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     let client = spawn(async move {
///         let s = TcpStream::connect_async(addr).await?;
///         s.send_all(b"ping").await?;
///         let mut buf = [0; 4];
///         s.recv(&mut buf).await?;
///         std::io::Result::Ok(buf)
///     })
///     .await?;
///     let (conn, _) = listener.accept().await?;
///     let mut buf = [0; 4];
///     let n = conn.recv(&mut buf).await?;
///     conn.send_all(&buf[..n]).await?;
///     assert_eq!(&client.await??, b"ping");
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TcpListener {
    io: std::net::TcpListener,
    reg: Registration,
}

impl TcpListener {
    /// Binds a listener (non-blocking) to `addr`; works inside or outside a running kernel.
    ///
    /// # Errors
    ///
    /// The OS's error, such as [`io::ErrorKind::AddrInUse`].
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        TcpListener::from_std(std::net::TcpListener::bind(addr)?)
    }

    /// Wraps a std listener, switching it to non-blocking mode.
    ///
    /// # Errors
    ///
    /// When the socket cannot be made non-blocking.
    pub fn from_std(io: std::net::TcpListener) -> io::Result<TcpListener> {
        io.set_nonblocking(true)?;
        Ok(TcpListener {
            io,
            reg: Registration::new(),
        })
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// Accepts a connection, waiting for one if none is pending.
    ///
    /// # Errors
    ///
    /// The OS's error, returned to the task: with too many open files (`EMFILE`) the pending
    /// connection stays queued, so an accept loop backs off (sleeps) and tries again. Also a
    /// [`io::ErrorKind::ResourceBusy`] error when another task already accepts on this listener,
    /// and [`OutsideKernel`](crate::OutsideKernel) (as `io::Error`) outside a kernel task.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        loop {
            match self.io.accept() {
                Ok((s, addr)) => return Ok((TcpStream::from_std(s)?, addr)),
                Err(e) if retry(&e) => continue,
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
            self.reg.wait(self.io.as_fd(), Dir::Read).await?;
        }
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.io.as_raw_fd())
            .field("local_addr", &self.io.local_addr().ok())
            .finish()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        self.reg.deregister(self.io.as_fd());
    }
}

/// A TCP connection on the kernel.
///
/// Operations take `&self`; two tasks sharing a stream may read and write at once, but two tasks
/// waiting to read (or to write) get [`io::ErrorKind::ResourceBusy`] for the second.
pub struct TcpStream {
    io: std::net::TcpStream,
    reg: Registration,
}

impl TcpStream {
    /// Connects to `addr` with the OS's blocking connect: usable anywhere (also outside a
    /// kernel, from a plain thread), but inside a task it holds the kernel until the handshake
    /// is done, which is immediate on loopback and a round trip elsewhere; tasks should prefer
    /// [`connect_async`](Self::connect_async).
    ///
    /// # Errors
    ///
    /// The OS's error, such as [`io::ErrorKind::ConnectionRefused`].
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        TcpStream::from_std(std::net::TcpStream::connect(addr)?)
    }

    /// Connects to `addr`, trying each address it resolves to in turn; other tasks run while
    /// the handshake is in flight.
    ///
    /// Resolving a host name (`"example.com:80"`) is the OS's blocking lookup; pass a
    /// `SocketAddr` to avoid it.
    ///
    /// # Errors
    ///
    /// The OS's error for the last address tried, such as
    /// [`io::ErrorKind::ConnectionRefused`]; [`io::ErrorKind::InvalidInput`] when `addr`
    /// resolves to nothing; [`OutsideKernel`](crate::OutsideKernel) (as `io::Error`) when the
    /// handshake must be waited for outside a kernel task.
    pub async fn connect_async(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_one(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the address resolved to nothing",
            )
        }))
    }

    async fn connect_one(addr: SocketAddr) -> io::Result<TcpStream> {
        let family = match addr {
            SocketAddr::V4(_) => AddressFamily::INET,
            SocketAddr::V6(_) => AddressFamily::INET6,
        };
        let fd = rustix::net::socket_with(
            family,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        let in_progress = match rustix::net::connect(&fd, &addr) {
            Ok(()) => false,
            Err(Errno::INPROGRESS) => true,
            Err(e) => return Err(e.into()),
        };
        let stream = TcpStream::from_std(std::net::TcpStream::from(fd))?;
        if in_progress {
            // The handshake ends in write readiness; its outcome is the socket's error.
            stream.reg.wait(stream.io.as_fd(), Dir::Write).await?;
            rustix::net::sockopt::socket_error(&stream.io)??;
        }
        Ok(stream)
    }

    /// Wraps a std stream, switching it to non-blocking mode.
    ///
    /// # Errors
    ///
    /// When the socket cannot be made non-blocking.
    pub fn from_std(io: std::net::TcpStream) -> io::Result<TcpStream> {
        io.set_nonblocking(true)?;
        Ok(TcpStream {
            io,
            reg: Registration::new(),
        })
    }

    /// Receives into `buf`; `Ok(0)` means the peer closed its side (EOF).
    ///
    /// # Errors
    ///
    /// The OS's error ([`io::ErrorKind::ConnectionReset`], ...), a
    /// [`io::ErrorKind::ResourceBusy`] error when another task already waits to read this
    /// stream, and [`OutsideKernel`](crate::OutsideKernel) (as `io::Error`) outside a kernel task.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        if self.reg.drained(Dir::Read) {
            self.reg.wait_untried(self.io.as_fd(), Dir::Read).await?;
        }
        loop {
            match (&self.io).read(buf) {
                Ok(n) if n > 0 && n < buf.len() => {
                    // Discussion: a read that did not fill the buffer emptied the socket (a
                    // stream socket hands over all it has), so the next `recv` can wait for the
                    // next edge at once instead of trying a read that would fail: one system
                    // call less per message (tokio does the same). Data arriving after this read
                    // raises a new edge, so nothing is missed.
                    self.reg.mark_drained(Dir::Read);
                    return Ok(n);
                }
                Err(e) if retry(&e) => continue,
                Err(e) if would_block(&e) => {}
                r => return r,
            }
            self.reg.wait(self.io.as_fd(), Dir::Read).await?;
        }
    }

    /// Sends part of `buf`, waiting until at least one byte can be sent; returns how many were.
    ///
    /// # Errors
    ///
    /// As [`recv`](Self::recv), for writing ([`io::ErrorKind::BrokenPipe`] when the peer is
    /// gone).
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match (&self.io).write(buf) {
                Err(e) if retry(&e) => continue,
                Err(e) if would_block(&e) => {}
                r => return r,
            }
            self.reg.wait(self.io.as_fd(), Dir::Write).await?;
        }
    }

    /// Sends all of `buf`, waiting as often as the peer makes it.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); [`io::ErrorKind::WriteZero`] if the socket accepts nothing.
    pub async fn send_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.send(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Shuts down reading, writing or both; `Shutdown::Write` sends EOF and keeps reading
    /// possible (a half-close).
    ///
    /// # Errors
    ///
    /// The OS's error ([`io::ErrorKind::NotConnected`] after a reset).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.shutdown(how)
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.io.set_nodelay(on)
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// The OS's error.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.peer_addr()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.io.as_raw_fd())
            .field("peer_addr", &self.io.peer_addr().ok())
            .finish()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.as_fd()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_raw_fd()
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        self.reg.deregister(self.io.as_fd());
    }
}
