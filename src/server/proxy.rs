//! The PROXY protocol (HAProxy's specification, versions 1 and 2): a load balancer in front of
//! the server sends one header with the real client's address before the client's bytes.
//!
//! Parsing is the `ppp` crate's; this module decides what a header means for the engine
//! (whose address a request shows) and reads exactly the header's bytes off the stream, so
//! what follows (the first request, or a TLS handshake) is left for the next layer.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The bytes every version 2 header starts with.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Version 1 headers start with this.
const V1_PREFIX: &[u8; 6] = b"PROXY ";
/// The longest version 1 header, `\r\n` included (the specification's 107 bytes).
const V1_MAX: usize = 107;
/// Version 2: signature, version/command, family/protocol, 2-byte length.
const V2_FIXED: usize = 16;

/// What a complete header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxySource {
    /// The client's real address (TCP over IPv4 or IPv6).
    Client(SocketAddr),
    /// The balancer speaks for itself (version 2 `LOCAL`, e.g. its health checks; version 1
    /// `UNKNOWN`; Unix or unspecified families): the connection's own address stands.
    Local,
}

/// The result of looking at the first bytes of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyParse {
    /// A valid header of `len` bytes; the client's bytes start after it.
    Complete { source: ProxySource, len: usize },
    /// Valid so far; at least `more` further bytes are needed to decide. Reading exactly
    /// that many never reads past the end of the header.
    Incomplete { more: usize },
}

/// Why the first bytes of a connection are not a PROXY header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid PROXY protocol header: {0}")]
pub struct ProxyError(pub String);

/// Parses the start of a connection as a PROXY protocol header (version 1 or 2). Pure and
/// total: any input gives an answer, never a panic (fuzzed by `fuzz/`). Bytes after a
/// complete header are ignored; TLV extensions of version 2 are skipped unread.
pub fn parse_proxy_header(input: &[u8]) -> Result<ProxyParse, ProxyError> {
    if input.len() < V1_PREFIX.len() {
        if V1_PREFIX.starts_with(input) || V2_SIGNATURE.starts_with(input) {
            return Ok(ProxyParse::Incomplete { more: V1_PREFIX.len() - input.len() });
        }
        return Err(ProxyError("the connection does not start with one".into()));
    }
    if input.starts_with(V1_PREFIX) {
        parse_v1(input)
    } else if V2_SIGNATURE.starts_with(&input[..input.len().min(V2_SIGNATURE.len())]) {
        parse_v2(input)
    } else {
        Err(ProxyError("the connection does not start with one".into()))
    }
}

fn parse_v1(input: &[u8]) -> Result<ProxyParse, ProxyError> {
    let Some(cr) = memchr::memchr(b'\r', &input[..input.len().min(V1_MAX)]) else {
        if input.len() >= V1_MAX {
            return Err(ProxyError("version 1 header longer than 107 bytes".into()));
        }
        // The header ends with `\r\n`: two more bytes at the least.
        return Ok(ProxyParse::Incomplete { more: 2 });
    };
    if cr + 1 >= input.len() {
        return Ok(ProxyParse::Incomplete { more: 1 });
    }
    let header = &input[..cr + 2];
    if header[cr + 1] != b'\n' {
        return Err(ProxyError("version 1 header not ended by \\r\\n".into()));
    }
    let parsed = ppp::v1::Header::try_from(header).map_err(|e| ProxyError(format!("version 1: {e}")))?;
    let source = match parsed.addresses {
        ppp::v1::Addresses::Tcp4(a) => ProxySource::Client(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v1::Addresses::Tcp6(a) => ProxySource::Client(SocketAddr::from((a.source_address, a.source_port))),
        ppp::v1::Addresses::Unknown => ProxySource::Local,
    };
    Ok(ProxyParse::Complete { source, len: header.len() })
}

fn parse_v2(input: &[u8]) -> Result<ProxyParse, ProxyError> {
    if input.len() < V2_FIXED {
        return Ok(ProxyParse::Incomplete { more: V2_FIXED - input.len() });
    }
    let total = V2_FIXED + u16::from_be_bytes([input[14], input[15]]) as usize;
    if input.len() < total {
        // Checked before the rest is read, so a bad header is refused without waiting.
        if let Err(e) = ppp::v2::Header::try_from(&input[..V2_FIXED]) {
            if !matches!(e, ppp::v2::ParseError::Partial(..)) {
                return Err(ProxyError(format!("version 2: {e}")));
            }
        }
        return Ok(ProxyParse::Incomplete { more: total - input.len() });
    }
    let parsed = ppp::v2::Header::try_from(&input[..total]).map_err(|e| ProxyError(format!("version 2: {e}")))?;
    let source = match (parsed.command, parsed.addresses) {
        (ppp::v2::Command::Local, _) => ProxySource::Local,
        (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv4(a)) => {
            ProxySource::Client(SocketAddr::from((a.source_address, a.source_port)))
        }
        (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv6(a)) => {
            ProxySource::Client(SocketAddr::from((a.source_address, a.source_port)))
        }
        (ppp::v2::Command::Proxy, _) => ProxySource::Local,
    };
    Ok(ProxyParse::Complete { source, len: total })
}

/// Reads a PROXY header off `stream`, exactly its bytes, within `timeout`. The error says why
/// the connection is refused: no valid header, the client closed, or too slow.
pub(crate) async fn read_proxy_header<S: AsyncRead + Unpin>(
    stream: &mut S,
    timeout: Option<Duration>,
) -> Result<ProxySource, ProxyError> {
    let read = async {
        let mut buf = Vec::with_capacity(V2_FIXED + 216);
        loop {
            match parse_proxy_header(&buf)? {
                ProxyParse::Complete { source, .. } => return Ok(source),
                ProxyParse::Incomplete { more } => {
                    let start = buf.len();
                    buf.resize(start + more, 0);
                    stream
                        .read_exact(&mut buf[start..])
                        .await
                        .map_err(|e| ProxyError(format!("connection ended before the header ({e})")))?;
                }
            }
        }
    };
    match timeout {
        Some(limit) => tokio::time::timeout(limit, read)
            .await
            .unwrap_or_else(|_| Err(ProxyError(format!("no header within {} ms", limit.as_millis())))),
        None => read.await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 2 header from `src` to `dst` with `tlvs` appended (as HAProxy's
    /// `send-proxy-v2` writes it).
    pub(crate) fn v2(command: u8, src: SocketAddr, dst: SocketAddr, tlvs: &[u8]) -> Vec<u8> {
        let mut addr = Vec::new();
        let family = match (src, dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                addr.extend_from_slice(&s.ip().octets());
                addr.extend_from_slice(&d.ip().octets());
                addr.extend_from_slice(&s.port().to_be_bytes());
                addr.extend_from_slice(&d.port().to_be_bytes());
                0x11
            }
            (SocketAddr::V6(s), SocketAddr::V6(d)) => {
                addr.extend_from_slice(&s.ip().octets());
                addr.extend_from_slice(&d.ip().octets());
                addr.extend_from_slice(&s.port().to_be_bytes());
                addr.extend_from_slice(&d.port().to_be_bytes());
                0x21
            }
            _ => unreachable!("test headers have one family"),
        };
        addr.extend_from_slice(tlvs);
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&(addr.len() as u16).to_be_bytes());
        h.extend_from_slice(&addr);
        h
    }

    fn client(text: &str) -> ProxySource {
        ProxySource::Client(text.parse().unwrap())
    }

    fn complete(input: &[u8]) -> (ProxySource, usize) {
        match parse_proxy_header(input) {
            Ok(ProxyParse::Complete { source, len }) => (source, len),
            other => panic!("{other:?} for {input:?}"),
        }
    }

    #[test]
    fn version_1_headers() {
        let h = b"PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\nping\n";
        assert_eq!(complete(h), (client("203.0.113.7:56324"), h.len() - 5));
        let h = b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 21560\r\n";
        assert_eq!(complete(h), (client("[2001:db8::1]:4000"), h.len()));
        assert_eq!(complete(b"PROXY UNKNOWN\r\n"), (ProxySource::Local, 15));
        for bad in [&b"PROXY TCP4 1.2.3.4\r\n"[..], b"PROXY TCP9 1.2.3.4 1.2.3.4 1 2\r\n", b"PROXY TCP4 x\rz"] {
            assert!(parse_proxy_header(bad).is_err(), "{bad:?}");
        }
        assert!(parse_proxy_header(&[b'P'; 200]).is_err());
        let mut long = b"PROXY ".to_vec();
        long.resize(120, b'1');
        assert!(parse_proxy_header(&long).is_err());
    }

    #[test]
    fn version_2_headers_and_their_tlvs() {
        let (s, d) = ("198.51.100.9:40000".parse().unwrap(), "10.0.0.1:21560".parse().unwrap());
        let h = v2(1, s, d, &[]);
        assert_eq!(complete(&h), (ProxySource::Client(s), 28));
        // TLVs (here an ALPN, a unique id and a malformed one) are skipped, never parsed.
        let tlvs = [0x01, 0x00, 0x02, b'h', b'2', 0x05, 0x00, 0x01, 0x07, 0xEE, 0xFF, 0xFF];
        let h = v2(1, s, d, &tlvs);
        assert_eq!(complete(&h), (ProxySource::Client(s), 28 + tlvs.len()));
        let h6 = v2(1, "[2001:db8::7]:9".parse().unwrap(), "[::1]:1".parse().unwrap(), &[]);
        assert_eq!(complete(&h6).0, client("[2001:db8::7]:9"));
        // LOCAL (HAProxy's health checks): the connection's own address stands.
        assert_eq!(complete(&v2(0, s, d, &[])).0, ProxySource::Local);
        let mut bad_version = h.clone();
        bad_version[12] = 0x31;
        assert!(parse_proxy_header(&bad_version).is_err());
        let mut short_len = v2(1, s, d, &[]);
        short_len[15] = 4; // shorter than an IPv4 address block
        assert!(parse_proxy_header(&short_len).is_err());
    }

    #[test]
    fn partial_input_asks_for_no_more_than_the_header() {
        let h = v2(1, "1.2.3.4:5".parse().unwrap(), "5.6.7.8:9".parse().unwrap(), &[0x04, 0, 1, 0]);
        let mut have = 0;
        let mut steps = 0;
        while let ProxyParse::Incomplete { more } = parse_proxy_header(&h[..have]).unwrap() {
            have += more;
            steps += 1;
            assert!(have <= h.len());
        }
        assert_eq!((have, steps), (h.len(), 3));
        let h1 = b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
        let mut have = 0;
        while let ProxyParse::Incomplete { more } = parse_proxy_header(&h1[..have]).unwrap() {
            have += more;
            assert!(have <= h1.len());
        }
        assert_eq!(have, h1.len());
    }

    #[test]
    fn ordinary_requests_are_not_headers() {
        for line in [&b"ping\n"[..], b"GET / HTTP/1.1\r\n", b"\x16\x03\x01\x00", b"PROXZ", b"\r\n\r\nX"] {
            assert!(parse_proxy_header(line).is_err(), "{line:?}");
        }
        assert_eq!(parse_proxy_header(b""), Ok(ProxyParse::Incomplete { more: 6 }));
    }

    #[tokio::test]
    async fn reading_stops_at_the_end_of_the_header() {
        let h = v2(1, "192.0.2.5:7".parse().unwrap(), "192.0.2.6:8".parse().unwrap(), &[1, 0, 1, b'x']);
        let mut input = h.clone();
        input.extend_from_slice(b"\x16\x03\x01 first bytes of a TLS hello");
        let mut reader = &input[..];
        let source = read_proxy_header(&mut reader, Some(Duration::from_secs(1))).await.unwrap();
        assert_eq!(source, client("192.0.2.5:7"));
        assert_eq!(reader, &input[h.len()..]);
        let mut cut = &h[..10];
        assert!(read_proxy_header(&mut cut, None).await.unwrap_err().0.contains("ended before"));
        let (mut slow, _keep_open) = tokio::io::duplex(64);
        let err = read_proxy_header(&mut slow, Some(Duration::from_millis(50))).await.unwrap_err();
        assert!(err.0.contains("no header within 50 ms"), "{err}");
    }
}
