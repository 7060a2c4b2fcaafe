//! Python face of `crate::server`: `_netcore.ServerCore` and `_netcore.Request`. The package's
//! `netcore.Server`, `CommandServer` and `UDPServer` are thin wrappers (python/netcore/_server.py).
//!
//! Handlers are Python callables run on the server's own Python threads with the GIL taken
//! (`Python::attach`, once per batch of queued requests); everything that waits on the engine
//! (stop, wait, serve_forever) releases the GIL, so handlers keep running meanwhile and a
//! handler may stop its own server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use super::address::{address_list, Address};
use super::deploy::DeployOptions;
use super::errors::IntoPyResult;
use super::gil;
use super::handlers::{Call, Executor};
use crate::server::{
    idle_timeout_secs, listen_addr, split_command, BoundAddr, Handler, Limits, Listen, Reply, Request, Response,
    Server, ServerConfig, Service,
};

/// One request as a handler sees it: bytes, never decoded.
#[pyclass(module = "netcore._netcore", name = "Request", frozen)]
pub struct PyRequest {
    line: Vec<u8>,
    argv: Vec<Vec<u8>>,
    peer: String,
    transport: &'static str,
    peer_cert: Option<String>,
}

#[pymethods]
impl PyRequest {
    /// The whole request without its line ending.
    #[getter]
    fn line<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.line)
    }
    /// The first word.
    #[getter]
    fn command<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, split_command(&self.line).0)
    }
    /// Everything after the first word, without surrounding whitespace.
    #[getter]
    fn args<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, split_command(&self.line).1)
    }
    /// The command name and its arguments as a list of bytes: RESP framing's array elements
    /// (binary-safe), else the words of the line.
    #[getter]
    fn argv<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyList>> {
        pyo3::types::PyList::new(py, self.argv.iter().map(|a| PyBytes::new(py, a)))
    }
    /// The client: "IP:PORT", or "unix".
    #[getter]
    fn peer(&self) -> &str {
        &self.peer
    }
    /// "tcp", "tls", "udp" or "unix".
    #[getter]
    fn transport(&self) -> &'static str {
        self.transport
    }
    /// The subject of the client's TLS certificate ("CN=alice, O=Example"), or None.
    #[getter]
    fn peer_cert(&self) -> Option<&str> {
        self.peer_cert.as_deref()
    }
    fn __repr__(&self) -> String {
        format!("<netcore.Request {} from {} ({})>", bytes_repr(&self.line), self.peer, self.transport)
    }
}

fn bytes_repr(b: &[u8]) -> String {
    let mut s = String::from("b'");
    for &c in b.iter().take(80) {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('\'');
    if b.len() > 80 {
        s.push_str("...");
    }
    s
}

/// A Python callable and the name it was registered under (for the log).
struct PyCallable {
    name: String,
    func: Py<PyAny>,
}

impl PyCallable {
    fn call_with(&self, py: Python<'_>, req: PyRequest) -> Response {
        let result = Py::new(py, req).and_then(|r| self.func.call1(py, (r,)));
        match result.and_then(|v| to_response(v.bind(py))) {
            Ok(r) => r,
            // A raised ReplyError is the handler's answer, not a failure.
            Err(e) if e.value(py).is_instance(reply_class(py, "ReplyError").as_any()).unwrap_or(false) => {
                Response::Value(Reply::Error(e.value(py).str().map(|s| s.to_string()).unwrap_or_default()))
            }
            Err(e) => {
                log_failure(py, &self.name, e);
                Response::Error("internal error in handler".into())
            }
        }
    }
}

impl Call for PyCallable {
    fn call(&self, py: Python<'_>, request: &Request<'_>) -> Response {
        self.call_with(py, py_request(request))
    }
}

fn py_request(request: &Request<'_>) -> PyRequest {
    PyRequest {
        line: request.line.to_vec(),
        argv: request.argv.iter().map(|a| a.to_vec()).collect(),
        peer: request.peer.to_string(),
        transport: request.transport.name(),
        peer_cert: request.peer_cert.map(str::to_string),
    }
}

/// Servers started from Python, so that interpreter exit can stop them first.
static LIVE_SERVERS: std::sync::Mutex<Vec<std::sync::Weak<Server>>> = std::sync::Mutex::new(Vec::new());

fn remember_live(server: &Arc<Server>) {
    let mut live = LIVE_SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(server));
}

/// Registered with `atexit`: stops every server still running, while Python is whole, so no
/// handler thread is inside Python when finalization starts (CPython would kill it there with
/// pthread_exit, which aborts a process whose stack holds Rust frames).
#[pyfunction]
fn _stop_all_servers(py: Python<'_>) {
    let servers: Vec<Arc<Server>> = {
        let mut live = LIVE_SERVERS.lock().unwrap_or_else(|e| e.into_inner());
        live.drain(..).filter_map(|w| w.upgrade()).collect()
    };
    // From here on handlers answer without Python; the ones still running are waited for.
    super::handlers::stop_calling_python();
    gil::detach(py, move || {
        for server in servers {
            let _ = server.stop(Duration::from_secs(2));
        }
        super::handlers::wait_out_of_python(Duration::from_secs(2));
    });
}

fn to_response(v: &Bound<'_, PyAny>) -> PyResult<Response> {
    // The common cases first, without building a `Reply`.
    if v.is_none() {
        Ok(Response::NoReply)
    } else if let Ok(s) = v.cast_exact::<PyString>() {
        Ok(Response::Reply(s.to_cow()?.as_bytes().to_vec()))
    } else if let Ok(b) = v.cast::<PyBytes>() {
        Ok(Response::Reply(b.as_bytes().to_vec()))
    } else {
        Ok(Response::Value(to_reply(v, 0)?))
    }
}

/// Nesting deeper than this (or a list that contains itself) is refused.
const MAX_REPLY_DEPTH: usize = 64;

/// A handler's return value as a typed reply (`netcore.SimpleString`, `netcore.ReplyError`,
/// str/bytes, int, float, None, list/tuple, dict).
fn to_reply(v: &Bound<'_, PyAny>, depth: usize) -> PyResult<Reply> {
    let py = v.py();
    if depth > MAX_REPLY_DEPTH {
        return Err(PyValueError::new_err(format!("a reply nests deeper than {MAX_REPLY_DEPTH} levels")));
    }
    Ok(if v.is_none() {
        Reply::Null
    } else if let Ok(s) = v.cast::<PyString>() {
        let text = s.to_cow()?.into_owned();
        if v.is_instance(reply_class(py, "SimpleString").as_any())? {
            Reply::Simple(text)
        } else {
            Reply::Bulk(text.into_bytes())
        }
    } else if let Ok(b) = v.cast::<PyBytes>() {
        Reply::Bulk(b.as_bytes().to_vec())
    } else if v.is_instance_of::<pyo3::types::PyByteArray>() {
        Reply::Bulk(v.extract::<Vec<u8>>()?)
    } else if v.is_instance_of::<pyo3::types::PyBool>() {
        Reply::Integer(i64::from(v.extract::<bool>()?))
    } else if v.is_instance_of::<pyo3::types::PyInt>() {
        Reply::Integer(v.extract::<i64>()?)
    } else if v.is_instance_of::<pyo3::types::PyFloat>() {
        Reply::Double(v.extract::<f64>()?)
    } else if v.is_instance_of::<pyo3::types::PyList>() || v.is_instance_of::<pyo3::types::PyTuple>() {
        Reply::Array(v.try_iter()?.map(|item| to_reply(&item?, depth + 1)).collect::<PyResult<_>>()?)
    } else if let Ok(d) = v.cast::<PyDict>() {
        Reply::Map(
            d.iter()
                .map(|(k, val)| Ok((to_reply(&k, depth + 1)?, to_reply(&val, depth + 1)?)))
                .collect::<PyResult<_>>()?,
        )
    } else if v.is_instance(reply_class(py, "ReplyError").as_any())? {
        Reply::Error(v.str()?.to_string())
    } else {
        return Err(PyTypeError::new_err(format!(
            "a handler must return str, bytes, int, float, None, list, tuple, dict or netcore.ReplyError, not {}",
            v.get_type().name()?
        )));
    })
}

/// A typed reply as a Python value (the client side of `to_reply`): bytes, SimpleString, int,
/// float, None, list, dict, str (verbatim), ReplyError (an error inside an array).
pub(crate) fn reply_to_py(py: Python<'_>, reply: &Reply) -> PyResult<Py<PyAny>> {
    Ok(match reply {
        Reply::Bulk(b) => PyBytes::new(py, b).into_any().unbind(),
        Reply::Simple(s) => reply_class(py, "SimpleString").call1((s.as_str(),))?.unbind(),
        Reply::Verbatim(s) => PyString::new(py, s).into_any().unbind(),
        Reply::Integer(n) => n.into_pyobject(py)?.into_any().unbind(),
        Reply::Double(d) => d.into_pyobject(py)?.into_any().unbind(),
        Reply::Null => py.None(),
        Reply::Error(text) => reply_error(py, text)?.into_any().unbind(),
        Reply::Array(items) => {
            let items = items.iter().map(|i| reply_to_py(py, i)).collect::<PyResult<Vec<_>>>()?;
            pyo3::types::PyList::new(py, items)?.into_any().unbind()
        }
        Reply::Map(pairs) => {
            let d = PyDict::new(py);
            for (k, v) in pairs {
                d.set_item(reply_to_py(py, k)?, reply_to_py(py, v)?)?;
            }
            d.into_any().unbind()
        }
    })
}

/// A `netcore.ReplyError` instance for an error reply's text.
pub(crate) fn reply_error<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    reply_class(py, "ReplyError").call1((text,))
}

/// `netcore.ReplyError` or `netcore.SimpleString` (python/netcore/_reply.py).
fn reply_class<'py>(py: Python<'py>, name: &str) -> Bound<'py, PyAny> {
    static MODULE: pyo3::sync::PyOnceLock<Py<PyModule>> = pyo3::sync::PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || py.import("netcore._reply").map(Bound::unbind));
    match module.and_then(|m| m.bind(py).getattr(name)) {
        Ok(class) => class,
        // Without the package (the bare extension): a class nothing is an instance of.
        Err(_) => py.get_type::<pyo3::types::PyNone>().into_any(),
    }
}

/// The exception goes to `logging.getLogger("netcore.server")` with its traceback; the client
/// only sees `error: internal error in handler`.
fn log_failure(py: Python<'_>, name: &str, err: PyErr) {
    let logged = (|| -> PyResult<()> {
        let logger = py.import("logging")?.call_method1("getLogger", ("netcore.server",))?;
        let exc_info = PyTuple::new(
            py,
            [
                err.get_type(py).into_any(),
                err.value(py).clone().into_any(),
                err.traceback(py).map_or_else(|| py.None().into_bound(py), |t| t.into_any()),
            ],
        )?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("exc_info", exc_info)?;
        logger.call_method("error", ("netcore: handler %r raised an exception", name), Some(&kwargs))?;
        Ok(())
    })();
    if logged.is_err() {
        err.print(py);
    }
}

fn handler(name: &str, func: Bound<'_, PyAny>, executor: &Executor, blocking: bool) -> PyResult<Arc<dyn Handler>> {
    if !func.is_callable() {
        return Err(PyTypeError::new_err(format!("handler for {name:?} is not callable")));
    }
    executor.handler(PyCallable { name: name.to_string(), func: func.unbind() }, blocking)
}

/// The listen address `addr` gives (the core's rule: `listen_addr`), or a Unix path.
fn listener(py: Python<'_>, addr: Address, udp: bool) -> PyResult<Listen> {
    Ok(match addr {
        Address::Inet { host, port } => {
            let at = listen_addr(&host, port).py_err(py)?;
            if udp {
                Listen::Udp(at)
            } else {
                Listen::Tcp(at)
            }
        }
        Address::Unix(path) if !udp => Listen::Unix(path),
        Address::Unix(_) => return Err(PyTypeError::new_err("ServerCore(): a UDP address must be (host, port)")),
    })
}

fn address_obj(py: Python<'_>, a: &BoundAddr) -> PyResult<Py<PyAny>> {
    Ok(match a {
        BoundAddr::Tcp(SocketAddr::V4(v4)) | BoundAddr::Udp(SocketAddr::V4(v4)) => {
            (v4.ip().to_string(), v4.port()).into_pyobject(py)?.into_any().unbind()
        }
        BoundAddr::Tcp(SocketAddr::V6(v6)) | BoundAddr::Udp(SocketAddr::V6(v6)) => {
            (v6.ip().to_string(), v6.port(), v6.flowinfo(), v6.scope_id()).into_pyobject(py)?.into_any().unbind()
        }
        BoundAddr::Unix(p) => p.to_string_lossy().into_pyobject(py)?.into_any().unbind(),
    })
}

fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(PyValueError::new_err(format!("{name} must be a non-negative number of seconds")));
    }
    // Only the error path needs the GIL token, which the caller holds.
    crate::socket::seconds_to_duration(value).map_err(|e| Python::attach(|py| super::errors::to_pyerr(py, e)))
}

/// The engine, serving in the background from construction until `stop`.
#[pyclass(module = "netcore._netcore", name = "ServerCore", frozen)]
pub struct PyServerCore {
    server: Option<Arc<Server>>,
    executor: Arc<Executor>,
}

impl PyServerCore {
    fn server(&self) -> PyResult<&Arc<Server>> {
        self.server.as_ref().ok_or_else(|| pyo3::exceptions::PyOSError::new_err("the server is closed"))
    }
}

impl Drop for PyServerCore {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            // Stopping waits for handlers, which need the GIL: never wait while holding it.
            Python::attach(|py| gil::detach(py, move || drop(server)));
        }
    }
}

#[pymethods]
impl PyServerCore {
    /// Every option left None is the core's default (`Server.DEFAULTS` in Python); each given one is one
    /// conversion into the core's config, whose rules check it when the server starts.
    #[new]
    #[pyo3(signature = (service = None, *, tcp = None, udp = None, unix = None, framing = None, root = None,
                        banner = None, token = None, max_connections = None, max_line = None, idle_timeout = None,
                        max_output = None, backlog = None, workers = None, busy_poll_us = None, reuse_port = None, proxy_protocol = None,
                        handshake_timeout = None, metrics = None, fds = None, systemd = None,
                        log_connections = None, tls_cert = None, tls_key = None, tls_client_ca = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        service: Option<&str>,
        tcp: Option<&Bound<'_, PyAny>>,
        udp: Option<&Bound<'_, PyAny>>,
        unix: Option<&Bound<'_, PyAny>>,
        framing: Option<&str>,
        root: Option<PathBuf>,
        banner: Option<&Bound<'_, PyAny>>,
        token: Option<String>,
        max_connections: Option<usize>,
        max_line: Option<usize>,
        idle_timeout: Option<f64>,
        max_output: Option<usize>,
        backlog: Option<usize>,
        workers: Option<usize>,
        busy_poll_us: Option<u64>,
        reuse_port: Option<bool>,
        proxy_protocol: Option<&Bound<'_, PyAny>>,
        handshake_timeout: Option<f64>,
        metrics: Option<&Bound<'_, PyAny>>,
        fds: Option<Vec<i32>>,
        systemd: Option<bool>,
        log_connections: Option<bool>,
        tls_cert: Option<PathBuf>,
        tls_key: Option<PathBuf>,
        tls_client_ca: Option<PathBuf>,
    ) -> PyResult<Self> {
        let banner: Option<Vec<u8>> = match banner {
            None => None,
            Some(b) if b.is_instance_of::<PyString>() => Some(b.extract::<String>()?.into_bytes()),
            Some(b) => Some(b.extract::<Vec<u8>>().map_err(|_| PyTypeError::new_err("banner must be str or bytes"))?),
        };
        let service = Service::from_name(service.unwrap_or(Service::default().name()), banner.as_deref()).py_err(py)?;
        let mut config = ServerConfig::new(service);
        if let Some(framing) = framing {
            config.framing = framing.parse().py_err(py)?;
        }
        for addr in address_list(tcp, "ServerCore")? {
            config.listen.push(listener(py, addr, false)?);
        }
        for addr in address_list(udp, "ServerCore")? {
            config.listen.push(listener(py, addr, true)?);
        }
        for addr in address_list(unix, "ServerCore")? {
            match addr {
                Address::Unix(path) => config.listen.push(Listen::Unix(path)),
                Address::Inet { .. } => return Err(PyTypeError::new_err("ServerCore(): unix= takes socket paths")),
            }
        }
        config.root = root.or(config.root);
        let limits = &mut config.limits;
        limits.max_connections = max_connections.unwrap_or(limits.max_connections);
        limits.max_line = max_line.unwrap_or(limits.max_line);
        if let Some(seconds) = idle_timeout {
            limits.idle_timeout = idle_timeout_secs(seconds).py_err(py)?;
        }
        limits.max_output = max_output.unwrap_or(limits.max_output);
        limits.backlog = backlog.unwrap_or(limits.backlog);
        config.token = token.map(String::into_bytes).or(config.token);
        config.workers = workers.or(config.workers);
        config.busy_poll = busy_poll_us.map_or(config.busy_poll, Duration::from_micros);
        config.tls = crate::tls::ServerTls::from_options(tls_cert, tls_key, tls_client_ca).py_err(py)?;
        DeployOptions { reuse_port, proxy_protocol, handshake_timeout, metrics, fds, systemd, log_connections }
            .apply(py, &mut config)?;
        let server = Arc::new(gil::detach(py, || Server::start(config)).py_err(py)?);
        let executor = Executor::new(&server);
        remember_live(&server);
        Ok(PyServerCore { server: Some(server), executor })
    }

    /// Adds or replaces the command `name`: `handler(request)` returns str, bytes or None.
    /// `blocking`: it may block (sleep, I/O), so it runs on the server's Python threads
    /// rather than on the engine worker that read the request (`handlers.rs`).
    #[pyo3(signature = (name, handler, blocking = false))]
    fn add_command(&self, py: Python<'_>, name: &str, handler: Bound<'_, PyAny>, blocking: bool) -> PyResult<()> {
        let h = self::handler(name, handler, &self.executor, blocking)?;
        self.server()?.add_command_arc(name.as_bytes(), h).py_err(py)
    }

    /// Sets (None: removes) the handler for requests no command matches.
    #[pyo3(signature = (handler, blocking = false))]
    fn set_default_handler(&self, py: Python<'_>, handler: Option<Bound<'_, PyAny>>, blocking: bool) -> PyResult<()> {
        let h = handler.map(|f| self::handler("(default)", f, &self.executor, blocking)).transpose()?;
        self.server()?.set_default_arc(h).py_err(py)
    }

    /// [(kind, address)]: kind "tcp", "udp" or "unix"; address (host, port), IPv6 4-tuples, or
    /// a path. Port 0 shows the real port.
    fn addresses(&self, py: Python<'_>) -> PyResult<Vec<(String, Py<PyAny>)>> {
        self.server()?.local_addrs().iter().map(|a| Ok((a.kind().to_string(), address_obj(py, a)?))).collect()
    }

    /// Re-reads the TLS certificate, key and client CA; open connections keep theirs.
    fn reload_tls(&self, py: Python<'_>) -> PyResult<()> {
        let server = self.server()?.clone();
        gil::detach(py, move || server.reload_tls()).py_err(py)
    }

    /// The counters: connections_open, connections_total, requests, bytes_in, bytes_out,
    /// errors, rejected, handshakes, handshake_failures (TLS and PROXY headers).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.server()?.stats();
        let d = PyDict::new(py);
        for (k, v) in [
            ("connections_open", s.connections_open),
            ("connections_total", s.connections_total),
            ("requests", s.requests),
            ("bytes_in", s.bytes_in),
            ("bytes_out", s.bytes_out),
            ("errors", s.errors),
            ("rejected", s.rejected),
            ("handshakes", s.handshakes),
            ("handshake_failures", s.handshake_failures),
        ] {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// (host, port) of the Prometheus endpoint (`metrics=`), or None.
    fn metrics_address(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.server()?.metrics_addr().map(|a| address_obj(py, &BoundAddr::Tcp(a))).transpose()
    }

    /// What `GET /metrics` answers: the counters in the Prometheus text format.
    fn metrics_text(&self) -> PyResult<String> {
        Ok(self.server()?.metrics_text())
    }

    /// The service's name.
    #[getter]
    fn service(&self) -> PyResult<&'static str> {
        Ok(self.server()?.service_name())
    }

    /// False once a stop was asked for.
    #[getter]
    fn running(&self) -> bool {
        self.server.as_ref().is_some_and(|s| s.is_running())
    }

    /// Asks for a stop without waiting (safe from handlers).
    fn request_stop(&self) -> PyResult<()> {
        self.server()?.request_stop();
        Ok(())
    }

    /// Blocks (GIL released) until a stop is asked for or `timeout` seconds pass.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let timeout = timeout.map(|t| seconds("timeout", t)).transpose()?;
        let server = self.server()?.clone();
        Ok(gil::detach(py, || server.wait(timeout)))
    }

    /// Stops accepting, finishes replies in flight, closes every client; waits up to
    /// `timeout` seconds. From a handler it only asks for the stop.
    #[pyo3(signature = (timeout = 5.0))]
    fn stop(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let timeout = seconds("timeout", timeout)?;
        let server = self.server()?.clone();
        gil::detach(py, || server.stop(timeout)).py_err(py)
    }

    /// Serves until a stop is asked for, then stops. Waits in slices of at most
    /// `poll_interval` seconds (0.1 s at most) with the GIL released and checks for signals
    /// between them: Ctrl+C stops the server and raises KeyboardInterrupt.
    #[pyo3(signature = (poll_interval = 0.5, stop_timeout = 5.0))]
    fn serve_forever(&self, py: Python<'_>, poll_interval: f64, stop_timeout: f64) -> PyResult<()> {
        let slice =
            seconds("poll_interval", poll_interval)?.clamp(Duration::from_millis(1), Duration::from_millis(100));
        let stop_timeout = seconds("stop_timeout", stop_timeout)?;
        let server = self.server()?.clone();
        // `gil::blocking`'s hook runs the signal handlers between slices.
        let served = gil::blocking(py, |mut intr| {
            while !server.wait(Some(slice)) {
                intr.check()?;
            }
            Ok(())
        });
        if let Err(e) = served {
            let _ = gil::detach(py, || server.stop(stop_timeout));
            return Err(e);
        }
        gil::detach(py, || server.stop(stop_timeout)).py_err(py)
    }
}

/// The core's defaults, for docs and wrappers to quote: `SERVER_DEFAULTS["max_line"]`.
fn server_defaults<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let limits = Limits::DEFAULT;
    d.set_item("service", Service::default().name())?;
    d.set_item("framing", crate::server::Framing::default().name())?;
    d.set_item("max_connections", limits.max_connections)?;
    d.set_item("max_line", limits.max_line)?;
    d.set_item("idle_timeout", limits.idle_timeout.map_or(0.0, |t| t.as_secs_f64()))?;
    d.set_item("max_output", limits.max_output)?;
    d.set_item("backlog", limits.backlog)?;
    d.set_item("busy_poll_us", ServerConfig::new(Service::default()).busy_poll.as_micros() as u64)?;
    d.set_item("banner", crate::server::DEFAULT_BANNER)?;
    d.set_item("handshake_timeout", limits.handshake_timeout.map_or(0.0, |t| t.as_secs_f64()))?;
    Ok(d)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SERVER_DEFAULTS", server_defaults(m.py())?)?;
    m.add("SERVICE_NAMES", Service::NAMES.to_vec())?;
    m.add("FRAMING_NAMES", crate::server::Framing::NAMES.to_vec())?;
    m.add_class::<PyRequest>()?;
    m.add_class::<PyServerCore>()?;
    m.add_function(wrap_pyfunction!(_stop_all_servers, m)?)?;
    m.py().import("atexit")?.call_method1("register", (m.getattr("_stop_all_servers")?,))?;
    Ok(())
}
