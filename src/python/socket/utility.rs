//! The socket module's functions that are not about one socket object: address text, byte
//! order, interface names, protocol numbers, the host name, descriptors, control-message sizes
//! and descriptor passing. Conversion only; the work is in `crate::socket::utility` and
//! `crate::socket::msg`.

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyString, PyTuple};

use super::buffer::Data;
use super::class::PySocket;
use super::convert::type_name;
use super::msg;
use crate::python::errors::IntoPyResult;
use crate::python::gil;
use crate::socket::{msg as core_msg, utility as core};

/// An int argument as `operator.index` takes it, with the stdlib's TypeError otherwise.
fn index<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyInt>> {
    obj.py().import("operator")?.call_method1("index", (obj,))?.cast_into().map_err(PyErr::from)
}

/// htons/ntohs's argument: a C int (the `i` format), then a 16-bit unsigned value.
fn short(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<u16> {
    let v: i64 =
        index(obj)?.extract().map_err(|_| PyOverflowError::new_err("Python int too large to convert to C long"))?;
    let v = i32::try_from(v).map_err(|_| {
        PyOverflowError::new_err(if v < 0 {
            "signed integer is less than minimum"
        } else {
            "signed integer is greater than maximum"
        })
    })?;
    if v < 0 {
        return Err(PyOverflowError::new_err(format!(
            "{name}: can't convert negative Python int to C 16-bit unsigned integer"
        )));
    }
    u16::try_from(v).map_err(|_| {
        PyOverflowError::new_err(format!("{name}: Python int too large to convert to C 16-bit unsigned integer"))
    })
}

/// htonl/ntohl's argument: an int (no __index__), as a C unsigned long, then 32 bits.
fn long(obj: &Bound<'_, PyAny>) -> PyResult<u32> {
    let i = obj.cast::<PyInt>().map_err(|_| PyTypeError::new_err(format!("expected int, {} found", type_name(obj))))?;
    if i.lt(0)? {
        return Err(PyOverflowError::new_err("can't convert negative value to unsigned int"));
    }
    let v: u64 =
        i.extract().map_err(|_| PyOverflowError::new_err("Python int too large to convert to C unsigned long"))?;
    u32::try_from(v).map_err(|_| PyOverflowError::new_err("int larger than 32 bits"))
}

/// htons(x) -> int: a 16-bit int from host to network byte order.
#[pyfunction]
fn htons(x: &Bound<'_, PyAny>) -> PyResult<u16> {
    Ok(short(x, "htons")?.to_be())
}

/// ntohs(x) -> int: a 16-bit int from network to host byte order.
#[pyfunction]
fn ntohs(x: &Bound<'_, PyAny>) -> PyResult<u16> {
    Ok(u16::from_be(short(x, "ntohs")?))
}

/// htonl(x) -> int: a 32-bit int from host to network byte order.
#[pyfunction]
fn htonl(x: &Bound<'_, PyAny>) -> PyResult<u32> {
    Ok(long(x)?.to_be())
}

/// ntohl(x) -> int: a 32-bit int from network to host byte order.
#[pyfunction]
fn ntohl(x: &Bound<'_, PyAny>) -> PyResult<u32> {
    Ok(u32::from_be(long(x)?))
}

/// A `str` argument as the `s` format takes it (bytes are refused).
fn str_arg(obj: &Bound<'_, PyAny>, func: &str, pos: usize) -> PyResult<String> {
    let s = obj
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err(format!("{func}() argument {pos} must be str, not {}", type_name(obj))))?;
    Ok(s.to_cow()?.into_owned())
}

/// A file-system name (str, bytes or os.PathLike) as bytes, as `os.fsencode`.
fn fs_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    obj.py().import("os")?.call_method1("fsencode", (obj,))?.extract()
}

/// inet_aton(string) -> bytes: the packed 32-bit form of an IPv4 address.
#[pyfunction]
fn inet_aton<'py>(py: Python<'py>, string: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let text = str_arg(string, "inet_aton", 1)?;
    Ok(PyBytes::new(py, &core::inet_aton(&text).py_err(py)?))
}

/// inet_ntoa(packed_ip) -> str: dotted-quad text of a packed IPv4 address.
#[pyfunction]
fn inet_ntoa(py: Python<'_>, packed_ip: &Bound<'_, PyAny>) -> PyResult<String> {
    core::inet_ntoa(Data::get(packed_ip)?.as_slice()).py_err(py)
}

/// inet_pton(af, ip) -> bytes: the packed form of an address of family `af`.
#[pyfunction]
fn inet_pton<'py>(py: Python<'py>, af: i32, ip: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let text = str_arg(ip, "inet_pton", 2)?;
    Ok(PyBytes::new(py, &core::inet_pton(af, &text).py_err(py)?))
}

/// inet_ntop(af, packed_ip) -> str: the text of a packed address of family `af`.
#[pyfunction]
fn inet_ntop(py: Python<'_>, af: i32, packed_ip: &Bound<'_, PyAny>) -> PyResult<String> {
    core::inet_ntop(af, Data::get(packed_ip)?.as_slice()).py_err(py)
}

/// if_nameindex() -> list of (index, name)
#[pyfunction]
fn if_nameindex(py: Python<'_>) -> PyResult<Vec<(u32, String)>> {
    core::if_nameindex().py_err(py)
}

/// if_nametoindex(if_name) -> int
#[pyfunction]
fn if_nametoindex(py: Python<'_>, if_name: &Bound<'_, PyAny>) -> PyResult<u32> {
    core::if_nametoindex(&fs_bytes(if_name)?).py_err(py)
}

/// if_indextoname(if_index) -> str
#[pyfunction]
fn if_indextoname(py: Python<'_>, if_index: &Bound<'_, PyAny>) -> PyResult<String> {
    let i = if_index.cast::<PyInt>().map_err(|_| PyTypeError::new_err("an integer is required"))?;
    if i.lt(0)? {
        return Err(PyOverflowError::new_err("can't convert negative value to unsigned int"));
    }
    // CPython passes the value on as a C unsigned int.
    let v: u64 =
        i.extract().map_err(|_| PyOverflowError::new_err("Python int too large to convert to C unsigned long"))?;
    core::if_indextoname(v as u32).py_err(py)
}

/// getprotobyname(name) -> int: the protocol number for a name such as "tcp".
#[pyfunction]
fn getprotobyname(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<i32> {
    let name = str_arg(name, "getprotobyname", 1)?;
    gil::detach(py, || core::getprotobyname(&name)).py_err(py)
}

/// sethostname(name): set the host name (needs CAP_SYS_ADMIN).
#[pyfunction]
fn sethostname(py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<()> {
    let name = fs_bytes(name)?;
    core::sethostname(&name).py_err(py)
}

/// close(fd): close a socket file descriptor (like os.close, for sockets).
#[pyfunction]
fn close(py: Python<'_>, fd: &Bound<'_, PyAny>) -> PyResult<()> {
    let fd: i32 = index(fd)?.extract()?;
    core::close(fd).py_err(py)
}

/// dup(fd) -> fd: a non-inheritable duplicate of a socket file descriptor.
#[pyfunction]
fn dup(py: Python<'_>, fd: &Bound<'_, PyAny>) -> PyResult<i32> {
    let fd: i32 = index(fd)?.extract()?;
    core::dup(fd).py_err(py)
}

fn cmsg_size(length: &Bound<'_, PyAny>, name: &str, f: fn(usize) -> Option<usize>) -> PyResult<usize> {
    let out_of_range = || PyOverflowError::new_err(format!("{name}() argument out of range"));
    let n: isize = index(length)?.extract().map_err(|_| out_of_range())?;
    usize::try_from(n).ok().and_then(f).ok_or_else(out_of_range)
}

/// CMSG_LEN(length) -> control message length: the header plus `length` bytes of data.
#[pyfunction]
#[pyo3(name = "CMSG_LEN")]
fn cmsg_len(length: &Bound<'_, PyAny>) -> PyResult<usize> {
    cmsg_size(length, "CMSG_LEN", core_msg::cmsg_len)
}

/// CMSG_SPACE(length) -> buffer size: room for a control message with `length` bytes of data.
#[pyfunction]
#[pyo3(name = "CMSG_SPACE")]
fn cmsg_space(length: &Bound<'_, PyAny>) -> PyResult<usize> {
    cmsg_size(length, "CMSG_SPACE", core_msg::cmsg_space)
}

/// send_fds(sock, buffers, fds[, flags[, address]]) -> int: send the data and the file
/// descriptors `fds` (one SCM_RIGHTS item) over an AF_UNIX socket.
#[pyfunction]
#[pyo3(signature = (sock, buffers, fds, flags = 0, address = None))]
fn send_fds(
    py: Python<'_>,
    sock: &Bound<'_, PyAny>,
    buffers: &Bound<'_, PyAny>,
    fds: &Bound<'_, PyAny>,
    flags: i32,
    address: Option<&Bound<'_, PyAny>>,
) -> PyResult<usize> {
    match sock.cast::<PySocket>() {
        Ok(s) => msg::send_fds(&s.get().inner, py, buffers, fds, flags, address),
        // Another socket-like object: through its own sendmsg, as the stdlib's send_fds.
        Err(_) => {
            let fds: Vec<i32> = fds.try_iter()?.map(|f| f?.extract()).collect::<PyResult<_>>()?;
            let data: Vec<u8> = fds.iter().flat_map(|f| f.to_ne_bytes()).collect();
            let item = (libc::SOL_SOCKET, libc::SCM_RIGHTS, PyBytes::new(py, &data));
            sock.call_method1("sendmsg", (buffers, vec![item], flags, address))?.extract()
        }
    }
}

/// What a socket-like object's recvmsg returns.
type RecvmsgTuple<'py> = (Bound<'py, PyAny>, Vec<(i32, i32, Vec<u8>)>, Bound<'py, PyAny>, Bound<'py, PyAny>);

/// recv_fds(sock, bufsize, maxfds[, flags]) -> (data, list of fds, msg_flags, address)
#[pyfunction]
#[pyo3(signature = (sock, bufsize, maxfds, flags = 0))]
fn recv_fds<'py>(
    py: Python<'py>,
    sock: &Bound<'py, PyAny>,
    bufsize: isize,
    maxfds: isize,
    flags: i32,
) -> PyResult<Bound<'py, PyTuple>> {
    if let Ok(s) = sock.cast::<PySocket>() {
        return msg::recv_fds(&s.get().inner, py, bufsize, maxfds, flags)?.into_pyobject(py);
    }
    // Another socket-like object: through its own recvmsg, as the stdlib's recv_fds.
    let room = usize::try_from(maxfds)
        .ok()
        .and_then(|n| n.checked_mul(4))
        .and_then(core_msg::cmsg_len)
        .ok_or_else(|| PyOverflowError::new_err("CMSG_LEN() argument out of range"))?;
    let got = sock.call_method1("recvmsg", (bufsize, room, flags))?;
    let (data, ancdata, msg_flags, address): RecvmsgTuple<'py> = got.extract()?;
    let mut fds = Vec::new();
    for (level, kind, raw) in ancdata {
        if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
            fds.extend(raw.chunks_exact(4).map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]])));
        }
    }
    (data, fds, msg_flags, address).into_pyobject(py)
}

/// Adds the functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(htons, m)?)?;
    m.add_function(wrap_pyfunction!(ntohs, m)?)?;
    m.add_function(wrap_pyfunction!(htonl, m)?)?;
    m.add_function(wrap_pyfunction!(ntohl, m)?)?;
    m.add_function(wrap_pyfunction!(inet_aton, m)?)?;
    m.add_function(wrap_pyfunction!(inet_ntoa, m)?)?;
    m.add_function(wrap_pyfunction!(inet_pton, m)?)?;
    m.add_function(wrap_pyfunction!(inet_ntop, m)?)?;
    m.add_function(wrap_pyfunction!(if_nameindex, m)?)?;
    m.add_function(wrap_pyfunction!(if_nametoindex, m)?)?;
    m.add_function(wrap_pyfunction!(if_indextoname, m)?)?;
    m.add_function(wrap_pyfunction!(getprotobyname, m)?)?;
    m.add_function(wrap_pyfunction!(sethostname, m)?)?;
    m.add_function(wrap_pyfunction!(close, m)?)?;
    m.add_function(wrap_pyfunction!(dup, m)?)?;
    m.add_function(wrap_pyfunction!(cmsg_len, m)?)?;
    m.add_function(wrap_pyfunction!(cmsg_space, m)?)?;
    m.add_function(wrap_pyfunction!(send_fds, m)?)?;
    m.add_function(wrap_pyfunction!(recv_fds, m)?)?;
    Ok(())
}
