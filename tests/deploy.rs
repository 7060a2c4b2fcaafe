//! Running behind load balancers and service managers: SO_REUSEPORT, the PROXY protocol,
//! passed sockets, metrics and the drain on stop (docs/deploy.md).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use netcore::server::{BoundAddr, Limits, Listen, ProxyProtocol, Request, Response, Server, ServerConfig, Service};

fn tcp_addr(s: &Server) -> SocketAddr {
    match &s.local_addrs()[0] {
        BoundAddr::Tcp(a) => *a,
        other => panic!("not TCP: {other:?}"),
    }
}

/// A command server whose `whoami` answers the peer the engine saw.
fn whoami_config() -> ServerConfig {
    ServerConfig::new(Service::Command)
        .tcp("127.0.0.1:0".parse().unwrap())
        .command("whoami", |r: &Request<'_>| Response::Reply(r.peer.as_bytes().to_vec()))
}

struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client { reader: BufReader::new(s) }
    }
    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader.read_line(&mut l).unwrap();
        l.trim_end_matches('\n').to_string()
    }
    fn ask(&mut self, line: &str) -> String {
        self.send(format!("{line}\n").as_bytes());
        self.line()
    }
    fn rest(mut self) -> String {
        let mut s = String::new();
        let _ = self.reader.read_to_string(&mut s);
        s
    }
}

const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// A PROXY v2 header for a TCP/IPv4 client, with `tlvs` after the addresses.
fn v2_header(command: u8, src: &str, dst: &str, tlvs: &[u8]) -> Vec<u8> {
    let (src, dst): (std::net::SocketAddrV4, std::net::SocketAddrV4) = (src.parse().unwrap(), dst.parse().unwrap());
    let mut body = Vec::new();
    body.extend_from_slice(&src.ip().octets());
    body.extend_from_slice(&dst.ip().octets());
    body.extend_from_slice(&src.port().to_be_bytes());
    body.extend_from_slice(&dst.port().to_be_bytes());
    body.extend_from_slice(tlvs);
    let mut h = V2_SIGNATURE.to_vec();
    h.extend_from_slice(&[0x20 | command, 0x11]);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(&body);
    h
}

#[test]
fn two_servers_share_a_port_with_reuse_port_and_one_takes_over() {
    let first = Server::start(whoami_config().reuse_port(true)).unwrap();
    let addr = tcp_addr(&first);
    let second = Server::start(ServerConfig::new(Service::Command).tcp(addr).reuse_port(true)).unwrap();
    // Without the option the port is taken.
    assert!(Server::start(ServerConfig::new(Service::Command).tcp(addr)).is_err());
    for _ in 0..64 {
        assert_eq!(Client::connect(addr).ask("ping"), "pong");
    }
    let (a, b) = (first.stats().connections_total, second.stats().connections_total);
    assert_eq!(a + b, 64);
    assert!(a > 0 && b > 0, "the kernel spread the connections: {a} and {b}");
    first.stop(Duration::from_secs(5)).unwrap();
    for _ in 0..32 {
        assert_eq!(Client::connect(addr).ask("ping"), "pong");
    }
    assert_eq!(second.stats().connections_total, b + 32, "the other server took every new connection");
}

#[test]
fn the_proxy_header_gives_the_real_client_address() {
    let server = Server::start(whoami_config().proxy_protocol(ProxyProtocol::All).token("s3cret")).unwrap();
    let addr = tcp_addr(&server);
    // Version 2 with TLVs (ALPN, a NOOP and an unknown type), the token and requests in the
    // same packet: the header is cut exactly.
    let tlvs = [0x01, 0x00, 0x02, b'h', b'2', 0x04, 0x00, 0x00, 0xE0, 0x00, 0x03, 1, 2, 3];
    let mut c = Client::connect(addr);
    let mut first = v2_header(1, "203.0.113.9:40001", "127.0.0.1:21560", &tlvs);
    first.extend_from_slice(b"s3cret\nwhoami\n");
    c.send(&first);
    assert_eq!(c.line(), "ok");
    assert_eq!(c.line(), "203.0.113.9:40001");
    // Version 1.
    let mut c = Client::connect(addr);
    c.send(b"PROXY TCP6 2001:db8::5 ::1 4711 21560\r\n");
    assert_eq!(c.ask("s3cret"), "ok");
    assert_eq!(c.ask("whoami"), "[2001:db8::5]:4711");
    // LOCAL (the balancer's own health check) keeps the connection's address.
    let mut c = Client::connect(addr);
    c.send(&v2_header(0, "0.0.0.0:0", "0.0.0.0:0", &[]));
    assert_eq!(c.ask("s3cret"), "ok");
    assert!(c.ask("whoami").starts_with("127.0.0.1:"));
    assert_eq!(server.stats().handshakes, 3);
}

#[test]
fn without_the_option_a_proxy_header_is_an_ordinary_line() {
    let server = Server::start(whoami_config()).unwrap();
    let mut c = Client::connect(tcp_addr(&server));
    assert_eq!(c.ask("PROXY TCP4 203.0.113.9 127.0.0.1 1234 21560"), "welcome");
    assert!(c.ask("whoami").starts_with("127.0.0.1:"), "no spoofing");
    let server = Server::start(whoami_config().token("s3cret")).unwrap();
    let mut c = Client::connect(tcp_addr(&server));
    assert_eq!(c.ask("PROXY TCP4 203.0.113.9 127.0.0.1 1234 21560"), "error: authentication required");
    assert_eq!(c.rest(), "", "closed");
    assert_eq!(server.stats().rejected, 1);
}

#[test]
fn a_proxy_listener_refuses_connections_without_a_valid_header() {
    let mut config = whoami_config().proxy_protocol(ProxyProtocol::All);
    config.limits = Limits { handshake_timeout: Some(Duration::from_millis(300)), ..Limits::default() };
    let server = Server::start(config).unwrap();
    let addr = tcp_addr(&server);
    let mut c = Client::connect(addr);
    c.send(b"whoami\n");
    assert!(c.line().starts_with("error: invalid PROXY protocol header"));
    assert_eq!(c.rest(), "");
    let mut c = Client::connect(addr);
    let mut bad = v2_header(1, "1.2.3.4:5", "6.7.8.9:10", &[]);
    bad[12] = 0x21 | 0x0E; // an unknown command
    c.send(&bad);
    assert!(c.line().contains("version 2"));
    // Silent, or a header cut short: refused once the handshake timeout passes.
    let silent = Client::connect(addr);
    let mut cut = Client::connect(addr);
    cut.send(&v2_header(1, "1.2.3.4:5", "6.7.8.9:10", &[])[..20]);
    let started = std::time::Instant::now();
    assert!(silent.rest().contains("no header within 300 ms"));
    assert!(cut.rest().contains("no header within 300 ms"));
    assert!(started.elapsed() < Duration::from_secs(5));
    let stats = server.stats();
    assert_eq!((stats.handshake_failures, stats.handshakes, stats.requests), (4, 0, 0));
}

#[test]
fn proxy_protocol_can_be_on_for_one_listener_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lb.sock");
    let config = whoami_config().unix(&path).proxy_protocol(ProxyProtocol::Only(vec![Listen::Unix(path.clone())]));
    let server = Server::start(config).unwrap();
    assert!(Client::connect(tcp_addr(&server)).ask("whoami").starts_with("127.0.0.1:"));
    let mut u = UnixStream::connect(&path).unwrap();
    u.write_all(b"PROXY TCP4 198.51.100.1 127.0.0.1 999 1\r\nwhoami\n").unwrap();
    let mut reply = String::new();
    BufReader::new(u).read_line(&mut reply).unwrap();
    assert_eq!(reply, "198.51.100.1:999\n");
    let not_a_listener =
        ServerConfig::new(Service::Echo).proxy_protocol(ProxyProtocol::Only(vec![Listen::Unix("/nope".into())]));
    assert!(Server::start(not_a_listener).unwrap_err().to_string().contains("not a listener"));
}

#[test]
fn passed_sockets_are_served_instead_of_binding() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_at = tcp.local_addr().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_at = udp.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passed.sock");
    let unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let config = ServerConfig::new(Service::Command).fd(tcp.into_raw_fd()).fd(udp.into_raw_fd()).fd(unix.into_raw_fd());
    let server = Server::start(config).unwrap();
    assert_eq!(server.local_addrs(), &[BoundAddr::Tcp(tcp_at), BoundAddr::Udp(udp_at), BoundAddr::Unix(path.clone())]);
    assert_eq!(Client::connect(tcp_at).ask("ping"), "pong");
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    client.send_to(b"ping", udp_at).unwrap();
    let mut buf = [0u8; 64];
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    let mut u = UnixStream::connect(&path).unwrap();
    u.write_all(b"ping\n").unwrap();
    let mut reply = String::new();
    BufReader::new(&u).read_line(&mut reply).unwrap();
    assert_eq!(reply, "pong\n");
    server.stop(Duration::from_secs(5)).unwrap();
    assert!(TcpStream::connect(tcp_at).is_err(), "the server closed the socket it was given");
    assert!(path.exists(), "a passed Unix socket's file is its owner's to remove");

    let file = std::fs::File::open("/dev/null").unwrap();
    let err = Server::start(ServerConfig::new(Service::Echo).fd(file.into_raw_fd())).unwrap_err();
    assert!(err.to_string().contains("is not a socket"), "{err}");
}

#[test]
fn command_counts_follow_a_command_added_while_a_client_is_connected() {
    // Connections remember how they counted each name; adding a command must change that.
    let server = Server::start(whoami_config()).unwrap();
    let mut c = Client::connect(tcp_addr(&server));
    for line in ["later", "Later", "ping", "PING"] {
        c.ask(line);
    }
    server.add_command("later", |_: &Request<'_>| Response::Reply(b"now".to_vec())).unwrap();
    assert_eq!(c.ask("later"), "now");
    assert_eq!(c.ask("LATER"), "now");
    let stats = c.ask("stats");
    assert!(
        stats.contains(" cmd_other=2") && stats.contains(" cmd_later=2") && stats.contains(" cmd_ping=2"),
        "{stats}"
    );
    server.stop(Duration::from_secs(5)).unwrap();
}

#[test]
fn metrics_and_the_stats_command_tell_the_same_numbers() {
    let config = whoami_config().metrics("127.0.0.1:0".parse().unwrap());
    let server = Server::start(config).unwrap();
    let mut c = Client::connect(tcp_addr(&server));
    for line in ["ping", "ping", "whoami", "date", "no-such-command"] {
        c.ask(line);
    }
    let stats = c.ask("stats");
    assert!(stats.starts_with("connections_open=1 connections_total=1 requests=5 "), "{stats}");
    assert!(
        stats.contains(" cmd_ping=2") && stats.contains(" cmd_whoami=1") && stats.contains(" cmd_other=1"),
        "{stats}"
    );
    let metrics = server.metrics_addr().expect("metrics address");
    let scrape = || {
        let mut http = TcpStream::connect(metrics).unwrap();
        http.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        http.read_to_string(&mut text).unwrap();
        text
    };
    // A request's duration is observed just after its reply is flushed: the client can read
    // the reply a moment before the histogram counts it (bounded wait, then the checks).
    let mut text = scrape();
    for _ in 0..200 {
        if text.contains("netcore_request_duration_seconds_count 6\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        text = scrape();
    }
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for want in [
        "netcore_requests_total 6\n",
        "netcore_connections_open 1\n",
        "netcore_connections_total 1\n",
        "netcore_command_requests_total{command=\"ping\"} 2\n",
        "netcore_command_requests_total{command=\"stats\"} 1\n",
        "netcore_request_duration_seconds_count 6\n",
        "netcore_handshakes_total 0\n",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
    assert_eq!(server.metrics_text().lines().count(), text.split("\r\n\r\n").nth(1).unwrap().lines().count());
    server.stop(Duration::from_secs(5)).unwrap();
    // tiny_http's accept thread closes the listener as it ends, just after.
    let closed = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        TcpStream::connect(metrics).is_err()
    });
    assert!(closed, "the endpoint stops with the server");
}

/// Clients keep asking over persistent connections while the server stops: every request
/// the server read is answered (its count equals the replies the clients got), and every
/// reply is right.
#[test]
fn stopping_under_load_loses_no_reply_that_was_read() {
    let server = Server::start(ServerConfig::new(Service::Echo).tcp("127.0.0.1:0".parse().unwrap())).unwrap();
    let addr = tcp_addr(&server);
    let clients: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let mut answered = 0u64;
                for n in 0..1_000_000u64 {
                    let want = format!("c{i}-{n}");
                    if c.reader.get_mut().write_all(format!("{want}\n").as_bytes()).is_err() {
                        break;
                    }
                    let mut got = String::new();
                    match c.reader.read_line(&mut got) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => assert_eq!(got, format!("{want}\n")),
                    }
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    server.stop(Duration::from_secs(3)).unwrap();
    let answered: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(answered > 100, "load ran: {answered}");
    assert_eq!(server.stats().requests, answered, "every request read got its reply");
    assert!(started.elapsed() < Duration::from_secs(6));
}

/// A client that connects just before the stop and sends its request a little later (a
/// balancer forwarding it) is still answered.
#[test]
fn a_request_already_on_its_way_is_answered_during_the_stop() {
    let server = Server::start(ServerConfig::new(Service::Command).tcp("127.0.0.1:0".parse().unwrap())).unwrap();
    let mut c = Client::connect(tcp_addr(&server));
    std::thread::sleep(Duration::from_millis(50));
    let stopper = std::thread::spawn(move || {
        server.stop(Duration::from_secs(5)).unwrap();
        server
    });
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(c.ask("ping"), "pong");
    assert_eq!(c.rest(), "", "then closed, once quiet");
    let server = stopper.join().unwrap();
    assert_eq!(server.stats().connections_open, 0);
}
