// Type declarations for pushwire.js (served at /pushwire.d.ts).

export type Transport = "websocket" | "sse" | "longpoll" | "poll";

export interface Options {
  /** The topics to follow (default ["default"]); at most the server's max_topics_per_connection. */
  topics?: string[];
  /** Where to start: a cursor (one topic), a position (several), or "0" for all of history.
   *  Default: from now (or what `storage` kept). */
  cursor?: string | number;
  /** The transports to use, best first (default all four, in this order). */
  transports?: Transport[];
  /** An access token, or a function giving one (called on every connection, so it may refresh it). */
  token?: string | (() => string | Promise<string>);
  /** A sessionStorage key under which the position is kept across page loads. */
  storage?: string;
  /** Milliseconds a transport may take to open before the next one is tried (default 5000). */
  openTimeout?: number;
  /** Milliseconds between checks that an open transport delivers (default 5000). */
  checkEvery?: number;
  /** Milliseconds on a lesser transport before the better ones are tried again (default 60000). */
  upgradeAfter?: number;
  /** Milliseconds between short polls (default 2000). */
  pollInterval?: number;
}

export interface Message {
  topic: string;
  /** The event's number in its topic (`seqText` holds it exactly beyond 2^53). */
  seq: number;
  seqText: string;
  /** Nanoseconds since the Unix epoch at publish. */
  ts: number;
  /** The published text. */
  data: string;
}

export interface Gap {
  topic: string;
  gap: { from: number; to: number } | { reset: number };
}

export interface State {
  transport: Transport | null;
  state: "connecting" | "open" | "reconnecting" | "closed";
}

export interface Client {
  on(event: "message", fn: (m: Message) => void): Client;
  on(event: "gap", fn: (g: Gap) => void): Client;
  on(event: "state", fn: (s: State) => void): Client;
  on(event: "error", fn: (e: Error) => void): Client;
  off(event: string, fn: Function): Client;
  /** Publishes `data` to `topic`; resolves to its sequence number. */
  publish(topic: string, data: string): Promise<number>;
  /** Where the client stands: what it resumes from. */
  position(): string;
  close(): void;
  readonly transport: Transport | null;
  readonly state: State["state"];
}

/** Connects to the hub server at `url` ("" for this page's origin). */
export function connect(url: string, options?: Options): Client;
export function encodePosition(cursors: Map<string, bigint>, several?: boolean): string;
export function decodePosition(text: string, topics: string[]): Map<string, bigint>;
