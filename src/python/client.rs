//! Python face of `crate::client`: `Client` and `udp_request` (`urlopen` and `urlretrieve`
//! are in `url.rs`).
//! Every wait runs with the GIL released, in slices of `client::CHECK_SLICE`, and checks for
//! signals between slices, so Ctrl+C raises KeyboardInterrupt in the middle of a wait.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyString};
use pyo3::{ffi, IntoPyObjectExt};

use super::address::{self, Address};
use super::errors::to_pyerr;
use super::gil;
use crate::client::{self, udp, Interrupt, Options, Target};
use crate::error::Error;

pub(super) fn timeout_arg(timeout: Option<f64>) -> PyResult<Option<Duration>> {
    match timeout {
        None => Ok(None),
        Some(t) if t.is_finite() && t >= 0.0 => {
            crate::socket::seconds_to_duration(t).map(Some).map_err(|e| Python::attach(|py| to_pyerr(py, e)))
        }
        Some(_) => Err(PyValueError::new_err("timeout must be a non-negative number or None")),
    }
}

type AsUtf8AndSize = unsafe extern "C" fn(*mut ffi::PyObject, *mut ffi::Py_ssize_t) -> *const std::ffi::c_char;

/// `PyUnicode_AsUTF8AndSize`: in every CPython 3, though in the limited API only from 3.10,
/// so PyO3's abi3-py39 build does not declare it (its `to_cow` encodes a new bytes object
/// and copies that instead). Looked up once in the running interpreter.
fn as_utf8_and_size() -> Option<AsUtf8AndSize> {
    static FOUND: std::sync::OnceLock<Option<AsUtf8AndSize>> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        // SAFETY: dlsym on the running process; the symbol, when present, has this type.
        let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"PyUnicode_AsUTF8AndSize".as_ptr()) };
        // SAFETY: a function of the documented signature.
        (!sym.is_null()).then(|| unsafe { std::mem::transmute::<*mut std::ffi::c_void, AsUtf8AndSize>(sym) })
    })
}

/// A str's UTF-8, without a copy where the interpreter keeps it in the object (for ASCII
/// text, the text itself; valid while the str lives). Lone surrogates raise
/// UnicodeEncodeError.
fn utf8_of<'a>(s: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, [u8]>> {
    let Some(as_utf8) = as_utf8_and_size() else {
        return Ok(Cow::Owned(s.to_cow()?.into_owned().into_bytes()));
    };
    let mut size: ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a str; the returned buffer belongs to it and lives as long as it does.
    let data = unsafe { as_utf8(s.as_ptr(), &mut size) };
    if data.is_null() {
        return Err(PyErr::fetch(s.py()));
    }
    // SAFETY: the interpreter returned `size` bytes at `data`.
    Ok(Cow::Borrowed(unsafe { std::slice::from_raw_parts(data.cast(), size as usize) }))
}

/// A str (UTF-8 encoded) or a bytes-like argument, borrowed where it cannot change (str,
/// bytes) while the GIL is released.
fn bytes_arg<'a>(name: &str, obj: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return utf8_of(s);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    Err(PyTypeError::new_err(format!("{name} must be str or bytes, not {}", obj.get_type().name()?)))
}

/// A reply as str: UTF-8 decoded straight into the str, invalid bytes replaced as
/// `bytes.decode("utf-8", "replace")` does.
fn text<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    // SAFETY: a valid buffer and length, a static NUL-terminated error handler name.
    let obj = unsafe {
        ffi::PyUnicode_DecodeUTF8(bytes.as_ptr().cast(), bytes.len() as ffi::Py_ssize_t, c"replace".as_ptr())
    };
    // SAFETY: a new reference (or NULL with the exception set); PyUnicode_DecodeUTF8 makes a str.
    Ok(unsafe { Bound::from_owned_ptr_or_err(py, obj)?.cast_into_unchecked() })
}

/// Where `Client(address, port, unix=...)` connects, by the package's address rule.
fn target(
    address: Option<&Bound<'_, PyAny>>,
    port: Option<&Bound<'_, PyAny>>,
    unix: Option<&Bound<'_, PyAny>>,
) -> PyResult<Target> {
    let usage = || PyTypeError::new_err("Client() takes an address, a host and a port, or unix=PATH");
    match (address, port, unix) {
        (Some(host), Some(port), None) => {
            Ok(Target::Tcp { host: address::host(host)?, port: address::port(port, "Client")? })
        }
        (Some(addr), None, None) => Ok(match address::address(addr, "Client")? {
            Address::Inet { host, port } => Target::Tcp { host, port },
            Address::Unix(path) => Target::Unix(path),
        }),
        (None, None, Some(path)) => match address::address(path, "Client")? {
            Address::Unix(path) => Ok(Target::Unix(path)),
            Address::Inet { .. } => Err(usage()),
        },
        _ => Err(usage()),
    }
}

/// Client(address, port=None, *, unix=None, timeout=10.0, max_reply=1048576, quiet=0.2, framing="line")
///
/// A connection to a line or message server: `address` is a `(host, port)` tuple or a Unix
/// socket path, or a host (name, IPv4 or IPv6) with `port`; `unix=PATH` works too. `timeout` (seconds, None for no limit) bounds
/// connecting and each wait for the server. Replies are decoded as
/// `bytes.decode("utf-8", "replace")` does. After a network error the connection is closed and later calls raise OSError.
/// Use it as a context manager to close it.
#[pyclass(module = "netcore._netcore", name = "Client")]
pub struct PyClient {
    inner: Mutex<Option<client::Client>>,
    target: String,
    /// framing="resp": requests go out as RESP commands and replies come back typed.
    resp: bool,
}

impl PyClient {
    fn resp_command(&self, py: Python<'_>, words: Vec<Vec<u8>>) -> PyResult<Py<PyAny>> {
        let reply = self.with(py, move |c, intr| {
            let argv: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
            c.command_checked(&argv, intr)
        })?;
        if let crate::server::Reply::Error(text) = &reply {
            return Err(PyErr::from_value(super::server::reply_error(py, text)?));
        }
        super::server::reply_to_py(py, &reply)
    }

    fn locked(&self) -> crate::Result<MutexGuard<'_, Option<client::Client>>> {
        self.inner.lock().map_err(|_| Error::InvalidState("client is unusable after a panic".into()))
    }

    /// Runs `op` on the open client with the GIL released (the lock is taken released too,
    /// so a thread waiting for it never holds the GIL another thread's check needs).
    fn with<T: Send>(
        &self,
        py: Python<'_>,
        op: impl for<'c> FnOnce(&mut client::Client, Interrupt<'c>) -> crate::Result<T> + Send,
    ) -> PyResult<T> {
        gil::blocking(py, |intr| {
            let mut guard = self.locked()?;
            let c = guard.as_mut().ok_or_else(|| Error::InvalidState("client is closed".into()))?;
            op(c, intr)
        })
    }
}

#[pymethods]
impl PyClient {
    /// Client(address, port=None, *, unix=None, timeout=10.0, max_reply=1048576, quiet=0.2,
    /// tls=False, cafile=None, server_hostname=None, certfile=None, keyfile=None, framing="line",
    /// busy_poll_us=50):
    /// `address` is a `(host, port)` tuple or a Unix socket path (the package's one address
    /// rule, `address.rs`), or a host with `port` beside it, as `Client("localhost", 21560)`.
    /// Defaults are the core's (`client::Options::default()`).
    #[new]
    #[pyo3(signature = (address = None, port = None, *, unix = None, timeout = Some(client::DEFAULT_TIMEOUT.as_secs_f64()),
                        max_reply = None, quiet = None, tls = false, cafile = None, server_hostname = None,
                        certfile = None, keyfile = None, framing = None, busy_poll_us = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        address: Option<&Bound<'_, PyAny>>,
        port: Option<&Bound<'_, PyAny>>,
        unix: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
        max_reply: Option<usize>,
        quiet: Option<f64>,
        tls: bool,
        cafile: Option<PathBuf>,
        server_hostname: Option<String>,
        certfile: Option<PathBuf>,
        keyfile: Option<PathBuf>,
        framing: Option<&str>,
        busy_poll_us: Option<u64>,
    ) -> PyResult<Self> {
        let resp = match framing {
            Some(name) => {
                name.parse::<crate::server::Framing>().map_err(|e| PyValueError::new_err(e.to_string()))?
                    == crate::server::Framing::Resp
            }
            None => false,
        };
        let target = target(address, port, unix)?;
        let defaults = Options::default();
        let opts = Options {
            timeout: timeout_arg(timeout)?,
            max_reply: max_reply.unwrap_or(defaults.max_reply),
            quiet: match quiet {
                Some(q) => timeout_arg(Some(q))?.unwrap_or_default(),
                None => defaults.quiet,
            },
            tls: crate::tls::ClientTls::from_options(tls, cafile, certfile, keyfile, server_hostname)
                .map_err(|e| to_pyerr(py, e))?,
            busy_poll: busy_poll_us.map_or(defaults.busy_poll, Duration::from_micros),
        };
        let shown = target.to_string();
        let c = gil::blocking(py, move |intr| client::Client::connect_checked(target, opts, intr))?;
        Ok(PyClient { inner: Mutex::new(Some(c)), target: shown, resp })
    }

    /// request(line) -> str: sends one line (a newline is added) and returns the reply line.
    /// With framing="resp" the line's words are one command and the reply is typed, as from
    /// `command`.
    fn request(&self, py: Python<'_>, line: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let line = bytes_arg("line", line)?;
        if self.resp {
            let words: Vec<Vec<u8>> =
                line.split(u8::is_ascii_whitespace).filter(|w| !w.is_empty()).map(<[u8]>::to_vec).collect();
            return self.resp_command(py, words);
        }
        let line: &[u8] = &line;
        let reply = self.with(py, move |c, intr| c.request_checked(line, intr))?;
        text(py, &reply)?.into_py_any(py)
    }

    /// command(*args) -> value: sends one RESP command (str or bytes arguments) and returns
    /// the typed reply: bytes (bulk), netcore.SimpleString, int, float, None, list, dict; an
    /// error reply raises netcore.ReplyError. Works against netcore's resp framing and
    /// redis-server alike.
    #[pyo3(signature = (*args))]
    fn command(&self, py: Python<'_>, args: Vec<Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        let words =
            args.iter().map(|a| bytes_arg("each argument", a).map(Cow::into_owned)).collect::<PyResult<Vec<_>>>()?;
        self.resp_command(py, words)
    }

    /// pipeline(lines) -> list[str]: sends every line at once and returns the replies in order.
    fn pipeline<'py>(&self, py: Python<'py>, lines: Vec<Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyList>> {
        // One buffer for the requests and one for the replies: no allocation per line.
        let mut out = Vec::new();
        for line in &lines {
            client::Client::push_line(&mut out, &bytes_arg("each line", line)?).map_err(|e| to_pyerr(py, e))?;
        }
        let count = lines.len();
        let replies = self.with(py, move |c, intr| c.pipeline_framed_checked(&out, count, intr))?;
        let texts = replies.iter().map(|line| text(py, line)).collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, texts)
    }

    /// message(data) -> bytes: sends data as it is and returns what comes back until the
    /// server is quiet for `quiet` seconds or closes.
    fn message<'py>(&self, py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let data: &[u8] = &bytes_arg("data", data)?;
        let reply = self.with(py, move |c, intr| c.message_checked(data, intr))?;
        Ok(PyBytes::new(py, &reply))
    }

    /// receive() -> bytes: reads a greeting (message framing, nothing sent).
    fn receive<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let reply = self.with(py, |c, intr| c.receive_checked(intr))?;
        Ok(PyBytes::new(py, &reply))
    }

    /// greeting(wait=0.2) -> bytes | None: a greeting the server sent on connecting, waiting
    /// up to `wait` seconds for it; None when nothing came (the connection stays open).
    #[pyo3(signature = (wait = 0.2))]
    fn greeting<'py>(&self, py: Python<'py>, wait: f64) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let wait = timeout_arg(Some(wait))?.unwrap_or_default();
        let text = self.with(py, move |c, _| c.greeting(wait))?;
        Ok(text.map(|t| PyBytes::new(py, &t)))
    }

    /// send(data) -> None: sends data as it is, adding nothing.
    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data: &[u8] = &bytes_arg("data", data)?;
        self.with(py, move |c, intr| c.send_checked(data, intr))
    }

    /// read_line() -> str: reads one reply line.
    fn read_line<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        text(py, &self.with(py, |c, intr| c.read_line_checked(intr))?)
    }

    /// Closes the connection; closing twice is harmless.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        gil::blocking(py, |_| {
            if let Some(mut c) = self.locked()?.take() {
                c.close();
            }
            Ok(())
        })
    }

    /// True once the client is closed (by close() or by a network error).
    #[getter]
    fn closed(&self, py: Python<'_>) -> PyResult<bool> {
        gil::blocking(py, |_| Ok(!self.locked()?.as_ref().is_some_and(|c| c.is_open())))
    }

    /// The timeout in seconds for later calls (None: no limit).
    #[getter]
    fn get_timeout(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        self.with(py, |c, _| Ok(c.options().timeout.map(|t| t.as_secs_f64())))
    }

    #[setter]
    fn set_timeout(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let timeout = timeout_arg(timeout)?;
        self.with(py, move |c, _| {
            c.set_timeout(timeout);
            Ok(())
        })
    }

    /// The server's (host, port) for TCP, or None for a Unix socket.
    fn getpeername(&self, py: Python<'_>) -> PyResult<Option<(String, u16)>> {
        self.with(py, |c, _| Ok(c.peer_addr().map(|a| (a.ip().to_string(), a.port()))))
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("<netcore.Client {}>", self.target)
    }
}

/// udp_request(host, port, data, timeout=2.0, retries=2) -> bytes
#[pyfunction]
#[pyo3(signature = (host, port, data, timeout = 2.0, retries = 2))]
fn udp_request<'py>(
    py: Python<'py>,
    host: String,
    port: u16,
    data: &Bound<'py, PyAny>,
    timeout: f64,
    retries: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    let data: &[u8] = &bytes_arg("data", data)?;
    let timeout = timeout_arg(Some(timeout))?.unwrap_or_default();
    let opts = udp::UdpOptions { timeout, retries };
    let reply = gil::blocking(py, move |intr| udp::request_checked(&host, port, data, &opts, intr))?;
    Ok(PyBytes::new(py, &reply))
}

/// Adds the client classes and functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyClient>()?;
    m.add_function(wrap_pyfunction!(udp_request, m)?)?;
    super::url::register(m)
}
