//! Every input a fuzz target (fuzz/) found a crash with, checked on stable on every change.
//! Add each new crash here with the invariant it broke.

use std::time::Duration;

use netcore::client::url::gopher_url_parts;
use netcore::server::{Framing, Limits, Server, ServerConfig, Service};

/// fuzz target url_parse: `gopher://]/˂` — an item type of more than one byte made the
/// selector slice start inside a character (a panic in `&path[2..]`).
#[test]
fn gopher_url_with_a_multibyte_item_type() {
    let url = format!("gopher://{}", String::from_utf8(vec![0x5d, 0x2f, 0xcb, 0xa2]).unwrap());
    assert_eq!(gopher_url_parts(&url).unwrap(), ("]".to_string(), 70, String::new()));
    assert_eq!(gopher_url_parts("gopher://h/é/sel").unwrap().2, "/sel");
    assert_eq!(gopher_url_parts("gopher://h/€").unwrap().2, "");
}

/// The line echo server of fuzz target connection_memory (64-byte lines).
fn line_echo() -> Server {
    let limits = Limits { max_line: 64, ..Limits::default() };
    let mut config = ServerConfig::new(Service::Echo).tcp("127.0.0.1:0".parse().unwrap()).limits(limits);
    config.framing = Framing::Line;
    config.workers = Some(1);
    Server::start(config).unwrap()
}

/// What the server sends back for `writes`, and for the same bytes in one write.
fn split_and_whole(server: &Server, writes: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
    let bound = Duration::from_secs(20);
    let whole = writes.concat();
    (server.exchange_in_memory(writes, bound).unwrap(), server.exchange_in_memory(&[&whole], bound).unwrap())
}

/// fuzz target connection_memory: a telnet subnegotiation (IAC SB) with no end was dropped
/// at the end of whichever read took it past 512 bytes, so where the client's writes were
/// cut decided which bytes were lost. Now its first 512 bytes decide: without IAC SE there,
/// it is data (and here a line too long).
#[test]
fn a_runaway_telnet_subnegotiation_does_not_depend_on_the_reads() {
    let server = line_echo();
    let head = [&b"\xff\xfa"[..], &[b'x'; 513]].concat();
    let tail = [&[b'x'; 20][..], b"\n"].concat();
    let (split, whole) = split_and_whole(&server, &[&head, &tail]);
    assert_eq!(split, whole);
    assert_eq!(whole, b"error: line too long (limit 64 bytes)\n");
}

/// Found by reading the code while fixing the above (the same invariant): a first read of
/// the single byte 0x16 was taken for "not TLS", the same bytes in one read for a TLS
/// client on a plain port (closed at once).
#[test]
fn the_tls_check_waits_for_a_second_byte() {
    let server = line_echo();
    let (split, whole) = split_and_whole(&server, &[b"\x16", b"\x03abc\n"]);
    assert_eq!((split.as_slice(), whole.as_slice()), (&b""[..], &b""[..]));
    let (split, whole) = split_and_whole(&server, &[b"\x16", b"abc\n"]);
    assert_eq!((split.as_slice(), whole.as_slice()), (&b"\x16abc\n"[..], &b"\x16abc\n"[..]));
}
