// The demo page in a real browser: starts the ready server, opens the page in headless
// Chromium (the system's, through playwright-core) and checks, in the browser itself:
// WebSocket messages both ways; EventSource receives events and, after the server drops the
// stream, reconnects with Last-Event-ID and misses nothing; long and short polling receive the
// same sequence numbers; all four panels show the same events in the same order.
//
//   node tests/browser/run.mjs <path to the pushwire binary> [screenshot path] [tokens]
//
// With a third argument `tokens`, the server requires tokens (--token-secret-file, minted with
// `pushwire token`): the page gets one in its URL (?access_token=), the test's own requests
// send it as a Bearer field, and a request without one must be refused 401.
//
// With TLS_DIR set (ca.pem, cert.pem and key.pem from `pushwire cert`), the server also
// listens for https and wss and the whole test runs over TLS: Chromium trusts that one
// certificate's key (--ignore-certificate-errors-spki-list, nothing else), and the test's own
// requests trust the CA (run node with NODE_EXTRA_CA_CERTS=$TLS_DIR/ca.pem).

import { chromium } from "playwright-core";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { X509Certificate, createHash, randomBytes } from "node:crypto";

const [bin, shot = "target/browser/demo.png", mint] = process.argv.slice(2);
if (!bin) {
  console.error("usage: node run.mjs <pushwire binary> [screenshot] [tokens]");
  process.exit(2);
}
const port = 20000 + Math.floor(Math.random() * 5000);
const tlsDir = process.env.TLS_DIR;
const tlsPort = port + 5000;
const base = tlsDir ? `https://localhost:${tlsPort}` : `http://127.0.0.1:${port}`;
const tlsArgs = tlsDir
  ? ["--tls-port", String(tlsPort), "--tls-cert", join(tlsDir, "cert.pem"), "--tls-key", join(tlsDir, "key.pem")]
  : [];
// The SHA-256 of the server certificate's public key: the one key Chromium is told to accept.
const spki = tlsDir
  ? createHash("sha256").update(new X509Certificate(readFileSync(join(tlsDir, "cert.pem")))
      .publicKey.export({ type: "spki", format: "der" })).digest("base64")
  : null;
if (tlsDir && !process.env.NODE_EXTRA_CA_CERTS) {
  console.error("TLS_DIR needs NODE_EXTRA_CA_CERTS=$TLS_DIR/ca.pem for the test's own requests");
  process.exit(2);
}
const results = [];
const check = (name, ok, detail = "") => {
  results.push({ name, ok });
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
};

let extra = [], token = null;
if (mint) {
  const secret = join(mkdtempSync(join(tmpdir(), "pushwire-")), "secret");
  writeFileSync(secret, randomBytes(32).toString("base64") + "\n");
  extra = ["--token-secret-file", secret];
  token = execFileSync(bin, ["token", "--secret-file", secret, "--sub", "browser", "--subscribe", "*", "--publish", "*", "--admin"]).toString().trim();
}
const auth = token ? { Authorization: `Bearer ${token}` } : {};
const startServer = async () => {
  const child = spawn(bin, ["--port", String(port), "--threads", "2", "--log-level", "warn", ...tlsArgs, ...extra], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    child.stdout.on("data", d => { if (String(d).includes("pushwire: listening on")) resolve(); });
    child.on("exit", code => reject(new Error(`server exited with ${code}`)));
    setTimeout(() => reject(new Error("server did not start")), 10000);
  });
  return child;
};
let server = await startServer();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic",
         ...(spki ? [`--ignore-certificate-errors-spki-list=${spki}`] : [])],
});
const topic = `browser${Date.now()}`;
const publish = async text => Number(await (await fetch(`${base}/publish?topic=${topic}`, { method: "POST", body: text, headers: auth })).text());
const until = async (page, fn, arg, what) => {
  try { await page.waitForFunction(fn, arg, { timeout: 15000, polling: 50 }); return true; }
  catch { console.log(`timed out waiting for ${what}`); return false; }
};

try {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  page.on("pageerror", e => console.log("page error:", e.message));
  if (token) {
    const refused = await fetch(`${base}/publish?topic=${topic}`, { method: "POST", body: "no token" });
    check("without a token the server answers 401 with a Bearer challenge",
      refused.status === 401 && (refused.headers.get("www-authenticate") || "").startsWith("Bearer"), String(refused.status));
  }
  await page.goto(`${base}/?topic=${topic}${token ? `&access_token=${token}` : ""}`);
  if (tlsDir) {
    check("the page came over https, and its WebSocket is wss://",
      await until(page, () => location.protocol === "https:" && window.pushwire?.ready, null, "https"));
  }
  await page.fill("#interval", "200");
  check("page loads and all four techniques connect",
    await until(page, () => window.pushwire?.ready && pushwire.state.ws.conns === 1 && pushwire.state.sse.conns === 1, null, "connections"));
  const start = await page.evaluate(() => pushwire.start);

  // WebSocket both ways: a message sent from the browser is published and comes back to every panel.
  await page.evaluate(() => pushwire.sendWs("sent by the browser over its WebSocket"));
  check("WebSocket carries a message from the browser to the server and back",
    await until(page, () => pushwire.state.ws.data.includes("sent by the browser over its WebSocket"), null, "ws echo"));

  for (let i = 1; i <= 5; i++) await publish(`event ${i}`);
  const want1 = Array.from({ length: 6 }, (_, i) => start + 1 + i);
  check("every panel receives the first six events",
    await until(page, n => Object.values(pushwire.state).every(s => s.seqs.length >= n), want1.length, "six events"));

  // The server drops every event stream; events published while EventSource reconnects must
  // still arrive (it resumes with Last-Event-ID).
  await fetch(`${base}/drop-streams`, { method: "POST", headers: auth });
  for (let i = 6; i <= 8; i++) await publish(`event ${i}`);
  const want = Array.from({ length: 9 }, (_, i) => start + 1 + i);
  check("EventSource reconnected after the server dropped the stream",
    await until(page, () => pushwire.state.sse.reconnects >= 1 && pushwire.state.sse.conns === 1, null, "reconnect"));
  check("every panel receives all nine events",
    await until(page, n => Object.values(pushwire.state).every(s => s.seqs.length >= n), want.length, "nine events"));
  const seqs = await page.evaluate(() => Object.fromEntries(Object.entries(pushwire.state).map(([k, s]) => [k, s.seqs])));
  check("SSE missed nothing across the reconnect", JSON.stringify(seqs.sse) === JSON.stringify(want), JSON.stringify(seqs.sse));
  check("long-polling and short polling receive the same sequence numbers",
    JSON.stringify(seqs.long) === JSON.stringify(want) && JSON.stringify(seqs.short) === JSON.stringify(want),
    `long ${JSON.stringify(seqs.long)} short ${JSON.stringify(seqs.short)}`);
  const data = await page.evaluate(() => Object.values(pushwire.state).map(s => JSON.stringify(s.data)));
  check("all four panels show the same events in the same order", data.every(d => d === data[0]));
  const stats = await (await fetch(`${base}/stats`, { headers: auth })).json();
  check("the server saw the EventSource reconnect", stats.sse.requests >= 2, `sse requests ${stats.sse.requests}`);
  check("the wire panel shows raw protocol text",
    await until(page, () => ["sse", "websocket", "short-poll"].every(t => document.getElementById(`wire-${t}`).textContent.length > 0), null, "wire samples"));
  check("short polling shows empty responses",
    await until(page, () => pushwire.state.short.empty > 0, null, "an empty short poll"));

  // The server restarts (its numbering begins again): every panel shows the reset and
  // receives what is published next.
  const stopped = new Promise(resolve => server.once("exit", resolve));
  server.kill();
  await stopped;
  server = await startServer();
  const after = await publish("after the restart");
  check("after a server restart every panel receives the next event",
    await until(page, () => Object.values(pushwire.state).every(s => s.data.includes("after the restart")), null, "the event after the restart"),
    `seq ${after}; ` + JSON.stringify(await page.evaluate(() => Object.fromEntries(Object.entries(pushwire.state).map(([k, s]) => [k, s.data.slice(-2)])))));
  check("every panel saw the reset",
    await page.evaluate(() => Object.values(pushwire.state).every(s => s.resets >= 1)),
    JSON.stringify(await page.evaluate(() => Object.fromEntries(Object.entries(pushwire.state).map(([k, s]) => [k, s.resets])))));
  const statuses = await page.evaluate(() => ["short", "long", "sse", "ws"].map(k => document.getElementById(`${k}-status`).textContent));
  check("every panel says it is connected again", await until(page, () =>
    ["short", "long", "sse", "ws"].every(k => document.getElementById(`${k}-status`).className === "status on"), null, "statuses"), statuses.join(" | "));

  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
} finally {
  await browser.close();
  server.kill();
}

const failed = results.filter(r => !r.ok).length;
console.log(`browser: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
