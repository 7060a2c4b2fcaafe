//! Starting and stopping 200 servers, and 10,000 connections to one, leave nothing behind:
//! the process's open file descriptors and threads return to their starting count. Its own
//! test binary, so no other test's sockets or threads blur the counts; the client ends of the
//! connections live in a child process (this same binary, its other test).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use netcore::server::{BoundAddr, Limits, Server, ServerConfig, Service};

const SERVERS: usize = 200;
const CONNECTIONS: usize = 10_000;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Waits (bounded) for the counts to come back to `fds` and `threads`: a stopped server's
/// threads finish exiting just after `stop` returns.
fn settle(fds: usize, nthreads: usize) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = (open_fds(), threads());
        if now == (fds, nthreads) || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The counts once they stop changing (the warm-up server's threads are exiting).
fn steady() -> (usize, usize) {
    let mut last = (open_fds(), threads());
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        let now = (open_fds(), threads());
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// Room for the server end of every connection (the client ends live in a child process:
/// raising the hard limit needs CAP_SYS_RESOURCE, which containers often drop).
fn raise_fd_limit() -> bool {
    let want = CONNECTIONS as u64 + 1000;
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write only the struct given.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur >= want {
            return true;
        }
        limit.rlim_cur = want;
        limit.rlim_max = limit.rlim_max.max(want);
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0
    }
}

const CHILD_ENV: &str = "NETCORE_RESOURCE_TEST_CLIENTS_FOR";

/// The child process's part: opens CONNECTIONS connections to the address in CHILD_ENV, asks
/// on every 997th, says `connected`, and holds them until its stdin closes.
#[test]
fn child_holding_the_client_ends() {
    let Ok(addr) = std::env::var(CHILD_ENV) else { return };
    assert!(raise_fd_limit());
    let addr: SocketAddr = addr.parse().unwrap();
    let clients: Vec<TcpStream> = (0..CONNECTIONS).map(|_| TcpStream::connect(addr).unwrap()).collect();
    for (i, c) in clients.iter().enumerate().step_by(997) {
        assert_eq!(ask(c, &format!("conn {i}")), format!("conn {i}\n"));
    }
    println!("connected");
    let _ = std::io::stdin().read_line(&mut String::new());
}

fn start(limits: Limits) -> (Server, SocketAddr) {
    let mut config = ServerConfig::new(Service::Echo).tcp("127.0.0.1:0".parse().unwrap()).limits(limits);
    config.workers = Some(2);
    let server = Server::start(config).unwrap();
    let addr = match server.local_addrs()[0] {
        BoundAddr::Tcp(a) => a,
        ref other => panic!("{other:?}"),
    };
    (server, addr)
}

fn ask(stream: &TcpStream, line: &str) -> String {
    (&*stream).write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).unwrap();
    reply
}

#[test]
fn servers_and_connections_give_back_every_fd_and_thread() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return; // this is the child process
    }
    if !raise_fd_limit() {
        eprintln!("skipped: RLIMIT_NOFILE cannot be raised to {} here", CONNECTIONS + 1000);
        return;
    }
    // One server first, so what lives for the whole process (the resolver, std's globals) exists
    // before the counts are taken.
    let (server, addr) = start(Limits::default());
    assert_eq!(ask(&TcpStream::connect(addr).unwrap(), "warm"), "warm\n");
    server.stop(Duration::from_secs(5)).unwrap();
    let (fds0, threads0) = steady();

    let started = Instant::now();
    for i in 0..SERVERS {
        let (server, addr) = start(Limits::default());
        let c = TcpStream::connect(addr).unwrap();
        assert_eq!(ask(&c, &format!("server {i}")), format!("server {i}\n"));
        server.stop(Duration::from_secs(5)).unwrap();
    }
    assert_eq!(settle(fds0, threads0), (fds0, threads0), "after {SERVERS} servers (fds, threads)");
    eprintln!("{SERVERS} servers started and stopped in {:?}; {fds0} fds, {threads0} threads", started.elapsed());
    let started = Instant::now();

    let limits = Limits { max_connections: CONNECTIONS + 10, ..Limits::default() };
    let (server, addr) = start(limits);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_holding_the_client_ends", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, addr.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("connected") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the client process ended early");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.stats().connections_open < CONNECTIONS as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.stats().connections_open, CONNECTIONS as u64);
    assert!(open_fds() >= fds0 + CONNECTIONS, "the server end of every connection is open");
    drop(child.stdin.take()); // the child closes its connections and exits
    assert!(child.wait().unwrap().success());
    drop(out);
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.stats().connections_open > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.stats().connections_open, 0, "every connection's slot is back");
    server.stop(Duration::from_secs(5)).unwrap();
    assert_eq!(settle(fds0, threads0), (fds0, threads0), "after {CONNECTIONS} connections (fds, threads)");
    eprintln!("{CONNECTIONS} connections opened and closed in {:?}; {fds0} fds, {threads0} threads", started.elapsed());
}
