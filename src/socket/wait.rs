//! How a blocking socket call waits: Python's timeout modes, deadlines, EINTR (PEP 475) and
//! an interruption hook that lets a caller (the Python layer) run signal handlers while a
//! call blocks.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A hook run while a call blocks. `check` runs after every EINTR and, when `slice` is set,
/// at least once per `slice` of waiting; an `Err` from it aborts the call with that error.
///
/// The Python layer uses it on the main thread to run signal handlers (so Ctrl+C interrupts a
/// blocking `accept` promptly); Rust callers normally pass [`Interrupt::none`].
pub struct Interrupt<'a> {
    check: Option<&'a mut (dyn FnMut() -> Result<()> + Send)>,
    slice: Option<Duration>,
}

impl<'a> Interrupt<'a> {
    /// No hook: EINTR is retried, waits are not sliced.
    pub fn none() -> Self {
        Interrupt { check: None, slice: None }
    }

    /// Run `check` after EINTR and at least every `slice` while blocked.
    pub fn new(check: &'a mut (dyn FnMut() -> Result<()> + Send), slice: Option<Duration>) -> Self {
        Interrupt { check: Some(check), slice }
    }

    pub(crate) fn check(&mut self) -> Result<()> {
        match self.check.as_mut() {
            Some(f) => f(),
            None => Ok(()),
        }
    }

    pub(crate) fn slice(&self) -> Option<Duration> {
        self.slice
    }
}

/// How a call on a socket waits, from its timeout (Python's three modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// timeout 0: never wait; a call that would block fails with EAGAIN.
    NonBlocking,
    /// timeout None: wait as long as it takes.
    Blocking,
    /// timeout > 0: wait until this instant, then fail with `Error::Timeout`.
    Deadline(Instant),
}

impl Mode {
    pub fn from_timeout(timeout: Option<Duration>) -> Mode {
        match timeout {
            None => Mode::Blocking,
            Some(t) if t.is_zero() => Mode::NonBlocking,
            Some(t) => Mode::Deadline(Instant::now().checked_add(t).unwrap_or_else(far_future)),
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

/// Waits until `fd` is readable (or writable); `Ok(false)` when `timeout` passed first.
/// EINTR is returned to the caller, which decides whether to run handlers and retry.
pub(crate) fn poll_fd(fd: i32, writing: bool, timeout: Option<Duration>) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd, events: if writing { libc::POLLOUT } else { libc::POLLIN }, revents: 0 };
    let ms: libc::c_int = match timeout {
        None => -1,
        // Rounded up, as CPython does, so a wait never ends before its deadline.
        Some(t) => t.as_nanos().div_ceil(1_000_000).min(libc::c_int::MAX as u128) as libc::c_int,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n > 0)
}

pub(crate) fn is_eintr(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINTR)
}

pub(crate) fn would_block(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EINPROGRESS))
        || e.raw_os_error() == Some(libc::EWOULDBLOCK)
}

/// What a call needs from the wait loop.
#[derive(Clone, Copy)]
pub(crate) struct Call {
    /// Wait for POLLOUT rather than POLLIN.
    pub writing: bool,
    /// The operation takes a per-call "don't wait" flag (MSG_DONTWAIT): on a blocking socket
    /// it is tried first without waiting, and the wait is sliced only when it would block.
    pub dontwait: bool,
    /// Always wait for readiness before the first attempt (completing a connect).
    pub wait_first: bool,
}

/// Runs `op` under `mode`, as CPython's `sock_call_ex`: retries on EINTR after `intr.check()`,
/// waits for readiness when a timeout is set, raises `Error::Timeout` at the deadline.
/// `op` gets the fd (read from `fd_cell` each round) and extra flags to OR into its call
/// (`MSG_DONTWAIT` or 0).
///
/// `waited` is the socket's memory of whether its last read had to wait: when it did, a sliced
/// blocking read waits for readiness first instead of trying (and failing) a MSG_DONTWAIT read,
/// which saves a system call per message in request/response traffic. The caller clears it
/// when a read fills its whole buffer (streaming, where data is usually there already).
pub(crate) fn sock_call<T>(
    fd_cell: &AtomicI32,
    mode: Mode,
    call: Call,
    intr: &mut Interrupt<'_>,
    waited: Option<&AtomicBool>,
    mut op: impl FnMut(i32, libc::c_int) -> io::Result<T>,
) -> Result<T> {
    let mut need_wait = call.wait_first || waited.is_some_and(|w| w.load(Relaxed));
    loop {
        // Read afresh each round, as CPython does: once another thread closes the socket,
        // the call fails with EBADF instead of waiting on a number the fd table may reuse.
        let fd = fd_cell.load(Relaxed);
        if fd < 0 {
            return op(fd, 0).map_err(Error::from);
        }
        let wait: Option<Option<Duration>> = match mode {
            Mode::NonBlocking => None,
            Mode::Blocking => match intr.slice() {
                None if need_wait => Some(None),
                None => None,
                Some(slice) if need_wait || !call.dontwait => Some(Some(slice)),
                Some(_) => None,
            },
            Mode::Deadline(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(Error::Timeout);
                }
                let left = deadline - now;
                Some(Some(intr.slice().map_or(left, |s| s.min(left))))
            }
        };
        if let Some(timeout) = wait {
            match poll_fd(fd, call.writing, timeout) {
                Ok(true) => {}
                Ok(false) => {
                    intr.check()?;
                    // Sliced waits come back here; Deadline mode checks its deadline on top.
                    need_wait = true;
                    continue;
                }
                Err(e) if is_eintr(&e) => {
                    intr.check()?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let extra = if mode == Mode::Blocking && intr.slice().is_some() && call.dontwait { libc::MSG_DONTWAIT } else { 0 };
        match op(fd, extra) {
            Ok(v) => return Ok(v),
            Err(e) if is_eintr(&e) => {
                intr.check()?;
                need_wait = call.wait_first;
            }
            // A blocking fd that still says EAGAIN (SO_RCVTIMEO) reports it, as CPython does;
            // only our own MSG_DONTWAIT attempts and deadline waits go round again.
            Err(e) if would_block(&e) && (extra != 0 || call.wait_first || matches!(mode, Mode::Deadline(_))) => {
                need_wait = true;
                if let Some(w) = waited {
                    w.store(true, Relaxed);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}
