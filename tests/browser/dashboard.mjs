// The dashboard example in a real browser: the charts gain a point a second; after the server
// drops the stream, EventSource reconnects with Last-Event-ID and the chart has no hole.
//
//   node tests/browser/dashboard.mjs <path to the dashboard binary> [screenshot path]

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

const [bin, shot = "target/browser/dashboard.png"] = process.argv.slice(2);
if (!bin) {
  console.error("usage: node dashboard.mjs <dashboard binary> [screenshot]");
  process.exit(2);
}
const port = 27000 + Math.floor(Math.random() * 2000);
const results = [];
const check = (name, ok, detail = "") => {
  results.push({ name, ok });
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
};
const server = spawn(bin, ["--port", String(port), "--threads", "2"], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((resolve, reject) => {
  server.stdout.on("data", d => { if (String(d).includes("dashboard: open")) resolve(); });
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
  check("EventSource reconnects after the server drops the stream",
    await until(page, () => dash.opens >= 2, null, "a second open"));
  check("…and the chart goes on past the drop",
    await until(page, n => dash.seqs[dash.seqs.length - 1] >= n + 3, last, "three more points"));
  const seqs = await page.evaluate(() => dash.seqs);
  check("no point is missing across the drop (filled from history)", seqs.every((s, i) => i === 0 || s === seqs[i - 1] + 1), JSON.stringify(seqs.slice(-8)));
  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);
} finally {
  await browser.close();
  server.kill();
}
const failed = results.filter(r => !r.ok).length;
console.log(`dashboard: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
