//! An idle server uses no CPU: no busy loop, no periodic wake-ups without a deadline.
//! (A test binary of its own, so no other test's threads share the process's CPU count.)

mod common;

use common::{Client, TestServer, WsClient};
use pushwire::Limits;
use pushwire::http::Request;
use pushwire::reactor::{App, Ctx, Reply, Response};
use std::time::Duration;

struct Idle;

impl App for Idle {
    type Local = ();
    type Notice = ();
    fn local(&self) {}
    fn request(&self, _: &mut (), req: &Request<'_>, _: &[u8], _: &mut Ctx<'_, ()>) -> Reply {
        if req.is_upgrade() {
            Reply::WebSocket { protocol: None }
        } else {
            Response::text("ok").into()
        }
    }
}

/// User + system CPU time of this process, in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn idle_server_with_open_connections_uses_no_cpu() {
    // Long deadlines: nothing is due during the measurement.
    let limits = Limits {
        idle_timeout: Duration::from_secs(60),
        header_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let s = TestServer::start(Idle, limits, 2);
    let mut http = Client::new(s.addr);
    assert_eq!(http.get("/").status, 200);
    let _ws: Vec<WsClient> = (0..20).map(|_| WsClient::connect(s.addr, "/")).collect();
    std::thread::sleep(Duration::from_millis(200));
    let before = cpu_ticks();
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks() - before;
    // 100 ticks per second is the usual clock; 3 ticks is 30 ms over 2 s.
    assert!(used <= 3, "an idle server used {used} ticks of CPU in 2 s");
}
