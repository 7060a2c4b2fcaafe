//! Reading certificates, keys and CA bundles from PEM files, with errors that name the file.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// The certificates of a PEM file, in order (a leaf first, then its intermediates).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let text = read(path, "certificate")?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&text)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad_pem(path, "certificate", &e))?;
    if certs.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "certificate file {}: no certificate in it (expected a PEM \"BEGIN CERTIFICATE\" block)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let text = read(path, "key")?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| match e {
        pem::Error::NoItemsFound => Error::InvalidArgument(format!(
            "key file {}: no private key in it (expected a PEM \"BEGIN PRIVATE KEY\" block)",
            path.display()
        )),
        e => bad_pem(path, "key", &e),
    })
}

/// A trust store from a CA file and/or a directory of CA files (OpenSSL's CAfile and CApath).
/// Unparsable entries of a directory are skipped, as OpenSSL skips them; a CA file that
/// holds no usable certificate is an error.
pub fn load_roots(file: Option<&Path>, dir: Option<&Path>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    if let Some(file) = file {
        let (added, _) = roots.add_parsable_certificates(load_certs(file)?);
        if added == 0 {
            return Err(Error::InvalidArgument(format!("CA file {}: no usable CA certificate in it", file.display())));
        }
    }
    if let Some(dir) = dir {
        if !dir.is_dir() {
            return Err(Error::InvalidArgument(format!("CA directory {}: not a directory", dir.display())));
        }
        let found = rustls_native_certs::load_certs_from_paths(None, Some(dir));
        roots.add_parsable_certificates(found.certs);
    }
    Ok(roots)
}

/// The system's trust store as OpenSSL finds it: `SSL_CERT_FILE` and `SSL_CERT_DIR` when
/// set, else the distribution's CA bundle and directory.
pub fn system_roots() -> RootCertStore {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    roots
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        let reason = crate::error::Error::Os(e).message();
        Error::InvalidArgument(format!("cannot read {what} file {}: {reason}", path.display()))
    })
}

fn bad_pem(path: &Path, what: &str, e: &pem::Error) -> Error {
    Error::InvalidArgument(format!("{what} file {}: not valid PEM ({e:?})", path.display()))
}
