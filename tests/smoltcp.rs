//! The machines over another network stack: smoltcp's TCP on its in-memory loopback device,
//! a server and a client in one process, in virtual time — no OS socket anywhere. An HTTP
//! request sent one byte per segment, a WebSocket echo with a ping and the closing handshake,
//! and an event stream of 100 events.

use pushwire::{Instant, Limits, http, sse, ws};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration as NetDuration, Instant as NetInstant};
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};
use std::time::Duration;

/// Two TCP sockets over smoltcp's loopback, and the virtual clock.
struct Net {
    device: Loopback,
    iface: Interface,
    sockets: SocketSet<'static>,
    server: SocketHandle,
    client: SocketHandle,
    clock: NetInstant,
}

fn socket() -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 8192]),
        tcp::SocketBuffer::new(vec![0; 8192]),
    );
    s.set_nagle_enabled(false);
    s
}

impl Net {
    fn connected() -> Net {
        let mut device = Loopback::new(Medium::Ethernet);
        let config = Config::new(EthernetAddress([0x02, 0, 0, 0, 0, 1]).into());
        let clock = NetInstant::from_millis(0);
        let mut iface = Interface::new(config, &mut device, clock);
        iface.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8))
                .unwrap();
        });
        let mut sockets = SocketSet::new(vec![]);
        let server = sockets.add(socket());
        let client = sockets.add(socket());
        sockets.get_mut::<tcp::Socket>(server).listen(80).unwrap();
        let cx = iface.context();
        sockets
            .get_mut::<tcp::Socket>(client)
            .connect(cx, (IpAddress::v4(127, 0, 0, 1), 80), 49152)
            .unwrap();
        let mut net = Net {
            device,
            iface,
            sockets,
            server,
            client,
            clock,
        };
        for _ in 0..100 {
            net.step();
        }
        assert!(net.sock(net.client).may_send(), "connected");
        net
    }

    /// Moves the network on: what is due is sent, the clock advances.
    fn step(&mut self) {
        self.iface
            .poll(self.clock, &mut self.device, &mut self.sockets);
        let delay = self.iface.poll_delay(self.clock, &self.sockets);
        self.clock += match delay {
            Some(d) if d > NetDuration::ZERO => d.min(NetDuration::from_millis(10)),
            _ => NetDuration::from_millis(1),
        };
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.clock.total_micros() as u64)
    }

    fn sock(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    /// Sends `bytes` from `h`, stepping while its buffer is full.
    fn send(&mut self, h: SocketHandle, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = self.sock(h).send_slice(bytes).unwrap();
            bytes = &bytes[n..];
            self.step();
        }
    }

    /// What `h` has received.
    fn recv(&mut self, h: SocketHandle) -> Vec<u8> {
        let mut got = Vec::new();
        while self.sock(h).can_recv() {
            self.sock(h)
                .recv(|b| {
                    got.extend_from_slice(b);
                    (b.len(), ())
                })
                .unwrap();
        }
        got
    }
}

/// The server: HTTP until an upgrade or a stream, then the WebSocket echo.
enum Server {
    Http(http::Connection),
    Ws(ws::Connection),
    Done,
}

/// The server's side, driven over `net`'s server socket.
struct Side {
    state: Server,
    buf: Vec<u8>,
    limits: Limits,
}

impl Side {
    fn new(net: &Net) -> Side {
        let limits = Limits::default();
        Side {
            state: Server::Http(http::Connection::new(net.now(), &limits)),
            buf: Vec::new(),
            limits,
        }
    }

    /// Reads what arrived, answers it, sends the answers.
    fn turn(&mut self, net: &mut Net) {
        let input = net.recv(net.server);
        self.buf.extend_from_slice(&input);
        let mut out = Vec::new();
        let now = net.now();
        match &mut self.state {
            Server::Http(conn) => {
                while let Ok(step) = conn.feed(now, &self.buf, &mut out) {
                    let progressed = step.consumed > 0 || step.event.is_some();
                    let mut next = None;
                    match step.event {
                        Some(http::Event::Request(req)) if req.path() == "/events" => {
                            stream_events(conn, now, &mut out);
                        }
                        Some(http::Event::Request(req)) if req.is_upgrade() => {
                            let offer = ws::check_request(&req).unwrap();
                            next = Some(offer.accept(None, &[], conn, &mut out).unwrap());
                        }
                        Some(http::Event::Request(_)) => {
                            conn.respond(200, &[], b"hello over smoltcp", &mut out)
                                .unwrap();
                        }
                        Some(http::Event::Upgraded { leftover }) => {
                            assert!(leftover.is_empty());
                        }
                        _ => {}
                    }
                    let consumed = step.consumed;
                    self.buf.drain(..consumed);
                    if let Some(proof) = next {
                        self.state = Server::Ws(ws::Connection::new(proof, &self.limits));
                        break;
                    }
                    if !progressed {
                        break;
                    }
                }
            }
            Server::Ws(conn) => {
                while let Ok(step) = conn.feed(now, &mut self.buf, &mut out) {
                    let progressed = step.consumed > 0 || step.event.is_some();
                    match step.event {
                        Some(ws::Event::Text(t)) => conn.send_text(&t, &mut out).unwrap(),
                        Some(ws::Event::Binary(b)) => conn.send_binary(&b, &mut out).unwrap(),
                        _ => {}
                    }
                    let consumed = step.consumed;
                    self.buf.drain(..consumed);
                    if !progressed {
                        break;
                    }
                }
                if conn.is_closed() {
                    self.state = Server::Done;
                }
            }
            Server::Done => {}
        }
        net.send(net.server, &out);
    }
}

/// 100 events on a streamed response.
fn stream_events(conn: &mut http::Connection, now: Instant, out: &mut Vec<u8>) {
    conn.send_response(200, &sse::RESPONSE_HEADERS, http::ResponseBody::Stream, out)
        .unwrap();
    let mut body = Vec::new();
    let mut stream = sse::EventStream::open(now, Duration::from_secs(15), &mut body);
    for n in 1..=100 {
        let id = n.to_string();
        let event = sse::Event {
            id: Some(&id),
            event: None,
            data: "{\"reading\":42}",
            retry: None,
        };
        stream.send(now, &event, &mut body).unwrap();
    }
    conn.send_body(&body, out).unwrap();
    conn.send_end(&[], out).unwrap();
}

/// Runs the network and the server until `done` says the client has what it waits for.
fn run_until(net: &mut Net, server: &mut Side, mut done: impl FnMut(&mut Net) -> bool) {
    for _ in 0..20_000 {
        net.step();
        server.turn(net);
        if done(net) {
            return;
        }
    }
    panic!("not done in 20,000 steps of virtual time");
}

#[test]
fn an_http_request_sent_one_byte_per_segment_is_answered() {
    let mut net = Net::connected();
    let mut server = Side::new(&net);
    for b in b"GET / HTTP/1.1\r\nHost: device\r\n\r\n" {
        net.send(net.client, std::slice::from_ref(b));
        net.step();
        server.turn(&mut net);
    }
    let mut got = Vec::new();
    run_until(&mut net, &mut server, |net| {
        got.extend(net.recv(net.client));
        got.ends_with(b"hello over smoltcp")
    });
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn a_websocket_echoes_answers_a_ping_and_closes_cleanly() {
    let mut net = Net::connected();
    let mut server = Side::new(&net);
    let handshake = ws::ClientHandshake::new(pushwire::entropy::OsEntropy);
    let mut client_http = http::client::Connection::new(&Limits::default());
    let mut out = Vec::new();
    handshake
        .send_request("device", "/ws", &[], &[], &mut client_http, &mut out)
        .unwrap();
    net.send(net.client, &out);
    let mut buf = Vec::new();
    let mut proof = None;
    let mut handshake = Some(handshake);
    run_until(&mut net, &mut server, |net| {
        buf.extend(net.recv(net.client));
        let Ok(step) = client_http.feed(&buf) else {
            return false;
        };
        let Some(http::client::Event::Response(r)) = step.event else {
            return false;
        };
        let handshake = handshake.take().expect("one response");
        proof = Some(handshake.verify(&r, &[]).unwrap().0);
        buf.drain(..step.consumed);
        true
    });
    let mut client = ws::Connection::new(proof.unwrap(), &Limits::default());
    let mut out = Vec::new();
    client.send_text("hello", &mut out).unwrap();
    client.send_ping(b"are you there", &mut out).unwrap();
    net.send(net.client, &out);
    let mut events = Vec::new();
    let mut read = |net: &mut Net, client: &mut ws::Connection, events: &mut Vec<String>| {
        buf.extend(net.recv(net.client));
        let mut reply = Vec::new();
        while let Ok(step) = client.feed(net.now(), &mut buf, &mut reply) {
            let consumed = step.consumed;
            let got = step.event.map(|e| format!("{e:?}"));
            buf.drain(..consumed);
            match got {
                Some(e) => events.push(e),
                None if consumed == 0 => break,
                None => {}
            }
        }
    };
    run_until(&mut net, &mut server, |net| {
        read(net, &mut client, &mut events);
        events.len() == 2
    });
    // Then the closing handshake: our close, the server's answer (RFC 6455 §7.1.1: the client
    // then waits for the server to close TCP).
    let mut out = Vec::new();
    client
        .send_close(Some(ws::CloseCode::NORMAL), "bye", &mut out)
        .unwrap();
    net.send(net.client, &out);
    run_until(&mut net, &mut server, |net| {
        read(net, &mut client, &mut events);
        events.len() == 3
    });
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[0].contains("Text(\"hello\")"), "{events:?}");
    assert!(events[1].contains("Pong"), "{events:?}");
    assert!(
        events[2].contains("Close") && events[2].contains("1000"),
        "{events:?}"
    );
    assert!(matches!(server.state, Server::Done));
}

#[test]
fn an_event_stream_of_100_events_arrives_whole() {
    let mut net = Net::connected();
    let mut server = Side::new(&net);
    net.send(
        net.client,
        b"GET /events HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n",
    );
    let (mut head, mut body) = (Vec::new(), Vec::new());
    let mut parser = sse::Parser::new(4096, 4096);
    let mut ids = Vec::new();
    run_until(&mut net, &mut server, |net| {
        let input = net.recv(net.client);
        let at_head = !head.ends_with(b"\r\n\r\n");
        if at_head {
            head.extend(input);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                body.extend(head.split_off(end + 4));
            }
        } else {
            body.extend(input);
        }
        while let Ok(step) = parser.feed(&body) {
            body.drain(..step.consumed);
            match step.item {
                Some(sse::Item::Event(e)) => ids.push(e.last_event_id.parse::<u32>().unwrap()),
                _ if step.consumed == 0 => break,
                _ => {}
            }
        }
        ids.len() == 100
    });
    assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(ids, (1..=100).collect::<Vec<u32>>());
}
