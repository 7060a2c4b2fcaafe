//! UDP request/reply: send one datagram, wait for one back, resend on silence.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, SockAddr, Socket, Type};

use super::{wait_ready, Interrupt};
use crate::error::{Error, Result};

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
    mut intr: Interrupt<'_>,
) -> Result<Vec<u8>> {
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
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM.cloexec(), None)?;
    socket.set_nonblocking(true)?;
    // Connected, so only that peer's replies arrive and ICMP errors are reported.
    socket.connect(&SockAddr::from(addr))?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    for _attempt in 0..=opts.retries {
        socket.send(payload)?;
        let deadline = Instant::now() + opts.timeout;
        loop {
            match wait_ready(socket.as_raw_fd(), libc::POLLIN, Some(deadline), intr) {
                Ok(_) => {}
                Err(Error::Timeout) => break,
                Err(e) => return Err(e),
            }
            match socket.recv(as_uninit(&mut buf)) {
                Ok(n) => return Ok(buf[..n].to_vec()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Os(e)),
            }
        }
    }
    Err(Error::Timeout)
}

fn as_uninit(buf: &mut [u8]) -> &mut [std::mem::MaybeUninit<u8>] {
    // SAFETY: initialised bytes are valid MaybeUninit<u8>; recv only writes into them.
    unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) }
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
