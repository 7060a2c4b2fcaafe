//! What the Python URL functions take and raise beyond the core: `cafile`, `capath` and an
//! `ssl.SSLContext` become the core's `ClientTls`, and core errors become what
//! `urllib.request.urlopen` raises, so existing `except` clauses work (docs/tls.md).

use std::path::PathBuf;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use super::errors::to_pyerr;
use crate::client::url::{self, SchemeError};
use crate::error::Error;
use crate::tls::{ClientTls, Verify};

/// The TLS settings of `urlopen(..., cafile=, capath=, context=)`. From a context: its
/// `verify_mode` (CERT_NONE: no check), `check_hostname`, and the CA certificates it has
/// loaded (`get_ca_certs()`; none loaded: the system's store). Not taken from a context: its
/// client certificate, ciphers and version limits.
pub(crate) fn url_tls(
    py: Python<'_>,
    cafile: Option<PathBuf>,
    capath: Option<PathBuf>,
    context: Option<&Bound<'_, PyAny>>,
) -> PyResult<ClientTls> {
    let mut tls = ClientTls { cafile, capath, ..ClientTls::default() };
    let Some(ctx) = context else {
        return Ok(tls);
    };
    if tls.cafile.is_some() || tls.capath.is_some() {
        // urllib's own rule and words.
        return Err(PyValueError::new_err("You can't pass both context and any of cafile or capath"));
    }
    let ssl = py.import("ssl")?;
    if !ctx.is_instance(&ssl.getattr("SSLContext")?)? {
        return Err(PyTypeError::new_err("context must be an ssl.SSLContext"));
    }
    let cert_none: i64 = ssl.getattr("CERT_NONE")?.extract()?;
    let verify_mode: i64 = ctx.getattr("verify_mode")?.extract()?;
    let check_hostname: bool = ctx.getattr("check_hostname")?.extract()?;
    tls.verify = match (verify_mode == cert_none, check_hostname) {
        (true, _) => Verify::None,
        (false, false) => Verify::NoHostname,
        (false, true) => Verify::Full,
    };
    tls.ca_certs = ctx.call_method1("get_ca_certs", (true,))?.extract()?;
    Ok(tls)
}

/// The scheme check urllib makes before opening anything: no scheme is `ValueError`, one
/// netcore does not open is `URLError('unknown url type: ...')`.
pub(crate) fn check_scheme(py: Python<'_>, target: &str) -> PyResult<()> {
    match url::scheme(target) {
        Ok(_) => Ok(()),
        Err(e @ SchemeError::Missing(_)) => Err(PyValueError::new_err(e.message())),
        Err(e @ SchemeError::Unsupported(_)) => Err(url_error(py, e.message().into_pyobject(py)?.into_any())),
    }
}

/// A failure to open a URL as urllib raises it: the reason of a `URLError` for refused
/// connections, unknown hosts, missing files, TLS and certificate failures, redirects not
/// followed; as it is for timeouts and a server that hung up (urllib raises those from
/// reading the response) and for bad arguments.
pub(crate) fn open_error(py: Python<'_>, e: Error) -> PyErr {
    let wrap = matches!(
        e,
        Error::Os(_)
            | Error::AddressInfo { .. }
            | Error::Host { .. }
            | Error::Tls(_)
            | Error::TlsCertificate { .. }
            | Error::Failed(_)
    );
    let err = to_pyerr(py, e);
    if !wrap {
        return err;
    }
    url_error(py, err.into_value(py).into_bound(py).into_any())
}

fn url_error(py: Python<'_>, reason: Bound<'_, PyAny>) -> PyErr {
    match py.import("urllib.error").and_then(|m| m.getattr("URLError")).and_then(|c| c.call1((reason,))) {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}
