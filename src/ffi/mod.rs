#![allow(non_camel_case_types)]
//! The C ABI. Conventions (docs/c-api.md):
//! - every exported function runs its body inside `ffi_boundary!`, so a panic becomes
//!   `NETCORE_STATUS_PANIC` and never unwinds into C;
//! - every pointer argument is checked; NULL gives `NETCORE_STATUS_NULL_ARGUMENT`;
//! - out-parameters come last and are written only on success;
//! - objects are `netcore_*_new` / `netcore_*_free`; `*_free(NULL)` does nothing;
//! - strings the library returns are freed with `netcore_string_free`.

#[macro_use]
pub(crate) mod boundary;
mod client;
mod command;
mod deploy;
mod error_text;
mod reply;
mod resolve;
mod server;
mod socket;
mod status;
mod strings;
mod tls;

pub use boundary::FfiError;
pub use status::netcore_status;
pub use strings::netcore_string_list;
pub use tls::netcore_tls_options;

use std::os::raw::c_char;

/// The library version, `"MAJOR.MINOR.PATCH"`, a static string (do not free).
#[no_mangle]
pub extern "C" fn netcore_version() -> *const c_char {
    ffi_boundary!(default = std::ptr::null(); {
        Ok(concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
    })
}
pub use client::netcore_client;
pub use command::{netcore_reply, netcore_request, netcore_transport};
pub use resolve::{netcore_addrinfo, netcore_addrinfo_list};
pub use server::{netcore_server, netcore_server_config, netcore_server_stats};
