//! The panic boundary and argument checks every exported function goes through.

use std::cell::RefCell;
use std::ffi::CStr;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::status::netcore_status;
use crate::error::Error;

/// The body of every `netcore_*_free`: NULL is ignored, anything else is dropped.
///
/// # Safety
/// `ptr` is NULL or came from `Box::into_raw` in this crate (for a slice: with its length) and
/// is not used again.
pub(crate) unsafe fn free_boxed<T: ?Sized>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the caller's promise above.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Failures that exist only at the C edge, plus every core error.
#[derive(Debug, thiserror::Error)]
pub enum FfiError {
    #[error("argument `{0}` is NULL")]
    NullArgument(&'static str),
    #[error("argument `{0}` is not valid UTF-8")]
    InvalidUtf8(&'static str),
    #[error("buffer too small: {needed} bytes needed")]
    BufferTooSmall { needed: usize },
    #[error("index {index} out of range for a list of {len}")]
    OutOfRange { index: usize, len: usize },
    #[error(transparent)]
    Core(#[from] Error),
}

impl FfiError {
    pub fn status(&self) -> netcore_status {
        match self {
            FfiError::NullArgument(_) => netcore_status::NULL_ARGUMENT,
            FfiError::InvalidUtf8(_) => netcore_status::INVALID_UTF8,
            FfiError::BufferTooSmall { .. } => netcore_status::BUFFER_TOO_SMALL,
            FfiError::OutOfRange { .. } => netcore_status::OUT_OF_RANGE,
            FfiError::Core(e) => e.into(),
        }
    }

    fn code(&self) -> i32 {
        match self {
            FfiError::Core(e) => e.code(),
            _ => 0,
        }
    }
}

/// The last failure on this thread: its status, numeric code and message.
struct LastError {
    status: netcore_status,
    code: i32,
    message: String,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn record(status: netcore_status, code: i32, message: String) {
    LAST_ERROR.with(|slot| *slot.borrow_mut() = Some(LastError { status, code, message }));
}

pub(crate) fn with_last_error<R>(f: impl FnOnce(Option<(netcore_status, i32, &str)>) -> R) -> R {
    LAST_ERROR.with(|slot| {
        let slot = slot.borrow();
        f(slot.as_ref().map(|e| (e.status, e.code, e.message.as_str())))
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error (panic): {text}")
}

/// Runs the body of a status-returning export; records failures for `netcore_last_error_*`.
pub(crate) fn run_status(body: impl FnOnce() -> Result<(), FfiError>) -> netcore_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => netcore_status::OK,
        Ok(Err(e)) => {
            let status = e.status();
            record(status, e.code(), e.to_string());
            status
        }
        Err(payload) => {
            record(netcore_status::PANIC, 0, panic_message(payload.as_ref()));
            netcore_status::PANIC
        }
    }
}

/// Runs the body of an export that returns a plain value; `default` stands in on failure.
pub(crate) fn run_value<T>(default: T, body: impl FnOnce() -> Result<T, FfiError>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            record(e.status(), e.code(), e.to_string());
            default
        }
        Err(payload) => {
            record(netcore_status::PANIC, 0, panic_message(payload.as_ref()));
            default
        }
    }
}

/// Wraps the body of every exported function. `ffi_boundary!({ ... Ok(()) })` returns a
/// `netcore_status`; `ffi_boundary!(default = V; { ... Ok(value) })` returns the value or `V`.
macro_rules! ffi_boundary {
    (default = $default:expr; $body:block) => {
        $crate::ffi::boundary::run_value($default, move || -> ::core::result::Result<_, $crate::ffi::FfiError> {
            $body
        })
    };
    ($body:block) => {
        $crate::ffi::boundary::run_status(move || -> ::core::result::Result<(), $crate::ffi::FfiError> { $body })
    };
}

/// A NUL-terminated UTF-8 string argument that must not be NULL.
///
/// # Safety
/// `p`, when not NULL, must point to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, name: &'static str) -> Result<&'a str, FfiError> {
    if p.is_null() {
        return Err(FfiError::NullArgument(name));
    }
    let bytes = CStr::from_ptr(p).to_bytes();
    if bytes.is_ascii() {
        // SAFETY: ASCII is UTF-8. (The check is cheaper than from_utf8's set-up on the short
        // strings callbacks reply with, such as "PONG".)
        return Ok(std::str::from_utf8_unchecked(bytes));
    }
    std::str::from_utf8(bytes).map_err(|_| FfiError::InvalidUtf8(name))
}

/// A string argument where NULL means "not given".
///
/// # Safety
/// As `arg_str`.
pub(crate) unsafe fn arg_opt_str<'a>(p: *const c_char, name: &'static str) -> Result<Option<&'a str>, FfiError> {
    if p.is_null() {
        Ok(None)
    } else {
        arg_str(p, name).map(Some)
    }
}

/// An out-parameter that must not be NULL.
pub(crate) fn arg_out<'a, T>(p: *mut T, name: &'static str) -> Result<&'a mut T, FfiError> {
    // SAFETY: the caller promises `p`, when not NULL, is valid and writable for a T.
    unsafe { p.as_mut() }.ok_or(FfiError::NullArgument(name))
}

/// A borrowed object handle that must not be NULL.
pub(crate) fn arg_ref<'a, T>(p: *const T, name: &'static str) -> Result<&'a T, FfiError> {
    // SAFETY: the caller promises `p`, when not NULL, came from this library and is alive.
    unsafe { p.as_ref() }.ok_or(FfiError::NullArgument(name))
}

/// A byte-buffer argument: `data` may be NULL only when `len` is 0.
pub(crate) fn arg_bytes<'a>(data: *const u8, len: usize, name: &'static str) -> Result<&'a [u8], FfiError> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(FfiError::NullArgument(name));
    }
    // SAFETY: the caller promises `data` points to `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arg_str_takes_ascii_and_other_utf8_and_refuses_the_rest() {
        // SAFETY: NUL-terminated literals that outlive the calls.
        unsafe {
            assert_eq!(arg_str(c"PONG".as_ptr(), "text").unwrap(), "PONG");
            assert_eq!(arg_str(c"héllo ✓".as_ptr(), "text").unwrap(), "héllo ✓");
            assert!(matches!(arg_str(c"\xff\xfe".as_ptr(), "text"), Err(FfiError::InvalidUtf8("text"))));
            assert!(matches!(arg_str(c"ok\xc3".as_ptr(), "text"), Err(FfiError::InvalidUtf8("text"))));
            assert!(matches!(arg_str(std::ptr::null(), "text"), Err(FfiError::NullArgument("text"))));
        }
    }
}
