//! The load generator's pacing, error counting and summaries.

use super::conn::Conn;
use super::report::significant3;
use super::*;
use crate::socket::Socket;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::IntoRawFd;

fn conn_with_batch(requests: usize, queued: Instant) -> (Conn, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client.set_nonblocking(true).unwrap();
    let (server, _) = listener.accept().unwrap();
    let conn = Conn {
        socket: Socket::from_fd(client.into_raw_fd(), None, None, None).unwrap(),
        tls: None,
        used: true,
        out: b"PING\n".repeat(requests),
        out_pos: 0,
        inbuf: Vec::new(),
        in_flight: std::iter::repeat_n(queued, requests).collect(),
        alive: true,
    };
    (conn, server)
}

#[test]
fn the_summary_rounds_to_three_significant_digits() {
    let cases = [(0.041234, "0.0412"), (1.23456, "1.23"), (12.3456, "12.3"), (123.456, "123"), (1234.5, "1230")];
    for (x, text) in cases {
        assert_eq!(significant3(x), text, "{x}");
    }
    assert_eq!(significant3(9.996), "10.0");
    assert_eq!(significant3(0.0), "0");
}

#[test]
fn latency_starts_when_the_batch_is_written_not_when_it_was_queued() {
    let queued = Instant::now() - Duration::from_secs(1);
    let (mut c, mut server) = conn_with_batch(3, queued);
    let before_write = Instant::now();
    send_pending(&mut c).unwrap();
    assert_eq!(c.out_pos, c.out.len());
    assert!(c.in_flight.iter().all(|&sent| sent >= before_write), "stamps kept the queueing time");
    let mut got = [0u8; 15];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"PING\nPING\nPING\n");
}

#[test]
fn the_rest_of_a_partly_written_batch_keeps_its_first_stamp() {
    let first_write = Instant::now() - Duration::from_secs(1);
    let (mut c, _server) = conn_with_batch(2, first_write);
    c.out_pos = 3;
    send_pending(&mut c).unwrap();
    assert_eq!(c.out_pos, c.out.len());
    assert!(c.in_flight.iter().all(|&sent| sent == first_write));
}
