//! Python face of `crate::socket`: the `netcore.socket` class and the module functions.
//! Conversion only: Python arguments to core values and back, core errors to the stdlib's
//! exceptions. Every blocking call runs with the GIL released; on the main thread a signal
//! interrupts it (EINTR) and its handlers run, so Ctrl+C interrupts it promptly.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyInt, PyString, PyTuple, PyType};

use super::errors::{to_pyerr, IntoPyResult};
use super::gil;
use crate::error::Error;
use crate::socket::{self as core, Address, Interrupt, OptValue, SockName, Socket};

/// Runs a blocking core call with the GIL released. On the main thread the call gets a hook
/// that runs Python's signal handlers after EINTR (a signal such as Ctrl+C ends the system
/// call, as in CPython, which also costs no extra system call per operation); an exception
/// from a handler (KeyboardInterrupt) ends the call and is raised.
fn blocking<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: for<'a, 'b> FnOnce(&'a mut Interrupt<'b>) -> crate::Result<T> + Send,
    T: Send,
{
    if !gil::on_main_thread() {
        return gil::detach(py, || f(&mut Interrupt::none())).py_err(py);
    }
    // A signal that arrived just before the call would otherwise wait for the call to end.
    py.check_signals()?;
    let mut pending: Option<PyErr> = None;
    let result = {
        let pending = &mut pending;
        gil::detach(py, move || {
            let mut check = move || -> crate::Result<()> {
                // Once a handler has raised, the call is over: every later check fails too, so
                // no loop in the core can carry on past the exception.
                if pending.is_some() {
                    return Err(Error::from_errno(libc::EINTR));
                }
                gil::check_signals().map_err(|e| {
                    *pending = Some(e);
                    Error::from_errno(libc::EINTR)
                })
            };
            f(&mut Interrupt::new(&mut check))
        })
    };
    match pending {
        Some(e) => Err(e),
        None => result.py_err(py),
    }
}

// ---------------------------------------------------------------------------------------
// Buffers. The abi3-py39 build does not get PyO3's buffer API (it needs the 3.11 limited
// API), but `PyObject_GetBuffer`/`PyBuffer_Release` and `Py_buffer` have been exported and
// stable since Python 3.3, so we declare them here.

/// cbindgen:ignore
#[repr(C)]
struct RawBuffer {
    buf: *mut c_void,
    obj: *mut ffi::PyObject,
    len: ffi::Py_ssize_t,
    itemsize: ffi::Py_ssize_t,
    readonly: c_int,
    ndim: c_int,
    format: *mut c_char,
    shape: *mut ffi::Py_ssize_t,
    strides: *mut ffi::Py_ssize_t,
    suboffsets: *mut ffi::Py_ssize_t,
    internal: *mut c_void,
}

// Kept out of the C header: cbindgen would otherwise declare these imports there.
#[allow(unused_doc_comments)]
/// cbindgen:ignore
extern "C" {
    fn PyObject_GetBuffer(obj: *mut ffi::PyObject, view: *mut RawBuffer, flags: c_int) -> c_int;
    fn PyBuffer_Release(view: *mut RawBuffer);
}

const PYBUF_SIMPLE: c_int = 0;
const PYBUF_WRITABLE: c_int = 1;

/// A held buffer export; released (with the GIL, where it is dropped) at the end of a call.
struct Buffer(Box<RawBuffer>);

impl Buffer {
    fn get(obj: &Bound<'_, PyAny>, writable: bool) -> PyResult<Buffer> {
        let mut view = Box::new(RawBuffer {
            buf: std::ptr::null_mut(),
            obj: std::ptr::null_mut(),
            len: 0,
            itemsize: 0,
            readonly: 0,
            ndim: 0,
            format: std::ptr::null_mut(),
            shape: std::ptr::null_mut(),
            strides: std::ptr::null_mut(),
            suboffsets: std::ptr::null_mut(),
            internal: std::ptr::null_mut(),
        });
        let flags = if writable { PYBUF_WRITABLE } else { PYBUF_SIMPLE };
        // SAFETY: obj is a live object; view is a zeroed Py_buffer the call fills in.
        if unsafe { PyObject_GetBuffer(obj.as_ptr(), &mut *view, flags) } != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        Ok(Buffer(view))
    }

    fn len(&self) -> usize {
        self.0.len.max(0) as usize
    }

    fn as_slice(&self) -> &[u8] {
        if self.0.buf.is_null() || self.len() == 0 {
            return &[];
        }
        // SAFETY: a simple (contiguous) buffer of `len` bytes, kept alive by the export.
        unsafe { std::slice::from_raw_parts(self.0.buf as *const u8, self.len()) }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        if self.0.buf.is_null() || self.len() == 0 {
            return &mut [];
        }
        // SAFETY: a writable contiguous buffer of `len` bytes, kept alive by the export.
        unsafe { std::slice::from_raw_parts_mut(self.0.buf as *mut u8, self.len()) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: the view was filled by PyObject_GetBuffer; Buffers live and die with the GIL
        // held (they never cross `detach`).
        unsafe { PyBuffer_Release(&mut *self.0) };
    }
}

/// Bytes to send: borrowed straight from a `bytes` object, else through the buffer protocol.
enum Data<'py> {
    Bytes(Bound<'py, PyBytes>),
    Buffer(Buffer),
}

impl<'py> Data<'py> {
    fn get(obj: &Bound<'py, PyAny>) -> PyResult<Data<'py>> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Data::Bytes(b.clone()));
        }
        Buffer::get(obj, false).map(Data::Buffer)
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Data::Bytes(b) => b.as_bytes(),
            Data::Buffer(b) => b.as_slice(),
        }
    }
}

fn writable_buffer(func: &str, obj: &Bound<'_, PyAny>) -> PyResult<Buffer> {
    Buffer::get(obj, true).map_err(|_| {
        let tp = type_name(obj);
        PyTypeError::new_err(format!("{func}() argument 1 must be read-write bytes-like object, not {tp}"))
    })
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

// ---------------------------------------------------------------------------------------
// Addresses.

/// A host as CPython's idna_converter takes it: ASCII str as is, other str IDNA-encoded,
/// bytes or bytearray; no NUL bytes.
fn host_arg(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let bytes: Vec<u8> = if let Ok(s) = obj.cast::<PyString>() {
        let text = s.to_cow()?;
        if text.is_ascii() {
            text.into_owned().into_bytes()
        } else {
            obj.call_method1("encode", ("idna",))
                .and_then(|b| b.extract())
                .map_err(|_| PyTypeError::new_err("encoding of hostname failed"))?
        }
    } else if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
        obj.extract()?
    } else {
        return Err(PyTypeError::new_err(format!("str, bytes or bytearray expected, not {}", type_name(obj))));
    };
    if bytes.contains(&0) {
        return Err(PyTypeError::new_err("host name must not contain null character"));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A port as the `i` format takes it; out-of-int values are the port-range OverflowError.
fn port_arg(obj: &Bound<'_, PyAny>, caller: &str) -> PyResult<i64> {
    let range = || PyOverflowError::new_err(format!("{caller}(): port must be 0-65535."));
    let port: i64 =
        obj.extract().map_err(|e: PyErr| if e.is_instance_of::<PyOverflowError>(obj.py()) { range() } else { e })?;
    if i32::try_from(port).is_err() {
        return Err(range());
    }
    Ok(port)
}

/// An unsigned C int as the `I` format takes it (no range check: the value wraps).
fn uint_arg(obj: &Bound<'_, PyAny>) -> PyResult<u32> {
    let big = obj.py().import("operator")?.call_method1("index", (obj,))?;
    let masked: u64 = big.call_method1("__and__", (0xffff_ffffu64,))?.extract()?;
    Ok(masked as u32)
}

/// Takes apart an address argument for a socket of `family`, as CPython's getsockaddrarg.
fn address_arg(family: i32, obj: &Bound<'_, PyAny>, caller: &str) -> PyResult<Address> {
    match family {
        libc::AF_INET => {
            let t = obj.cast::<PyTuple>().map_err(|_| {
                PyTypeError::new_err(format!("{caller}(): AF_INET address must be tuple, not {}", type_name(obj)))
            })?;
            if t.len() != 2 {
                return Err(PyTypeError::new_err("AF_INET address must be a pair (host, port)"));
            }
            let host = host_arg(&t.get_item(0)?)?;
            let port = port_arg(&t.get_item(1)?, caller)?;
            Ok(Address::Inet { host, port })
        }
        libc::AF_INET6 => {
            let t = obj.cast::<PyTuple>().map_err(|_| {
                PyTypeError::new_err(format!("{caller}(): AF_INET6 address must be tuple, not {}", type_name(obj)))
            })?;
            if !(2..=4).contains(&t.len()) {
                return Err(PyTypeError::new_err(
                    "AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])",
                ));
            }
            let host = host_arg(&t.get_item(0)?)?;
            let port = port_arg(&t.get_item(1)?, caller)?;
            let flowinfo = if t.len() > 2 { uint_arg(&t.get_item(2)?)? } else { 0 };
            let scope_id = if t.len() > 3 { uint_arg(&t.get_item(3)?)? } else { 0 };
            Ok(Address::Inet6 { host, port, flowinfo, scope_id })
        }
        libc::AF_UNIX => {
            let py = obj.py();
            let path: Vec<u8> = if obj.is_instance_of::<PyString>() {
                py.import("os")?.call_method1("fsencode", (obj,))?.extract()?
            } else {
                Data::get(obj)?.as_slice().to_vec()
            };
            Ok(Address::Unix(path))
        }
        other => Err(PyOSError::new_err(format!("{caller}(): bad family {other}"))),
    }
}

/// A kernel address as Python shows it (CPython's makesockaddr).
fn sockname_obj(py: Python<'_>, name: SockName) -> PyResult<Py<PyAny>> {
    Ok(match name {
        SockName::Inet(ip, port) => (ip.to_string(), port).into_pyobject(py)?.into_any().unbind(),
        SockName::Inet6(ip, port, flow, scope) => {
            (core::addr::ipv6_text(&ip), port, flow, scope).into_pyobject(py)?.into_any().unbind()
        }
        SockName::UnixPath(bytes) => {
            // SAFETY: decodes `bytes` with the filesystem encoding; returns a new reference
            // or NULL with an exception set.
            unsafe {
                let p = ffi::PyUnicode_DecodeFSDefaultAndSize(
                    bytes.as_ptr() as *const c_char,
                    bytes.len() as ffi::Py_ssize_t,
                );
                Bound::from_owned_ptr_or_err(py, p)?.unbind()
            }
        }
        SockName::UnixAbstract(bytes) => PyBytes::new(py, &bytes).into_any().unbind(),
        SockName::Other(family, bytes) => (family, PyBytes::new(py, &bytes)).into_pyobject(py)?.into_any().unbind(),
        SockName::None => py.None(),
    })
}

/// A timeout argument: None, or a number of seconds (int or float).
fn timeout_arg(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    let seconds = match obj {
        None => None,
        Some(o) if o.is_none() => None,
        Some(o) => {
            if o.is_instance_of::<pyo3::types::PyFloat>() {
                Some(o.extract::<f64>()?)
            } else {
                // Ints (and __index__ objects); other types get the stdlib's TypeError.
                let i: Bound<'_, PyInt> = o
                    .call_method0("__index__")
                    .map_err(|_| {
                        PyTypeError::new_err(format!("'{}' object cannot be interpreted as an integer", type_name(o)))
                    })?
                    .cast_into()
                    .map_err(PyErr::from)?;
                Some(i.extract::<f64>()?)
            }
        }
    };
    core::parse_timeout(seconds).py_err(py)
}

fn timeout_obj(t: Option<Duration>) -> Option<f64> {
    t.map(|d| d.as_secs_f64())
}

// ---------------------------------------------------------------------------------------
// The socket class.

static ADDRESS_FAMILY: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static SOCKET_KIND: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `value` as the stdlib enum when it has a member for it, else the plain int (as socket.py).
fn intenum(py: Python<'_>, cell: &'static PyOnceLock<Py<PyType>>, name: &str, value: i32) -> PyResult<Py<PyAny>> {
    let cls = cell.import(py, "socket", name)?;
    match cls.call1((value,)) {
        Ok(v) => Ok(v.unbind()),
        Err(_) => Ok(value.into_pyobject(py)?.into_any().unbind()),
    }
}

/// socket(family=AF_INET, type=SOCK_STREAM, proto=0, fileno=None) -> socket object
///
/// A socket with the semantics of the stdlib's `socket.socket`, run by netcore's Rust core.
#[pyclass(name = "socket", module = "netcore", subclass, frozen, weakref)]
pub struct PySocket {
    inner: Socket,
    /// `close()` was called (the fd really closes once no makefile() object uses it).
    closed: AtomicBool,
    /// Open makefile() objects.
    io_refs: AtomicUsize,
}

impl PySocket {
    fn wrap(inner: Socket) -> PySocket {
        PySocket { inner, closed: AtomicBool::new(false), io_refs: AtomicUsize::new(0) }
    }

    /// The stdlib's repr: `<CLASS fd=3, family=AddressFamily.AF_INET, ..., laddr=(...)>`.
    fn describe(&self, py: Python<'_>, class: &str) -> PyResult<String> {
        let closed = self.closed.load(Relaxed);
        let mut s = format!(
            "<{class}{} fd={}, family={}, type={}, proto={}",
            if closed { " [closed]" } else { "" },
            self.inner.fileno(),
            self.family(py)?.bind(py).str()?,
            self.r#type(py)?.bind(py).str()?,
            self.inner.proto(),
        );
        if !closed {
            for (label, name) in [("laddr", self.inner.getsockname()), ("raddr", self.inner.getpeername())] {
                if let Ok(name) = name {
                    let obj = sockname_obj(py, name)?;
                    if obj.bind(py).is_truthy()? {
                        s.push_str(&format!(", {label}={}", obj.bind(py).str()?));
                    }
                }
            }
        }
        s.push('>');
        Ok(s)
    }
}

impl Drop for PySocket {
    /// As CPython's socket: one garbage-collected with its fd still open warns
    /// `ResourceWarning: unclosed <socket ...>` (the fd is then closed by `Socket`'s drop).
    fn drop(&mut self) {
        if self.inner.fileno() < 0 || gil::interpreter_ending() {
            return;
        }
        Python::attach(|py| {
            // Keep an exception that is on its way (the drop may happen while it unwinds).
            let in_flight = PyErr::take(py);
            let warned = self.describe(py, "netcore.socket").and_then(|repr| {
                let msg = std::ffi::CString::new(format!("unclosed {repr}")).unwrap_or_default();
                PyErr::warn(py, &py.get_type::<pyo3::exceptions::PyResourceWarning>(), &msg, 1)
            });
            if let Err(e) = warned {
                e.write_unraisable(py, None);
            }
            if let Some(e) = in_flight {
                e.restore(py);
            }
        });
    }
}

/// A new bytes object received into directly, as CPython's recv does: allocated at the
/// requested size without being cleared, filled by the kernel, then shrunk to what arrived.
/// (`_PyBytes_Resize` is outside the limited API but exported, with this signature, by every
/// CPython 3.)
struct FreshBytes<'py> {
    py: Python<'py>,
    obj: *mut ffi::PyObject,
    len: usize,
}

// Kept out of the C header: cbindgen would otherwise declare this import there.
#[allow(unused_doc_comments)]
/// cbindgen:ignore
extern "C" {
    fn _PyBytes_Resize(bytes: *mut *mut ffi::PyObject, newsize: ffi::Py_ssize_t) -> c_int;
}

impl<'py> FreshBytes<'py> {
    fn new(py: Python<'py>, len: isize) -> PyResult<FreshBytes<'py>> {
        // SAFETY: a NULL source asks for an uninitialised object of `len` bytes.
        let obj = unsafe { ffi::PyBytes_FromStringAndSize(std::ptr::null(), len) };
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        Ok(FreshBytes { py, obj, len: len as usize })
    }

    /// The object's storage. Nothing else can see the object until `finish`.
    fn buffer(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        if self.len == 0 {
            return &mut [];
        }
        // SAFETY: obj is a bytes object of `len` bytes that we own alone; the slice is only
        // used (by the receive call) while `self` is alive and before `finish`.
        unsafe {
            let data = ffi::PyBytes_AsString(self.obj) as *mut std::mem::MaybeUninit<u8>;
            std::slice::from_raw_parts_mut(data, self.len)
        }
    }

    /// The bytes object holding the first `n` bytes received.
    fn finish(mut self, n: usize) -> PyResult<Bound<'py, PyBytes>> {
        let mut obj = std::mem::replace(&mut self.obj, std::ptr::null_mut());
        if n != self.len {
            // SAFETY: obj is our only reference; on failure it is freed and set to NULL.
            if unsafe { _PyBytes_Resize(&mut obj, n as ffi::Py_ssize_t) } != 0 {
                return Err(PyErr::fetch(self.py));
            }
        }
        // SAFETY: obj is an owned reference to a bytes object.
        Ok(unsafe { Bound::from_owned_ptr(self.py, obj).cast_into_unchecked() })
    }
}

impl Drop for FreshBytes<'_> {
    fn drop(&mut self) {
        if !self.obj.is_null() {
            // SAFETY: an owned reference not handed out (the receive failed); GIL held.
            unsafe { ffi::Py_DECREF(self.obj) };
        }
    }
}

#[pymethods]
impl PySocket {
    #[new]
    #[pyo3(signature = (family = -1, r#type = -1, proto = -1, fileno = None), text_signature = "(family=-1, type=-1, proto=-1, fileno=None)")]
    fn py_new(
        py: Python<'_>,
        family: i32,
        r#type: i32,
        proto: i32,
        fileno: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PySocket> {
        let opt = |v: i32| (v != -1).then_some(v);
        let sock = match fileno {
            Some(f) if !f.is_none() => {
                let fd: i64 = f.extract()?;
                let fd = i32::try_from(fd).map_err(|_| PyOverflowError::new_err("fd is greater than maximum"))?;
                Socket::from_fd(fd, opt(family), opt(r#type), opt(proto)).py_err(py)?
            }
            _ => Socket::new(
                opt(family).unwrap_or(libc::AF_INET),
                opt(r#type).unwrap_or(libc::SOCK_STREAM),
                opt(proto).unwrap_or(0),
            )
            .py_err(py)?,
        };
        Ok(PySocket::wrap(sock))
    }

    /// The address family, as `socket.AddressFamily` when known.
    #[getter]
    fn family(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        intenum(py, &ADDRESS_FAMILY, "AddressFamily", self.inner.family())
    }

    /// The socket type, as `socket.SocketKind` when known.
    #[getter]
    fn r#type(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        intenum(py, &SOCKET_KIND, "SocketKind", self.inner.sock_type())
    }

    /// The protocol number.
    #[getter]
    fn proto(&self) -> i32 {
        self.inner.proto()
    }

    /// The timeout in seconds (None: blocking), as `gettimeout()`.
    #[getter]
    fn timeout(&self) -> Option<f64> {
        timeout_obj(self.inner.gettimeout())
    }

    /// True once `close()` or `detach()` was called.
    #[getter]
    fn _closed(&self) -> bool {
        self.closed.load(Relaxed)
    }

    /// How many makefile() objects use the socket.
    #[getter]
    fn _io_refs(&self) -> usize {
        self.io_refs.load(Relaxed)
    }

    fn fileno(&self) -> i32 {
        self.inner.fileno()
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.closed.store(true, Relaxed);
        if self.io_refs.load(Relaxed) == 0 {
            self.inner.close().py_err(py)?;
        }
        Ok(())
    }

    /// Called by the makefile() objects (socket.SocketIO) when they close.
    fn _decref_socketios(&self, py: Python<'_>) -> PyResult<()> {
        let _ = self.io_refs.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
        if self.closed.load(Relaxed) {
            self.close(py)?;
        }
        Ok(())
    }

    fn detach(&self) -> i32 {
        self.closed.store(true, Relaxed);
        self.inner.detach()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        if !self.closed.load(Relaxed) {
            self.close(py)?;
        }
        Ok(())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let cls = slf.get_type();
        let module: String = cls.getattr("__module__")?.str()?.to_string();
        let qualname = cls.qualname()?.to_string();
        slf.get().describe(slf.py(), &format!("{module}.{qualname}"))
    }

    fn bind(&self, py: Python<'_>, address: &Bound<'_, PyAny>) -> PyResult<()> {
        let addr = address_arg(self.inner.family(), address, "bind")?;
        // Binding may resolve a host name: no GIL while it does.
        py.detach(|| self.inner.bind(&addr)).py_err(py)
    }

    #[pyo3(signature = (backlog = None))]
    fn listen(&self, py: Python<'_>, backlog: Option<i32>) -> PyResult<()> {
        self.inner.listen(backlog).py_err(py)
    }

    /// accept() -> (socket object, address info)
    fn accept(&self, py: Python<'_>) -> PyResult<(PySocket, Py<PyAny>)> {
        let (conn, peer) = blocking(py, |intr| self.inner.accept_with(intr))?;
        Ok((PySocket::wrap(conn), sockname_obj(py, peer)?))
    }

    fn connect(&self, py: Python<'_>, address: &Bound<'_, PyAny>) -> PyResult<()> {
        let addr = address_arg(self.inner.family(), address, "connect")?;
        blocking(py, |intr| self.inner.connect_with(&addr, intr))
    }

    fn connect_ex(&self, py: Python<'_>, address: &Bound<'_, PyAny>) -> PyResult<i32> {
        let addr = address_arg(self.inner.family(), address, "connect_ex")?;
        blocking(py, |intr| self.inner.connect_ex_with(&addr, intr))
    }

    #[pyo3(signature = (bufsize, flags = 0))]
    fn recv<'py>(&self, py: Python<'py>, bufsize: isize, flags: i32) -> PyResult<Bound<'py, PyBytes>> {
        if bufsize < 0 {
            return Err(PyValueError::new_err("negative buffersize in recv"));
        }
        let mut out = FreshBytes::new(py, bufsize)?;
        let buf = out.buffer();
        let k = blocking(py, |intr| self.inner.recv_uninit_with(buf, flags, intr))?;
        out.finish(k)
    }

    #[pyo3(signature = (buffer, nbytes = 0, flags = 0))]
    fn recv_into(&self, py: Python<'_>, buffer: &Bound<'_, PyAny>, nbytes: isize, flags: i32) -> PyResult<usize> {
        let mut buf = writable_buffer("recv_into", buffer)?;
        if nbytes < 0 {
            return Err(PyValueError::new_err("negative buffersize in recv_into"));
        }
        let len = buf.len();
        let n = if nbytes == 0 { len } else { nbytes as usize };
        if n > len {
            return Err(PyValueError::new_err("buffer too small for requested bytes"));
        }
        let slice = &mut buf.as_mut_slice()[..n];
        blocking(py, |intr| self.inner.recv_with(slice, flags, intr))
    }

    #[pyo3(signature = (bufsize, flags = 0))]
    fn recvfrom<'py>(&self, py: Python<'py>, bufsize: isize, flags: i32) -> PyResult<(Bound<'py, PyBytes>, Py<PyAny>)> {
        if bufsize < 0 {
            return Err(PyValueError::new_err("negative buffersize in recvfrom"));
        }
        let mut out = FreshBytes::new(py, bufsize)?;
        let buf = out.buffer();
        let (k, from) = blocking(py, |intr| self.inner.recvfrom_uninit_with(buf, flags, intr))?;
        Ok((out.finish(k)?, sockname_obj(py, from)?))
    }

    #[pyo3(signature = (buffer, nbytes = 0, flags = 0))]
    fn recvfrom_into(
        &self,
        py: Python<'_>,
        buffer: &Bound<'_, PyAny>,
        nbytes: isize,
        flags: i32,
    ) -> PyResult<(usize, Py<PyAny>)> {
        let mut buf = writable_buffer("recvfrom_into", buffer)?;
        if nbytes < 0 {
            return Err(PyValueError::new_err("negative buffersize in recvfrom_into"));
        }
        let len = buf.len();
        let n = if nbytes == 0 { len } else { nbytes as usize };
        if n > len {
            return Err(PyValueError::new_err("nbytes is greater than the length of the buffer"));
        }
        let slice = &mut buf.as_mut_slice()[..n];
        let (k, from) = blocking(py, |intr| self.inner.recvfrom_with(slice, flags, intr))?;
        Ok((k, sockname_obj(py, from)?))
    }

    #[pyo3(signature = (data, flags = 0))]
    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>, flags: i32) -> PyResult<usize> {
        let data = Data::get(data)?;
        let bytes = data.as_slice();
        blocking(py, |intr| self.inner.send_with(bytes, flags, intr))
    }

    #[pyo3(signature = (data, flags = 0))]
    fn sendall(&self, py: Python<'_>, data: &Bound<'_, PyAny>, flags: i32) -> PyResult<()> {
        let data = Data::get(data)?;
        let bytes = data.as_slice();
        blocking(py, |intr| self.inner.sendall_with(bytes, flags, intr))
    }

    /// sendto(data[, flags], address) -> count
    #[pyo3(signature = (*args))]
    fn sendto(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<usize> {
        let (data, flags, address) = match args.len() {
            2 => (args.get_item(0)?, 0, args.get_item(1)?),
            3 => (args.get_item(0)?, args.get_item(1)?.extract::<i32>()?, args.get_item(2)?),
            n => return Err(PyTypeError::new_err(format!("sendto() takes 2 or 3 arguments ({n} given)"))),
        };
        let data = Data::get(&data)?;
        let addr = address_arg(self.inner.family(), &address, "sendto")?;
        let bytes = data.as_slice();
        blocking(py, |intr| self.inner.sendto_with(bytes, flags, &addr, intr))
    }

    fn shutdown(&self, py: Python<'_>, how: i32) -> PyResult<()> {
        self.inner.shutdown(how).py_err(py)
    }

    fn dup(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let copy = slf.get().inner.dup().py_err(py)?;
        let cls = slf.get_type();
        if cls.is(py.get_type::<PySocket>()) {
            return Ok(Py::new(py, PySocket::wrap(copy))?.into_any());
        }
        // A subclass: built through its own constructor on the duplicate, as socket.py does.
        let (family, kind, proto, timeout) = (copy.family(), copy.sock_type(), copy.proto(), copy.gettimeout());
        let fd = copy.detach();
        let made = cls.call1((family, kind, proto, fd))?;
        made.call_method1("settimeout", (timeout_obj(timeout),))?;
        Ok(made.unbind())
    }

    fn getsockname(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let name = self.inner.getsockname().py_err(py)?;
        sockname_obj(py, name)
    }

    fn getpeername(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let name = self.inner.getpeername().py_err(py)?;
        sockname_obj(py, name)
    }

    /// setsockopt(level, option, value: int | buffer) / setsockopt(level, option, None, optlen)
    #[pyo3(signature = (level, optname, value, optlen = None))]
    fn setsockopt(
        &self,
        py: Python<'_>,
        level: i32,
        optname: i32,
        value: &Bound<'_, PyAny>,
        optlen: Option<u32>,
    ) -> PyResult<()> {
        if let Some(len) = optlen {
            if !value.is_none() {
                return Err(PyTypeError::new_err("setsockopt() takes value None when optlen is given"));
            }
            return self.inner.setsockopt(level, optname, OptValue::Null(len)).py_err(py);
        }
        if let Ok(i) = value.cast::<PyInt>() {
            // An int beyond C int is not an int option; CPython then tries it as a buffer.
            let v: i32 = i.extract().map_err(|_| PyTypeError::new_err("a bytes-like object is required, not 'int'"))?;
            return self.inner.setsockopt(level, optname, OptValue::Int(v)).py_err(py);
        }
        let data = Data::get(value)?;
        self.inner.setsockopt(level, optname, OptValue::Bytes(data.as_slice())).py_err(py)
    }

    /// getsockopt(level, option[, buflen]) -> int or bytes
    #[pyo3(signature = (level, optname, buflen = None))]
    fn getsockopt(&self, py: Python<'_>, level: i32, optname: i32, buflen: Option<i64>) -> PyResult<Py<PyAny>> {
        match buflen {
            // buflen 0 asks for an int, as in CPython.
            None | Some(0) => {
                Ok(self.inner.getsockopt_int(level, optname).py_err(py)?.into_pyobject(py)?.into_any().unbind())
            }
            Some(n) => {
                Ok(PyBytes::new(py, &self.inner.getsockopt_bytes(level, optname, n).py_err(py)?).into_any().unbind())
            }
        }
    }

    fn settimeout(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let t = timeout_arg(py, Some(value))?;
        self.inner.settimeout(t).py_err(py)
    }

    fn gettimeout(&self) -> Option<f64> {
        timeout_obj(self.inner.gettimeout())
    }

    fn setblocking(&self, py: Python<'_>, flag: &Bound<'_, PyAny>) -> PyResult<()> {
        let blocking: i64 = flag.extract()?;
        self.inner.setblocking(blocking != 0).py_err(py)
    }

    fn getblocking(&self) -> bool {
        self.inner.getblocking()
    }

    fn get_inheritable(&self, py: Python<'_>) -> PyResult<bool> {
        self.inner.get_inheritable().py_err(py)
    }

    fn set_inheritable(&self, py: Python<'_>, inheritable: bool) -> PyResult<()> {
        self.inner.set_inheritable(inheritable).py_err(py)
    }

    /// makefile(mode='r', buffering=None, *, encoding=None, errors=None, newline=None)
    ///
    /// A file object on the socket, built from the stdlib's own pieces exactly as
    /// `socket.socket.makefile` builds it (socket.SocketIO under io.Buffered*/TextIOWrapper).
    #[pyo3(signature = (mode = "r", buffering = None, *, encoding = None, errors = None, newline = None))]
    fn makefile<'py>(
        slf: &Bound<'py, Self>,
        mode: &str,
        buffering: Option<i64>,
        encoding: Option<&Bound<'py, PyAny>>,
        errors: Option<&Bound<'py, PyAny>>,
        newline: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        if !mode.chars().all(|c| matches!(c, 'r' | 'w' | 'b')) {
            return Err(PyValueError::new_err(format!(
                "invalid mode {} (only r, w, b allowed)",
                PyString::new(py, mode).repr()?
            )));
        }
        let writing = mode.contains('w');
        let reading = mode.contains('r') || !writing;
        let binary = mode.contains('b');
        let rawmode = format!("{}{}", if reading { "r" } else { "" }, if writing { "w" } else { "" });
        let socket_mod = py.import("socket")?;
        let io = py.import("io")?;
        let raw = socket_mod.getattr("SocketIO")?.call1((slf, rawmode))?;
        slf.get().io_refs.fetch_add(1, Relaxed);
        let mut buffering = buffering.unwrap_or(-1);
        if buffering < 0 {
            buffering = io.getattr("DEFAULT_BUFFER_SIZE")?.extract()?;
        }
        if buffering == 0 {
            if !binary {
                return Err(PyValueError::new_err("unbuffered streams must be binary"));
            }
            return Ok(raw);
        }
        let buffer = if reading && writing {
            io.getattr("BufferedRWPair")?.call1((&raw, &raw, buffering))?
        } else if reading {
            io.getattr("BufferedReader")?.call1((&raw, buffering))?
        } else {
            io.getattr("BufferedWriter")?.call1((&raw, buffering))?
        };
        if binary {
            return Ok(buffer);
        }
        let encoding = match io.getattr("text_encoding") {
            Ok(f) => Some(f.call1((encoding,))?),
            Err(_) => encoding.cloned(),
        };
        let text = io.getattr("TextIOWrapper")?.call1((buffer, encoding, errors, newline))?;
        text.setattr("mode", mode)?;
        Ok(text)
    }
}

// ---------------------------------------------------------------------------------------
// Module functions.

/// socketpair([family[, type[, proto]]]) -> (socket object, socket object)
#[pyfunction]
#[pyo3(signature = (family = None, r#type = libc::SOCK_STREAM, proto = 0), text_signature = "(family=None, type=1, proto=0)")]
fn socketpair(py: Python<'_>, family: Option<i32>, r#type: i32, proto: i32) -> PyResult<(PySocket, PySocket)> {
    let (a, b) = Socket::pair(family.unwrap_or(libc::AF_UNIX), r#type, proto).py_err(py)?;
    Ok((PySocket::wrap(a), PySocket::wrap(b)))
}

/// fromfd(fd, family, type[, proto]) -> socket object: a socket on a duplicate of fd.
#[pyfunction]
#[pyo3(signature = (fd, family, r#type, proto = 0))]
fn fromfd(py: Python<'_>, fd: &Bound<'_, PyAny>, family: i32, r#type: i32, proto: i32) -> PyResult<PySocket> {
    // An int, as os.dup takes it (the stdlib's fromfd is `socket(..., dup(fd))`).
    let fd: i32 = fd.extract()?;
    Socket::fromfd(fd, family, r#type, proto).py_err(py).map(PySocket::wrap)
}

/// getdefaulttimeout() -> timeout: the timeout new netcore sockets get (None: blocking).
#[pyfunction]
fn getdefaulttimeout() -> Option<f64> {
    timeout_obj(core::getdefaulttimeout())
}

/// setdefaulttimeout(timeout): the timeout new netcore sockets get.
#[pyfunction]
fn setdefaulttimeout(py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    core::setdefaulttimeout(timeout_arg(py, timeout)?);
    Ok(())
}

/// has_dualstack_ipv6() -> bool: can one socket take IPv4 and IPv6 connections?
#[pyfunction]
fn has_dualstack_ipv6(py: Python<'_>) -> bool {
    py.detach(core::has_dualstack_ipv6)
}

/// The core of create_connection; `netcore.create_connection` supplies the default timeout.
#[pyfunction]
#[pyo3(signature = (address, timeout, source_address = None, all_errors = false))]
fn _create_connection(
    py: Python<'_>,
    address: &Bound<'_, PyAny>,
    timeout: &Bound<'_, PyAny>,
    source_address: Option<&Bound<'_, PyAny>>,
    all_errors: bool,
) -> PyResult<PySocket> {
    let (host, port) = unpack_pair(address)?;
    let host = if host.is_none() { None } else { Some(host_arg(&host)?) };
    let port: Option<String> = if port.is_none() {
        None
    } else if let Ok(n) = port.cast::<PyInt>() {
        Some(n.str()?.to_string())
    } else if port.is_instance_of::<PyString>() {
        Some(port.extract()?)
    } else if port.is_instance_of::<PyBytes>() {
        Some(String::from_utf8_lossy(&port.extract::<Vec<u8>>()?).into_owned())
    } else {
        return Err(PyOSError::new_err("Int or String expected"));
    };
    let sentinel = py.import("socket")?.getattr("_GLOBAL_DEFAULT_TIMEOUT")?;
    let timeout = if timeout.is(&sentinel) {
        core::ConnectTimeout::Default
    } else {
        core::ConnectTimeout::Set(timeout_arg(py, Some(timeout))?)
    };
    // The family is only known per attempt: keep the source as (host, port).
    let source = match source_address {
        Some(s) if s.is_truthy()? => {
            let t =
                s.cast::<PyTuple>().map_err(|_| PyTypeError::new_err("source_address must be a (host, port) tuple"))?;
            if t.len() < 2 {
                return Err(PyTypeError::new_err("source_address must be a (host, port) tuple"));
            }
            Some((host_arg(&t.get_item(0)?)?, port_arg(&t.get_item(1)?, "bind")?))
        }
        _ => None,
    };
    let source = source.as_ref().map(|(h, p)| (h.as_str(), *p));
    let result =
        blocking_multi(py, |intr| core::create_connection(host.as_deref(), port.as_deref(), timeout, source, intr))?;
    match result {
        Ok(sock) => Ok(PySocket::wrap(sock)),
        Err(mut errors) => {
            if errors.len() == 1 || !all_errors {
                let last = errors.pop().unwrap_or(Error::Failed("getaddrinfo returns an empty list".into()));
                return Err(to_pyerr(py, last));
            }
            let excs: Vec<PyErr> = errors.into_iter().map(|e| to_pyerr(py, e)).collect();
            let excs: Vec<Py<PyAny>> = excs.into_iter().map(|e| e.into_value(py).into_any()).collect();
            let group = py.import("builtins")?.getattr("ExceptionGroup")?.call1(("create_connection failed", excs))?;
            Err(PyErr::from_value(group))
        }
    }
}

/// `host, port = address`, with Python's unpacking errors.
fn unpack_pair<'py>(address: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let iter = address
        .try_iter()
        .map_err(|_| PyTypeError::new_err(format!("cannot unpack non-iterable {} object", type_name(address))))?;
    let mut items = Vec::with_capacity(2);
    for item in iter {
        items.push(item?);
        if items.len() > 2 {
            return Err(PyValueError::new_err("too many values to unpack (expected 2)"));
        }
    }
    if items.len() < 2 {
        return Err(PyValueError::new_err(format!("not enough values to unpack (expected 2, got {})", items.len())));
    }
    let port = items.pop().expect("two items");
    let host = items.pop().expect("two items");
    Ok((host, port))
}

/// Like `blocking`, for a core call whose result carries several errors.
fn blocking_multi<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: for<'a, 'b> FnOnce(&'a mut Interrupt<'b>) -> T + Send,
    T: Send,
{
    blocking(py, |intr| Ok(f(intr)))
}

/// The core of create_server: socket, options, bind (errors name the address), listen.
#[pyfunction]
#[pyo3(signature = (address, *, family = libc::AF_INET, backlog = None, reuse_port = false, dualstack_ipv6 = false))]
fn create_server(
    py: Python<'_>,
    address: &Bound<'_, PyAny>,
    family: i32,
    backlog: Option<i32>,
    reuse_port: bool,
    dualstack_ipv6: bool,
) -> PyResult<PySocket> {
    let sock = core::server_socket(family, reuse_port, dualstack_ipv6).py_err(py)?;
    let addr = address_arg(family, address, "bind")?;
    if let Err(e) = py.detach(|| sock.bind(&addr)) {
        return Err(match e {
            Error::Os(ref io) if io.raw_os_error().is_some() => {
                let errno = io.raw_os_error().unwrap_or(0);
                let msg = format!("{} (while attempting to bind on address {})", e.message(), address.repr()?);
                PyOSError::new_err((errno, msg))
            }
            other => to_pyerr(py, other),
        });
    }
    sock.listen(backlog).py_err(py)?;
    Ok(PySocket::wrap(sock))
}

/// Adds the socket class, functions and constants to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySocket>()?;
    m.add_function(wrap_pyfunction!(socketpair, m)?)?;
    m.add_function(wrap_pyfunction!(fromfd, m)?)?;
    m.add_function(wrap_pyfunction!(getdefaulttimeout, m)?)?;
    m.add_function(wrap_pyfunction!(setdefaulttimeout, m)?)?;
    m.add_function(wrap_pyfunction!(has_dualstack_ipv6, m)?)?;
    m.add_function(wrap_pyfunction!(_create_connection, m)?)?;
    m.add_function(wrap_pyfunction!(create_server, m)?)?;
    m.add("has_ipv6", true)?;
    let constants: &[(&str, i32)] = &[
        ("SOCK_NONBLOCK", libc::SOCK_NONBLOCK),
        ("SOCK_CLOEXEC", libc::SOCK_CLOEXEC),
        ("SOL_SOCKET", libc::SOL_SOCKET),
        ("SOMAXCONN", libc::SOMAXCONN),
        ("SO_REUSEADDR", libc::SO_REUSEADDR),
        ("SO_REUSEPORT", libc::SO_REUSEPORT),
        ("SO_KEEPALIVE", libc::SO_KEEPALIVE),
        ("SO_BROADCAST", libc::SO_BROADCAST),
        ("SO_LINGER", libc::SO_LINGER),
        ("SO_RCVBUF", libc::SO_RCVBUF),
        ("SO_SNDBUF", libc::SO_SNDBUF),
        ("SO_RCVLOWAT", libc::SO_RCVLOWAT),
        ("SO_SNDLOWAT", libc::SO_SNDLOWAT),
        ("SO_RCVTIMEO", libc::SO_RCVTIMEO),
        ("SO_SNDTIMEO", libc::SO_SNDTIMEO),
        ("SO_ERROR", libc::SO_ERROR),
        ("SO_TYPE", libc::SO_TYPE),
        ("SO_ACCEPTCONN", libc::SO_ACCEPTCONN),
        ("SO_DOMAIN", libc::SO_DOMAIN),
        ("SO_PROTOCOL", libc::SO_PROTOCOL),
        ("SO_OOBINLINE", libc::SO_OOBINLINE),
        ("SO_PEERCRED", libc::SO_PEERCRED),
        ("IPPROTO_IP", libc::IPPROTO_IP),
        ("IPPROTO_IPV6", libc::IPPROTO_IPV6),
        ("IPPROTO_ICMP", libc::IPPROTO_ICMP),
        ("IPPROTO_ICMPV6", libc::IPPROTO_ICMPV6),
        ("IPPROTO_RAW", libc::IPPROTO_RAW),
        ("IP_TTL", libc::IP_TTL),
        ("IP_TOS", libc::IP_TOS),
        ("IP_HDRINCL", libc::IP_HDRINCL),
        ("IP_MULTICAST_TTL", libc::IP_MULTICAST_TTL),
        ("IP_MULTICAST_LOOP", libc::IP_MULTICAST_LOOP),
        ("IP_ADD_MEMBERSHIP", libc::IP_ADD_MEMBERSHIP),
        ("IP_DROP_MEMBERSHIP", libc::IP_DROP_MEMBERSHIP),
        ("IPV6_V6ONLY", libc::IPV6_V6ONLY),
        ("IPV6_UNICAST_HOPS", libc::IPV6_UNICAST_HOPS),
        ("TCP_NODELAY", libc::TCP_NODELAY),
        ("TCP_MAXSEG", libc::TCP_MAXSEG),
        ("TCP_KEEPIDLE", libc::TCP_KEEPIDLE),
        ("TCP_KEEPINTVL", libc::TCP_KEEPINTVL),
        ("TCP_KEEPCNT", libc::TCP_KEEPCNT),
        ("TCP_QUICKACK", libc::TCP_QUICKACK),
        ("TCP_FASTOPEN", libc::TCP_FASTOPEN),
        ("TCP_USER_TIMEOUT", libc::TCP_USER_TIMEOUT),
        ("SHUT_RD", libc::SHUT_RD),
        ("SHUT_WR", libc::SHUT_WR),
        ("SHUT_RDWR", libc::SHUT_RDWR),
        ("MSG_PEEK", libc::MSG_PEEK),
        ("MSG_OOB", libc::MSG_OOB),
        ("MSG_WAITALL", libc::MSG_WAITALL),
        ("MSG_DONTWAIT", libc::MSG_DONTWAIT),
        ("MSG_DONTROUTE", libc::MSG_DONTROUTE),
        ("MSG_NOSIGNAL", libc::MSG_NOSIGNAL),
        ("MSG_TRUNC", libc::MSG_TRUNC),
        ("MSG_CTRUNC", libc::MSG_CTRUNC),
        ("MSG_EOR", libc::MSG_EOR),
        ("MSG_MORE", libc::MSG_MORE),
        ("MSG_CMSG_CLOEXEC", libc::MSG_CMSG_CLOEXEC),
    ];
    for (name, value) in constants {
        m.add(*name, *value)?;
    }
    m.add("INADDR_ANY", libc::INADDR_ANY)?;
    m.add("INADDR_LOOPBACK", libc::INADDR_LOOPBACK)?;
    m.add("INADDR_BROADCAST", libc::INADDR_BROADCAST)?;
    Ok(())
}
