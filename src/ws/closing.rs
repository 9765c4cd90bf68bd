//! The closing handshake (RFC 6455 §7) as one transition function: every change of a
//! connection's close state goes through [`Close::next`], with the rule beside each arm.

use super::handshake::Role;
use crate::time::Instant;

/// Where a connection stands in the closing handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Close {
    /// Data flows both ways.
    Open,
    /// We sent a close frame and wait for the peer's, until the deadline.
    Sent { deadline: Instant },
    /// Both close frames have crossed; a client waits for the server to close TCP.
    AwaitingEof { deadline: Instant },
    /// Done: flush what is queued and close the transport.
    Closed,
}

/// What moves the closing handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CloseInput {
    /// We sent a close frame: the application started the closing handshake.
    Sent,
    /// The peer's close frame arrived (and was answered, if ours was not out yet).
    Received,
    /// We failed the connection: our close frame with the error's code is out.
    Failed,
    /// The transport ended (a FIN or a reset).
    TransportEnded,
    /// A timer fired (the deadline may or may not have passed).
    Timer,
}

impl Close {
    /// The state after `input` at `now`; `deadline` is the closing deadline a transition that
    /// starts waiting would set (`now` plus `Limits::close_timeout`).
    pub(super) fn next(
        self,
        input: CloseInput,
        role: Role,
        now: Instant,
        deadline: Instant,
    ) -> Close {
        use Close::{AwaitingEof, Closed, Open, Sent};
        // §7.1.1: once both close frames have crossed, the server closes TCP first; the client
        // waits for that, for a while.
        let both_out = match role {
            Role::Server => Closed,
            Role::Client => AwaitingEof { deadline },
        };
        match (self, input) {
            // §7.1.2 "Start the WebSocket Closing Handshake": wait for the peer's close.
            (Open, CloseInput::Sent) => Sent { deadline },
            // §5.5.1: the peer's close answered by ours (Open), or the answer to ours (Sent).
            (Open | Sent { .. }, CloseInput::Received) => both_out,
            // §7.1.7 "Fail the WebSocket Connection": our close is out and nothing more is
            // read; we do not wait for the peer's close.
            (Open | Sent { .. }, CloseInput::Failed) => both_out,
            // §7.1.4: the transport is closed, whatever came before (§7.1.5 decides the code).
            (_, CloseInput::TransportEnded) => Closed,
            // §7.1.1, §7.1.7: a peer that never answers our close, or a server that never
            // closes TCP, is given up on at the deadline.
            (Sent { deadline: d } | AwaitingEof { deadline: d }, CloseInput::Timer) if now >= d => {
                Closed
            }
            // Nothing else changes the state: a second close, a failure after closing, an
            // early timer.
            (state, _) => state,
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

    #[test]
    fn every_transition_of_the_closing_handshake() {
        use Close::*;
        use CloseInput::*;
        let d = at(5000);
        let cases = [
            // (state, input, role, now, expected)
            (Open, Sent, Role::Server, at(0), Close::Sent { deadline: d }),
            (Open, Received, Role::Server, at(0), Closed),
            (
                Open,
                Received,
                Role::Client,
                at(0),
                AwaitingEof { deadline: d },
            ),
            (
                Close::Sent { deadline: at(9) },
                Received,
                Role::Client,
                at(0),
                AwaitingEof { deadline: d },
            ),
            (Open, Failed, Role::Server, at(0), Closed),
            (
                Open,
                Failed,
                Role::Client,
                at(0),
                AwaitingEof { deadline: d },
            ),
            (Open, TransportEnded, Role::Client, at(0), Closed),
            (
                AwaitingEof { deadline: at(9) },
                TransportEnded,
                Role::Client,
                at(0),
                Closed,
            ),
            (
                Close::Sent { deadline: at(9) },
                Timer,
                Role::Server,
                at(8),
                Close::Sent { deadline: at(9) },
            ),
            (
                Close::Sent { deadline: at(9) },
                Timer,
                Role::Server,
                at(9),
                Closed,
            ),
            (
                AwaitingEof { deadline: at(9) },
                Timer,
                Role::Client,
                at(10),
                Closed,
            ),
            (Open, Timer, Role::Server, at(10), Open),
            (
                Close::Sent { deadline: at(9) },
                Sent,
                Role::Server,
                at(0),
                Close::Sent { deadline: at(9) },
            ),
            (
                AwaitingEof { deadline: at(9) },
                Failed,
                Role::Client,
                at(0),
                AwaitingEof { deadline: at(9) },
            ),
            (Closed, Received, Role::Server, at(0), Closed),
        ];
        for (state, input, role, now, expected) in cases {
            assert_eq!(
                state.next(input, role, now, d),
                expected,
                "{state:?} + {input:?} ({role:?})"
            );
        }
    }
}
