//! C face of `crate::socket`'s descriptor passing: send and receive file descriptors (and
//! data) over an AF_UNIX socket the caller owns, as Python's `socket.send_fds` / `recv_fds`.
//! So a C program and a Python program can hand each other connections.

use std::mem::{ManuallyDrop, MaybeUninit};
use std::os::raw::c_int;

use super::boundary::{arg_bytes, arg_out, FfiError};
use super::status::netcore_status;
use crate::socket::Socket;

/// The caller's descriptor as a core socket for one call. It stays the caller's: the socket is
/// never dropped, so the descriptor is not closed, even if the call panics.
fn borrowed(fd: c_int) -> Result<ManuallyDrop<Socket>, FfiError> {
    Ok(ManuallyDrop::new(Socket::from_fd(fd, None, None, None)?))
}

/// Sends `len` bytes of `data` with the `nfds` descriptors `fds` (one SCM_RIGHTS message) over
/// the connected AF_UNIX socket `sock`, blocking as the socket does (EINTR is retried).
/// Writes the number of data bytes sent to `out_sent`. The descriptors stay open here; the
/// receiver gets its own copies. `data` may be NULL when `len` is 0 (a message needs at least
/// one byte on a stream socket, as in Python). Errors: NETCORE_STATUS_OS_ERROR with the errno
/// (EBADF for a bad `sock`, ENOTSOCK, EINVAL for a bad descriptor in `fds`, ...).
#[no_mangle]
pub extern "C" fn netcore_socket_send_fds(
    sock: c_int,
    data: *const u8,
    len: usize,
    fds: *const c_int,
    nfds: usize,
    out_sent: *mut usize,
) -> netcore_status {
    ffi_boundary!({
        let data = arg_bytes(data, len, "data")?;
        let fds: &[c_int] = if nfds == 0 {
            &[]
        } else if fds.is_null() {
            return Err(FfiError::NullArgument("fds"));
        } else {
            // SAFETY: the caller promises `nfds` descriptors at `fds`.
            unsafe { std::slice::from_raw_parts(fds, nfds) }
        };
        let out_sent = arg_out(out_sent, "out_sent")?;
        let sock = borrowed(sock)?;
        *out_sent = sock.send_fds(data, fds)?;
        Ok(())
    })
}

/// Receives up to `len` bytes into `buf` and up to `max_fds` descriptors into `fds` from the
/// AF_UNIX socket `sock`, blocking as the socket does. Writes the data length to `out_len` (0
/// when the peer closed) and the descriptor count to `out_nfds`; the received descriptors are
/// the caller's to close (they are close-on-exec). Descriptors beyond `max_fds` are closed by
/// the kernel's truncation. `buf` may be NULL when `len` is 0, `fds` when `max_fds` is 0.
#[no_mangle]
pub extern "C" fn netcore_socket_recv_fds(
    sock: c_int,
    buf: *mut u8,
    len: usize,
    fds: *mut c_int,
    max_fds: usize,
    out_len: *mut usize,
    out_nfds: *mut usize,
) -> netcore_status {
    ffi_boundary!({
        if len > 0 && buf.is_null() {
            return Err(FfiError::NullArgument("buf"));
        }
        if max_fds > 0 && fds.is_null() {
            return Err(FfiError::NullArgument("fds"));
        }
        let out_len = arg_out(out_len, "out_len")?;
        let out_nfds = arg_out(out_nfds, "out_nfds")?;
        let sock = borrowed(sock)?;
        let data: &mut [MaybeUninit<u8>] = if len == 0 {
            &mut []
        } else {
            // SAFETY: the caller promises `len` writable bytes at `buf`.
            unsafe { std::slice::from_raw_parts_mut(buf as *mut MaybeUninit<u8>, len) }
        };
        let (n, got, _, _) =
            sock.recv_fds_uninit_with(data, max_fds, libc::MSG_CMSG_CLOEXEC, &mut crate::socket::Interrupt::none())?;
        // The control buffer has room for max_fds; more cannot arrive (the kernel truncates).
        let kept = got.len().min(max_fds);
        for extra in &got[kept..] {
            // SAFETY: a descriptor the kernel just gave us and nobody else knows.
            unsafe { libc::close(*extra) };
        }
        if kept > 0 {
            // SAFETY: `fds` has room for max_fds >= kept descriptors.
            unsafe { std::ptr::copy_nonoverlapping(got.as_ptr(), fds, kept) };
        }
        *out_len = n;
        *out_nfds = kept;
        Ok(())
    })
}
