//! The RESP2/RESP3 reply decoder (netcore's client side: `client --resp`, `bench --resp`,
//! `netcore.Client(framing="resp")`): total (never a panic, whatever a server sends), bounded
//! in depth; a complete reply is decided by its own bytes, whatever follows; a shorter prefix
//! of one is "need more", never an error or another reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore::server::resp::{parse_reply, ReplyLimits};

const LIMITS: ReplyLimits = ReplyLimits { max_reply: 4096, max_depth: 16 };

fuzz_target!(|input: &[u8]| {
    let Ok(Some((reply, len))) = parse_reply(input, LIMITS) else { return };
    assert!(len > 0 && len <= input.len(), "consumed {len} of {}", input.len());
    let same = |got: &[u8]| match parse_reply(got, LIMITS) {
        Ok(Some((again, n))) => n == len && format!("{again:?}") == format!("{reply:?}"),
        _ => false,
    };
    assert!(same(&input[..len]), "the reply alone");
    let mut longer = input[..len].to_vec();
    longer.extend_from_slice(b"+OK\r\n*1\r\n");
    assert!(same(&longer), "with bytes after it");
    if len <= 512 {
        for k in 0..len {
            assert!(matches!(parse_reply(&input[..k], LIMITS), Ok(None)), "prefix {k} of a {len}-byte reply");
        }
    }
});
