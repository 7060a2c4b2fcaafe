//! The server's counters: updated with relaxed atomics on the request path, read as `Stats`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Stream clients connected now.
    pub connections_open: u64,
    /// Stream clients accepted since start (rejected ones not included).
    pub connections_total: u64,
    /// Requests received (lines, messages, datagrams).
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Error replies, failed handlers, I/O errors and limit violations.
    pub errors: u64,
    /// Clients turned away: over max_connections, wrong token, HTTP-looking requests.
    pub rejected: u64,
    /// Connection handshakes completed: PROXY protocol headers accepted (and TLS, where used).
    pub handshakes: u64,
    /// Connections refused during a handshake: no valid PROXY header in time.
    pub handshake_failures: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) open: AtomicU64,
    pub(super) total: AtomicU64,
    pub(super) requests: AtomicU64,
    pub(super) bytes_in: AtomicU64,
    pub(super) bytes_out: AtomicU64,
    pub(super) errors: AtomicU64,
    pub(super) rejected: AtomicU64,
    pub(super) handshakes: AtomicU64,
    pub(super) handshake_failures: AtomicU64,
}

impl Counters {
    pub(super) fn snapshot(&self) -> Stats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            connections_open: get(&self.open),
            connections_total: get(&self.total),
            requests: get(&self.requests),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            errors: get(&self.errors),
            rejected: get(&self.rejected),
            handshakes: get(&self.handshakes),
            handshake_failures: get(&self.handshake_failures),
        }
    }
}

pub(super) fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}
