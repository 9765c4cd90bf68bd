//! Helpers shared by the integration tests.
#![allow(dead_code)]

use pushwire::http::{self, BodyKind, Event, Version};
use pushwire::{Instant, Limits};

/// An owned copy of a server event, with data merged across splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Request {
        method: String,
        target: String,
        version: Version,
        body: BodyKind,
    },
    Data(Vec<u8>),
    End,
    Upgraded(Vec<u8>),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub events: Vec<Ev>,
    pub out: Vec<u8>,
    pub consumed: usize,
    pub error: Option<http::PeerError>,
}

/// Drives an HTTP server connection, offering `input` in the pieces given by `cuts` (sorted
/// offsets); each complete request is answered with its body echoed back.
pub fn drive_http(limits: &Limits, input: &[u8], cuts: &[usize]) -> Run {
    let mut conn = http::Connection::new(Instant::ZERO, limits);
    let mut run = Run {
        events: Vec::new(),
        out: Vec::new(),
        consumed: 0,
        error: None,
    };
    let mut ends: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < input.len())
        .collect();
    ends.push(input.len());
    let mut body = Vec::new();
    for &offered in &ends {
        loop {
            let avail = &input[run.consumed..offered];
            match conn.feed(Instant::ZERO, avail, &mut run.out) {
                Err(e) => {
                    run.error = Some(e);
                    return run;
                }
                Ok(step) => {
                    assert!(step.consumed <= avail.len());
                    run.consumed += step.consumed;
                    let progressed = step.consumed > 0 || step.event.is_some();
                    match step.event {
                        Some(Event::Request(r)) => {
                            body.clear();
                            run.events.push(Ev::Request {
                                method: r.method.into(),
                                target: r.target.into(),
                                version: r.version,
                                body: r.body,
                            });
                        }
                        Some(Event::Data(d)) => {
                            body.extend_from_slice(d);
                            match run.events.last_mut() {
                                Some(Ev::Data(prev)) => prev.extend_from_slice(d),
                                _ => run.events.push(Ev::Data(d.to_vec())),
                            }
                        }
                        Some(Event::End) => {
                            run.events.push(Ev::End);
                            conn.respond(200, &[], &body, &mut run.out).unwrap();
                        }
                        Some(Event::Upgraded { leftover }) => {
                            run.events.push(Ev::Upgraded(leftover.to_vec()))
                        }
                        Some(_) => {}
                        None => {}
                    }
                    if !progressed {
                        break;
                    }
                }
            }
        }
    }
    run
}
