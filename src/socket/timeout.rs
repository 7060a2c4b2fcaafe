//! Timeouts as Python's `socket` module keeps them: the module-wide default new sockets get
//! (`setdefaulttimeout`), the checks `settimeout` makes, and the nanosecond field a socket
//! stores its timeout in.

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::time::Duration;

use crate::error::{Error, Result};

/// "No timeout" in the nanosecond timeout fields.
pub(super) const NO_TIMEOUT: i64 = -1;

/// The module-wide default timeout new sockets get (`setdefaulttimeout`), in ns; -1 is None.
static DEFAULT_TIMEOUT_NS: AtomicI64 = AtomicI64::new(NO_TIMEOUT);

/// Python's `socket.getdefaulttimeout()`.
pub fn getdefaulttimeout() -> Option<Duration> {
    ns_to_timeout(DEFAULT_TIMEOUT_NS.load(Relaxed))
}

/// Python's `socket.setdefaulttimeout(t)`; see [`parse_timeout`] for the checks.
pub fn setdefaulttimeout(timeout: Option<Duration>) {
    DEFAULT_TIMEOUT_NS.store(timeout_to_ns(timeout), Relaxed);
}

/// Checks a timeout in seconds as `settimeout` does: NaN and negative values are errors.
pub fn parse_timeout(seconds: Option<f64>) -> Result<Option<Duration>> {
    let Some(s) = seconds else { return Ok(None) };
    if s.is_nan() {
        return Err(Error::InvalidArgument("Invalid value NaN (not a number)".into()));
    }
    if s < 0.0 {
        return Err(Error::InvalidArgument("Timeout value out of range".into()));
    }
    // Rounded up to whole nanoseconds, as CPython's _PyTime_ROUND_TIMEOUT.
    let ns = (s * 1e9).ceil();
    if ns >= i64::MAX as f64 {
        return Err(Error::Overflow("timestamp out of range for platform time_t".into()));
    }
    Ok(Some(Duration::from_nanos(ns as u64)))
}

/// `seconds` (already checked finite and not negative) as a `Duration`, or `Error::Overflow`
/// past what the platform's clocks hold: the one conversion of every seconds option, so a
/// huge value gets CPython's OverflowError instead of a panic in `Duration::from_secs_f64`.
pub fn seconds_to_duration(seconds: f64) -> Result<Duration> {
    Ok(parse_timeout(Some(seconds))?.unwrap_or_default())
}

pub(super) fn ns_to_timeout(ns: i64) -> Option<Duration> {
    (ns >= 0).then(|| Duration::from_nanos(ns as u64))
}

pub(super) fn timeout_to_ns(t: Option<Duration>) -> i64 {
    t.map_or(NO_TIMEOUT, |d| d.as_nanos().min(i64::MAX as u128) as i64)
}
