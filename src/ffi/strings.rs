//! Strings and string lists handed to C, and copying text into caller buffers.

use std::ffi::CString;
use std::os::raw::c_char;

use super::boundary::{arg_out, arg_ref, FfiError};
use super::status::netcore_status;

/// Turns Rust text into a C string the caller frees with `netcore_string_free`.
/// Interior NUL bytes (never produced by the resolver) are dropped rather than truncating.
pub(crate) fn into_c_string(s: impl Into<Vec<u8>>) -> *mut c_char {
    let mut bytes = s.into();
    bytes.retain(|&b| b != 0);
    CString::new(bytes).expect("NUL bytes removed").into_raw()
}

/// Frees a string returned by netcore. NULL is ignored.
#[no_mangle]
pub extern "C" fn netcore_string_free(s: *mut c_char) {
    ffi_boundary!(default = (); {
        if !s.is_null() {
            // SAFETY: non-NULL strings passed here were made by `into_c_string`.
            drop(unsafe { CString::from_raw(s) });
        }
        Ok(())
    })
}

/// An immutable list of strings owned by netcore (aliases, addresses, directory names).
pub struct netcore_string_list {
    items: Vec<CString>,
}

impl netcore_string_list {
    pub(crate) fn new(items: impl IntoIterator<Item = String>) -> Box<Self> {
        let items = items
            .into_iter()
            .map(|s| {
                let mut bytes = s.into_bytes();
                bytes.retain(|&b| b != 0);
                CString::new(bytes).expect("NUL bytes removed")
            })
            .collect();
        Box::new(netcore_string_list { items })
    }
}

/// The number of strings in `list` (0 for NULL).
#[no_mangle]
pub extern "C" fn netcore_string_list_len(list: *const netcore_string_list) -> usize {
    ffi_boundary!(default = 0; {
        Ok(arg_ref(list, "list")?.items.len())
    })
}

/// Writes a borrowed pointer to item `index` into `*out_item`. The string belongs to the
/// list and lives until `netcore_string_list_free`.
#[no_mangle]
pub extern "C" fn netcore_string_list_get(
    list: *const netcore_string_list,
    index: usize,
    out_item: *mut *const c_char,
) -> netcore_status {
    ffi_boundary!({
        let list = arg_ref(list, "list")?;
        let out_item = arg_out(out_item, "out_item")?;
        let item = list.items.get(index).ok_or(FfiError::OutOfRange { index, len: list.items.len() })?;
        *out_item = item.as_ptr();
        Ok(())
    })
}

/// Frees a string list. NULL is ignored.
#[no_mangle]
pub extern "C" fn netcore_string_list_free(list: *mut netcore_string_list) {
    ffi_boundary!(default = (); {
        // SAFETY: non-NULL lists passed here were made by `Box::into_raw` in this crate.
        unsafe { super::boundary::free_boxed(list) };
        Ok(())
    })
}

/// Copies `text` into `buf` like snprintf: at most `len - 1` bytes and a NUL, the full length
/// in `*out_len`. Returns BUFFER_TOO_SMALL (with the truncated text in `buf`) when it did not fit.
pub(crate) fn copy_to_buffer(
    text: &str,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> Result<netcore_status, FfiError> {
    if buf.is_null() {
        return Err(FfiError::NullArgument("buf"));
    }
    let bytes = text.as_bytes();
    if len > 0 {
        let n = bytes.len().min(len - 1);
        // SAFETY: the caller promises `buf` has room for `len` bytes; n + 1 <= len.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
    }
    // SAFETY: `out_len` is optional; when given it must be writable.
    if let Some(out) = unsafe { out_len.as_mut() } {
        *out = bytes.len();
    }
    Ok(if bytes.len() < len { netcore_status::OK } else { netcore_status::BUFFER_TOO_SMALL })
}
