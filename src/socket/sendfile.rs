//! `socket.sendfile(file, offset, count)` on the kernel side: `sendfile(2)` from a file
//! descriptor, with the rules of the stdlib's `socket._sendfile_use_sendfile` (the checks, the
//! 1 GiB block, the per-wait timeout, and when to give up and let the caller fall back to
//! plain `send`).

use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use super::wait::{is_eintr, wait_fd, would_block, Interrupt};
use super::Socket;
use crate::error::{Error, Result};

/// The largest block one `sendfile(2)` call is asked for (bpo-38319).
pub const MAX_BLOCK: u64 = 1 << 30;

/// The block the stdlib's fallback (`_sendfile_use_send`) reads and sends at a time.
pub const FALLBACK_BLOCK: usize = 8192;

/// How a kernel-side sendfile ended when it did not finish.
#[derive(Debug)]
pub enum SendfileError {
    /// Nothing was sent and the file cannot be sent by the kernel (not a regular file, ...):
    /// the caller falls back to reading and sending, as the stdlib does.
    GiveUp(Error),
    /// The call failed after `sent` bytes (a timeout, a reset peer, a signal handler's error).
    Failed { sent: u64, error: Error },
}

/// The stdlib's `_check_sendfile_params` for the socket's side: a stream socket that is not
/// non-blocking, and a positive count if one is given.
pub fn check_params(sock: &Socket, count: Option<i64>) -> Result<()> {
    if sock.sock_type() & libc::SOCK_STREAM == 0 {
        return Err(Error::InvalidArgument("only SOCK_STREAM type sockets are supported".into()));
    }
    if let Some(c) = count {
        if c <= 0 {
            return Err(Error::InvalidArgument(format!("count must be a positive integer (got {c})")));
        }
    }
    Ok(())
}

/// The stdlib's refusal of non-blocking sockets, on both paths.
pub fn check_blocking(sock: &Socket) -> Result<()> {
    if sock.gettimeout() == Some(Duration::ZERO) {
        return Err(Error::InvalidArgument("non-blocking sockets are not supported".into()));
    }
    Ok(())
}

/// Waits until the socket can take more, for at most `timeout` (None: as long as it takes);
/// a signal runs the hook and the wait goes on with what is left of it. Running out is
/// `Error::Timeout`.
fn wait_writable(fd: RawFd, timeout: Option<Duration>, intr: &mut Interrupt<'_>) -> Result<()> {
    wait_fd(fd, libc::POLLOUT, timeout.map(|t| Instant::now() + t), intr).map(drop)
}

impl Socket {
    /// The kernel path of `sendfile`: sends `count` bytes (or up to the end of the file) of
    /// `file` from `offset` with `sendfile(2)`; returns the bytes sent. The file's own offset
    /// is not used or moved (the Python layer seeks the file object afterwards, as the stdlib).
    ///
    /// With a timeout, each wait for the socket to take more data may last that long; a wait
    /// that runs out is `Error::Timeout` (as `TimeoutError('timed out')`) with the bytes sent
    /// so far in [`SendfileError::Failed`].
    pub fn sendfile_with(
        &self,
        file: RawFd,
        offset: i64,
        count: Option<u64>,
        intr: &mut Interrupt<'_>,
    ) -> std::result::Result<u64, SendfileError> {
        let fail = |sent: u64, error: Error| {
            if sent == 0 {
                SendfileError::GiveUp(error)
            } else {
                SendfileError::Failed { sent, error }
            }
        };
        // SAFETY: fstat fills a zeroed stat for an integer fd (EBADF if it is not one).
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(file, &mut st) } < 0 {
            return Err(SendfileError::GiveUp(std::io::Error::last_os_error().into()));
        }
        if st.st_size == 0 {
            return Ok(0);
        }
        check_blocking(self).map_err(|error| SendfileError::Failed { sent: 0, error })?;
        // The stdlib registers the socket with a selector here, which refuses a closed one.
        if self.fileno() < 0 {
            let error = Error::InvalidArgument(format!("Invalid file descriptor: {}", self.fileno()));
            return Err(SendfileError::Failed { sent: 0, error });
        }
        let timeout = self.gettimeout();
        let mut block = count.unwrap_or(st.st_size as u64).min(MAX_BLOCK);
        let mut offset = offset as libc::off_t;
        let mut sent_total: u64 = 0;
        loop {
            let fd = self.fileno();
            if timeout.is_some() {
                if let Err(error) = wait_writable(fd, timeout, intr) {
                    return Err(SendfileError::Failed { sent: sent_total, error });
                }
            }
            if let Some(c) = count {
                block = c - sent_total;
                if block == 0 {
                    return Ok(sent_total);
                }
            }
            // SAFETY: sendfile between two integer fds; offset is ours and updated by the call.
            let n = unsafe { libc::sendfile(fd, file, &mut offset, block.min(MAX_BLOCK) as usize) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if is_eintr(&e) {
                    // PEP 475: run the handlers, then carry on.
                    if let Err(error) = intr.check() {
                        return Err(SendfileError::Failed { sent: sent_total, error });
                    }
                    continue;
                }
                if would_block(&e) {
                    // Without a timeout the stdlib blocks in select() until writable.
                    if timeout.is_none() {
                        if let Err(error) = wait_writable(fd, None, intr) {
                            return Err(SendfileError::Failed { sent: sent_total, error });
                        }
                    }
                    continue;
                }
                return Err(fail(sent_total, e.into()));
            }
            if n == 0 {
                return Ok(sent_total);
            }
            sent_total += n as u64;
            // A partial send may hide a signal (it ends a blocking sendfile early): run the
            // handlers before going on, as sendall does.
            if (n as u64) < block.min(MAX_BLOCK) {
                if let Err(error) = intr.check() {
                    return Err(SendfileError::Failed { sent: sent_total, error });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::AsRawFd;

    use super::*;

    fn stream_pair() -> (Socket, Socket) {
        Socket::pair(libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap()
    }

    #[test]
    fn sends_a_file_range_and_stops_at_its_end() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"0123456789").unwrap();
        let (a, b) = stream_pair();
        assert_eq!(a.sendfile_with(file.as_raw_fd(), 2, Some(5), &mut Interrupt::none()).unwrap(), 5);
        assert_eq!(a.sendfile_with(file.as_raw_fd(), 8, None, &mut Interrupt::none()).unwrap(), 2);
        let mut buf = [0u8; 16];
        let n = b.recv(&mut buf, 0).unwrap();
        assert_eq!(&buf[..n], b"2345689");
    }

    #[test]
    fn a_pipe_is_given_up_on_before_anything_is_sent() {
        let (a, _b) = stream_pair();
        let mut fds = [0; 2];
        // SAFETY: pipe fills two fds.
        unsafe { libc::pipe(fds.as_mut_ptr()) };
        let got = a.sendfile_with(fds[0], 0, None, &mut Interrupt::none());
        assert!(matches!(got, Ok(0) | Err(SendfileError::GiveUp(_))), "{got:?}");
        // SAFETY: our pipe.
        unsafe { libc::close(fds[0]) };
        unsafe { libc::close(fds[1]) };
    }

    #[test]
    fn a_full_socket_times_out_with_the_bytes_sent_so_far() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&vec![7u8; 8 << 20]).unwrap();
        let (a, _b) = stream_pair();
        a.settimeout(Some(Duration::from_millis(50))).unwrap();
        match a.sendfile_with(file.as_raw_fd(), 0, None, &mut Interrupt::none()) {
            Err(SendfileError::Failed { sent, error: Error::Timeout }) => assert!(sent > 0),
            other => panic!("expected a timeout after some bytes, got {other:?}"),
        }
    }

    #[test]
    fn params_are_checked_as_the_stdlib_does() {
        let udp = Socket::new(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
        assert_eq!(check_params(&udp, None).unwrap_err().to_string(), "only SOCK_STREAM type sockets are supported");
        let (a, _b) = stream_pair();
        assert_eq!(check_params(&a, Some(0)).unwrap_err().to_string(), "count must be a positive integer (got 0)");
        a.setblocking(false).unwrap();
        assert_eq!(check_blocking(&a).unwrap_err().to_string(), "non-blocking sockets are not supported");
    }
}
