//! `urlopen` over HTTP against a server that answers with fuzzed responses: redirect
//! chains (relative, absolute, to other schemes, loops), broken status lines and headers,
//! bodies shorter or longer than announced, chunked encoding. The call always returns
//! (bounded by its timeout), never follows more than MAX_REDIRECTS redirects, and never
//! leaves this server (only its Locations are generated).
//!
//! The server is in memory, behind ureq's transport API (`url::open_http_over`): each
//! connection gets the next scripted response, then the end of the stream, as from a
//! loopback server that answers and shuts down. netcore's part (its connector chain with the
//! https-downgrade check and TLS, ureq's configuration, the response it returns) is the same
//! as over TCP; what a loopback listener added per input was two threads woken per hop.
#![no_main]

use std::collections::VecDeque;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netcore::client::url::{open_http_over, MAX_REDIRECTS};
use netcore::tls::ClientTls;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport};

#[derive(Arbitrary, Debug)]
enum Location {
    Relative(String),
    Absolute(String),
    /// Anything without an authority (no `//`): other schemes, odd paths.
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct Response {
    status: u16,
    redirect: bool,
    location: Option<Location>,
    content_length: Option<u16>,
    chunked: bool,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Sent instead of the response above.
    raw: Option<Vec<u8>>,
}

/// The server's address. Nothing listens there: connections to it are served from memory,
/// any other address is refused, as on a loopback interface with only this server.
const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";

/// One input's server: the responses still to send, one per connection, and how many
/// connections it had. Made anew for every input, so nothing carries over.
#[derive(Debug, Default)]
struct Script {
    replies: Mutex<VecDeque<Vec<u8>>>,
    connections: Mutex<usize>,
}

#[derive(Debug)]
struct MemoryConnector(Arc<Script>);

impl Connector<()> for MemoryConnector {
    type Out = MemoryConnection;

    fn connect(&self, details: &ConnectionDetails, _chained: Option<()>) -> Result<Option<Self::Out>, ureq::Error> {
        if !details.addrs.contains(&SERVER) {
            return Err(ureq::Error::Io(std::io::ErrorKind::ConnectionRefused.into()));
        }
        *self.0.connections.lock().unwrap() += 1;
        let reply = self.0.replies.lock().unwrap().pop_front().unwrap_or_else(|| NOT_FOUND.to_vec());
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(MemoryConnection { buffers, reply, sent: 0 }))
    }
}

/// The client's end of one connection: what it writes is taken and dropped (the server
/// answers whatever it is asked), what it reads is the reply, then the end of the stream.
#[derive(Debug)]
struct MemoryConnection {
    buffers: LazyBuffers,
    reply: Vec<u8>,
    sent: usize,
}

impl Transport for MemoryConnection {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, _timeout: NextTimeout) -> Result<(), ureq::Error> {
        let _request = &self.buffers.output()[..amount];
        Ok(())
    }

    fn await_input(&mut self, _timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let room = self.buffers.input_append_buf();
        let n = room.len().min(self.reply.len() - self.sent);
        room[..n].copy_from_slice(&self.reply[self.sent..self.sent + n]);
        self.sent += n;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.sent < self.reply.len()
    }
}

/// IP addresses as they are; no host name has an address (as in the fuzzers' namespace).
#[derive(Debug)]
struct LiteralResolver;

impl Resolver for LiteralResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let authority = uri.authority().ok_or(ureq::Error::HostNotFound)?;
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        let default_port = if uri.scheme_str() == Some("https") { 443 } else { 80 };
        let ip: IpAddr = host.parse().map_err(|_| ureq::Error::HostNotFound)?;
        let mut addrs = self.empty();
        addrs.push(SocketAddr::new(ip, authority.port_u16().unwrap_or(default_port)));
        Ok(addrs)
    }
}

fn safe_other(s: &str) -> bool {
    !s.contains("//") && !s.contains('\\') && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn header_text(s: &str) -> String {
    s.chars().filter(|c| !matches!(c, '\r' | '\n')).collect()
}

fn render(r: &Response, port: u16) -> Vec<u8> {
    if let Some(raw) = &r.raw {
        return raw.clone();
    }
    let status = if r.redirect { [301, 302, 303, 307, 308][r.status as usize % 5] } else { 100 + r.status % 500 };
    let mut out = format!("HTTP/1.1 {status} Fuzz\r\n").into_bytes();
    match &r.location {
        Some(Location::Relative(p)) => {
            out.extend(format!("Location: {}\r\n", header_text(p).trim_start_matches('/')).bytes())
        }
        Some(Location::Absolute(p)) => out.extend(
            format!("Location: http://127.0.0.1:{port}/{}\r\n", header_text(p).trim_start_matches('/')).bytes(),
        ),
        Some(Location::Other(p)) if safe_other(p) => out.extend(format!("Location: {p}\r\n").bytes()),
        _ => {}
    }
    for (k, v) in r.headers.iter().take(8) {
        let k = header_text(k);
        if k.to_ascii_lowercase().contains("location") || k.eq_ignore_ascii_case("host") {
            continue;
        }
        out.extend(format!("{k}: {}\r\n", header_text(v)).bytes());
    }
    if r.chunked {
        out.extend(b"Transfer-Encoding: chunked\r\n\r\n");
        for chunk in r.body.chunks(7) {
            out.extend(format!("{:x}\r\n", chunk.len()).bytes());
            out.extend(chunk);
            out.extend(b"\r\n");
        }
        out.extend(b"0\r\n\r\n");
    } else {
        let len = r.content_length.map_or(r.body.len(), usize::from);
        out.extend(format!("Content-Length: {len}\r\n\r\n").bytes());
        out.extend(&r.body);
    }
    out
}

/// ureq gives every connection a zeroed 128 KiB input and output buffer. glibc served
/// each from a fresh mapping (page faults, then unmapped or trimmed again at free): 40% of
/// this target's time. Kept in the heap instead, they cost a memset.
fn keep_buffers_in_the_heap() {
    // SAFETY: mallopt only tunes the allocator; called before anything else runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 8 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

fuzz_target!(init: keep_buffers_in_the_heap(), |responses: Vec<Response>| {
    let port = SERVER.port();
    let script = Arc::new(Script::default());
    script.replies.lock().unwrap().extend(responses.iter().take(16).map(|r| render(r, port)));
    let start = Instant::now();
    let timeout = Duration::from_millis(300);
    let url = format!("http://{SERVER}/start");
    let opened = open_http_over(&url, Some(timeout), &ClientTls::default(), MemoryConnector(script.clone()), LiteralResolver);
    if let Ok(mut response) = opened {
        assert!(response.url.starts_with(&format!("http://{SERVER}/")), "{}", response.url);
        let mut body = Vec::new();
        let _ = (&mut response).take(1 << 20).read_to_end(&mut body);
    }
    let hops = *script.connections.lock().unwrap();
    assert!(hops <= MAX_REDIRECTS as usize + 1, "{hops} requests for one urlopen");
    // Connect, send, receive and each read are bounded by the timeout; a few of each at most.
    assert!(start.elapsed() < Duration::from_secs(20), "urlopen took {:?}", start.elapsed());
});
