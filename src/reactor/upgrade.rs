//! The hand-off from HTTP to WebSocket (RFC 6455 §4.2.2), in one place: the application's
//! `Reply::WebSocket` is checked and answered `101` (or refused) here, and when the HTTP machine
//! reports `Upgraded`, the WebSocket machine takes the connection over from the proof the
//! handshake left.

use super::core::{Conn, Core, HttpConn, Pending, Proto};
use crate::http;
use crate::ws;
use std::borrow::Cow;

/// Answers an upgrade request the application accepted: `101` with `protocol` (and
/// permessage-deflate when configured and offered), or the refusal the check calls for.
pub(crate) fn accept(
    core: &mut Core,
    key: u64,
    protocol: Option<Cow<'static, str>>,
    request: &http::Request<'_>,
) {
    let Some(Conn {
        proto: Proto::Http(h),
        app_owned,
        ..
    }) = core.slab.get_mut(key)
    else {
        return;
    };
    let HttpConn { http, pending } = &mut **h;
    match ws::check_request(request) {
        Ok(offer) => {
            #[cfg(feature = "deflate")]
            let offer = match core.deflate {
                Some(config) => offer.with_deflate(config),
                None => offer,
            };
            match offer.accept(protocol.as_deref(), &[], http, &mut core.scratch) {
                Ok(proof) => {
                    *pending = Pending::Upgrading(proof);
                    *app_owned = true;
                }
                Err(_) => {
                    let _ = http.respond(500, &[], b"", &mut core.scratch);
                }
            }
        }
        Err(e) => {
            let _ = ws::reject(e, http, &mut core.scratch);
        }
    }
    core.flush(key);
    core.settle(key);
}

/// The `101` is out and the HTTP machine handed over: the WebSocket machine takes the
/// connection, starting its clocks now. False if no accepted handshake was pending.
pub(crate) fn take_over(core: &mut Core, key: u64) -> bool {
    let now = core.now;
    let Some(conn) = core.slab.get_mut(key) else {
        return false;
    };
    let Proto::Http(h) = &mut conn.proto else {
        return false;
    };
    let Pending::Upgrading(proof) = std::mem::replace(&mut h.pending, Pending::None) else {
        return false;
    };
    let mut machine = ws::Connection::new(proof, &core.limits);
    machine.start(now);
    conn.proto = Proto::Ws(Box::new(machine));
    true
}
