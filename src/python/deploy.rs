//! The deployment options of `ServerCore` (docs/deploy.md): conversion into the core's config
//! only, like the rest of the face.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBool;

use super::address::{address, Address};
use super::errors::IntoPyResult;
use crate::server::{handshake_timeout_secs, listen_addr, Listen, ProxyProtocol, ServerConfig};

/// The keyword arguments, as Python passed them (None: the core's default).
pub struct DeployOptions<'a, 'py> {
    pub reuse_port: Option<bool>,
    /// True, False, or a list of the listeners' addresses that expect the header.
    pub proxy_protocol: Option<&'a Bound<'py, PyAny>>,
    pub handshake_timeout: Option<f64>,
    pub metrics: Option<&'a Bound<'py, PyAny>>,
    /// Descriptors of bound sockets; the server owns (and closes) them from now on.
    pub fds: Option<Vec<i32>>,
    pub systemd: Option<bool>,
    pub log_connections: Option<bool>,
}

impl DeployOptions<'_, '_> {
    pub fn apply(self, py: Python<'_>, config: &mut ServerConfig) -> PyResult<()> {
        config.reuse_port = self.reuse_port.unwrap_or(config.reuse_port);
        config.log_connections = self.log_connections.unwrap_or(config.log_connections);
        if let Some(which) = self.proxy_protocol {
            config.proxy_protocol = proxy_listeners(py, which)?;
        }
        if let Some(seconds) = self.handshake_timeout {
            config.limits.handshake_timeout = Some(handshake_timeout_secs(seconds).py_err(py)?);
        }
        if let Some(addr) = self.metrics {
            match address(addr, "ServerCore")? {
                Address::Inet { host, port } => config.metrics = Some(listen_addr(&host, port).py_err(py)?),
                Address::Unix(_) => return Err(PyTypeError::new_err("ServerCore(): metrics must be (host, port)")),
            }
        }
        config.listen.extend(self.fds.unwrap_or_default().into_iter().map(Listen::Fd));
        if self.systemd == Some(true) {
            config.systemd_sockets().py_err(py)?;
        }
        Ok(())
    }
}

fn proxy_listeners(py: Python<'_>, which: &Bound<'_, PyAny>) -> PyResult<ProxyProtocol> {
    if let Ok(on) = which.cast::<PyBool>() {
        return Ok(if on.is_true() { ProxyProtocol::All } else { ProxyProtocol::Off });
    }
    let mut only = Vec::new();
    for item in which.try_iter().map_err(|_| {
        PyTypeError::new_err("ServerCore(): proxy_protocol must be a bool or a list of listener addresses")
    })? {
        only.push(match address(&item?, "ServerCore")? {
            Address::Inet { host, port } => Listen::Tcp(listen_addr(&host, port).py_err(py)?),
            Address::Unix(path) => Listen::Unix(path),
        });
    }
    Ok(ProxyProtocol::Only(only))
}
