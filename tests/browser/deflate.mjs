// Chromium against examples/ws_echo built with `--features deflate`: the browser offers
// permessage-deflate (with context takeover and client_max_window_bits), the server agrees,
// and every message (empty, short, 70 KB, JSON-like, non-ASCII, a hundred more) echoes intact.
// Usage: node tests/browser/deflate.mjs <ws_echo binary>
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import net from "node:net";

const binary = process.argv[2];
const port = 9000 + Math.floor(Math.random() * 500);
const server = spawn(binary, ["--port", String(port), "--threads", "1"], { stdio: "ignore" });
// Wait until the server listens (at most 10 s).
for (let i = 0; i < 100; i++) {
  const up = await new Promise((ok) => {
    const socket = net.connect(port, "127.0.0.1", () => { socket.end(); ok(true); });
    socket.on("error", () => ok(false));
  });
  if (up) break;
  await new Promise((ok) => setTimeout(ok, 100));
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
let failed = false;
try {
  const page = await browser.newPage();
  const r = await page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    await new Promise((ok, no) => { ws.onopen = ok; ws.onerror = no; });
    const msgs = ["Hello", "", "x".repeat(70000), '{"a":1,"b":[1,2,3]}'.repeat(1000), "héllo ✓".repeat(500)];
    for (let i = 0; i < 100; i++) msgs.push(("message " + i + " ").repeat(i + 1));
    let same = 0;
    for (const m of msgs) {
      const p = new Promise((ok) => { ws.onmessage = (e) => ok(e.data); });
      ws.send(m);
      if ((await p) === m) same++;
    }
    const extensions = ws.extensions;
    ws.close(1000);
    const code = await new Promise((ok) => { ws.onclose = (e) => ok(e.code); });
    return { extensions, same, total: msgs.length, code };
  }, `ws://127.0.0.1:${port}/`);
  console.log(JSON.stringify(r));
  if (!r.extensions.startsWith("permessage-deflate")) { console.error("not negotiated"); failed = true; }
  if (r.same !== r.total) { console.error("messages differ"); failed = true; }
  if (r.code !== 1000) { console.error("close code", r.code); failed = true; }
} finally {
  await browser.close();
  server.kill();
}
process.exit(failed ? 1 : 0);
