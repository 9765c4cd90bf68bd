//! The `pushwire` binary as operators run it, as a real process: configuration from a file,
//! the environment and flags (precedence, every error naming where, `--check-config` hiding
//! secrets), the graceful drain on SIGTERM (every client told where to resume, exit 0; a
//! second signal exits at once), SIGHUP reloading the certificate and the secret, `/ready`,
//! `/metrics`, and the logs (one line per connection, refusals, no token anywhere).
#![cfg(feature = "cli")]

mod common;

use common::binary::{BIN, Node, free_port, run};
use common::{Client, Sse, WsClient, WsEv, wait_for};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A directory of its own for a test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pushwire-bin-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn get(addr: SocketAddr, target: &str) -> common::Resp {
    Client::new(addr).get(target)
}

fn publish(addr: SocketAddr, topic: &str, body: &str) -> u64 {
    let mut c = Client::new(addr);
    c.send(
        "POST",
        &format!("/publish?topic={topic}"),
        Some(body.as_bytes()),
    );
    let r = c.recv().unwrap();
    assert_eq!(r.status, 200);
    String::from_utf8(r.body).unwrap().parse().unwrap()
}

#[test]
fn flags_win_over_the_environment_which_wins_over_the_file() {
    let dir = scratch("precedence");
    let file = dir.join("pushwire.toml");
    std::fs::write(
        &file,
        "history_events = 10\nsse_keepalive = \"20s\"\nthreads = 3\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let (status, out, err) = run(
        &[
            "serve",
            "--config",
            file,
            "--check-config",
            "--history-events",
            "30",
        ],
        &[
            ("PUSHWIRE_HISTORY_EVENTS", "20"),
            ("PUSHWIRE_SSE_KEEPALIVE", "7s"),
        ],
    );
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("history_events = 30  # --history-events\n"),
        "{out}"
    );
    assert!(
        out.contains("sse_keepalive = \"7s\"  # PUSHWIRE_SSE_KEEPALIVE\n"),
        "{out}"
    );
    assert!(out.contains(&format!("threads = 3  # {file}:3\n")), "{out}");
    assert!(out.contains("idle_timeout = \"10s\"  # default\n"), "{out}");
    // PUSHWIRE_CONFIG names the file too.
    let (status, out, _) = run(&["--check-config"], &[("PUSHWIRE_CONFIG", file)]);
    assert_eq!(status, 0);
    assert!(out.contains("history_events = 10"), "{out}");
}

/// A configuration mistake: what it is, its flags and environment, and what the error says.
type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)], String);

#[test]
fn every_configuration_error_names_where_and_exits_2() {
    let dir = scratch("errors");
    let file = dir.join("bad.toml");
    let path = file.to_str().unwrap().to_string();
    let cases: [Case; 9] = [
        (
            "unknown key",
            &[],
            &[],
            format!("{path}:2: nosuch: unknown key"),
        ),
        (
            "bad value",
            &[],
            &[],
            format!("{path}:1: history_events: expected a whole number"),
        ),
        ("syntax", &[], &[], format!("{path}:1:")),
        (
            "tls_cert alone",
            &[],
            &[],
            format!("{path}:1: tls_cert: needs tls_key"),
        ),
        (
            "env",
            &[],
            &[("PUSHWIRE_MAX_BODY_BYTES", "lots")],
            "PUSHWIRE_MAX_BODY_BYTES: max_body_bytes: expected a size".into(),
        ),
        (
            "flag",
            &["--port", "70000"],
            &[],
            "--port: port: expected a port from 1 to 65535".into(),
        ),
        (
            "open non-loopback",
            &["--bind", "0.0.0.0"],
            &[],
            "--bind: bind: a non-loopback address without token_secret_file".into(),
        ),
        (
            "unknown flag",
            &["--history-evnts", "3"],
            &[],
            "--history-evnts: unknown argument".into(),
        ),
        (
            "audience without secret",
            &[],
            &[("PUSHWIRE_AUDIENCE", "x")],
            "PUSHWIRE_AUDIENCE: audience: needs token_secret_file".into(),
        ),
    ];
    let files = [
        "threads = 1\nnosuch = 2\n",
        "history_events = \"ten\"\n",
        "history_events = = 3\n",
        "tls_cert = \"cert.pem\"\n",
        "",
        "",
        "",
        "",
        "",
    ];
    for ((what, args, env, expected), text) in cases.iter().zip(files) {
        std::fs::write(&file, text).unwrap();
        let mut all = vec!["serve", "--config", &path, "--check-config"];
        all.extend_from_slice(args);
        let (status, out, err) = run(&all, env);
        assert_eq!(status, 2, "{what}: {out}{err}");
        assert!(
            err.contains(expected.as_str()),
            "{what}: expected {expected:?} in {err:?}"
        );
    }
}

#[test]
fn check_config_hides_the_redis_password_and_reads_the_secret_file() {
    let dir = scratch("secrets");
    let secret = dir.join("secret");
    std::fs::write(
        &secret,
        "a secret of at least thirty-two bytes, long enough\n",
    )
    .unwrap();
    let (status, out, err) = run(
        &[
            "--check-config",
            "--token-secret-file",
            secret.to_str().unwrap(),
        ],
        &[(
            "PUSHWIRE_REDIS",
            "redis://user:hunter2secret@127.0.0.1:6379/0",
        )],
    );
    assert_eq!(status, 0, "{err}");
    assert!(
        out.contains("redis = \"redis://user:***@127.0.0.1:6379/0\""),
        "{out}"
    );
    assert!(
        !out.contains("hunter2secret") && !out.contains("thirty-two"),
        "{out}"
    );
    std::fs::write(&secret, "short").unwrap();
    let (status, _, err) = run(
        &[
            "--check-config",
            "--token-secret-file",
            secret.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(status, 2);
    assert!(
        err.contains("--token-secret-file: token_secret_file:"),
        "{err}"
    );
}

#[test]
fn sigterm_tells_every_client_where_to_resume_and_exits_0() {
    let dir = scratch("drain");
    let mut node = Node::start(
        &dir,
        &["--drain-delay", "300ms", "--shutdown-timeout", "10s"],
    );
    let seq = publish(node.addr, "t", "before");
    let mut sse = Sse::open(node.addr, "/events?topic=t", None);
    let mut ws = WsClient::connect(node.addr, "/ws?topic=t");
    // A stream of two topics: its line names both.
    let _two = Sse::open(node.addr, "/events?topic=t&topic=u", None);
    let mut poll = Client::new(node.addr);
    poll.send("GET", &format!("/poll?topic=t&cursor={seq}"), None);
    wait_for(|| common::stat(node.addr, "long_poll", "connections") == 1);
    assert_eq!(get(node.addr, "/ready").status, 200);
    node.signal("TERM");
    // At once: not ready, while the listeners are still open (drain_delay).
    wait_for(|| get(node.addr, "/ready").status == 503);
    // Then each client is told where to resume.
    let ready_body = String::from_utf8(get(node.addr, "/ready").body).unwrap_or_default();
    assert!(ready_body.contains("\"draining\":true"), "{ready_body}");
    let parked = poll.recv().expect("the parked poll is answered");
    assert_eq!(parked.status, 204);
    assert_eq!(parked.header("x-cursor"), Some(seq.to_string().as_bytes()));
    assert_eq!(
        ws.recv(),
        Some(WsEv::Close(
            Some(1001),
            format!("going away; resume from cursor {seq}")
        ))
    );
    let mut rest = String::new();
    let _ = sse.stream.read_to_string(&mut rest);
    assert!(rest.contains("retry: 1000"), "{rest}");
    assert!(
        rest.contains(&format!(": going away; resume from {seq}")),
        "{rest}"
    );
    assert_eq!(node.exit_within(Duration::from_secs(10)), Some(0));
    let log = node.log();
    for line in [
        "msg=draining signal=SIGTERM",
        "msg=drain step=listeners_closed",
        "msg=stopped reason=drained",
    ] {
        assert!(log.contains(line), "{line} in\n{log}");
    }
    assert!(log.contains("technique=websocket reason=shutdown"), "{log}");
    assert!(
        log.contains("technique=sse reason=shutdown topic=\"t u\""),
        "{log}"
    );
}

#[test]
fn a_second_signal_exits_at_once() {
    let dir = scratch("second");
    let mut node = Node::start(&dir, &["--drain-delay", "30s"]);
    node.signal("TERM");
    wait_for(|| get(node.addr, "/ready").status == 503);
    let sent = Instant::now();
    node.signal("INT");
    assert_eq!(node.exit_within(Duration::from_secs(2)), Some(1));
    assert!(sent.elapsed() < Duration::from_secs(2));
    assert!(node.log().contains("msg=exiting reason=second_signal"));
}

#[test]
fn logs_say_what_happened_and_never_a_token() {
    let dir = scratch("logs");
    let secret = dir.join("secret");
    std::fs::write(&secret, "another secret of at least thirty-two bytes\n").unwrap();
    let token = String::from_utf8(
        Command::new(BIN)
            .args([
                "token",
                "--secret-file",
                secret.to_str().unwrap(),
                "--subscribe",
                "ok",
                "--publish",
                "ok",
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let mut node = Node::start(
        &dir,
        &[
            "--token-secret-file",
            secret.to_str().unwrap(),
            "--log-format",
            "json",
        ],
    );
    // A refusal: the token does not name the topic; another with a forged token in the query.
    let mut c = Client::new(node.addr);
    let bearer = format!("Bearer {token}");
    c.send_with(
        "GET",
        "/poll?topic=secret&wait=0",
        &[("Authorization", bearer.as_bytes())],
        None,
    );
    assert_eq!(c.recv().unwrap().status, 403);
    let forged = format!("{token}x");
    let r = get(
        node.addr,
        &format!("/poll?topic=ok&wait=0&access_token={forged}"),
    );
    assert_eq!(r.status, 401);
    // A session that works, and a cookie carrying the token.
    let mut c = Client::new(node.addr);
    let cookie = format!("pushwire_token={token}");
    c.send_with(
        "GET",
        "/poll?topic=ok&wait=0",
        &[("Cookie", cookie.as_bytes())],
        None,
    );
    assert_eq!(c.recv().unwrap().status, 204);
    drop(c);
    node.signal("TERM");
    assert_eq!(node.exit_within(Duration::from_secs(10)), Some(0));
    let log = node.log();
    assert!(
        log.contains("\"msg\":\"refused\",\"reason\":\"forbidden\""),
        "{log}"
    );
    assert!(
        log.contains("\"msg\":\"refused\",\"reason\":\"unauthorized\""),
        "{log}"
    );
    assert!(
        log.contains("\"msg\":\"ended\",\"technique\":\"short_poll\""),
        "{log}"
    );
    assert!(log.contains("\"peer\":\"127.0.0.1:"), "{log}");
    for line in log.lines() {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "one JSON object per line: {line}"
        );
    }
    // The token is nowhere: not its whole, not its signature.
    let signature = token.rsplit('.').next().unwrap();
    assert!(!log.contains(&token) && !log.contains(signature), "{log}");
}

#[test]
fn metrics_move_as_a_session_predicts() {
    let dir = scratch("metrics");
    let node = Node::start(&dir, &[]);
    let value = |name: &str| -> u64 {
        let body = String::from_utf8(get(node.addr, "/metrics").body).unwrap();
        body.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in\n{body}"))
    };
    let published = value("pushwire_events_published_total");
    let sse_delivered = value("pushwire_events_delivered_total{technique=\"sse\"}");
    let ok = value("pushwire_http_responses_total{code=\"200\"}");
    let mut sse = Sse::open(node.addr, "/events?topic=m", None);
    for i in 0..3 {
        publish(node.addr, "m", &format!("{i}"));
    }
    for _ in 0..3 {
        sse.next().unwrap();
    }
    assert_eq!(value("pushwire_events_published_total"), published + 3);
    assert_eq!(
        value("pushwire_events_delivered_total{technique=\"sse\"}"),
        sse_delivered + 3
    );
    assert_eq!(value("pushwire_connections_open{technique=\"sse\"}"), 1);
    // The 3 publishes, the stream's 200, and the earlier scrapes.
    assert!(value("pushwire_http_responses_total{code=\"200\"}") >= ok + 4);
    assert_eq!(get(node.addr, "/nowhere").status, 404);
    assert!(value("pushwire_http_responses_total{code=\"404\"}") >= 1);
    // Recorded by the worker that delivered, right after the writes the stream has read.
    wait_for(|| value("pushwire_delivery_latency_seconds_count") == 3);
    let body = String::from_utf8(get(node.addr, "/metrics").body).unwrap();
    assert!(body.contains("# TYPE pushwire_delivery_latency_seconds histogram"));
    assert!(body.contains("process_resident_memory_bytes "), "{body}");
    drop(sse);
    wait_for(|| value("pushwire_connections_open{technique=\"sse\"}") == 0);
    assert_eq!(
        value("pushwire_connections_closed_total{technique=\"sse\",reason=\"peer_closed\"}"),
        1
    );
}

#[test]
fn a_metrics_listener_serves_figures_to_operators_only() {
    let dir = scratch("metrics-listen");
    let secret = dir.join("secret");
    std::fs::write(&secret, "a third secret of at least thirty-two bytes\n").unwrap();
    let port = free_port();
    let node = Node::start(
        &dir,
        &[
            "--token-secret-file",
            secret.to_str().unwrap(),
            "--metrics-listen",
            &format!("127.0.0.1:{port}"),
        ],
    );
    let operator = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(get(operator, "/metrics").status, 200);
    assert_eq!(get(operator, "/stats").status, 200);
    assert_eq!(get(operator, "/ready").status, 200);
    assert_eq!(
        get(operator, "/events?topic=x").status,
        404,
        "nothing else there"
    );
    assert_eq!(
        get(node.addr, "/metrics").status,
        404,
        "not on the public address"
    );
    let _ = TcpStream::connect(node.addr).map(|mut s| s.write_all(b""));
}

#[test]
fn sighup_reloads_the_certificate_and_keeps_connections() {
    let dir = scratch("reload");
    let (a, b) = (dir.join("a"), dir.join("b"));
    for d in [&a, &b] {
        let status = Command::new(BIN)
            .args(["cert", "--out", d.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(a.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is the owner's alone");
    }
    let live = dir.join("live");
    std::fs::create_dir_all(&live).unwrap();
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(a.join(f), live.join(f)).unwrap();
    }
    let tls_port = free_port();
    let mut node = Node::start(
        &dir,
        &[
            "--tls-cert",
            live.join("cert.pem").to_str().unwrap(),
            "--tls-key",
            live.join("key.pem").to_str().unwrap(),
            "--tls-port",
            &tls_port.to_string(),
        ],
    );
    let tls_addr = SocketAddr::from(([127, 0, 0, 1], tls_port));
    let trust = |d: &Path| {
        pushwire::tls::ClientTls::with_ca_file(d.join("ca.pem"))
            .unwrap()
            .without_resumption()
    };
    let (trust_a, trust_b) = (trust(&a), trust(&b));
    let handshake = |t: &pushwire::tls::ClientTls| {
        t.connect("localhost", TcpStream::connect(tls_addr).unwrap())
            .is_ok()
    };
    assert!(handshake(&trust_a) && !handshake(&trust_b));
    // A broken file: the old certificate stays, and the log says why.
    std::fs::write(live.join("cert.pem"), "garbage").unwrap();
    node.signal("HUP");
    wait_for(|| node.log().contains("reload_failed what=tls_certificate"));
    assert!(handshake(&trust_a));
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(b.join(f), live.join(f)).unwrap();
    }
    node.signal("HUP");
    wait_for(|| node.log().contains("msg=reloaded what=tls_certificate"));
    assert!(handshake(&trust_b) && !handshake(&trust_a));
    node.signal("TERM");
    assert_eq!(node.exit_within(Duration::from_secs(10)), Some(0));
}

#[test]
fn the_subcommands_publish_follow_and_print_the_version() {
    let dir = scratch("sub");
    let node = Node::start(&dir, &[]);
    let url = format!("http://{}", node.addr);
    let mut sub = Command::new(BIN)
        .args([
            "sub",
            &url,
            "--topic",
            "a",
            "--topic",
            "b",
            "--transport",
            "sse",
            "--count",
            "2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(sub.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("connected to"), "{line}");
    for (topic, text) in [("a", "one"), ("b", "two")] {
        let out = Command::new(BIN)
            .args(["pub", &url, "--topic", topic, text])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    }
    let out = sub.wait_with_output().unwrap();
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("{\"topic\":\"a\",\"seq\":1,")
            && lines[0].ends_with("\"data\":\"one\"}")
    );
    assert!(lines[1].starts_with("{\"topic\":\"b\",\"seq\":1,"));
    let (status, out, _) = run(&["--version"], &[]);
    assert_eq!(
        (status, out.trim()),
        (
            0,
            format!("pushwire {}", env!("CARGO_PKG_VERSION")).as_str()
        )
    );
}
