//! The one rule for an address wherever the package's servers and clients take one
//! (`Server`, `UDPServer`, `Client`): a `(host, port)` tuple (IPv6 may add flowinfo and
//! scope_id, as `socket` allows) or a Unix socket path (`str`, `bytes` or `os.PathLike`).
//! Wrong types get the stdlib's wording. `netcore.socket` methods take addresses by their
//! socket's family instead, as the stdlib's do (src/python/socket/).

use std::path::PathBuf;

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString, PyTuple};

/// An address as the package's servers and clients take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A host (name, literal, or "" for every interface) and a port.
    Inet {
        host: String,
        port: u16,
    },
    Unix(PathBuf),
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
}

fn is_path(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let os_pathlike = obj.py().import("os")?.getattr("PathLike")?;
    Ok(obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() || obj.is_instance(&os_pathlike)?)
}

/// `obj` as an address for `caller` (the function name the error messages start with).
pub fn address(obj: &Bound<'_, PyAny>, caller: &str) -> PyResult<Address> {
    if is_path(obj)? {
        let path: PathBuf = obj.py().import("os")?.call_method1("fsdecode", (obj,))?.extract()?;
        return Ok(Address::Unix(path));
    }
    let t = obj.cast::<PyTuple>().map_err(|_| {
        PyTypeError::new_err(format!("{caller}(): address must be tuple or str, not {}", type_name(obj)))
    })?;
    if !(2..=4).contains(&t.len()) {
        return Err(PyTypeError::new_err(format!("{caller}(): address must be a pair (host, port)")));
    }
    Ok(Address::Inet { host: host(&t.get_item(0)?)?, port: port(&t.get_item(1)?, caller)? })
}

/// A host as `socket` takes it: str, bytes or bytearray.
pub fn host(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
        let raw: Vec<u8> = obj.extract()?;
        return String::from_utf8(raw).map_err(|_| PyTypeError::new_err("host name must be valid UTF-8"));
    }
    Err(PyTypeError::new_err(format!("str, bytes or bytearray expected, not {}", type_name(obj))))
}

/// A port as `socket` takes it: an int (any `__index__`) in 0-65535.
pub fn port(obj: &Bound<'_, PyAny>, caller: &str) -> PyResult<u16> {
    let index = obj.py().import("operator")?.call_method1("index", (obj,)).map_err(|_| {
        PyTypeError::new_err(format!("'{}' object cannot be interpreted as an integer", type_name(obj)))
    })?;
    index.extract::<u16>().map_err(|_| PyOverflowError::new_err(format!("{caller}(): port must be 0-65535.")))
}

/// One address or several: a single tuple or path is one address; anything else is iterated.
pub fn address_list(obj: Option<&Bound<'_, PyAny>>, caller: &str) -> PyResult<Vec<Address>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(Vec::new()) };
    let single = is_path(obj)?
        || obj.cast::<PyTuple>().is_ok_and(|t| t.get_item(0).is_ok_and(|h| !h.is_instance_of::<PyTuple>()));
    if single {
        return Ok(vec![address(obj, caller)?]);
    }
    let items = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!("{caller}(): address must be tuple or str, not {}", type_name(obj)))
    })?;
    items.map(|item| address(&item?, caller)).collect()
}
