//! The RESP request parser (what `--framing resp` cuts requests with): total (never a panic);
//! the engine's incremental `RequestParser` and the pure `parse_request` agree; a complete
//! request is decided by its own bytes, whatever follows; a shorter prefix of one is "need
//! more", never an error or another request; the arguments it found, sent again as an array
//! of bulk strings, parse back to the same arguments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore::client::resp::encode_command;
use netcore::server::resp::{parse_request, RequestLimits, RequestParser};

const LIMITS: RequestLimits = RequestLimits { max_request: 4096, max_args: 1024 };

fuzz_target!(|input: &[u8]| {
    let parsed = parse_request(input, LIMITS);
    let mut parser = RequestParser::new(LIMITS);
    let incremental = parser.parse(input);
    assert_eq!(incremental.clone().map(|found| found.is_some()), parsed.clone().map(|found| found.is_some()));
    let Ok(Some((len, words))) = parsed else { return };
    assert_eq!(incremental, Ok(Some(len)));
    assert!(len > 0 && len <= input.len(), "consumed {len} of {}", input.len());
    assert_eq!(parser.argc(), words.len());
    for (i, word) in words.iter().enumerate() {
        assert_eq!(parser.arg(input, i), &word[..]);
    }
    let alone = parse_request(&input[..len], LIMITS);
    assert_eq!(alone, Ok(Some((len, words.clone()))), "the request alone");
    let mut longer = input[..len].to_vec();
    longer.extend_from_slice(b"*1\r\n$4\r\nPING\r\n\"\x00\xff");
    assert_eq!(parse_request(&longer, LIMITS), Ok(Some((len, words.clone()))), "with bytes after it");
    if len <= 512 {
        for k in 0..len {
            assert_eq!(parse_request(&input[..k], LIMITS), Ok(None), "prefix {k} of a {len}-byte request");
        }
    }
    if !words.is_empty() {
        let argv: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
        let mut again = Vec::new();
        encode_command(&argv, &mut again);
        if again.len() <= LIMITS.max_request {
            assert_eq!(parse_request(&again, LIMITS), Ok(Some((again.len(), words))), "sent again as an array");
        }
    }
});
