//! A small closed-loop load generator for line servers: N connections, each keeping `depth`
//! requests in flight, for a fixed time. Prints requests/s, latency percentiles and the
//! client's own CPU time, as one JSON line.
//!
//!     cargo run --release --example loadgen -- ADDR [--conns 50] [--depth 1] [--secs 5]
//!         [--request date]
//!
//! The full comparison (redis, memcached, uvloop, socketserver) is a separate task; this is
//! the engine's own quick check (bench/run.sh).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes only into the struct given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

async fn client(addr: SocketAddr, depth: usize, request: Arc<Vec<u8>>, stop: Arc<AtomicBool>) -> std::io::Result<Vec<u32>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let batch: Vec<u8> = request.iter().copied().cycle().take(request.len() * depth).collect();
    let mut latencies = Vec::new();
    let mut line = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let sent = Instant::now();
        w.write_all(&batch).await?;
        for _ in 0..depth {
            line.clear();
            if r.read_until(b'\n', &mut line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        let micros = sent.elapsed().as_micros().min(u32::MAX as u128) as u32;
        latencies.extend(std::iter::repeat(micros).take(depth));
    }
    Ok(latencies)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(addr) = args.get(1).and_then(|a| a.parse::<SocketAddr>().ok()) else {
        eprintln!("usage: loadgen ADDR [--conns N] [--depth N] [--secs S] [--request TEXT] [--threads N]");
        std::process::exit(2);
    };
    let conns: usize = arg(&args, "--conns", 50);
    let depth: usize = arg(&args, "--depth", 1).max(1);
    let secs: f64 = arg(&args, "--secs", 5.0);
    let threads: usize = arg(&args, "--threads", 1);
    let text: String = arg(&args, "--request", "date".to_string());
    let request = Arc::new(format!("{text}\n").into_bytes());

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(threads.max(1)).enable_all().build().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let results = rt.block_on(async {
        let tasks: Vec<_> = (0..conns).map(|_| tokio::spawn(client(addr, depth, request.clone(), stop.clone()))).collect();
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.unwrap());
        }
        all
    });
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let mut lat: Vec<u32> = Vec::new();
    let mut failed = 0;
    for r in results {
        match r {
            Ok(l) => lat.extend(l),
            Err(_) => failed += 1,
        }
    }
    lat.sort_unstable();
    let pct = |p: f64| if lat.is_empty() { 0 } else { lat[((lat.len() - 1) as f64 * p) as usize] };
    println!(
        "{{\"conns\": {conns}, \"depth\": {depth}, \"requests\": {}, \"rps\": {:.0}, \"p50_us\": {}, \"p99_us\": {}, \"client_cpu\": {:.2}, \"failed_conns\": {failed}}}",
        lat.len(),
        lat.len() as f64 / elapsed,
        pct(0.5),
        pct(0.99),
        cpu / elapsed
    );
}
