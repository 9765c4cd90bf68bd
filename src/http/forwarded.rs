//! Who a request came from when it crossed proxies: the `Forwarded` field (RFC 7239) or the
//! older `X-Forwarded-For`, believed only as far as the hops that wrote them are trusted.
//!
//! Each proxy appends the address it received the request from. Reading from the right, every
//! address a trusted proxy wrote is believed; the first address that is not itself a trusted
//! proxy is the client. A field from an untrusted peer is ignored entirely: anyone can send
//! `X-Forwarded-For: 1.2.3.4`. An element that names no address (`for=unknown`, an obfuscated
//! identifier, RFC 7239 §6.2–6.3, or garbage) ends the walk: nothing to its left can be tied
//! to the hops we trust, so the last trusted hop is taken as the client.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

/// A block of addresses: `10.0.0.0/8`, `2001:db8::/32`, or one address (`192.0.2.1`, a `/32`
/// or `/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a block of addresses did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidrError {
    /// The address part is not an IPv4 or IPv6 address.
    #[error("not an IP address")]
    Address,
    /// The prefix is not a number up to 32 (IPv4) or 128 (IPv6).
    #[error("prefix length out of range")]
    Prefix,
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| CidrError::Address)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().map_err(|_| CidrError::Prefix)?,
            None => max,
        };
        if prefix > max {
            return Err(CidrError::Prefix);
        }
        Ok(Cidr { addr, prefix })
    }
}

impl core::fmt::Display for Cidr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` lies in this block (an IPv4-mapped IPv6 address counts as its IPv4
    /// address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(block), IpAddr::V4(ip)) => {
                prefix_eq(&block.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(block), IpAddr::V6(ip)) => {
                prefix_eq(&block.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports) as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a.get(..full) != b.get(..full) {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(full), b.get(full)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

/// Most forwarding hops read from one request: a longer chain is cut at its right end.
pub const MAX_HOPS: usize = 32;

/// The client's address for a request that arrived from `peer`: `peer` itself unless it is a
/// trusted proxy, else the address the chain of trusted proxies vouches for. `forwarded` are
/// the request's `Forwarded` field values in order (they win when present), `x_forwarded_for`
/// its `X-Forwarded-For` values.
pub fn client_address<'a>(
    peer: IpAddr,
    trusted: &[Cidr],
    forwarded: impl Iterator<Item = &'a [u8]> + Clone,
    x_forwarded_for: impl Iterator<Item = &'a [u8]> + Clone,
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut hops: heapless_hops::Hops = heapless_hops::Hops::default();
    if forwarded.clone().next().is_some() {
        for value in forwarded {
            for element in value.split(|&b| b == b',') {
                hops.push(for_of(element));
            }
        }
    } else {
        for value in x_forwarded_for {
            for element in value.split(|&b| b == b',') {
                hops.push(node(trim(element)));
            }
        }
    }
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if is_trusted(*ip) => client = *ip,
            Some(ip) => return *ip,
            None => return client,
        }
    }
    client
}

/// The rightmost hops of a chain, without an allocator.
mod heapless_hops {
    use super::{IpAddr, MAX_HOPS};

    #[derive(Default)]
    pub struct Hops {
        hops: [Option<Option<IpAddr>>; MAX_HOPS],
        len: usize,
    }

    impl Hops {
        /// Appends a hop; past `MAX_HOPS`, the oldest (leftmost) is dropped.
        pub fn push(&mut self, hop: Option<IpAddr>) {
            if self.len == MAX_HOPS {
                self.hops.rotate_left(1);
                self.len -= 1;
            }
            self.hops[self.len] = Some(hop);
            self.len += 1;
        }

        pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Option<IpAddr>> {
            self.hops[..self.len].iter().flatten()
        }
    }
}

/// The `for=` parameter of one `Forwarded` element (RFC 7239 §4: `for=192.0.2.60;proto=http`,
/// `For="[2001:db8:cafe::17]:4711"`), as an address; `None` when it names none.
fn for_of(element: &[u8]) -> Option<IpAddr> {
    for pair in element.split(|&b| b == b';') {
        let pair = trim(pair);
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (name, value) = (&pair[..eq], &pair[eq + 1..]);
        if name.eq_ignore_ascii_case(b"for") {
            // §4: the value is a token or a quoted-string (quotes needed around IPv6).
            let value = value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value);
            return node(value);
        }
    }
    None
}

/// A node (RFC 7239 §6): `192.0.2.43`, `192.0.2.43:47011`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711`, or (in `X-Forwarded-For`) a bare IPv6 address.
fn node(value: &[u8]) -> Option<IpAddr> {
    let text = core::str::from_utf8(value).ok()?;
    if let Some(rest) = text.strip_prefix('[') {
        let (v6, _) = rest.split_once(']')?;
        return v6
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| canonical(IpAddr::V6(ip)));
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    // IPv4 with a port.
    let (v4, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    v4.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().unwrap()).collect()
    }

    fn client(peer: &str, trusted: &[&str], fwd: &[&str], xff: &[&str]) -> IpAddr {
        let trusted = cidrs(trusted);
        client_address(
            ip(peer),
            &trusted,
            fwd.iter().map(|s| s.as_bytes()),
            xff.iter().map(|s| s.as_bytes()),
        )
    }

    #[test]
    fn blocks_parse_and_contain() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.200.3.4")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(
            net.contains(ip("::ffff:10.1.2.3")),
            "IPv4-mapped counts as IPv4"
        );
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:cafe::17")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let odd: Cidr = "192.168.4.0/22".parse().unwrap();
        assert!(odd.contains(ip("192.168.7.255")));
        assert!(!odd.contains(ip("192.168.8.0")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        assert_eq!(
            "0.0.0.0/0"
                .parse::<Cidr>()
                .map(|c| c.contains(ip("8.8.8.8"))),
            Ok(true)
        );
        assert_eq!("10.0.0.0/33".parse::<Cidr>(), Err(CidrError::Prefix));
        assert_eq!("10.0.0/8".parse::<Cidr>(), Err(CidrError::Address));
        assert_eq!("::/129".parse::<Cidr>(), Err(CidrError::Prefix));
        assert_eq!("10.0.0.0/x".parse::<Cidr>(), Err(CidrError::Prefix));
        assert_eq!(alloc::format!("{net}"), "10.0.0.0/8");
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let got = client(
            "203.0.113.9",
            &["10.0.0.0/8"],
            &["for=1.2.3.4"],
            &["5.6.7.8"],
        );
        assert_eq!(got, ip("203.0.113.9"));
    }

    /// RFC 7239 §4's examples, behind one trusted proxy.
    #[test]
    fn forwarded_examples_of_rfc_7239() {
        let t = &["10.0.0.1"];
        assert_eq!(
            client("10.0.0.1", t, &["for=\"_gazonk\""], &[]),
            ip("10.0.0.1")
        );
        assert_eq!(
            client("10.0.0.1", t, &["For=\"[2001:db8:cafe::17]:4711\""], &[]),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            client(
                "10.0.0.1",
                t,
                &["for=192.0.2.60;proto=http;by=203.0.113.43"],
                &[]
            ),
            ip("192.0.2.60")
        );
        assert_eq!(
            client("10.0.0.1", t, &["for=192.0.2.43, for=198.51.100.17"], &[]),
            ip("198.51.100.17"),
            "the rightmost untrusted hop, not the leftmost claim"
        );
    }

    #[test]
    fn trusted_hops_are_walked_from_the_right() {
        let t = &["10.0.0.0/8"];
        // client -> 10.1.1.1 (trusted) -> 10.0.0.1 (trusted) -> us
        assert_eq!(
            client("10.0.0.1", t, &[], &["198.51.100.7, 10.1.1.1"]),
            ip("198.51.100.7")
        );
        // A forged leftmost entry is ignored: the first untrusted from the right wins.
        assert_eq!(
            client("10.0.0.1", t, &[], &["1.1.1.1, 198.51.100.7, 10.1.1.1"]),
            ip("198.51.100.7")
        );
        // Two header lines make one list; Forwarded wins over X-Forwarded-For.
        assert_eq!(
            client(
                "10.0.0.1",
                t,
                &["for=192.0.2.1", "for=10.2.2.2"],
                &["9.9.9.9"]
            ),
            ip("192.0.2.1")
        );
        // Every hop trusted: the leftmost.
        assert_eq!(
            client("10.0.0.1", t, &[], &["10.3.3.3, 10.4.4.4"]),
            ip("10.3.3.3")
        );
        // No field at all: the proxy itself.
        assert_eq!(client("10.0.0.1", t, &[], &[]), ip("10.0.0.1"));
    }

    #[test]
    fn an_element_without_an_address_ends_the_walk() {
        let t = &["10.0.0.0/8"];
        assert_eq!(
            client(
                "10.0.0.1",
                t,
                &["for=192.0.2.9, for=unknown, for=10.5.5.5"],
                &[]
            ),
            ip("10.5.5.5")
        );
        assert_eq!(
            client("10.0.0.1", t, &[], &["not an address"]),
            ip("10.0.0.1")
        );
        assert_eq!(
            client("10.0.0.1", t, &[], &["192.0.2.4:8080"]),
            ip("192.0.2.4")
        );
        assert_eq!(
            client("10.0.0.1", t, &[], &["[2001:db8::2]:1"]),
            ip("2001:db8::2")
        );
        assert_eq!(
            client("10.0.0.1", t, &[], &["\u{ff}\u{fe}"]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn a_long_chain_keeps_its_right_end() {
        let t = &["10.0.0.0/8"];
        let mut chain = alloc::string::String::from("192.0.2.1");
        for _ in 0..100 {
            chain.push_str(", 10.9.9.9");
        }
        // The real client fell off the left end of the 32 hops kept: the leftmost kept hop
        // (trusted) is taken, never an address nobody vouched for.
        assert_eq!(
            client("10.0.0.1", t, &[], &[chain.as_str()]),
            ip("10.9.9.9")
        );
    }
}
