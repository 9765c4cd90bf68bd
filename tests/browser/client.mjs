// pushwire.js in a real browser (Chromium): ten topics over one connection while the page's own
// fetches still work; a WebSocket that goes silent mid-stream is left for the next transport
// with nothing lost; a server restart is waited for on the same transport; and through the
// feed example's HTTP/1.0 buffering proxy it falls back to long-polling and delivers every
// event once.
//
//   node tests/browser/client.mjs <pushwire binary> <feed example binary>

import { checks, launch, port as freePort, startServer, until as waitIn } from "./harness.mjs";

const [bin, feedBin] = process.argv.slice(2);
if (!bin || !feedBin) {
  console.error("usage: node client.mjs <pushwire binary> <feed binary>");
  process.exit(2);
}
const { check, finish } = checks("pushwire.js");
const until = (page, fn, arg, what, timeout = 20000) => waitIn(page, fn, arg, what, timeout, 50);
const port = freePort(16000, 1500);
const base = `http://127.0.0.1:${port}`;
const serve = () => startServer(bin, ["--port", String(port), "--threads", "2", "--log-level", "warn"], "pushwire: listening on");
let server = await serve();
const browser = await launch();

const publish = async (origin, topic, text) => {
  const r = await fetch(`${origin}/publish?topic=${encodeURIComponent(topic)}`, { method: "POST", body: text });
  return Number(await r.text());
};

/// A page on `origin` with pushwire.js connected to `topics`; what it received is in
/// `window.got` (topic -> [seq]), its states in `window.states`.
async function open(origin, topics, options = {}) {
  const page = await browser.newPage();
  page.on("pageerror", e => console.log("page error:", e.message));
  await page.goto(`${origin}/plaintext`);
  await page.evaluate(async ([topics, options]) => {
    // A WebSocket whose messages a test can hold back (as a middlebox holding frames would).
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
      set onmessage(fn) { super.onmessage = e => { if (!window.holdFrames) fn(e); }; }
    };
    const { connect } = await import("/pushwire.js");
    window.got = {};
    window.states = [];
    window.hub = connect("", { topics, ...options });
    window.hub.on("message", m => (window.got[m.topic] ??= []).push(m.seq));
    window.hub.on("state", s => window.states.push(`${s.transport}:${s.state}`));
  }, [topics, options]);
  await until(page, () => window.hub.state === "open", null, "open");
  return page;
}

const inOrderOnce = (got, topic, last) =>
  JSON.stringify(got[topic] || []) === JSON.stringify(Array.from({ length: last }, (_, i) => i + 1));

try {
  // Ten rooms on one connection, and the page's own requests still get through.
  const rooms = Array.from({ length: 10 }, (_, i) => `room${i}`);
  const page = await open(base, rooms);
  check("ten topics open one WebSocket", await page.evaluate(() => window.hub.transport) === "websocket");
  for (const room of rooms) for (let i = 0; i < 3; i++) await publish(base, room, `${room} ${i}`);
  check("every topic's events arrive, once and in order",
    await until(page, rooms => rooms.every(r => JSON.stringify(window.got[r]) === "[1,2,3]"), rooms, "all rooms"));
  const fetched = await page.evaluate(async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => fetch("/plaintext").then(r => r.text())));
    return answers.every(a => a === "Hello, World!");
  });
  check("the page's own fetches still work (eight at once)", fetched);
  const stats = await (await fetch(`${base}/stats`)).json();
  check("one WebSocket on the server for the ten topics", stats.websocket.connections === 1, `${stats.websocket.connections}`);

  // A WebSocket that stops delivering mid-stream (a middlebox that holds frames): the
  // watchdog's short poll finds the events, delivers them, and the next transport takes over.
  const silent = await open(base, ["quiet"], { checkEvery: 1000 });
  await publish(base, "quiet", "before");
  await until(silent, () => JSON.stringify(window.got.quiet) === "[1]", null, "the first event");
  await silent.evaluate(() => { window.holdFrames = true; });
  for (let i = 2; i <= 5; i++) await publish(base, "quiet", `during ${i}`);
  check("a silent WebSocket is left and nothing is lost",
    await until(silent, () => JSON.stringify(window.got.quiet) === "[1,2,3,4,5]", null, "events 2-5"));
  check("…for the next transport", await silent.evaluate(() => window.hub.transport !== "websocket"),
    await silent.evaluate(() => window.hub.transport));

  // A server restart: the client waits for it on the same transport (not a fallback), and the
  // restarted server's numbering begins again (the explicit reset gap).
  const restart = await open(base, ["r"]);
  await publish(base, "r", "one");
  await until(restart, () => JSON.stringify(window.got.r) === "[1]", null, "before the restart");
  server.kill("SIGTERM");
  await until(restart, () => window.hub.state !== "open", null, "the drop");
  server = await serve();
  await until(restart, () => window.hub.state === "open", null, "open again");
  await publish(base, "r", "after");
  check("after a server restart the next event arrives",
    await until(restart, () => (window.got.r || []).length === 2, null, "the event after the restart"));
  check("…over the same transport", await restart.evaluate(() => window.hub.transport) === "websocket", await restart.evaluate(() => window.states.join(" ")));

  // Through the buffering HTTP/1.0 proxy: WebSocket cannot start, the event stream never
  // opens, long-polling delivers.
  const feedPort = 2 * freePort(9000, 1000);
  const feed = await startServer(feedBin, ["--port", String(feedPort), "--proxy-port", String(feedPort + 1)], "feed: open");
  try {
    const proxied = `http://127.0.0.1:${feedPort + 1}`;
    const through = await open(proxied, ["news", "sport"], { openTimeout: 2000 });
    check("through a buffering proxy it falls back to long-polling",
      await until(through, () => window.hub.transport === "longpoll" && window.hub.state === "open", null, "long-polling"),
      await through.evaluate(() => window.states.join(" ")));
    const direct = `http://127.0.0.1:${feedPort}`;
    for (let i = 0; i < 4; i++) { await publish(direct, "news", `n${i}`); await publish(direct, "sport", `s${i}`); }
    check("every event arrives through the proxy, once and in order", await until(through,
      () => JSON.stringify(window.got.news) === "[1,2,3,4]" && JSON.stringify(window.got.sport) === "[1,2,3,4]", null, "all events"));
  } finally {
    feed.kill();
  }
} finally {
  await browser.close();
  server.kill();
}
finish();
