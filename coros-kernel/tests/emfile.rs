//! An accept loop survives running out of file descriptors (`EMFILE`): the error reaches the
//! task, which backs off and accepts the queued connection once descriptors are free again.
//!
//! Alone in its own test binary, because it lowers the process's descriptor limit.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::Duration;

use coros_kernel::{Kernel, TcpListener, sleep, spawn};
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

fn is_out_of_fds(e: &io::Error) -> bool {
    // EMFILE (per process) or ENFILE (system-wide).
    matches!(e.raw_os_error(), Some(24 | 23))
}

#[test]
#[cfg_attr(miri, ignore)]
fn accept_loop_survives_emfile_and_backs_off_without_spinning() {
    let saved = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(128),
            maximum: saved.maximum,
        },
    )
    .unwrap();

    let attempts = Rc::new(Cell::new(0u32));
    let a = attempts.clone();
    let result = Kernel::new().unwrap().block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
        // Use up every descriptor left.
        let mut fillers = Vec::new();
        loop {
            match std::fs::File::open("/dev/null") {
                Ok(f) => fillers.push(f),
                Err(e) if is_out_of_fds(&e) => break,
                Err(e) => return Err(e),
            }
        }
        let acceptor = spawn(async move {
            let mut backoffs = 0u32;
            loop {
                a.set(a.get() + 1);
                match listener.accept().await {
                    Ok((conn, _)) => {
                        conn.send_all(b"welcome").await?;
                        return io::Result::Ok(backoffs);
                    }
                    Err(e) if is_out_of_fds(&e) => {
                        backoffs += 1;
                        sleep(Duration::from_millis(5)).await?;
                    }
                    Err(e) => return Err(e),
                }
            }
        })
        .await?;
        sleep(Duration::from_millis(30)).await?;
        drop(fillers);
        let backoffs = acceptor.await.map_err(io::Error::other)??;
        let mut buf = [0u8; 7];
        client.set_read_timeout(Some(Duration::from_secs(10)))?;
        client.read_exact(&mut buf)?;
        client.write_all(b"bye")?;
        assert_eq!(&buf, b"welcome");
        Ok(backoffs)
    });
    setrlimit(Resource::Nofile, saved).unwrap();

    let backoffs = result.unwrap().unwrap();
    assert!(backoffs >= 1, "the accept saw EMFILE at least once");
    // 30 ms of 5 ms back-offs is a handful of attempts; a spinning loop makes thousands.
    assert!(attempts.get() < 100, "{} attempts", attempts.get());
}
