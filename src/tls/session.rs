//! A client TLS session over one of `crate::client`'s non-blocking sockets: the handshake,
//! reads and writes wait with the socket layer's `wait_fd`, so timeouts and interrupt checks
//! work as in plain TCP.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::socket::wait::{wait_fd, Interrupt};
use crate::socket::Socket;
use rustls::pki_types::ServerName;
use rustls::ClientConnection;

/// The socket as rustls reads and writes it (writes without SIGPIPE).
struct Wire<'a>(&'a Socket);

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub struct TlsSession {
    conn: ClientConnection,
    host: String,
}

impl std::fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSession").field("host", &self.host).finish()
    }
}

impl TlsSession {
    /// Runs the handshake on a connected socket.
    pub fn handshake(
        socket: &Socket,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
        deadline: Option<Instant>,
        intr: &mut Interrupt<'_>,
    ) -> Result<TlsSession> {
        let host = name.to_str().into_owned();
        let conn = ClientConnection::new(config, name).map_err(|e| Error::Tls(super::describe(&e)))?;
        let mut session = TlsSession { conn, host };
        while session.conn.is_handshaking() {
            if session.conn.wants_write() {
                session.write_out(socket, deadline, intr)?;
            } else if session.read_in(socket, deadline, intr)? == 0 {
                return Err(Error::Tls("the server closed the connection during the TLS handshake".into()));
            }
        }
        session.write_out(socket, deadline, intr)?;
        Ok(session)
    }

    /// Sends everything rustls has queued.
    fn write_out(&mut self, socket: &Socket, deadline: Option<Instant>, intr: &mut Interrupt<'_>) -> Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut Wire(socket)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_fd(socket.fileno(), libc::POLLOUT, deadline, intr)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Os(e)),
            }
        }
        Ok(())
    }

    /// Reads TLS records from the socket (waiting for some) and processes them; 0 at the
    /// end of the stream.
    fn read_in(&mut self, socket: &Socket, deadline: Option<Instant>, intr: &mut Interrupt<'_>) -> Result<usize> {
        loop {
            match self.conn.read_tls(&mut Wire(socket)) {
                Ok(0) => return Ok(0),
                Ok(n) => {
                    if let Err(e) = self.conn.process_new_packets() {
                        // Tell the server why (the alert rustls queued), then fail.
                        let _ = self.conn.write_tls(&mut Wire(socket));
                        return Err(super::handshake_error(&e, &self.host));
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_fd(socket.fileno(), libc::POLLIN, deadline, intr)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Os(e)),
            }
        }
    }

    /// Appends decrypted bytes to `buf`, waiting up to `deadline`; 0 when the server closed.
    pub fn read(
        &mut self,
        socket: &Socket,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
        intr: &mut Interrupt<'_>,
    ) -> Result<usize> {
        loop {
            let mut chunk = [0u8; 16384];
            match self.conn.reader().read(&mut chunk) {
                Ok(0) => return Ok(0),
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                // A close without close_notify: the end of the stream, as for TCP.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.read_in(socket, deadline, intr)? == 0 {
                        return Ok(0);
                    }
                    // Key updates and tickets may need an answer.
                    self.write_out(socket, deadline, intr)?;
                }
                Err(e) => return Err(Error::Os(e)),
            }
        }
    }

    /// Encrypts and sends all of `data`.
    pub fn send_all(
        &mut self,
        socket: &Socket,
        data: &[u8],
        deadline: Option<Instant>,
        intr: &mut Interrupt<'_>,
    ) -> Result<()> {
        self.conn.writer().write_all(data)?;
        self.write_out(socket, deadline, intr)
    }

    /// Sends close_notify (best effort, never waits).
    pub fn close(&mut self, socket: &Socket) {
        self.conn.send_close_notify();
        let _ = self.conn.write_tls(&mut Wire(socket));
    }
}

/// A non-blocking client connection driven by a poll loop (`netcore bench`): reads and
/// writes that never wait, reporting `WouldBlock` as the socket does.
pub struct PolledTls {
    conn: ClientConnection,
}

impl PolledTls {
    /// The session after a finished handshake.
    pub fn from_session(session: TlsSession) -> Self {
        PolledTls { conn: session.conn }
    }

    /// Whether encrypted bytes wait to be sent (poll for POLLOUT).
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Takes all of `data` (rustls buffers it), then sends what the socket accepts now.
    pub fn write(&mut self, socket: &Socket, data: &[u8]) -> io::Result<()> {
        self.conn.writer().write_all(data)?;
        self.flush(socket)
    }

    /// Sends what the socket accepts of the queued records.
    pub fn flush(&mut self, socket: &Socket) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut Wire(socket)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Decrypted bytes into `buf` as `Read::read` would give them from the socket: `Ok(0)` at
    /// the end, `WouldBlock` when nothing is there yet.
    pub fn read(&mut self, socket: &Socket, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            match self.conn.read_tls(&mut Wire(socket)) {
                Ok(0) => return Ok(0),
                Ok(_) => {
                    self.conn.process_new_packets().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
