//! HTTPS for `crate::client::url`: ureq speaks HTTP, netcore's rustls configuration (its
//! trust store, client certificate and verify mode) speaks TLS. Two ureq connectors: one that
//! refuses to follow a redirect from https to plain http before anything connects, and one
//! that wraps the TCP transport in TLS. ureq's own rustls connector is not used, so ureq links
//! no TLS stack of its own.

use std::fmt;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};

use super::ClientTls;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport, TransportAdapter,
};

/// Why a redirect was not followed: it led from https to plain http.
#[derive(Debug)]
pub(crate) struct Downgrade(pub String);

impl fmt::Display for Downgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "redirect from https to plain http refused: {}", self.0)
    }
}

impl std::error::Error for Downgrade {}

/// First in the chain: remembers that an https URL was visited and refuses a later http one.
/// (Every hop connects anew: the agent keeps no idle connections.)
#[derive(Debug, Default)]
pub(crate) struct NoDowngrade {
    seen_https: AtomicBool,
}

impl<In: Transport> Connector<In> for NoDowngrade {
    type Out = In;

    fn connect(&self, details: &ConnectionDetails, chained: Option<In>) -> Result<Option<In>, ureq::Error> {
        if details.needs_tls() {
            self.seen_https.store(true, Ordering::Relaxed);
        } else if self.seen_https.load(Ordering::Relaxed) {
            return Err(ureq::Error::Other(Box::new(Downgrade(details.uri.to_string()))));
        }
        Ok(chained)
    }
}

/// Last in the chain: TLS over the TCP transport for https URLs. The configuration (and so
/// the trust store, ~150 certificates for the system's) is read at the first https hop.
#[derive(Debug)]
pub(crate) struct TlsConnector {
    tls: ClientTls,
    config: OnceLock<Arc<rustls::ClientConfig>>,
}

impl TlsConnector {
    pub(crate) fn new(tls: ClientTls) -> Self {
        TlsConnector { tls, config: OnceLock::new() }
    }

    fn config(&self) -> Result<Arc<rustls::ClientConfig>, ureq::Error> {
        if let Some(c) = self.config.get() {
            return Ok(c.clone());
        }
        let loaded = self.tls.load().map_err(|e| ureq::Error::Other(Box::new(HandshakeFailed(e))))?;
        Ok(self.config.get_or_init(|| loaded).clone())
    }
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(&self, details: &ConnectionDetails, chained: Option<In>) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let config = self.config()?;
        let host = self.tls.server_name.clone().unwrap_or_else(|| details.uri.host().unwrap_or_default().to_string());
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let name =
            ServerName::try_from(host.clone()).map_err(|_| ureq::Error::BadUri(format!("bad TLS name {host}")))?;
        let mut conn = ClientConnection::new(config, name).map_err(handshake_failure(&host))?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).map_err(|e| match super::rustls_error_in(&e) {
                Some(r) => handshake_failure(&host)(r.clone()),
                None => ureq::Error::Io(e),
            })?;
        }
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(Either::B(TlsTransport { buffers, stream: StreamOwned { conn, sock } })))
    }
}

/// A failed handshake as an error that `url` turns into the core's TLS errors.
fn handshake_failure(host: &str) -> impl Fn(rustls::Error) -> ureq::Error + '_ {
    move |e| ureq::Error::Other(Box::new(HandshakeFailed(super::handshake_error(&e, host))))
}

/// The core error of a failed handshake, carried through ureq.
#[derive(Debug)]
pub(crate) struct HandshakeFailed(pub crate::Error);

impl fmt::Display for HandshakeFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HandshakeFailed {}

pub(crate) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        self.stream.flush()?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = match self.stream.read(input) {
            Ok(n) => n,
            // A server closing without close_notify ends the body as at a TCP close.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e.into()),
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
