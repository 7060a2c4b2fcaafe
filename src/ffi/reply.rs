//! What a C command callback writes into its `netcore_reply`: plain bytes, a close, an error,
//! or typed values (bulk strings, status texts, integers, nulls and (nested) arrays),
//! rendered by the server's framing like every other `Reply`.

use std::os::raw::c_char;

use super::boundary::{arg_out, arg_str, FfiError};
use super::command::netcore_reply;
use super::status::netcore_status;
use crate::error::Error;
use crate::server::Reply;

/// A typed reply being built: finished values, and the arrays still being filled.
#[derive(Debug, Default)]
pub(crate) struct TypedReply {
    value: Option<Reply>,
    /// Arrays still open: the elements given so far and how many were announced.
    open: Vec<(Vec<Reply>, usize)>,
}

impl TypedReply {
    pub(crate) fn is_started(&self) -> bool {
        self.value.is_some() || !self.open.is_empty()
    }

    fn push(&mut self, mut value: Reply) -> Result<(), FfiError> {
        loop {
            let Some((items, wanted)) = self.open.last_mut() else {
                if self.value.is_some() {
                    return Err(invalid("the reply already holds its value (use netcore_reply_array for several)"));
                }
                self.value = Some(value);
                return Ok(());
            };
            items.push(value);
            if items.len() < *wanted {
                return Ok(());
            }
            let (done, _) = self.open.pop().unwrap_or_default();
            value = Reply::Array(done);
        }
    }

    /// The finished value; an error when an announced array was not filled.
    pub(crate) fn finish(self) -> Result<Option<Reply>, String> {
        match self.open.last() {
            Some((items, wanted)) => {
                Err(format!("the command's reply array is incomplete ({} of {wanted} elements)", items.len()))
            }
            None => Ok(self.value),
        }
    }
}

fn invalid(text: &str) -> FfiError {
    FfiError::Core(Error::InvalidArgument(text.into()))
}

/// Adds one typed value to the reply (refused after `netcore_reply_write`).
fn add(reply: *mut netcore_reply, value: impl FnOnce() -> Result<Reply, FfiError>) -> Result<(), FfiError> {
    let reply = arg_out(reply, "reply")?;
    if !reply.data.is_empty() {
        return Err(invalid("the reply was written with netcore_reply_write: it cannot also hold typed values"));
    }
    let value = value()?;
    reply.typed.push(value)
}

/// Adds a bulk string of `len` bytes (RESP `$`; line framing: the bytes). Binary-safe.
#[no_mangle]
pub extern "C" fn netcore_reply_bulk(reply: *mut netcore_reply, data: *const u8, len: usize) -> netcore_status {
    ffi_boundary!({
        add(reply, || {
            if len > 0 && data.is_null() {
                return Err(FfiError::NullArgument("data"));
            }
            // SAFETY: the caller promises `data` holds `len` readable bytes.
            let bytes = if len == 0 { Vec::new() } else { unsafe { std::slice::from_raw_parts(data, len) }.to_vec() };
            Ok(Reply::Bulk(bytes))
        })
    })
}

/// Adds a status text such as `OK` (RESP `+OK`; line framing: the text).
#[no_mangle]
pub extern "C" fn netcore_reply_simple(reply: *mut netcore_reply, text: *const c_char) -> netcore_status {
    ffi_boundary!({
        add(reply, || {
            // SAFETY: arg_str checks NULL; the caller promises a NUL-terminated string.
            Ok(Reply::Simple(unsafe { arg_str(text, "text")? }.to_string()))
        })
    })
}

/// Adds an integer (RESP `:`; line framing: its digits).
#[no_mangle]
pub extern "C" fn netcore_reply_integer(reply: *mut netcore_reply, value: i64) -> netcore_status {
    ffi_boundary!({ add(reply, || Ok(Reply::Integer(value))) })
}

/// Adds a null (RESP2 `$-1`, RESP3 `_`; line framing: no reply, or `null` in an array).
#[no_mangle]
pub extern "C" fn netcore_reply_null(reply: *mut netcore_reply) -> netcore_status {
    ffi_boundary!({ add(reply, || Ok(Reply::Null)) })
}

/// Starts an array of `count` elements: the next `count` values added (arrays included, so
/// arrays nest) are its elements. Line framing sends it as one JSON array.
#[no_mangle]
pub extern "C" fn netcore_reply_array(reply: *mut netcore_reply, count: usize) -> netcore_status {
    ffi_boundary!({
        let r = arg_out(reply, "reply")?;
        if !r.data.is_empty() {
            return Err(invalid("the reply was written with netcore_reply_write: it cannot also hold typed values"));
        }
        if count == 0 {
            return r.typed.push(Reply::Array(Vec::new()));
        }
        if r.typed.open.is_empty() && r.typed.value.is_some() {
            return Err(invalid("the reply already holds its value (use netcore_reply_array for several)"));
        }
        r.typed.open.push((Vec::new(), count));
        Ok(())
    })
}

/// Appends `len` bytes to the reply (line framing: sent as one line, the engine adds `\n`;
/// RESP framing: one bulk string). For typed values use `netcore_reply_bulk`,
/// `netcore_reply_simple`, `netcore_reply_integer`, `netcore_reply_null`, `netcore_reply_array`.
#[no_mangle]
pub extern "C" fn netcore_reply_write(reply: *mut netcore_reply, data: *const u8, len: usize) -> netcore_status {
    ffi_boundary!({
        let reply = arg_out(reply, "reply")?;
        if reply.typed.is_started() {
            return Err(FfiError::Core(crate::Error::InvalidArgument(
                "the reply holds typed values: add a bulk string with netcore_reply_bulk".into(),
            )));
        }
        if len > 0 {
            if data.is_null() {
                return Err(FfiError::NullArgument("data"));
            }
            // SAFETY: the caller promises `data` holds `len` readable bytes.
            reply.data.extend_from_slice(unsafe { std::slice::from_raw_parts(data, len) });
        }
        Ok(())
    })
}

/// Closes the connection after this reply (ignored for UDP).
#[no_mangle]
pub extern "C" fn netcore_reply_close(reply: *mut netcore_reply) -> netcore_status {
    ffi_boundary!({
        arg_out(reply, "reply")?.close = true;
        Ok(())
    })
}

/// Replaces the reply with `error: <message>` (counted as an error).
#[no_mangle]
pub extern "C" fn netcore_reply_error(reply: *mut netcore_reply, message: *const c_char) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let message = unsafe { arg_str(message, "message")? };
        arg_out(reply, "reply")?.error = Some(message.to_string());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_nest_and_must_be_filled() {
        let mut t = TypedReply::default();
        t.open.push((Vec::new(), 2));
        t.push(Reply::Integer(1)).unwrap();
        t.open.push((Vec::new(), 1));
        t.push(Reply::Null).unwrap();
        assert_eq!(t.finish().unwrap(), Some(Reply::Array(vec![Reply::Integer(1), Reply::Array(vec![Reply::Null])])));
        let mut t = TypedReply::default();
        t.open.push((Vec::new(), 2));
        t.push(Reply::Integer(1)).unwrap();
        assert!(t.finish().unwrap_err().contains("1 of 2"));
        let mut t = TypedReply::default();
        t.push(Reply::Integer(1)).unwrap();
        assert!(t.push(Reply::Integer(2)).is_err());
    }
}
