//! The hub server's figures for Prometheus: counters, gauges and histograms kept in atomics by
//! every worker, written out in the text exposition format, version 0.0.4 (`GET /metrics`).
//!
//! Names follow Prometheus's conventions: a `pushwire_` prefix, base units in the name
//! (`_seconds`, `_bytes`), `_total` on every counter and on nothing else. Labels are few and
//! bounded: a technique, a reason, a status code.

use crate::reactor::End;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// How a connection served: the label `technique` (what [`crate::reactor::Ctx::set_tag`] marks
/// a connection with; a keep-alive connection counts as its last request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Plain requests (publish, cursor, health…), or none.
    Http = 0,
    /// `GET /poll?wait=0`.
    ShortPoll = 1,
    /// `GET /poll`.
    LongPoll = 2,
    /// `GET /events`.
    Sse = 3,
    /// `GET /ws`.
    WebSocket = 4,
    /// `GET /echo` (upgrade).
    Echo = 5,
}

impl Kind {
    /// Every kind, in tag order.
    pub const ALL: [Kind; 6] = [
        Kind::Http,
        Kind::ShortPoll,
        Kind::LongPoll,
        Kind::Sse,
        Kind::WebSocket,
        Kind::Echo,
    ];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::ShortPoll => "short_poll",
            Kind::LongPoll => "long_poll",
            Kind::Sse => "sse",
            Kind::WebSocket => "websocket",
            Kind::Echo => "echo",
        }
    }

    /// The tag a connection serving as this kind is marked with (0 is left for a connection
    /// that never made a request).
    pub fn tag(self) -> u8 {
        self as u8 + 1
    }

    /// The kind a connection's tag names (untagged or unknown: plain HTTP).
    pub fn of_tag(tag: u8) -> Kind {
        usize::from(tag)
            .checked_sub(1)
            .and_then(|i| Kind::ALL.get(i))
            .copied()
            .unwrap_or(Kind::Http)
    }
}

/// Why a request was refused: the label `reason` of `pushwire_refusals_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `401`: no token, or a bad or expired one.
    Unauthorized,
    /// `403`: the token does not name the topic (or the right).
    Forbidden,
    /// `403`: a browser page of an origin not on the list.
    Origin,
    /// `429`: over the publish rate.
    RateLimited,
    /// `429`: over the connections allowed per client address.
    PerAddress,
    /// `503`/`200 retry`: the server is at a limit (parked polls, streams, topics).
    Overloaded,
    /// `503`: the broker cannot store publishes now.
    BrokerDown,
}

impl Refusal {
    const ALL: [Refusal; 7] = [
        Refusal::Unauthorized,
        Refusal::Forbidden,
        Refusal::Origin,
        Refusal::RateLimited,
        Refusal::PerAddress,
        Refusal::Overloaded,
        Refusal::BrokerDown,
    ];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::Forbidden => "forbidden",
            Refusal::Origin => "origin",
            Refusal::RateLimited => "rate_limited",
            Refusal::PerAddress => "per_address",
            Refusal::Overloaded => "overloaded",
            Refusal::BrokerDown => "broker_down",
        }
    }
}

/// Bucket bounds of the latency histograms, in microseconds (0.5 ms to 10 s).
const BUCKETS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// A latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative; the last one is `+Inf`).
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Records `n` observations of `micros`.
    pub fn observe(&self, micros: u64, n: u64) {
        if n == 0 {
            return;
        }
        let bucket = BUCKETS_US.partition_point(|&b| b < micros);
        self.buckets[bucket].fetch_add(n, Ordering::Relaxed);
        self.sum_us
            .fetch_add(micros.saturating_mul(n), Ordering::Relaxed);
        self.count.fetch_add(n, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, help, "histogram");
        let mut cumulative = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            match BUCKETS_US.get(i) {
                Some(&us) => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {cumulative}", seconds(us));
                }
                None => {
                    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
                }
            }
        }
        let sum = self.sum_us.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_sum {}", seconds(sum));
        let _ = writeln!(out, "{name}_count {}", self.count.load(Ordering::Relaxed));
    }
}

/// Microseconds as decimal seconds (`1500` → `0.0015`).
fn seconds(us: u64) -> String {
    let whole = us / 1_000_000;
    let frac = us % 1_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// The figures the hub server keeps for `/metrics` beside its per-technique counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Connections that started a technique, by kind.
    opened: [AtomicU64; Kind::ALL.len()],
    /// Connections that ended, by kind and reason.
    closed: [[AtomicU64; End::ALL.len()]; Kind::ALL.len()],
    /// Refused requests, by reason.
    refusals: [AtomicU64; Refusal::ALL.len()],
    /// From publish to delivery, per delivered event.
    pub delivery: Histogram,
    /// From a publish request's arrival to its answer.
    pub publish: Histogram,
}

impl Metrics {
    /// A connection started serving as `kind`.
    pub fn opened(&self, kind: Kind) {
        self.opened[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A connection of `kind` ended for `end`.
    pub fn closed(&self, kind: Kind, end: End) {
        let reason = End::ALL.iter().position(|&e| e == end).unwrap_or(0);
        self.closed[kind as usize][reason].fetch_add(1, Ordering::Relaxed);
    }

    /// A request was refused for `why`.
    pub fn refused(&self, why: Refusal) {
        let i = Refusal::ALL.iter().position(|&r| r == why).unwrap_or(0);
        self.refusals[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Connections of `kind` ended for `end` so far.
    pub fn closed_count(&self, kind: Kind, end: End) -> u64 {
        let reason = End::ALL.iter().position(|&e| e == end).unwrap_or(0);
        self.closed[kind as usize][reason].load(Ordering::Relaxed)
    }

    /// Writes this part of the exposition.
    pub fn write(&self, out: &mut String) {
        header(
            out,
            "pushwire_connections_opened_total",
            "Connections that started serving a technique (a keep-alive connection counts once, as its first).",
            "counter",
        );
        for kind in Kind::ALL {
            let n = self.opened[kind as usize].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "pushwire_connections_opened_total{{technique=\"{}\"}} {n}",
                kind.name()
            );
        }
        header(
            out,
            "pushwire_connections_closed_total",
            "Connections that ended, by the technique of their last request and why they ended.",
            "counter",
        );
        for kind in Kind::ALL {
            for (i, end) in End::ALL.iter().enumerate() {
                let n = self.closed[kind as usize][i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "pushwire_connections_closed_total{{technique=\"{}\",reason=\"{}\"}} {n}",
                    kind.name(),
                    end.as_str()
                );
            }
        }
        header(
            out,
            "pushwire_slow_consumers_total",
            "Followers cut off because they did not read what was sent to them.",
            "counter",
        );
        for kind in Kind::ALL {
            let n = self.closed_count(kind, End::SlowConsumer);
            let _ = writeln!(
                out,
                "pushwire_slow_consumers_total{{technique=\"{}\"}} {n}",
                kind.name()
            );
        }
        header(
            out,
            "pushwire_refusals_total",
            "Requests refused, by reason.",
            "counter",
        );
        for why in Refusal::ALL {
            let n = self.refusals[why as usize].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "pushwire_refusals_total{{reason=\"{}\"}} {n}",
                why.name()
            );
        }
        self.delivery.write(
            out,
            "pushwire_delivery_latency_seconds",
            "Time from an event's publish to its delivery to a follower.",
        );
        self.publish.write(
            out,
            "pushwire_publish_duration_seconds",
            "Time from a publish request's arrival to its answer.",
        );
    }
}

/// `# HELP` and `# TYPE` lines.
pub fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One sample of a metric without labels, with its `# HELP` and `# TYPE`.
pub fn single(out: &mut String, name: &str, help: &str, kind: &str, value: impl std::fmt::Display) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

/// One metric with one label, a sample per `(label value, value)`.
pub fn labelled<'a, V: std::fmt::Display>(
    out: &mut String,
    name: &str,
    help: &str,
    kind: &str,
    label: &str,
    samples: impl IntoIterator<Item = (&'a str, V)>,
) {
    header(out, name, help, kind);
    for (value, n) in samples {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_written_in_decimal_without_trailing_zeros() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(500), "0.0005");
        assert_eq!(seconds(2_500_000), "2.5");
        assert_eq!(seconds(10_000_000), "10");
        assert_eq!(seconds(1_234_567), "1.234567");
    }

    #[test]
    fn a_histogram_is_cumulative_with_sum_and_count() {
        let h = Histogram::default();
        h.observe(300, 2); // 0.0003 s: the first bucket
        h.observe(3_000, 1); // 0.003 s: le 0.005
        h.observe(60_000_000, 1); // a minute: +Inf only
        let mut out = String::new();
        h.write(&mut out, "x_seconds", "help");
        assert!(out.contains("# TYPE x_seconds histogram\n"));
        assert!(out.contains("x_seconds_bucket{le=\"0.0005\"} 2\n"));
        assert!(out.contains("x_seconds_bucket{le=\"0.0025\"} 2\n"));
        assert!(out.contains("x_seconds_bucket{le=\"0.005\"} 3\n"));
        assert!(out.contains("x_seconds_bucket{le=\"10\"} 3\n"));
        assert!(out.contains("x_seconds_bucket{le=\"+Inf\"} 4\n"));
        assert!(out.contains("x_seconds_sum 60.0036\n"));
        assert!(out.contains("x_seconds_count 4\n"));
    }

    #[test]
    fn connections_are_counted_by_kind_and_reason() {
        let m = Metrics::default();
        m.opened(Kind::Sse);
        m.closed(Kind::Sse, End::SlowConsumer);
        m.closed(Kind::WebSocket, End::PeerClosed);
        m.refused(Refusal::Origin);
        let mut out = String::new();
        m.write(&mut out);
        assert!(out.contains("pushwire_connections_opened_total{technique=\"sse\"} 1\n"));
        assert!(out.contains(
            "pushwire_connections_closed_total{technique=\"sse\",reason=\"slow_consumer\"} 1\n"
        ));
        assert!(out.contains(
            "pushwire_connections_closed_total{technique=\"websocket\",reason=\"peer_closed\"} 1\n"
        ));
        assert!(out.contains("pushwire_slow_consumers_total{technique=\"sse\"} 1\n"));
        assert!(out.contains("pushwire_refusals_total{reason=\"origin\"} 1\n"));
        assert_eq!(Kind::of_tag(Kind::WebSocket.tag()), Kind::WebSocket);
        assert_eq!(Kind::of_tag(0), Kind::Http);
        assert_eq!(Kind::of_tag(200), Kind::Http);
    }
}
