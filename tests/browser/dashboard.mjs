// The dashboard example in a real browser: the charts gain a point a second; after the server
// drops the stream, pushwire.js reconnects from its position and the chart has no hole.
//
//   node tests/browser/dashboard.mjs <path to the dashboard binary> [screenshot path]

import { checks, launch, port as freePort, screenshot, startServer, until as waitIn } from "./harness.mjs";

const [bin, shot = "target/browser/dashboard.png"] = process.argv.slice(2);
if (!bin) {
  console.error("usage: node dashboard.mjs <dashboard binary> [screenshot]");
  process.exit(2);
}
const port = freePort(27000, 2000);
const { check, finish } = checks("dashboard");
const server = await startServer(bin, ["--port", String(port), "--threads", "2"], "dashboard: open");
const browser = await launch();
const until = (page, fn, arg, what, timeout = 15000) => waitIn(page, fn, arg, what, timeout, 100);
try {
  const page = await browser.newPage({ viewport: { width: 1300, height: 700 } });
  page.on("pageerror", e => console.log("page error:", e.message));
  await page.goto(`http://127.0.0.1:${port}/`);
  check("the charts start drawing", await until(page, () => dash.points.length >= 2, null, "two points"));
  const before = await page.evaluate(() => dash.points.length);
  await page.waitForTimeout(3000);
  const after = await page.evaluate(() => dash.points.length);
  check("the charts gain points over 3 s", after >= before + 2, `${before} -> ${after}`);
  check("the page itself shows up as an open event stream",
    await until(page, () => dash.points.some(p => p.m.connections.sse >= 1), null, "sse connections >= 1"));
  check("every chart has a line",
    await page.evaluate(() => [...document.querySelectorAll("svg")].every(svg => svg.querySelector("path")?.getAttribute("d")?.includes("L"))));
  const last = await page.evaluate(() => dash.seqs[dash.seqs.length - 1]);
  await page.click("#drop");
  check("pushwire.js reconnects after the server drops the stream",
    await until(page, () => dash.opens >= 2, null, "a second open"));
  check("…and the chart goes on past the drop",
    await until(page, n => dash.seqs[dash.seqs.length - 1] >= n + 3, last, "three more points"));
  const seqs = await page.evaluate(() => dash.seqs);
  check("no point is missing across the drop (filled from history)", seqs.every((s, i) => i === 0 || s === seqs[i - 1] + 1), JSON.stringify(seqs.slice(-8)));
  await screenshot(page, shot);
} finally {
  await browser.close();
  server.kill();
}
finish();
