// The game example in real browsers: two players join the arena, one moves, the other sees it
// move within 200 ms; the round trip is shown on screen.
//
//   node tests/browser/game.mjs <path to the game binary> [screenshot path]

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

const [bin, shot = "target/browser/game.png"] = process.argv.slice(2);
if (!bin) {
  console.error("usage: node game.mjs <game binary> [screenshot]");
  process.exit(2);
}
const port = 31100 + Math.floor(Math.random() * 1500);
const results = [];
const check = (name, ok, detail = "") => {
  results.push({ name, ok });
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
};
const server = spawn(bin, ["--port", String(port)], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((resolve, reject) => {
  server.stdout.on("data", d => { if (String(d).includes("game: open")) resolve(); });
  server.on("exit", code => reject(new Error(`server exited with ${code}`)));
  setTimeout(() => reject(new Error("server did not start")), 10000);
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"],
});
const until = async (page, fn, arg, what, timeout = 10000) => {
  try { await page.waitForFunction(fn, arg, { timeout, polling: 10 }); return true; }
  catch { console.log(`timed out waiting for ${what}`); return false; }
};
try {
  const open = async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const page = await context.newPage();
    page.on("pageerror", e => console.log("page error:", e.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    return page;
  };
  const one = await open();
  const two = await open();
  check("both players are in the arena",
    await until(one, () => game.cur && game.cur.players.size === 2, null, "two players on one")
    && await until(two, () => game.cur && game.cur.players.size === 2, null, "two players on two"));
  const id = await one.evaluate(() => game.id);
  const x0 = await two.evaluate(id => game.cur.players.get(id).x, id);
  const direction = x0 < 500 ? 1 : -1;
  // The other page notes (by the machine's clock, as the first page does) the first snapshot
  // in which the player has moved.
  await two.evaluate(([id, x0, d]) => {
    game.onSnapshot = s => { if (!game.sawAt && (s.players.get(id).x - x0) * d > 0) game.sawAt = Date.now(); };
  }, [id, x0, direction]);
  const started = await one.evaluate(d => game.steer(d, 0), direction);
  const seen = await until(two, () => game.sawAt, null, "the other player's move");
  const took = (await two.evaluate(() => game.sawAt)) - started;
  check("one moves, the other sees it move within 200 ms", seen && took <= 200, `${took} ms`);
  await one.evaluate(() => game.steer(0, 0));
  check("the round trip is shown", await until(one, () => game.rtt !== null && document.getElementById("rtt").textContent.includes("ms"), null, "rtt"),
    await one.evaluate(() => document.getElementById("rtt").textContent));
  check("snapshots arrive at the tick rate",
    await (async () => { const a = await two.evaluate(() => game.snapshots); await two.waitForTimeout(1000); const b = await two.evaluate(() => game.snapshots); return b - a >= 20; })());
  mkdirSync(dirname(shot), { recursive: true });
  await one.evaluate(() => game.steer(1, 1));
  await one.waitForTimeout(500);
  await one.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);
} finally {
  await browser.close();
  server.kill();
}
const failed = results.filter(r => !r.ok).length;
console.log(`game: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
