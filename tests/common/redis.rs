//! A `redis-server` of a test's own and hub server nodes over it (the tests that need Redis).

use super::{Client, TestServer, WsClient, WsEv, wait_for};
use pushwire::Limits;
use pushwire::resp::{Parser, RespLimits, Value, encode_command};
use pushwire::server::HubServer;
use pushwire::server::hub_server::Notice;
use pushwire::server::redis::{Link, RedisUrl};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// A `redis-server` of this test's own, on a free port, in its own directory.
pub struct Redis {
    pub port: u16,
    dir: PathBuf,
    aof: bool,
    child: Option<Child>,
}

impl Redis {
    pub fn start(aof: bool) -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("pushwire-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Redis {
            port,
            dir,
            aof,
            child: None,
        };
        redis.run();
        redis
    }

    pub fn run(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", if self.aof { "yes" } else { "no" }])
            .args(["--appendfsync", "always", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        self.child = Some(child);
        wait_for(|| self.command(&["PING"]).is_some());
    }

    /// Sends it a signal (`STOP`, `CONT`) with `kill(1)`.
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("redis-server runs").id();
        let status = Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// Kills it (no shutdown: a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> RedisUrl {
        format!("redis://127.0.0.1:{}", self.port).parse().unwrap()
    }

    /// One command on a connection of its own; `None` if Redis does not answer.
    pub fn command(&self, args: &[&str]) -> Option<Value> {
        command_at(self.port, args)
    }
}

/// One command to the Redis on `port`, on a connection of its own; `None` if it does not
/// answer.
pub fn command_at(port: u16, args: &[&str]) -> Option<Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut out = Vec::new();
    encode_command(args, &mut out);
    stream.write_all(&out).ok()?;
    let mut parser = Parser::new(RespLimits::default());
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(v) = parser.feed(&buf).ok()?.value {
            return Some(v);
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One node: the hub server over `redis`, two workers.
pub struct Node {
    pub server: TestServer<Notice>,
    pub link: Arc<Link>,
}

impl Node {
    pub fn start(redis: &Redis) -> Node {
        Node::start_url(redis.url())
    }

    /// A node whose link goes to `url` (a proxy in front of Redis, say).
    pub fn start_url(url: RedisUrl) -> Node {
        let limits = Limits::default();
        let link = Link::new(url, limits.history_events);
        let hub = HubServer::new(limits.clone(), b"page").with_redis(link.clone());
        let builder = pushwire::reactor::Server::builder()
            .threads(2)
            .limits(limits)
            .tick(Duration::from_millis(100));
        let server = TestServer::start_built(builder, hub);
        link.start(server.handle.clone()).unwrap();
        wait_for(|| link.is_up());
        Node { server, link }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    pub fn publish(&self, topic: &str, text: &str) -> super::Resp {
        let mut c = Client::new(self.addr());
        c.send(
            "POST",
            &format!("/publish?topic={topic}"),
            Some(text.as_bytes()),
        );
        c.recv().expect("an answer to the publish")
    }

    pub fn published(&self, topic: &str, text: &str) -> u64 {
        let r = self.publish(topic, text);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        String::from_utf8(r.body).unwrap().parse().unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.link.stop();
    }
}

/// The sequence number in an event line.
pub fn seq_of(line: &str) -> u64 {
    let at = line
        .find("\"seq\":")
        .unwrap_or_else(|| panic!("an event: {line}"))
        + 6;
    line[at..]
        .split([',', '}'])
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn ws_text(ws: &mut WsClient) -> String {
    loop {
        match ws.recv() {
            Some(WsEv::Text(t)) => return t,
            Some(WsEv::Close(code, reason)) => panic!("closed {code:?} {reason}"),
            Some(_) => continue,
            None => panic!("the socket ended"),
        }
    }
}
