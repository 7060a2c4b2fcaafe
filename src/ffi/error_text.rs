//! Error messages for C callers: per code, and the last failure on the calling thread.

use std::os::raw::c_char;

use super::boundary::with_last_error;
use super::status::netcore_status;
use super::strings::copy_to_buffer;

/// Writes the fixed description of `status` (a `netcore_status` value) into `buf`
/// (snprintf-style: truncated to `len - 1` bytes plus NUL; the full length goes to `*out_len`
/// when `out_len` is not NULL). A code netcore does not define gets `unknown status code N`.
/// Returns OK, or BUFFER_TOO_SMALL when the text was truncated.
#[no_mangle]
pub extern "C" fn netcore_status_message(
    status: u32,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> netcore_status {
    ffi_boundary!(default = netcore_status::PANIC; {
        // An integer, not the enum: C may pass any value, and a Rust enum holding one it does
        // not define is undefined behaviour.
        let text = match netcore_status::from_code(status) {
            Some(known) => known.description().into(),
            None => std::borrow::Cow::Owned(format!("unknown status code {status}")),
        };
        // Reports its own failure by status only, so the last error survives for a retry.
        Ok(copy_to_buffer(&text, buf, len, out_len).unwrap_or_else(|e| e.status()))
    })
}

/// Writes the message of the last failed netcore call on this thread into `buf`, with the
/// details (which argument, which host, the errno text). Same buffer rules as
/// `netcore_status_message`. With no failure so far the message is empty.
#[no_mangle]
pub extern "C" fn netcore_last_error_message(buf: *mut c_char, len: usize, out_len: *mut usize) -> netcore_status {
    ffi_boundary!(default = netcore_status::PANIC; {
        let copied = with_last_error(|last| copy_to_buffer(last.map_or("", |(_, _, m)| m), buf, len, out_len));
        Ok(copied.unwrap_or_else(|e| e.status()))
    })
}

/// The status of the last failed netcore call on this thread (OK if none failed yet).
#[no_mangle]
pub extern "C" fn netcore_last_error_status() -> netcore_status {
    ffi_boundary!(default = netcore_status::PANIC; {
        Ok(with_last_error(|last| last.map_or(netcore_status::OK, |(s, _, _)| s)))
    })
}

/// The numeric code behind the last failure on this thread: errno for OS_ERROR, the EAI_*
/// value for ADDRESS_INFO, h_errno for HOST; 0 otherwise.
#[no_mangle]
pub extern "C" fn netcore_last_error_code() -> i32 {
    ffi_boundary!(default = 0; {
        Ok(with_last_error(|last| last.map_or(0, |(_, c, _)| c)))
    })
}
