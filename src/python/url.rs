//! Python face of `crate::client::url`: `urlopen` (its `UrlResponse`, a binary file-like
//! object whose reads Ctrl+C interrupts) and `urlretrieve` (the core's one download path).
//! urllib's errors and `ssl.SSLContext` conversion are in `url_face.rs`.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::client::timeout_arg;
use super::errors::to_pyerr;
use super::gil;
use crate::client::{self, url, Interrupt};
use crate::error::Error;

type Body = BufReader<url::UrlResponse>;

/// A body read's error as the core's: a timeout is `Error::Timeout`.
fn body_error(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => Error::Timeout,
        _ => Error::Os(e),
    }
}

/// Where a response's body is: ready for the next read, out with a read that is still running
/// (one interrupted by Ctrl+C goes on to its end on its own thread), or closed.
enum BodySlot {
    Ready(Body),
    Busy,
    Closed,
}

/// The body and a signal for "a read gave it back".
struct SharedBody {
    slot: Mutex<BodySlot>,
    returned: Condvar,
}

impl SharedBody {
    fn lock(&self) -> MutexGuard<'_, BodySlot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the body for one read, waiting (interruptibly: `intr`) while an earlier read
    /// still has it.
    fn take(&self, mut intr: Interrupt<'_>) -> crate::Result<Option<Body>> {
        let mut slot = self.lock();
        loop {
            match std::mem::replace(&mut *slot, BodySlot::Busy) {
                BodySlot::Ready(body) => return Ok(Some(body)),
                BodySlot::Closed => {
                    *slot = BodySlot::Closed;
                    return Ok(None);
                }
                BodySlot::Busy => {
                    slot = self.returned.wait_timeout(slot, client::CHECK_SLICE).unwrap_or_else(|e| e.into_inner()).0;
                    intr.check()?;
                }
            }
        }
    }

    /// Gives the body back after a read, unless the response was closed meanwhile.
    fn give_back(&self, body: Body) {
        let mut slot = self.lock();
        if matches!(*slot, BodySlot::Busy) {
            *slot = BodySlot::Ready(body);
        }
        self.returned.notify_all();
    }
}

/// The response of `urlopen`: a binary file-like object.
#[pyclass(module = "netcore._netcore", name = "UrlResponse")]
pub struct PyUrlResponse {
    body: Arc<SharedBody>,
    /// The final URL, after redirects.
    #[pyo3(get)]
    url: String,
    /// The HTTP status (200 for file: and gopher: URLs).
    #[pyo3(get)]
    status: u16,
    /// The reason phrase.
    #[pyo3(get)]
    reason: String,
    header_items: Vec<(String, String)>,
}

impl PyUrlResponse {
    fn from_core(r: url::UrlResponse) -> Self {
        PyUrlResponse {
            url: r.url.clone(),
            status: r.status,
            reason: r.reason.clone(),
            header_items: r.headers.clone(),
            body: Arc::new(SharedBody {
                slot: Mutex::new(BodySlot::Ready(BufReader::with_capacity(64 * 1024, r))),
                returned: Condvar::new(),
            }),
        }
    }

    /// Runs one read on the body with the GIL released. A read that `ready_now` says the
    /// buffer already holds runs here; one that may wait for the network runs through
    /// `gil::run_interruptible`, so Ctrl+C interrupts it even while the HTTP library blocks.
    fn with_body<T: Send + 'static>(
        &self,
        py: Python<'_>,
        ready_now: impl FnOnce(&Body) -> bool,
        op: impl FnOnce(&mut Body) -> crate::Result<T> + Send + 'static,
    ) -> PyResult<T> {
        let shared = Arc::clone(&self.body);
        let taken = gil::blocking(py, |intr| shared.take(intr));
        let Some(mut body) = taken? else {
            return Err(PyValueError::new_err("I/O operation on closed response"));
        };
        let now = ready_now(&body);
        let run = move || {
            let Ok(result) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op(&mut body))) else {
                // The body's state is unknown after a panic: no later read may use it.
                *shared.lock() = BodySlot::Closed;
                shared.returned.notify_all();
                return Err(Error::Failed("reading the response failed".into()));
            };
            shared.give_back(body);
            result
        };
        let result = if now { gil::detach(py, run) } else { gil::run_interruptible(py, client::CHECK_SLICE, run)? };
        result.map_err(|e| to_pyerr(py, e))
    }
}

#[pymethods]
impl PyUrlResponse {
    /// read(amt=-1) -> bytes: up to `amt` bytes, or everything left when negative.
    #[pyo3(signature = (amt = -1), text_signature = "($self, amt=-1)")]
    fn read<'py>(&self, py: Python<'py>, amt: Option<i64>) -> PyResult<Bound<'py, PyBytes>> {
        let amt = amt.unwrap_or(-1);
        let buffered = move |b: &Body| amt >= 0 && b.buffer().len() as u64 >= amt as u64;
        let data = self.with_body(py, buffered, move |b| {
            let mut out = Vec::new();
            if amt < 0 {
                b.read_to_end(&mut out).map_err(body_error)?;
            } else {
                b.take(amt as u64).read_to_end(&mut out).map_err(body_error)?;
            }
            Ok(out)
        })?;
        Ok(PyBytes::new(py, &data))
    }

    /// readline(limit=-1) -> bytes: one line with its newline (b"" at the end).
    #[pyo3(signature = (limit = -1), text_signature = "($self, limit=-1)")]
    fn readline<'py>(&self, py: Python<'py>, limit: Option<i64>) -> PyResult<Bound<'py, PyBytes>> {
        let limit = limit.unwrap_or(-1);
        let buffered =
            move |b: &Body| b.buffer().contains(&b'\n') || (limit >= 0 && b.buffer().len() as u64 >= limit as u64);
        let data = self.with_body(py, buffered, move |b| {
            let mut out = Vec::new();
            if limit < 0 {
                b.read_until(b'\n', &mut out).map_err(body_error)?;
            } else {
                b.take(limit as u64).read_until(b'\n', &mut out).map_err(body_error)?;
            }
            Ok(out)
        })?;
        Ok(PyBytes::new(py, &data))
    }

    /// readlines() -> list[bytes]
    fn readlines<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let lines = self.with_body(
            py,
            |_| false,
            |b| {
                let mut lines = Vec::new();
                loop {
                    let mut line = Vec::new();
                    if b.read_until(b'\n', &mut line).map_err(body_error)? == 0 {
                        return Ok(lines);
                    }
                    lines.push(line);
                }
            },
        )?;
        Ok(lines.iter().map(|l| PyBytes::new(py, l)).collect())
    }

    /// The headers as an `http.client.HTTPMessage` (case-insensitive `get`, `items`).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let msg = py.import("http.client")?.getattr("HTTPMessage")?.call0()?;
        for (k, v) in &self.header_items {
            msg.set_item(k, v)?;
        }
        Ok(msg)
    }

    /// The status, as urllib's `getcode()`.
    fn getcode(&self) -> u16 {
        self.status
    }

    /// The final URL, as urllib's `geturl()`.
    fn geturl(&self) -> String {
        self.url.clone()
    }

    /// Closes the body; later reads raise ValueError.
    fn close(&self, py: Python<'_>) {
        // A read still running (interrupted) drops the body when it ends.
        let closed = gil::detach(py, || std::mem::replace(&mut *self.body.lock(), BodySlot::Closed));
        drop(closed);
    }

    #[getter]
    fn closed(&self) -> bool {
        matches!(*self.body.lock(), BodySlot::Closed)
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.readline(py, Some(-1))?;
        Ok((!line.as_bytes().is_empty()).then_some(line))
    }

    fn __repr__(&self) -> String {
        format!("<netcore.UrlResponse {} {}>", self.status, self.url)
    }
}

fn http_error(py: Python<'_>, resp: Bound<'_, PyUrlResponse>) -> PyErr {
    let built = (|| -> PyResult<PyErr> {
        let r = resp.borrow();
        let (url, status, reason) = (r.url.clone(), r.status, r.reason.clone());
        let headers = r.headers(py)?;
        drop(r);
        let exc = py.import("urllib.error")?.getattr("HTTPError")?.call1((url, status, reason, headers, resp))?;
        Ok(PyErr::from_value(exc))
    })();
    built.unwrap_or_else(|e| e)
}

/// Connects, sends the request and reads the status and headers; Ctrl+C interrupts the wait.
/// The scheme is checked first; failures are urllib's (`super::url_face`).
fn open_url(
    py: Python<'_>,
    url: String,
    timeout: Option<Duration>,
    tls: crate::tls::ClientTls,
) -> PyResult<url::UrlResponse> {
    super::url_face::check_scheme(py, &url)?;
    gil::run_interruptible(py, client::CHECK_SLICE, move || url::open_with(&url, timeout, &tls))?
        .map_err(|e| super::url_face::open_error(py, e))
}

/// urlopen(url, timeout=None, *, cafile=None, capath=None, context=None) -> UrlResponse.
/// http://, https://, file: and gopher:// URLs; redirects followed (not from https to http);
/// errors as urllib raises them: HTTPError for a non-2xx status, URLError for the rest.
#[pyfunction]
#[pyo3(signature = (url, timeout = None, *, cafile = None, capath = None, context = None))]
fn urlopen<'py>(
    py: Python<'py>,
    url: String,
    timeout: Option<f64>,
    cafile: Option<PathBuf>,
    capath: Option<PathBuf>,
    context: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyUrlResponse>> {
    let timeout = timeout_arg(timeout)?;
    let tls = super::url_face::url_tls(py, cafile, capath, context)?;
    let resp = open_url(py, url, timeout, tls)?;
    let ok = resp.is_success();
    let obj = Bound::new(py, PyUrlResponse::from_core(resp))?;
    if ok {
        Ok(obj)
    } else {
        Err(http_error(py, obj))
    }
}

/// urlretrieve(url, filename=None, timeout=None, *, cafile=None, capath=None, context=None)
/// -> (filename, headers). TLS settings and errors as urlopen's. Without a filename
/// the body goes to a new temporary file. The file appears only when the download completed.
#[pyfunction]
#[pyo3(signature = (url, filename = None, timeout = None, *, cafile = None, capath = None, context = None))]
#[allow(clippy::too_many_arguments)]
fn urlretrieve<'py>(
    py: Python<'py>,
    url: String,
    filename: Option<PathBuf>,
    timeout: Option<f64>,
    cafile: Option<PathBuf>,
    capath: Option<PathBuf>,
    context: Option<&Bound<'py, PyAny>>,
) -> PyResult<(String, Bound<'py, PyAny>)> {
    let timeout = timeout_arg(timeout)?;
    let tls = super::url_face::url_tls(py, cafile, capath, context)?;
    let path = match filename {
        Some(p) => p,
        None => {
            let tmp = tempfile::Builder::new().prefix("netcore-").tempfile().map_err(|e| to_pyerr(py, e.into()))?;
            tmp.into_temp_path().keep().map_err(|e| to_pyerr(py, Error::Os(e.error)))?
        }
    };
    let resp = open_url(py, url, timeout, tls)?;
    let obj = Bound::new(py, PyUrlResponse::from_core(resp))?;
    if !(200..300).contains(&obj.borrow().status) {
        return Err(http_error(py, obj));
    }
    let target = path.clone();
    // Set when Ctrl+C interrupts the download: the copy, still running on its own thread,
    // stops at its next chunk and removes its temporary file, so no file appears later.
    let cancelled = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&cancelled);
    let saved = obj.borrow().with_body(
        py,
        |_| false,
        move |b| {
            let mut progress = |_| match stop.load(Relaxed) {
                true => Err(Error::Interrupted),
                false => Ok(()),
            };
            url::save(b.get_mut(), &target, &mut progress)
        },
    );
    if saved.is_err() {
        cancelled.store(true, Relaxed);
    }
    saved?;
    let headers = obj.borrow().headers(py)?;
    Ok((path.to_string_lossy().into_owned(), headers))
}

/// Adds `urlopen`, `urlretrieve` and their response class to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyUrlResponse>()?;
    m.add_function(wrap_pyfunction!(urlopen, m)?)?;
    m.add_function(wrap_pyfunction!(urlretrieve, m)?)
}
