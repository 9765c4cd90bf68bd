// The feed example in a real browser, through its HTTP/1.0 buffering proxy: a headline posted
// on the page arrives by long-polling; the event stream delivers nothing and the WebSocket
// cannot start — the reason to choose long-polling, visible; pushwire.js finds that by itself
// and delivers every headline once.
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
  // pushwire.js learns where "now" is before its first transport; once past the WebSocket it
  // knows, so what is posted next is what it must deliver.
  check("pushwire.js gives up on the WebSocket it cannot open",
    await until(page, () => feed.pwTransport && feed.pwTransport !== "websocket", null, "past the WebSocket", 20000));
  await page.fill("#text", "Markets rally on long-polling news");
  await page.press("#text", "Enter");
  check("a headline posted on the page arrives by long-polling through the proxy",
    await until(page, () => feed.items.includes("Markets rally on long-polling news"), null, "the headline"));
  await page.fill("#text", "Second headline");
  await page.press("#text", "Enter");
  check("…and the next one", await until(page, () => feed.items.includes("Second headline"), null, "the second headline"));
  check("pushwire.js settles on long-polling through the proxy",
    await until(page, () => feed.pwTransport === "longpoll" && feed.pw.length >= 2, null, "pushwire.js on longpoll with both", 30000),
    await page.evaluate(() => `${feed.pwTransport}: ${JSON.stringify(feed.pw)}`));
  check("…and it delivered each headline exactly once",
    await page.evaluate(() => JSON.stringify(feed.pw) === JSON.stringify(["Markets rally on long-polling news", "Second headline"])),
    await page.evaluate(() => JSON.stringify(feed.pw)));
  check("the WebSocket cannot start through the proxy", await until(page, () => feed.wsState === "refused", null, "ws refused"));
  check("the event stream delivers nothing through the proxy", await page.evaluate(() => feed.sse === 0));
  await page.waitForTimeout(4200);
  await screenshot(page, shot);
} finally {
  await browser.close();
  server.kill();
}
finish();
