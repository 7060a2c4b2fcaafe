//! Injected network faults, each in a network namespace the test creates (skipped with a
//! message when not root; CI runs as root): random loss, a link gone silent mid-request, a
//! reset mid-reply and a 64 kbit/s link (nftables, tc tbf), and delay with jitter,
//! duplication and reordering (user-space proxies: this kernel has no tc netem). What must
//! hold: the client's timeouts fire within their bound, UDP retries get the right answer and
//! never a stale one, TCP clients get every reply exactly once and in order or a clear error,
//! the server frees a blackholed client's slot by its idle timeout, and `netcore bench`
//! reports errors rather than hanging. Each test is bounded to a few seconds.

mod netfault;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use netcore::client::udp::{self, UdpOptions};
use netcore::client::{Client, Options};
use netcore::server::{BoundAddr, Limits, Request, Response, Server, ServerConfig, Service};
use netcore::Error;
use netfault::{Mischief, Netns, TcpProxy, UdpProxy};

/// Slack for timing checks on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(1500);

fn addr_of(server: &Server, udp: bool) -> SocketAddr {
    server
        .local_addrs()
        .iter()
        .find_map(|a| match a {
            BoundAddr::Tcp(a) if !udp => Some(*a),
            BoundAddr::Udp(a) if udp => Some(*a),
            _ => None,
        })
        .expect("a bound address")
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Echo over TCP and UDP: every reply names its request.
fn echo_config() -> ServerConfig {
    ServerConfig::new(Service::Echo).tcp(local()).udp(local())
}

fn client(addr: SocketAddr, timeout: Duration) -> Client {
    let opts = Options { timeout: Some(timeout), max_reply: 4 << 20, ..Options::default() };
    Client::connect(&addr.ip().to_string(), addr.port(), opts).expect("connect")
}

/// Errors a client may end with when the network fails it: each says what happened.
fn is_clear_network_error(e: &Error) -> bool {
    matches!(e, Error::Timeout | Error::ConnectionClosed | Error::Os(_))
}

/// Sends `rounds` batches of pipelined requests and single requests; returns how many
/// replies came back, checking each is the right one, once, in order. Stops at the first
/// error, which must be a clear network error.
fn echo_rounds(c: &mut Client, rounds: usize, tag: &str) -> Result<usize, Error> {
    let mut answered = 0;
    for round in 0..rounds {
        let batch: Vec<String> = (0..10).map(|i| format!("{tag}-{round}-{i}")).collect();
        let replies = c.pipeline(&batch)?;
        let expected: Vec<Vec<u8>> = batch.iter().map(|b| b.as_bytes().to_vec()).collect();
        assert_eq!(replies, expected, "pipelined replies, once each, in order");
        answered += batch.len();
        let single = format!("{tag}-{round}-single");
        assert_eq!(c.request(single.as_bytes())?, single.as_bytes());
        answered += 1;
    }
    Ok(answered)
}

fn tcp_under_loss(percent: u32, rounds: usize, timeout: Duration) -> Option<(usize, Option<Error>)> {
    let ns = Netns::new("loss")?;
    let server = ns.enter(|| Server::start(echo_config()).unwrap());
    let addr = addr_of(&server, false);
    ns.lose("tcp", addr.port(), percent);
    Some(ns.enter(move || {
        let mut c = client(addr, timeout);
        match echo_rounds(&mut c, rounds, "loss") {
            Ok(n) => (n, None),
            Err(e) => (0, Some(e)),
        }
    }))
}

#[test]
fn tcp_with_10_percent_loss_gets_every_reply_once_in_order() {
    let Some((answered, err)) = tcp_under_loss(10, 5, Duration::from_secs(20)) else { return };
    assert!(err.is_none(), "10% loss must be survived by TCP retransmission: {err:?}");
    assert_eq!(answered, 55);
}

#[test]
fn tcp_with_30_percent_loss_gets_every_reply_once_or_a_clear_error() {
    let Some((_, err)) = tcp_under_loss(30, 3, Duration::from_secs(8)) else { return };
    if let Some(e) = err {
        assert!(is_clear_network_error(&e), "{e:?}");
    }
}

#[test]
fn udp_with_30_percent_loss_retries_until_the_right_answer() {
    let Some(ns) = Netns::new("udploss") else { return };
    let server = ns.enter(|| Server::start(echo_config()).unwrap());
    let addr = addr_of(&server, true);
    ns.lose("udp", addr.port(), 30);
    // Each attempt gets through both ways with p = 0.49; 20 retries leave ~1e-6 per request.
    let opts = UdpOptions { timeout: Duration::from_millis(100), retries: 20 };
    ns.enter(move || {
        for i in 0..30 {
            let payload = format!("udp-{i}");
            let reply = udp::request(&addr.ip().to_string(), addr.port(), payload.as_bytes(), &opts)
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
            assert_eq!(reply, payload.as_bytes(), "request {i} got another request's answer");
        }
    });
    assert!(server.stats().requests > 30, "losses made the client resend: {:?}", server.stats());
}

#[test]
fn udp_duplicated_and_reordered_datagrams_never_give_a_stale_answer() {
    // No namespace needed: the proxy on loopback does the mischief.
    let server = Server::start(echo_config()).unwrap();
    let addr = addr_of(&server, true);
    for mischief in [
        Mischief { duplicate: true, ..Mischief::default() },
        Mischief { reorder: true, ..Mischief::default() },
        Mischief { duplicate: true, reorder: true, jitter: Duration::from_millis(20), ..Mischief::default() },
    ] {
        let proxy = UdpProxy::start(addr, mischief);
        let opts = UdpOptions { timeout: Duration::from_millis(150), retries: 10 };
        for i in 0..20 {
            let payload = format!("dup-{i}");
            let reply = udp::request("127.0.0.1", proxy.addr.port(), payload.as_bytes(), &opts)
                .unwrap_or_else(|e| panic!("{mischief:?}, request {i}: {e}"));
            assert_eq!(reply, payload.as_bytes(), "{mischief:?}: request {i} got another request's answer");
        }
        assert!(proxy.to_server.load(std::sync::atomic::Ordering::Relaxed) > 20, "{mischief:?}");
    }
}

#[test]
fn tcp_with_200ms_delay_and_jitter_answers_and_timeouts_fire_in_bound() {
    let server = Server::start(echo_config()).unwrap();
    let delay = Duration::from_millis(200);
    let proxy = TcpProxy::start(
        addr_of(&server, false),
        Mischief { delay, jitter: Duration::from_millis(100), ..Mischief::default() },
    );
    let mut c = client(proxy.addr, Duration::from_secs(5));
    for i in 0..4 {
        let started = Instant::now();
        let line = format!("slow-{i}");
        assert_eq!(c.request(line.as_bytes()).unwrap(), line.as_bytes());
        // There and back: at least two delays.
        assert!(started.elapsed() >= 2 * delay, "{:?}", started.elapsed());
    }
    assert_eq!(echo_rounds(&mut c, 2, "delayed").unwrap(), 22);
    // A timeout shorter than the round trip fires within its bound, and closes the client.
    let timeout = Duration::from_millis(150);
    c.set_timeout(Some(timeout));
    let started = Instant::now();
    let err = c.request(b"too slow").unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert!(took >= timeout && took < timeout + SLACK, "timeout of {timeout:?} fired after {took:?}");
    assert!(matches!(c.request(b"again"), Err(Error::InvalidState(_))), "a timed-out client is closed");
}

#[test]
fn a_link_gone_silent_times_out_the_client_and_the_server_frees_every_slot() {
    let Some(ns) = Netns::new("silent") else { return };
    let idle = Duration::from_secs(1);
    let limits = Limits { idle_timeout: Some(idle), max_connections: 3, ..Limits::default() };
    let server = ns.enter(move || Server::start(echo_config().limits(limits)).unwrap());
    let addr = addr_of(&server, false);
    let clients: Vec<Client> = ns.enter(move || {
        (0..3)
            .map(|i| {
                let mut c = client(addr, Duration::from_millis(700));
                let line = format!("before-{i}");
                assert_eq!(c.request(line.as_bytes()).unwrap(), line.as_bytes());
                c
            })
            .collect()
    });
    assert_eq!(server.stats().connections_open, 3);
    ns.blackhole(addr.port());
    for mut c in clients {
        let started = Instant::now();
        let err = c.request(b"into the void").unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, Error::Timeout), "{err:?}");
        assert!(took >= Duration::from_millis(700) && took < Duration::from_millis(700) + SLACK, "{took:?}");
    }
    // The server hears nothing either: each slot is freed by the idle timeout.
    let deadline = Instant::now() + idle + Duration::from_secs(5);
    while server.stats().connections_open > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(server.stats().connections_open, 0, "blackholed clients still hold slots: {:?}", server.stats());
    ns.flush_rules();
    // All three slots are free again.
    ns.enter(move || {
        let mut fresh: Vec<Client> = (0..3).map(|_| client(addr, Duration::from_secs(5))).collect();
        for (i, c) in fresh.iter_mut().enumerate() {
            let line = format!("after-{i}");
            assert_eq!(c.request(line.as_bytes()).unwrap(), line.as_bytes());
        }
    });
}

/// A server with a `big` command answering `size` bytes, on a 64 kbit/s link.
fn slow_big_server(ns: &Netns, size: usize) -> (Server, SocketAddr) {
    ns.slow_link("64kbit");
    let server = ns.enter(move || {
        let big = move |_: &Request<'_>| Response::Reply(vec![b'x'; size]);
        Server::start(ServerConfig::new(Service::Command).tcp(local()).command("big", big)).unwrap()
    });
    let addr = addr_of(&server, false);
    (server, addr)
}

#[test]
fn a_64_kbit_link_delivers_the_whole_reply() {
    let Some(ns) = Netns::new("slow") else { return };
    let (_server, addr) = slow_big_server(&ns, 16 * 1024);
    ns.enter(move || {
        let mut c = client(addr, Duration::from_secs(10));
        let started = Instant::now();
        let reply = c.request(b"big").unwrap();
        assert_eq!(reply, vec![b'x'; 16 * 1024]);
        // 16 KiB at 64 kbit/s is about 2 s (tbf allows a small burst).
        assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
        assert_eq!(c.request(b"os").unwrap(), b"[posix]");
    });
}

#[test]
fn a_reset_mid_reply_is_a_clear_error_not_a_short_reply() {
    let Some(ns) = Netns::new("rst") else { return };
    let (_server, addr) = slow_big_server(&ns, 64 * 1024);
    let handle = ns.spawn(move || {
        let mut c = client(addr, Duration::from_secs(20));
        let started = Instant::now();
        (c.request(b"big"), started.elapsed())
    });
    // The 64 KiB reply needs ~8 s on this link: reset it a second in.
    std::thread::sleep(Duration::from_secs(1));
    ns.add_rule(&format!("tcp dport {} reject with tcp reset", addr.port()));
    let (result, took) = handle.join().unwrap();
    let err = result.expect_err("a reset reply must not come back as a complete one");
    assert!(is_clear_network_error(&err), "{err:?}");
    assert!(took < Duration::from_secs(6), "the reset was noticed only after {took:?}");
}

#[test]
fn bench_reports_errors_on_a_blackholed_server_instead_of_hanging() {
    let Some(ns) = Netns::new("bench") else { return };
    let server = ns.enter(|| Server::start(echo_config()).unwrap());
    let addr = addr_of(&server, false);
    let bin = env!("CARGO_BIN_EXE_netcore");
    let port = addr.port().to_string();
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", &ns.name, bin, "bench", "127.0.0.1", &port, "--conns", "4", "--duration", "3"])
        .args(["--request", "ping", "--expect", "ping", "--timeout", "1", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    ns.blackhole(addr.port());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("netcore bench still running 20 s after the link went silent");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!status.success(), "bench must fail when requests time out: {stdout} {stderr}");
    assert!(stderr.contains("tim") || stdout.contains("tim"), "bench says what failed: {stdout} {stderr}");
}
