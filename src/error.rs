//! One error type for the whole core. Each variant maps to a C status code (`ffi::status`;
//! `Os` to one of three: CONNECTION_REFUSED, CONNECTION_RESET or OS_ERROR, by errno) and to
//! the Python exception the stdlib raises (`python::errors`; `Os` picks the OSError subclass
//! by errno).

use std::io;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A getaddrinfo/getnameinfo failure: `code` is the EAI_* value, `message` is gai_strerror's.
    #[error("[Errno {code}] {message}")]
    AddressInfo { code: i32, message: String },
    /// A legacy host look-up failure: `code` is the h_errno value, `message` is hstrerror's.
    #[error("[Errno {code}] {message}")]
    Host { code: i32, message: String },
    /// getservbyname found nothing.
    #[error("service/proto not found")]
    ServiceNotFound,
    /// getservbyport found nothing.
    #[error("port/proto not found")]
    PortNotFound,
    /// A value outside its range (Python raises OverflowError).
    #[error("{0}")]
    Overflow(String),
    /// A malformed argument value (Python raises ValueError).
    #[error("{0}")]
    InvalidArgument(String),
    /// An argument of the wrong kind (Python raises TypeError).
    #[error("{0}")]
    TypeMismatch(String),
    /// A failure Python reports as a bare `OSError(message)`, with no errno.
    #[error("{0}")]
    Failed(String),
    /// The peer closed the connection before a complete reply arrived.
    #[error("connection closed by peer")]
    ConnectionClosed,
    /// A reply or request line exceeded its configured limit.
    #[error("line too long (limit {limit} bytes)")]
    LineTooLong { limit: usize },
    /// The object is in the wrong state for the call (closed, already started, stopped).
    #[error("{0}")]
    InvalidState(String),
    /// The operation's deadline passed (Python raises `socket.timeout`).
    #[error("timed out")]
    Timeout,
    /// A wait was abandoned because its interrupt hook asked (Ctrl+C in the Python face and the
    /// CLI); the face that set the hook knows why (Python re-raises the pending exception).
    #[error("interrupted")]
    Interrupted,
    /// A TLS handshake or session failure other than the certificate check (Python:
    /// `ssl.SSLError`).
    #[error("TLS: {0}")]
    Tls(String),
    /// The peer's certificate was refused: `code` is OpenSSL's verify code, `message` its
    /// words (Python: `ssl.SSLCertVerificationError` with `verify_code`/`verify_message`).
    #[error("certificate verify failed: {message}")]
    TlsCertificate { code: i32, message: String },
    /// An operating-system error, with its errno (`[Errno N] text`; just the text if it has none).
    #[error("{}", os_text(.0))]
    Os(#[from] io::Error),
    /// Binding a server address failed: `addr` names it (`127.0.0.1:21560`, a socket path);
    /// `source` keeps the errno (EADDRINUSE, EACCES, ...).
    #[error("cannot listen on {addr}: {}", lowercase_first(&strerror_of(.source)))]
    Listen { addr: String, source: io::Error },
    /// An operating-system error on a file the user named: Python's `OSError` with `filename`,
    /// shown as `[Errno 28] No space left on device: 'out.bin'`.
    #[error("{}: '{}'", os_text(.source), .path.display())]
    File { path: std::path::PathBuf, source: io::Error },
}

/// `[Errno N] strerror`, or the message alone for an error with no errno (never `[Errno 0]`).
fn os_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => format!("[Errno {errno}] {}", strerror(errno)),
        None => e.to_string(),
    }
}

impl Error {
    /// An OS error from an errno value.
    pub fn from_errno(errno: i32) -> Self {
        Error::Os(io::Error::from_raw_os_error(errno))
    }

    /// The numeric code behind the error: errno, EAI_* or h_errno; 0 where there is none.
    pub fn code(&self) -> i32 {
        match self {
            Error::AddressInfo { code, .. } | Error::Host { code, .. } => *code,
            Error::Os(e) | Error::Listen { source: e, .. } | Error::File { source: e, .. } => {
                e.raw_os_error().unwrap_or(0)
            }
            Error::Timeout => libc::ETIMEDOUT,
            Error::TlsCertificate { code, .. } => *code,
            _ => 0,
        }
    }

    /// The message without the `[Errno N]` prefix, as Python's `strerror` attribute holds it.
    pub fn message(&self) -> String {
        match self {
            Error::AddressInfo { message, .. } | Error::Host { message, .. } => message.clone(),
            Error::Os(e) | Error::File { source: e, .. } => strerror_of(e),
            other => other.to_string(),
        }
    }
}

/// The C library's text for an errno, as Python shows it (no "(os error N)" suffix).
pub fn strerror(errno: i32) -> String {
    // SAFETY: strerror returns a pointer to a NUL-terminated static or thread-local string.
    unsafe {
        let p = libc::strerror(errno);
        if p.is_null() {
            return format!("Unknown error {errno}");
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// "Address already in use" -> "address already in use", for the middle of a sentence.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn strerror_of(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => strerror(errno),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_read_like_python() {
        let e = Error::from_errno(libc::ECONNREFUSED);
        assert_eq!(e.to_string(), "[Errno 111] Connection refused");
        assert_eq!(e.code(), 111);
        assert_eq!(e.message(), "Connection refused");
    }

    #[test]
    fn no_error_reads_errno_0() {
        let e = Error::Os(io::Error::other("body ended early"));
        assert_eq!(e.to_string(), "body ended early");
        let f = Error::File { path: "out.bin".into(), source: io::Error::from_raw_os_error(libc::ENOSPC) };
        assert_eq!(f.to_string(), "[Errno 28] No space left on device: 'out.bin'");
        assert_eq!((f.code(), f.message()), (28, "No space left on device".to_string()));
    }

    #[test]
    fn lookup_errors_keep_code_and_text() {
        let e = Error::AddressInfo { code: -2, message: "Name or service not known".into() };
        assert_eq!(e.to_string(), "[Errno -2] Name or service not known");
        assert_eq!(Error::ServiceNotFound.to_string(), "service/proto not found");
        assert_eq!(Error::PortNotFound.message(), "port/proto not found");
    }

    #[test]
    fn a_listen_error_names_the_address_and_keeps_the_errno() {
        let e =
            Error::Listen { addr: "127.0.0.1:21560".into(), source: io::Error::from_raw_os_error(libc::EADDRINUSE) };
        assert_eq!(e.to_string(), "cannot listen on 127.0.0.1:21560: address already in use");
        assert_eq!(e.code(), libc::EADDRINUSE);
        assert_eq!(e.message(), e.to_string());
    }
}
