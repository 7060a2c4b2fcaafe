//! The client side: which servers to trust, how much of their certificate to check, and the
//! client's own certificate for mutual TLS.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error as RustlsError, SignatureScheme};

use super::files::{load_certs, load_key, load_roots, system_roots};
use super::{provider, VERSIONS};
use crate::error::{Error, Result};

/// How much of the server's certificate a client checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verify {
    /// The chain up to a trusted CA, the dates, and the host name (the default).
    #[default]
    Full,
    /// The chain and the dates, not the name (Python's `check_hostname = False`).
    NoHostname,
    /// Nothing: any certificate is accepted (`ssl.CERT_NONE`, the CLI's `--insecure`).
    None,
}

/// A TLS client's settings. With neither `cafile` nor `capath` the system's trust store is
/// used (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured); with either, only those CAs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTls {
    pub cafile: Option<PathBuf>,
    pub capath: Option<PathBuf>,
    /// PEM certificate (chain) and key the client presents when the server asks (mTLS).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name to check the certificate against and to send as SNI (default: the host
    /// connected to).
    pub server_name: Option<String>,
    pub verify: Verify,
    /// CA certificates given as DER (an `ssl.SSLContext`'s loaded CAs), trusted besides
    /// `cafile`/`capath`; with any, the system store is not used.
    pub ca_certs: Vec<Vec<u8>>,
}

impl ClientTls {
    /// The settings the faces' client options describe: `tls` on, or any of the file options
    /// given (which mean nothing without TLS: an error rather than a silent plain connection).
    pub fn from_options(
        tls: bool,
        cafile: Option<PathBuf>,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        server_name: Option<String>,
    ) -> Result<Option<ClientTls>> {
        if !tls {
            let given = [cafile.is_some(), cert.is_some(), key.is_some(), server_name.is_some()];
            if given.iter().any(|g| *g) {
                return Err(Error::InvalidArgument(
                    "cafile, certfile, keyfile and server_hostname need tls=True".into(),
                ));
            }
            return Ok(None);
        }
        if key.is_some() && cert.is_none() {
            return Err(Error::InvalidArgument("keyfile needs certfile".into()));
        }
        Ok(Some(ClientTls { cafile, cert, key, server_name, ..ClientTls::default() }))
    }

    /// Reads the files and makes the rustls configuration: every error names its file.
    pub fn load(&self) -> Result<Arc<rustls::ClientConfig>> {
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| Error::InvalidArgument(format!("tls: {e}")))?;
        let builder = if self.verify == Verify::None {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(Lenient { chain: None, provider }))
        } else {
            let roots = if self.cafile.is_some() || self.capath.is_some() || !self.ca_certs.is_empty() {
                let mut roots = load_roots(self.cafile.as_deref(), self.capath.as_deref())?;
                let given = self.ca_certs.iter().map(|der| CertificateDer::from(der.clone()));
                roots.add_parsable_certificates(given);
                roots
            } else {
                system_roots()
            };
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| Error::InvalidArgument(format!("tls trust store: {e}")))?;
            match self.verify {
                Verify::NoHostname => {
                    let lenient = Lenient { chain: Some(webpki), provider };
                    builder.dangerous().with_custom_certificate_verifier(Arc::new(lenient))
                }
                _ => builder.with_webpki_verifier(webpki),
            }
        };
        let config = match (&self.cert, &self.key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), key) => {
                let chain = load_certs(cert)?;
                let key = load_key(key.as_deref().unwrap_or(cert))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    Error::InvalidArgument(format!("client certificate {}: {}", cert.display(), super::describe(&e)))
                })?
            }
            (None, Some(_)) => {
                return Err(Error::InvalidArgument("a client key needs its certificate (certfile)".into()))
            }
        };
        Ok(Arc::new(config))
    }

    /// The name a connection to `host` checks and sends.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>> {
        let name = self.server_name.as_deref().unwrap_or(host);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        ServerName::try_from(name.to_string())
            .map_err(|_| Error::InvalidArgument(format!("invalid TLS server name {name:?}")))
    }
}

/// A verifier that checks less than webpki: with `chain`, everything but the name; without,
/// nothing. The handshake's signatures are always checked, so the session is encrypted to
/// whoever holds the key of the certificate shown.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, RustlsError> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(RustlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, RustlsError> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, RustlsError> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
