//! RESP on the client: commands go out as arrays of bulk strings, replies come back typed
//! (`Reply`), so the same client talks to a netcore `resp` server and to redis-server.

use super::{Client, Filled, Interrupt};
use crate::error::{Error, Result};
use crate::server::resp::{parse_reply, ProtocolError, ReplyLimits};
use crate::server::Reply;

/// Appends `argv` as one RESP request (an array of bulk strings).
pub fn encode_command(argv: &[&[u8]], out: &mut Vec<u8>) {
    let mut digits = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(digits.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in argv {
        out.push(b'$');
        out.extend_from_slice(digits.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// A reply that is not RESP: the connection cannot be trusted after it.
fn protocol_error(e: ProtocolError) -> Error {
    Error::Os(std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
}

impl Client {
    fn reply_limits(&self) -> ReplyLimits {
        ReplyLimits { max_reply: self.opts.max_reply, ..ReplyLimits::default() }
    }

    /// Takes one complete reply out of the received bytes, if there is one.
    fn take_reply(&mut self) -> Result<Option<Reply>> {
        match parse_reply(&self.buf, self.reply_limits()).map_err(protocol_error)? {
            Some((reply, used)) => {
                self.buf.drain(..used);
                Ok(Some(reply))
            }
            None => Ok(None),
        }
    }

    fn read_reply_inner(&mut self, intr: &mut Interrupt<'_>) -> Result<Reply> {
        loop {
            if let Some(reply) = self.take_reply()? {
                return Ok(reply);
            }
            if let Filled::Eof = self.fill_reply(intr)? {
                return Err(Error::ConnectionClosed);
            }
        }
    }

    /// Sends one command (`["SET", "k", "v"]`) as RESP and returns its typed reply; an error
    /// reply (`-ERR ...`) is `Ok(Reply::Error)`, the connection stays usable.
    pub fn command(&mut self, argv: &[&[u8]]) -> Result<Reply> {
        self.command_checked(argv, Interrupt::none())
    }

    /// `command` with an interrupt check.
    pub fn command_checked(&mut self, argv: &[&[u8]], intr: Interrupt<'_>) -> Result<Reply> {
        if argv.is_empty() {
            return Err(Error::InvalidArgument("a command needs at least its name".into()));
        }
        let mut out = Vec::new();
        encode_command(argv, &mut out);
        self.guarded(intr, |c, intr| {
            c.send_data(&out, intr)?;
            c.read_reply_inner(intr)
        })
    }

    /// Reads one RESP reply (to something sent with `send`, or a RESP3 push).
    pub fn read_reply_checked(&mut self, intr: Interrupt<'_>) -> Result<Reply> {
        self.guarded(intr, |c, intr| c.read_reply_inner(intr))
    }

    /// Sends every command at once and returns the replies in order.
    pub fn command_pipeline(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<Reply>> {
        let mut out = Vec::new();
        for argv in commands {
            let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            if argv.is_empty() {
                return Err(Error::InvalidArgument("a command needs at least its name".into()));
            }
            encode_command(&argv, &mut out);
        }
        self.guarded(Interrupt::none(), |c, intr| {
            c.send_data(&out, intr)?;
            (0..commands.len()).map(|_| c.read_reply_inner(intr)).collect()
        })
    }
}

/// A reply as redis-cli prints it: `"text"`, `(integer) 1`, `(nil)`, `(error) ERR ...`,
/// numbered array elements.
pub fn display_reply(reply: &Reply) -> String {
    let mut out = String::new();
    display_into(reply, 0, &mut out);
    out
}

fn display_into(reply: &Reply, indent: usize, out: &mut String) {
    match reply {
        Reply::Bulk(b) => out.push_str(&format!("{:?}", String::from_utf8_lossy(b))),
        Reply::Simple(s) => out.push_str(s),
        Reply::Verbatim(s) => out.push_str(s),
        Reply::Integer(n) => out.push_str(&format!("(integer) {n}")),
        Reply::Double(d) => out.push_str(&format!("(double) {d}")),
        Reply::Null => out.push_str("(nil)"),
        Reply::Error(e) => out.push_str(&format!("(error) {e}")),
        Reply::Array(items) if items.is_empty() => out.push_str("(empty array)"),
        Reply::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent));
                }
                let label = format!("{}) ", i + 1);
                out.push_str(&label);
                display_into(item, indent + label.len(), out);
            }
        }
        Reply::Map(pairs) if pairs.is_empty() => out.push_str("(empty hash)"),
        Reply::Map(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                    out.push_str(&" ".repeat(indent));
                }
                let label = format!("{}# ", i + 1);
                out.push_str(&label);
                display_into(k, indent + label.len(), out);
                out.push_str(" => ");
                display_into(v, indent + label.len() + 4, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_as_arrays_and_replies_display_as_redis_cli() {
        let mut out = Vec::new();
        encode_command(&[b"SET", b"k", b"a b"], &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n");
        let reply = Reply::Array(vec![Reply::from("a"), Reply::Integer(2), Reply::Array(vec![Reply::Null])]);
        assert_eq!(display_reply(&reply), "1) \"a\"\n2) (integer) 2\n3) 1) (nil)");
        assert_eq!(display_reply(&Reply::Error("ERR x".into())), "(error) ERR x");
    }
}
