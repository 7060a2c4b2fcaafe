//! The buffer protocol: bytes-like arguments to send from or receive into, and fresh bytes
//! objects received into directly.

use std::ffi::{c_char, c_int, c_void};

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::convert::type_name;

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
pub(super) struct Buffer(Box<RawBuffer>);

impl Buffer {
    pub(super) fn get(obj: &Bound<'_, PyAny>, writable: bool) -> PyResult<Buffer> {
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

    pub(super) fn len(&self) -> usize {
        self.0.len.max(0) as usize
    }

    pub(super) fn as_slice(&self) -> &[u8] {
        if self.0.buf.is_null() || self.len() == 0 {
            return &[];
        }
        // SAFETY: a simple (contiguous) buffer of `len` bytes, kept alive by the export.
        unsafe { std::slice::from_raw_parts(self.0.buf as *const u8, self.len()) }
    }

    /// The writable buffer as memory a receive call fills.
    pub(super) fn as_uninit_slice(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
        let bytes = self.as_mut_slice();
        // SAFETY: initialised bytes are valid MaybeUninit bytes; the kernel writes only bytes.
        unsafe { &mut *(bytes as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) }
    }

    pub(super) fn as_mut_slice(&mut self) -> &mut [u8] {
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
pub(super) enum Data<'py> {
    Bytes(Bound<'py, PyBytes>),
    Buffer(Buffer),
}

impl<'py> Data<'py> {
    pub(super) fn get(obj: &Bound<'py, PyAny>) -> PyResult<Data<'py>> {
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(Data::Bytes(b.clone()));
        }
        Buffer::get(obj, false).map(Data::Buffer)
    }

    pub(super) fn as_slice(&self) -> &[u8] {
        match self {
            Data::Bytes(b) => b.as_bytes(),
            Data::Buffer(b) => b.as_slice(),
        }
    }
}

pub(super) fn writable_buffer(func: &str, obj: &Bound<'_, PyAny>) -> PyResult<Buffer> {
    Buffer::get(obj, true).map_err(|_| {
        let tp = type_name(obj);
        PyTypeError::new_err(format!("{func}() argument 1 must be read-write bytes-like object, not {tp}"))
    })
}

/// A new bytes object received into directly, as CPython's recv does: allocated at the
/// requested size without being cleared, filled by the kernel, then shrunk to what arrived.
/// (`_PyBytes_Resize` is outside the limited API but exported, with this signature, by every
/// CPython 3.)
pub(super) struct FreshBytes<'py> {
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
    pub(super) fn new(py: Python<'py>, len: isize) -> PyResult<FreshBytes<'py>> {
        // SAFETY: a NULL source asks for an uninitialised object of `len` bytes.
        let obj = unsafe { ffi::PyBytes_FromStringAndSize(std::ptr::null(), len) };
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        Ok(FreshBytes { py, obj, len: len as usize })
    }

    /// The object's storage. Nothing else can see the object until `finish`.
    pub(super) fn buffer(&mut self) -> &mut [std::mem::MaybeUninit<u8>] {
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
    pub(super) fn finish(mut self, n: usize) -> PyResult<Bound<'py, PyBytes>> {
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
