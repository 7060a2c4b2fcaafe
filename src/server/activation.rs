//! systemd socket activation: the sockets a service manager bound and passed as descriptors
//! 3, 4, … with `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` (sd_listen_fds(3)).
//!
//! Written here rather than taken from a crate: the protocol is three environment variables
//! and a descriptor range, and the engine needs each socket's kind (TCP, UDP, Unix) checked
//! with socket2, which the crates leave to the caller.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use socket2::{Domain, Socket, Type};

use crate::error::{Error, Result};

/// The first passed descriptor (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// One passed descriptor, as the environment describes it (not yet checked or owned).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassedFd {
    pub fd: RawFd,
    /// Its `FileDescriptorName=` (systemd's default is the socket unit's name).
    pub name: Option<String>,
}

/// What a passed socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    Tcp,
    Udp,
    Unix,
}

/// Reads the activation variables for process `pid`: `None` when they are absent or meant
/// for another process (systemd sets `LISTEN_PID` so a child does not take its parent's
/// sockets), an error when they are malformed.
pub fn passed_fds(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    fd_names: Option<&str>,
    pid: u32,
) -> Result<Option<Vec<PassedFd>>> {
    let (Some(listen_pid), Some(listen_fds)) = (listen_pid, listen_fds) else {
        return Ok(None);
    };
    let bad = |what: &str, value: &str| Error::InvalidArgument(format!("socket activation: invalid {what} {value:?}"));
    let for_pid: u32 = listen_pid.trim().parse().map_err(|_| bad("LISTEN_PID", listen_pid))?;
    if for_pid != pid {
        return Ok(None);
    }
    let count: i32 = listen_fds.trim().parse().map_err(|_| bad("LISTEN_FDS", listen_fds))?;
    if !(0..=4096).contains(&count) {
        return Err(bad("LISTEN_FDS", listen_fds));
    }
    let names: Vec<&str> = fd_names.map(|n| n.split(':').collect()).unwrap_or_default();
    if fd_names.is_some() && names.len() != count as usize {
        return Err(Error::InvalidArgument(format!(
            "socket activation: LISTEN_FDNAMES has {} names for {count} descriptors",
            names.len()
        )));
    }
    Ok(Some(
        (0..count)
            .map(|i| PassedFd {
                fd: LISTEN_FDS_START + i,
                name: names.get(i as usize).filter(|n| !n.is_empty()).map(|n| n.to_string()),
            })
            .collect(),
    ))
}

/// The descriptors passed to this process, taken once: the variables are removed so neither
/// a second call nor a child process takes them again. `None` when not socket-activated.
pub fn take_passed_fds() -> Result<Option<Vec<PassedFd>>> {
    let var = |k| std::env::var(k).ok();
    let found = passed_fds(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        var("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    );
    for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // Called at start-up, before the server's threads exist: remove_var races only with
        // getenv on other threads.
        std::env::remove_var(k);
    }
    found
}

/// Takes ownership of `fd`, a socket this process was given, and tells what it is. Refuses
/// descriptors that are not sockets, stream sockets that are not listening (systemd's
/// `Accept=yes` passes connections; netcore wants `Accept=no`), and other families.
pub(crate) fn adopt(fd: RawFd) -> Result<(Socket, SocketKind)> {
    // SAFETY: fstat only reads the descriptor table; a closed fd gives EBADF.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(Error::InvalidArgument(format!(
            "descriptor {fd}: {}",
            crate::error::strerror(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        )));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(Error::InvalidArgument(format!("descriptor {fd} is not a socket")));
    }
    // SAFETY: fd is an open socket that the caller hands over (the activation protocol
    // gives it to this process; the API documents that the server owns it from now on).
    let sock = Socket::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let kind = match (sock.domain()?, sock.r#type()?) {
        (Domain::IPV4 | Domain::IPV6, Type::STREAM) => SocketKind::Tcp,
        (Domain::IPV4 | Domain::IPV6, Type::DGRAM) => SocketKind::Udp,
        (Domain::UNIX, Type::STREAM) => SocketKind::Unix,
        (d, t) => {
            // Not ours to close: give it back to the caller.
            std::mem::forget(sock);
            return Err(Error::InvalidArgument(format!(
                "descriptor {fd}: unsupported socket ({d:?}, {t:?}); expected TCP, UDP or a Unix stream socket"
            )));
        }
    };
    if kind != SocketKind::Udp && !sock.is_listener()? {
        std::mem::forget(sock);
        return Err(Error::InvalidArgument(format!(
            "descriptor {fd} is a connected socket, not a listening one (use Accept=no in the .socket unit)"
        )));
    }
    sock.set_cloexec(true)?;
    sock.set_nonblocking(true)?;
    Ok((sock, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    #[test]
    fn the_environment_is_read_as_systemd_writes_it() {
        assert_eq!(passed_fds(None, None, None, 7).unwrap(), None);
        assert_eq!(passed_fds(Some("8"), Some("2"), None, 7).unwrap(), None, "another process's sockets");
        let fds = passed_fds(Some("7"), Some("2"), Some("web:"), 7).unwrap().unwrap();
        assert_eq!(fds, vec![PassedFd { fd: 3, name: Some("web".into()) }, PassedFd { fd: 4, name: None }]);
        assert!(passed_fds(Some("x"), Some("1"), None, 7).is_err());
        assert!(passed_fds(Some("7"), Some("-1"), None, 7).is_err());
        assert!(passed_fds(Some("7"), Some("2"), Some("one"), 7).unwrap_err().to_string().contains("1 names for 2"));
    }

    #[test]
    fn only_listening_tcp_udp_and_unix_sockets_are_adopted() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        let (sock, kind) = adopt(tcp.into_raw_fd()).unwrap();
        assert_eq!((kind, sock.local_addr().unwrap().as_socket()), (SocketKind::Tcp, Some(addr)));
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(adopt(udp.into_raw_fd()).unwrap().1, SocketKind::Udp);
        let dir = tempfile::tempdir().unwrap();
        let unix = std::os::unix::net::UnixListener::bind(dir.path().join("s")).unwrap();
        assert_eq!(adopt(unix.into_raw_fd()).unwrap().1, SocketKind::Unix);

        let file = std::fs::File::open("/dev/null").unwrap();
        assert!(adopt(std::os::fd::AsRawFd::as_raw_fd(&file)).unwrap_err().to_string().contains("not a socket"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let connected = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let err = adopt(std::os::fd::AsRawFd::as_raw_fd(&connected)).unwrap_err().to_string();
        assert!(err.contains("Accept=no"), "{err}");
        connected.peer_addr().unwrap(); // still open: a refused descriptor is left to its owner
        assert!(adopt(9999).unwrap_err().to_string().contains("descriptor 9999"));
    }
}
