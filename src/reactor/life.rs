//! Where a connection stands in its life ([`Life`]): every change of it goes through
//! [`Life::next`], one arm per rule — the way `ws::Close::next` holds the closing handshake and
//! `http::Connection::step` an exchange.

use super::gather::Gather;
use crate::time::Instant;

/// Where a connection stands in its life.
#[derive(Debug)]
pub(crate) enum Life {
    /// Reading and answering. `behind`: since when its output has been over
    /// `Limits::write_queue_bytes` (nothing more is read meanwhile, and past
    /// `slow_consumer_timeout` it is cut off).
    Open { behind: Option<Instant> },
    /// Reading a large WebSocket frame whole into a buffer of its own (`gather.rs`); its
    /// `behind` is kept in that buffer's box.
    Gathering { gather: Box<Gather> },
    /// The protocol is over: the output drains, then our side shuts.
    Finishing { behind: Option<Instant> },
    /// Our side is shut (FIN sent): input is read and discarded until the peer's EOF or
    /// `until`, so the peer receives everything instead of a reset (RFC 9112 §9.6).
    Lingering { until: Instant },
    /// Closed: the socket goes, and its slot with it, when the turn ends.
    Closed,
}

/// What changes a connection's life.
#[derive(Debug)]
pub(crate) enum Change {
    /// The output went over its bound at this time.
    Behind(Instant),
    /// The output is back under its bound.
    CaughtUp,
    /// A large frame began: the rest of it is read into this buffer.
    Gather(Box<Gather>),
    /// The frame being gathered is whole.
    Gathered,
    /// The protocol is over (its machine closed, or the application ended it).
    Finished,
    /// All output is out after the protocol ended: our side shut, linger until this time.
    Drained(Instant),
    /// Close at once: the peer's EOF while lingering, a broken socket, a deadline, the
    /// application.
    Close,
}

impl Life {
    /// Moves to the state after `change`. A buffer a frame was being gathered into comes back
    /// when the connection leaves `Gathering`, for the worker's pool.
    pub fn next(&mut self, change: Change) -> Option<Box<Gather>> {
        use Life::{Closed, Finishing, Gathering, Lingering, Open};
        let state = std::mem::replace(self, Closed);
        let (next, freed) = match (state, change) {
            (Closed, _) => (Closed, None),
            // Whatever it was doing, a connection can be closed at once.
            (Gathering { gather, .. }, Change::Close) => (Closed, Some(gather)),
            (_, Change::Close) => (Closed, None),
            // A lingering connection only waits for EOF or its deadline.
            (Lingering { until }, _) => (Lingering { until }, None),
            // A slow consumer: noted once, from when it first fell behind.
            (Open { behind }, Change::Behind(now)) => (
                Open {
                    behind: behind.or(Some(now)),
                },
                None,
            ),
            (Gathering { mut gather }, Change::Behind(now)) => {
                gather.behind = gather.behind.or(Some(now));
                (Gathering { gather }, None)
            }
            (Finishing { behind }, Change::Behind(now)) => (
                Finishing {
                    behind: behind.or(Some(now)),
                },
                None,
            ),
            (Open { .. }, Change::CaughtUp) => (Open { behind: None }, None),
            (Gathering { mut gather }, Change::CaughtUp) => {
                gather.behind = None;
                (Gathering { gather }, None)
            }
            (Finishing { .. }, Change::CaughtUp) => (Finishing { behind: None }, None),
            // Only an open connection starts gathering a frame.
            (Open { behind }, Change::Gather(mut gather)) => {
                gather.behind = behind;
                (Gathering { gather }, None)
            }
            (Gathering { gather }, Change::Gathered) => (
                Open {
                    behind: gather.behind,
                },
                Some(gather),
            ),
            // The protocol ended: a frame half read is of no use any more.
            (Open { behind }, Change::Finished) => (Finishing { behind }, None),
            (Gathering { gather }, Change::Finished) => (
                Finishing {
                    behind: gather.behind,
                },
                Some(gather),
            ),
            // RFC 9112 §9.6: our side is done; keep reading for a moment so the peer gets what we
            // sent rather than a reset.
            (Gathering { gather, .. }, Change::Drained(until)) => {
                (Lingering { until }, Some(gather))
            }
            (Open { .. } | Finishing { .. }, Change::Drained(until)) => (Lingering { until }, None),
            // Nothing else changes the state (a frame can only start while open, a gathered
            // frame only ends one being gathered, a finished protocol stays finished).
            (state, _) => (state, None),
        };
        *self = next;
        freed
    }

    /// Since when the output has been over its bound.
    pub fn behind(&self) -> Option<Instant> {
        match self {
            Life::Open { behind } | Life::Finishing { behind } => *behind,
            Life::Gathering { gather } => gather.behind,
            Life::Lingering { .. } | Life::Closed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn at(ms: u64) -> Instant {
        Instant::ZERO + Duration::from_millis(ms)
    }

    fn gather() -> Box<Gather> {
        Box::new(Gather::start(&mut Default::default(), &[0; 4], 100_000))
    }

    /// Every rule of `Life::next`, as a table: the state, what happened, the state after, and
    /// whether a gathered frame's buffer came back.
    #[test]
    fn every_change_of_a_connections_life() {
        use Life::*;
        let open = || Open { behind: None };
        let gathering = |behind| {
            let mut gather = gather();
            gather.behind = behind;
            Gathering { gather }
        };
        let cases: Vec<(Life, Change, &str, bool)> = vec![
            (open(), Change::Behind(at(1)), "Open { behind: Some", false),
            (
                Open {
                    behind: Some(at(1)),
                },
                Change::Behind(at(5)),
                "Open { behind: Some(Instant(1000",
                false,
            ),
            (
                Open {
                    behind: Some(at(1)),
                },
                Change::CaughtUp,
                "Open { behind: None",
                false,
            ),
            (open(), Change::Gather(gather()), "Gathering", false),
            (gathering(None), Change::Behind(at(2)), "Gathering", false),
            (
                gathering(Some(at(2))),
                Change::Gathered,
                "Open { behind: Some",
                true,
            ),
            (
                gathering(None),
                Change::Finished,
                "Finishing { behind: None",
                true,
            ),
            (gathering(None), Change::Close, "Closed", true),
            (gathering(None), Change::Drained(at(9)), "Lingering", true),
            (open(), Change::Finished, "Finishing", false),
            (
                Finishing { behind: None },
                Change::Drained(at(9)),
                "Lingering { until: Instant(9000",
                false,
            ),
            (
                Finishing { behind: None },
                Change::Gather(gather()),
                "Finishing",
                false,
            ),
            (
                Lingering { until: at(9) },
                Change::Behind(at(1)),
                "Lingering",
                false,
            ),
            (
                Lingering { until: at(9) },
                Change::Finished,
                "Lingering",
                false,
            ),
            (Lingering { until: at(9) }, Change::Close, "Closed", false),
            (Closed, Change::Gather(gather()), "Closed", false),
            (open(), Change::Gathered, "Open", false),
        ];
        for (mut life, change, expected, freed) in cases {
            let before = format!("{life:?} + {change:?}");
            let back = life.next(change);
            assert!(
                format!("{life:?}").starts_with(expected),
                "{before} -> {life:?}, expected {expected}"
            );
            assert_eq!(back.is_some(), freed, "{before}: buffer returned");
        }
    }
}
