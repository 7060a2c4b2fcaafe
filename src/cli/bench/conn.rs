//! One connection of `netcore bench`: opening it (TLS and greeting included), writing its
//! batch, reading and checking its replies, and counting what it loses when it goes.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::{Errors, Plan};
use crate::cli::client::explain;
use crate::cli::Failure;
use crate::client::{connect_socket, Interrupt};
use crate::error::Error;
use crate::socket::wait::wait_fd;
use crate::socket::Socket;
use crate::tls::session::{PolledTls, TlsSession};

/// Longest reply line accepted.
pub(super) const MAX_REPLY: usize = 1 << 20;
pub(super) struct Conn {
    pub(super) socket: Socket,
    /// The TLS session over `socket` (--tls).
    pub(super) tls: Option<PolledTls>,
    /// A batch was sent on it (--reconnect then replaces it once the batch is answered).
    pub(super) used: bool,
    pub(super) out: Vec<u8>,
    pub(super) out_pos: usize,
    pub(super) inbuf: Vec<u8>,
    /// Send time of each outstanding request, oldest first.
    pub(super) in_flight: VecDeque<Instant>,
    pub(super) alive: bool,
}

/// Reads from the connection: the socket's bytes, or with TLS the decrypted ones.
pub(super) fn read_from(socket: &Socket, tls: Option<&mut PolledTls>, chunk: &mut [u8]) -> io::Result<usize> {
    match tls {
        Some(t) => t.read(socket, chunk),
        None => (&*socket).read(chunk),
    }
}

/// Connects (and shakes hands with --tls), then skips the greeting.
pub(super) fn open_conn(plan: &Plan) -> Result<Conn, Failure> {
    let deadline = Some(Instant::now() + plan.timeout);
    let fail = |e: Error| Failure::network(format!("cannot connect to {}: {}", plan.target, explain(&e, plan.timeout)));
    let socket = connect_socket(&plan.target, Some(plan.timeout), &mut Interrupt::none()).map_err(fail)?;
    let mut tls = match &plan.tls {
        Some(t) => Some(PolledTls::from_session(
            TlsSession::handshake(&socket, t.config.clone(), t.name.clone(), deadline, &mut Interrupt::none())
                .map_err(fail)?,
        )),
        None => None,
    };
    let mut inbuf = Vec::with_capacity(16 * 1024);
    if plan.greeting_lines > 0 {
        skip_greeting(&socket, tls.as_mut(), plan.greeting_lines, plan.timeout, &mut inbuf).map_err(|e| {
            Failure::network(format!(
                "no greeting of {} line(s) from {}: {}",
                plan.greeting_lines,
                plan.target,
                explain(&e, plan.timeout)
            ))
        })?;
    }
    Ok(Conn {
        socket,
        tls,
        used: false,
        out: Vec::new(),
        out_pos: 0,
        inbuf,
        in_flight: VecDeque::with_capacity(plan.pipeline),
        alive: true,
    })
}

/// Bytes wait to be written: the batch, or with TLS its encrypted records.
pub(super) fn has_output(c: &Conn) -> bool {
    c.out_pos < c.out.len() || c.tls.as_ref().is_some_and(PolledTls::wants_write)
}

/// Reads and discards `lines` lines from a fresh connection (a server's greeting); bytes
/// after them stay in `inbuf` as the start of the replies.
pub(super) fn skip_greeting(
    socket: &Socket,
    mut tls: Option<&mut PolledTls>,
    lines: usize,
    timeout: Duration,
    inbuf: &mut Vec<u8>,
) -> Result<(), Error> {
    let deadline = Some(Instant::now() + timeout);
    let mut seen = 0;
    let mut chunk = [0u8; 4096];
    while seen < lines {
        match read_from(socket, tls.as_deref_mut(), &mut chunk) {
            Ok(0) => return Err(Error::ConnectionClosed),
            Ok(n) => inbuf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_fd(socket.fileno(), libc::POLLIN, deadline, &mut Interrupt::none())?;
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Os(e)),
        }
        while seen < lines {
            let Some(pos) = inbuf.iter().position(|&b| b == b'\n') else { break };
            inbuf.drain(..=pos);
            seen += 1;
        }
        if inbuf.len() > MAX_REPLY {
            return Err(Error::LineTooLong { limit: MAX_REPLY });
        }
    }
    Ok(())
}

/// Writes what is pending on a non-blocking connection. A batch's requests are stamped just
/// before its first byte is written (as redis-benchmark does), so the time a batch waits
/// behind other connections' writes in this one thread is not counted as the server's latency.
pub(super) fn send_pending(c: &mut Conn) -> io::Result<()> {
    let first_write = c.out_pos == 0;
    let at = Instant::now();
    if let Some(tls) = &mut c.tls {
        // rustls takes the whole batch at once; the records go out as the socket takes them.
        if c.out_pos < c.out.len() {
            tls.write(&c.socket, &c.out[c.out_pos..])?;
            c.out_pos = c.out.len();
            if first_write {
                c.in_flight.iter_mut().for_each(|sent| *sent = at);
            }
            return Ok(());
        }
        return tls.flush(&c.socket);
    }
    match (&c.socket).write(&c.out[c.out_pos..]) {
        Ok(n) => {
            if first_write && n > 0 {
                c.in_flight.iter_mut().for_each(|sent| *sent = at);
            }
            c.out_pos += n;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => Ok(()),
        Err(e) => Err(e),
    }
}

pub(super) fn drop_conn(c: &mut Conn, errors: &mut Errors, lost: &mut usize, why: Error) {
    let outstanding = c.in_flight.len() as u64;
    match why {
        Error::Timeout => errors.timeout += outstanding,
        Error::ConnectionClosed => errors.closed += outstanding,
        Error::Os(ref e) if matches!(e.raw_os_error(), Some(libc::ECONNRESET | libc::EPIPE)) => {
            errors.closed += outstanding
        }
        _ => errors.other += outstanding,
    }
    errors.note(|| match why {
        Error::Timeout => "no reply within the timeout".to_string(),
        Error::ConnectionClosed => "the server closed a connection".to_string(),
        e => e.to_string(),
    });
    c.in_flight.clear();
    c.alive = false;
    *lost += 1;
}

#[allow(clippy::too_many_arguments)]
pub(super) fn read_replies(
    c: &mut Conn,
    plan: &Plan,
    chunk: &mut [u8],
    now: Instant,
    histogram: &mut Histogram<u64>,
    ok: &mut u64,
    errors: &mut Errors,
    lost: &mut usize,
) {
    // Replies that arrived before an EOF or error still count.
    let mut gone: Option<Error> = None;
    loop {
        match read_from(&c.socket, c.tls.as_mut(), chunk) {
            Ok(0) => {
                gone = Some(Error::ConnectionClosed);
                break;
            }
            Ok(n) => c.inbuf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                gone = Some(Error::Os(e));
                break;
            }
        }
        if c.inbuf.len() > MAX_REPLY + 2 && !c.inbuf.contains(&b'\n') {
            break;
        }
    }
    let mut start = 0;
    let mut resp_error = None;
    while let Some((line, used)) = next_reply(&c.inbuf[start..], plan.resp, &mut resp_error) {
        start += used;
        let line: &[u8] = &line;
        let Some(sent) = c.in_flight.pop_front() else {
            errors.other += 1;
            errors.note(|| format!("unsolicited reply {:?}", String::from_utf8_lossy(line)));
            continue;
        };
        histogram.saturating_record(now.duration_since(sent).as_nanos().max(1) as u64);
        match &plan.expect {
            Some(want) if line != want.as_slice() => {
                errors.wrong_reply += 1;
                errors.note(|| {
                    format!(
                        "wrong reply {:?} (expected {:?})",
                        String::from_utf8_lossy(&line[..line.len().min(200)]),
                        String::from_utf8_lossy(want)
                    )
                });
            }
            _ => *ok += 1,
        }
    }
    c.inbuf.drain(..start);
    if let Some(why) = resp_error {
        drop_conn(c, errors, lost, why);
    } else if let Some(why) = gone {
        drop_conn(c, errors, lost, why);
    } else if c.inbuf.len() > MAX_REPLY {
        drop_conn(c, errors, lost, Error::LineTooLong { limit: MAX_REPLY });
    }
}

/// The next complete reply at the start of `inbuf` and the bytes it took: a line without its
/// ending, or (RESP) the value as text (`PONG`, `42`, a bulk string's bytes, `-ERR ...`).
/// A RESP protocol error ends the connection (`resp_error`).
pub(super) fn next_reply<'a>(
    inbuf: &'a [u8],
    resp: bool,
    resp_error: &mut Option<Error>,
) -> Option<(std::borrow::Cow<'a, [u8]>, usize)> {
    use std::borrow::Cow;
    if !resp {
        let pos = inbuf.iter().position(|&b| b == b'\n')?;
        let line = &inbuf[..pos];
        return Some((Cow::Borrowed(line.strip_suffix(b"\r").unwrap_or(line)), pos + 1));
    }
    let limits = crate::server::resp::ReplyLimits { max_reply: MAX_REPLY, ..Default::default() };
    match crate::server::resp::parse_reply(inbuf, limits) {
        Ok(Some((reply, used))) => Some((Cow::Owned(reply_text(&reply)), used)),
        Ok(None) => None,
        Err(e) => {
            *resp_error = Some(Error::Os(io::Error::new(io::ErrorKind::InvalidData, e.to_string())));
            None
        }
    }
}

/// A RESP reply as `--expect` compares it.
pub(super) fn reply_text(reply: &crate::server::Reply) -> Vec<u8> {
    use crate::server::Reply;
    match reply {
        Reply::Bulk(b) => b.clone(),
        Reply::Simple(s) | Reply::Verbatim(s) => s.clone().into_bytes(),
        Reply::Error(e) => format!("-{e}").into_bytes(),
        other => crate::client::resp::display_reply(other).into_bytes(),
    }
}
