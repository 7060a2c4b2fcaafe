//! Arguments to core values and core values back to Python objects, as CPython's
//! socketmodule converts them (same shapes accepted, same errors).

use std::ffi::c_char;
use std::time::Duration;

use pyo3::exceptions::{PyOSError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyInt, PyString, PyTuple, PyType};

use super::buffer::Data;
use crate::python::errors::IntoPyResult;
use crate::socket::{self as core, Address, SockName};

pub(super) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

/// A host as CPython's idna_converter takes it: ASCII str as is, other str IDNA-encoded,
/// bytes or bytearray; no NUL bytes.
pub(super) fn host_arg(obj: &Bound<'_, PyAny>) -> PyResult<String> {
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
pub(super) fn port_arg(obj: &Bound<'_, PyAny>, caller: &str) -> PyResult<i64> {
    let range = || PyOverflowError::new_err(format!("{caller}(): port must be 0-65535."));
    let port: i64 =
        obj.extract().map_err(|e: PyErr| if e.is_instance_of::<PyOverflowError>(obj.py()) { range() } else { e })?;
    if i32::try_from(port).is_err() {
        return Err(range());
    }
    Ok(port)
}

/// An unsigned C int as the `I` format takes it (no range check: the value wraps).
pub(super) fn uint_arg(obj: &Bound<'_, PyAny>) -> PyResult<u32> {
    let big = obj.py().import("operator")?.call_method1("index", (obj,))?;
    let masked: u64 = big.call_method1("__and__", (0xffff_ffffu64,))?.extract()?;
    Ok(masked as u32)
}

/// Takes apart an address argument for a socket of `family`, as CPython's getsockaddrarg.
pub(super) fn address_arg(family: i32, obj: &Bound<'_, PyAny>, caller: &str) -> PyResult<Address> {
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
pub(super) fn sockname_obj(py: Python<'_>, name: SockName) -> PyResult<Py<PyAny>> {
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
pub(super) fn timeout_arg(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
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

pub(super) fn timeout_obj(t: Option<Duration>) -> Option<f64> {
    t.map(|d| d.as_secs_f64())
}

pub(super) static ADDRESS_FAMILY: PyOnceLock<Py<PyType>> = PyOnceLock::new();
pub(super) static SOCKET_KIND: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `value` as the stdlib enum when it has a member for it, else the plain int (as socket.py).
pub(super) fn intenum(
    py: Python<'_>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
    value: i32,
) -> PyResult<Py<PyAny>> {
    let cls = cell.import(py, "socket", name)?;
    match cls.call1((value,)) {
        Ok(v) => Ok(v.unbind()),
        Err(_) => Ok(value.into_pyobject(py)?.into_any().unbind()),
    }
}

/// `host, port = address`, with Python's unpacking errors.
pub(super) fn unpack_pair<'py>(address: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
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
