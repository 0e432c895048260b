//! The echo server under abuse, on 127.0.0.1 only and bounded in time and count: many
//! sequential and concurrent connections with random payloads, half-closed and reset
//! connections, slow and idle clients, a client that never reads, running out of descriptors
//! (in a child process with a low `RLIMIT_NOFILE`), and a task that never stops being ready.
//!
//! The server is the example's (`examples/echo_server.rs`), copied here with counters, an
//! optional idle timeout and a stop signal. Counts are shortened by default;
//! `COROS_LONG_TESTS=1` runs the full figures of issue 5. The tests of this file run one at a
//! time, as they count the process's descriptors and the server thread's heap.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use coros_kernel::{Kernel, TcpListener, TcpStream, sleep, sleep_until, spawn, timeout, yield_now};
use futures::channel::oneshot;
use futures::future::{Either, select};

// ---------------------------------------------------------------------------------------------
// Heap accounting for the server's thread.

struct Counting;

thread_local! {
    static TRACKED: Cell<bool> = const { Cell::new(false) };
}

/// Live bytes allocated by tracked threads (the server's), and their peak.
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn count(delta: isize) {
    if TRACKED.try_with(Cell::get).unwrap_or(false) {
        let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Starts a new peak measurement; returns the live bytes now.
fn reset_peak() -> isize {
    let now = LIVE.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

fn peak() -> isize {
    PEAK.load(Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// Helpers.

fn long_tests() -> bool {
    std::env::var_os("COROS_LONG_TESTS").is_some_and(|v| v == "1")
}

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Waits until `f` holds; panics after `limit`, which only a hang reaches.
fn eventually(limit: Duration, what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// xorshift64*: random payloads without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The server: the example's `serve` and `accept_loop`, with counters, an optional idle timeout
// and a configurable back-off.

const BUF: usize = 16 * 1024;

#[derive(Debug, Default)]
struct Stats {
    accepted: AtomicUsize,
    active: AtomicUsize,
    errors: AtomicUsize,
    reaped: AtomicUsize,
    resets: AtomicUsize,
    out_of_fds: AtomicUsize,
}

impl Stats {
    fn get(c: &AtomicUsize) -> usize {
        c.load(Ordering::SeqCst)
    }
}

struct Active(Arc<Stats>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Copy)]
struct Config {
    idle: Option<Duration>,
    backoff: Duration,
}

const DEFAULT: Config = Config {
    idle: None,
    backoff: Duration::from_millis(100),
};

async fn serve(conn: TcpStream, idle: Option<Duration>, stats: Arc<Stats>) -> io::Result<()> {
    let mut buf = vec![0u8; BUF];
    loop {
        let got = match idle {
            Some(limit) => match timeout(limit, conn.recv(&mut buf)).await {
                Ok(r) => r,
                Err(_) => {
                    stats.reaped.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                }
            },
            None => conn.recv(&mut buf).await,
        };
        let n = match got {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                stats.resets.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        match conn.send_all(&buf[..n]).await {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {
                stats.resets.fetch_add(1, Ordering::SeqCst);
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    match conn.shutdown(Shutdown::Write) {
        Err(e) if e.kind() != ErrorKind::NotConnected => Err(e),
        _ => Ok(()),
    }
}

async fn accept_loop(listener: TcpListener, config: Config, stats: Arc<Stats>) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((conn, _peer)) => {
                conn.set_nodelay(true)?;
                stats.accepted.fetch_add(1, Ordering::SeqCst);
                stats.active.fetch_add(1, Ordering::SeqCst);
                let active = Active(stats.clone());
                let stats = stats.clone();
                spawn(async move {
                    let _active = active;
                    if serve(conn, config.idle, stats.clone()).await.is_err() {
                        stats.errors.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .await?
                .detach();
            }
            // EMFILE / ENFILE: the connection stays queued; wait for descriptors to free up.
            Err(e) if matches!(e.raw_os_error(), Some(23 | 24)) => {
                stats.out_of_fds.fetch_add(1, Ordering::SeqCst);
                sleep(config.backoff).await?;
            }
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The server on its own thread, with its own kernel.
struct Server {
    addr: SocketAddr,
    stats: Arc<Stats>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(config: Config) -> Server {
        let stats = Arc::new(Stats::default());
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let s = stats.clone();
        let thread = std::thread::spawn(move || {
            TRACKED.set(true);
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            Kernel::new()
                .unwrap()
                .block_on(async move {
                    // Running: every descriptor of the server is open now.
                    addr_tx.send(listener.local_addr().unwrap()).unwrap();
                    let server = pin!(accept_loop(listener, config, s));
                    if let Either::Left((r, _)) = select(server, stop_rx).await {
                        r.unwrap();
                    }
                })
                .unwrap();
            TRACKED.set(false);
        });
        Server {
            addr: addr_rx.recv().unwrap(),
            stats,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn wait_idle(&self) {
        eventually(Duration::from_secs(20), "every connection ended", || {
            Stats::get(&self.stats.active) == 0
        });
    }

    fn stop(mut self) -> Arc<Stats> {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap();
        self.stats.clone()
    }
}

/// Sends `payload`, half-closes, and reads the echo until EOF.
async fn round_trip(addr: SocketAddr, payload: &[u8]) -> io::Result<Vec<u8>> {
    let c = TcpStream::connect_async(addr).await?;
    c.send_all(payload).await?;
    c.shutdown(Shutdown::Write)?;
    let mut back = Vec::with_capacity(payload.len());
    let mut buf = vec![0u8; BUF];
    loop {
        let n = c.recv(&mut buf).await?;
        if n == 0 {
            return Ok(back);
        }
        back.extend_from_slice(&buf[..n]);
    }
}

/// Opens `n` connections, one after another, never more than 64 ahead of the server's accepts:
/// the listener's backlog (128) would drop handshakes, whose retries take seconds.
async fn connect_all(addr: SocketAddr, n: usize, stats: &Stats) -> Vec<TcpStream> {
    let base = Stats::get(&stats.accepted);
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        while Stats::get(&stats.accepted) + 64 < base + i {
            sleep(Duration::from_millis(1)).await.unwrap();
        }
        conns.push(TcpStream::connect_async(addr).await.unwrap());
    }
    while Stats::get(&stats.accepted) < base + n {
        sleep(Duration::from_millis(1)).await.unwrap();
    }
    conns
}

// ---------------------------------------------------------------------------------------------
// Connections by the thousand.

#[test]
#[cfg_attr(miri, ignore = "TCP on 127.0.0.1")]
fn thousands_of_connections_echo_random_payloads_byte_exact_and_close_every_descriptor() {
    let _serial = serial();
    let (sequential, concurrent) = if long_tests() {
        (10_000, 1_000)
    } else {
        (1_000, 200)
    };
    let fds_before = open_fds();
    let server = Server::start(DEFAULT);
    let fds_with_server = open_fds();
    let addr = server.addr;
    let stats = server.stats.clone();
    let start = Instant::now();
    let (bytes, max_open) = Kernel::new()
        .unwrap()
        .block_on(async move {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let mut bytes = 0usize;
            for _ in 0..sequential {
                let len = 1 + rng.below(16 * 1024) as usize;
                let payload = rng.bytes(len);
                let back = round_trip(addr, &payload).await.unwrap();
                assert!(back == payload, "echo differs");
                bytes += payload.len();
            }
            // All connected (and accepted) before any sends: `concurrent` open connections.
            let conns = connect_all(addr, concurrent, &stats).await;
            let max_open = open_fds();
            let mut clients = Vec::new();
            for c in conns {
                let len = 1 + rng.below(64 * 1024) as usize;
                let payload = rng.bytes(len);
                clients.push(
                    spawn(async move {
                        let mut back = Vec::with_capacity(payload.len());
                        let mut buf = vec![0u8; BUF];
                        c.send_all(&payload).await?;
                        c.shutdown(Shutdown::Write)?;
                        loop {
                            let n = c.recv(&mut buf).await?;
                            if n == 0 {
                                break;
                            }
                            back.extend_from_slice(&buf[..n]);
                        }
                        assert!(back == payload, "echo differs");
                        io::Result::Ok(payload.len())
                    })
                    .await
                    .unwrap(),
                );
            }
            for c in clients {
                bytes += c.await.unwrap().unwrap();
            }
            (bytes, max_open)
        })
        .unwrap();
    server.wait_idle();
    let fds_after_clients = open_fds();
    let stats = server.stop();
    let fds_after = open_fds();
    println!(
        "echo: {sequential} sequential + {concurrent} concurrent connections, {bytes} bytes \
         echoed byte-exact in {:?}; descriptors {fds_before} before, {fds_with_server} with the \
         server, {max_open} at the peak, {fds_after_clients} after the clients, {fds_after} \
         after the server; server errors {}",
        start.elapsed(),
        Stats::get(&stats.errors)
    );
    assert_eq!(Stats::get(&stats.accepted), sequential + concurrent);
    assert_eq!(Stats::get(&stats.errors), 0);
    assert!(max_open >= fds_with_server + 2 * concurrent);
    assert_eq!(fds_after_clients, fds_with_server);
    assert_eq!(fds_after, fds_before);
}

// ---------------------------------------------------------------------------------------------
// Half-closed and reset connections.

#[test]
#[cfg_attr(miri, ignore = "TCP on 127.0.0.1")]
fn half_closed_and_reset_connections_end_cleanly() {
    let _serial = serial();
    let rounds = 50;
    let server = Server::start(DEFAULT);
    let addr = server.addr;
    let fds_with_server = open_fds();
    for i in 0..rounds {
        // Half-close: everything sent comes back, then EOF.
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let payload = vec![i as u8; 3000 + i];
        c.write_all(&payload).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        assert_eq!(back, payload);

        // Reset with data in flight: closing with unread echo sends RST.
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(&payload).unwrap();
        let mut first = [0u8; 1];
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.read_exact(&mut first).unwrap();
        drop(c);

        // Abortive close (SO_LINGER 0) before a single byte.
        let c = std::net::TcpStream::connect(addr).unwrap();
        rustix::net::sockopt::set_socket_linger(&c, Some(Duration::ZERO)).unwrap();
        drop(c);

        // Abortive close in the middle of a send.
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(&payload[..100]).unwrap();
        rustix::net::sockopt::set_socket_linger(&c, Some(Duration::ZERO)).unwrap();
        drop(c);
    }
    server.wait_idle();
    // The server still serves after all of it.
    let fine = Kernel::new()
        .unwrap()
        .block_on(async move { round_trip(addr, b"still here").await.unwrap() })
        .unwrap();
    assert_eq!(fine, b"still here");
    server.wait_idle();
    let fds = open_fds();
    let stats = server.stop();
    println!(
        "half-close and reset: {} connections, {} ended by a reset, {} errors",
        Stats::get(&stats.accepted),
        Stats::get(&stats.resets),
        Stats::get(&stats.errors)
    );
    assert_eq!(Stats::get(&stats.accepted), 4 * rounds + 1);
    assert_eq!(
        Stats::get(&stats.errors),
        0,
        "every connection ended cleanly"
    );
    assert_eq!(fds, fds_with_server);
}

// ---------------------------------------------------------------------------------------------
// Slow and idle clients.

#[test]
#[cfg_attr(miri, ignore = "TCP on 127.0.0.1")]
fn slow_clients_trickling_bytes_do_not_stop_a_new_client_from_being_served() {
    let _serial = serial();
    let slow = if long_tests() { 1_000 } else { 100 };
    const TRICKLE: usize = 40;
    let server = Server::start(DEFAULT);
    let addr = server.addr;
    let stats = server.stats.clone();
    let (finished_when_served, new_client_rtt) = Kernel::new()
        .unwrap()
        .block_on(async move {
            // All connect before any trickles, so all trickle at once.
            let conns = connect_all(addr, slow, &stats).await;
            let started = Rc::new(Cell::new(0usize));
            let finished = Rc::new(Cell::new(0usize));
            let mut handles = Vec::new();
            for (i, c) in conns.into_iter().enumerate() {
                let (started, finished) = (started.clone(), finished.clone());
                handles.push(
                    spawn(async move {
                        let mut b = [0u8; 1];
                        for k in 0..TRICKLE {
                            c.send_all(&[(i + k) as u8]).await?;
                            assert_eq!(c.recv(&mut b).await?, 1);
                            assert_eq!(b[0], (i + k) as u8);
                            if k == 0 {
                                started.set(started.get() + 1);
                            }
                            sleep(Duration::from_millis(5)).await.unwrap();
                        }
                        finished.set(finished.get() + 1);
                        io::Result::Ok(())
                    })
                    .await
                    .unwrap(),
                );
            }
            // Every slow client is connected and mid-trickle: now a new one comes.
            while started.get() < slow {
                sleep(Duration::from_millis(1)).await.unwrap();
            }
            let t = Instant::now();
            let payload = vec![7u8; 4096];
            let back = round_trip(addr, &payload).await.unwrap();
            let rtt = t.elapsed();
            assert_eq!(back, payload);
            let finished_when_served = finished.get();
            for h in handles {
                h.await.unwrap().unwrap();
            }
            (finished_when_served, rtt)
        })
        .unwrap();
    server.wait_idle();
    let stats = server.stop();
    println!(
        "slow clients: {slow} trickling {TRICKLE} bytes each; a new client was served in \
         {new_client_rtt:?} while {} of them had finished",
        finished_when_served
    );
    assert_eq!(
        finished_when_served, 0,
        "the new client waited for slow ones"
    );
    assert_eq!(Stats::get(&stats.errors), 0);
}

#[test]
#[cfg_attr(miri, ignore = "TCP on 127.0.0.1")]
fn idle_clients_are_reaped_after_the_timeout_and_busy_ones_are_not() {
    let _serial = serial();
    let idle = Duration::from_millis(50);
    let server = Server::start(Config {
        idle: Some(idle),
        ..DEFAULT
    });
    let addr = server.addr;
    let fds_with_server = open_fds();
    let start = Instant::now();
    let idlers: Vec<std::net::TcpStream> = (0..20)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    // A busy client talks every 10 ms for 300 ms: never idle for 50 ms.
    let mut busy = std::net::TcpStream::connect(addr).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut b = [0u8; 1];
    for i in 0..30u8 {
        busy.write_all(&[i]).unwrap();
        busy.read_exact(&mut b).unwrap();
        assert_eq!(b[0], i);
        std::thread::sleep(Duration::from_millis(10));
    }
    for mut c in idlers {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(c.read(&mut b).unwrap(), 0, "reaped: EOF");
    }
    let reaped_after = start.elapsed();
    drop(busy);
    server.wait_idle();
    let fds = open_fds();
    let stats = server.stop();
    println!(
        "idle clients: 20 reaped after {reaped_after:?} (timeout {idle:?}); the busy one was \
         not"
    );
    assert!(reaped_after >= idle);
    assert_eq!(Stats::get(&stats.reaped), 20);
    assert_eq!(Stats::get(&stats.errors), 0);
    assert_eq!(fds, fds_with_server);
}

// ---------------------------------------------------------------------------------------------
// A client that never reads.

/// A long pseudo-random pattern; the stream's byte at offset `o` is `PATTERN[o % len]`.
fn pattern() -> Vec<u8> {
    // A prime length, so that a misplaced chunk cannot line up by accident.
    Rng(0x1234_5678_9abc_def1).bytes(1_048_573)
}

#[test]
#[cfg_attr(miri, ignore = "TCP on 127.0.0.1")]
fn a_client_that_never_reads_cannot_grow_the_servers_memory() {
    let _serial = serial();
    let total: usize = if long_tests() { 100 << 20 } else { 32 << 20 };
    let pat = pattern();
    let server = Server::start(DEFAULT);
    let mut c = std::net::TcpStream::connect(server.addr).unwrap();
    server.wait_idle_accepted(1);
    let base = reset_peak();

    // Send without reading until the connection stops taking data.
    c.set_nonblocking(true).unwrap();
    let mut sent = 0usize;
    let mut stalled_for = 0;
    while stalled_for < 50 && sent < total {
        let at = sent % pat.len();
        let end = (at + 256 * 1024).min(pat.len()).min(at + (total - sent));
        match c.write(&pat[at..end]) {
            Ok(n) => {
                sent += n;
                stalled_for = 0;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                stalled_for += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("{e}"),
        }
    }
    let stalled_at = sent;
    let peak_stalled = peak() - base;

    // Now read too, until the whole stream has come back byte-exact.
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    let deadline = Instant::now() + Duration::from_secs(120);
    while got < total {
        assert!(Instant::now() < deadline, "the stream never completed");
        let mut progress = false;
        if sent < total {
            let at = sent % pat.len();
            let end = (at + 256 * 1024).min(pat.len()).min(at + (total - sent));
            match c.write(&pat[at..end]) {
                Ok(n) => {
                    sent += n;
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        match c.read(&mut buf) {
            Ok(0) => panic!("EOF after {got} bytes"),
            Ok(n) => {
                let mut off = 0;
                while off < n {
                    let at = (got + off) % pat.len();
                    let len = (n - off).min(pat.len() - at);
                    assert!(
                        buf[off..off + len] == pat[at..at + len],
                        "echo differs near byte {}",
                        got + off
                    );
                    off += len;
                }
                got += n;
                progress = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
        if !progress {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let peak_all = peak() - base;
    drop(c);
    server.wait_idle();
    let stats = server.stop();
    println!(
        "never-reading client: the connection stalled after {stalled_at} bytes; then {total} \
         bytes streamed and echoed byte-exact; the server thread's heap ({base} bytes live with \
         the connection open) grew by at most {peak_stalled} bytes while stalled and \
         {peak_all} bytes over the whole stream"
    );
    assert!(stalled_at < total, "the server took the whole stream in");
    assert!(peak_stalled < 1 << 20, "{peak_stalled} bytes");
    assert!(peak_all < 1 << 20, "{peak_all} bytes");
    assert_eq!(Stats::get(&stats.errors), 0);
}

impl Server {
    fn wait_idle_accepted(&self, n: usize) {
        eventually(
            Duration::from_secs(20),
            "the connection was accepted",
            || Stats::get(&self.stats.accepted) >= n,
        );
        // Let the connection's task start and park before measuring from here.
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// Running out of descriptors, in a child process with a low RLIMIT_NOFILE.

const CHILD_ENV: &str = "COROS_HARDENING_EMFILE_CHILD";

/// The server side of the EMFILE test, run by it in a child process.
#[test]
#[ignore = "run by `running_out_of_descriptors_makes_the_accept_loop_back_off_and_recover`"]
fn emfile_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit: u64 = std::env::var(CHILD_ENV).unwrap().parse().unwrap();
    let saved = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(limit),
            maximum: saved.maximum,
        },
    )
    .unwrap();
    let stats = Arc::new(Stats::default());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base_fds = open_fds();
    println!("PORT {}", listener.local_addr().unwrap().port());
    io::stdout().flush().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = io::stdin().read_line(&mut line);
        let _ = stop_tx.send(());
    });
    let s = stats.clone();
    let config = Config {
        idle: None,
        backoff: Duration::from_millis(10),
    };
    let start = Instant::now();
    Kernel::new()
        .unwrap()
        .block_on(async move {
            let server = pin!(accept_loop(listener, config, s));
            if let Either::Left((r, _)) = select(server, stop_rx).await {
                r.unwrap();
            }
        })
        .unwrap();
    println!(
        "STATS base_fds={base_fds} accepted={} out_of_fds={} errors={} millis={}",
        Stats::get(&stats.accepted),
        Stats::get(&stats.out_of_fds),
        Stats::get(&stats.errors),
        start.elapsed().as_millis()
    );
    io::stdout().flush().unwrap();
}

fn echo_once(c: &mut std::net::TcpStream, msg: &[u8]) -> io::Result<()> {
    c.set_read_timeout(Some(Duration::from_secs(20)))?;
    c.write_all(msg)?;
    let mut back = vec![0u8; msg.len()];
    c.read_exact(&mut back)?;
    assert_eq!(back, msg);
    Ok(())
}

#[test]
#[cfg_attr(miri, ignore = "spawns a process and uses TCP")]
fn running_out_of_descriptors_makes_the_accept_loop_back_off_and_recover() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let _serial = serial();
    let limit = 48;
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "emfile_child",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, limit.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let port: u16 = loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child ended early"
        );
        // libtest prints the test's name on the same line.
        if let Some((_, p)) = line.split_once("PORT ") {
            break p.trim().parse().unwrap();
        }
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    // More clients than the child has descriptors: the first are served, the rest queue.
    let clients = limit + 8;
    let mut conns: Vec<std::net::TcpStream> = (0..clients)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    echo_once(&mut conns[0], b"first").unwrap();
    // Stay out of descriptors for a while: the accept loop must back off, not spin, and a
    // client it already serves keeps being served.
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(20));
        echo_once(&mut conns[0], b"still served").unwrap();
    }
    // Free descriptors (more than are queued): the queued clients get in and are echoed.
    let freed: Vec<_> = conns.drain(1..=limit / 2).collect();
    drop(freed);
    for (i, c) in conns.iter_mut().enumerate() {
        echo_once(c, format!("client {i}").as_bytes()).unwrap();
    }
    drop(conns);
    child.stdin.take().unwrap().write_all(b"stop\n").unwrap();
    let mut stats = String::new();
    for l in out.lines() {
        let l = l.unwrap();
        if let Some((_, s)) = l.split_once("STATS ") {
            stats = s.to_owned();
        }
    }
    let status = child.wait().unwrap();
    let field = |name: &str| -> u64 {
        stats
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {stats:?}"))
            .parse()
            .unwrap()
    };
    println!("EMFILE: limit {limit}, {clients} clients; child: {stats}; exit {status}");
    assert!(status.success());
    assert_eq!(
        field("accepted"),
        clients as u64,
        "every queued client got in"
    );
    assert!(field("out_of_fds") >= 1, "the child ran out of descriptors");
    // Back-offs of 10 ms over the run; a spinning loop retries millions of times.
    assert!(
        field("out_of_fds") <= field("millis") / 10 + 10,
        "{stats}: the accept loop spun"
    );
    assert_eq!(field("errors"), 0);
}

// ---------------------------------------------------------------------------------------------
// Fairness: tasks that are always ready do not starve timers or I/O.

/// How many polls may pass before the kernel looks at timers and I/O while tasks are ready
/// (the kernel's `EVENT_INTERVAL`).
const EVENT_INTERVAL: usize = 61;

#[test]
#[cfg_attr(miri, ignore = "TCP on 127.0.0.1")]
fn spinning_tasks_cannot_starve_a_sleeper_or_an_echo() {
    let _serial = serial();
    for spinners in [1usize, 8] {
        let polls = Rc::new(Cell::new(0usize));
        let stop = Rc::new(Cell::new(false));
        let deadline = Instant::now() + Duration::from_millis(20);
        // The spinner poll count when the deadline had passed, when the sleeper woke, when a
        // byte was written and when it was read.
        let marks: Rc<[Cell<usize>; 4]> = Rc::default();
        let (p, s, m) = (polls.clone(), stop.clone(), marks.clone());
        let (overshoot, echo_polls) = Kernel::new()
            .unwrap()
            .block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr = listener.local_addr().unwrap();
                let server = spawn(async move {
                    let (conn, _) = listener.accept().await.unwrap();
                    serve(conn, None, Arc::new(Stats::default())).await
                })
                .await
                .unwrap();
                let client = TcpStream::connect_async(addr).await.unwrap();
                let (probe_w, probe_r) = std::os::unix::net::UnixStream::pair().unwrap();
                let probe_r = Rc::new(probe_r);
                let wrote = Rc::new(AtomicBool::new(false));
                for _ in 0..spinners {
                    let (p, s, m, w, pw) = (
                        p.clone(),
                        s.clone(),
                        m.clone(),
                        wrote.clone(),
                        probe_w.try_clone().unwrap(),
                    );
                    spawn(async move {
                        while !s.get() {
                            p.set(p.get() + 1);
                            if m[0].get() == 0 && Instant::now() >= deadline {
                                m[0].set(p.get());
                            }
                            if m[1].get() != 0 && !w.swap(true, Ordering::SeqCst) {
                                (&pw).write_all(b"x").unwrap();
                                m[2].set(p.get());
                            }
                            yield_now().await.unwrap();
                        }
                    })
                    .await
                    .unwrap()
                    .detach();
                }
                let (p2, m2) = (p.clone(), m.clone());
                let sleeper = spawn(async move {
                    sleep_until(deadline).await.unwrap();
                    m2[1].set(p2.get());
                    Instant::now() - deadline
                })
                .await
                .unwrap();
                let (p3, m3, r3) = (p.clone(), m.clone(), probe_r.clone());
                let reader = spawn(async move {
                    use std::os::fd::AsFd;
                    coros_kernel::readable(r3.as_fd()).await.unwrap().unwrap();
                    m3[3].set(p3.get());
                })
                .await
                .unwrap();
                let overshoot = sleeper.await.unwrap();
                reader.await.unwrap();
                // An echo round trip through the server task while the spinners spin.
                let before = p.get();
                client.send_all(b"ping").await.unwrap();
                let mut buf = [0u8; 4];
                let mut got = 0;
                while got < 4 {
                    got += client.recv(&mut buf[got..]).await.unwrap();
                }
                assert_eq!(&buf, b"ping");
                let echo_polls = p.get() - before;
                s.set(true);
                client.shutdown(Shutdown::Write).unwrap();
                server.await.unwrap().unwrap();
                (overshoot, echo_polls)
            })
            .unwrap();
        let timer_gap = marks[1].get() - marks[0].get();
        let io_gap = marks[3].get() - marks[2].get();
        println!(
            "fairness with {spinners} spinning task(s): the sleeper woke {timer_gap} spinner \
             polls after its deadline ({overshoot:?} late); a readable descriptor was seen \
             {io_gap} polls after the write; an echo round trip took {echo_polls} polls; \
             {} polls in all",
            polls.get()
        );
        // Timers and I/O are looked at every EVENT_INTERVAL polls; a woken task then waits its
        // turn behind the spinners.
        let bound = EVENT_INTERVAL + 2 * spinners + 2;
        assert!(marks[0].get() > 0, "the spinners ran past the deadline");
        assert!(timer_gap <= bound, "{timer_gap} polls");
        assert!(io_gap <= bound, "{io_gap} polls");
        assert!(echo_polls <= 4 * bound, "{echo_polls} polls");
    }
}
