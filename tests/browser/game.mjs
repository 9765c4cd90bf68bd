// The game example in real browsers: two players join the arena, one moves, the other sees it
// move within 200 ms; the round trip is shown on screen.
//
//   node tests/browser/game.mjs <path to the game binary> [screenshot path]

import { checks, launch, port as freePort, screenshot, startServer, until as waitIn } from "./harness.mjs";

const [bin, shot = "target/browser/game.png"] = process.argv.slice(2);
if (!bin) {
  console.error("usage: node game.mjs <game binary> [screenshot]");
  process.exit(2);
}
const port = freePort(31100, 1500);
const { check, finish } = checks("game");
const server = await startServer(bin, ["--port", String(port)], "game: open");
const browser = await launch();
const until = (page, fn, arg, what, timeout = 10000) => waitIn(page, fn, arg, what, timeout, 10);
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
  await one.evaluate(() => game.steer(1, 1));
  await one.waitForTimeout(500);
  await screenshot(one, shot);
} finally {
  await browser.close();
  server.kill();
}
finish();
