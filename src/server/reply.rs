//! The reply model: one typed value a handler (or a built-in command) answers with, rendered
//! by each framing. Line and message framing render it as text (arrays as the JSON array `ls`
//! has always sent); RESP framing as RESP2, or RESP3 after `HELLO 3`.

use std::io::Write;

/// A typed reply. Every framing renders every variant; see `docs/protocol.md` for the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Bytes: RESP `$` bulk string; as text the bytes themselves.
    Bulk(Vec<u8>),
    /// A short status text (`OK`, `PONG`): RESP `+`; as text the text itself. A line break in
    /// it is sent as a space over RESP (a simple string cannot hold one).
    Simple(String),
    /// RESP `:`; as text its decimal digits.
    Integer(i64),
    /// RESP3 `,`; RESP2 a bulk string of its digits; as text its digits.
    Double(f64),
    /// RESP2 `$-1`, RESP3 `_`; as text: no reply at all (what `None` always meant there), or
    /// `null` inside an array.
    Null,
    /// RESP `*` (nested as deep as wanted); as text one JSON array: `["a", 1, null]`.
    Array(Vec<Reply>),
    /// RESP3 `%`; RESP2 a flat array of keys and values; as text one JSON object.
    Map(Vec<(Reply, Reply)>),
    /// Text meant to be shown as it is (`INFO`): RESP3 `=` verbatim `txt`; RESP2 a bulk
    /// string; as text the text itself.
    Verbatim(String),
    /// An error: `ERR bad thing` (a first word in capitals is the redis error code; without
    /// one, `ERR` is added over RESP). RESP `-ERR bad thing`; as text `error: bad thing`
    /// (the code `ERR` is left out there, any other code kept).
    Error(String),
}

impl From<&str> for Reply {
    fn from(s: &str) -> Self {
        Reply::Bulk(s.as_bytes().to_vec())
    }
}

impl From<String> for Reply {
    fn from(s: String) -> Self {
        Reply::Bulk(s.into_bytes())
    }
}

impl From<Vec<u8>> for Reply {
    fn from(b: Vec<u8>) -> Self {
        Reply::Bulk(b)
    }
}

impl From<i64> for Reply {
    fn from(n: i64) -> Self {
        Reply::Integer(n)
    }
}

impl<T: Into<Reply>> From<Option<T>> for Reply {
    fn from(v: Option<T>) -> Self {
        v.map_or(Reply::Null, Into::into)
    }
}

impl<T: Into<Reply>> From<Vec<T>> for Reply {
    fn from(items: Vec<T>) -> Self {
        Reply::Array(items.into_iter().map(Into::into).collect())
    }
}

impl Reply {
    /// The value as line and message framing send it (the bytes before the line ending).
    pub fn text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        ReplyOut::new(&mut out, Wire::Text).value(self);
        out
    }
}

/// How replies go on the wire: text (line and message framing), RESP2 or RESP3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    Text,
    Resp2,
    Resp3,
}

/// What one request led to, once its reply (if any) is in the output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// A reply was appended (possibly empty: in line framing that is an empty line).
    pub replied: bool,
    /// The reply is an error; counted in the stats.
    pub error: bool,
    /// The connection closes after the reply.
    pub close: bool,
}

impl Outcome {
    pub const REPLY: Outcome = Outcome { replied: true, error: false, close: false };
    pub const ERROR: Outcome = Outcome { replied: true, error: true, close: false };
    pub const CLOSE: Outcome = Outcome { replied: false, error: false, close: true };
    pub const NOTHING: Outcome = Outcome { replied: false, error: false, close: false };

    pub fn and_close(self) -> Outcome {
        Outcome { close: true, ..self }
    }
}

/// Appends replies to a connection's output in its wire format. Built-in commands write
/// through it directly (no `Reply` value, no allocation); handlers' values go through
/// `value`. Text replies are made one line later by the connection (`seal_reply`).
pub(crate) struct ReplyOut<'a> {
    pub buf: &'a mut Vec<u8>,
    pub wire: Wire,
}

impl ReplyOut<'_> {
    pub fn new(buf: &mut Vec<u8>, wire: Wire) -> ReplyOut<'_> {
        ReplyOut { buf, wire }
    }

    /// Bytes as a bulk string (text: the bytes themselves).
    #[inline]
    pub fn bulk(&mut self, bytes: &[u8]) -> Outcome {
        if self.wire != Wire::Text {
            self.buf.push(b'$');
            self.number(bytes.len() as i64);
        }
        self.buf.extend_from_slice(bytes);
        self.end_resp();
        Outcome::REPLY
    }

    /// Several pieces as one bulk string.
    pub fn bulk_parts(&mut self, parts: &[&[u8]]) -> Outcome {
        if self.wire != Wire::Text {
            self.buf.push(b'$');
            self.number(parts.iter().map(|p| p.len()).sum::<usize>() as i64);
        }
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        self.end_resp();
        Outcome::REPLY
    }

    /// A status text (`+PONG`; text: the text itself).
    #[inline]
    pub fn simple(&mut self, text: &[u8]) -> Outcome {
        if self.wire == Wire::Text {
            self.buf.extend_from_slice(text);
        } else {
            self.buf.push(b'+');
            self.buf.extend(text.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
            self.buf.extend_from_slice(b"\r\n");
        }
        Outcome::REPLY
    }

    pub fn integer(&mut self, n: i64) -> Outcome {
        if self.wire != Wire::Text {
            self.buf.push(b':');
        }
        self.number(n);
        Outcome::REPLY
    }

    /// No value: null over RESP, no reply at all as text.
    pub fn null(&mut self) -> Outcome {
        match self.wire {
            Wire::Text => return Outcome::NOTHING,
            Wire::Resp2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Wire::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
        Outcome::REPLY
    }

    /// An error reply made of formatted text (see `Reply::Error` for the code rule).
    pub fn error(&mut self, text: std::fmt::Arguments<'_>) -> Outcome {
        match text.as_str() {
            Some(s) => self.error_text(s.as_bytes()),
            None => self.error_text(text.to_string().as_bytes()),
        }
    }

    /// An error reply; `text` may begin with a redis error code (`WRONGTYPE ...`).
    pub fn error_text(&mut self, text: &[u8]) -> Outcome {
        let coded = has_error_code(text);
        if self.wire == Wire::Text {
            self.buf.extend_from_slice(b"error: ");
            self.buf.extend_from_slice(text.strip_prefix(b"ERR ").unwrap_or(text));
        } else {
            self.buf.push(b'-');
            if !coded {
                self.buf.extend_from_slice(b"ERR ");
            }
            self.buf.extend(text.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }));
            self.buf.extend_from_slice(b"\r\n");
        }
        Outcome::ERROR
    }

    /// An aggregate's header (RESP only: `*N`, or `%N` for a map in RESP3).
    fn header(&mut self, kind: u8, n: usize) {
        self.buf.push(kind);
        self.number(n as i64);
    }

    /// Any typed value.
    pub fn value(&mut self, reply: &Reply) -> Outcome {
        match reply {
            Reply::Bulk(b) => self.bulk(b),
            Reply::Simple(s) => self.simple(s.as_bytes()),
            Reply::Integer(n) => self.integer(*n),
            Reply::Null => self.null(),
            Reply::Error(e) => self.error_text(e.as_bytes()),
            Reply::Verbatim(text) => {
                if self.wire == Wire::Resp3 {
                    self.header(b'=', text.len() + 4);
                    self.buf.extend_from_slice(b"txt:");
                    self.buf.extend_from_slice(text.as_bytes());
                    self.buf.extend_from_slice(b"\r\n");
                    Outcome::REPLY
                } else {
                    self.bulk(text.as_bytes())
                }
            }
            Reply::Double(d) => {
                let digits = double_text(*d);
                if self.wire == Wire::Resp3 {
                    self.buf.push(b',');
                    self.buf.extend_from_slice(digits.as_bytes());
                    self.buf.extend_from_slice(b"\r\n");
                    Outcome::REPLY
                } else {
                    self.bulk(digits.as_bytes())
                }
            }
            Reply::Array(_) | Reply::Map(_) if self.wire == Wire::Text => {
                json(self.buf, reply);
                Outcome::REPLY
            }
            Reply::Array(items) => {
                self.header(b'*', items.len());
                for item in items {
                    self.value(item);
                }
                Outcome::REPLY
            }
            Reply::Map(pairs) => {
                if self.wire == Wire::Resp3 {
                    self.header(b'%', pairs.len());
                } else {
                    self.header(b'*', pairs.len() * 2);
                }
                for (k, v) in pairs {
                    self.value(k);
                    self.value(v);
                }
                Outcome::REPLY
            }
        }
    }

    fn number(&mut self, n: i64) {
        let mut digits = itoa::Buffer::new();
        self.buf.extend_from_slice(digits.format(n).as_bytes());
        if self.wire != Wire::Text {
            self.buf.extend_from_slice(b"\r\n");
        }
    }

    fn end_resp(&mut self) {
        if self.wire != Wire::Text {
            self.buf.extend_from_slice(b"\r\n");
        }
    }
}

/// Whether an error text starts with a redis error code: a word of capitals (`ERR`, `NOAUTH`).
fn has_error_code(text: &[u8]) -> bool {
    let word = text.split(|&b| b == b' ').next().unwrap_or_default();
    word.len() >= 2 && word.iter().all(|b| b.is_ascii_uppercase())
}

fn double_text(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{d}")
    }
}

/// A value as one line of JSON (text framing's arrays and maps).
fn json(out: &mut Vec<u8>, reply: &Reply) {
    match reply {
        Reply::Bulk(b) => json_string(out, &String::from_utf8_lossy(b)),
        Reply::Simple(s) | Reply::Verbatim(s) => json_string(out, s),
        Reply::Error(e) => json_string(out, &format!("error: {}", e.strip_prefix("ERR ").unwrap_or(e))),
        Reply::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        Reply::Double(d) if d.is_finite() => {
            let _ = write!(out, "{d}");
        }
        Reply::Double(_) | Reply::Null => out.extend_from_slice(b"null"),
        Reply::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                json(out, item);
            }
            out.push(b']');
        }
        Reply::Map(pairs) => {
            out.push(b'{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                // JSON keys are strings: a non-string key is written as its JSON text.
                match k {
                    Reply::Bulk(_) | Reply::Simple(_) | Reply::Verbatim(_) => json(out, k),
                    other => {
                        let mut key = Vec::new();
                        json(&mut key, other);
                        json_string(out, &String::from_utf8_lossy(&key));
                    }
                }
                out.extend_from_slice(b": ");
                json(out, v);
            }
            out.push(b'}');
        }
    }
}

/// A JSON string literal (`ls`'s escaping: quotes, backslashes, control characters and the
/// two JavaScript line separators).
pub(crate) fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(reply: &Reply, wire: Wire) -> (Outcome, Vec<u8>) {
        let mut buf = Vec::new();
        let outcome = ReplyOut::new(&mut buf, wire).value(reply);
        (outcome, buf)
    }

    fn text(reply: &Reply, wire: Wire) -> String {
        String::from_utf8(render(reply, wire).1).unwrap()
    }

    #[test]
    fn every_value_in_every_wire() {
        let nested = Reply::Array(vec![
            Reply::from("a\"b"),
            Reply::Integer(-3),
            Reply::Null,
            Reply::Array(vec![Reply::Simple("OK".into())]),
        ]);
        assert_eq!(text(&nested, Wire::Text), r#"["a\"b", -3, null, ["OK"]]"#);
        assert_eq!(text(&nested, Wire::Resp2), "*4\r\n$3\r\na\"b\r\n:-3\r\n$-1\r\n*1\r\n+OK\r\n");
        assert_eq!(text(&nested, Wire::Resp3), "*4\r\n$3\r\na\"b\r\n:-3\r\n_\r\n*1\r\n+OK\r\n");
        let map = Reply::Map(vec![(Reply::from("k"), Reply::Integer(1))]);
        assert_eq!(text(&map, Wire::Text), r#"{"k": 1}"#);
        assert_eq!(text(&map, Wire::Resp2), "*2\r\n$1\r\nk\r\n:1\r\n");
        assert_eq!(text(&map, Wire::Resp3), "%1\r\n$1\r\nk\r\n:1\r\n");
        assert_eq!(text(&Reply::Verbatim("x".into()), Wire::Resp3), "=5\r\ntxt:x\r\n");
        assert_eq!(text(&Reply::Verbatim("x".into()), Wire::Resp2), "$1\r\nx\r\n");
        assert_eq!(text(&Reply::Double(1.5), Wire::Resp3), ",1.5\r\n");
        assert_eq!(text(&Reply::Double(1.5), Wire::Resp2), "$3\r\n1.5\r\n");
        assert_eq!(render(&Reply::Null, Wire::Text), (Outcome::NOTHING, Vec::new()));
        assert_eq!(text(&Reply::Simple("a\r\nb".into()), Wire::Resp2), "+a  b\r\n");
    }

    #[test]
    fn errors_keep_or_add_their_code() {
        assert_eq!(render(&Reply::Error("ERR bad".into()), Wire::Text), (Outcome::ERROR, b"error: bad".to_vec()));
        assert_eq!(text(&Reply::Error("ERR bad".into()), Wire::Resp2), "-ERR bad\r\n");
        assert_eq!(text(&Reply::Error("WRONGTYPE no".into()), Wire::Text), "error: WRONGTYPE no");
        assert_eq!(text(&Reply::Error("WRONGTYPE no".into()), Wire::Resp3), "-WRONGTYPE no\r\n");
        assert_eq!(text(&Reply::Error("internal error".into()), Wire::Resp2), "-ERR internal error\r\n");
        assert_eq!(text(&Reply::Error("a\nb".into()), Wire::Resp2), "-ERR a b\r\n");
    }

    #[test]
    fn conversions() {
        assert_eq!(Reply::from(vec!["a", "b"]), Reply::Array(vec![Reply::from("a"), Reply::from("b")]));
        assert_eq!(Reply::from(None::<i64>), Reply::Null);
        assert_eq!(Reply::from(Some(7i64)), Reply::Integer(7));
    }
}
