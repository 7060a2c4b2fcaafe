//! TLS listeners and clients end to end, with the bad inputs of issue 12: every one gets a
//! clear error, nothing panics, and other clients are served meanwhile.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::tests::Pki;
use super::*;
use crate::client::{Client, Options};
use crate::server::{BoundAddr, Response, Server, ServerConfig, Service};

fn tcp_addr(server: &Server) -> SocketAddr {
    match server.local_addrs()[0] {
        BoundAddr::Tcp(a) => a,
        ref other => panic!("not TCP: {other:?}"),
    }
}

fn start(tls: ServerTls) -> Server {
    start_with(tls, crate::server::Limits::default())
}

fn start_with(tls: ServerTls, limits: crate::server::Limits) -> Server {
    let config = ServerConfig::new(Service::Custom)
        .limits(limits)
        .tls(tls)
        .tcp("127.0.0.1:0".parse().unwrap())
        .default_handler(|r: &crate::server::Request<'_>| Response::Reply(r.line.to_vec()))
        .command("whoami", |r: &crate::server::Request<'_>| {
            Response::Reply(format!("{} {}", r.transport.name(), r.peer_cert.unwrap_or("-")).into_bytes())
        });
    Server::start(config).unwrap()
}

fn opts(tls: ClientTls) -> Options {
    Options { timeout: Some(Duration::from_secs(5)), tls: Some(tls), ..Options::default() }
}

fn connect(server: &Server, tls: ClientTls) -> crate::Result<Client> {
    Client::connect("127.0.0.1", tcp_addr(server).port(), opts(tls))
}

fn works(server: &Server, pki: &Pki) {
    let mut c = connect(server, pki.client_tls()).unwrap();
    assert_eq!(c.request(b"hello").unwrap(), b"hello");
}

/// Waits (bounded) until the server's counters satisfy `f`.
fn eventually(server: &Server, f: impl Fn(&crate::server::Stats) -> bool) -> crate::server::Stats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = server.stats();
        if f(&s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn client_and_server_talk_tls() {
    let pki = Pki::new();
    let server = start(pki.server_tls("server"));
    assert_eq!(server.tls_addrs(), &[tcp_addr(&server)]);
    let mut c = connect(&server, pki.client_tls()).unwrap();
    assert_eq!(c.request(b"whoami").unwrap(), b"tls -");
    let lines: Vec<String> = (0..2000).map(|i| format!("line {i} {}", "x".repeat(100))).collect();
    let replies = c.pipeline(&lines).unwrap();
    assert_eq!(replies.len(), 2000);
    assert_eq!(replies[1999], lines[1999].as_bytes());
    c.close();
    let s = eventually(&server, |s| s.handshakes == 1);
    assert_eq!((s.handshakes, s.handshake_failures), (1, 0));
}

#[test]
fn certificate_failures_are_typed_like_openssl() {
    let pki = Pki::new();
    let expected = [("expired", 10, "certificate has expired"), ("other", 64, "IP address mismatch")];
    for (name, code, text) in expected {
        let server = start(pki.server_tls(name));
        match connect(&server, pki.client_tls()) {
            Err(crate::Error::TlsCertificate { code: c, message }) => {
                assert_eq!(c, code, "{name}: {message}");
                assert!(message.contains(text), "{name}: {message}");
            }
            other => panic!("{name}: {other:?}"),
        }
        works_after_failure(&server, &pki, name);
    }
    // A CA the client does not know.
    let server = start(pki.server_tls("server"));
    let strangers = ClientTls { cafile: Some(pki.path("rogue-ca.pem")), ..ClientTls::default() };
    match connect(&server, strangers) {
        Err(crate::Error::TlsCertificate { code: 20, message }) => {
            assert!(message.contains("local issuer"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let s = eventually(&server, |s| s.handshake_failures == 1);
    assert_eq!(s.handshake_failures, 1);
    // Without the name check, and without any check, the other-name certificate is accepted.
    let server = start(pki.server_tls("other"));
    connect(&server, ClientTls { verify: Verify::NoHostname, ..pki.client_tls() }).unwrap();
    connect(&server, ClientTls { verify: Verify::None, ..ClientTls::default() }).unwrap();
    connect(&server, ClientTls { server_name: Some("other.example".into()), ..pki.client_tls() }).unwrap();
}

/// A server whose certificate a client refused still serves the clients that accept it.
fn works_after_failure(server: &Server, pki: &Pki, name: &str) {
    let tls = ClientTls { verify: Verify::None, ..pki.client_tls() };
    let mut c = connect(server, tls).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(c.request(b"still here").unwrap(), b"still here");
}

#[test]
fn mutual_tls_requires_a_certificate_from_the_ca() {
    let pki = Pki::new();
    let server = start(pki.server_tls("server").client_ca(pki.path("ca.pem")));
    let alice = ClientTls { cert: Some(pki.path("client.pem")), key: Some(pki.path("client.key")), ..pki.client_tls() };
    let mut c = connect(&server, alice).unwrap();
    assert_eq!(c.request(b"whoami").unwrap(), b"tls CN=alice, O=netcore tests");

    // Without a certificate: TLS 1.3 clients learn it at the first read.
    let refused = connect(&server, pki.client_tls()).and_then(|mut c| c.request(b"hello"));
    assert!(matches!(refused, Err(crate::Error::Tls(_))), "{refused:?}");
    let mallory = ClientTls {
        cert: Some(pki.path("rogue-client.pem")),
        key: Some(pki.path("rogue-client.key")),
        ..pki.client_tls()
    };
    let refused = connect(&server, mallory).and_then(|mut c| c.request(b"hello"));
    assert!(matches!(refused, Err(crate::Error::Tls(_))), "{refused:?}");
    assert_eq!(c.request(b"still served").unwrap(), b"still served");
    let s = eventually(&server, |s| s.handshake_failures == 2);
    assert_eq!((s.handshakes, s.handshake_failures), (1, 2));
}

#[test]
fn plaintext_and_garbage_on_a_tls_port_are_closed() {
    let pki = Pki::new();
    let server = start(pki.server_tls("server"));
    let plain = Options { timeout: Some(Duration::from_secs(5)), ..Options::default() };
    let mut c = Client::connect("127.0.0.1", tcp_addr(&server).port(), plain).unwrap();
    let answer = c.request(b"hello");
    assert!(answer.is_err(), "{answer:?}");
    let mut raw = TcpStream::connect(tcp_addr(&server)).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 0xff, 0xfe]).unwrap();
    let mut buf = Vec::new();
    let _ = raw.read_to_end(&mut buf); // an alert, then the close
    works(&server, &pki);
    let s = eventually(&server, |s| s.handshake_failures == 2);
    assert_eq!(s.handshake_failures, 2);
}

#[test]
fn tls_client_on_a_plain_port_gets_a_clear_error() {
    let pki = Pki::new();
    let server = Server::start(ServerConfig::new(Service::Echo)).unwrap();
    match connect(&server, pki.client_tls()) {
        Err(crate::Error::Tls(m)) => assert!(m.contains("TLS"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut c = Client::connect("127.0.0.1", tcp_addr(&server).port(), Options::default()).unwrap();
    assert_eq!(c.request(b"fine").unwrap(), b"fine");
}

#[test]
fn stalled_handshakes_are_cut_off_and_capped() {
    let pki = Pki::new();
    let tls = ServerTls { max_handshakes: 2, ..pki.server_tls("server") };
    let limits = crate::server::Limits { handshake_timeout: Some(Duration::from_millis(300)), ..Default::default() };
    let server = start_with(tls, limits);
    let started = Instant::now();
    let stalled: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(tcp_addr(&server)).unwrap()).collect();
    for mut s in stalled {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "closed without a reply");
    }
    assert!(started.elapsed() < Duration::from_secs(4));
    works(&server, &pki);
    let s = eventually(&server, |s| s.handshake_failures == 3 && s.connections_open == 0);
    assert_eq!((s.handshake_failures, s.connections_open), (3, 0));
}

#[test]
fn bad_files_fail_the_start_and_reload_keeps_connections() {
    let pki = Pki::new();
    let bad = ServerConfig::new(Service::Echo).tls(ServerTls::new(pki.path("server.pem"), pki.path("gone.key")));
    let e = Server::start(bad).unwrap_err().to_string();
    assert!(e.contains("gone.key"), "{e}");
    let e = Server::start(ServerConfig::new(Service::Echo).tls_listener("127.0.0.1:0".parse().unwrap()));
    assert!(e.unwrap_err().to_string().contains("tls_cert"));

    std::fs::copy(pki.path("server.pem"), pki.path("live.pem")).unwrap();
    std::fs::copy(pki.path("server.key"), pki.path("live.key")).unwrap();
    let server = start(ServerTls::new(pki.path("live.pem"), pki.path("live.key")));
    let mut before = connect(&server, pki.client_tls()).unwrap();
    std::fs::copy(pki.path("other.pem"), pki.path("live.pem")).unwrap();
    std::fs::copy(pki.path("other.key"), pki.path("live.key")).unwrap();
    server.reload_tls().unwrap();
    assert_eq!(before.request(b"same connection").unwrap(), b"same connection");
    let renamed = ClientTls { server_name: Some("other.example".into()), ..pki.client_tls() };
    connect(&server, renamed).unwrap();
    std::fs::write(pki.path("live.key"), "not a key").unwrap();
    assert!(server.reload_tls().unwrap_err().to_string().contains("live.key"));
    assert!(Server::start(ServerConfig::new(Service::Echo)).unwrap().reload_tls().is_err());
}

#[test]
fn plain_and_tls_listeners_side_by_side() {
    let pki = Pki::new();
    let config = ServerConfig::new(Service::Echo)
        .tls(pki.server_tls("server"))
        .tcp("127.0.0.1:0".parse().unwrap())
        .tls_listener("127.0.0.1:0".parse().unwrap());
    let server = Server::start(config).unwrap();
    let ports: Vec<u16> = server.local_addrs().iter().map(|a| a.port()).collect();
    assert_eq!(server.tls_addrs().len(), 1);
    assert_eq!(server.tls_addrs()[0].port(), ports[1]);
    let mut plain = Client::connect("127.0.0.1", ports[0], Options::default()).unwrap();
    assert_eq!(plain.request(b"a").unwrap(), b"a");
    let mut tls = Client::connect("127.0.0.1", ports[1], opts(pki.client_tls())).unwrap();
    assert_eq!(tls.request(b"b").unwrap(), b"b");
}
