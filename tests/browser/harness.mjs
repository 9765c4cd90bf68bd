// What the example pages' browser tests share: start the example's server on a port below the
// ephemeral range, headless Chromium, named checks, waits for a condition in the page.

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

/// A free-looking port in [from, from + span) (below 32768, the start of Linux's ephemeral range).
export const port = (from, span) => from + Math.floor(Math.random() * span);

/// Starts `bin args…` and waits until its standard output says `ready`.
export async function startServer(bin, args, ready) {
  const server = spawn(bin, args, { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    server.stdout.on("data", d => { if (String(d).includes(ready)) resolve(); });
    server.on("exit", code => reject(new Error(`server exited with ${code}`)));
    setTimeout(() => reject(new Error("server did not start")), 10000);
  });
  return server;
}

export const launch = () => chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"],
});

/// Named checks, printed as they are made; `finish` exits non-zero if any failed.
export function checks(name) {
  const results = [];
  return {
    check(what, ok, detail = "") {
      results.push(ok);
      console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail ? ` (${detail})` : ""}`);
    },
    finish() {
      const failed = results.filter(ok => !ok).length;
      console.log(`${name}: ${results.length - failed} passed, ${failed} failed`);
      process.exit(failed ? 1 : 0);
    },
  };
}

/// Waits until `fn(arg)` holds in the page; false (and a line saying what) after `timeout` ms.
export async function until(page, fn, arg, what, timeout = 10000, polling = 50) {
  try { await page.waitForFunction(fn, arg, { timeout, polling }); return true; }
  catch { console.log(`timed out waiting for ${what}`); return false; }
}

export async function screenshot(page, path) {
  mkdirSync(dirname(path), { recursive: true });
  await page.screenshot({ path });
  console.log(`screenshot: ${path}`);
}
