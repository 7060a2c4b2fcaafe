//! Core errors to the exceptions Python's `socket` module raises, so `except socket.gaierror`
//! and `except OSError` in existing code catch netcore's errors.

use pyo3::exceptions::{PyConnectionResetError, PyOSError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::error::Error;

/// The exception the stdlib raises for this failure.
pub fn to_pyerr(py: Python<'_>, err: Error) -> PyErr {
    match err {
        Error::AddressInfo { code, message } => socket_class_err(py, "gaierror", (code, message)),
        Error::Host { code, message } => socket_class_err(py, "herror", (code, message)),
        Error::Timeout => socket_class_err(py, "timeout", ("timed out",)),
        Error::Overflow(m) => PyOverflowError::new_err(m),
        Error::InvalidArgument(m) => PyValueError::new_err(m),
        Error::TypeMismatch(m) => PyTypeError::new_err(m),
        // A peer that hangs up mid-reply is a reset connection to Python code.
        Error::ConnectionClosed => PyConnectionResetError::new_err(err_text(&Error::ConnectionClosed)),
        e @ Error::LineTooLong { .. } => PyValueError::new_err(e.to_string()),
        Error::InvalidState(m) => PyOSError::new_err(m),
        e @ (Error::ServiceNotFound | Error::PortNotFound | Error::Failed(_)) => PyOSError::new_err(e.to_string()),
        Error::File { path, source } => match source.raw_os_error() {
            Some(errno) => {
                PyOSError::new_err((errno, crate::error::strerror(errno), path.to_string_lossy().into_owned()))
            }
            None => PyOSError::new_err(format!("{source}: '{}'", path.display())),
        },
        Error::Interrupted => pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted"),
        e @ Error::Tls(_) => ssl_err(py, "SSLError", &e, None),
        Error::TlsCertificate { code, ref message } => {
            let text = err_text(&err);
            ssl_err(py, "SSLCertVerificationError", &text, Some((code, message.clone())))
        }
        Error::Os(e) => match e.raw_os_error() {
            // OSError(errno, strerror) picks the stdlib subclass (ConnectionRefusedError, ...).
            Some(errno) => PyOSError::new_err((errno, crate::error::strerror(errno))),
            None => PyOSError::new_err(e.to_string()),
        },
        // OSError(EADDRINUSE, "cannot listen on ADDR: address already in use").
        e @ Error::Listen { .. } => PyOSError::new_err((e.code(), e.to_string())),
    }
}

/// `ssl.<name>(1, "[SSL: ...] text")`, as CPython's `_ssl` builds them; a verification
/// failure also carries `verify_code` and `verify_message`.
fn ssl_err(py: Python<'_>, name: &str, text: &dyn std::fmt::Display, verify: Option<(i32, String)>) -> PyErr {
    let reason = if verify.is_some() { "[SSL: CERTIFICATE_VERIFY_FAILED] " } else { "" };
    let built =
        py.import("ssl").and_then(|m| m.getattr(name)).and_then(|cls| cls.call1((1, format!("{reason}{text}"))));
    match built {
        Ok(exc) => {
            if let Some((code, message)) = verify {
                let _ = exc.setattr("verify_code", code);
                let _ = exc.setattr("verify_message", message);
                let _ = exc.setattr("reason", "CERTIFICATE_VERIFY_FAILED");
                let _ = exc.setattr("library", "SSL");
            }
            PyErr::from_value(exc)
        }
        Err(e) => e,
    }
}

fn socket_class_err<'py, A>(py: Python<'py>, name: &str, args: A) -> PyErr
where
    A: pyo3::call::PyCallArgs<'py>,
{
    let built = py.import("socket").and_then(|m| m.getattr(name)).and_then(|cls| cls.call1(args));
    match built {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

fn err_text(e: &Error) -> String {
    e.to_string()
}

/// `?`-friendly conversion for functions that return core results.
pub trait IntoPyResult<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for crate::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_pyerr(py, e))
    }
}
