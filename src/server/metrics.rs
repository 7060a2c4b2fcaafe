//! The numbers a server exports beyond `Stats`: requests per command and a latency histogram,
//! and the Prometheus endpoint (`/metrics`) that serves them with the counters.
//!
//! Both are updated on the request path without locks: a connection tallies its commands
//! locally and adds them to shared atomics once per flush, as the engine does for its other
//! counters. The text format is `prometheus-client`'s and the HTTP side `tiny_http`'s.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::engine::Stats;
use crate::error::{Error, Result};

/// Upper bounds (seconds) of the latency buckets: 50 µs to 1 s, then `+Inf`.
pub const LATENCY_BUCKETS: [f64; 12] =
    [0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0];

/// Distinct command names counted one by one; any further name counts as `other`, so clients
/// sending random words cannot grow the label set.
const MAX_COMMAND_LABELS: usize = 64;
/// The label of requests that are no command of the server, and of names past the limit.
pub(crate) const OTHER: &[u8] = b"other";
/// Names a connection remembers the counter of (a miss costs a shared read lock).
const TALLY_CACHE: usize = 8;

/// Request latency: from the request's bytes being read to its reply being written.
#[derive(Default)]
pub(crate) struct LatencyHistogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl LatencyHistogram {
    /// Records `n` requests that took `elapsed` each (a batch read and answered together).
    pub(crate) fn observe(&self, elapsed: Duration, n: u64) {
        if n == 0 {
            return;
        }
        let secs = elapsed.as_secs_f64();
        let i = LATENCY_BUCKETS.iter().position(|&b| secs <= b).unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(n, Ordering::Relaxed);
        self.sum_nanos.fetch_add(elapsed.as_nanos().min(u64::MAX as u128) as u64 * n, Ordering::Relaxed);
        self.count.fetch_add(n, Ordering::Relaxed);
    }

    /// (sum in seconds, count, per-bucket counts) as prometheus-client encodes them (it
    /// makes the buckets cumulative itself).
    pub(crate) fn snapshot(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let buckets: Vec<(f64, u64)> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| (LATENCY_BUCKETS.get(i).copied().unwrap_or(f64::INFINITY), b.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|b| b.1).sum();
        (self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9, count, buckets)
    }
}

/// Requests per command name, shared by the connections of one server.
#[derive(Default)]
pub(crate) struct CommandCounts {
    named: RwLock<HashMap<Vec<u8>, Arc<AtomicU64>>>,
}

impl CommandCounts {
    fn counter(&self, name: &[u8]) -> Arc<AtomicU64> {
        if let Some(c) = self.named.read().unwrap_or_else(|e| e.into_inner()).get(name) {
            return c.clone();
        }
        let mut named = self.named.write().unwrap_or_else(|e| e.into_inner());
        let key = if named.len() >= MAX_COMMAND_LABELS && !named.contains_key(name) { OTHER } else { name };
        named.entry(key.to_vec()).or_default().clone()
    }

    /// (name, requests) sorted by name.
    pub(crate) fn snapshot(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .named
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.load(Ordering::Relaxed)))
            .collect();
        out.sort();
        out
    }
}

/// One connection's command counts since its last flush, keyed by the name as the client
/// sent it: a name seen before is counted without being classified again (lower-casing it,
/// looking it up among the built-in and the user commands: ~250 instructions a request).
#[derive(Default)]
pub(crate) struct CommandTally {
    /// (the name as sent, the counter of its label, requests since the last flush)
    entries: Vec<(Vec<u8>, Arc<AtomicU64>, u64)>,
    /// The dispatcher's generation the entries were classified under.
    generation: u64,
}

/// Longer names are classified every time rather than kept (the cache stays small).
const TALLY_NAME: usize = 32;

impl CommandTally {
    /// Counts a request for `sent` if this connection has classified that name before under
    /// the dispatcher's current `generation`; false if the caller must classify it.
    pub(crate) fn count_seen(&mut self, sent: &[u8], generation: u64) -> bool {
        if generation != self.generation {
            self.flush();
            self.entries.clear();
            self.generation = generation;
            return false;
        }
        match self.entries.iter_mut().find(|e| e.0 == sent) {
            Some(e) => {
                e.2 += 1;
                true
            }
            None => false,
        }
    }

    /// Counts one request for `sent`, classified as `label` (a command word, short and
    /// printable: a name the server recognises, or a fixed label).
    pub(crate) fn count(&mut self, counts: &CommandCounts, sent: &[u8], label: &[u8]) {
        let counter = counts.counter(label);
        if self.entries.len() < TALLY_CACHE && sent.len() <= TALLY_NAME {
            self.entries.push((sent.to_vec(), counter, 1));
        } else {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds the counts to the shared counters.
    pub(crate) fn flush(&mut self) {
        for e in &mut self.entries {
            if e.2 > 0 {
                e.1.fetch_add(std::mem::take(&mut e.2), Ordering::Relaxed);
            }
        }
    }
}

/// Everything a scrape or the `stats` command reports, taken at one moment.
pub(crate) struct Report {
    pub stats: Stats,
    pub commands: Vec<(String, u64)>,
    pub latency: (f64, u64, Vec<(f64, u64)>),
}

impl Report {
    /// The `stats` command's reply: `key=value` pairs on one line, the same numbers as
    /// `/metrics`.
    pub(crate) fn line(&self) -> String {
        let s = &self.stats;
        let mut out = format!(
            "connections_open={} connections_total={} requests={} bytes_in={} bytes_out={} errors={} rejected={} \
             handshakes={} handshake_failures={}",
            s.connections_open,
            s.connections_total,
            s.requests,
            s.bytes_in,
            s.bytes_out,
            s.errors,
            s.rejected,
            s.handshakes,
            s.handshake_failures
        );
        for (name, n) in &self.commands {
            out.push_str(&format!(" cmd_{name}={n}"));
        }
        out
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub(crate) fn prometheus_text(self) -> String {
        let mut registry = Registry::with_prefix("netcore");
        registry.register_collector(Box::new(ReportCollector(self)));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
        text
    }
}

#[derive(Debug)]
struct ReportCollector(Report);

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report").field("stats", &self.stats).finish()
    }
}

impl Collector for ReportCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::result::Result<(), std::fmt::Error> {
        let s = &self.0.stats;
        let counters: [(&str, &str, u64); 9] = [
            ("connections", "Stream clients accepted", s.connections_total),
            ("requests", "Requests received (lines, messages, datagrams)", s.requests),
            ("received_bytes", "Bytes read from clients", s.bytes_in),
            ("sent_bytes", "Bytes written to clients", s.bytes_out),
            ("errors", "Error replies, failed handlers, I/O errors and limit violations", s.errors),
            ("rejected", "Clients turned away (connection limit, token, HTTP, PROXY header)", s.rejected),
            ("handshakes", "Connection handshakes completed (PROXY header, TLS)", s.handshakes),
            ("handshake_failures", "Connection handshakes refused or timed out", s.handshake_failures),
            ("connections_closed", "Stream clients gone", s.connections_total.saturating_sub(s.connections_open)),
        ];
        for (name, help, value) in counters {
            let c = ConstCounter::new(value);
            c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        let open = ConstGauge::new(s.connections_open as i64);
        open.encode(encoder.encode_descriptor(
            "connections_open",
            "Stream clients connected now",
            None,
            open.metric_type(),
        )?)?;
        let mut family =
            encoder.encode_descriptor("command_requests", "Requests per command", None, MetricType::Counter)?;
        for (name, n) in &self.0.commands {
            let labels = [("command", name.as_str())];
            ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
        }
        let (sum, count, buckets) = &self.0.latency;
        let mut h = encoder.encode_descriptor(
            "request_duration_seconds",
            "Time from reading a request to writing its reply",
            None,
            MetricType::Histogram,
        )?;
        h.encode_histogram::<prometheus_client::encoding::NoLabelSet>(*sum, *count, buckets, None)?;
        Ok(())
    }
}

/// The HTTP endpoint: `GET /metrics` answers the report, anything else 404. Runs on a thread
/// of its own until dropped.
pub(crate) struct MetricsEndpoint {
    http: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
}

impl MetricsEndpoint {
    /// Serves `report()` on `listener` (already bound, so its errors are the engine's).
    pub(crate) fn start(
        listener: std::net::TcpListener,
        report: impl Fn() -> Option<Report> + Send + 'static,
    ) -> Result<MetricsEndpoint> {
        listener.set_nonblocking(false)?;
        let addr = listener.local_addr()?;
        let http = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| Error::InvalidState(format!("metrics endpoint on {addr}: {e}")))?;
        let http = Arc::new(http);
        let serving = http.clone();
        let thread = std::thread::Builder::new().name("netcore-metrics".into()).spawn(move || {
            for request in serving.incoming_requests() {
                let response = match (request.method(), request.url().split('?').next()) {
                    (tiny_http::Method::Get, Some("/metrics")) => {
                        let Some(report) = report() else {
                            let _ =
                                request.respond(tiny_http::Response::from_string("stopped\n").with_status_code(503));
                            continue;
                        };
                        let header = tiny_http::Header::from_bytes(
                            &b"Content-Type"[..],
                            &b"text/plain; version=0.0.4; charset=utf-8"[..],
                        );
                        let mut r = tiny_http::Response::from_string(report.prometheus_text());
                        if let Ok(h) = header {
                            r = r.with_header(h);
                        }
                        r
                    }
                    _ => tiny_http::Response::from_string("not found: the metrics are on GET /metrics\n")
                        .with_status_code(404),
                };
                // A scraper that went away is not the server's problem.
                let _ = request.respond(response);
            }
        })?;
        Ok(MetricsEndpoint { http, thread: Some(thread), addr })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        self.http.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn report() -> Report {
        let counts = CommandCounts::default();
        let mut tally = CommandTally::default();
        for name in [&b"date"[..], b"ping", b"date", b"DATE"] {
            if !tally.count_seen(name, 0) {
                let label = name.to_ascii_lowercase();
                tally.count(&counts, name, &label);
            }
        }
        tally.flush();
        tally.flush(); // nothing twice
        let latency = LatencyHistogram::default();
        latency.observe(Duration::from_micros(70), 3);
        latency.observe(Duration::from_secs(5), 1);
        Report {
            stats: Stats { connections_open: 1, connections_total: 4, requests: 3, ..Stats::default() },
            commands: counts.snapshot(),
            latency: latency.snapshot(),
        }
    }

    #[test]
    fn the_report_in_both_forms() {
        let r = report();
        assert_eq!(r.commands, vec![("date".into(), 3), ("ping".into(), 1)]);
        assert_eq!(r.latency.1, 4);
        assert_eq!(r.latency.2[1], (0.000_1, 3));
        assert_eq!(r.latency.2.last(), Some(&(f64::INFINITY, 1)));
        let line = r.line();
        assert!(line.starts_with("connections_open=1 connections_total=4 requests=3 "), "{line}");
        assert!(line.ends_with(" cmd_date=3 cmd_ping=1"), "{line}");
        let text = r.prometheus_text();
        for want in [
            "# TYPE netcore_requests_total counter\nnetcore_requests_total 3\n",
            "netcore_connections_open 1\n",
            "netcore_command_requests_total{command=\"date\"} 3\n",
            "netcore_request_duration_seconds_bucket{le=\"0.0001\"} 3\n",
            "netcore_request_duration_seconds_bucket{le=\"1\"} 3\n",
            "netcore_request_duration_seconds_bucket{le=\"+Inf\"} 4\n",
            "netcore_request_duration_seconds_count 4\n",
        ] {
            assert!(text.contains(want), "{want:?} missing from\n{text}");
        }
    }

    #[test]
    fn random_words_cannot_grow_the_labels() {
        let counts = CommandCounts::default();
        let mut tally = CommandTally::default();
        for i in 0..200 {
            let name = format!("w{i}");
            if !tally.count_seen(name.as_bytes(), 0) {
                tally.count(&counts, name.as_bytes(), name.as_bytes());
            }
        }
        tally.flush();
        let snap = counts.snapshot();
        assert_eq!(snap.len(), MAX_COMMAND_LABELS + 1);
        assert_eq!(snap.iter().map(|e| e.1).sum::<u64>(), 200);
        assert!(snap.contains(&("other".into(), 200 - MAX_COMMAND_LABELS as u64)), "{snap:?}");
    }

    #[test]
    fn the_endpoint_answers_get_metrics_only() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = MetricsEndpoint::start(listener, || Some(report())).unwrap();
        let get = |path: &str| {
            let mut s = std::net::TcpStream::connect(endpoint.addr()).unwrap();
            write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).unwrap();
            text
        };
        let ok = get("/metrics");
        assert!(ok.starts_with("HTTP/1.0 200"), "{ok}");
        assert!(ok.contains("text/plain; version=0.0.4"), "{ok}");
        assert!(ok.contains("netcore_requests_total 3"), "{ok}");
        assert!(get("/").starts_with("HTTP/1.0 404"));
        drop(endpoint); // joins its thread
    }
}
