//! Negotiating permessage-deflate (RFC 7692 §7), as pure functions.
//!
//! This is the handshake half of the compression extension: which offer a server takes, what it
//! answers, and whether a client accepts the answer. The handshake calls them when a
//! configuration is given (`Offer::with_deflate`, `ClientHandshake::with_deflate`, with the
//! `deflate` feature); they are public so their rules can be read and tested on their own.

use alloc::vec::Vec;

/// The extension's name (RFC 7692 §7).
pub const NAME: &str = "permessage-deflate";

/// What both ends agreed (RFC 7692 §7.1). Window sizes are base-2 logarithms, 8..=15.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreement {
    /// The server starts every message with an empty compression context (§7.1.1.1).
    pub server_no_context_takeover: bool,
    /// The client starts every message with an empty compression context (§7.1.1.2).
    pub client_no_context_takeover: bool,
    /// The largest LZ77 window the server compresses with (§7.1.2.1).
    pub server_max_window_bits: u8,
    /// The largest LZ77 window the client compresses with (§7.1.2.2).
    pub client_max_window_bits: u8,
}

/// What a server is willing to agree to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Always reset our context: no compressor kept between messages (memory). Default true.
    pub server_no_context_takeover: bool,
    /// Ask the client to reset its context too. Default false.
    pub client_no_context_takeover: bool,
    /// Our window, at most. Default 15.
    pub server_max_window_bits: u8,
    /// The client's window we ask for, when it lets us choose. Default 15.
    pub client_max_window_bits: u8,
    /// DEFLATE level for what we send, 1 (fastest) to 9 (smallest). Default 1.
    pub level: u8,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: DEFAULT_LEVEL,
        }
    }
}

/// The DEFLATE level used unless configured: the fastest, which on JSON-like text still
/// removes most of the bytes (see BENCHMARKS.md).
pub const DEFAULT_LEVEL: u8 = 1;

/// What a client offers (RFC 7692 §7.1) and holds the server to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// We start every message afresh: no compressor kept between messages. Default true.
    pub client_no_context_takeover: bool,
    /// Ask the server to start every message afresh (its inflater state on our side is then
    /// released after each message). Default false.
    pub server_no_context_takeover: bool,
    /// `Some(w)`: we compress with at most 2^w; `None`: offer `client_max_window_bits` without
    /// a value, letting the server choose. Default `None`.
    pub client_max_window_bits: Option<u8>,
    /// Ask the server to compress with at most 2^w. Default `None` (no limit asked).
    pub server_max_window_bits: Option<u8>,
    /// DEFLATE level for what we send, 1 (fastest) to 9 (smallest). Default 1.
    pub level: u8,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            client_no_context_takeover: true,
            server_no_context_takeover: false,
            client_max_window_bits: None,
            server_max_window_bits: None,
            level: DEFAULT_LEVEL,
        }
    }
}

impl ClientConfig {
    /// The `Sec-WebSocket-Extensions` value to offer, for example the default
    /// `permessage-deflate; client_max_window_bits; client_no_context_takeover`.
    pub fn offer(&self) -> Vec<u8> {
        let mut offer = Vec::from(NAME.as_bytes());
        match self.client_max_window_bits {
            None => offer.extend_from_slice(b"; client_max_window_bits"),
            Some(bits) => {
                offer.extend_from_slice(b"; client_max_window_bits=");
                push_bits(&mut offer, bits.clamp(8, 15));
            }
        }
        if self.client_no_context_takeover {
            offer.extend_from_slice(b"; client_no_context_takeover");
        }
        if self.server_no_context_takeover {
            offer.extend_from_slice(b"; server_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            offer.extend_from_slice(b"; server_max_window_bits=");
            push_bits(&mut offer, bits.clamp(8, 15));
        }
        offer
    }
}

/// Why a client refuses the server's answer (it must then fail the connection, §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// An extension or parameter the client did not offer, or one twice.
    #[error("extension response not offered")]
    NotOffered,
    /// A parameter value that is not a window size in 8..=15, or a value where none belongs.
    #[error("invalid extension parameter")]
    InvalidParameter,
}

/// One parsed parameter set of a `permessage-deflate` element.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// `None`: absent. `Some(None)`: present without a value.
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

/// Parses the parameters of one element; `None` if any is unknown, repeated or malformed.
fn parse_params<'a>(params: impl Iterator<Item = Param<'a>>) -> Option<Params> {
    let mut p = Params::default();
    for (name, value) in params {
        let bits = match value {
            None => None,
            Some(v) => Some(window_bits(v)?),
        };
        match name {
            b"server_no_context_takeover" if !p.server_no_context_takeover && value.is_none() => {
                p.server_no_context_takeover = true;
            }
            b"client_no_context_takeover" if !p.client_no_context_takeover && value.is_none() => {
                p.client_no_context_takeover = true;
            }
            // §7.1.2.1: server_max_window_bits always carries a value.
            b"server_max_window_bits" if p.server_max_window_bits.is_none() && bits.is_some() => {
                p.server_max_window_bits = Some(bits);
            }
            b"client_max_window_bits" if p.client_max_window_bits.is_none() => {
                p.client_max_window_bits = Some(bits);
            }
            _ => return None,
        }
    }
    Some(p)
}

/// A window size: 1*DIGIT in 8..=15, possibly quoted (§7.1.2: the value may be a
/// quoted-string), no leading zero.
fn window_bits(value: &[u8]) -> Option<u8> {
    let v = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value);
    match v {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// A parameter: its name and value, if any.
type Param<'a> = (&'a [u8], Option<&'a [u8]>);

/// An extension element: its name and parameters.
type Element<'a> = (&'a [u8], Vec<Param<'a>>);

/// The elements of `Sec-WebSocket-Extensions` values: `(name, params)`, params as
/// `(name, value)`. Commas inside quoted strings do not split elements.
fn elements<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<Element<'a>> {
    let mut out = Vec::new();
    for value in values {
        let mut start = 0;
        let mut quoted = false;
        for (i, b) in value
            .iter()
            .copied()
            .enumerate()
            .chain(core::iter::once((value.len(), b',')))
        {
            match b {
                b'"' => quoted = !quoted,
                b',' if !quoted => {
                    let element = trim(value.get(start..i).expect("start never passes i"));
                    start = i + 1;
                    if element.is_empty() {
                        continue;
                    }
                    let mut parts = element.split(|&c| c == b';').map(trim);
                    let name = parts.next().expect("a split yields at least one piece");
                    let params = parts
                        .map(|p| match p.iter().position(|&c| c == b'=') {
                            Some(eq) => {
                                let (name, value) = p.split_at(eq);
                                (trim(name), value.get(1..).map(trim))
                            }
                            None => (p, None),
                        })
                        .collect();
                    out.push((name, params));
                }
                _ => {}
            }
        }
    }
    out
}

fn trim(s: &[u8]) -> &[u8] {
    crate::http::trim_ows(s)
}

/// Server side (§7.1): takes the first `permessage-deflate` offer it can honour from the
/// request's `Sec-WebSocket-Extensions` values, skipping invalid ones. Returns the agreement and
/// the response's `Sec-WebSocket-Extensions` value, or `None` to decline.
pub fn accept<'a>(
    offers: impl Iterator<Item = &'a [u8]>,
    config: &ServerConfig,
) -> Option<(Agreement, Vec<u8>)> {
    for (name, params) in elements(offers) {
        if !name.eq_ignore_ascii_case(NAME.as_bytes()) {
            continue;
        }
        let Some(offer) = parse_params(params.into_iter()) else {
            continue;
        };
        let server_nct = offer.server_no_context_takeover || config.server_no_context_takeover;
        let client_nct = offer.client_no_context_takeover || config.client_no_context_takeover;
        // §7.1.2.1: never more than the client allows for our window.
        let offered_server = offer.server_max_window_bits.flatten().unwrap_or(15);
        let server_bits = offered_server.min(config.server_max_window_bits.clamp(8, 15));
        // §7.1.2.2: the client's window may be limited only if it offered the parameter.
        let client_bits = match offer.client_max_window_bits {
            Some(offered) => offered
                .unwrap_or(15)
                .min(config.client_max_window_bits.clamp(8, 15)),
            None => 15,
        };
        let mut response = Vec::from(NAME.as_bytes());
        if server_nct {
            response.extend_from_slice(b"; server_no_context_takeover");
        }
        if client_nct {
            response.extend_from_slice(b"; client_no_context_takeover");
        }
        if offer.server_max_window_bits.is_some() || server_bits < 15 {
            response.extend_from_slice(b"; server_max_window_bits=");
            push_bits(&mut response, server_bits);
        }
        if offer.client_max_window_bits.is_some() && client_bits < 15 {
            response.extend_from_slice(b"; client_max_window_bits=");
            push_bits(&mut response, client_bits);
        }
        let agreement = Agreement {
            server_no_context_takeover: server_nct,
            client_no_context_takeover: client_nct,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        };
        return Some((agreement, response));
    }
    None
}

fn push_bits(out: &mut Vec<u8>, bits: u8) {
    if bits >= 10 {
        out.push(b'1');
    }
    out.push(b'0' + bits % 10);
}

/// Client side (§7.1): checks the server's answer to the offer `config` made. `Ok(None)` when
/// the server declined (no extension in the answer).
///
/// # Errors
/// [`NegotiationError`] for an answer the client did not offer, with invalid values, or with
/// values beyond what was offered; the client must then fail the connection.
pub fn client_validate<'a>(
    answers: impl Iterator<Item = &'a [u8]>,
    config: &ClientConfig,
) -> Result<Option<Agreement>, NegotiationError> {
    let answers = elements(answers);
    let mut agreed = None;
    for (name, params) in answers {
        if !name.eq_ignore_ascii_case(NAME.as_bytes()) || agreed.is_some() {
            return Err(NegotiationError::NotOffered);
        }
        let p = parse_params(params.into_iter()).ok_or(NegotiationError::InvalidParameter)?;
        let offered_client = config.client_max_window_bits.map_or(15, |b| b.clamp(8, 15));
        let client_bits = match p.client_max_window_bits {
            None => offered_client,
            // A server must give the client's window a value (§7.1.2.2) no larger than the one
            // offered.
            Some(Some(bits)) if bits <= offered_client => bits,
            Some(_) => return Err(NegotiationError::InvalidParameter),
        };
        let server_bits = match (
            p.server_max_window_bits.flatten(),
            config.server_max_window_bits,
        ) {
            (None, None) => 15,
            // §7.1.2.1: asked for a limit, the server must confirm one no larger.
            (None, Some(_)) => return Err(NegotiationError::InvalidParameter),
            (Some(bits), None) => bits,
            (Some(bits), Some(asked)) if bits <= asked.clamp(8, 15) => bits,
            (Some(_), Some(_)) => return Err(NegotiationError::InvalidParameter),
        };
        if config.server_no_context_takeover && !p.server_no_context_takeover {
            // §7.1.1.1: asked for, the server must agree or decline the whole offer.
            return Err(NegotiationError::InvalidParameter);
        }
        agreed = Some(Agreement {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover
                || config.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
        });
    }
    Ok(agreed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn server(offer: &str) -> Option<(Agreement, alloc::string::String)> {
        accept(core::iter::once(offer.as_bytes()), &ServerConfig::default())
            .map(|(a, r)| (a, alloc::string::String::from_utf8(r).unwrap()))
    }

    #[test]
    fn plain_offer_gets_server_no_context_takeover_by_default() {
        let (a, r) = server("permessage-deflate").unwrap();
        assert_eq!(r, "permessage-deflate; server_no_context_takeover");
        assert_eq!(
            (a.server_max_window_bits, a.client_max_window_bits),
            (15, 15)
        );
        assert!(a.server_no_context_takeover && !a.client_no_context_takeover);
    }

    #[test]
    fn autobahn_13_offers_no_takeover_and_window_9_or_15() {
        let (a, r) =
            server("permessage-deflate; client_no_context_takeover; client_max_window_bits")
                .unwrap();
        assert_eq!(
            r,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
        assert_eq!(a.client_max_window_bits, 15);
        let (a, r) = server("permessage-deflate; server_max_window_bits=9").unwrap();
        assert_eq!(
            r,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"
        );
        assert_eq!(a.server_max_window_bits, 9);
        let (a, _) = server("permessage-deflate; client_max_window_bits=9").unwrap();
        assert_eq!(a.client_max_window_bits, 9);
        let (a, r) = server("permessage-deflate; server_max_window_bits=\"15\"").unwrap();
        assert_eq!(a.server_max_window_bits, 15);
        assert!(r.ends_with("server_max_window_bits=15"));
    }

    #[test]
    fn first_valid_offer_of_a_list_is_taken_invalid_ones_skipped() {
        let offers = "permessage-deflate; server_max_window_bits=7, permessage-deflate; unknown_param, permessage-deflate; client_max_window_bits=10";
        let (a, _) = server(offers).unwrap();
        assert_eq!(a.client_max_window_bits, 10);
    }

    #[test]
    fn invalid_offers_are_declined() {
        for offer in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; client_max_window_bits=08",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; x",
            "x-webkit-deflate-frame",
        ] {
            assert_eq!(server(offer), None, "{offer}");
        }
    }

    #[test]
    fn server_window_never_above_what_client_allows_nor_client_limit_unasked() {
        let config = ServerConfig {
            server_max_window_bits: 10,
            client_max_window_bits: 9,
            ..ServerConfig::default()
        };
        let (a, r) = accept(core::iter::once(&b"permessage-deflate"[..]), &config).unwrap();
        assert_eq!(a.server_max_window_bits, 10);
        assert_eq!(
            a.client_max_window_bits, 15,
            "client_max_window_bits was not offered"
        );
        let r = alloc::string::String::from_utf8(r).unwrap();
        assert!(!r.contains("client_max_window_bits"), "{r}");
        let (a, _) = accept(
            core::iter::once(
                &b"permessage-deflate; server_max_window_bits=12; client_max_window_bits"[..],
            ),
            &config,
        )
        .unwrap();
        assert_eq!(
            (a.server_max_window_bits, a.client_max_window_bits),
            (10, 9)
        );
    }

    #[test]
    fn client_validates_answers() {
        let config = ClientConfig::default();
        let ok = |s: &str| client_validate(core::iter::once(s.as_bytes()), &config);
        assert_eq!(client_validate(core::iter::empty(), &config), Ok(None));
        let a = ok("permessage-deflate; server_no_context_takeover; client_max_window_bits=9")
            .unwrap()
            .unwrap();
        assert_eq!(
            (a.client_max_window_bits, a.server_max_window_bits),
            (9, 15)
        );
        assert!(a.server_no_context_takeover && a.client_no_context_takeover);
        assert_eq!(ok("x-other"), Err(NegotiationError::NotOffered));
        assert_eq!(
            ok("permessage-deflate, permessage-deflate"),
            Err(NegotiationError::NotOffered)
        );
        assert_eq!(
            ok("permessage-deflate; client_max_window_bits"),
            Err(NegotiationError::InvalidParameter)
        );
        assert_eq!(
            ok("permessage-deflate; server_max_window_bits=7"),
            Err(NegotiationError::InvalidParameter)
        );
        assert_eq!(
            ok("permessage-deflate; client_max_window_bits=16"),
            Err(NegotiationError::InvalidParameter)
        );
        assert_eq!(
            ok("permessage-deflate; bogus"),
            Err(NegotiationError::InvalidParameter)
        );
    }

    /// The offers the conformance suite's section 13 makes, in its own spelling
    /// (`client_no_context_takeover; client_max_window_bits` first, then what it requests), and
    /// the answers a default server gives.
    #[test]
    fn conformance_suite_13_offers_table() {
        let base = "permessage-deflate; client_no_context_takeover; client_max_window_bits";
        let sn = "; server_no_context_takeover";
        let cn = "; client_no_context_takeover";
        for (case, request, answer_tail, server_bits) in [
            ("13.1", "", "", 15),
            ("13.2", "; server_no_context_takeover", "", 15),
            (
                "13.3",
                "; server_max_window_bits=8",
                "; server_max_window_bits=8",
                8,
            ),
            (
                "13.3 (9)",
                "; server_max_window_bits=9",
                "; server_max_window_bits=9",
                9,
            ),
            (
                "13.4",
                "; server_max_window_bits=15",
                "; server_max_window_bits=15",
                15,
            ),
            (
                "13.5",
                "; server_no_context_takeover; server_max_window_bits=8",
                "; server_max_window_bits=8",
                8,
            ),
            (
                "13.6",
                "; server_no_context_takeover; server_max_window_bits=15",
                "; server_max_window_bits=15",
                15,
            ),
        ] {
            let offer = alloc::format!("{base}{request}");
            let (a, r) = server(&offer).unwrap_or_else(|| panic!("{case} declined"));
            assert_eq!(
                r,
                alloc::format!("permessage-deflate{sn}{cn}{answer_tail}"),
                "{case}"
            );
            assert_eq!(a.server_max_window_bits, server_bits, "{case}");
            assert_eq!(a.client_max_window_bits, 15, "{case}");
            assert!(
                a.server_no_context_takeover && a.client_no_context_takeover,
                "{case}"
            );
        }
        // 13.7: a list of three offers; the first is taken.
        let list = alloc::format!(
            "{base}; server_no_context_takeover; server_max_window_bits=8, {base}; server_no_context_takeover, {base}"
        );
        let (a, _) = server(&list).unwrap();
        assert_eq!(a.server_max_window_bits, 8);
    }

    /// Every combination of the four parameters (absent, present, and for the window sizes a
    /// value at each edge, no value, or an invalid one), against several server configurations:
    /// the rules of RFC 7692 §7.1 hold for each, and the client accepts every answer given to
    /// its own offer.
    #[test]
    fn every_parameter_combination_follows_section_7_1() {
        let flags = [None, Some("")];
        let windows = [
            None,
            Some(""),
            Some("=8"),
            Some("=9"),
            Some("=12"),
            Some("=15"),
            Some("=7"),
            Some("=16"),
            Some("=09"),
        ];
        let configs = [
            ServerConfig::default(),
            ServerConfig {
                server_no_context_takeover: false,
                client_no_context_takeover: true,
                server_max_window_bits: 10,
                client_max_window_bits: 9,
                level: 1,
            },
        ];
        let mut accepted = 0;
        for snct in flags {
            for cnct in flags {
                for smwb in windows {
                    for cmwb in windows {
                        let mut offer = String::from(NAME);
                        let mut parts = Vec::new();
                        if snct.is_some() {
                            parts.push(String::from("server_no_context_takeover"));
                        }
                        if cnct.is_some() {
                            parts.push(String::from("client_no_context_takeover"));
                        }
                        if let Some(v) = smwb {
                            parts.push(alloc::format!("server_max_window_bits{v}"));
                        }
                        if let Some(v) = cmwb {
                            parts.push(alloc::format!("client_max_window_bits{v}"));
                        }
                        for p in &parts {
                            offer.push_str("; ");
                            offer.push_str(p);
                        }
                        let value = |w: Option<&str>| {
                            w.and_then(|v| v.strip_prefix('='))
                                .map(|v| v.parse::<u8>().ok())
                        };
                        let valid_window = |w: Option<&str>| match w
                            .and_then(|v| v.strip_prefix('='))
                        {
                            None => true,
                            Some(v) => matches!(v.parse::<u8>(), Ok(8..=15)) && !v.starts_with('0'),
                        };
                        // §7.1.2.1: server_max_window_bits needs a value.
                        let valid = valid_window(smwb) && valid_window(cmwb) && smwb != Some("");
                        for config in &configs {
                            let got = accept(core::iter::once(offer.as_bytes()), config);
                            assert_eq!(got.is_some(), valid, "{offer}");
                            let Some((a, response)) = got else { continue };
                            accepted += 1;
                            let response = String::from_utf8(response).unwrap();
                            // §7.1.1: no context takeover as asked, or as the server wants.
                            assert_eq!(
                                a.server_no_context_takeover,
                                snct.is_some() || config.server_no_context_takeover,
                                "{offer}"
                            );
                            assert_eq!(
                                a.client_no_context_takeover,
                                cnct.is_some() || config.client_no_context_takeover,
                                "{offer}"
                            );
                            // §7.1.2.1: never a window larger than the client allowed.
                            if let Some(Some(limit)) = value(smwb) {
                                assert!(a.server_max_window_bits <= limit, "{offer}");
                                assert!(response.contains("server_max_window_bits="), "{offer}");
                            }
                            assert!(a.server_max_window_bits <= config.server_max_window_bits);
                            // §7.1.2.2: the client's window is limited only if it offered the
                            // parameter, and never above the value it offered.
                            if cmwb.is_none() {
                                assert_eq!(a.client_max_window_bits, 15, "{offer}");
                                assert!(!response.contains("client_max_window_bits"), "{offer}");
                            }
                            if let Some(Some(limit)) = value(cmwb) {
                                assert!(a.client_max_window_bits <= limit, "{offer}");
                            }
                            // The answer read back by a client that made this offer agrees.
                            let client_config = ClientConfig {
                                client_no_context_takeover: cnct.is_some(),
                                server_no_context_takeover: snct.is_some(),
                                client_max_window_bits: value(cmwb).flatten(),
                                server_max_window_bits: value(smwb).flatten(),
                                level: 1,
                            };
                            if cmwb.is_none() {
                                // Our client always offers client_max_window_bits; skip
                                // offers it would never make.
                                continue;
                            }
                            let back = client_validate(
                                core::iter::once(response.as_bytes()),
                                &client_config,
                            )
                            .unwrap_or_else(|e| panic!("{offer} → {response}: {e}"))
                            .unwrap();
                            assert_eq!(back, a, "{offer} → {response}");
                        }
                    }
                }
            }
        }
        assert!(accepted > 100, "{accepted}");
    }
}
