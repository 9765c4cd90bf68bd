// The feed example in a real browser, through its HTTP/1.0 buffering proxy: a headline posted
// on the page arrives by long-polling; the event stream delivers nothing and the WebSocket
// cannot start — the reason to choose long-polling, visible.
//
//   node tests/browser/feed.mjs <path to the feed binary> [screenshot path]

import { checks, launch, port as freePort, screenshot, startServer, until as waitIn } from "./harness.mjs";

const [bin, shot = "target/browser/feed.png"] = process.argv.slice(2);
if (!bin) {
  console.error("usage: node feed.mjs <feed binary> [screenshot]");
  process.exit(2);
}
const port = 2 * freePort(14500, 1500); // even: the proxy takes port + 1
const { check, finish } = checks("feed");
const server = await startServer(bin, ["--port", String(port), "--proxy-port", String(port + 1)], "feed: open");
const browser = await launch();
const until = (page, fn, arg, what, timeout = 15000) => waitIn(page, fn, arg, what, timeout, 100);
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
  await page.waitForTimeout(4200);
  await screenshot(page, shot);
} finally {
  await browser.close();
  server.kill();
}
finish();
