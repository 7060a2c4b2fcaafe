//! Cutting RESP requests out of a byte stream: arrays of bulk strings (what every redis
//! client sends) and inline commands (what people type into telnet), as redis accepts them.
//!
//! Incremental by re-parsing: `RequestParser::parse` is given everything received and not yet
//! consumed, and answers with one request, "need more" or an error. Re-parsing skips bulk
//! bodies by their declared length, so it costs one pass over the headers; a request is at
//! most `max_request` bytes, which bounds the work. Nothing is ever allocated from a declared
//! length: argument positions are pushed as they are found, and the bytes themselves are
//! those already received.

use std::fmt;

/// Bounds on one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// Bytes of one request, headers included (also bounds each bulk string and an inline line).
    pub max_request: usize,
    /// Elements of one request array.
    pub max_args: usize,
}

impl RequestLimits {
    /// Limits derived from the server's request size (`Limits::max_line`): at most one argument
    /// per four bytes (`$0\r\n\r\n` is six), and never more than redis's 1,048,576.
    pub fn new(max_request: usize) -> Self {
        RequestLimits { max_request, max_args: (max_request / 4).clamp(1, 1024 * 1024) }
    }
}

/// Why a byte stream is not RESP; the text is redis's (`Protocol error: ...`). The connection
/// cannot be trusted to be aligned after one, so it is answered with `-ERR` and closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    /// An array element that is not a bulk string (nested arrays included).
    ExpectedBulk(u8),
    /// A bulk string's bytes not followed by `\r\n`.
    MissingCrlf,
    UnbalancedQuotes,
    /// An inline line or a request longer than the limit.
    TooBig(usize),
    /// A reply (client side) longer than the limit.
    ReplyTooBig(usize),
    /// A reply (client side) whose type byte RESP does not have.
    UnknownType(u8),
    /// A reply nested deeper than the client's limit.
    TooDeep(usize),
    /// A reply's number that is not one.
    InvalidNumber,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::InvalidMultibulkLength => write!(f, "Protocol error: invalid multibulk length"),
            ProtocolError::InvalidBulkLength => write!(f, "Protocol error: invalid bulk length"),
            ProtocolError::ExpectedBulk(b) => write!(f, "Protocol error: expected '$', got '{}'", char::from(*b)),
            ProtocolError::MissingCrlf => write!(f, "Protocol error: bulk string not terminated by CRLF"),
            ProtocolError::UnbalancedQuotes => write!(f, "Protocol error: unbalanced quotes in request"),
            ProtocolError::TooBig(limit) => write!(f, "Protocol error: request larger than {limit} bytes"),
            ProtocolError::ReplyTooBig(limit) => write!(f, "Protocol error: reply larger than {limit} bytes"),
            ProtocolError::UnknownType(b) => write!(f, "Protocol error: unknown reply type byte 0x{b:02x}"),
            ProtocolError::TooDeep(limit) => write!(f, "Protocol error: reply nested deeper than {limit} levels"),
            ProtocolError::InvalidNumber => write!(f, "Protocol error: invalid number"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Digits of a length line: redis's lengths fit in 20 characters.
const MAX_NUMBER_LINE: usize = 21;

/// Cuts requests; reused for every request of a connection (its vectors keep their capacity).
#[derive(Debug)]
pub struct RequestParser {
    limits: RequestLimits,
    /// Where each argument is: in the input (arrays) or in `unquoted` (inline commands).
    args: Vec<(usize, usize)>,
    unquoted: Vec<u8>,
    inline: bool,
    /// The inline line's extent in the input, line ending excluded.
    line: (usize, usize),
}

impl RequestParser {
    pub fn new(limits: RequestLimits) -> Self {
        RequestParser { limits, args: Vec::new(), unquoted: Vec::new(), inline: false, line: (0, 0) }
    }

    /// Looks for one request at the start of `input`: `Ok(Some(n))` when the first `n` bytes
    /// are one (its arguments then come from `arg`; there may be none: an empty inline line or
    /// `*0`, which redis skips), `Ok(None)` when more bytes are needed.
    pub fn parse(&mut self, input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        self.args.clear();
        let found = match input.first() {
            None => return Ok(None),
            Some(b'*') => {
                self.inline = false;
                self.array(input)?
            }
            Some(_) => {
                self.inline = true;
                self.inline_command(input)?
            }
        };
        if found.is_none() && input.len() > self.limits.max_request {
            return Err(ProtocolError::TooBig(self.limits.max_request));
        }
        Ok(found)
    }

    /// Arguments of the request `parse` found.
    pub fn argc(&self) -> usize {
        self.args.len()
    }

    /// Argument `i` of the request `parse` found in `input` (the same bytes).
    pub fn arg<'a>(&'a self, input: &'a [u8], i: usize) -> &'a [u8] {
        let (start, end) = self.args[i];
        if self.inline {
            &self.unquoted[start..end]
        } else {
            &input[start..end]
        }
    }

    /// The line of an inline request (None for an array).
    pub fn inline_line<'a>(&self, input: &'a [u8]) -> Option<&'a [u8]> {
        self.inline.then(|| &input[self.line.0..self.line.1])
    }

    fn array(&mut self, input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some((count, mut pos)) = number_line(input, 1, ProtocolError::InvalidMultibulkLength)? else {
            return Ok(None);
        };
        if count <= 0 {
            return Ok(Some(pos)); // `*0`, `*-1`: nothing to answer, as redis.
        }
        if count as u64 > self.limits.max_args as u64 {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
        for _ in 0..count {
            match input.get(pos) {
                None => return Ok(None),
                Some(b'$') => {}
                Some(&other) => return Err(ProtocolError::ExpectedBulk(other)),
            }
            let Some((len, body)) = number_line(input, pos + 1, ProtocolError::InvalidBulkLength)? else {
                return Ok(None);
            };
            if len < 0 || len as u64 > self.limits.max_request as u64 {
                return Err(ProtocolError::InvalidBulkLength);
            }
            let end = body + len as usize;
            // Refused on the declared length, before its bytes are awaited.
            if end + 2 > self.limits.max_request {
                return Err(ProtocolError::TooBig(self.limits.max_request));
            }
            if input.len() < end + 2 {
                return Ok(None);
            }
            if &input[end..end + 2] != b"\r\n" {
                return Err(ProtocolError::MissingCrlf);
            }
            self.args.push((body, end));
            pos = end + 2;
        }
        Ok(Some(pos))
    }

    fn inline_command(&mut self, input: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some(newline) = memchr::memchr(b'\n', input) else {
            return Ok(None);
        };
        if newline > self.limits.max_request {
            return Err(ProtocolError::TooBig(self.limits.max_request));
        }
        let end = if newline > 0 && input[newline - 1] == b'\r' { newline - 1 } else { newline };
        self.line = (0, end);
        self.unquoted.clear();
        split_args(&input[..end], &mut self.unquoted, &mut self.args)?;
        Ok(Some(newline + 1))
    }
}

/// A `<number>\r\n` starting at `start`: (the number, where the next line starts).
fn number_line(input: &[u8], start: usize, bad: ProtocolError) -> Result<Option<(i64, usize)>, ProtocolError> {
    let rest = input.get(start..).unwrap_or_default();
    let window = &rest[..rest.len().min(MAX_NUMBER_LINE)];
    let Some(cr) = window.iter().position(|&b| b == b'\r') else {
        return if rest.len() >= MAX_NUMBER_LINE { Err(bad) } else { Ok(None) };
    };
    match rest.get(cr + 1) {
        None => return Ok(None),
        Some(b'\n') => {}
        Some(_) => return Err(bad),
    }
    let n = parse_i64(&rest[..cr]).ok_or(bad)?;
    Ok(Some((n, start + cr + 2)))
}

/// A decimal integer with an optional `-`, nothing else.
pub(super) fn parse_i64(digits: &[u8]) -> Option<i64> {
    let (negative, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits.iter().try_fold(0i64, |n, &d| n.checked_mul(10)?.checked_add(i64::from(d - b'0')))?;
    Some(if negative { -n } else { n })
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Splits an inline line into arguments as redis's `sdssplitargs` does: whitespace separates,
/// `"..."` takes `\n \r \t \b \a \\ \" \xHH` escapes, `'...'` takes `\'`, and a closing quote
/// must be followed by whitespace or the end.
fn split_args(line: &[u8], out: &mut Vec<u8>, args: &mut Vec<(usize, usize)>) -> Result<(), ProtocolError> {
    let mut p = 0;
    loop {
        while p < line.len() && (is_space(line[p]) || line[p] == 0) {
            p += 1;
        }
        if p == line.len() {
            return Ok(());
        }
        let start = out.len();
        let (mut in_double, mut in_single) = (false, false);
        loop {
            let c = line.get(p).copied();
            if in_double {
                match c {
                    None => return Err(ProtocolError::UnbalancedQuotes),
                    Some(b'\\') if line.get(p + 1) == Some(&b'x') && hex_pair(line.get(p + 2..p + 4)).is_some() => {
                        out.push(hex_pair(line.get(p + 2..p + 4)).unwrap_or_default());
                        p += 3;
                    }
                    Some(b'\\') if p + 1 < line.len() => {
                        p += 1;
                        out.push(match line[p] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        if line.get(p + 1).is_some_and(|&b| !is_space(b)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    }
                    Some(b) => out.push(b),
                }
            } else if in_single {
                match c {
                    None => return Err(ProtocolError::UnbalancedQuotes),
                    Some(b'\\') if line.get(p + 1) == Some(&b'\'') => {
                        p += 1;
                        out.push(b'\'');
                    }
                    Some(b'\'') => {
                        if line.get(p + 1).is_some_and(|&b| !is_space(b)) {
                            return Err(ProtocolError::UnbalancedQuotes);
                        }
                        p += 1;
                        break;
                    }
                    Some(b) => out.push(b),
                }
            } else {
                match c {
                    None => break,
                    Some(b) if is_space(b) || b == 0 => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(b) => out.push(b),
                }
            }
            p += 1;
        }
        args.push((start, out.len()));
    }
}

fn hex_pair(pair: Option<&[u8]>) -> Option<u8> {
    let pair = pair?;
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

/// What `parse_request` found: the bytes the request took and its arguments.
pub type ParsedRequest = (usize, Vec<Vec<u8>>);

/// One request parsed from the start of `input`, for tests and fuzzing: `Ok(Some((consumed,
/// arguments)))`, `Ok(None)` when more bytes are needed, or the protocol error.
pub fn parse_request(input: &[u8], limits: RequestLimits) -> Result<Option<ParsedRequest>, ProtocolError> {
    let mut parser = RequestParser::new(limits);
    Ok(parser.parse(input)?.map(|n| (n, (0..parser.argc()).map(|i| parser.arg(input, i).to_vec()).collect())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RequestLimits = RequestLimits { max_request: 1024, max_args: 256 };

    fn args(input: &[u8]) -> Vec<Vec<u8>> {
        parse_request(input, LIMITS).unwrap().unwrap().1
    }

    fn err(input: &[u8]) -> String {
        parse_request(input, LIMITS).unwrap_err().to_string()
    }

    fn v(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn arrays_of_bulk_strings() {
        assert_eq!(parse_request(b"*1\r\n$4\r\nPING\r\n", LIMITS).unwrap(), Some((14, v(&["PING"]))));
        assert_eq!(args(b"*2\r\n$4\r\nECHO\r\n$5\r\na\r\n\0b\r\n"), vec![b"ECHO".to_vec(), b"a\r\n\0b".to_vec()]);
        assert_eq!(args(b"*2\r\n$3\r\nset\r\n$0\r\n\r\n"), v(&["set", ""]));
        assert_eq!(parse_request(b"*0\r\nrest", LIMITS).unwrap(), Some((4, vec![])));
        assert_eq!(parse_request(b"*-1\r\n", LIMITS).unwrap(), Some((5, vec![])));
    }

    #[test]
    fn a_request_split_at_any_byte_needs_more_until_complete() {
        let whole = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$11\r\nhello world\r\n";
        for cut in 0..whole.len() {
            assert_eq!(parse_request(&whole[..cut], LIMITS).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(args(whole), v(&["SET", "k", "hello world"]));
        let inline = b"ping \"a b\"\r\n";
        for cut in 0..inline.len() {
            assert_eq!(parse_request(&inline[..cut], LIMITS).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn inline_commands_as_redis_splits_them() {
        assert_eq!(args(b"PING\r\n"), v(&["PING"]));
        assert_eq!(args(b"  set  k   v \n"), v(&["set", "k", "v"]));
        assert_eq!(args(b"echo \"a\\n\\x41\\\"\" 'it\\'s'\r\n"), v(&["echo", "a\nA\"", "it's"]));
        assert_eq!(args(b"\r\n"), Vec::<Vec<u8>>::new());
        assert_eq!(err(b"echo \"abc\r\n"), "Protocol error: unbalanced quotes in request");
        assert_eq!(err(b"echo 'abc\r\n"), "Protocol error: unbalanced quotes in request");
        assert_eq!(err(b"echo \"a\"b\r\n"), "Protocol error: unbalanced quotes in request");
    }

    #[test]
    fn bad_input_is_refused_without_waiting_for_declared_bytes() {
        assert_eq!(err(b"*2147483647\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(err(b"*1\r\n$9999999999\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(err(b"*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(err(b"*1\r\n$1020\r\n"), "Protocol error: request larger than 1024 bytes");
        assert_eq!(err(b"*x\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(err(b"*1\r\n*1\r\n$1\r\na\r\n"), "Protocol error: expected '$', got '*'");
        assert_eq!(err(b"*1\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
        assert_eq!(err(b"*1\r\n$1\r\nabc"), "Protocol error: bulk string not terminated by CRLF");
        assert_eq!(err(b"*11111111111111111111111111"), "Protocol error: invalid multibulk length");
        assert_eq!(err(b"*1\r\x00"), "Protocol error: invalid multibulk length");
        let deep = b"*1\r\n".repeat(10_000);
        assert_eq!(err(&deep), "Protocol error: expected '$', got '*'");
        // A bulk string that never ends waits for its declared bytes, which fit the limit.
        let endless = [b"*1\r\n$1000\r\n".as_slice(), &[b'a'; 500]].concat();
        assert_eq!(parse_request(&endless, LIMITS).unwrap(), None);
        assert_eq!(err(&[b'x'; 1100]), "Protocol error: request larger than 1024 bytes");
        assert_eq!(parse_request(&[b'x'; 1000], LIMITS).unwrap(), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b""), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b"+1"), None);
    }
}
