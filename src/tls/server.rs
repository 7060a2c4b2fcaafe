//! The server side: the certificate files of a TLS listener, the rustls configuration made
//! from them, and a holder that re-reads them while connections go on.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustls::server::WebPkiClientVerifier;

use super::files::{load_certs, load_key, load_roots};
use super::{provider, VERSIONS};
use crate::error::{Error, Result};

/// What a TLS listener serves with: its certificate chain and key, and optionally the CA
/// whose client certificates it requires (mutual TLS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTls {
    /// PEM: the server's certificate, then any intermediates.
    pub cert: PathBuf,
    /// PEM: the private key of the first certificate in `cert`.
    pub key: PathBuf,
    /// PEM: the CAs a client certificate must chain to. Set: every client must present one.
    pub client_ca: Option<PathBuf>,
    /// Handshakes in progress at once; a client over this is closed at once. Default 256.
    pub max_handshakes: usize,
}

pub const DEFAULT_MAX_HANDSHAKES: usize = 256;

impl ServerTls {
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        ServerTls { cert: cert.into(), key: key.into(), client_ca: None, max_handshakes: DEFAULT_MAX_HANDSHAKES }
    }

    /// The TLS settings the faces' three options describe (`tls_cert`, `tls_key`,
    /// `tls_client_ca`): none of them is no TLS; a certificate needs its key and the other
    /// way round; a client CA needs both.
    pub fn from_options(
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        client_ca: Option<PathBuf>,
    ) -> Result<Option<ServerTls>> {
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(ServerTls { client_ca, ..ServerTls::new(cert, key) })),
            (None, None) if client_ca.is_none() => Ok(None),
            (None, None) => Err(Error::InvalidArgument("tls_client_ca needs tls_cert and tls_key".into())),
            (Some(_), None) => {
                Err(Error::InvalidArgument("tls_cert needs tls_key (the certificate's private key)".into()))
            }
            (None, Some(_)) => {
                Err(Error::InvalidArgument("tls_key needs tls_cert (the certificate it belongs to)".into()))
            }
        }
    }

    pub fn client_ca(mut self, ca: impl Into<PathBuf>) -> Self {
        self.client_ca = Some(ca.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.max_handshakes == 0 {
            return Err(Error::InvalidArgument("tls max_handshakes must be at least 1".into()));
        }
        Ok(())
    }

    /// Reads the files and makes the rustls configuration: every error names its file.
    pub fn load(&self) -> Result<Arc<rustls::ServerConfig>> {
        let chain = load_certs(&self.cert)?;
        let key = load_key(&self.key)?;
        let provider = provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| Error::InvalidArgument(format!("tls: {e}")))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let roots = load_roots(Some(ca), None)?;
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| Error::InvalidArgument(format!("client CA file {}: {e}", ca.display())))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_single_cert(chain, key).map_err(|e| {
            Error::InvalidArgument(format!(
                "key file {} does not fit certificate file {}: {}",
                self.key.display(),
                self.cert.display(),
                super::describe(&e)
            ))
        })?;
        Ok(Arc::new(config))
    }
}

/// The configuration new handshakes use; `reload` swaps it, connections already up keep
/// theirs.
pub struct ReloadableTls {
    files: ServerTls,
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl ReloadableTls {
    pub fn new(files: ServerTls) -> Result<Self> {
        let config = files.load()?;
        Ok(ReloadableTls { files, current: RwLock::new(config) })
    }

    pub fn files(&self) -> &ServerTls {
        &self.files
    }

    /// The configuration for the next handshake.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-reads the files; on any error the configuration in use stays.
    pub fn reload(&self) -> Result<()> {
        let config = self.files.load()?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        Ok(())
    }
}

/// The subject of the peer's first certificate (`CN=alice, O=Example`), if it sent one.
pub fn peer_subject(conn: &rustls::ServerConnection) -> Option<String> {
    let cert = conn.peer_certificates()?.first()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    Some(parsed.subject().to_string())
}
