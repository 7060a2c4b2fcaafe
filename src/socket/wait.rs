//! How a blocking call waits, for the sockets and the clients alike: the one `poll(2)` call
//! (`poll_fd`), the one wait loop with a deadline (`wait_fd`), Python's timeout modes
//! (`Mode`, `sock_call`), EINTR (PEP 475) and the one interruption hook (`Interrupt`) that
//! lets a caller (the Python layer, the CLI) run signal handlers or notice Ctrl+C while a
//! call blocks.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// A hook run when a blocking call is interrupted by a signal (EINTR) and, for a sliced
/// hook ([`Interrupt::sliced`], the clients'), also every slice a call spends waiting: `check`
/// runs before the call goes on (PEP 475), and an `Err` from it (normally
/// `Error::Interrupted`) aborts the call with that error.
///
/// The Python layer uses it on the main thread to run signal handlers, so Ctrl+C interrupts a
/// blocking `accept` as it does in CPython: the signal ends the system call with EINTR. The
/// clients slice their hook because a signal may wake another thread than the waiting one,
/// and then no EINTR comes. Rust callers normally pass [`Interrupt::none`].
pub struct Interrupt<'a> {
    check: Option<&'a mut (dyn FnMut() -> Result<()> + Send)>,
    slice: Option<Duration>,
}

impl<'a> Interrupt<'a> {
    /// No hook: EINTR is retried.
    pub fn none() -> Self {
        Interrupt { check: None, slice: None }
    }

    /// Run `check` after every EINTR.
    pub fn new(check: &'a mut (dyn FnMut() -> Result<()> + Send)) -> Self {
        Interrupt { check: Some(check), slice: None }
    }

    /// The same hook, also run every `slice` while a call waits (in `poll`, or blocked in the
    /// kernel in [`Mode::Sliced`]). Without a hook there is nothing to run and no slicing.
    pub fn sliced(self, slice: Duration) -> Self {
        Interrupt { slice: Some(slice), ..self }
    }

    /// Whether there is a hook at all (a wait without one need not wake to run it).
    pub fn is_set(&self) -> bool {
        self.check.is_some()
    }

    /// How long a wait may last before the hook must run; `None`: only after a signal.
    pub fn slice(&self) -> Option<Duration> {
        self.slice.filter(|_| self.is_set())
    }

    /// Runs the hook, if any.
    pub fn check(&mut self) -> Result<()> {
        match self.check.as_mut() {
            Some(f) => f(),
            None => Ok(()),
        }
    }
}

/// How often the clients' waits wake to run their hook when no signal woke them: the slice of
/// their hooks and the kernel timeout of a socket in [`Mode::Sliced`].
pub const CHECK_SLICE: Duration = Duration::from_millis(50);

/// How a call on a socket waits, from its timeout (Python's three modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// timeout 0: never wait; a call that would block fails with EAGAIN.
    NonBlocking,
    /// timeout None: wait as long as it takes.
    Blocking,
    /// timeout > 0: wait until this instant, then fail with `Error::Timeout`.
    Deadline(Instant),
    /// The clients' mode, on a socket whose fd blocks in each call for at most `CHECK_SLICE`
    /// (`Socket::block_in_slices`), waiting at most this long (None: no limit): the call is
    /// made straight away, so data already there or on its way costs one system call as on
    /// a blocking socket, and no clock is read until a slice has passed (it then counts as
    /// `CHECK_SLICE` of the budget); each slice that passes runs the hook; the last stretch
    /// of the budget, shorter than a slice, waits in `poll`.
    Sliced(Option<Duration>),
}

impl Mode {
    pub fn from_timeout(timeout: Option<Duration>) -> Mode {
        match timeout {
            None => Mode::Blocking,
            Some(t) if t.is_zero() => Mode::NonBlocking,
            Some(t) => Mode::Deadline(Instant::now().checked_add(t).unwrap_or_else(far_future)),
        }
    }

    /// `Deadline` at `deadline`, or one that never comes: waits in `poll` either way.
    pub fn until(deadline: Option<Instant>) -> Mode {
        Mode::Deadline(deadline.unwrap_or_else(far_future))
    }
}

/// `now + t`, or a time that never comes.
fn after(t: Duration) -> Instant {
    Instant::now().checked_add(t).unwrap_or_else(far_future)
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86400 * 365 * 30)
}

/// One `poll(2)` on `fd` for `events`: the events it reported, 0 when `timeout` passed first.
/// EINTR is returned to the caller, which decides whether to run its hook and retry.
pub(crate) fn poll_fd(fd: i32, events: i16, timeout: Option<Duration>) -> io::Result<i16> {
    let mut pfd = libc::pollfd { fd, events, revents: 0 };
    let ms: libc::c_int = match timeout {
        None => -1,
        // Rounded up, as CPython does, so a wait never ends before its deadline (and a
        // 0.4 ms remainder is not a busy poll of 0 ms).
        Some(t) => t.as_nanos().div_ceil(1_000_000).min(libc::c_int::MAX as u128) as libc::c_int,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(if n > 0 { pfd.revents } else { 0 })
}

/// One wait on `fd` of at most `timeout`, and at most the hook's slice: the events reported,
/// or 0 when the time passed or a signal came (the hook has run then; its error ends the wait).
fn wait_once(fd: i32, events: i16, timeout: Option<Duration>, intr: &mut Interrupt<'_>) -> Result<i16> {
    let slice = intr.slice();
    let timeout = match (timeout, slice) {
        (Some(t), Some(s)) => Some(t.min(s)),
        (t, s) => t.or(s),
    };
    match poll_fd(fd, events, timeout) {
        Ok(0) => {
            if slice.is_some() {
                intr.check()?;
            }
            Ok(0)
        }
        Ok(revents) => Ok(revents),
        Err(e) if is_eintr(&e) => intr.check().map(|()| 0),
        Err(e) => Err(Error::Os(e)),
    }
}

/// Waits until `fd` reports one of `events` (returns the reported events), `deadline` passes
/// (`Error::Timeout`) or the hook fails. The hook runs after every EINTR and, when sliced,
/// every slice.
pub fn wait_fd(fd: i32, events: i16, deadline: Option<Instant>, intr: &mut Interrupt<'_>) -> Result<i16> {
    loop {
        let remaining = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout);
                }
                Some(left)
            }
            None => None,
        };
        match wait_once(fd, events, remaining, intr)? {
            0 => {}
            revents => return Ok(revents),
        }
    }
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
    /// Always wait for readiness before the first attempt, even without a timeout
    /// (completing a connect).
    pub wait_first: bool,
}

/// Runs `op` under `mode`, as CPython's `sock_call_ex`: with a timeout it polls until the fd
/// is ready (or the deadline passes: `Error::Timeout`) and then calls `op`; without one it
/// calls `op` straight away, one system call per operation. EINTR is retried after
/// `intr.check()`. `op` gets the fd, read from `fd_cell` each round.
pub(crate) fn sock_call<T>(
    fd_cell: &AtomicI32,
    mode: Mode,
    call: Call,
    intr: &mut Interrupt<'_>,
    mut op: impl FnMut(i32) -> io::Result<T>,
) -> Result<T> {
    // Mode::Sliced: when its budget runs out, once the clock has been read.
    let mut sliced_deadline: Option<Instant> = None;
    loop {
        // Read afresh each round, as CPython does: once another thread closes the socket,
        // the call fails with EBADF instead of waiting on a number the fd table may reuse.
        let fd = fd_cell.load(Relaxed);
        if fd < 0 {
            return op(fd).map_err(Error::from);
        }
        let left = |deadline: Instant| match deadline.saturating_duration_since(Instant::now()) {
            left if left.is_zero() => Err(Error::Timeout),
            left => Ok(left),
        };
        let wait: Option<Option<Duration>> = match mode {
            Mode::NonBlocking | Mode::Sliced(None) => None,
            Mode::Blocking => call.wait_first.then_some(None),
            Mode::Deadline(deadline) => Some(Some(left(deadline)?)),
            // In the kernel a slice at a time while a whole slice is left; the rest in poll
            // (a budget already spent still looks once, with a poll of 0 ms).
            Mode::Sliced(Some(budget)) => {
                let left = match sliced_deadline {
                    Some(d) => d.saturating_duration_since(Instant::now()),
                    None if budget < CHECK_SLICE => {
                        sliced_deadline = Some(after(budget));
                        budget
                    }
                    None => budget,
                };
                (left < CHECK_SLICE).then_some(Some(left))
            }
        };
        if let Some(timeout) = wait {
            let events = if call.writing { libc::POLLOUT } else { libc::POLLIN };
            // Nothing yet (time passed, or a signal and the hook let it go on): the deadline
            // decides, here for Sliced and above for the others.
            if wait_once(fd, events, timeout, intr)? == 0 {
                if sliced_deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(Error::Timeout);
                }
                continue;
            }
        }
        // Inner loop: retry the operation itself after EINTR, without waiting again.
        loop {
            match op(fd) {
                Ok(v) => return Ok(v),
                Err(e) if is_eintr(&e) => intr.check()?,
                // A slice passed blocked in the kernel (SO_RCVTIMEO): the hook's turn, then
                // the deadline's.
                Err(e) if would_block(&e) && matches!(mode, Mode::Sliced(_)) => {
                    if wait.is_none() {
                        if let (None, Mode::Sliced(Some(budget))) = (sliced_deadline, mode) {
                            sliced_deadline = Some(after(budget.saturating_sub(CHECK_SLICE)));
                        }
                        intr.check()?;
                    }
                    break;
                }
                // Readiness was a false positive (or another thread took the data): wait
                // again until the deadline. A blocking fd that still says EAGAIN
                // (SO_RCVTIMEO) reports it, as CPython does.
                Err(e) if would_block(&e) && (call.wait_first || matches!(mode, Mode::Deadline(_))) => break,
                Err(e) => return Err(e.into()),
            }
            if call.wait_first {
                break;
            }
        }
    }
}
