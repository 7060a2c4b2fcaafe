//! Pipelines: many request lines in flight on one connection, their replies kept in one
//! buffer (`ReplyLines`) rather than one allocation per line, so a pipeline of 1000 costs
//! what a plain socket client's `sendall` and 1000 `readline()`s cost.

use std::time::Duration;

use super::{deadline_after, recv_into, strip_terminator, unless_would_block, Client, Filled, Interrupt};
use crate::error::{Error, Result};
use crate::socket::wait::{wait_fd, Mode};

/// Reply lines (without their terminators) in one buffer, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplyLines {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl ReplyLines {
    fn with_capacity(lines: usize) -> ReplyLines {
        ReplyLines { data: Vec::new(), ends: Vec::with_capacity(lines) }
    }

    fn push(&mut self, line: &[u8]) {
        self.data.extend_from_slice(line);
        self.ends.push(self.data.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`th reply line.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.data[start..end])
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// One `Vec` per line, as `Client::pipeline` returns them.
    pub fn to_vecs(&self) -> Vec<Vec<u8>> {
        self.iter().map(<[u8]>::to_vec).collect()
    }
}

impl Client {
    /// Appends `line` and its `\n` to `out`: the line framing's one rule for a request
    /// (no newline inside it).
    pub fn push_line(out: &mut Vec<u8>, line: &[u8]) -> Result<()> {
        if line.contains(&b'\n') {
            return Err(Error::InvalidArgument("a request line must not contain a newline".into()));
        }
        out.extend_from_slice(line);
        out.push(b'\n');
        Ok(())
    }

    /// Sends every line, keeping them all in flight, and returns the replies in order.
    /// Sending and reading overlap, so a long pipeline cannot deadlock on full buffers.
    pub fn pipeline<L: AsRef<[u8]>>(&mut self, lines: &[L]) -> Result<Vec<Vec<u8>>> {
        self.pipeline_checked(lines, Interrupt::none())
    }

    /// `pipeline` with an interrupt check.
    pub fn pipeline_checked<L: AsRef<[u8]>>(&mut self, lines: &[L], intr: Interrupt<'_>) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for line in lines {
            Client::push_line(&mut out, line.as_ref())?;
        }
        Ok(self.pipeline_framed_checked(&out, lines.len(), intr)?.to_vecs())
    }

    /// `pipeline` of `count` request lines already framed into `out` (with `push_line`),
    /// the replies in one buffer.
    pub fn pipeline_framed_checked(&mut self, out: &[u8], count: usize, intr: Interrupt<'_>) -> Result<ReplyLines> {
        if self.tls.is_some() {
            return self.guarded(intr, |c, intr| c.pipeline_tls(out, count, intr));
        }
        self.guarded(intr, |c, intr| c.pipeline_plain(out, count, intr))
    }

    /// The pipeline over TCP or Unix: sends without waiting while reading what has come
    /// back; once everything is sent, waits in `fill` (a blocking `recv`, as a stdlib client
    /// does, instead of a `recv` failing with EAGAIN, a `poll` and another `recv`).
    fn pipeline_plain(&mut self, out: &[u8], count: usize, intr: &mut Interrupt<'_>) -> Result<ReplyLines> {
        let mut replies = ReplyLines::with_capacity(count);
        let mut sent = 0;
        let mut scanned = 0;
        loop {
            self.take_lines(count, &mut replies, &mut scanned)?;
            if replies.len() == count {
                return Ok(replies);
            }
            if sent == out.len() {
                if let Filled::Eof = self.fill(self.opts.timeout, intr)? {
                    self.closed_mid_reply = !self.buf.is_empty();
                    return Err(Error::ConnectionClosed);
                }
                continue;
            }
            let Some(socket) = &self.socket else { return Err(Error::InvalidState("client is closed".into())) };
            let now = Mode::NonBlocking;
            sent += unless_would_block(socket.send_in(&out[sent..], libc::MSG_DONTWAIT, now, intr))?.unwrap_or(0);
            match unless_would_block(recv_into(socket, &mut self.buf, 16384, libc::MSG_DONTWAIT, now, intr))? {
                Some(0) => {
                    self.closed_mid_reply = !self.buf.is_empty();
                    return Err(Error::ConnectionClosed);
                }
                Some(_) => continue,
                None => {}
            }
            if sent < out.len() {
                wait_fd(socket.fileno(), libc::POLLIN | libc::POLLOUT, deadline_after(self.opts.timeout), intr)?;
            }
        }
    }

    /// The pipeline over TLS: sends a slice, then takes the replies already there, so
    /// neither side's buffers fill while the other waits.
    fn pipeline_tls(&mut self, out: &[u8], count: usize, intr: &mut Interrupt<'_>) -> Result<ReplyLines> {
        const SLICE: usize = 32 * 1024;
        let mut replies = ReplyLines::with_capacity(count);
        let mut scanned = 0;
        for part in out.chunks(SLICE) {
            self.send_data(part, intr)?;
            loop {
                self.take_lines(count, &mut replies, &mut scanned)?;
                match self.fill(Some(Duration::ZERO), intr) {
                    Ok(Filled::Bytes) => {}
                    Ok(Filled::Eof) => return Err(Error::ConnectionClosed),
                    Err(Error::Timeout) => break,
                    Err(e) => return Err(e),
                }
            }
        }
        loop {
            self.take_lines(count, &mut replies, &mut scanned)?;
            if replies.len() == count {
                return Ok(replies);
            }
            if let Filled::Eof = self.fill(self.opts.timeout, intr)? {
                return Err(Error::ConnectionClosed);
            }
        }
    }

    /// Moves the complete lines in `buf` into `replies` until it holds `want`, with one drain
    /// of `buf` for all of them (a drain per line moved the rest of a pipeline's replies once
    /// per reply). Checks the length limit as `take_line`.
    fn take_lines(&mut self, want: usize, replies: &mut ReplyLines, scanned: &mut usize) -> Result<()> {
        let limit = self.opts.max_reply;
        let mut start = 0;
        while replies.len() < want {
            let Some(pos) = self.buf[*scanned..].iter().position(|&b| b == b'\n') else { break };
            let end = *scanned + pos;
            let line = strip_terminator(&self.buf[start..end]);
            if line.len() > limit {
                return Err(Error::LineTooLong { limit });
            }
            replies.push(line);
            start = end + 1;
            *scanned = start;
        }
        self.buf.drain(..start);
        *scanned = self.buf.len();
        let pending = self.buf.len() - usize::from(self.buf.last() == Some(&b'\r'));
        if replies.len() < want && pending > limit {
            return Err(Error::LineTooLong { limit });
        }
        Ok(())
    }
}
