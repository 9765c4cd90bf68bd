//! `GET /pushwire.js` and `GET /pushwire.d.ts`: the browser client, served by the hub itself
//! (an ES module without dependencies, and its TypeScript declarations).

use crate::reactor::Response;

/// The client module.
const SCRIPT: &[u8] = include_bytes!("client/pushwire.js");
/// Its declarations.
const TYPES: &[u8] = include_bytes!("client/pushwire.d.ts");

/// `GET /pushwire.js`.
pub(super) fn script() -> Response {
    Response::new(200)
        .header("Content-Type", "text/javascript; charset=utf-8")
        .header("Cache-Control", "max-age=300")
        .body(SCRIPT)
}

/// `GET /pushwire.d.ts`.
pub(super) fn types() -> Response {
    Response::new(200)
        .header("Content-Type", "application/typescript; charset=utf-8")
        .header("Cache-Control", "max-age=300")
        .body(TYPES)
}
