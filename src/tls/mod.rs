//! TLS for servers, clients and HTTPS: rustls with the `ring` provider, TLS 1.2 and 1.3 only.
//!
//! `files` reads PEM certificates, keys and trust stores; `server` makes a listener's
//! configuration (optionally requiring client certificates) and reloads it; `client` makes a
//! client's configuration (trust store, client certificate, how much to verify); `session`
//! runs a client connection over the non-blocking sockets of `crate::client`. The errors of
//! a failed handshake are described here once, in OpenSSL's words where it has some, so the
//! CLI, C and Python say the same thing (docs/tls.md lists them).

pub mod client;
pub mod files;
pub(crate) mod https;
pub mod server;
pub mod session;

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, Error as RustlsError};

pub use client::{ClientTls, Verify};
pub use server::{ReloadableTls, ServerTls};

use crate::error::Error;

/// TLS 1.3 and 1.2; never anything older.
pub(crate) static VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The one crypto provider netcore uses, chosen explicitly (never a process default that
/// another library might have installed).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

/// OpenSSL's verify codes for the certificate failures rustls reports (what Python's
/// `SSLCertVerificationError.verify_code` holds).
const X509_V_ERR_CERT_NOT_YET_VALID: i32 = 9;
const X509_V_ERR_CERT_HAS_EXPIRED: i32 = 10;
const X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
const X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
const X509_V_ERR_CERT_REVOKED: i32 = 23;
const X509_V_ERR_INVALID_PURPOSE: i32 = 26;
const X509_V_ERR_CERT_UNTRUSTED: i32 = 27;
const X509_V_ERR_HOSTNAME_MISMATCH: i32 = 62;
const X509_V_ERR_IP_ADDRESS_MISMATCH: i32 = 64;

/// A certificate failure as OpenSSL words it: (verify code, message).
fn certificate_failure(e: &CertificateError, host: &str) -> (i32, String) {
    match e {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            (X509_V_ERR_CERT_HAS_EXPIRED, "certificate has expired".into())
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            (X509_V_ERR_CERT_NOT_YET_VALID, "certificate is not yet valid".into())
        }
        CertificateError::UnknownIssuer => {
            (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "unable to get local issuer certificate".into())
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            match host.parse::<std::net::IpAddr>() {
                Ok(_) => (
                    X509_V_ERR_IP_ADDRESS_MISMATCH,
                    format!("IP address mismatch, certificate is not valid for '{host}'."),
                ),
                Err(_) => {
                    (X509_V_ERR_HOSTNAME_MISMATCH, format!("Hostname mismatch, certificate is not valid for '{host}'."))
                }
            }
        }
        CertificateError::Revoked => (X509_V_ERR_CERT_REVOKED, "certificate revoked".into()),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            (X509_V_ERR_INVALID_PURPOSE, "unsupported certificate purpose".into())
        }
        CertificateError::BadSignature => (X509_V_ERR_CERT_UNTRUSTED, "certificate signature failure".into()),
        CertificateError::Other(o) if o.to_string().contains("CaUsedAsEndEntity") => (
            X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
            "a CA certificate is used as the server's own certificate (make a CA and a leaf it signs)".into(),
        ),
        other => (X509_V_ERR_CERT_UNTRUSTED, format!("{other:?}")),
    }
}

/// A rustls error in words (for configuration errors and handshake failures).
pub(crate) fn describe(e: &RustlsError) -> String {
    match e {
        RustlsError::InconsistentKeys(_) => "the private key does not match the certificate".into(),
        RustlsError::InvalidCertificate(c) => certificate_failure(c, "").1,
        RustlsError::NoCertificatesPresented => "the peer sent no certificate (one is required)".into(),
        RustlsError::AlertReceived(alert) => format!("the peer refused the handshake (alert {alert:?})"),
        RustlsError::InvalidMessage(_) => "the peer does not speak TLS (malformed handshake)".into(),
        other => other.to_string(),
    }
}

/// The core error for a failed client handshake with `host`: certificate failures become
/// `Error::TlsCertificate` (Python: `ssl.SSLCertVerificationError`), the rest `Error::Tls`.
pub(crate) fn handshake_error(e: &RustlsError, host: &str) -> Error {
    match e {
        RustlsError::InvalidCertificate(c) => {
            let (code, message) = certificate_failure(c, host);
            Error::TlsCertificate { code, message }
        }
        other => Error::Tls(describe(other)),
    }
}

/// A rustls error carried inside an `io::Error` (as rustls streams report them).
pub(crate) fn rustls_error_in(e: &std::io::Error) -> Option<&RustlsError> {
    e.get_ref()?.downcast_ref::<RustlsError>()
}

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
pub(crate) mod tests;
