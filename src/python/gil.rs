//! Every blocking crossing between the GIL and netcore's code goes through here: `detach`
//! (release the GIL), `blocking` (release it, block, let Ctrl+C in: the socket face, the
//! clients, URL bodies) and `run_interruptible` (the same for code no signal can wake).
//!
//! Two hazards are handled once for all faces:
//! - Signals: CPython runs signal handlers only on the main thread, so only there does a
//!   blocking call check for them (`blocking`'s check); elsewhere it just blocks.
//! - Interpreter shutdown: a thread that comes back to Python while the interpreter finalizes
//!   is ended by CPython (before 3.14) with pthread_exit, whose forced unwind cannot cross
//!   PyO3's panic trap and aborts the process ("FATAL: exception not rethrown"). A thread
//!   that Python started parks instead (as CPython 3.14 does; the exiting process ends it); a
//!   thread netcore owns (server workers) does not call into Python at all.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use super::errors::to_pyerr;
use crate::error::Error;
use crate::socket::Interrupt;

/// `pthread_self()` of the thread Python runs signal handlers on.
static MAIN_THREAD: AtomicU64 = AtomicU64::new(0);

extern "C" fn after_fork_child() {
    // The thread that forked is the child's only, and so its main, thread.
    // SAFETY: pthread_self is async-signal-safe and always succeeds.
    MAIN_THREAD.store(unsafe { libc::pthread_self() } as u64, Relaxed);
}

/// Records the main thread and registers the exit hook; called once at import.
pub fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(_exit_hook, m)?)?;
    py.import("atexit")?.call_method1("register", (m.getattr("_exit_hook")?,))?;
    let main_ident: u64 = py.import("threading")?.call_method0("main_thread")?.getattr("ident")?.extract()?;
    MAIN_THREAD.store(main_ident, Relaxed);
    // SAFETY: registers a plain function with no captured state.
    unsafe { libc::pthread_atfork(None, None, Some(after_fork_child)) };
    Ok(())
}

/// Whether the calling thread is the one Python runs signal handlers on.
pub fn on_main_thread() -> bool {
    // SAFETY: pthread_self always succeeds.
    (unsafe { libc::pthread_self() }) as u64 == MAIN_THREAD.load(Relaxed)
}

/// Whether the interpreter is finalizing or already gone.
pub fn interpreter_ending() -> bool {
    type IsFinalizing = unsafe extern "C" fn() -> c_int;
    static CHECK: std::sync::OnceLock<Option<IsFinalizing>> = std::sync::OnceLock::new();
    let check = CHECK.get_or_init(|| {
        // Py_IsFinalizing is public from 3.13; _Py_IsFinalizing is exported by 3.7-3.12.
        for name in [c"Py_IsFinalizing", c"_Py_IsFinalizing"] {
            // SAFETY: dlsym on the running process; the symbol, when present, has this type.
            let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            if !sym.is_null() {
                // SAFETY: both functions take no arguments and return int.
                return Some(unsafe { std::mem::transmute::<*mut c_void, IsFinalizing>(sym) });
            }
        }
        None
    });
    // SAFETY: both calls only read the runtime's state and are safe without the GIL.
    unsafe { pyo3::ffi::Py_IsInitialized() == 0 || check.is_some_and(|f| f() != 0) }
}

/// Set by the `atexit` hook: from then on no thread comes back from netcore into Python.
static EXITING: AtomicBool = AtomicBool::new(false);
/// Threads between "decided to re-enter Python" and "holding the GIL again".
static REATTACHING: AtomicUsize = AtomicUsize::new(0);

/// The main thread is the one that finalizes; CPython never ends it, so it always goes on.
fn must_not_reenter() -> bool {
    !on_main_thread() && (EXITING.load(SeqCst) || interpreter_ending())
}

fn park_forever() -> ! {
    loop {
        // SAFETY: pause just sleeps until a signal; the loop never ends.
        unsafe { libc::pause() };
    }
}

/// Parks a Python-started thread that is about to re-enter a finalizing interpreter.
pub fn park_if_finalizing() {
    if must_not_reenter() {
        park_forever();
    }
}

/// Runs `f` with the GIL released (PyO3's `detach`), shutdown-safe: once the interpreter has
/// begun to exit, a thread whose call ends parks instead of re-entering Python.
pub fn detach<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    let result = py.detach(|| {
        let result = f();
        // Announce first, then look: `exit_hook` sets EXITING first, then waits for
        // announced threads, so no thread can slip past both checks.
        REATTACHING.fetch_add(1, SeqCst);
        if must_not_reenter() {
            REATTACHING.fetch_sub(1, SeqCst);
            park_forever();
        }
        result
    });
    REATTACHING.fetch_sub(1, SeqCst);
    result
}

/// Registered with `atexit` (which runs while every thread is still alive): stops threads
/// from re-entering Python, then lets the ones already on their way in take the GIL, so none
/// is caught waiting for it when finalization starts.
#[pyfunction]
pub fn _exit_hook(py: Python<'_>) {
    EXITING.store(true, SeqCst);
    // A download still running on a thread of ours ends with the process: its temporary
    // file must not outlive it.
    crate::client::download::remove_pending();
    if REATTACHING.load(SeqCst) == 0 {
        return;
    }
    py.detach(|| {
        let deadline = Instant::now() + Duration::from_millis(500);
        while REATTACHING.load(SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// From inside `detach` on a Python thread: runs pending signal handlers (main thread only)
/// and returns what they raised, such as KeyboardInterrupt.
pub fn check_signals() -> PyResult<()> {
    if !on_main_thread() {
        return Ok(());
    }
    park_if_finalizing();
    Python::attach(|py| py.check_signals())
}

/// For threads netcore owns: runs `f` with the GIL, or returns None when the interpreter is
/// ending (such a thread must not call into Python at all then). The thread keeps its Python
/// thread state between calls (`KeptThreadState`).
pub fn attach_from_worker<R>(f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    if interpreter_ending() {
        return None;
    }
    Some(Python::attach(|py| {
        KEPT.with(|kept| kept.keep());
        f(py)
    }))
}

/// Without it, every `attach` from a thread Python did not start makes a thread state and
/// frees it again on release: a `gettid`, an `mmap` and a `munmap` (its frame stack) per
/// batch of handler calls (strace). One extra `PyGILState_Ensure` keeps it for the thread's
/// life; the thread's exit releases it while the interpreter is whole, else leaves it to
/// the interpreter's own teardown.
struct KeptThreadState(std::cell::Cell<bool>);

thread_local! {
    static KEPT: KeptThreadState = const { KeptThreadState(std::cell::Cell::new(false)) };
}

impl KeptThreadState {
    /// With the GIL held.
    fn keep(&self) {
        if !self.0.replace(true) {
            // SAFETY: the GIL is held; this raises the thread state's use count by one.
            unsafe { pyo3::ffi::PyGILState_Ensure() };
        }
    }
}

impl Drop for KeptThreadState {
    fn drop(&mut self) {
        if !self.0.get() || EXITING.load(SeqCst) || interpreter_ending() {
            return;
        }
        // SAFETY: the thread state kept above is this thread's. Ensure takes the GIL with the
        // count at 2; a release that claims the GIL was held brings it to 1 and keeps the
        // GIL; the last release deletes the thread state and drops the GIL.
        unsafe {
            pyo3::ffi::PyGILState_Ensure();
            pyo3::ffi::PyGILState_Release(pyo3::ffi::PyGILState_STATE::PyGILState_LOCKED);
            pyo3::ffi::PyGILState_Release(pyo3::ffi::PyGILState_STATE::PyGILState_UNLOCKED);
        }
    }
}

/// The one "block with the GIL released, let Ctrl+C in" helper: runs `f` detached, handing it
/// the core's one hook type, an [`Interrupt`], that on the main thread runs Python's signal
/// handlers (call it between waits or after EINTR; off the main thread, where no handler can
/// run, it is `Interrupt::none()`). Once a handler has
/// raised (KeyboardInterrupt), it and every later check fail, so no loop in the core carries on
/// past the exception, and that exception is what the call raises. A signal that arrived just
/// before the call is raised before it starts. Other errors become the stdlib's exceptions.
pub fn blocking<T: Send>(
    py: Python<'_>,
    f: impl for<'c> FnOnce(Interrupt<'c>) -> crate::Result<T> + Send,
) -> PyResult<T> {
    if !on_main_thread() {
        return detach(py, || f(Interrupt::none())).map_err(|e| to_pyerr(py, e));
    }
    py.check_signals()?;
    let mut pending: Option<PyErr> = None;
    let result = {
        let pending = &mut pending;
        detach(py, move || {
            let mut check = move || -> crate::Result<()> {
                if pending.is_some() {
                    return Err(Error::Interrupted);
                }
                check_signals().map_err(|e| {
                    *pending = Some(e);
                    Error::Interrupted
                })
            };
            f(Interrupt::new(&mut check))
        })
    };
    match pending {
        Some(e) => Err(e),
        None => result.map_err(|e| to_pyerr(py, e)),
    }
}

/// `blocking` for code that blocks where no signal can wake it (a library's socket read). On
/// the main thread the job runs on a helper thread while this one waits in `slice`s and runs
/// the check between them: an exception from a handler (KeyboardInterrupt) is raised at once,
/// and the helper finishes on its own (bounded by the job's own timeouts) with its result
/// dropped. Elsewhere it runs inline.
pub fn run_interruptible<T: Send + 'static>(
    py: Python<'_>,
    slice: Duration,
    job: impl FnOnce() -> T + Send + 'static,
) -> PyResult<T> {
    if !on_main_thread() {
        return Ok(detach(py, job));
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("netcore-io".into())
        .spawn(move || {
            let _ = tx.send(job());
        })
        .map_err(|e| pyo3::exceptions::PyOSError::new_err(format!("cannot start an I/O thread: {e}")))?;
    blocking(py, move |mut intr| loop {
        match rx.recv_timeout(slice) {
            Ok(value) => return Ok(value),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => intr.check()?,
            // The job panicked (its thread's panic message is already on stderr).
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::Failed("netcore: the I/O thread failed".into()))
            }
        }
    })
}
