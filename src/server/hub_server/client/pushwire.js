// pushwire.js: a browser client for the pushwire hub server. An ES module without dependencies.
//
//   import { connect } from "/pushwire.js";
//   const hub = connect("", { topics: ["chat.lobby", "news"] });
//   hub.on("message", e => console.log(e.topic, e.seq, e.data));
//   hub.on("state", s => console.log(s.transport, s.state));
//   await hub.publish("chat.lobby", "hello");
//
// It follows its topics over one connection — a WebSocket, else an event stream, else
// long-polling, else short polling — and falls back when a transport cannot open, or delivers
// nothing while a short poll shows the server has sent events (a proxy that buffers). It tries
// the better transports again later. Every reconnect and every switch resumes from its
// position (one cursor per topic), and an event already delivered is dropped: each event
// reaches the page once, in order per topic.

const ORDER = ["websocket", "sse", "longpoll", "poll"];

function b64url(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function unb64url(text) {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, c => c.charCodeAt(0));
}

/** The position of `cursors` (a Map topic -> seq as a BigInt): the decimal number for one
 *  topic, `1.` and base64url of `[["topic","seq"],...]` for several (`several`: a reader of
 *  several topics that knows only some cursors). */
export function encodePosition(cursors, several = cursors.size !== 1) {
  const pairs = [...cursors];
  if (!several) return String(pairs[0][1]);
  const json = JSON.stringify(pairs.map(([t, s]) => [t, String(s)]));
  return "1." + b64url(new TextEncoder().encode(json));
}

/** Reads a position for `topics`: a Map of the cursors it names. */
export function decodePosition(text, topics) {
  const out = new Map();
  text = String(text);
  if (/^[0-9]+$/.test(text)) {
    if (topics.length === 1) out.set(topics[0], BigInt(text));
    else if (BigInt(text) === 0n) for (const t of topics) out.set(t, 0n);
    else throw new Error("a decimal cursor names one topic");
    return out;
  }
  if (!text.startsWith("1.")) throw new Error("not a position");
  const pairs = JSON.parse(new TextDecoder().decode(unb64url(text.slice(2))));
  for (const [t, s] of pairs) if (topics.includes(t)) out.set(t, BigInt(s));
  return out;
}

/** The exact `seq` of an event's line (a JSON number may be larger than 2^53). */
function seqOf(line) {
  const m = /"seq":([0-9]+)/.exec(line);
  return m ? BigInt(m[1]) : null;
}

class Client {
  constructor(url, options = {}) {
    this.base = String(url || "").replace(/\/+$/, "");
    this.topics = [...new Set(options.topics && options.topics.length ? options.topics : ["default"])];
    this.transports = (options.transports || ORDER).filter(t => ORDER.includes(t));
    this.tokenSource = options.token;
    this.storageKey = options.storage || null;
    this.openTimeout = options.openTimeout ?? 5000;
    this.checkEvery = options.checkEvery ?? 5000;
    this.upgradeAfter = options.upgradeAfter ?? 60000;
    this.pollInterval = options.pollInterval ?? 2000;
    this.handlers = { message: new Set(), gap: new Set(), state: new Set(), error: new Set() };
    this.cursors = new Map();
    this.level = 0;
    this.backoff = 250;
    this.closed = false;
    this.session = null;
    this.stateName = "connecting";
    this.connectedOnce = false;
    let start = options.cursor ?? null;
    if (start === null && this.storageKey) {
      try { start = sessionStorage.getItem(this.storageKey); } catch (_) { start = null; }
    }
    if (start !== null && start !== undefined) {
      try { this.cursors = decodePosition(start, this.topics); } catch (e) { this.emit("error", e); }
    }
    this.run();
  }

  on(event, fn) { this.handlers[event]?.add(fn); return this; }
  off(event, fn) { this.handlers[event]?.delete(fn); return this; }
  emit(event, value) { for (const fn of this.handlers[event] || []) { try { fn(value); } catch (e) { console.error(e); } } }

  get transport() { return this.transports[this.level] || null; }
  get state() { return this.stateName; }

  /** Where this client stands: what it resumes from (keep it to start there next time). */
  position() {
    const known = new Map(this.topics.filter(t => this.cursors.has(t)).map(t => [t, this.cursors.get(t)]));
    return known.size ? encodePosition(known, this.topics.length > 1) : "";
  }

  setState(state) {
    this.stateName = state;
    this.emit("state", { transport: this.transport, state });
  }

  async token() {
    const t = this.tokenSource;
    return typeof t === "function" ? await t() : (t || null);
  }

  async headers(extra = {}) {
    const token = await this.token();
    return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
  }

  async query(withPosition) {
    const parts = this.topics.map(t => "topic=" + encodeURIComponent(t));
    const at = this.position();
    if (withPosition && at) parts.push(withPosition + "=" + encodeURIComponent(at));
    const token = await this.token();
    if (token) parts.push("access_token=" + encodeURIComponent(token));
    return parts.join("&");
  }

  /** Publishes `data` to `topic`; its sequence number. */
  async publish(topic, data) {
    const r = await fetch(`${this.base}/publish?topic=${encodeURIComponent(topic)}`, {
      method: "POST", body: String(data), credentials: "include",
      headers: await this.headers({ "Content-Type": "text/plain;charset=utf-8" }),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`publish: ${r.status} ${text.trim()}`);
    return Number(text);
  }

  close() {
    this.closed = true;
    this.stop();
    this.setState("closed");
  }

  /** One line of JSON from the server: delivered once if it is new. Whether it was a new
   *  event (a gap is passed on, but is not an event). */
  accept(line) {
    let value;
    try { value = JSON.parse(line); } catch (_) { return false; }
    const topic = value.topic ?? (this.topics.length === 1 ? this.topics[0] : null);
    if (topic === null || !this.topics.includes(topic)) return false;
    if (value.gap) {
      if (value.gap.to !== undefined) {
        const to = BigInt(value.gap.to);
        if (!this.cursors.has(topic) || this.cursors.get(topic) < to) this.cursors.set(topic, to);
      } else if (value.gap.reset !== undefined) {
        this.cursors.set(topic, 0n);
      }
      this.delivered = true;
      this.emit("gap", { topic, gap: value.gap });
      this.save();
      return false;
    }
    const seq = seqOf(line);
    if (seq === null) return false;
    if (this.cursors.has(topic) && seq <= this.cursors.get(topic)) return false;
    this.cursors.set(topic, seq);
    this.delivered = true;
    this.save();
    this.emit("message", { topic, seq: Number(seq), seqText: String(seq), ts: value.ts, data: value.data });
    return true;
  }

  save() {
    if (!this.storageKey) return;
    try { sessionStorage.setItem(this.storageKey, this.position()); } catch (_) { /* storage off */ }
  }

  /** Learns where "now" is in topics without a cursor, so a reconnect resumes from there. */
  async learnNow() {
    for (const t of this.topics) {
      if (this.cursors.has(t)) continue;
      const r = await fetch(`${this.base}/cursor?topic=${encodeURIComponent(t)}`, {
        credentials: "include", headers: await this.headers(), cache: "no-store",
      });
      if (!r.ok) throw new Error(`cursor: ${r.status}`);
      this.cursors.set(t, BigInt((await r.text()).trim()));
    }
  }

  async run() {
    while (!this.closed) {
      try {
        await this.learnNow();
        const kind = this.transport;
        if (!kind) { this.level = 0; continue; }
        this.setState(this.connectedOnce ? "reconnecting" : "connecting");
        const outcome = await this.runSession(kind);
        if (this.closed) return;
        if (outcome === "upgrade") { this.level = Math.max(0, this.level - 1); continue; }
        // A transport that did not open falls back only if it fails twice in a row while the
        // server itself answers: a server that is down (restarting) is waited for on the same
        // transport. One that opened and then delivered nothing falls back at once.
        if (outcome === "fallback" && await this.reachable()) {
          this.strikes = this.connectedHere ? 2 : (this.strikes || 0) + 1;
          if (this.strikes >= 2) {
            this.strikes = 0;
            this.level = Math.min(this.transports.length - 1, this.level + 1);
          }
        }
      } catch (e) {
        this.emit("error", e);
      }
      if (this.closed) return;
      this.setState("reconnecting");
      const wait = this.backoff * (0.5 + Math.random());
      this.backoff = Math.min(this.backoff * 2, 5000);
      await new Promise(r => setTimeout(r, wait));
    }
  }

  stop() {
    const s = this.session;
    this.session = null;
    if (s) s.stop();
  }

  /** Whether the server answers a plain request. */
  async reachable() {
    try {
      const r = await fetch(`${this.base}/health`, { credentials: "include", cache: "no-store" });
      return r.status < 500 || r.status === 503;
    } catch (_) {
      return false;
    }
  }

  /** Runs one transport until it ends: "retry" (reconnect the same way), "fallback" (it could
   *  not open, or delivered nothing the server had sent), "upgrade" (time to try a better one). */
  runSession(kind) {
    return new Promise(resolve => {
      let settled = false;
      const timers = [];
      const finish = outcome => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearInterval(t);
        if (this.session === session) this.session = null;
        session.close();
        resolve(outcome);
      };
      const session = { stop: () => finish("stopped"), close: () => {} };
      this.session = session;
      this.connectedHere = false;
      const opened = () => {
        this.backoff = 250;
        this.strikes = 0;
        this.connectedOnce = true;
        this.connectedHere = true;
        this.setState("open");
        // A stuck transport: nothing arrived for a while, yet a short poll finds events.
        this.delivered = false;
        timers.push(setInterval(async () => {
          if (this.delivered || kind === "poll") { this.delivered = false; return; }
          if (await this.shortPoll()) finish("fallback");
        }, this.checkEvery));
        if (this.level > 0) timers.push(setTimeout(() => finish("upgrade"), this.upgradeAfter));
      };
      timers.push(setTimeout(() => { if (this.stateName !== "open") finish("fallback"); }, this.openTimeout));
      this.openTransport(kind, session, opened, finish).catch(() => finish("fallback"));
    });
  }

  /** A short poll from the position: delivers what it finds; whether it found events. */
  async shortPoll() {
    const r = await fetch(`${this.base}/poll?${await this.query("cursor")}&wait=0`, {
      credentials: "include", headers: await this.headers(), cache: "no-store",
    });
    if (r.status !== 200) return false;
    let found = false;
    for (const line of (await r.text()).split("\n")) if (line && this.accept(line)) found = true;
    return found;
  }

  async openTransport(kind, session, opened, finish) {
    if (kind === "websocket") {
      const url = new URL(`${this.base}/ws?${await this.query("cursor")}`, location.href);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      const ws = new WebSocket(url);
      session.close = () => ws.close();
      ws.onopen = opened;
      ws.onmessage = m => { if (typeof m.data === "string") this.accept(m.data); };
      ws.onclose = () => finish(this.stateName === "open" ? "retry" : "fallback");
    } else if (kind === "sse") {
      const es = new EventSource(`${this.base}/events?${await this.query("lastEventId")}`, { withCredentials: true });
      session.close = () => es.close();
      es.onopen = opened;
      es.onmessage = m => this.accept(m.data);
      es.addEventListener("gap", m => this.accept(m.data));
      // EventSource reconnects by itself with Last-Event-ID; ending it here lets the client
      // resume from its own position (and count the failure).
      es.onerror = () => finish(this.stateName === "open" ? "retry" : "fallback");
    } else {
      const wait = kind === "poll" ? "&wait=0" : "";
      let running = true;
      session.close = () => { running = false; };
      opened();
      while (running && this.session === session) {
        let r;
        try {
          r = await fetch(`${this.base}/poll?${await this.query("cursor")}${wait}`, {
            credentials: "include", headers: await this.headers(), cache: "no-store",
          });
        } catch (_) {
          return finish("retry");
        }
        if (r.status === 200) {
          for (const line of (await r.text()).split("\n")) if (line) this.accept(line);
        } else if (r.status !== 204) {
          return finish("retry");
        }
        if (kind === "poll") await new Promise(res => setTimeout(res, this.pollInterval));
      }
    }
  }
}

/** Connects to the hub server at `url` ("" for this page's origin). */
export function connect(url, options) {
  return new Client(url, options);
}
