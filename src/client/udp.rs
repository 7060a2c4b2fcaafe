//! UDP request/reply: send one datagram, wait for one back, resend on silence.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::SockAddr;

use super::{client_hook, Interrupt};
use crate::error::{Error, Result};
use crate::socket::wait::Mode;
use crate::socket::Socket;

/// Largest datagram reply accepted.
pub const MAX_DATAGRAM: usize = 65535;

/// UDP request settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpOptions {
    /// How long to wait for a reply to each attempt.
    pub timeout: Duration,
    /// How many times to resend when no reply came (0: one attempt only).
    pub retries: u32,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions { timeout: Duration::from_secs(2), retries: 2 }
    }
}

fn resolve_dgram(host: &str, port: u16) -> Result<Vec<SocketAddr>> {
    let found =
        crate::resolve::getaddrinfo(Some(host), Some(&port.to_string()), libc::AF_UNSPEC, libc::SOCK_DGRAM, 0, 0)?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for ai in found {
        if !addrs.contains(&ai.addr) {
            addrs.push(ai.addr);
        }
    }
    Ok(addrs)
}

/// Sends `payload` to `host:port` and returns the first datagram that comes back from that
/// address. Each attempt waits `timeout`; silence is retried `retries` times, then
/// `Error::Timeout`. A closed port (ICMP port unreachable) gives `Error::Os(ECONNREFUSED)`
/// for that address, and the next address of the host is tried.
pub fn request(host: &str, port: u16, payload: &[u8], opts: &UdpOptions) -> Result<Vec<u8>> {
    request_checked(host, port, payload, opts, Interrupt::none())
}

/// `request` with an interrupt check.
pub fn request_checked(
    host: &str,
    port: u16,
    payload: &[u8],
    opts: &UdpOptions,
    intr: Interrupt<'_>,
) -> Result<Vec<u8>> {
    let mut intr = client_hook(intr);
    if payload.len() > MAX_DATAGRAM - 28 {
        return Err(Error::InvalidArgument(format!("datagram too long ({} bytes)", payload.len())));
    }
    let mut last = None;
    for addr in resolve_dgram(host, port)? {
        match request_one(addr, payload, opts, &mut intr) {
            Ok(reply) => return Ok(reply),
            Err(e @ Error::Os(_)) if e.code() == libc::ECONNREFUSED => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(Error::AddressInfo { code: libc::EAI_NONAME, message: "Name or service not known".into() }))
}

fn request_one(addr: SocketAddr, payload: &[u8], opts: &UdpOptions, intr: &mut Interrupt<'_>) -> Result<Vec<u8>> {
    let sa = SockAddr::from(addr);
    let socket = Socket::new(i32::from(sa.family()), libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0)?;
    // Connected, so only that peer's replies arrive and ICMP errors are reported.
    socket.connect_until(&sa, None, intr)?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    for _attempt in 0..=opts.retries {
        socket.send_in(payload, 0, Mode::NonBlocking, intr)?;
        match socket.recv_in(&mut buf, 0, Mode::Deadline(Instant::now() + opts.timeout), intr) {
            Ok(n) => return Ok(buf[..n].to_vec()),
            Err(Error::Timeout) => {}
            Err(e) => return Err(e),
        }
    }
    Err(Error::Timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn reply_timeout_and_refused() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            // Ignore the first datagram so the client has to retry.
            let _ = server.recv_from(&mut buf).unwrap();
            let (n, from) = server.recv_from(&mut buf).unwrap();
            let reply = [b"Hello, ".as_slice(), &buf[..n]].concat();
            server.send_to(&reply, from).unwrap();
        });
        let opts = UdpOptions { timeout: Duration::from_millis(300), retries: 3 };
        assert_eq!(request("127.0.0.1", port, b"client1", &opts).unwrap(), b"Hello, client1");

        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let opts = UdpOptions { timeout: Duration::from_millis(50), retries: 1 };
        assert!(matches!(request("127.0.0.1", port, b"x", &opts), Err(Error::Timeout)));
        drop(silent);
        let err = request("127.0.0.1", port, b"x", &opts).unwrap_err();
        assert_eq!(err.code(), libc::ECONNREFUSED, "{err}");
    }
}
