//! The floor: a minimal tokio line server that does nothing but answer every line with
//! `ok`. Whatever netcore's engine costs beyond this is its own code.
//!
//!     cargo run --release --example floor -- [ADDR]     (prints the bound address)

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("{}", listener.local_addr()?);
    loop {
        let (mut s, _) = listener.accept().await?;
        s.set_nodelay(true)?;
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16384];
            let mut out = Vec::new();
            loop {
                let n = match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                out.clear();
                for _ in buf[..n].iter().filter(|&&b| b == b'\n') {
                    out.extend_from_slice(b"ok\n");
                }
                if s.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
    }
}
