//! `sendmsg`, `recvmsg`, `recvmsg_into`, `send_fds` and `recv_fds`: Python's arguments
//! (iterables of buffers, `(level, type, data)` items) to the core's and back, with CPython's
//! errors. Data is sent from and received into the callers' buffers directly.

use std::io::IoSlice;
use std::mem::MaybeUninit;

use pyo3::exceptions::{PyOverflowError, PyRuntimeWarning, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PySequence};

use super::blocking;
use super::buffer::{Buffer, Data, FreshBytes};
use super::convert::{address_arg, sockname_obj, type_name};
use crate::socket::msg::{ControlMessage, ControlMessageRef, Received};
use crate::socket::{Address, Socket};

/// The items of an iterable argument, with CPython's "must be an iterable" TypeError.
fn items<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let iter = obj.try_iter().map_err(|_| PyTypeError::new_err(format!("{what} must be an iterable")))?;
    iter.collect()
}

/// An `i` format argument: an int that fits a C int.
pub(super) fn c_int_arg(obj: &Bound<'_, PyAny>) -> PyResult<i32> {
    let v: i64 = obj.extract()?;
    i32::try_from(v).map_err(|_| {
        PyOverflowError::new_err(if v < 0 {
            "signed integer is less than minimum"
        } else {
            "signed integer is greater than maximum"
        })
    })
}

/// One `(level, type, data)` item, as CPython's `(iiy*)` format takes it.
fn ancillary_item<'py>(obj: &Bound<'py, PyAny>) -> PyResult<(i32, i32, Data<'py>)> {
    const WHAT: &str = "[sendmsg() ancillary data items]() argument";
    let seq = obj
        .cast::<PySequence>()
        .map_err(|_| PyTypeError::new_err(format!("{WHAT} must be 3-item sequence, not {}", type_name(obj))))?;
    let len = seq.len()?;
    if len != 3 {
        return Err(PyTypeError::new_err(format!("{WHAT} must be sequence of length 3, not {len}")));
    }
    Ok((c_int_arg(&seq.get_item(0)?)?, c_int_arg(&seq.get_item(1)?)?, Data::get(&seq.get_item(2)?)?))
}

/// The destination and the data of `sendmsg` and `send_fds`, checked in the stdlib's order:
/// the address (None or absent: the connected peer), then each buffer.
fn address_and_buffers<'py>(
    sock: &Socket,
    address: Option<&Bound<'py, PyAny>>,
    buffers: &Bound<'py, PyAny>,
) -> PyResult<(Option<Address>, Vec<Data<'py>>)> {
    let address = match address {
        Some(a) if !a.is_none() => Some(address_arg(sock.family(), a, "sendmsg")?),
        _ => None,
    };
    let data = items(buffers, "sendmsg() argument 1")?.iter().map(Data::get).collect::<PyResult<_>>()?;
    Ok((address, data))
}

pub(super) fn sendmsg(
    sock: &Socket,
    py: Python<'_>,
    buffers: &Bound<'_, PyAny>,
    ancdata: Option<&Bound<'_, PyAny>>,
    flags: i32,
    address: Option<&Bound<'_, PyAny>>,
) -> PyResult<usize> {
    let (address, data) = address_and_buffers(sock, address, buffers)?;
    let anc = match ancdata {
        Some(a) => items(a, "sendmsg() argument 2")?.iter().map(ancillary_item).collect::<PyResult<Vec<_>>>()?,
        None => Vec::new(),
    };
    let slices: Vec<IoSlice<'_>> = data.iter().map(|d| IoSlice::new(d.as_slice())).collect();
    let cmsgs: Vec<ControlMessageRef<'_>> = anc
        .iter()
        .map(|(level, kind, d)| ControlMessageRef { level: *level, kind: *kind, data: d.as_slice() })
        .collect();
    blocking(py, |intr| sock.sendmsg_with(&slices, &cmsgs, flags, address.as_ref(), intr))
}

fn ancbufsize_arg(ancbufsize: isize) -> PyResult<usize> {
    usize::try_from(ancbufsize).map_err(|_| PyValueError::new_err("invalid ancillary data buffer length"))
}

/// The `(ancdata, msg_flags, address)` part of a recvmsg result; warns as CPython does about
/// an item cut short (and, if the warning is an error, closes descriptors that came).
fn received_parts<'py>(py: Python<'py>, got: Received) -> PyResult<(Bound<'py, PyList>, i32, Py<PyAny>)> {
    if got.truncated_item {
        let warned = PyErr::warn(
            py,
            &py.get_type::<PyRuntimeWarning>(),
            c"received malformed or improperly-truncated ancillary data",
            1,
        );
        if let Err(e) = warned {
            crate::socket::msg::close_received_fds(&got.ancillary);
            return Err(e);
        }
    }
    let list = PyList::empty(py);
    for ControlMessage { level, kind, data } in &got.ancillary {
        list.append((*level, *kind, PyBytes::new(py, data)))?;
    }
    Ok((list, got.flags, sockname_obj(py, got.address)?))
}

/// `(data or count, ancdata, msg_flags, address)`.
pub(super) type RecvmsgResult<'py, D> = (D, Bound<'py, PyList>, i32, Py<PyAny>);

/// `(data, fds, msg_flags, address)`.
pub(super) type RecvFdsResult<'py> = (Bound<'py, PyBytes>, Vec<i32>, i32, Py<PyAny>);

pub(super) fn recvmsg<'py>(
    sock: &Socket,
    py: Python<'py>,
    bufsize: isize,
    ancbufsize: isize,
    flags: i32,
) -> PyResult<RecvmsgResult<'py, Bound<'py, PyBytes>>> {
    if bufsize < 0 {
        return Err(PyValueError::new_err("negative buffer size in recvmsg()"));
    }
    let ancbufsize = ancbufsize_arg(ancbufsize)?;
    let mut out = FreshBytes::new(py, bufsize)?;
    let buf = out.buffer();
    let got = blocking(py, |intr| sock.recvmsg_uninit_with(&mut [buf], ancbufsize, flags, intr))?;
    let len = got.len;
    let (anc, flags, addr) = received_parts(py, got)?;
    Ok((out.finish(len)?, anc, flags, addr))
}

pub(super) fn recvmsg_into<'py>(
    sock: &Socket,
    py: Python<'py>,
    buffers: &Bound<'py, PyAny>,
    ancbufsize: isize,
    flags: i32,
) -> PyResult<RecvmsgResult<'py, usize>> {
    let ancbufsize = ancbufsize_arg(ancbufsize)?;
    let mut held: Vec<Buffer> = items(buffers, "recvmsg_into() argument 1")?
        .iter()
        .map(|b| {
            Buffer::get(b, true).map_err(|_| {
                PyTypeError::new_err(
                    "recvmsg_into() argument 1 must be an iterable of single-segment read-write buffers",
                )
            })
        })
        .collect::<PyResult<_>>()?;
    let mut slices: Vec<&mut [MaybeUninit<u8>]> = held.iter_mut().map(|b| b.as_uninit_slice()).collect();
    let got = blocking(py, |intr| sock.recvmsg_uninit_with(&mut slices, ancbufsize, flags, intr))?;
    let len = got.len;
    let (anc, flags, addr) = received_parts(py, got)?;
    Ok((len, anc, flags, addr))
}

/// `send_fds(sock, buffers, fds[, flags[, address]])`.
pub(super) fn send_fds(
    sock: &Socket,
    py: Python<'_>,
    buffers: &Bound<'_, PyAny>,
    fds: &Bound<'_, PyAny>,
    flags: i32,
    address: Option<&Bound<'_, PyAny>>,
) -> PyResult<usize> {
    let (address, data) = address_and_buffers(sock, address, buffers)?;
    // array.array("i", fds) in the stdlib: each must be an int that fits a C int.
    let fds: Vec<i32> = items(fds, "fds")?.iter().map(c_int_arg).collect::<PyResult<_>>()?;
    let slices: Vec<IoSlice<'_>> = data.iter().map(|d| IoSlice::new(d.as_slice())).collect();
    blocking(py, |intr| sock.send_fds_with(&slices, &fds, flags, address.as_ref(), intr))
}

/// `recv_fds(sock, bufsize, maxfds[, flags])` -> (data, fds, msg_flags, address).
pub(super) fn recv_fds<'py>(
    sock: &Socket,
    py: Python<'py>,
    bufsize: isize,
    maxfds: isize,
    flags: i32,
) -> PyResult<RecvFdsResult<'py>> {
    if bufsize < 0 {
        return Err(PyValueError::new_err("negative buffer size in recvmsg()"));
    }
    let maxfds = usize::try_from(maxfds).map_err(|_| PyOverflowError::new_err("CMSG_LEN() argument out of range"))?;
    let mut out = FreshBytes::new(py, bufsize)?;
    let buf = out.buffer();
    let (n, fds, msg_flags, from) = blocking(py, |intr| sock.recv_fds_uninit_with(buf, maxfds, flags, intr))?;
    Ok((out.finish(n)?, fds, msg_flags, sockname_obj(py, from)?))
}
