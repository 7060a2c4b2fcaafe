//! `client::Options::busy_poll`: waiting for a reply, the client looks for it for a while
//! before sleeping. Replies must be the same as without it, a quick server's replies are
//! read without the client's thread sleeping, a slow server costs the client almost no CPU
//! (the spins back off), and the window is checked.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use netcore::busy_poll::MAX_BUSY_POLL;
use netcore::client::{Client, Options};
use netcore::server::{BoundAddr, Framing, Reply, Server, ServerConfig, Service};

/// A line server on 127.0.0.1 answering each line with itself after `delay`, for one
/// connection.
fn echo_after(delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_nodelay(true).unwrap();
        let mut out = stream.try_clone().unwrap();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            std::thread::sleep(delay);
            if out.write_all(format!("{line}\n").as_bytes()).is_err() {
                break;
            }
        }
    });
    port
}

fn connect(port: u16, busy_poll: Duration) -> Client {
    Client::connect(
        "127.0.0.1",
        port,
        Options { timeout: Some(Duration::from_secs(10)), busy_poll, ..Options::default() },
    )
    .unwrap()
}

/// This thread's voluntary context switches (times it went to sleep).
fn my_sleeps() -> u64 {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    status.lines().find_map(|l| l.strip_prefix("voluntary_ctxt_switches:")).unwrap().trim().parse().unwrap()
}

/// This thread's CPU time.
fn my_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec it is given.
    assert_eq!(unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) }, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Sleeps of this thread over 300 calls of `one` (after one not counted).
fn sleeps_over(mut one: impl FnMut(usize)) -> u64 {
    one(300);
    let before = my_sleeps();
    (0..300).for_each(&mut one);
    my_sleeps() - before
}

/// Sleeps of this thread over 300 requests to a server answering at once.
fn sleeps_over_requests(busy_poll: Duration) -> u64 {
    let mut c = connect(echo_after(Duration::ZERO), busy_poll);
    sleeps_over(|i| {
        let line = format!("r{i}");
        assert_eq!(c.request(line.as_bytes()).unwrap(), line.as_bytes());
    })
}

/// The same over 300 RESP commands (`Client::command`) to a netcore RESP server.
fn sleeps_over_commands(busy_poll: Duration) -> u64 {
    let config = ServerConfig::new(Service::Command).framing(Framing::Resp).tcp("127.0.0.1:0".parse().unwrap());
    let server = Server::start(config).unwrap();
    let port = server
        .local_addrs()
        .iter()
        .find_map(|a| if let BoundAddr::Tcp(a) = a { Some(a.port()) } else { None })
        .unwrap();
    let mut c = connect(port, busy_poll);
    let slept = sleeps_over(|_| assert_eq!(c.command(&[b"PING"]).unwrap(), Reply::Simple("PONG".into())));
    server.stop(Duration::from_secs(10)).unwrap();
    slept
}

fn assert_polled_waits_stay_awake(what: &str, ordinary: u64, polled: u64) {
    eprintln!("client sleeps in 300 {what}: ordinary {ordinary}, busy-polled {polled}");
    assert!(ordinary >= 60, "ordinary waits slept only {ordinary} times in 300 {what}");
    assert!(polled <= 30, "busy-polled waits slept {polled} times in 300 {what}");
}

#[test]
fn a_quick_servers_replies_are_read_without_the_client_sleeping() {
    let (ordinary, polled) = (sleeps_over_requests(Duration::ZERO), sleeps_over_requests(MAX_BUSY_POLL));
    assert_polled_waits_stay_awake("requests", ordinary, polled);
    let (ordinary, polled) = (sleeps_over_commands(Duration::ZERO), sleeps_over_commands(MAX_BUSY_POLL));
    assert_polled_waits_stay_awake("RESP commands", ordinary, polled);
}

#[test]
fn a_server_slower_than_the_window_costs_the_client_almost_no_cpu() {
    // A window of 10 ms and a server answering after 25 ms: spinning for every reply would
    // cost ~10 ms of CPU each (400 ms over 40); the spins back off (waits 1, 3, 6, 11, 20, 37).
    let mut c = connect(echo_after(Duration::from_millis(25)), Duration::from_millis(10));
    let cpu = my_cpu();
    for i in 0..40 {
        let line = format!("slow{i}");
        assert_eq!(c.request(line.as_bytes()).unwrap(), line.as_bytes());
    }
    let spent = my_cpu() - cpu;
    eprintln!("client CPU over 40 slow requests: {spent:?}");
    assert!(spent < Duration::from_millis(200), "spun for a slow server: {spent:?} of CPU");
}

#[test]
fn replies_are_the_same_with_busy_poll_and_the_window_is_checked() {
    for window in [Duration::ZERO, Duration::from_micros(50), MAX_BUSY_POLL] {
        let mut c = connect(echo_after(Duration::ZERO), window);
        let lines: Vec<Vec<u8>> = (0..100).map(|i| format!("line {i}").into_bytes()).collect();
        for line in &lines {
            assert_eq!(&c.request(line).unwrap(), line);
        }
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        assert_eq!(c.pipeline(&refs).unwrap(), lines);
    }
    let too_long = MAX_BUSY_POLL + Duration::from_micros(1);
    let port = echo_after(Duration::ZERO);
    let opts = Options { busy_poll: too_long, ..Options::default() };
    let err = Client::connect("127.0.0.1", port, opts).unwrap_err();
    assert_eq!(err.to_string(), "busy_poll must be at most 100000 µs");
    let mut c = connect(port, Duration::ZERO);
    assert_eq!(c.set_busy_poll(too_long).unwrap_err().to_string(), "busy_poll must be at most 100000 µs");
    assert_eq!(c.options().busy_poll, Duration::ZERO, "a refused window changes nothing");
    c.set_busy_poll(MAX_BUSY_POLL).unwrap();
    assert_eq!(c.request(b"after").unwrap(), b"after");
}
