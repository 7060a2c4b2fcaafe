//! `urlopen` over HTTP against a loopback server that answers with fuzzed responses:
//! redirect chains (relative, absolute, to other schemes, loops), broken status lines and
//! headers, bodies shorter or longer than announced, chunked encoding. The call always
//! returns (bounded by its timeout), never follows more than MAX_REDIRECTS redirects, and
//! never leaves this server (only loopback Locations are generated).
#![no_main]

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use netcore::client::url::{open, MAX_REDIRECTS};

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

struct Server {
    port: u16,
    replies: Mutex<VecDeque<Vec<u8>>>,
    served: AtomicUsize,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = server();
                let mut stream = stream;
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                s.served.fetch_add(1, Ordering::SeqCst);
                let reply = s
                    .replies
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(|| b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_vec());
                let _ = stream.write_all(&reply);
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        });
        Server { port, replies: Mutex::new(VecDeque::new()), served: AtomicUsize::new(0) }
    })
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

fuzz_target!(|responses: Vec<Response>| {
    let s = server();
    {
        let mut replies = s.replies.lock().unwrap();
        replies.clear();
        replies.extend(responses.iter().take(16).map(|r| render(r, s.port)));
    }
    let before = s.served.load(Ordering::SeqCst);
    let start = Instant::now();
    let timeout = Duration::from_millis(300);
    if let Ok(mut response) = open(&format!("http://127.0.0.1:{}/start", s.port), Some(timeout)) {
        assert!(response.url.starts_with(&format!("http://127.0.0.1:{}/", s.port)), "{}", response.url);
        let mut body = Vec::new();
        let _ = (&mut response).take(1 << 20).read_to_end(&mut body);
    }
    let hops = s.served.load(Ordering::SeqCst) - before;
    assert!(hops <= MAX_REDIRECTS as usize + 1, "{hops} requests for one urlopen");
    // Connect, send, receive and each read are bounded by the timeout; a few of each at most.
    assert!(start.elapsed() < Duration::from_secs(20), "urlopen took {:?}", start.elapsed());
});
