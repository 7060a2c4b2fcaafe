//! The C ABI's raw-pointer code without sockets: C strings in and out, caller buffers of
//! every length, byte buffers with NULs and invalid UTF-8, frees of NULL. Plain `cargo test`
//! runs it; `scripts/sanitize` runs it again under Miri, which checks every pointer access
//! (out-of-bounds, use after free, leaks, uninitialised reads).

#![allow(non_camel_case_types)]

use std::ffi::{c_char, CStr};
use std::ptr;

use netcore::ffi::netcore_status;

#[repr(C)]
struct config {
    _opaque: [u8; 0],
}

extern "C" {
    fn netcore_version() -> *const c_char;
    fn netcore_status_message(s: u32, buf: *mut c_char, len: usize, out_len: *mut usize) -> netcore_status;
    fn netcore_last_error_message(buf: *mut c_char, len: usize, out_len: *mut usize) -> netcore_status;
    fn netcore_getservbyport(port: i32, proto: *const c_char, out: *mut *mut c_char) -> netcore_status;
    fn netcore_string_free(s: *mut c_char);
    fn netcore_string_list_free(list: *mut u8);
    fn netcore_bytes_free(data: *mut u8, len: usize);
    fn netcore_server_config_new(service: *const c_char, out: *mut *mut config) -> netcore_status;
    fn netcore_server_config_free(c: *mut config);
    fn netcore_server_config_set_banner(c: *mut config, text: *const u8, len: usize) -> netcore_status;
    fn netcore_server_config_set_token(c: *mut config, token: *const c_char) -> netcore_status;
    fn netcore_server_config_listen_unix(c: *mut config, path: *const c_char) -> netcore_status;
}

/// Copies the text a buffer-filling call writes, at every buffer length from 0 to past the
/// end, checking the snprintf rules each time; returns the full text.
fn every_buffer_length(fill: &dyn Fn(*mut c_char, usize, *mut usize) -> netcore_status) -> String {
    let mut full = 0usize;
    assert_eq!(fill(ptr::null_mut(), 0, &mut full), netcore_status::NULL_ARGUMENT, "a NULL buffer");
    let mut buf = vec![1 as c_char; 1];
    let status = fill(buf.as_mut_ptr(), 0, &mut full);
    assert_eq!((status, buf[0]), (netcore_status::BUFFER_TOO_SMALL, 1), "len 0 writes nothing");
    let mut text = String::new();
    for len in 1..=full + 2 {
        let mut buf = vec![1 as c_char; len];
        let mut got = usize::MAX;
        let status = fill(buf.as_mut_ptr(), len, &mut got);
        assert_eq!(got, full);
        assert_eq!(status, if full < len { netcore_status::OK } else { netcore_status::BUFFER_TOO_SMALL });
        // SAFETY: the call wrote a NUL within `len` bytes.
        let s = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_string();
        assert_eq!(s.len(), full.min(len - 1));
        text = s;
    }
    text
}

#[test]
fn status_and_error_texts_fit_every_buffer() {
    // SAFETY: every pointer is NULL, a live buffer of the stated length, or a local.
    unsafe {
        assert_eq!(CStr::from_ptr(netcore_version()).to_str().unwrap(), netcore::VERSION);
        let text = every_buffer_length(&|b, l, o| netcore_status_message(netcore_status::TIMEOUT as u32, b, l, o));
        assert!(!text.is_empty());

        let mut cfg = ptr::null_mut();
        assert_eq!(netcore_server_config_new(c"no-such-service".as_ptr(), &mut cfg), netcore_status::INVALID_ARGUMENT);
        assert!(cfg.is_null(), "out-parameter untouched on failure");
        let text = every_buffer_length(&|b, l, o| netcore_last_error_message(b, l, o));
        assert!(text.contains("no-such-service"), "{text}");
    }
}

#[test]
fn strings_given_to_c_are_freed_and_bad_ones_refused() {
    // SAFETY: as above; strings returned by netcore are freed exactly once.
    unsafe {
        let mut name: *mut c_char = ptr::null_mut();
        assert_eq!(netcore_getservbyport(80, c"tcp".as_ptr(), &mut name), netcore_status::OK);
        assert_eq!(CStr::from_ptr(name).to_str().unwrap(), "http");
        netcore_string_free(name);
        netcore_string_free(ptr::null_mut());
        netcore_string_list_free(ptr::null_mut());
        netcore_bytes_free(ptr::null_mut(), 10);

        let mut cfg = ptr::null_mut();
        assert_eq!(netcore_server_config_new(c"banner".as_ptr(), &mut cfg), netcore_status::OK);
        let banner = b"thanks\0\xff\xfe for \r\n connecting";
        assert_eq!(netcore_server_config_set_banner(cfg, banner.as_ptr(), banner.len()), netcore_status::OK);
        // An empty banner through a pointer that must not be read.
        assert_eq!(netcore_server_config_set_banner(cfg, ptr::NonNull::dangling().as_ptr(), 0), netcore_status::OK);
        assert_eq!(netcore_server_config_set_banner(cfg, ptr::null(), 0), netcore_status::NULL_ARGUMENT);
        let not_utf8 = [0xffu8, 0xfe, 0];
        assert_eq!(netcore_server_config_set_token(cfg, not_utf8.as_ptr().cast()), netcore_status::INVALID_UTF8);
        assert_eq!(netcore_server_config_listen_unix(cfg, not_utf8.as_ptr().cast()), netcore_status::INVALID_UTF8);
        assert_eq!(netcore_server_config_listen_unix(cfg, c"".as_ptr()), netcore_status::INVALID_ARGUMENT);
        assert_eq!(netcore_server_config_set_token(ptr::null_mut(), c"x".as_ptr()), netcore_status::NULL_ARGUMENT);
        netcore_server_config_free(cfg);
        netcore_server_config_free(ptr::null_mut());
    }
}

/// The fixed text of a code read back from C's integer (unknown codes included).
fn status_text(code: u32) -> String {
    let mut buf = [0 as c_char; 128];
    // SAFETY: a live buffer of the stated length; a NULL out_len is allowed.
    let status = unsafe { netcore_status_message(code, buf.as_mut_ptr(), buf.len(), ptr::null_mut()) };
    assert_eq!(status, netcore_status::OK);
    // SAFETY: the call wrote a NUL within the buffer.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_string()
}

#[test]
fn every_status_in_the_header_has_its_text_and_others_say_unknown() {
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/netcore.h")).unwrap();
    let codes: Vec<u32> = header
        .lines()
        .filter_map(|l| l.trim().strip_prefix("NETCORE_STATUS_"))
        .filter_map(|l| l.split_once(" = "))
        .map(|(_, v)| v.trim_end_matches(',').parse().unwrap())
        .collect();
    assert!(codes.len() > 20, "{codes:?}");
    for code in codes {
        assert!(!status_text(code).starts_with("unknown"), "{code} has no text of its own");
    }
    for code in [1, 7000, 7098, 7210, 8000, u32::MAX] {
        assert_eq!(status_text(code), format!("unknown status code {code}"));
    }
}
