//! Seed 003's `urlopen` / `urlretrieve` for `http://`, `https://`, `file:` and `gopher://`
//! URLs. HTTP is the `ureq` crate's (redirects followed, up to `MAX_REDIRECTS`; from https
//! to plain http refused), TLS netcore's (`crate::tls::https`); this module only picks the
//! scheme and turns each source into the same `UrlResponse`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: u32 = 10;

/// An open URL: status, headers and the body as a reader.
pub struct UrlResponse {
    /// The final URL, after redirects.
    pub url: String,
    /// HTTP status (200 for `file:` and `gopher:`).
    pub status: u16,
    /// The reason phrase ("OK", "Not Found").
    pub reason: String,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body length when known in advance.
    pub content_length: Option<u64>,
    body: Box<dyn Read + Send>,
}

impl std::fmt::Debug for UrlResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlResponse")
            .field("url", &self.url)
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

impl Read for UrlResponse {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.body.read(buf)
    }
}

impl UrlResponse {
    /// True for a 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The local path of a `file:` URL: `file:/abs`, `file:rel`, `file:///abs`,
/// `file://localhost/abs`.
pub fn file_url_path(url: &str) -> Result<PathBuf> {
    let rest = url.strip_prefix("file:").ok_or_else(|| Error::InvalidArgument(format!("not a file: URL: {url}")))?;
    let path = match rest.strip_prefix("//") {
        Some(after) => {
            let slash = after.find('/').unwrap_or(after.len());
            let host = &after[..slash];
            if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
                return Err(Error::InvalidArgument(format!("file: URL on another host ({host}) is not supported")));
            }
            &after[slash..]
        }
        None => rest,
    };
    if path.is_empty() {
        return Err(Error::InvalidArgument(format!("file: URL without a path: {url}")));
    }
    Ok(PathBuf::from(percent_decode(path)))
}

/// Host, port and selector of a `gopher://host[:port]/<type><selector>` URL (RFC 4266).
pub fn gopher_url_parts(url: &str) -> Result<(String, u16, String)> {
    let rest =
        url.strip_prefix("gopher://").ok_or_else(|| Error::InvalidArgument(format!("not a gopher:// URL: {url}")))?;
    let slash = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..slash];
    let path = &rest[slash..];
    let (host, port) = split_host_port(authority, super::gopher::DEFAULT_PORT)?;
    // The first character after the slash is the item type, not part of the selector.
    // (A character, not a byte: `&path[2..]` panicked on a multi-byte type; found by fuzzing.)
    let mut chars = path.chars();
    chars.next(); // the slash
    let selector = match chars.next() {
        Some(_) => percent_decode(chars.as_str()),
        None => String::new(),
    };
    Ok((host, port, selector))
}

fn split_host_port(authority: &str, default_port: u16) -> Result<(String, u16)> {
    let bad = || Error::InvalidArgument(format!("bad host in URL: {authority:?}"));
    if authority.is_empty() {
        return Err(bad());
    }
    if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']').ok_or_else(bad)?;
        let host = &v6[..end];
        let port = match &v6[end + 1..] {
            "" => default_port,
            p => p.strip_prefix(':').and_then(|p| p.parse().ok()).ok_or_else(bad)?,
        };
        return Ok((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Ok((host.to_string(), port.parse().map_err(|_| bad())?)),
        None => Ok((authority.to_string(), default_port)),
    }
}

fn content_type_for(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("txt" | "text" | "md") => "text/plain",
        Some("html" | "htm") => "text/html",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}

fn map_ureq(url: &str, e: ureq::Error) -> Error {
    match e {
        ureq::Error::Io(e) if e.raw_os_error().is_some() => Error::Os(e),
        ureq::Error::Io(e) if crate::tls::rustls_error_in(&e).is_some() => {
            Error::Tls(crate::tls::rustls_error_in(&e).map(crate::tls::describe).unwrap_or_default())
        }
        ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => Error::Timeout,
        // ureq's resolver reports a failed look-up as an errno-less I/O error.
        ureq::Error::Io(e) if e.to_string().contains("lookup address") => {
            Error::AddressInfo { code: libc::EAI_NONAME, message: "Name or service not known".into() }
        }
        ureq::Error::Io(e) => Error::Failed(e.to_string()),
        ureq::Error::Timeout(_) => Error::Timeout,
        ureq::Error::HostNotFound => {
            Error::AddressInfo { code: libc::EAI_NONAME, message: "Name or service not known".into() }
        }
        ureq::Error::BadUri(m) => Error::InvalidArgument(format!("bad URL {url}: {m}")),
        ureq::Error::TooManyRedirects => Error::Failed(format!("too many redirects (more than {MAX_REDIRECTS})")),
        ureq::Error::Other(e) => match e.downcast::<crate::tls::https::HandshakeFailed>() {
            Ok(failed) => failed.0,
            Err(e) => Error::Failed(e.to_string()),
        },
        other => Error::Failed(other.to_string()),
    }
}

fn open_http(url: &str, timeout: Option<Duration>, tls: &crate::tls::ClientTls) -> Result<UrlResponse> {
    use ureq::unversioned::resolver::DefaultResolver;
    use ureq::unversioned::transport::TcpConnector;
    open_http_over(url, timeout, tls, TcpConnector::default(), DefaultResolver::default())
}

/// `open` for http(s):// over `transport` and `resolver` instead of TCP and the system's
/// resolver; everything else as `open`. For the fuzz target `url_redirect`, which serves
/// its responses from memory; not part of the API.
#[doc(hidden)]
pub fn open_http_over(
    url: &str,
    timeout: Option<Duration>,
    tls: &crate::tls::ClientTls,
    transport: impl ureq::unversioned::transport::Connector,
    resolver: impl ureq::unversioned::resolver::Resolver,
) -> Result<UrlResponse> {
    use ureq::unversioned::transport::Connector;
    use ureq::ResponseExt;
    let connector =
        ().chain(crate::tls::https::NoDowngrade::default())
            .chain(transport)
            .chain(crate::tls::https::TlsConnector::new(tls.clone()));
    let agent_config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(MAX_REDIRECTS)
        .timeout_resolve(timeout)
        .timeout_connect(timeout)
        .timeout_send_request(timeout)
        .timeout_recv_response(timeout)
        .timeout_per_read(timeout)
        .user_agent(concat!("netcore/", env!("CARGO_PKG_VERSION")))
        // Every hop connects anew, so the downgrade check sees each one.
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build();
    let agent = ureq::Agent::with_parts(agent_config, connector, resolver);
    let response = agent.get(url).call().map_err(|e| map_ureq(url, e))?;
    let final_url = response.get_uri().to_string();
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let content_length = response.body().content_length();
    let body = response.into_body().into_reader();
    Ok(UrlResponse {
        url: final_url,
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("").to_string(),
        headers,
        content_length,
        body: Box::new(body),
    })
}

fn open_file(url: &str) -> Result<UrlResponse> {
    let path = file_url_path(url)?;
    let file = File::open(&path)?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(Error::from_errno(libc::EISDIR));
    }
    Ok(UrlResponse {
        url: url.to_string(),
        status: 200,
        reason: "OK".into(),
        headers: vec![
            ("Content-Type".into(), content_type_for(&path).into()),
            ("Content-Length".into(), meta.len().to_string()),
        ],
        content_length: Some(meta.len()),
        body: Box::new(file),
    })
}

fn open_gopher(url: &str, timeout: Option<Duration>) -> Result<UrlResponse> {
    let (host, port, selector) = gopher_url_parts(url)?;
    let reader = super::gopher::open(&host, port, &selector, timeout)?;
    Ok(UrlResponse {
        url: url.to_string(),
        status: 200,
        reason: "OK".into(),
        headers: Vec::new(),
        content_length: None,
        body: Box::new(reader),
    })
}

/// The scheme of `url` when netcore opens it (`http`, `https`, `file`, `gopher`), checked
/// before anything connects. The error says `unknown url type: ...` as urllib does.
pub fn scheme(url: &str) -> std::result::Result<&'static str, SchemeError> {
    let lower = url.to_ascii_lowercase();
    for (prefix, name) in [("http://", "http"), ("https://", "https"), ("file:", "file"), ("gopher://", "gopher")] {
        if lower.starts_with(prefix) {
            return Ok(name);
        }
    }
    match url.split_once(':') {
        Some((s, _)) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) => {
            Err(SchemeError::Unsupported(s.to_ascii_lowercase()))
        }
        _ => Err(SchemeError::Missing(url.to_string())),
    }
}

/// Why `scheme` refused a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemeError {
    /// No scheme at all (urllib: `ValueError`).
    Missing(String),
    /// A scheme netcore does not open (urllib: `URLError`).
    Unsupported(String),
}

impl SchemeError {
    /// urllib's words: `unknown url type: 'x'` (no scheme) or `unknown url type: ftp`.
    pub fn message(&self) -> String {
        match self {
            SchemeError::Missing(url) => format!("unknown url type: {url:?}"),
            SchemeError::Unsupported(s) => {
                format!("unknown url type: {s} (netcore opens http://, https://, file: and gopher://)")
            }
        }
    }
}

impl From<SchemeError> for Error {
    fn from(e: SchemeError) -> Self {
        Error::InvalidArgument(e.message())
    }
}

/// Opens `url` (`http://`, `https://`, `file:` or `gopher://`). HTTP statuses outside 2xx
/// are returned, not raised: check `status`. `timeout` bounds connecting and each wait for
/// data. https uses the system's trust store (see `open_with`).
pub fn open(url: &str, timeout: Option<Duration>) -> Result<UrlResponse> {
    open_with(url, timeout, &crate::tls::ClientTls::default())
}

/// `open`, with the TLS settings for https (trust store, client certificate, verify mode).
pub fn open_with(url: &str, timeout: Option<Duration>, tls: &crate::tls::ClientTls) -> Result<UrlResponse> {
    match scheme(url)? {
        "http" | "https" => open_http(url, timeout, tls),
        "file" => open_file(url),
        _ => open_gopher(url, timeout),
    }
}

/// The error for a non-2xx response.
pub fn status_error(response: &UrlResponse) -> Error {
    Error::Failed(format!("HTTP {} {} from {}", response.status, response.reason, response.url))
}

/// Copies a response body to `out`, calling `progress(done)` after each chunk; returns the
/// byte count. Read errors keep their kind (a timeout is `Error::Timeout`).
/// Copies the rest of the body to `out`, calling `progress` with the byte count after each
/// chunk; an error from `progress` stops the copy with that error (a cancelled download).
pub fn copy_body(
    response: &mut UrlResponse,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(u64) -> Result<()>,
) -> Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    loop {
        let n = match response.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(Error::Timeout),
            Err(e) if e.raw_os_error().is_some() => return Err(Error::Os(e)),
            Err(e) => return Err(Error::Failed(format!("reading the body failed: {e}"))),
        };
        out.write_all(&buf[..n])?;
        done += n as u64;
        progress(done)?;
    }
    Ok(done)
}

/// Seed 003's `urlretrieve`: saves the body of `url` to `path` and returns the response
/// (its body consumed) and the byte count. The file is written beside `path` under a
/// temporary name and renamed into place only when the download completed, so a failure
/// never leaves a truncated file or clobbers an existing one. Non-2xx statuses are errors.
pub fn retrieve(
    url: &str,
    path: &Path,
    timeout: Option<Duration>,
    start: &mut dyn FnMut(&UrlResponse),
    progress: &mut dyn FnMut(u64) -> Result<()>,
) -> Result<(UrlResponse, u64)> {
    let mut response = open(url, timeout)?;
    if !response.is_success() {
        return Err(status_error(&response));
    }
    start(&response);
    let n = save(&mut response, path, progress)?;
    Ok((response, n))
}

/// Writes the rest of `response` to `path` through a temporary file beside it, renamed into
/// place only when the body is complete (an error, or one from `progress`, removes it).
/// Returns the byte count.
pub fn save(response: &mut UrlResponse, path: &Path, progress: &mut dyn FnMut(u64) -> Result<()>) -> Result<u64> {
    super::download::save_to(path, &mut |out| copy_body(response, out, progress))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls() {
        assert_eq!(file_url_path("file:/etc/hosts").unwrap(), PathBuf::from("/etc/hosts"));
        assert_eq!(file_url_path("file:///a%20b").unwrap(), PathBuf::from("/a b"));
        assert_eq!(file_url_path("file://localhost/x").unwrap(), PathBuf::from("/x"));
        assert_eq!(file_url_path("file:rel/x").unwrap(), PathBuf::from("rel/x"));
        assert!(matches!(file_url_path("file://elsewhere/x"), Err(Error::InvalidArgument(_))));
        assert!(matches!(open("file:/no/such/file", None), Err(Error::Os(_))));
    }

    #[test]
    fn gopher_urls() {
        assert_eq!(gopher_url_parts("gopher://localhost").unwrap(), ("localhost".into(), 70, "".into()));
        assert_eq!(gopher_url_parts("gopher://h:7070/0/a%20b").unwrap(), ("h".into(), 7070, "/a b".into()));
        assert_eq!(gopher_url_parts("gopher://[::1]:71/1").unwrap(), ("::1".into(), 71, "".into()));
        assert!(gopher_url_parts("gopher://h:x/").is_err());
    }

    #[test]
    fn unsupported_scheme_is_a_clear_error() {
        let err = open("ftp://localhost/x", None).unwrap_err();
        assert!(err.to_string().contains("unknown url type: ftp"), "{err}");
        assert_eq!(scheme("HTTPS://x"), Ok("https"));
        assert_eq!(scheme("nohost"), Err(SchemeError::Missing("nohost".into())));
        assert_eq!(scheme("foo://x"), Err(SchemeError::Unsupported("foo".into())));
    }

    /// A directory holding `src.txt` ("hello file"): (the directory, its file: URL, dst.txt).
    fn file_to_fetch() -> (tempfile::TempDir, String, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.txt");
        std::fs::write(&src, b"hello file").unwrap();
        let url = format!("file://{}", src.display());
        let dst = dir.path().join("dst.txt");
        (dir, url, dst)
    }

    #[test]
    fn retrieve_file_url() {
        let (_dir, url, dst) = file_to_fetch();
        let mut seen = 0;
        let (resp, n) = retrieve(&url, &dst, None, &mut |_| {}, &mut |d| {
            seen = d;
            Ok(())
        })
        .unwrap();
        assert_eq!((n, seen, resp.status), (10, 10, 200));
        assert_eq!(std::fs::read(&dst).unwrap(), b"hello file");
    }

    #[test]
    fn a_download_cancelled_by_progress_leaves_no_file() {
        let (dir, url, dst) = file_to_fetch();
        let cancel = |_| Err(Error::Interrupted);
        let err = retrieve(&url, &dst, None, &mut |_| {}, &mut { cancel }).unwrap_err();
        assert!(matches!(err, Error::Interrupted), "{err:?}");
        assert!(!dst.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the temporary file is gone too");
    }
}
