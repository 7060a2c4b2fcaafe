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

impl Stats {
    /// "1 connection, 5 requests (0 errors, 0 rejected)": the shutdown summary, with plurals
    /// right for 0, 1 and N.
    pub fn summary(&self) -> String {
        format!(
            "{}, {} ({}, {} rejected)",
            count(self.connections_total, "connection"),
            count(self.requests, "request"),
            count(self.errors, "error"),
            self.rejected
        )
    }
}

/// "1 request", "0 requests", "2 requests".
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_one_connection_and_two_requests() {
        let stats =
            |connections_total, requests, errors| Stats { connections_total, requests, errors, ..Stats::default() };
        assert_eq!(stats(0, 0, 0).summary(), "0 connections, 0 requests (0 errors, 0 rejected)");
        assert_eq!(stats(1, 1, 1).summary(), "1 connection, 1 request (1 error, 0 rejected)");
        assert_eq!(stats(2, 5, 3).summary(), "2 connections, 5 requests (3 errors, 0 rejected)");
    }
}
