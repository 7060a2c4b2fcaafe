//! The `netcore.socket` class: methods convert their arguments, call the core with the GIL
//! released and convert the result.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyString, PyTuple};

use super::blocking;
use super::buffer::{writable_buffer, Data, FreshBytes};
use super::convert::{address_arg, intenum, sockname_obj, timeout_arg, timeout_obj, ADDRESS_FAMILY, SOCKET_KIND};
use super::{msg, sendfile};
use crate::python::errors::IntoPyResult;
use crate::python::gil;
use crate::socket::{OptValue, Socket};

/// socket(family=AF_INET, type=SOCK_STREAM, proto=0, fileno=None) -> socket object
///
/// A socket with the semantics of the stdlib's `socket.socket`, run by netcore's Rust core.
#[pyclass(name = "socket", module = "netcore", subclass, frozen, weakref)]
pub struct PySocket {
    pub(super) inner: Socket,
    /// `close()` was called (the fd really closes once no makefile() object uses it).
    closed: AtomicBool,
    /// Open makefile() objects.
    io_refs: AtomicUsize,
}

impl PySocket {
    pub(super) fn wrap(inner: Socket) -> PySocket {
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
        gil::detach(py, || self.inner.bind(&addr)).py_err(py)
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

    /// sendmsg(buffers[, ancdata[, flags[, address]]]) -> count
    ///
    /// Positional only, as the stdlib's: an explicit `None` for `ancdata` is a TypeError there
    /// too, while `None` for `address` means "no address".
    #[pyo3(signature = (buffers, *rest))]
    fn sendmsg(&self, py: Python<'_>, buffers: &Bound<'_, PyAny>, rest: &Bound<'_, PyTuple>) -> PyResult<usize> {
        if rest.len() > 3 {
            return Err(PyTypeError::new_err(format!(
                "sendmsg() takes at most 4 arguments ({} given)",
                rest.len() + 1
            )));
        }
        let ancdata = rest.get_item(0).ok();
        let flags = match rest.get_item(1) {
            Ok(f) => msg::c_int_arg(&f)?,
            Err(_) => 0,
        };
        let address = rest.get_item(2).ok();
        msg::sendmsg(&self.inner, py, buffers, ancdata.as_ref(), flags, address.as_ref())
    }

    /// recvmsg(bufsize[, ancbufsize[, flags]]) -> (data, ancdata, msg_flags, address)
    #[pyo3(signature = (bufsize, ancbufsize = 0, flags = 0))]
    fn recvmsg<'py>(
        &self,
        py: Python<'py>,
        bufsize: isize,
        ancbufsize: isize,
        flags: i32,
    ) -> PyResult<msg::RecvmsgResult<'py, Bound<'py, PyBytes>>> {
        msg::recvmsg(&self.inner, py, bufsize, ancbufsize, flags)
    }

    /// recvmsg_into(buffers[, ancbufsize[, flags]]) -> (nbytes, ancdata, msg_flags, address)
    #[pyo3(signature = (buffers, ancbufsize = 0, flags = 0))]
    fn recvmsg_into<'py>(
        &self,
        py: Python<'py>,
        buffers: &Bound<'py, PyAny>,
        ancbufsize: isize,
        flags: i32,
    ) -> PyResult<msg::RecvmsgResult<'py, usize>> {
        msg::recvmsg_into(&self.inner, py, buffers, ancbufsize, flags)
    }

    /// sendfile(file[, offset[, count]]) -> sent: sendfile(2) when the file has a descriptor,
    /// else reads and sends, as the stdlib's `socket.sendfile`.
    #[pyo3(signature = (file, offset = 0, count = None))]
    fn sendfile(
        &self,
        py: Python<'_>,
        file: &Bound<'_, PyAny>,
        offset: i64,
        count: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        sendfile::sendfile(&self.inner, py, file, offset, count)
    }

    /// The sendfile(2) path alone; raises `socket._GiveupOnSendfile` where it cannot be used.
    #[pyo3(signature = (file, offset = 0, count = None))]
    fn _sendfile_use_sendfile(
        &self,
        py: Python<'_>,
        file: &Bound<'_, PyAny>,
        offset: i64,
        count: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        match sendfile::use_sendfile(&self.inner, py, file, offset, count)? {
            sendfile::KernelPath::Sent(n) => Ok(n),
            sendfile::KernelPath::GiveUp(reason) => Err(sendfile::giveup_error(py, reason)),
        }
    }

    /// The read-and-send path alone.
    #[pyo3(signature = (file, offset = 0, count = None))]
    fn _sendfile_use_send(
        &self,
        py: Python<'_>,
        file: &Bound<'_, PyAny>,
        offset: i64,
        count: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        sendfile::use_send(&self.inner, py, file, offset, count)
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
