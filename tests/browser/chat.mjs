// The chat example in real browsers: three visitors in one room see each other's messages and
// presence, typing notices, Enter sends; a visitor whose socket drops reconnects and gets what
// was said meanwhile exactly once.
//
//   node tests/browser/chat.mjs <path to the chat binary> [screenshot path]

import { checks, launch, port as freePort, screenshot, startServer, until as waitIn } from "./harness.mjs";

const [bin, shot = "target/browser/chat.png"] = process.argv.slice(2);
if (!bin) {
  console.error("usage: node chat.mjs <chat binary> [screenshot]");
  process.exit(2);
}
const port = freePort(25000, 2000);
const base = `http://127.0.0.1:${port}`;
const { check, finish } = checks("chat");

const server = await startServer(bin, ["--port", String(port), "--threads", "2"], "chat: open");
const browser = await launch();
const until = (page, fn, arg, what, timeout = 10000) => waitIn(page, fn, arg, what, timeout, 50);
const room = `r${Date.now()}`;
const visit = async name => {
  const context = await browser.newContext({ viewport: { width: 900, height: 600 } });
  const page = await context.newPage();
  page.on("pageerror", e => console.log(`${name}: page error: ${e.message}`));
  await page.goto(`${base}/?name=${name}&room=${room}`);
  return page;
};

try {
  const ada = await visit("ada");
  const bob = await visit("bob");
  check("each sees the other in the room",
    await until(ada, () => chat.members.includes("bob") && chat.members.includes("ada"), null, "presence on ada")
    && await until(bob, () => chat.members.includes("ada"), null, "presence on bob"));
  await ada.fill("#msg", "hello bob");
  await ada.press("#msg", "Enter");
  check("Enter sends, and the other sees who said it",
    await until(bob, () => [...document.querySelectorAll("#log li")].some(li => li.textContent.includes("ada") && li.textContent.includes("hello bob")), null, "ada's message on bob"));
  check("the input is cleared after sending", await ada.inputValue("#msg") === "");
  await bob.type("#msg", "typ");
  check("a typing notice reaches the other",
    await until(ada, () => document.getElementById("typing").textContent.includes("bob"), null, "typing notice"));
  // Ada's socket drops; Carol says two things meanwhile; Ada comes back from her last message.
  const carol = await visit("carol");
  await until(carol, () => chat.members.includes("ada"), null, "carol in");
  await ada.evaluate(() => chat.socket.close());
  await carol.fill("#msg", "while you were away 1");
  await carol.press("#msg", "Enter");
  await carol.fill("#msg", "while you were away 2");
  await carol.press("#msg", "Enter");
  check("a visitor that reconnects gets what was said meanwhile",
    await until(ada, () => chat.seen.length >= 3 && [...document.querySelectorAll("#log li")].filter(li => li.textContent.includes("while you were away")).length === 2, null, "the missed messages"));
  const seen = await ada.evaluate(() => chat.seen);
  check("…exactly once, in order", seen.length === new Set(seen).size && seen.every((s, i) => i === 0 || s > seen[i - 1]), JSON.stringify(seen));
  // A newcomer gets the room's recent messages.
  const dan = await visit("dan");
  check("a newcomer sees the recent messages",
    await until(dan, () => chat.seen.length === 3, null, "backlog"));
  await bob.close();
  check("leaving is shown to the others",
    await until(ada, () => !chat.members.includes("bob") && document.getElementById("log").textContent.includes("bob left"), null, "bob left"));
  await screenshot(ada, shot);
} finally {
  await browser.close();
  server.kill();
}
finish();
