//! The C ABI's argument conversion, called through the exported symbols exactly as C calls
//! them: strings with any bytes (invalid UTF-8, empty, NULL), buffers of any length, NULL
//! out-parameters. Every call returns a status (PANIC never), writes out-parameters only on
//! success, and the error text always fits the buffer with its NUL.
#![no_main]
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void, CString};
use std::ptr;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netcore::ffi::netcore_status;

/// The configuration handle as C sees it: opaque.
#[repr(C)]
struct netcore_server_config {
    _private: [u8; 0],
}

type CommandFn = Option<extern "C" fn(*mut c_void, *const c_void, *mut c_void) -> i32>;

extern "C" {
    fn netcore_getservbyname(name: *const c_char, proto: *const c_char, out_port: *mut u16) -> netcore_status;
    fn netcore_getservbyport(port: i32, proto: *const c_char, out_name: *mut *mut c_char) -> netcore_status;
    fn netcore_string_free(s: *mut c_char);
    fn netcore_server_config_new(service: *const c_char, out: *mut *mut netcore_server_config) -> netcore_status;
    fn netcore_server_config_free(config: *mut netcore_server_config);
    fn netcore_server_config_listen_tcp(config: *mut netcore_server_config, a: *const c_char) -> netcore_status;
    fn netcore_server_config_listen_udp(config: *mut netcore_server_config, a: *const c_char) -> netcore_status;
    fn netcore_server_config_listen_unix(config: *mut netcore_server_config, p: *const c_char) -> netcore_status;
    fn netcore_server_config_set_framing(config: *mut netcore_server_config, f: *const c_char) -> netcore_status;
    fn netcore_server_config_set_root(config: *mut netcore_server_config, d: *const c_char) -> netcore_status;
    fn netcore_server_config_set_banner(config: *mut netcore_server_config, t: *const u8, n: usize) -> netcore_status;
    fn netcore_server_config_set_token(config: *mut netcore_server_config, t: *const c_char) -> netcore_status;
    fn netcore_server_config_set_max_line(config: *mut netcore_server_config, n: usize) -> netcore_status;
    fn netcore_server_config_set_max_connections(config: *mut netcore_server_config, n: usize) -> netcore_status;
    fn netcore_server_config_add_command(
        config: *mut netcore_server_config,
        name: *const c_char,
        callback: CommandFn,
        userdata: *mut c_void,
        free_userdata: Option<extern "C" fn(*mut c_void)>,
    ) -> netcore_status;
    fn netcore_last_error_message(buf: *mut c_char, len: usize, out_len: *mut usize) -> netcore_status;
    fn netcore_last_error_status() -> netcore_status;
    fn netcore_status_message(
        status: netcore_status,
        buf: *mut c_char,
        len: usize,
        out_len: *mut usize,
    ) -> netcore_status;
}

/// A C string argument: NULL, or bytes cut at their first NUL.
#[derive(Arbitrary, Debug)]
enum Arg {
    Null,
    Text(Vec<u8>),
    /// One of the words the calls know, so the fuzzer gets past the first check.
    Known(u8),
}

const KNOWN: [&str; 12] =
    ["command", "greet", "banner", "echo", "custom", "line", "message", "http", "tcp", "udp", "127.0.0.1:0", "[::1]:0"];

impl Arg {
    fn c_string(&self) -> Option<CString> {
        match self {
            Arg::Null => None,
            Arg::Text(b) => Some(CString::new(b.split(|&c| c == 0).next().unwrap_or_default()).unwrap()),
            Arg::Known(i) => Some(CString::new(KNOWN[*i as usize % KNOWN.len()]).unwrap()),
        }
    }
}

fn ptr_of(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |s| s.as_ptr())
}

#[derive(Arbitrary, Debug)]
enum Op {
    Servbyname(Arg, Arg, bool),
    Servbyport(i32, Arg, bool),
    ConfigNew(Arg),
    ListenTcp(Arg),
    ListenUdp(Arg),
    ListenUnix(Arg),
    Framing(Arg),
    Root(Arg),
    Banner(Option<Vec<u8>>),
    Token(Arg),
    MaxLine(usize),
    MaxConnections(usize),
    AddCommand(Arg, bool),
    LastError { len: u16, null_buf: bool, want_len: bool },
    StatusMessage { status: u8, len: u16 },
}

const STATUSES: [netcore_status; 6] = [
    netcore_status::OK,
    netcore_status::NULL_ARGUMENT,
    netcore_status::INVALID_UTF8,
    netcore_status::PANIC,
    netcore_status::TIMEOUT,
    netcore_status::INVALID_STATE,
];

extern "C" fn command(_: *mut c_void, _: *const c_void, _: *mut c_void) -> i32 {
    0
}

fn check(status: netcore_status) {
    assert_ne!(status, netcore_status::PANIC, "a call panicked");
    if status != netcore_status::OK {
        // SAFETY: no arguments.
        assert_eq!(unsafe { netcore_last_error_status() }, status);
    }
}

/// Checks snprintf rules: NUL within `len`, the text's full length reported.
fn check_buffer(status: netcore_status, buf: &[u8], len: usize, full: usize) {
    if len == 0 {
        return;
    }
    let nul = buf.iter().position(|&b| b == 0).expect("a NUL is written");
    assert!(nul < len && nul == full.min(len - 1), "nul at {nul}, len {len}, full {full}");
    assert_eq!(status == netcore_status::OK, full < len);
}

/// The services database the look-ups read (on every call, as libc does). Small, with the
/// names `KNOWN` offers: reading and parsing the system's 300 entries per call took 80% of
/// this target's time, under ASan, and the file format is `addr_parse`'s to fuzz.
const SERVICES: &str = "# name port/proto aliases
echo\t\t7/tcp
echo\t\t7/udp
http\t\t80/tcp\t\twww www-http\t# a comment
http\t\t80/udp
gopher\t\t70/tcp
https\t\t443/tcp
not a line
domain\t\t53/udp
";

/// Points the look-ups at `SERVICES`, in a file that is gone with the process: an unnamed
/// temporary file, opened anew through /proc/self/fd for each look-up.
fn use_small_services_file() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let mut file = tempfile::tempfile().expect("a temporary file");
    file.write_all(SERVICES.as_bytes()).expect("write the services file");
    let path = format!("/proc/self/fd/{}", file.as_raw_fd());
    std::mem::forget(file); // open for the process's life
    std::env::set_var(netcore::resolve::services::SERVICES_ENV, path); // before any thread
}

fuzz_target!(init: use_small_services_file(), |ops: Vec<Op>| {
    let mut config: *mut netcore_server_config = ptr::null_mut();
    // SAFETY: every pointer passed is NULL or valid for the call; `config` is NULL or live.
    unsafe {
        for op in ops.iter().take(32) {
            match op {
                Op::Servbyname(name, proto, out) => {
                    let (name, proto) = (name.c_string(), proto.c_string());
                    let mut port = 0xdead_u16;
                    let out_ptr = if *out { &mut port as *mut u16 } else { ptr::null_mut() };
                    let status = netcore_getservbyname(ptr_of(&name), ptr_of(&proto), out_ptr);
                    check(status);
                    if status != netcore_status::OK {
                        assert_eq!(port, 0xdead, "out-parameter written on failure");
                    }
                }
                Op::Servbyport(port, proto, out) => {
                    let proto = proto.c_string();
                    let mut name: *mut c_char = ptr::null_mut();
                    let out_ptr = if *out { &mut name as *mut *mut c_char } else { ptr::null_mut() };
                    let status = netcore_getservbyport(*port, ptr_of(&proto), out_ptr);
                    check(status);
                    assert_eq!(status == netcore_status::OK, !name.is_null());
                    netcore_string_free(name);
                }
                Op::ConfigNew(service) => {
                    let service = service.c_string();
                    let mut fresh: *mut netcore_server_config = ptr::null_mut();
                    let status = netcore_server_config_new(ptr_of(&service), &mut fresh);
                    check(status);
                    assert_eq!(status == netcore_status::OK, !fresh.is_null());
                    if !fresh.is_null() {
                        netcore_server_config_free(config);
                        config = fresh;
                    }
                }
                Op::ListenTcp(a) => check(netcore_server_config_listen_tcp(config, ptr_of(&a.c_string()))),
                Op::ListenUdp(a) => check(netcore_server_config_listen_udp(config, ptr_of(&a.c_string()))),
                Op::ListenUnix(a) => check(netcore_server_config_listen_unix(config, ptr_of(&a.c_string()))),
                Op::Framing(a) => check(netcore_server_config_set_framing(config, ptr_of(&a.c_string()))),
                Op::Root(a) => check(netcore_server_config_set_root(config, ptr_of(&a.c_string()))),
                Op::Token(a) => check(netcore_server_config_set_token(config, ptr_of(&a.c_string()))),
                Op::Banner(text) => {
                    let (p, n) = text.as_ref().map_or((ptr::null(), 0), |t| (t.as_ptr(), t.len()));
                    check(netcore_server_config_set_banner(config, p, n));
                }
                Op::MaxLine(n) => check(netcore_server_config_set_max_line(config, *n)),
                Op::MaxConnections(n) => check(netcore_server_config_set_max_connections(config, *n)),
                Op::AddCommand(name, with_callback) => {
                    let name = name.c_string();
                    let callback: CommandFn = if *with_callback { Some(command) } else { None };
                    check(netcore_server_config_add_command(config, ptr_of(&name), callback, ptr::null_mut(), None));
                }
                Op::LastError { len, null_buf, want_len } => {
                    let len = *len as usize % 300;
                    let mut buf = vec![0xffu8; len.max(1)];
                    let mut full = usize::MAX;
                    let buf_ptr = if *null_buf { ptr::null_mut() } else { buf.as_mut_ptr().cast() };
                    let len_ptr = if *want_len { &mut full as *mut usize } else { ptr::null_mut() };
                    let status = netcore_last_error_message(buf_ptr, len, len_ptr);
                    if *null_buf {
                        assert_eq!(status, netcore_status::NULL_ARGUMENT);
                    } else if *want_len {
                        check_buffer(status, &buf, len, full);
                    }
                }
                Op::StatusMessage { status, len } => {
                    let len = *len as usize % 100;
                    let mut buf = vec![0xffu8; len.max(1)];
                    let mut full = usize::MAX;
                    let s = STATUSES[*status as usize % STATUSES.len()];
                    let got = netcore_status_message(s, buf.as_mut_ptr().cast(), len, &mut full);
                    check_buffer(got, &buf, len, full);
                    assert!(full > 0, "every status has a description");
                }
            }
        }
        netcore_server_config_free(config);
    }
});
