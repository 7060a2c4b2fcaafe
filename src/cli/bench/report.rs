//! What a run found: error counts, the report, and its summary as text or JSON.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::Plan;

/// Error counts by kind.
#[derive(Debug, Default, Clone)]
pub struct Errors {
    pub wrong_reply: u64,
    pub timeout: u64,
    pub closed: u64,
    pub other: u64,
    /// The first error seen, for the summary.
    pub first: Option<String>,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.wrong_reply + self.timeout + self.closed + self.other
    }
    pub(super) fn note(&mut self, what: impl FnOnce() -> String) {
        if self.first.is_none() {
            self.first = Some(what());
        }
    }
}

/// The result of a run.
pub struct Report {
    pub ok: u64,
    pub errors: Errors,
    pub elapsed: Duration,
    pub histogram: Histogram<u64>,
    pub connections: usize,
    pub connections_lost: usize,
    /// CPU time this process used during the run (user, system).
    pub cpu: (Duration, Duration),
    /// Connections opened during the run (--reconnect), each a handshake with --tls.
    pub reconnects: u64,
}

impl Report {
    pub fn completed(&self) -> u64 {
        self.ok + self.errors.total()
    }
    pub fn rate(&self) -> f64 {
        self.completed() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// New connections (TLS: handshakes) per second during the run (--reconnect).
    pub fn reconnect_rate(&self) -> f64 {
        self.reconnects as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// CPU seconds (user + system) per wall-clock second: how many cores the generator used.
    pub fn cpu_cores(&self) -> f64 {
        (self.cpu.0 + self.cpu.1).as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }
    /// A latency quantile in milliseconds (0 with no samples).
    pub fn ms(&self, q: f64) -> f64 {
        if self.histogram.is_empty() {
            0.0
        } else {
            self.histogram.value_at_quantile(q) as f64 / 1e6
        }
    }
}

pub(super) fn summary_text(plan: &Plan, r: &Report) -> String {
    let e = &r.errors;
    let mut s = format!(
        "netcore bench {}: {} connections, pipeline {}, request {:?}\n",
        plan.target,
        plan.conns,
        plan.pipeline,
        String::from_utf8_lossy(plan.request.strip_suffix(b"\n").unwrap_or(&plan.request)).trim_end_matches('\r')
    );
    s += &format!("  completed   {} requests in {:.3} s\n", r.completed(), r.elapsed.as_secs_f64());
    s += &format!("  throughput  {:.0} requests/s\n", r.rate());
    s += &format!(
        "  errors      {} (wrong reply {}, timeout {}, closed {}, other {})\n",
        e.total(),
        e.wrong_reply,
        e.timeout,
        e.closed,
        e.other
    );
    if let Some(first) = &e.first {
        s += &format!("  first error {first}\n");
    }
    if r.connections_lost > 0 {
        s += &format!("  connections lost {} of {}\n", r.connections_lost, r.connections);
    }
    if plan.reconnect {
        let what = if plan.tls.is_some() { "handshakes" } else { "connections" };
        s += &format!("  {what}  {} new ({:.2}/s)\n", r.reconnects, r.reconnect_rate());
    }
    s += &format!(
        "  latency ms  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
        significant3(r.ms(0.5)),
        significant3(r.ms(0.9)),
        significant3(r.ms(0.99)),
        significant3(r.ms(0.999)),
        significant3(r.histogram.max() as f64 / 1e6)
    );
    s += &format!(
        "  client cpu  {:.2} s user + {:.2} s system ({:.2} cores)\n",
        r.cpu.0.as_secs_f64(),
        r.cpu.1.as_secs_f64(),
        r.cpu_cores()
    );
    s
}

/// `x` to three significant digits for people: 0.0412, 1.23, 12.3, 123, 1230. The JSON
/// summary keeps full precision.
pub(super) fn significant3(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    // Rounding first (via the exponent form) makes 9.996 come out as 10.0, not 10.00.
    let rounded: f64 = format!("{x:.2e}").parse().unwrap_or(x);
    let digits_before_point = rounded.abs().log10().floor() as i32 + 1;
    let decimals = (3 - digits_before_point).max(0) as usize;
    format!("{rounded:.decimals$}")
}

pub(super) fn summary_json(plan: &Plan, r: &Report) -> String {
    let e = &r.errors;
    let value = serde_json::json!({
        "target": plan.target.to_string(),
        "connections": plan.conns,
        "pipeline": plan.pipeline,
        "requests": r.completed(),
        "ok": r.ok,
        "errors": e.total(),
        "error_kinds": {"wrong_reply": e.wrong_reply, "timeout": e.timeout, "closed": e.closed, "other": e.other},
        "first_error": e.first,
        "connections_lost": r.connections_lost,
        "duration_s": r.elapsed.as_secs_f64(),
        "requests_per_sec": r.rate(),
        "latency_ms": {
            "min": if r.histogram.is_empty() { 0.0 } else { r.histogram.min() as f64 / 1e6 },
            "mean": r.histogram.mean() / 1e6,
            "p50": r.ms(0.5),
            "p90": r.ms(0.9),
            "p99": r.ms(0.99),
            "p99_9": r.ms(0.999),
            "max": r.histogram.max() as f64 / 1e6,
        },
        "cpu_user_s": r.cpu.0.as_secs_f64(),
        "cpu_system_s": r.cpu.1.as_secs_f64(),
        "cpu_cores": r.cpu_cores(),
        "tls": plan.tls.is_some(),
        "reconnects": r.reconnects,
        "reconnects_per_sec": r.reconnect_rate(),
    });
    value.to_string()
}
