//! Where Python handlers run (`Lane`s of the engine's batches, `crate::server::batch`):
//!
//! - **On the engine worker that read the requests** (the default): the batch of a
//!   connection's requests that are already in its input is answered under one GIL hold
//!   (`gil::attach_from_worker`), with no thread hop. While a handler runs, that worker serves
//!   nobody else — as an asyncio loop while its callback runs — and the other workers go on.
//! - **On the server's own Python threads** for handlers registered with `blocking=True`
//!   (`netcore-python`, started with the first such handler): the batch goes there as one job
//!   and the connection waits without holding a worker, so a handler that sleeps or does I/O
//!   stalls no other client. Each thread takes the GIL once for every job queued at that
//!   moment.
//!
//! No thread waits for a lock or the runtime while holding the GIL: the engine takes the GIL
//! only around a batch, after its requests are cut and routed, and gives it back before any
//! wait.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use super::gil;
use crate::server::{Batch, Enter, Handler, Lane, Offload, Request, Response, Server};

/// What a handler calls: the Python callable and how it answers (`server.rs`).
pub(super) trait Call: Send + Sync {
    fn call(&self, py: Python<'_>, request: &Request<'_>) -> Response;
}

/// A Python callable as a user command, in its lane.
pub(super) struct PyHandler<C> {
    call: C,
    lane: Lane,
}

impl<C: Call> Handler for PyHandler<C> {
    /// Called inside the lane's GIL hold (taking the GIL again there is a counter increment);
    /// alone, it takes the GIL itself.
    fn handle(&self, request: &Request<'_>) -> Response {
        in_python(|| gil::attach_from_worker(|py| self.call.call(py, request))).flatten().unwrap_or_else(shutting_down)
    }

    fn lane(&self) -> Lane {
        self.lane.clone()
    }
}

fn shutting_down() -> Response {
    Response::Error("the Python interpreter is shutting down".into())
}

/// Set at interpreter exit (`stop_calling_python`): no handler is called any more.
static CLOSING: AtomicBool = AtomicBool::new(false);
/// Threads of netcore's inside a handler batch right now.
static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` (which calls handlers) counted in `IN_PYTHON`; `None` once exit has begun.
fn in_python<R>(f: impl FnOnce() -> R) -> Option<R> {
    // Count first, then look: `stop_calling_python` sets the flag first, then waits for the
    // count, so no thread can slip past both.
    IN_PYTHON.fetch_add(1, SeqCst);
    let result = if CLOSING.load(SeqCst) { None } else { Some(f()) };
    IN_PYTHON.fetch_sub(1, SeqCst);
    result
}

/// At interpreter exit, before the servers stop: handlers are no longer called (their
/// clients get `error: the Python interpreter is shutting down`). A thread of netcore's
/// still inside Python when finalization starts would be ended by CPython with
/// pthread_exit, which aborts the process: clients that keep pipelining to a server that
/// drains on stop would otherwise keep handlers running until then.
pub(super) fn stop_calling_python() {
    CLOSING.store(true, SeqCst);
}

/// Waits (without the GIL) up to `limit` for the handlers still running to return.
pub(super) fn wait_out_of_python(limit: Duration) {
    let deadline = Instant::now() + limit;
    while IN_PYTHON.load(SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The GIL around a batch on an engine worker: one lane for every Python handler of every
/// server, since the GIL is one.
struct HoldGil;

impl Enter for HoldGil {
    fn enter(&self, batch: &mut dyn FnMut()) {
        // None: the interpreter is ending; the engine then calls each `handle`, which answers
        // without Python.
        let _ = in_python(|| gil::attach_from_worker(|_py| batch()));
    }
}

fn engine_lane() -> Lane {
    static LANE: OnceLock<Lane> = OnceLock::new();
    LANE.get_or_init(|| Lane::Entered(Arc::new(HoldGil))).clone()
}

/// Where a server's Python handlers run; its threads start with the first blocking handler.
pub(super) struct Executor {
    threads: Mutex<Option<Lane>>,
    /// Makes a thread count as one of the server's own, so a handler's stop only asks.
    marker: Box<dyn Fn() -> Box<dyn FnOnce() + Send> + Send + Sync>,
}

/// Python handlers that may block at once without making the others wait.
const PYTHON_THREADS: usize = 4;

impl Executor {
    pub(super) fn new(server: &Arc<Server>) -> Arc<Executor> {
        let server = Arc::downgrade(server);
        let marker = Box::new(move || -> Box<dyn FnOnce() + Send> {
            match server.upgrade() {
                Some(s) => Box::new(s.thread_marker()),
                None => Box::new(|| {}),
            }
        });
        Arc::new(Executor { threads: Mutex::new(None), marker })
    }

    /// A handler for `call`: on the engine workers, or on this server's Python threads when it
    /// may block.
    pub(super) fn handler<C: Call + 'static>(&self, call: C, blocking: bool) -> PyResult<Arc<dyn Handler>> {
        let lane = if blocking { self.threads()? } else { engine_lane() };
        Ok(Arc::new(PyHandler { call, lane }))
    }

    fn threads(&self) -> PyResult<Lane> {
        // Only handler registrations take this lock, and never the engine.
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(lane) = &*threads {
            return Ok(lane.clone());
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..PYTHON_THREADS {
            let queue = queue.clone();
            let mark = (self.marker)();
            std::thread::Builder::new()
                .name("netcore-python".into())
                .spawn(move || {
                    mark();
                    run_jobs(&queue);
                })
                .map_err(|e| {
                    pyo3::exceptions::PyOSError::new_err(format!("cannot start the Python handler threads: {e}"))
                })?;
        }
        let lane = Lane::Offloaded(Arc::new(PythonThreads { jobs }));
        *threads = Some(lane.clone());
        Ok(lane)
    }
}

/// A batch for the Python threads, and where its answers go.
struct Job {
    batch: Batch,
    reply: tokio::sync::oneshot::Sender<Vec<Response>>,
}

/// The Python threads of one server. They end when the last handler using them is gone.
struct PythonThreads {
    jobs: mpsc::Sender<Job>,
}

impl Offload for PythonThreads {
    fn submit(&self, batch: Batch) -> Result<tokio::sync::oneshot::Receiver<Vec<Response>>, Batch> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.jobs.send(Job { batch, reply }).map_err(|e| e.0.batch)?;
        Ok(rx)
    }
}

fn run_jobs(queue: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        // Wait without the GIL; then, holding it, take every job already queued.
        let first = match queue.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let mut first = Some(first);
        in_python(|| {
            gil::attach_from_worker(|_py| {
                let mut next = first.take();
                while let Some(Job { batch, reply }) = next {
                    let _ = reply.send(batch.answer());
                    // try_lock: never wait for the queue (another thread may sit in recv) with the GIL.
                    next = match queue.try_lock() {
                        Ok(q) => q.try_recv().ok(),
                        Err(_) => None,
                    };
                }
            })
        });
        // The interpreter is ending: answer without calling into Python.
        if let Some(Job { batch, reply }) = first {
            let _ = reply.send(batch.refuse(shutting_down()));
        }
    }
}
