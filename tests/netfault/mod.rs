//! Network faults for tests: a network namespace the test owns (nftables loss, resets and
//! blackholes; tc tbf for a slow link), and user-space proxies for what this kernel cannot do
//! (no tc netem): delay with jitter for TCP, duplication and reordering for UDP.

#![allow(dead_code)] // each test file uses part of it

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// A network namespace with only `lo` (up), removed on drop, with an nftables table
/// `inet fault` whose `input` chain the test adds rules to.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A fresh namespace, or `None` (and a message saying why the test is skipped) when this
    /// runner cannot make one (not root, no `ip`/`nft`).
    pub fn new(tag: &str) -> Option<Netns> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: network-namespace fault tests need root (CI runs them as root)");
            return None;
        }
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let name = format!("nc-{tag}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        if !run("ip", &["netns", "add", &name]) {
            eprintln!("skipped: `ip netns add` failed (install iproute2; see scripts/debian-packages.txt)");
            return None;
        }
        let ns = Netns { name };
        assert!(ns.exec("ip", &["link", "set", "lo", "up"]), "lo up in {}", ns.name);
        let table = "table inet fault {\n chain input { type filter hook input priority 0; policy accept; }\n}\n";
        if !ns.nft_script(table) {
            eprintln!("skipped: nftables is not usable here (install nftables)");
            return None;
        }
        Some(ns)
    }

    /// Runs `f` on a thread that lives in the namespace and waits for it: sockets it opens
    /// (and servers it starts, whose listeners it binds) belong to the namespace, whichever
    /// thread uses them later.
    pub fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.spawn(f).join().expect("the namespace thread")
    }

    /// `enter` without waiting.
    pub fn spawn<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("the namespace file");
            // SAFETY: a valid namespace fd; setns changes only this thread's namespace.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
    }

    /// Runs a command inside the namespace; true when it succeeded.
    pub fn exec(&self, program: &str, args: &[&str]) -> bool {
        let mut full = vec!["netns", "exec", &self.name, program];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    fn nft_script(&self, script: &str) -> bool {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ip netns exec nft");
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        if !out.status.success() {
            eprintln!("nft: {}", String::from_utf8_lossy(&out.stderr));
        }
        out.status.success()
    }

    /// Adds one rule to the input chain (every packet on `lo` passes it), e.g.
    /// `tcp dport 4000 numgen random mod 100 < 10 drop`.
    pub fn add_rule(&self, rule: &str) {
        assert!(self.nft_script(&format!("add rule inet fault input {rule}\n")), "nft rule {rule:?}");
    }

    /// Drops every rule added so far.
    pub fn flush_rules(&self) {
        assert!(self.nft_script("flush chain inet fault input\n"));
    }

    /// Random loss of `percent`% of the packets to and from `port`, in both directions.
    pub fn lose(&self, proto: &str, port: u16, percent: u32) {
        self.add_rule(&format!("{proto} dport {port} numgen random mod 100 < {percent} drop"));
        self.add_rule(&format!("{proto} sport {port} numgen random mod 100 < {percent} drop"));
    }

    /// Every packet to and from `port` vanishes (a link gone silent).
    pub fn blackhole(&self, port: u16) {
        self.add_rule(&format!("tcp dport {port} drop"));
        self.add_rule(&format!("tcp sport {port} drop"));
    }

    /// Limits `lo` to `rate` (tc tbf), e.g. "64kbit". The MTU drops to Ethernet's first: tbf
    /// drops every packet larger than its burst, and lo's packets are up to 64 KiB.
    pub fn slow_link(&self, rate: &str) {
        assert!(self.exec("ip", &["link", "set", "lo", "mtu", "1500"]), "lo mtu 1500");
        let ok = self
            .exec("tc", &["qdisc", "add", "dev", "lo", "root", "tbf", "rate", rate, "burst", "1600", "latency", "2s"]);
        assert!(ok, "tc tbf {rate}");
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        run("ip", &["netns", "del", &self.name]);
    }
}

fn run(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// How a proxy mistreats traffic.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mischief {
    /// Every chunk or datagram is held this long ...
    pub delay: Duration,
    /// ... plus up to this much more, at random (TCP keeps the order; UDP may reorder).
    pub jitter: Duration,
    /// UDP: every datagram is sent twice.
    pub duplicate: bool,
    /// UDP: every other datagram is held back and sent after the next one.
    pub reorder: bool,
}

/// A tiny xorshift: jitter needs no cryptographic randomness and no extra crate.
fn random_below(max: Duration, state: &mut u64) -> Duration {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    if max.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_nanos(*state % max.as_nanos() as u64)
}

/// A TCP proxy on 127.0.0.1 that delays every chunk in both directions (order kept).
pub struct TcpProxy {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl TcpProxy {
    pub fn start(upstream: SocketAddr, mischief: Mischief) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let server = TcpStream::connect(upstream).unwrap();
                        client.set_nodelay(true).unwrap();
                        server.set_nodelay(true).unwrap();
                        pump(client.try_clone().unwrap(), server.try_clone().unwrap(), mischief, 1);
                        pump(server, client, mischief, 2);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        TcpProxy { addr, stop }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies `from` to `to`, each chunk delivered `delay + jitter` after it was read, in order;
/// end of stream is passed on as a half-close.
fn pump(mut from: TcpStream, mut to: TcpStream, m: Mischief, seed: u64) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        let mut state = 0x9e37_79b9_7f4a_7c15 ^ seed;
        let mut last = Instant::now();
        loop {
            let n = from.read(&mut buf).unwrap_or(0);
            let due = (Instant::now() + m.delay + random_below(m.jitter, &mut state)).max(last);
            last = due;
            if tx.send((due, buf[..n].to_vec())).is_err() || n == 0 {
                return;
            }
        }
    });
    std::thread::spawn(move || {
        for (due, bytes) in rx {
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if bytes.is_empty() || to.write_all(&bytes).is_err() {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
        }
    });
}

/// A UDP proxy on 127.0.0.1: each client address gets its own upstream socket; datagrams in
/// both directions are delayed, duplicated or reordered as asked.
pub struct UdpProxy {
    pub addr: SocketAddr,
    /// Datagrams forwarded to the server (duplicates included).
    pub to_server: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl UdpProxy {
    pub fn start(upstream: SocketAddr, m: Mischief) -> UdpProxy {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        front.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let addr = front.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let to_server = Arc::new(AtomicUsize::new(0));
        let (stop2, counter) = (stop.clone(), to_server.clone());
        std::thread::spawn(move || {
            let mut clients: HashMap<SocketAddr, (Arc<UdpSocket>, Sender)> = HashMap::new();
            let mut buf = vec![0u8; 65536];
            let mut state = 0x2545_f491_4f6c_dd1d;
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, client)) = front.recv_from(&mut buf) else { continue };
                let (back, to_server) = clients.entry(client).or_insert_with(|| {
                    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
                    back.connect(upstream).unwrap();
                    back.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
                    let (front, back2, stop3) = (front.clone(), back.clone(), stop2.clone());
                    // Replies from the server go back to this client through their own Sender.
                    std::thread::spawn(move || {
                        let mut buf = vec![0u8; 65536];
                        let mut to_client = Sender::new(m, 0x1234_5678);
                        while !stop3.load(Ordering::Relaxed) {
                            if let Ok(n) = back2.recv(&mut buf) {
                                to_client.send(&buf[..n], &|d: &[u8]| drop(front.send_to(d, client)));
                            }
                        }
                    });
                    (back, Sender::new(m, state))
                });
                state = state.wrapping_add(1);
                counter.fetch_add(if m.duplicate { 2 } else { 1 }, Ordering::Relaxed);
                let back = back.clone();
                to_server.send(&buf[..n], &|d: &[u8]| drop(back.send(d)));
            }
        });
        UdpProxy { addr, to_server, stop }
    }
}

impl Drop for UdpProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One direction of a UDP proxy: applies the delay, the duplication and the reordering.
struct Sender {
    m: Mischief,
    /// A datagram held back by `reorder`, sent after the next one (the client's retry, when
    /// the held one was a request).
    held: Option<Vec<u8>>,
    random: u64,
}

impl Sender {
    fn new(m: Mischief, seed: u64) -> Sender {
        Sender { m, held: None, random: seed | 1 }
    }

    fn send(&mut self, datagram: &[u8], out: &dyn Fn(&[u8])) {
        let delay = self.m.delay + random_below(self.m.jitter, &mut self.random);
        std::thread::sleep(delay);
        if self.m.reorder && self.held.is_none() {
            self.held = Some(datagram.to_vec());
            return;
        }
        let copies = if self.m.duplicate { 2 } else { 1 };
        for d in std::iter::once(datagram.to_vec()).chain(self.held.take()) {
            for _ in 0..copies {
                out(&d);
            }
        }
    }
}
