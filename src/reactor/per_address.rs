//! Connections per client address ([`Limits::max_connections_per_address`]): one table shared
//! by every worker. A connection over the limit is answered `429 Too Many Requests` (RFC 6585
//! §4) with `Retry-After` and closed once the answer is out — an explicit refusal, never a
//! silent drop.
//!
//! The address is the socket's peer. Behind a proxy every connection comes from the proxy:
//! leave the limit off there.
//!
//! [`Limits::max_connections_per_address`]: crate::Limits::max_connections_per_address

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Open connections per address, for every worker.
#[derive(Debug)]
pub(crate) struct PerAddress {
    limit: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl PerAddress {
    pub fn new(limit: usize) -> Self {
        PerAddress {
            limit,
            counts: Mutex::default(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Counts a new connection from `ip`, unless `ip` is at the limit already.
    pub fn admit(&self, ip: IpAddr) -> bool {
        let mut counts = super::lock(&self.counts);
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.limit {
            if *count == 0 {
                counts.remove(&ip);
            }
            return false;
        }
        *count += 1;
        true
    }

    /// A connection from `ip` that was admitted closed.
    pub fn release(&self, ip: IpAddr) {
        let mut counts = super::lock(&self.counts);
        if let Some(count) = counts.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&ip);
            }
        }
    }
}

/// The answer to a connection over the limit.
pub(crate) fn refusal(limit: usize, date: &[u8]) -> Vec<u8> {
    let why = format!("too many connections from this address (the limit is {limit})");
    refusal_at_accept(429, &why, date)
}

/// The answer to a connection refused as it is accepted (`429`, or `503` when the server is
/// at its connection limit or its memory budget), with `Retry-After` and `why`.
pub(crate) fn refusal_at_accept(status: u16, why: &str, date: &[u8]) -> Vec<u8> {
    let body = format!("{why}\n");
    let reason = crate::http::reason_phrase(status);
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nDate: ",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_per_address() {
        let table = PerAddress::new(2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(table.admit(a) && table.admit(a));
        assert!(!table.admit(a));
        assert!(table.admit(b));
        table.release(a);
        assert!(table.admit(a));
        assert!(!table.admit(a));
        table.release(a);
        table.release(a);
        table.release(b);
        assert!(table.counts.lock().unwrap().is_empty());
        assert!(!PerAddress::new(0).admit(a));
        assert!(PerAddress::new(0).counts.lock().unwrap().is_empty());
    }
}
