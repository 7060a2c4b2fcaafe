//! Status codes returned by every fallible C function.

use crate::error::Error;

/// The result of a netcore C call. `NETCORE_STATUS_OK` is 0; errors live in 7000..8000 so
/// they cannot be confused with errno values. Get the text with `netcore_status_message`
/// and the detail of the last failure on this thread with `netcore_last_error_message`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum netcore_status {
    /// Success.
    OK = 0,
    /// A required pointer argument was NULL.
    NULL_ARGUMENT = 7001,
    /// A string argument was not valid UTF-8.
    INVALID_UTF8 = 7002,
    /// A caller-supplied buffer was too small; the needed size was written where asked.
    BUFFER_TOO_SMALL = 7003,
    /// A malformed argument (Python: ValueError).
    INVALID_ARGUMENT = 7004,
    /// A value outside its range (Python: OverflowError).
    OVERFLOW = 7005,
    /// An index past the end of a list.
    OUT_OF_RANGE = 7006,
    /// An argument of the wrong kind (Python: TypeError).
    TYPE_MISMATCH = 7007,
    /// A panic inside the library was caught at the C boundary.
    PANIC = 7099,
    /// Name resolution failed; `netcore_last_error_code` gives the EAI_* value (Python: gaierror).
    ADDRESS_INFO = 7100,
    /// Host look-up failed; `netcore_last_error_code` gives the h_errno value (Python: herror).
    HOST = 7101,
    /// No such service/protocol (Python: OSError "service/proto not found").
    SERVICE_NOT_FOUND = 7102,
    /// No service on that port/protocol (Python: OSError "port/proto not found").
    PORT_NOT_FOUND = 7103,
    /// The operation timed out (Python: socket.timeout).
    TIMEOUT = 7200,
    /// An operating-system error; `netcore_last_error_code` gives errno (Python: OSError).
    OS_ERROR = 7201,
    /// A failure with a message but no errno (Python: bare OSError).
    FAILED = 7202,
    /// The connection was refused (errno ECONNREFUSED; Python: ConnectionRefusedError).
    CONNECTION_REFUSED = 7203,
    /// The connection was reset or the pipe broke (ECONNRESET, EPIPE; Python: ConnectionResetError).
    CONNECTION_RESET = 7204,
    /// The peer closed the connection before a complete reply arrived.
    CONNECTION_CLOSED = 7205,
    /// A line exceeded its configured limit.
    LINE_TOO_LONG = 7206,
    /// The object is in the wrong state for the call (closed, already started, stopped).
    INVALID_STATE = 7207,
    /// A TLS handshake or session failed (Python: ssl.SSLError).
    TLS = 7208,
    /// The peer's certificate was refused; `netcore_last_error_code` gives OpenSSL's verify
    /// code (Python: ssl.SSLCertVerificationError).
    TLS_CERTIFICATE = 7209,
}

impl netcore_status {
    /// Every code, for reading one back from C's integer (`from_code`).
    const ALL: &[Self] = &[
        Self::OK,
        Self::NULL_ARGUMENT,
        Self::INVALID_UTF8,
        Self::BUFFER_TOO_SMALL,
        Self::INVALID_ARGUMENT,
        Self::OVERFLOW,
        Self::OUT_OF_RANGE,
        Self::TYPE_MISMATCH,
        Self::PANIC,
        Self::ADDRESS_INFO,
        Self::HOST,
        Self::SERVICE_NOT_FOUND,
        Self::PORT_NOT_FOUND,
        Self::TIMEOUT,
        Self::OS_ERROR,
        Self::FAILED,
        Self::CONNECTION_REFUSED,
        Self::CONNECTION_RESET,
        Self::CONNECTION_CLOSED,
        Self::LINE_TOO_LONG,
        Self::INVALID_STATE,
        Self::TLS,
        Self::TLS_CERTIFICATE,
    ];

    /// The status a C integer names; None for a code netcore does not define. C may pass
    /// any `uint32_t`, and an out-of-range value in the enum itself would be undefined
    /// behaviour, so C's status arguments are read as integers through this.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| *s as u32 == code)
    }

    /// A fixed description of the code.
    pub fn description(self) -> &'static str {
        match self {
            Self::OK => "success",
            Self::NULL_ARGUMENT => "a required pointer argument was NULL",
            Self::INVALID_UTF8 => "a string argument was not valid UTF-8",
            Self::BUFFER_TOO_SMALL => "the buffer is too small",
            Self::INVALID_ARGUMENT => "invalid argument",
            Self::OVERFLOW => "value out of range",
            Self::OUT_OF_RANGE => "index out of range",
            Self::TYPE_MISMATCH => "argument of the wrong kind",
            Self::PANIC => "internal error: a panic was caught at the C boundary",
            Self::ADDRESS_INFO => "name resolution failed",
            Self::HOST => "host look-up failed",
            Self::SERVICE_NOT_FOUND => "service/proto not found",
            Self::PORT_NOT_FOUND => "port/proto not found",
            Self::TIMEOUT => "timed out",
            Self::OS_ERROR => "operating-system error",
            Self::FAILED => "operation failed",
            Self::CONNECTION_REFUSED => "connection refused",
            Self::CONNECTION_RESET => "connection reset by peer",
            Self::CONNECTION_CLOSED => "connection closed by peer",
            Self::LINE_TOO_LONG => "line too long",
            Self::INVALID_STATE => "invalid state for this call",
            Self::TLS => "TLS failed",
            Self::TLS_CERTIFICATE => "certificate verify failed",
        }
    }
}

impl From<&Error> for netcore_status {
    fn from(e: &Error) -> Self {
        match e {
            Error::AddressInfo { .. } => Self::ADDRESS_INFO,
            Error::Host { .. } => Self::HOST,
            Error::ServiceNotFound => Self::SERVICE_NOT_FOUND,
            Error::PortNotFound => Self::PORT_NOT_FOUND,
            Error::Overflow(_) => Self::OVERFLOW,
            Error::InvalidArgument(_) => Self::INVALID_ARGUMENT,
            Error::Timeout => Self::TIMEOUT,
            Error::File { .. } => Self::OS_ERROR,
            // C has no interrupt hooks; a wait abandoned by one is a failure.
            Error::Interrupted => Self::FAILED,
            Error::Os(e) | Error::Listen { source: e, .. } => match e.raw_os_error() {
                Some(libc::ECONNREFUSED) => Self::CONNECTION_REFUSED,
                Some(libc::ECONNRESET | libc::EPIPE) => Self::CONNECTION_RESET,
                _ => Self::OS_ERROR,
            },
            Error::ConnectionClosed => Self::CONNECTION_CLOSED,
            Error::LineTooLong { .. } => Self::LINE_TOO_LONG,
            Error::InvalidState(_) => Self::INVALID_STATE,
            Error::TypeMismatch(_) => Self::TYPE_MISMATCH,
            Error::Failed(_) => Self::FAILED,
            Error::Tls(_) => Self::TLS,
            Error::TlsCertificate { .. } => Self::TLS_CERTIFICATE,
        }
    }
}
