//! One memory budget for the whole server, over loopback: history evicted oldest-first over
//! all topics, then `507`; a consumer behind cut with where to resume; a large frame still
//! arriving refused with `1013` once what is in flight is over its share.

mod common;

use common::{Client, TestServer, WsClient, WsEv, publish, stat, wait_for};
use pushwire::Limits;
use pushwire::server::HubServer;
use pushwire::server::hub_server::Notice as Published;
use std::io::{Read, Write};
use std::time::Duration;

fn server(limits: Limits) -> TestServer<Published> {
    TestServer::start(HubServer::new(limits.clone(), b""), limits, 2)
}

/// The head of a masked binary frame of `len` bytes, and `part` bytes of its payload.
fn frame_start(len: usize, part: usize) -> Vec<u8> {
    fragment(pushwire::ws::OpCode::Binary, true, len, part)
}

/// The head of a masked frame, and `part` bytes of its payload.
fn fragment(opcode: pushwire::ws::OpCode, fin: bool, len: usize, part: usize) -> Vec<u8> {
    let mut out = Vec::new();
    pushwire::ws::Header {
        fin,
        rsv: 0,
        opcode,
        mask: Some([1, 2, 3, 4]),
        len: len as u64,
    }
    .encode(&mut out);
    out.resize(out.len() + part, 0);
    out
}

/// The close frame that `stream` receives first: its code and reason.
fn close_frame(stream: &mut std::net::TcpStream) -> (u16, String) {
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while got.len() < 2 || got.len() < 2 + usize::from(got[1] & 0x7f) {
        let n = stream.read(&mut chunk).expect("a close frame");
        assert!(n > 0, "the connection ended without a close frame");
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(got[0], 0x88, "a close frame first: {got:?}");
    let len = usize::from(got[1] & 0x7f);
    let code = u16::from_be_bytes([got[2], got[3]]);
    (code, String::from_utf8_lossy(&got[4..2 + len]).into_owned())
}

#[test]
fn a_message_assembled_from_fragments_counts_and_is_refused_1013_past_the_share() {
    const MIB: usize = 1 << 20;
    let s = server(Limits {
        memory_budget: 12 * MIB,
        ..Limits::default()
    });
    // Fragments of 60 KiB (each read in the usual pieces), none of them the last: the message
    // the server assembles grows past the in-flight share (6 MiB).
    let mut a = WsClient::connect(s.addr, "/echo");
    let mut fragments = fragment(pushwire::ws::OpCode::Binary, false, 60 * 1024, 60 * 1024);
    for _ in 0..150 {
        let next = fragment(
            pushwire::ws::OpCode::Continuation,
            false,
            60 * 1024,
            60 * 1024,
        );
        fragments.extend_from_slice(&next);
    }
    let _ = a.stream.write_all(&fragments);
    let (code, reason) = close_frame(&mut a.stream);
    assert_eq!(code, 1013, "{reason}");
    // What it held is released with the connection.
    wait_for(|| stat(s.addr, "memory", "frames") == 0);
    // Below the share, a fragmented message is assembled and delivered.
    let mut b = WsClient::connect(s.addr, "/echo");
    let mut message = fragment(pushwire::ws::OpCode::Binary, false, 60 * 1024, 60 * 1024);
    message.extend_from_slice(&fragment(
        pushwire::ws::OpCode::Continuation,
        true,
        60 * 1024,
        60 * 1024,
    ));
    b.stream.write_all(&message).unwrap();
    match b.recv() {
        Some(WsEv::Binary(data)) => assert_eq!(data.len(), 120 * 1024),
        other => panic!("the echo: {other:?}"),
    }
}

#[test]
fn a_large_frame_still_arriving_is_refused_1013_once_in_flight_is_over_its_share() {
    const MIB: usize = 1 << 20;
    let s = server(Limits {
        memory_budget: 12 * MIB,
        ..Limits::default()
    });
    // A sends 3 MiB of a 4 MiB frame: its buffer (4 MiB, the frame) is within the in-flight
    // share (6 MiB).
    let mut a = WsClient::connect(s.addr, "/echo");
    a.stream.write_all(&frame_start(4 * MIB, 3 * MIB)).unwrap();
    wait_for(|| stat(s.addr, "memory", "frames") >= 3 * MIB as u64);
    // B does the same: past the share, B is told to try again later and its buffer is freed.
    let mut b = WsClient::connect(s.addr, "/echo");
    let _ = b.stream.write_all(&frame_start(4 * MIB, 3 * MIB));
    let (code, reason) = close_frame(&mut b.stream);
    assert_eq!(code, 1013, "{reason}");
    // What stays is A's buffer: at most its whole frame, the 14-byte header with the 4 MiB
    // (how far it has grown depends on how the input was cut into reads).
    wait_for(|| stat(s.addr, "memory", "frames") <= (4 * MIB + 14) as u64);
    // A's frame, once whole, is delivered (echoed back), and nothing stays counted.
    a.stream.write_all(&vec![0; MIB]).unwrap();
    match a.recv() {
        Some(WsEv::Binary(data)) => assert_eq!(data.len(), 4 * MIB),
        other => panic!("A's echo: {other:?}"),
    }
    wait_for(|| stat(s.addr, "memory", "frames") == 0);
    let metrics = String::from_utf8(Client::new(s.addr).get("/metrics").body).unwrap();
    assert!(metrics.contains("pushwire_memory_used_bytes{kind=\"frames\"} 0"));
}

/// Under a memory budget, history gives way oldest first over all topics (a reader learns of
/// the loss as a gap), what counts against the budget never passes it, and an event that
/// cannot fit is refused `507` naming the budget.
#[test]
fn the_memory_budget_evicts_the_oldest_history_of_all_topics_then_refuses_507() {
    let budget = 64 * 1024;
    let s = server(Limits {
        memory_budget: budget,
        history_bytes: 1 << 20,
        ..Limits::default()
    });
    let event = "x".repeat(1000);
    for i in 0..200 {
        publish(s.addr, &format!("t{}", i % 10), &event);
    }
    let mut c = Client::new(s.addr);
    let stats = String::from_utf8(c.get("/stats").body).unwrap();
    let field = |name: &str| -> u64 {
        let at = stats.find(&format!("\"{name}\":")).unwrap() + name.len() + 3;
        stats[at..]
            .split([',', '}'])
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(field("history") <= budget as u64, "{stats}");
    assert!(
        field("history") > budget as u64 / 2,
        "history is used up to the budget: {stats}"
    );
    assert!(field("evicted_events") > 100, "{stats}");
    // The first topic lost its oldest events: a reader from the start is told.
    let r = c.get("/poll?topic=t0&cursor=0&wait=0");
    assert_eq!(r.status, 200);
    let body = String::from_utf8(r.body).unwrap();
    assert!(
        body.starts_with("{\"topic\":\"t0\",\"gap\":{\"from\":1,"),
        "{body}"
    );
    // An event larger than the whole budget cannot fit.
    let huge = "y".repeat(budget + 1);
    c.send("POST", "/publish?topic=big", Some(huge.as_bytes()));
    let refused = c.recv().unwrap();
    assert_eq!(refused.status, 507);
    let why = String::from_utf8(refused.body).unwrap();
    assert!(why.contains(&format!("budget is {budget} bytes")), "{why}");
    let metrics = String::from_utf8(c.get("/metrics").body).unwrap();
    assert!(metrics.contains(&format!("pushwire_memory_budget_bytes {budget}")));
    assert!(metrics.contains("pushwire_memory_used_bytes{kind=\"history\"}"));
    assert!(metrics.contains("pushwire_history_evicted_events_total"));
}

/// Over the memory budget, a consumer that is behind is cut at once (not after
/// `slow_consumer_timeout`), told where to resume, while one that keeps up gets everything.
#[test]
fn over_the_memory_budget_a_consumer_behind_is_cut_with_where_to_resume() {
    // Neither its own queue's bound nor the slow-consumer timeout can cut it here: only the
    // budget.
    let limits = Limits {
        memory_budget: 4 << 20,
        write_queue_bytes: 64 << 20,
        slow_consumer_timeout: Duration::from_secs(3600),
        ..Limits::default()
    };
    let s = server(limits);
    let mut slow = WsClient::connect(s.addr, "/ws?topic=m");
    let mut fast = WsClient::connect(s.addr, "/ws?topic=m");
    let body = "x".repeat(64 * 1024);
    let mut c = Client::new(s.addr);
    // Enough to fill the slow one's socket buffers, and then the budget.
    for i in 0..300 {
        c.send("POST", "/publish?topic=m", Some(body.as_bytes()));
        assert_eq!(c.recv().unwrap().status, 200, "publish {i}");
        assert!(matches!(fast.recv(), Some(WsEv::Text(_))), "fast got {i}");
    }
    wait_for(|| stat(s.addr, "websocket", "connections") == 1);
    slow.stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut last = None;
    let mut read = 0;
    while let Some(e) = slow.recv() {
        read += 1;
        last = Some(e);
        if read > 1000 {
            break;
        }
    }
    assert!(read < 300, "the slow consumer was not cut off");
    // Its close (1013, with where to resume) follows what it had not read; a client that does
    // not read may see the connection end first.
    if let Some(WsEv::Close(code, reason)) = last {
        assert_eq!(code, Some(1013));
        assert!(reason.contains("resume from cursor"), "{reason}");
    }
    let metrics = String::from_utf8(c.get("/metrics").body).unwrap();
    let queued = metrics
        .lines()
        .find(|l| l.starts_with("pushwire_memory_used_bytes{kind=\"write_queues\"}"))
        .unwrap();
    assert!(
        queued.ends_with(" 0"),
        "the cut consumer's queue was released: {queued}"
    );
}

/// Whether `c`'s server has answered (without waiting).
fn answered(c: &Client) -> bool {
    c.stream.set_nonblocking(true).unwrap();
    let ready = matches!(c.stream.peek(&mut [0u8; 1]), Ok(n) if n > 0);
    c.stream.set_nonblocking(false).unwrap();
    ready
}

#[test]
fn parked_polls_count_against_the_budget_and_past_it_are_refused_503() {
    const MIB: usize = 1 << 20;
    let limits = Limits {
        memory_budget: 2 * MIB,
        ..Limits::default()
    };
    let s = TestServer::start_with_tick(
        HubServer::new(limits.clone(), b""),
        limits,
        Duration::from_millis(20),
    );
    // History first: it gives way to parked polls.
    for i in 0..200 {
        publish(s.addr, &format!("h{i}"), &"x".repeat(8 << 10));
    }
    wait_for(|| stat(s.addr, "memory", "history") > MIB as u64);
    // Polls waiting on 64 topics of 100-byte names each (a request line within its 8 KiB):
    // about 19 KB each.
    let topics: String = (0..64).map(|i| format!("&topic={i:0>100}")).collect();
    let target = format!("/poll?cursor=0{topics}");
    let mut parked = Vec::new();
    let refused = loop {
        let before = stat(s.addr, "memory", "parked");
        let mut c = Client::new(s.addr);
        c.send("GET", &target, None);
        wait_for(|| stat(s.addr, "memory", "parked") > before || answered(&c));
        if answered(&c) {
            break c.recv().expect("an answer");
        }
        parked.push(c);
        assert!(parked.len() < 500, "never refused");
    };
    assert_eq!(refused.status, 503);
    assert!(refused.header("retry-after").is_some());
    let held = stat(s.addr, "memory", "parked") as usize;
    let each = held / parked.len();
    assert!(each > 18 << 10, "{each} bytes per parked poll");
    // They filled what the budget leaves beside what is in flight; history gave way.
    assert!(
        held <= 2 * MIB && held + 2 * each > 2 * MIB - MIB / 4,
        "{held}"
    );
    wait_for(|| stat(s.addr, "memory", "history") + held as u64 <= 2 * MIB as u64);
    // Polls that go are given back: there is room again.
    parked.drain(..4);
    wait_for(|| (stat(s.addr, "memory", "parked") as usize) <= held - 4 * each);
    let mut c = Client::new(s.addr);
    c.send("GET", &target, None);
    wait_for(|| stat(s.addr, "memory", "parked") as usize > held - 4 * each);
    assert!(!answered(&c), "parked, not refused");
}

#[test]
fn parked_polls_give_their_memory_back_when_answered_without_any_tick() {
    // No `App::tick` on this server: what the polls held is given back as they leave.
    let s = server(Limits::default());
    let mut polls: Vec<Client> = (0..3).map(|_| Client::new(s.addr)).collect();
    for c in &mut polls {
        c.send("GET", "/poll?topic=a&topic=b&cursor=0", None);
    }
    wait_for(|| stat(s.addr, "long_poll", "connections") == 3);
    assert!(stat(s.addr, "memory", "parked") > 0);
    publish(s.addr, "b", "wakes them");
    for c in &mut polls {
        assert_eq!(c.recv().unwrap().status, 200);
    }
    wait_for(|| stat(s.addr, "memory", "parked") == 0);
    // One that goes away too.
    let mut c = Client::new(s.addr);
    c.send("GET", "/poll?topic=a&cursor=0", None);
    wait_for(|| stat(s.addr, "memory", "parked") > 0);
    drop(c);
    wait_for(|| stat(s.addr, "memory", "parked") == 0);
}
