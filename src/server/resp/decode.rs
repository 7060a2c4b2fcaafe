//! Reading RESP2/RESP3 replies (the client side: `netcore client --resp`, `netcore bench
//! --resp`, `netcore.Client(framing="resp")`). Like the request parser it is incremental by
//! re-parsing, bounded (reply size, nesting depth) and never allocates from a declared length.

use super::request::{parse_i64, ProtocolError};
use crate::server::Reply;

/// Bounds on one reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Bytes of one reply.
    pub max_reply: usize,
    /// Aggregates inside aggregates.
    pub max_depth: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        ReplyLimits { max_reply: 512 * 1024 * 1024, max_depth: 128 }
    }
}

/// One reply parsed from the start of `input`: `Ok(Some((reply, consumed)))`, `Ok(None)` when
/// more bytes are needed, or the protocol error. RESP3 types map onto `Reply`: booleans become
/// integers 0/1, sets and pushes arrays, big numbers simple strings, blob errors errors;
/// attributes are skipped.
pub fn parse_reply(input: &[u8], limits: ReplyLimits) -> Result<Option<(Reply, usize)>, ProtocolError> {
    let found = Decoder { input, limits }.value(0, 0)?;
    if found.is_none() && input.len() > limits.max_reply {
        return Err(ProtocolError::ReplyTooBig(limits.max_reply));
    }
    Ok(found)
}

struct Decoder<'a> {
    input: &'a [u8],
    limits: ReplyLimits,
}

type Step = Result<Option<(Reply, usize)>, ProtocolError>;

impl Decoder<'_> {
    /// The line starting at `pos` (without `\r\n`) and where the next one starts.
    fn line(&self, pos: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
        let rest = self.input.get(pos..).unwrap_or_default();
        match memchr::memchr(b'\n', rest) {
            None => Ok(None),
            Some(nl) if nl == 0 || rest[nl - 1] != b'\r' => Err(ProtocolError::InvalidNumber),
            Some(nl) => Ok(Some((&rest[..nl - 1], pos + nl + 1))),
        }
    }

    fn number(&self, pos: usize) -> Result<Option<(i64, usize)>, ProtocolError> {
        Ok(match self.line(pos)? {
            None => None,
            Some((digits, next)) => Some((parse_i64(digits).ok_or(ProtocolError::InvalidNumber)?, next)),
        })
    }

    /// A length-prefixed body at `pos`: (its bytes, where the next value starts), or None.
    fn blob(&self, pos: usize) -> Result<Option<(&[u8], usize)>, ProtocolError> {
        let Some((len, body)) = self.number(pos)? else { return Ok(None) };
        if len < 0 || len as u64 > self.limits.max_reply as u64 {
            return Err(ProtocolError::InvalidBulkLength);
        }
        let end = body + len as usize;
        if self.input.len() < end + 2 {
            return Ok(None);
        }
        if &self.input[end..end + 2] != b"\r\n" {
            return Err(ProtocolError::MissingCrlf);
        }
        Ok(Some((&self.input[body..end], end + 2)))
    }

    fn value(&self, pos: usize, depth: usize) -> Step {
        let Some(&kind) = self.input.get(pos) else { return Ok(None) };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let at = pos + 1;
        Ok(match kind {
            b'+' | b'-' | b'(' => self
                .line(at)?
                .map(|(l, next)| (if kind == b'-' { Reply::Error(text(l)) } else { Reply::Simple(text(l)) }, next)),
            b':' => self.number(at)?.map(|(n, next)| (Reply::Integer(n), next)),
            b'_' => self.line(at)?.map(|(_, next)| (Reply::Null, next)),
            b'#' => match self.line(at)? {
                None => None,
                Some((b"t", next)) => Some((Reply::Integer(1), next)),
                Some((b"f", next)) => Some((Reply::Integer(0), next)),
                Some(_) => return Err(ProtocolError::InvalidNumber),
            },
            b',' => match self.line(at)? {
                None => None,
                Some((l, next)) => {
                    let d = std::str::from_utf8(l).ok().and_then(|s| s.parse::<f64>().ok());
                    Some((Reply::Double(d.ok_or(ProtocolError::InvalidNumber)?), next))
                }
            },
            b'$' if self.input.get(at..at + 3) == Some(b"-1\r") => self.line(at)?.map(|(_, next)| (Reply::Null, next)),
            b'$' => self.blob(at)?.map(|(b, next)| (Reply::Bulk(b.to_vec()), next)),
            b'!' => self.blob(at)?.map(|(b, next)| (Reply::Error(text(b)), next)),
            b'=' => self.blob(at)?.map(|(b, next)| (Reply::Verbatim(text(b.get(4..).unwrap_or(b))), next)),
            b'*' | b'~' | b'>' | b'%' | b'|' => return self.aggregate(kind, at, depth),
            other => return Err(ProtocolError::UnknownType(other)),
        })
    }

    fn aggregate(&self, kind: u8, at: usize, depth: usize) -> Step {
        if depth >= self.limits.max_depth {
            return Err(ProtocolError::TooDeep(self.limits.max_depth));
        }
        let Some((count, mut pos)) = self.number(at)? else { return Ok(None) };
        if count < 0 {
            return Ok(Some((Reply::Null, pos))); // RESP2's `*-1`
        }
        let per_item = if matches!(kind, b'%' | b'|') { 2 } else { 1 };
        // Every element takes at least three bytes: a count beyond what could have arrived
        // is refused, not awaited, and nothing is reserved from it.
        if count as u64 > (self.limits.max_reply / 3) as u64 {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        let mut items = Vec::new();
        for _ in 0..count as usize * per_item {
            let Some((item, next)) = self.value(pos, depth + 1)? else { return Ok(None) };
            items.push(item);
            pos = next;
        }
        Ok(Some(match kind {
            b'%' => {
                let mut pairs = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                (Reply::Map(pairs), pos)
            }
            // Attributes describe the value after them, which is the reply.
            b'|' => return self.value(pos, depth),
            _ => (Reply::Array(items), pos),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Reply {
        let (reply, n) = parse_reply(input, ReplyLimits::default()).unwrap().unwrap();
        assert_eq!(n, input.len());
        reply
    }

    #[test]
    fn resp2_and_resp3_values() {
        assert_eq!(parse(b"+PONG\r\n"), Reply::Simple("PONG".into()));
        assert_eq!(parse(b"-ERR x\r\n"), Reply::Error("ERR x".into()));
        assert_eq!(parse(b":-7\r\n"), Reply::Integer(-7));
        assert_eq!(parse(b"$-1\r\n"), Reply::Null);
        assert_eq!(parse(b"*-1\r\n"), Reply::Null);
        assert_eq!(parse(b"$3\r\na\r\n\r\n"), Reply::Bulk(b"a\r\n".to_vec()));
        assert_eq!(
            parse(b"*2\r\n:1\r\n*1\r\n_\r\n"),
            Reply::Array(vec![Reply::Integer(1), Reply::Array(vec![Reply::Null])])
        );
        assert_eq!(parse(b"%1\r\n+k\r\n#t\r\n"), Reply::Map(vec![(Reply::Simple("k".into()), Reply::Integer(1))]));
        assert_eq!(parse(b"=7\r\ntxt:abc\r\n"), Reply::Verbatim("abc".into()));
        assert_eq!(parse(b",1.5\r\n"), Reply::Double(1.5));
        assert_eq!(parse(b"|1\r\n+a\r\n+b\r\n:3\r\n"), Reply::Integer(3));
    }

    #[test]
    fn partial_and_bad_replies() {
        let whole = b"*2\r\n$5\r\nhello\r\n%1\r\n+a\r\n:1\r\n";
        for cut in 0..whole.len() {
            assert_eq!(parse_reply(&whole[..cut], ReplyLimits::default()).unwrap(), None, "cut at {cut}");
        }
        let limits = ReplyLimits { max_reply: 1024, max_depth: 8 };
        let err = |b: &[u8]| parse_reply(b, limits).unwrap_err().to_string();
        assert_eq!(err(b"w\r\n"), "Protocol error: unknown reply type byte 0x77");
        assert_eq!(err(&b"*1\r\n".repeat(10_000)), "Protocol error: reply nested deeper than 8 levels");
        assert_eq!(err(b"*2147483647\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(err(b"$9999999999\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(err(b":12a\r\n"), "Protocol error: invalid number");
        assert_eq!(err(&[b'+'; 2000]), "Protocol error: reply larger than 1024 bytes");
    }
}
