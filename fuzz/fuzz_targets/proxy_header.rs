//! The PROXY protocol v1/v2 header parser (the first bytes of a connection behind HAProxy):
//! total (never a panic); a complete header is decided by its own bytes, whatever follows;
//! every prefix of a complete header is "incomplete", never an error, and asks for no byte
//! past the header's end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore::server::proxy::{parse_proxy_header, ProxyParse};

fuzz_target!(|input: &[u8]| {
    let Ok(parsed) = parse_proxy_header(input) else { return };
    match parsed {
        ProxyParse::Incomplete { more } => assert!(more >= 1, "incomplete asks for nothing"),
        ProxyParse::Complete { source, len } => {
            assert!(len <= input.len() && len > 0, "len {len} of {}", input.len());
            assert_eq!(parse_proxy_header(&input[..len]), Ok(ProxyParse::Complete { source, len }));
            let mut longer = input[..len].to_vec();
            longer.extend_from_slice(b"\r\nGET / HTTP/1.1\r\n\x00\xff");
            assert_eq!(parse_proxy_header(&longer), Ok(ProxyParse::Complete { source, len }));
            if len <= 1024 {
                for k in 0..len {
                    match parse_proxy_header(&input[..k]) {
                        Ok(ProxyParse::Incomplete { more }) => {
                            assert!(k + more <= len, "prefix {k} asks for {more}, past the end at {len}")
                        }
                        other => panic!("prefix {k} of a {len}-byte header: {other:?}"),
                    }
                }
            }
        }
    }
});
