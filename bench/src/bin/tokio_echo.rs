//! A tokio current_thread echo server, the peer of `coros_echo` for the load generator: one
//! task per client, the same 16 KiB buffer, read then write-all.
//!
//! `cargo run --release -p coros-bench --bin tokio_echo -- [--addr HOST:PORT]`

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn serve(mut conn: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if conn.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    let _ = conn.shutdown().await;
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).cloned().unwrap_or_default(),
        None => "127.0.0.1:7879".to_owned(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("echo server listening on {}", listener.local_addr()?);
        loop {
            let (conn, _) = listener.accept().await?;
            conn.set_nodelay(true)?;
            tokio::spawn(serve(conn));
        }
    })
}
