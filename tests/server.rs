//! The engine from Rust: every built-in service over TCP, UDP and Unix sockets, both framings,
//! user commands, every limit and bad input, the lifecycle. Loopback and temp dirs only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netcore::server::{Blocking, BoundAddr, Framing, Limits, Request, Response, Server, ServerConfig, Service};

const T: Duration = Duration::from_secs(20);

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn start(config: ServerConfig) -> Server {
    Server::start(config).expect("server starts")
}

fn tcp_addr(s: &Server) -> SocketAddr {
    s.local_addrs()
        .iter()
        .find_map(|a| if let BoundAddr::Tcp(a) = a { Some(*a) } else { None })
        .expect("a TCP listener")
}

fn udp_addr(s: &Server) -> SocketAddr {
    s.local_addrs()
        .iter()
        .find_map(|a| if let BoundAddr::Udp(a) = a { Some(*a) } else { None })
        .expect("a UDP listener")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(T)).unwrap();
    c.set_write_timeout(Some(T)).unwrap();
    c
}

/// A line client: send a line, read a line.
struct Lines {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Lines {
    fn new(addr: SocketAddr) -> Self {
        let w = connect(addr);
        Lines { r: BufReader::new(w.try_clone().unwrap()), w }
    }
    fn ask(&mut self, line: &str) -> String {
        self.w.write_all(format!("{line}\n").as_bytes()).unwrap();
        self.read_line()
    }
    fn read_line(&mut self) -> String {
        let mut s = String::new();
        self.r.read_line(&mut s).unwrap();
        s
    }
}

fn read_to_end(mut c: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = c.read_to_end(&mut v);
    v
}

fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + T;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn command_service_over_tcp_lines() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.txt"), "x").unwrap();
    std::fs::create_dir(root.path().join("sub")).unwrap();
    std::fs::write(root.path().join("sub/inner"), "x").unwrap();
    let s = start(ServerConfig::new(Service::Command).tcp(local()).root(root.path()));
    let mut c = Lines::new(tcp_addr(&s));
    let date = c.ask("date");
    assert!(date.starts_with('[') && date.ends_with("] date\n"), "{date:?}");
    assert_eq!(c.ask("os"), "[posix]\n");
    assert_eq!(c.ask("ls"), "[\"a.txt\", \"sub\"]\n");
    assert_eq!(c.ask("ls sub"), "[\"inner\"]\n");
    assert_eq!(c.ask("ls .."), "error: '..' is not allowed: ..\n");
    assert_eq!(c.ask("ls /"), "error: absolute paths are not allowed: /\n");
    assert!(c.ask("help").starts_with("commands: date, os, ls [PATH], help, quit, exit"));
    assert_eq!(c.ask("anything else"), "welcome\n");
    assert_eq!(c.ask("quit"), "bye\n");
    assert_eq!(c.read_line(), "", "closed after quit");
    let st = s.stats();
    assert_eq!(st.requests, 9);
    assert_eq!(st.errors, 2);
    assert!(st.bytes_in > 0 && st.bytes_out > 0);
    assert_eq!(st.connections_total, 1);
    s.stop(T).unwrap();
}

#[test]
fn crlf_split_across_reads_pipelining_and_half_close() {
    let s = start(ServerConfig::new(Service::Command).tcp(local()));
    let mut c = connect(tcp_addr(&s));
    c.write_all(b"os\r").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    c.write_all(b"\nhello\r\nos\nda").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    c.write_all(b"te\n").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let out = String::from_utf8(read_to_end(&c)).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert_eq!(&lines[..3], ["[posix]", "welcome", "[posix]"]);
    assert!(lines[3].ends_with("] date"));
    s.stop(T).unwrap();
}

#[test]
fn many_pipelined_requests_answered_in_order() {
    let s = start(ServerConfig::new(Service::Echo).tcp(local()));
    let c = connect(tcp_addr(&s));
    let mut w = c.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let mut batch = String::new();
        for i in 0..5000 {
            batch.push_str(&format!("req-{i}\n"));
        }
        w.write_all(batch.as_bytes()).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let out = String::from_utf8(read_to_end(&c)).unwrap();
    writer.join().unwrap();
    let expected: Vec<String> = (0..5000).map(|i| format!("req-{i}")).collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
    s.stop(T).unwrap();
}

#[test]
fn last_line_without_newline_is_answered_at_eof() {
    let s = start(ServerConfig::new(Service::Echo).tcp(local()));
    let mut c = connect(tcp_addr(&s));
    c.write_all(b"one\ntwo").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&c), b"one\ntwo\n");
    s.stop(T).unwrap();
}

#[test]
fn message_framing_replies_as_is() {
    let s = start(ServerConfig::new(Service::Command).framing(Framing::Message).tcp(local()));
    let mut c = connect(tcp_addr(&s));
    let mut buf = [0u8; 1024];
    c.write_all(b"os").unwrap();
    let n = c.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"[posix]");
    c.write_all(b"hi").unwrap();
    let n = c.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"welcome");
    s.stop(T).unwrap();
}

#[test]
fn greet_over_tcp_udp_and_unix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("greet.sock");
    let s = start(ServerConfig::new(Service::Greet).framing(Framing::Message).tcp(local()).udp(local()).unix(&path));
    // TCP, seed 002's exchange.
    let mut c = connect(tcp_addr(&s));
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Hello, I am server");
    for name in ["client1", "client2"] {
        c.write_all(name.as_bytes()).unwrap();
        let n = c.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], format!("Hello, {name}!").as_bytes());
    }
    c.write_all(b"exit").unwrap();
    assert_eq!(c.read(&mut buf).unwrap(), 0, "exit closes");
    // UDP.
    let u = UdpSocket::bind(local()).unwrap();
    u.set_read_timeout(Some(T)).unwrap();
    u.send_to(b"client1", udp_addr(&s)).unwrap();
    let n = u.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Hello, client1");
    // Unix, with mode 0600.
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut un = UnixStream::connect(&path).unwrap();
    un.set_read_timeout(Some(T)).unwrap();
    let n = un.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Hello, I am server");
    un.write_all(b"unix").unwrap();
    let n = un.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Hello, unix!");
    drop(un);
    s.stop(T).unwrap();
    assert!(!path.exists(), "the socket file is removed on stop");
}

#[test]
fn greet_in_line_mode_closes_on_eof() {
    let s = start(ServerConfig::new(Service::Greet).tcp(local()));
    let mut c = Lines::new(tcp_addr(&s));
    assert_eq!(c.read_line(), "Hello, I am server\n");
    assert_eq!(c.ask("bob"), "Hello, bob!\n");
    c.w.shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.read_line(), "");
    assert!(wait_until(|| s.stats().connections_open == 0));
    s.stop(T).unwrap();
}

#[test]
fn banner_and_echo_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.sock");
    let welcome = "欢迎访问！\r\n".as_bytes().to_vec();
    let s = start(
        ServerConfig::new(Service::Banner(welcome.clone()))
            .framing(Framing::Message)
            .tcp(local())
            .udp(local())
            .unix(&path),
    );
    assert_eq!(read_to_end(connect(tcp_addr(&s))), welcome);
    assert_eq!(read_to_end(UnixStream::connect(&path).unwrap()), welcome);
    let u = UdpSocket::bind(local()).unwrap();
    u.set_read_timeout(Some(T)).unwrap();
    u.send_to(b"x", udp_addr(&s)).unwrap();
    let mut buf = [0u8; 100];
    let n = u.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], &welcome[..]);
    s.stop(T).unwrap();

    let s = start(ServerConfig::new(Service::Banner(b"Thank you for connection".to_vec())).tcp(local()));
    assert_eq!(read_to_end(connect(tcp_addr(&s))), b"Thank you for connection\n");
    s.stop(T).unwrap();

    let s = start(ServerConfig::new(Service::Echo).tcp(local()).udp(local()).unix(&path));
    let mut c = Lines::new(tcp_addr(&s));
    assert_eq!(c.ask("same \u{e9}"), "same \u{e9}\n");
    let mut un = UnixStream::connect(&path).unwrap();
    un.write_all(b"via unix\n").unwrap();
    un.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(un), b"via unix\n");
    u.send_to(b"dgram", udp_addr(&s)).unwrap();
    let n = u.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"dgram");
    s.stop(T).unwrap();
}

#[test]
fn command_service_over_udp_and_unix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sock");
    let s = start(ServerConfig::new(Service::Command).udp(local()).unix(&path).root(dir.path()));
    let u = UdpSocket::bind(local()).unwrap();
    u.set_read_timeout(Some(T)).unwrap();
    let mut buf = [0u8; 1000];
    u.send_to(b"os\n", udp_addr(&s)).unwrap();
    let n = u.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"[posix]");
    u.send_to(b"ls", udp_addr(&s)).unwrap();
    let n = u.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"[\"c.sock\"]");
    let mut un = UnixStream::connect(&path).unwrap();
    un.write_all(b"os\nls ..\n").unwrap();
    un.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(un), b"[posix]\nerror: '..' is not allowed: ..\n");
    s.stop(T).unwrap();
}

#[test]
fn ipv6_loopback_works() {
    let Ok(probe) = std::net::TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    drop(probe);
    let s = start(ServerConfig::new(Service::Command).tcp("[::1]:0".parse().unwrap()).tcp(local()));
    assert_eq!(s.local_addrs().len(), 2);
    let v6 = match s.local_addrs()[0] {
        BoundAddr::Tcp(a) => a,
        _ => unreachable!(),
    };
    assert!(v6.is_ipv6() && v6.port() != 0);
    assert_eq!(Lines::new(v6).ask("os"), "[posix]\n");
    assert_eq!(Lines::new(tcp_addr(&s)).ask("os"), "[posix]\n", "second listener serves too");
    s.stop(T).unwrap();
}

#[test]
fn default_listen_is_loopback_with_a_real_port() {
    let s = start(ServerConfig::new(Service::Echo));
    let a = tcp_addr(&s);
    assert_eq!(a.ip().to_string(), "127.0.0.1");
    assert_ne!(a.port(), 0);
    s.stop(T).unwrap();
}

#[test]
fn user_commands_closures_bytes_and_default() {
    let seen = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let seen2 = seen.clone();
    let config = ServerConfig::new(Service::Command)
        .tcp(local())
        .command("raw", move |r: &Request<'_>| {
            seen2.lock().unwrap().push(r.args().to_vec());
            Response::Reply(format!("{} bytes", r.args().len()).into_bytes())
        })
        .command("boom", |_: &Request<'_>| -> Response { panic!("bug in a handler") })
        .command("shout", |r: &Request<'_>| Response::Reply(r.args().to_ascii_uppercase()));
    let s = start(config);
    let mut c = connect(tcp_addr(&s));
    c.write_all(b"raw \xff\x00\x01junk\nboom\nshout hi\ndate x\n\xff\xfe\nls \x00\n").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let out = read_to_end(&c);
    let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
    assert_eq!(lines[0], b"7 bytes");
    assert_eq!(lines[1], b"error: internal error in handler");
    assert_eq!(lines[2], b"HI");
    assert!(lines[3].ends_with(b"] date"));
    assert_eq!(lines[4], b"error: request is not valid UTF-8");
    assert_eq!(lines[5], b"error: request contains a NUL byte");
    assert_eq!(seen.lock().unwrap()[0], b"\xff\x00\x01junk");
    // Another client is unaffected, and commands can be added while serving.
    s.add_command("late", |_: &Request<'_>| Response::Reply(b"added".to_vec())).unwrap();
    s.set_default_handler(|r: &Request<'_>| Response::Reply([b"default:", r.line].concat())).unwrap();
    let mut c2 = Lines::new(tcp_addr(&s));
    assert_eq!(c2.ask("late"), "added\n");
    assert_eq!(c2.ask("unknown words"), "default:unknown words\n");
    assert!(c2.ask("help").contains("boom, late, raw, shout"));
    assert!(s.add_command("two words", |_: &Request<'_>| Response::NoReply).is_err());
    s.stop(T).unwrap();
}

#[test]
fn replies_with_newlines_stay_one_line() {
    let s = start(
        ServerConfig::new(Service::Custom)
            .tcp(local())
            .command("multi", |_: &Request<'_>| Response::Reply(b"a\nb\r\nc\n".to_vec())),
    );
    let mut c = Lines::new(tcp_addr(&s));
    assert_eq!(c.ask("multi"), "a\\nb\\r\\nc\n");
    assert_eq!(c.ask("nothing"), "error: unknown command: nothing\n");
    s.stop(T).unwrap();
}

#[test]
fn max_connections_is_a_real_cap_and_slots_come_back() {
    let s = start(
        ServerConfig::new(Service::Command).tcp(local()).limits(Limits { max_connections: 2, ..Limits::default() }),
    );
    let a = tcp_addr(&s);
    let mut c1 = Lines::new(a);
    let mut c2 = Lines::new(a);
    assert_eq!(c1.ask("os"), "[posix]\n");
    assert_eq!(c2.ask("os"), "[posix]\n");
    let c3 = connect(a);
    assert_eq!(read_to_end(&c3), b"error: too many connections\n");
    assert_eq!(s.stats().rejected, 1);
    assert_eq!(s.stats().connections_open, 2);
    // A client that vanishes abruptly (RST) gives its slot back.
    let raw = socket2::Socket::from(c1.w.try_clone().unwrap());
    raw.set_linger(Some(Duration::ZERO)).unwrap();
    drop(raw);
    drop(c1);
    assert!(wait_until(|| s.stats().connections_open == 1));
    let mut c4 = Lines::new(a);
    assert_eq!(c4.ask("os"), "[posix]\n");
    drop(c2);
    drop(c4);
    assert!(wait_until(|| s.stats().connections_open == 0));
    // Many come and go: no slot leaks.
    for _ in 0..20 {
        let mut c = Lines::new(a);
        assert_eq!(c.ask("os"), "[posix]\n");
        drop(c);
        // Slots come back asynchronously, once the server has seen the client go.
        assert!(wait_until(|| s.stats().connections_open == 0));
    }
    assert!(wait_until(|| s.stats().connections_open == 0));
    let mut c5 = Lines::new(a);
    let mut c6 = Lines::new(a);
    assert_eq!(c5.ask("os"), "[posix]\n");
    assert_eq!(c6.ask("os"), "[posix]\n");
    s.stop(T).unwrap();
}

#[test]
fn silent_clients_are_closed_by_the_idle_timeout_and_free_their_slot() {
    let limits = Limits { max_connections: 1, idle_timeout: Some(Duration::from_millis(300)), ..Limits::default() };
    let s = start(ServerConfig::new(Service::Command).tcp(local()).limits(limits));
    let silent = connect(tcp_addr(&s));
    let started = Instant::now();
    assert_eq!(read_to_end(&silent), b"", "closed without a word");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(wait_until(|| s.stats().connections_open == 0));
    assert_eq!(Lines::new(tcp_addr(&s)).ask("os"), "[posix]\n");
    s.stop(T).unwrap();
}

#[test]
fn the_idle_timeout_counts_from_the_last_request_not_from_connecting() {
    // The engine arms one idle timer per connection and moves it on when it fires: a client
    // that keeps talking past the limit must never be cut off, and must be once it stops.
    // The pauses leave 600 ms of the limit for a loaded machine to schedule the client.
    let limits = Limits { idle_timeout: Some(Duration::from_millis(800)), ..Limits::default() };
    let s = start(ServerConfig::new(Service::Command).tcp(local()).limits(limits));
    let mut c = Lines::new(tcp_addr(&s));
    let started = Instant::now();
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(c.ask("os"), "[posix]\n");
    }
    let quiet = Instant::now();
    assert!(started.elapsed() >= Duration::from_millis(2000), "talked for over 2 idle limits");
    assert_eq!(c.read_line(), "", "closed once silent");
    let waited = quiet.elapsed();
    assert!(waited >= Duration::from_millis(700) && waited < Duration::from_secs(5), "{waited:?}");
    s.stop(T).unwrap();
}

#[test]
fn line_length_limit_replies_and_closes() {
    let limits = Limits { max_line: 100, ..Limits::default() };
    let s = start(ServerConfig::new(Service::Echo).tcp(local()).limits(limits));
    let mut c = connect(tcp_addr(&s));
    let exact = "x".repeat(100);
    c.write_all(format!("{exact}\r\n").as_bytes()).unwrap();
    c.write_all(&[b'y'; 101]).unwrap();
    let _ = c.write_all(b"\nafter\n");
    let out = read_to_end(&c);
    assert_eq!(out, format!("{exact}\nerror: line too long (limit 100 bytes)\n").as_bytes());
    // Without a newline at all: the server does not buffer forever.
    let mut c = connect(tcp_addr(&s));
    let _ = c.write_all(&[b'z'; 5000]);
    assert_eq!(read_to_end(&c), b"error: line too long (limit 100 bytes)\n");
    s.stop(T).unwrap();
}

#[test]
fn default_line_limit_is_64k() {
    let s = start(ServerConfig::new(Service::Echo).tcp(local()));
    let mut c = connect(tcp_addr(&s));
    let w = c.try_clone().unwrap();
    let line = vec![b'a'; 64 * 1024];
    c.write_all(&line).unwrap();
    c.write_all(b"\n").unwrap();
    let mut r = BufReader::new(w);
    let mut got = Vec::new();
    r.read_until(b'\n', &mut got).unwrap();
    assert_eq!(got.len(), 64 * 1024 + 1);
    let _ = c.write_all(&vec![b'b'; 64 * 1024 + 1]);
    let _ = c.write_all(b"\n");
    got.clear();
    r.read_until(b'\n', &mut got).unwrap();
    assert_eq!(got, b"error: line too long (limit 65536 bytes)\n");
    s.stop(T).unwrap();
}

#[test]
fn a_client_that_never_reads_cannot_grow_server_memory() {
    let limits = Limits { max_output: 64 * 1024, idle_timeout: Some(Duration::from_secs(1)), ..Limits::default() };
    let s = start(ServerConfig::new(Service::Echo).tcp(local()).limits(limits));
    let c = connect(tcp_addr(&s));
    let sock = socket2::Socket::from(c.try_clone().unwrap());
    sock.set_recv_buffer_size(4096).unwrap();
    let mut w = c.try_clone().unwrap();
    w.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    let line = [b"q".repeat(1023), b"\n".to_vec()].concat();
    let limit: usize = 256 * 1024 * 1024;
    let mut sent = 0;
    while sent < limit {
        match w.write(&line) {
            Ok(n) => sent += n,
            Err(_) => break, // blocked: the server stopped reading
        }
    }
    assert!(sent < limit, "the server kept reading from a client that never reads");
    // The stalled connection is dropped once its writes stop progressing (idle timeout).
    assert!(wait_until(|| s.stats().connections_open == 0));
    let st = s.stats();
    assert!(st.bytes_in < limit as u64);
    assert!(st.errors >= 1);
    s.stop(T).unwrap();
}

#[test]
fn token_must_come_first() {
    let s = start(ServerConfig::new(Service::Command).tcp(local()).udp(local()).token("s3cret"));
    let mut c = Lines::new(tcp_addr(&s));
    assert_eq!(c.ask("os"), "error: authentication required\n");
    assert_eq!(c.read_line(), "");
    let mut c = Lines::new(tcp_addr(&s));
    assert_eq!(c.ask("wrong"), "error: authentication required\n");
    let mut c = Lines::new(tcp_addr(&s));
    assert_eq!(c.ask("s3cret"), "ok\n");
    assert_eq!(c.ask("os"), "[posix]\n");
    assert_eq!(s.stats().rejected, 2);
    let u = UdpSocket::bind(local()).unwrap();
    u.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 100];
    u.send_to(b"os", udp_addr(&s)).unwrap();
    assert!(u.recv(&mut buf).is_err(), "no reply without the token");
    u.set_read_timeout(Some(T)).unwrap();
    u.send_to(b"s3cret os", udp_addr(&s)).unwrap();
    let n = u.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"[posix]");
    s.stop(T).unwrap();
}

#[test]
fn http_looking_lines_close_the_connection() {
    let s = start(ServerConfig::new(Service::Echo).tcp(local()));
    for req in [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], b"POST /x HTTP/1.1\r\n", b"os\nHost: evil\r\nos\n"] {
        let mut c = connect(tcp_addr(&s));
        c.write_all(req).unwrap();
        let out = read_to_end(&c);
        assert!(!out.windows(4).any(|w| w == b"HTTP" || w == b"Host"), "nothing reflected: {out:?}");
        if req.starts_with(b"os") {
            assert_eq!(out, b"os\n", "only the line before Host: is answered");
        } else {
            assert_eq!(out, b"");
        }
    }
    let s2 = start(ServerConfig::new(Service::Echo).framing(Framing::Message).tcp(local()));
    let mut c = connect(tcp_addr(&s2));
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(read_to_end(&c), b"");
    assert!(s.stats().rejected >= 3);
    s.stop(T).unwrap();
    s2.stop(T).unwrap();
}

#[test]
fn binary_junk_does_not_hurt_other_clients() {
    let s = start(ServerConfig::new(Service::Command).tcp(local()));
    let mut good = Lines::new(tcp_addr(&s));
    let mut bad = connect(tcp_addr(&s));
    let junk: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    bad.write_all(&junk).unwrap();
    bad.shutdown(Shutdown::Write).unwrap();
    let out = read_to_end(&bad);
    assert!(!out.is_empty());
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.starts_with(b"error: ") || line == b"welcome", "{:?}", String::from_utf8_lossy(line));
    }
    assert_eq!(good.ask("os"), "[posix]\n");
    s.stop(T).unwrap();
}

#[test]
fn unix_socket_files_stale_live_and_foreign() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srv.sock");
    // A stale file from a dead server is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let s = start(ServerConfig::new(Service::Echo).unix(&path));
    let mut c = UnixStream::connect(&path).unwrap();
    c.write_all(b"alive\n").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(c), b"alive\n");
    // A live server is never taken over.
    let err = Server::start(ServerConfig::new(Service::Echo).unix(&path)).unwrap_err();
    assert_eq!(err.code(), libc::EADDRINUSE, "{err}");
    assert_eq!(err.to_string(), format!("cannot listen on {}: address already in use", path.display()));
    let mut c = UnixStream::connect(&path).unwrap();
    c.write_all(b"still\n").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(c), b"still\n");
    s.stop(T).unwrap();
    // A file that is not a socket is never replaced.
    std::fs::write(&path, "precious").unwrap();
    let err = Server::start(ServerConfig::new(Service::Echo).unix(&path)).unwrap_err();
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    // A failed start releases what it bound already, socket files included.
    let err = Server::start(ServerConfig::new(Service::Echo).tcp(local()).unix(&path));
    assert!(err.is_err());
    let taken = std::net::TcpListener::bind(local()).unwrap();
    let fresh = dir.path().join("fresh.sock");
    let err = Server::start(ServerConfig::new(Service::Echo).unix(&fresh).tcp(taken.local_addr().unwrap()));
    assert_eq!(err.unwrap_err().code(), libc::EADDRINUSE);
    assert!(!fresh.exists(), "the socket file of a failed start is removed");
}

#[test]
fn stop_finishes_replies_in_flight_then_closes_everyone() {
    let entered = Arc::new(AtomicUsize::new(0));
    let e2 = entered.clone();
    let s = start(ServerConfig::new(Service::Command).tcp(local()).command(
        "slow",
        Blocking(move |_: &Request<'_>| {
            e2.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            Response::Reply(b"done".to_vec())
        }),
    ));
    let mut busy = Lines::new(tcp_addr(&s));
    let mut idle = Lines::new(tcp_addr(&s));
    assert_eq!(idle.ask("os"), "[posix]\n");
    busy.w.write_all(b"slow\n").unwrap();
    assert!(wait_until(|| entered.load(Ordering::SeqCst) == 1));
    s.stop(T).unwrap();
    assert_eq!(busy.read_line(), "done\n", "the reply in flight was sent");
    assert_eq!(busy.read_line(), "");
    assert_eq!(idle.read_line(), "", "idle clients are closed");
    assert!(!s.is_running());
    assert!(TcpStream::connect(tcp_addr(&s)).is_err(), "no longer accepting");
    s.stop(T).unwrap(); // twice is fine
}

#[test]
fn a_handler_can_stop_its_own_server() {
    let slot: Arc<Mutex<Option<Arc<Server>>>> = Arc::new(Mutex::new(None));
    let slot2 = slot.clone();
    let s = Arc::new(start(ServerConfig::new(Service::Command).tcp(local()).command(
        "shutdown",
        move |_: &Request<'_>| {
            let server = slot2.lock().unwrap().clone().unwrap();
            server.stop(Duration::from_secs(5)).unwrap();
            Response::Reply(b"stopping".to_vec())
        },
    )));
    *slot.lock().unwrap() = Some(s.clone());
    let mut c = Lines::new(tcp_addr(&s));
    assert_eq!(c.ask("shutdown"), "stopping\n");
    assert!(s.wait(Some(T)));
    slot.lock().unwrap().take();
    s.stop(T).unwrap();
    assert_eq!(c.read_line(), "");
}

#[test]
fn serve_forever_returns_after_request_stop() {
    let s = Arc::new(start(ServerConfig::new(Service::Echo).tcp(local())));
    let s2 = s.clone();
    let t = std::thread::spawn(move || s2.serve_forever(T));
    assert!(!s.wait(Some(Duration::from_millis(50))));
    s.request_stop();
    t.join().unwrap().unwrap();
    assert!(TcpStream::connect(tcp_addr(&s)).is_err());
}

#[test]
fn bad_configs_fail_cleanly() {
    let err = Server::start(ServerConfig::new(Service::Command).root("/no/such/dir")).unwrap_err();
    assert!(matches!(err, netcore::Error::InvalidArgument(_)), "{err}");
    let taken = std::net::TcpListener::bind(local()).unwrap();
    let err = Server::start(ServerConfig::new(Service::Echo).tcp(taken.local_addr().unwrap())).unwrap_err();
    assert_eq!(err.code(), libc::EADDRINUSE);
    assert_eq!(err.to_string(), format!("cannot listen on {}: address already in use", taken.local_addr().unwrap()));
    let bad = Limits { max_line: 0, ..Limits::default() };
    assert!(Server::start(ServerConfig::new(Service::Echo).limits(bad)).is_err());
}

#[test]
fn big_replies_to_pipelined_requests_are_not_buffered_without_bound() {
    // Each 4-byte request makes a 100 KiB reply: one read of 1000 requests would be ~100 MB
    // of output if the server answered them all before writing.
    let limits = Limits { max_output: 64 * 1024, idle_timeout: Some(Duration::from_secs(2)), ..Limits::default() };
    let s = start(
        ServerConfig::new(Service::Custom)
            .tcp(local())
            .limits(limits)
            .command("big", |_: &Request<'_>| Response::Reply(vec![b'b'; 100 * 1024])),
    );
    let c = connect(tcp_addr(&s));
    socket2::SockRef::from(&c).set_recv_buffer_size(4096).unwrap();
    let mut w = c.try_clone().unwrap();
    w.write_all(&b"big\n".repeat(1000)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let answered = s.stats().requests;
    assert!(answered < 500, "{answered} requests answered while the client read nothing");
    // The stalled client is dropped after the idle timeout; its slot comes back.
    assert!(wait_until(|| s.stats().connections_open == 0));
    assert!(s.stats().requests < 1000);
    s.stop(T).unwrap();
}

#[test]
fn long_unix_socket_paths_still_get_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    // Fits sun_path, but not with the temporary name's prefix and suffix.
    let room = 100usize.saturating_sub(dir.path().as_os_str().len() + 1);
    let path = dir.path().join("s".repeat(room.max(1)));
    let s = start(ServerConfig::new(Service::Echo).unix(&path));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let mut c = UnixStream::connect(&path).unwrap();
    c.write_all(b"long\n").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(c), b"long\n");
    s.stop(T).unwrap();
    assert!(!path.exists());
}

#[test]
fn stop_gives_up_on_a_stuck_handler_after_its_timeout() {
    let entered = Arc::new(AtomicUsize::new(0));
    let e2 = entered.clone();
    let s = start(ServerConfig::new(Service::Command).tcp(local()).command("stuck", move |_: &Request<'_>| {
        e2.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(8));
        Response::Reply(b"late".to_vec())
    }));
    let mut c = Lines::new(tcp_addr(&s));
    c.w.write_all(b"stuck\n").unwrap();
    assert!(wait_until(|| entered.load(Ordering::SeqCst) == 1));
    let started = Instant::now();
    s.stop(Duration::from_millis(300)).unwrap();
    assert!(started.elapsed() < Duration::from_secs(6), "stop waited for the handler: {:?}", started.elapsed());
    assert!(TcpStream::connect(tcp_addr(&s)).is_err());
}

#[test]
fn dropping_a_running_server_closes_its_clients_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.sock");
    let s = start(ServerConfig::new(Service::Command).tcp(local()).unix(&path));
    let mut c = Lines::new(tcp_addr(&s));
    assert_eq!(c.ask("os"), "[posix]\n");
    drop(s);
    assert_eq!(c.read_line(), "");
    assert!(!path.exists());
}

#[test]
fn junk_to_every_service_and_framing_never_breaks_the_server() {
    let junk: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2654435761) >> 11) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    for service in [Service::Command, Service::Greet, Service::Banner(b"hi".to_vec()), Service::Echo, Service::Custom] {
        for framing in [Framing::Line, Framing::Message] {
            let s =
                start(ServerConfig::new(service.clone()).framing(framing).tcp(local()).udp(local()).root(dir.path()));
            let mut c = connect(tcp_addr(&s));
            let _ = c.write_all(&junk);
            let _ = c.shutdown(Shutdown::Write);
            let _ = read_to_end(&c);
            let u = UdpSocket::bind(local()).unwrap();
            u.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
            for piece in junk.chunks(1000) {
                u.send_to(piece, udp_addr(&s)).unwrap();
            }
            let mut buf = [0u8; 2048];
            while u.recv(&mut buf).is_ok() {}
            // Still serving, and the junk was seen as requests.
            let mut fresh = connect(tcp_addr(&s));
            fresh.write_all(b"ping\n").unwrap();
            fresh.shutdown(Shutdown::Write).unwrap();
            let out = read_to_end(&fresh);
            assert!(!out.is_empty(), "{service:?} {framing:?}");
            assert!(s.stats().requests > 0);
            s.stop(T).unwrap();
        }
    }
}

/// A handler that answers from a thread of its own, as the Python face's blocking handlers
/// do: a batch at a time (`Lane::Offloaded`).
struct Elsewhere;

impl netcore::server::Offload for Elsewhere {
    fn submit(
        &self,
        batch: netcore::server::Batch,
    ) -> Result<tokio::sync::oneshot::Receiver<Vec<Response>>, netcore::server::Batch> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let answers = batch.answer();
            // A request `drop` loses the answer to its whole batch.
            if !answers.iter().any(|a| matches!(a, Response::Error(e) if e == "drop")) {
                let _ = tx.send(answers);
            }
        });
        Ok(rx)
    }
}

struct Later(Arc<Elsewhere>);

impl netcore::server::Handler for Later {
    fn handle(&self, request: &Request<'_>) -> Response {
        match request.args() {
            b"drop" => Response::Error("drop".into()),
            args => Response::Reply([b"later:", args].concat()),
        }
    }
    fn lane(&self) -> netcore::server::Lane {
        netcore::server::Lane::Offloaded(self.0.clone())
    }
}

#[test]
fn handlers_answering_from_other_threads_keep_order_and_survive_a_lost_answer() {
    let later = Later(Arc::new(Elsewhere));
    let s = start(ServerConfig::new(Service::Custom).tcp(local()).udp(local()).command("later", later));
    let c = connect(tcp_addr(&s));
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut ask = |text: &[u8], replies: usize| {
        (&c).write_all(text).unwrap();
        (0..replies)
            .map(|_| {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                line
            })
            .collect::<String>()
    };
    assert_eq!(ask(b"later 1\nlater 2\n", 2), "later:1\nlater:2\n");
    assert_eq!(ask(b"later drop\n", 1), "error: internal error in handler\n");
    assert_eq!(ask(b"later 3\nlater 4\n", 2), "later:3\nlater:4\n");
    let u = UdpSocket::bind(local()).unwrap();
    u.set_read_timeout(Some(T)).unwrap();
    u.send_to(b"later u", udp_addr(&s)).unwrap();
    let mut buf = [0u8; 100];
    let n = u.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"later:u");
    s.stop(T).unwrap();
}
