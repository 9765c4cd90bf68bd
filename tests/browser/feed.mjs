// The feed example in a real browser, through its HTTP/1.0 buffering proxy: a headline posted
// on the page arrives by long-polling; the event stream delivers nothing and the WebSocket
// cannot start — the reason to choose long-polling, visible.
//
//   node tests/browser/feed.mjs <path to the feed binary> [screenshot path]

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

const [bin, shot = "target/browser/feed.png"] = process.argv.slice(2);
if (!bin) {
  console.error("usage: node feed.mjs <feed binary> [screenshot]");
  process.exit(2);
}
const port = 29000 + Math.floor(Math.random() * 1500) * 2;
const results = [];
const check = (name, ok, detail = "") => {
  results.push({ name, ok });
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
};
const server = spawn(bin, ["--port", String(port), "--proxy-port", String(port + 1)], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((resolve, reject) => {
  server.stdout.on("data", d => { if (String(d).includes("feed: open")) resolve(); });
  server.on("exit", code => reject(new Error(`server exited with ${code}`)));
  setTimeout(() => reject(new Error("server did not start")), 10000);
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"],
});
const until = async (page, fn, arg, what, timeout = 15000) => {
  try { await page.waitForFunction(fn, arg, { timeout, polling: 100 }); return true; }
  catch { console.log(`timed out waiting for ${what}`); return false; }
};
try {
  const page = await browser.newPage({ viewport: { width: 1300, height: 600 } });
  page.on("pageerror", e => console.log("page error:", e.message));
  // Through the proxy.
  await page.goto(`http://127.0.0.1:${port + 1}/`);
  check("the long-poll is parked at the server", await until(page, () => feed.polls >= 1, null, "a poll"));
  await page.fill("#text", "Markets rally on long-polling news");
  await page.press("#text", "Enter");
  check("a headline posted on the page arrives by long-polling through the proxy",
    await until(page, () => feed.items.includes("Markets rally on long-polling news"), null, "the headline"));
  await page.fill("#text", "Second headline");
  await page.press("#text", "Enter");
  check("…and the next one", await until(page, () => feed.items.includes("Second headline"), null, "the second headline"));
  check("the WebSocket cannot start through the proxy", await until(page, () => feed.wsState === "refused", null, "ws refused"));
  check("the event stream delivers nothing through the proxy", await page.evaluate(() => feed.sse === 0));
  mkdirSync(dirname(shot), { recursive: true });
  await page.waitForTimeout(4200);
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);
} finally {
  await browser.close();
  server.kill();
}
const failed = results.filter(r => !r.ok).length;
console.log(`feed: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
