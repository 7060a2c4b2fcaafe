//! Python face of `crate::resolve`. Blocking look-ups run with the GIL released.

use std::net::SocketAddr;

use pyo3::exceptions::{PyOSError, PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString, PyTuple};

use super::errors::IntoPyResult;
use super::gil;
use crate::resolve;

/// A host argument as CPython takes it: str (IDNA-encoded), bytes or bytearray.
fn host_text(func: &str, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let bytes: Vec<u8> = if obj.is_instance_of::<PyString>() {
        obj.call_method1("encode", ("idna",))?.extract()?
    } else if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyByteArray>() {
        obj.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "{func}() argument 1 must be str, bytes or bytearray, not {}",
            obj.get_type().name()?
        )));
    };
    // Host names are ASCII after IDNA; other bytes cannot name a host.
    String::from_utf8(bytes).map_err(|_| {
        super::errors::to_pyerr(
            obj.py(),
            crate::Error::AddressInfo { code: libc::EAI_NONAME, message: "Name or service not known".into() },
        )
    })
}

fn sockaddr_tuple<'py>(py: Python<'py>, addr: &SocketAddr) -> PyResult<Bound<'py, PyTuple>> {
    match addr {
        SocketAddr::V4(v4) => (v4.ip().to_string(), v4.port()).into_pyobject(py),
        SocketAddr::V6(v6) => (v6.ip().to_string(), v6.port(), v6.flowinfo(), v6.scope_id()).into_pyobject(py),
    }
}

type HostTuple = (String, Vec<String>, Vec<String>);

fn host_tuple(entry: resolve::HostEntry) -> HostTuple {
    (entry.name, entry.aliases, entry.addresses.iter().map(|a| a.to_string()).collect())
}

/// getservbyname(servicename[, protocolname]) -> integer
#[pyfunction]
#[pyo3(signature = (name, proto = None))]
fn getservbyname(py: Python<'_>, name: &str, proto: Option<&str>) -> PyResult<u16> {
    gil::detach(py, || resolve::getservbyname(name, proto)).py_err(py)
}

/// getservbyport(port[, protocolname]) -> string
#[pyfunction]
#[pyo3(signature = (port, proto = None))]
fn getservbyport(py: Python<'_>, port: &Bound<'_, PyAny>, proto: Option<&str>) -> PyResult<String> {
    let port: i64 = port.extract().map_err(|e: PyErr| {
        if e.is_instance_of::<PyOverflowError>(py) {
            PyOverflowError::new_err("getservbyport: port must be 0-65535.")
        } else {
            e
        }
    })?;
    gil::detach(py, || resolve::getservbyport(port, proto)).py_err(py)
}

/// gethostbyname(host) -> address: the first IPv4 address of a host.
#[pyfunction]
fn gethostbyname(py: Python<'_>, host: &Bound<'_, PyAny>) -> PyResult<String> {
    let host = host_text("gethostbyname", host)?;
    gil::detach(py, || resolve::gethostbyname(&host)).py_err(py).map(|a| a.to_string())
}

/// gethostbyname_ex(host) -> (name, aliaslist, addresslist)
#[pyfunction]
fn gethostbyname_ex(py: Python<'_>, host: &Bound<'_, PyAny>) -> PyResult<HostTuple> {
    let host = host_text("gethostbyname_ex", host)?;
    gil::detach(py, || resolve::gethostbyname_ex(&host)).py_err(py).map(host_tuple)
}

/// gethostbyaddr(host) -> (name, aliaslist, addresslist)
#[pyfunction]
fn gethostbyaddr(py: Python<'_>, host: &Bound<'_, PyAny>) -> PyResult<HostTuple> {
    let host = host_text("gethostbyaddr", host)?;
    gil::detach(py, || resolve::gethostbyaddr(&host)).py_err(py).map(host_tuple)
}

/// gethostname() -> string
#[pyfunction]
fn gethostname(py: Python<'_>) -> PyResult<String> {
    gil::detach(py, resolve::gethostname).py_err(py)
}

/// getfqdn(name='', timeout=2.0) -> string. The reverse look-up is abandoned after
/// `timeout` seconds, so a hung resolver cannot hang the caller.
#[pyfunction]
#[pyo3(signature = (name = "", timeout = 2.0))]
fn getfqdn(py: Python<'_>, name: &str, timeout: f64) -> PyResult<String> {
    if !(timeout.is_finite() && timeout >= 0.0) {
        return Err(pyo3::exceptions::PyValueError::new_err("timeout must be a non-negative number"));
    }
    let timeout = crate::socket::seconds_to_duration(timeout).py_err(py)?;
    gil::detach(py, || resolve::getfqdn(name, timeout)).py_err(py)
}

type AddrInfoTuple<'py> = (i32, i32, i32, String, Bound<'py, PyTuple>);

/// getaddrinfo(host, port, family=0, type=0, proto=0, flags=0) with plain-int family and type
/// (the `netcore` package wraps them in the stdlib's enums, as `socket.getaddrinfo` does).
#[pyfunction]
#[pyo3(
    signature = (host, port, family = 0, r#type = 0, proto = 0, flags = 0),
    text_signature = "(host, port, family=0, type=0, proto=0, flags=0)"
)]
fn getaddrinfo<'py>(
    py: Python<'py>,
    host: &Bound<'py, PyAny>,
    port: &Bound<'py, PyAny>,
    family: i32,
    r#type: i32,
    proto: i32,
    flags: i32,
) -> PyResult<Vec<AddrInfoTuple<'py>>> {
    let host = if host.is_none() { None } else { Some(host_text("getaddrinfo", host)?) };
    let port: Option<String> = if port.is_none() {
        None
    } else if let Ok(n) = port.cast::<pyo3::types::PyInt>() {
        Some(n.str()?.to_string())
    } else if port.is_instance_of::<PyString>() {
        Some(port.extract::<String>()?)
    } else if port.is_instance_of::<PyBytes>() {
        Some(String::from_utf8_lossy(&port.extract::<Vec<u8>>()?).into_owned())
    } else {
        return Err(PyOSError::new_err("Int or String expected"));
    };
    let found =
        gil::detach(py, || resolve::getaddrinfo(host.as_deref(), port.as_deref(), family, r#type, proto, flags))
            .py_err(py)?;
    found
        .into_iter()
        .map(|ai| Ok((ai.family, ai.socktype, ai.protocol, ai.canonname, sockaddr_tuple(py, &ai.addr)?)))
        .collect()
}

/// getnameinfo(sockaddr, flags) -> (host, port)
#[pyfunction]
fn getnameinfo(py: Python<'_>, sockaddr: &Bound<'_, PyAny>, flags: i32) -> PyResult<(String, String)> {
    let tuple =
        sockaddr.cast::<PyTuple>().map_err(|_| PyTypeError::new_err("getnameinfo() argument 1 must be a tuple"))?;
    let illegal = || PyTypeError::new_err("getnameinfo(): illegal sockaddr argument");
    if !(2..=4).contains(&tuple.len()) {
        return Err(illegal());
    }
    let host: String = tuple.get_item(0)?.extract().map_err(|_| illegal())?;
    let port: i64 = tuple.get_item(1)?.extract().map_err(|_| illegal())?;
    let flow_range = || PyOverflowError::new_err("getnameinfo(): flowinfo must be 0-1048575.");
    let flowinfo = match tuple.len() {
        n if n >= 3 => Some(tuple.get_item(2)?.extract::<u32>().map_err(|_| flow_range())?),
        _ => None,
    };
    let scope_id = match tuple.len() {
        4 => Some(tuple.get_item(3)?.extract::<u32>().map_err(|_| illegal())?),
        _ => None,
    };
    let addr = resolve::NameInfoAddr { host, port, flowinfo, scope_id };
    gil::detach(py, || resolve::getnameinfo(&addr, flags)).py_err(py)
}

/// Adds the look-up functions and their constants to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(getservbyname, m)?)?;
    m.add_function(wrap_pyfunction!(getservbyport, m)?)?;
    m.add_function(wrap_pyfunction!(gethostbyname, m)?)?;
    m.add_function(wrap_pyfunction!(gethostbyname_ex, m)?)?;
    m.add_function(wrap_pyfunction!(gethostbyaddr, m)?)?;
    m.add_function(wrap_pyfunction!(gethostname, m)?)?;
    m.add_function(wrap_pyfunction!(getfqdn, m)?)?;
    m.add_function(wrap_pyfunction!(getaddrinfo, m)?)?;
    m.add_function(wrap_pyfunction!(getnameinfo, m)?)?;
    // The constants (AF_*, AI_*, NI_*, EAI_*, ...) are all added by `socket::constants`.
    Ok(())
}
