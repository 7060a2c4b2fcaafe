//! RESP framing end to end over loopback: built-in and user commands, RESP3, tokens, limits,
//! and every kind of bad input (each gets a clear `-ERR` or a close; other clients go on).

mod lanes;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use lanes::{Counting, Thread};
use netcore::client::{Client, Options};
use netcore::server::{Framing, Handler, Lane, Limits, Reply, Request, Response, Server, ServerConfig, Service};

fn start(config: ServerConfig) -> Server {
    Server::start(config.tcp("127.0.0.1:0".parse().unwrap())).expect("server starts")
}

fn resp_server(service: Service) -> ServerConfig {
    ServerConfig::new(service).framing(Framing::Resp)
}

fn addr(s: &Server) -> SocketAddr {
    match &s.local_addrs()[0] {
        netcore::server::BoundAddr::Tcp(a) => *a,
        other => panic!("not tcp: {other:?}"),
    }
}

fn raw(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c
}

/// Sends bytes and reads until `want` bytes arrived or the server closed.
fn exchange(c: &mut TcpStream, send: &[u8], want: usize) -> Vec<u8> {
    c.write_all(send).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < want {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// Sends bytes and reads everything until the server closes.
fn until_closed(c: &mut TcpStream, send: &[u8]) -> Vec<u8> {
    let _ = c.write_all(send);
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    got
}

fn client(s: &Server) -> Client {
    let a = addr(s);
    Client::connect(&a.ip().to_string(), a.port(), Options::default()).unwrap()
}

fn cmd(c: &mut Client, argv: &[&str]) -> Reply {
    let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
    c.command(&argv).unwrap()
}

#[test]
fn built_in_commands_over_resp2_and_resp3() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "").unwrap();
    let server = start(resp_server(Service::Command).root(dir.path()));
    let mut c = client(&server);
    assert_eq!(cmd(&mut c, &["PING"]), Reply::Simple("PONG".into()));
    assert_eq!(cmd(&mut c, &["ping", "hi there"]), Reply::from("hi there"));
    assert_eq!(cmd(&mut c, &["ECHO", "a\r\n\0b"]), Reply::Bulk(b"a\r\n\0b".to_vec()));
    assert_eq!(cmd(&mut c, &["os"]), Reply::from("[posix]"));
    assert_eq!(cmd(&mut c, &["LS"]), Reply::Array(vec![Reply::from("a.txt")]));
    let Reply::Bulk(date) = cmd(&mut c, &["Date"]) else { panic!("date is a bulk string") };
    assert!(date.ends_with(b"] date"));
    assert_eq!(cmd(&mut c, &["SELECT", "0"]), Reply::Simple("OK".into()));
    assert_eq!(cmd(&mut c, &["SELECT", "1"]), Reply::Error("ERR DB index is out of range".into()));
    assert_eq!(cmd(&mut c, &["CLIENT", "GETNAME"]), Reply::Null);
    assert_eq!(cmd(&mut c, &["CLIENT", "SETNAME", "me"]), Reply::Simple("OK".into()));
    assert_eq!(cmd(&mut c, &["client", "getname"]), Reply::from("me"));
    assert!(matches!(cmd(&mut c, &["CLIENT", "ID"]), Reply::Integer(n) if n > 0));
    assert_eq!(cmd(&mut c, &["CLIENT", "SETINFO", "LIB-NAME", "x"]), Reply::Simple("OK".into()));
    assert!(matches!(cmd(&mut c, &["COMMAND", "COUNT"]), Reply::Integer(13)));
    let Reply::Array(docs) = cmd(&mut c, &["COMMAND", "DOCS", "ls"]) else { panic!("RESP2 map is a flat array") };
    assert_eq!(docs[0], Reply::from("ls"));
    let Reply::Bulk(info) = cmd(&mut c, &["INFO"]) else { panic!("INFO is a bulk string in RESP2") };
    let info = String::from_utf8(info).unwrap();
    assert!(info.starts_with("# Server\r\n") && info.contains("total_commands_processed:"), "{info}");
    assert_eq!(
        cmd(&mut c, &["nope", "a", "b"]),
        Reply::Error("ERR unknown command 'nope', with args beginning with: 'a' 'b' ".into())
    );
    // RESP3 after HELLO 3: a map, `_` nulls, verbatim INFO.
    let Reply::Map(hello) = cmd(&mut c, &["HELLO", "3"]) else { panic!("HELLO 3 answers a map") };
    assert!(hello.contains(&(Reply::from("proto"), Reply::Integer(3))));
    assert_eq!(cmd(&mut c, &["CLIENT", "SETNAME", ""]), Reply::Simple("OK".into()));
    assert_eq!(cmd(&mut c, &["CLIENT", "GETNAME"]), Reply::Null);
    assert!(matches!(cmd(&mut c, &["INFO", "stats"]), Reply::Verbatim(t) if t.starts_with("# Stats")));
    assert_eq!(cmd(&mut c, &["HELLO", "4"]), Reply::Error("NOPROTO unsupported protocol version".into()));
    assert_eq!(cmd(&mut c, &["QUIT"]), Reply::Simple("OK".into()));
}

#[test]
fn user_commands_get_binary_safe_argv_and_answer_typed_values() {
    let config = resp_server(Service::Custom)
        .command("Args", |r: &Request<'_>| {
            Response::Value(Reply::Array(r.argv.iter().map(|a| Reply::Bulk(a.to_vec())).collect()))
        })
        .command("line", |r: &Request<'_>| Response::Reply(r.line.to_vec()))
        .command("typed", |_: &Request<'_>| {
            Response::Value(Reply::Array(vec![Reply::Integer(7), Reply::Null, Reply::Error("WRONGTYPE x".into())]))
        });
    let server = start(config);
    let mut c = client(&server);
    assert_eq!(
        c.command(&[b"ARGS", b"a b", b"\0\r\n"]).unwrap(),
        Reply::Array(vec![Reply::from("ARGS"), Reply::from("a b"), Reply::Bulk(b"\0\r\n".to_vec())])
    );
    assert_eq!(cmd(&mut c, &["line", "x", "y"]), Reply::from("line x y"));
    assert_eq!(
        cmd(&mut c, &["typed"]),
        Reply::Array(vec![Reply::Integer(7), Reply::Null, Reply::Error("WRONGTYPE x".into())])
    );
    assert_eq!(cmd(&mut c, &["PING"]), Reply::Simple("PONG".into()));
    assert!(matches!(cmd(&mut c, &["date"]), Reply::Error(e) if e.starts_with("ERR unknown command 'date'")));
    // Inline commands, as telnet sends them, with redis's quoting.
    let mut r = raw(addr(&server));
    assert_eq!(exchange(&mut r, b"args \"a b\" 'c'\r\n", 30), b"*3\r\n$4\r\nargs\r\n$3\r\na b\r\n$1\r\nc\r\n");
    // A pipeline split at every byte is answered in order.
    let mut r = raw(addr(&server));
    let req = b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nline\r\n$1\r\nz\r\n";
    for b in req {
        r.write_all(&[*b]).unwrap();
    }
    assert_eq!(exchange(&mut r, b"", 19), b"+PONG\r\n$6\r\nline z\r\n");
}

#[test]
fn tokens_map_to_auth_and_hello() {
    let server = start(resp_server(Service::Command).token("s3cret"));
    let mut c = client(&server);
    assert_eq!(cmd(&mut c, &["PING"]), Reply::Error("NOAUTH Authentication required.".into()));
    assert_eq!(cmd(&mut c, &["AUTH", "s3cret"]), Reply::Simple("OK".into()));
    assert_eq!(cmd(&mut c, &["PING"]), Reply::Simple("PONG".into()));
    let mut c = client(&server);
    assert!(matches!(cmd(&mut c, &["HELLO", "3", "AUTH", "default", "s3cret"]), Reply::Map(_)));
    assert_eq!(cmd(&mut c, &["PING"]), Reply::Simple("PONG".into()));
    let mut r = raw(addr(&server));
    let got = until_closed(&mut r, b"AUTH wrong\r\nPING\r\n");
    assert_eq!(got, b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    let open = start(resp_server(Service::Command));
    let mut c = client(&open);
    assert!(matches!(cmd(&mut c, &["AUTH", "x"]), Reply::Error(e) if e.contains("without any password configured")));
}

#[test]
fn bad_input_gets_a_clear_error_or_a_close_and_others_go_on() {
    let limits = Limits { max_line: 4096, ..Limits::default() };
    let server = start(resp_server(Service::Command).limits(limits));
    let mut bystander = client(&server);
    let deep = b"*1\r\n".repeat(10_000);
    let endless = [b"*1\r\n$4000\r\n".as_slice(), &[b'a'; 3000]].concat();
    let junk: Vec<u8> = (0..2000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let cases: Vec<(&[u8], &[u8])> = vec![
        (b"*1\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
        (b"*2147483647\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$9999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (&deep, b"-ERR Protocol error: expected '$', got '*'\r\n"),
        (b"*1\r\n$4090\r\n", b"-ERR Protocol error: request larger than 4096 bytes\r\n"),
        (b"*1\r\n$10000\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (&endless, b""), // answered once the rest arrives (never): checked below
        (b"ECHO \"unbalanced\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"*1\r\n$1\r\nabc\r\n", b"-ERR Protocol error: bulk string not terminated by CRLF\r\n"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b""),
        (b"POST /x HTTP/1.1\r\n", b""),
        (b"*1\r\n$4\r\nPOST\r\n", b""),
    ];
    for (input, want) in cases {
        let mut c = raw(addr(&server));
        if input.len() == endless.len() {
            // A bulk string that never ends: the connection waits within its bound, holding
            // only what arrived; the client gives up and the others are unaffected.
            c.write_all(input).unwrap();
            assert_eq!(cmd(&mut bystander, &["PING"]), Reply::Simple("PONG".into()));
            continue;
        }
        assert_eq!(until_closed(&mut c, input), want, "{:?}", String::from_utf8_lossy(&input[..input.len().min(40)]));
    }
    // Binary junk: an error reply or a close, never a panic or a hang.
    let mut c = raw(addr(&server));
    let got = until_closed(&mut c, &[b"*1\r\n".as_slice(), &junk].concat());
    assert!(got.is_empty() || got.starts_with(b"-ERR Protocol error"), "{:?}", String::from_utf8_lossy(&got));
    let mut c = raw(addr(&server));
    let got = until_closed(&mut c, &[&junk[..], &[b'x'; 5000]].concat());
    assert!(got.is_empty() || got.ends_with(b"\r\n"), "{:?}", String::from_utf8_lossy(&got));
    assert_eq!(cmd(&mut bystander, &["PING"]), Reply::Simple("PONG".into()));
    assert!(server.stats().errors >= 6);
}

#[test]
fn greet_and_banner_cannot_speak_resp() {
    let err = Server::start(resp_server(Service::Greet)).unwrap_err().to_string();
    assert!(err.contains("RESP clients cannot read"), "{err}");
    assert!("resp".parse::<Framing>().is_ok());
}

/// Answers its arguments after the name as an array (binary-safe), or a null without any.
struct Args(Lane);

impl Handler for Args {
    fn handle(&self, r: &Request<'_>) -> Response {
        match &r.argv[1..] {
            [] => Response::Value(Reply::Null),
            args => Response::Value(Reply::Array(args.iter().map(|a| Reply::Bulk(a.to_vec())).collect())),
        }
    }
    fn lane(&self) -> Lane {
        self.0.clone()
    }
}

fn resp_command(argv: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for arg in argv {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn pipelined_requests_are_batched_per_lane_in_order_with_binary_arguments() {
    let counting = Arc::new(Counting::default());
    let thread = Thread::start();
    let config = resp_server(Service::Custom)
        .command("entered", Args(Lane::Entered(counting.clone())))
        .command("offloaded", Args(Lane::Offloaded(thread.clone())))
        .command("inline", Args(Lane::Inline))
        .command("boom", |_: &Request<'_>| -> Response { panic!("handler bug") });
    let server = start(config);
    let names: [&[u8]; 3] = [b"entered", b"offloaded", b"inline"];
    let mut send = Vec::new();
    let mut want = Vec::new();
    for i in 0..300 {
        let arg = format!("a b\r\n\0{i}").into_bytes();
        match i {
            100 => {
                // RESP3 from here on: a null is `_` for the handlers' replies after HELLO.
                send.extend(resp_command(&[b"HELLO", b"3"]));
                want.extend_from_slice(b"%");
                send.extend(resp_command(&[b"ping"]));
                want.extend_from_slice(b"+PONG\r\n");
            }
            150 => {
                send.extend(resp_command(&[b"boom"]));
                want.extend_from_slice(b"-ERR internal error in handler\r\n");
            }
            _ => {}
        }
        let name = names[(i / 7) % 3];
        if i % 11 == 0 {
            send.extend(resp_command(&[name]));
            want.extend_from_slice(if i < 100 { b"$-1\r\n" } else { b"_\r\n" });
        } else {
            send.extend(resp_command(&[name, &arg]));
            want.extend(resp_command(&[&arg])); // an array of one bulk string looks the same
        }
    }
    send.extend(resp_command(&[b"QUIT"]));
    send.extend(resp_command(&[b"inline", b"never answered"]));
    let mut c = raw(addr(&server));
    let got = until_closed(&mut c, &send);
    // HELLO's map is server-specific: compare around it.
    let hello = got.windows(1).position(|w| w == b"%").expect("HELLO's map");
    let after = got[hello..].windows(7).position(|w| w == b"+PONG\r\n").expect("PING after HELLO") + hello;
    let mut got_without_map = got[..=hello].to_vec();
    got_without_map.extend_from_slice(&got[after..]);
    want.extend_from_slice(b"+OK\r\n");
    assert_eq!(String::from_utf8_lossy(&got_without_map), String::from_utf8_lossy(&want));
    // ~300 requests in a few reads, in runs of 7 per lane: a batch per run, not per request.
    let entered = counting.0.load(Ordering::SeqCst);
    let offloaded = thread.batches.load(Ordering::SeqCst);
    assert!((1..=60).contains(&entered), "entered {entered} times");
    assert!((1..=60).contains(&offloaded), "offloaded {offloaded} batches");
    assert_eq!(server.stats().requests, 304, "every answered request is counted once");
}
