/*
 * kliniki-live: the Kliniki notifier's browser client, one typed module with no dependencies.
 * The console imports it; `npm run build:live` bundles it to the notifier's static copy
 * (services/notifier/notifier/static/kliniki-live.js), usable as a <script> (global KlinikiLive)
 * or with require():
 *
 *   const live = KlinikiLive.connect({ url: "ws://NOTIFIER:8007/ws", token: () => myToken() });
 *   live.on("new_assignment", (data, frame) => showToast(data.message));
 *   live.emit("entity_edit_start", { entityType: "patient", entityId: id });
 *   input.addEventListener("input", () => live.typing(id, "diagnosis"));
 *
 * What it does for the page:
 * - reconnects by itself after any drop, waiting 0.5 s, 1 s, 2 s ... up to 30 s, each wait
 *   drawn at random below that ceiling ("full jitter");
 * - resumes: it remembers the last notification id it saw (also in localStorage, per user) and
 *   reconnects with ?after=<id>, so the server replays what was missed, in order; a frame id
 *   seen before is never handed to the page twice;
 * - re-opens the entities the page had open (entity_edit_start) after a reconnect;
 * - pings every 4 s, which keeps its presence alive on the server (and finds dead sockets);
 * - typing(patientId, field): call it on every keystroke; it sends typing_start at most every
 *   1.5 s and typing_stop after 3 s without keystrokes.
 * Events of its own: "open", "close" ({code, reason}), "unauthorized" (code 4401), "resumed".
 */

export const CLOSE_UNAUTHORIZED = 4401;

export interface Frame<D = Record<string, unknown>> {
  event: string;
  data: D;
  id?: number;
}

export type Handler = (data: any, frame: Frame) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface PresenceMember {
  userId: string;
  name: string;
  roles: string[];
  mode: "viewing" | "editing";
  since?: string;
}

export interface LiveOptions {
  url: string;
  token: string | (() => string | Promise<string>);
  after?: number | null;
  minDelayMs?: number;
  maxDelayMs?: number;
  heartbeatMs?: number;
  deadAfterMs?: number;
  typingEveryMs?: number;
  typingIdleMs?: number;
  seenIdsKept?: number;
  storageKey?: string | null;
  WebSocket?: typeof WebSocket;
}

type Settings = Required<Omit<LiveOptions, "after" | "WebSocket" | "storageKey">> &
  Pick<LiveOptions, "after" | "WebSocket" | "storageKey">;

export const DEFAULTS = {
  minDelayMs: 500,
  maxDelayMs: 30000,
  heartbeatMs: 4000,
  deadAfterMs: 15000, // no frame at all (not even a pong) for this long: reconnect
  typingEveryMs: 1500,
  typingIdleMs: 3000,
  seenIdsKept: 2000,
  storageKey: null as string | null, // default: "kliniki-live:<user>" when localStorage exists
};

/** The `sub` of a JWT, without verifying it (the server does). */
/** The subprotocol that carries the bearer token (the notifier's ws.py). */
export const BEARER_SUBPROTOCOL = "kliniki.bearer";

export function tokenUser(token: string): string | null {
  try {
    const part = token.split(".")[1];
    if (!part) return null;
    const payload = part.replace(/-/g, "+").replace(/_/g, "/");
    const json =
      typeof atob === "function"
        ? decodeURIComponent(escape(atob(payload)))
        : // Node without atob (very old): Buffer is there.
          (globalThis as any).Buffer.from(payload, "base64").toString(); // eslint-disable-line @typescript-eslint/no-explicit-any
    return (JSON.parse(json) as { sub?: string }).sub ?? null;
  } catch {
    return null;
  }
}

/** Ceiling of the n-th reconnect wait (full jitter draws below it). */
export function backoffCeiling(attempt: number, minDelayMs: number, maxDelayMs: number): number {
  return Math.min(maxDelayMs, minDelayMs * Math.pow(2, Math.max(0, attempt - 1)));
}

interface TypingState {
  sentAt: number;
  idleTimer: ReturnType<typeof setTimeout> | null;
}

const hasStorage = (): boolean => typeof localStorage !== "undefined";

export class Client {
  readonly options: Settings;
  private handlers: Record<string, Handler[]> = {};
  ws: WebSocket | null = null;
  lastId: number | null;
  private seen = new Set<number>();
  private seenOrder: number[] = [];
  private openEntities = new Map<string, Record<string, unknown>>();
  private typingState = new Map<string, TypingState>();
  private outbox: string[] = [];
  attempt = 0;
  private stopped = false;
  private timers: {
    reconnect: ReturnType<typeof setTimeout> | null;
    heartbeat: ReturnType<typeof setInterval> | null;
  } = { reconnect: null, heartbeat: null };
  private lastFrameAt = 0;
  private key: string | null = null;

  constructor(options: LiveOptions) {
    this.options = { ...DEFAULTS, ...options } as Settings;
    if (!this.options.url) throw new Error("KlinikiLive.connect needs {url, token}");
    this.lastId = typeof options.after === "number" ? options.after : null;
    this.connect();
  }

  on(event: string, handler: Handler): this {
    (this.handlers[event] ??= []).push(handler);
    return this;
  }

  off(event: string, handler?: Handler): this {
    const list = this.handlers[event] ?? [];
    this.handlers[event] = handler ? list.filter((h) => h !== handler) : [];
    return this;
  }

  get connected(): boolean {
    return this.ws !== null && this.ws.readyState === 1;
  }

  private fire(event: string, data: unknown, frame?: Frame): void {
    const list = [...(this.handlers[event] ?? []), ...(this.handlers["*"] ?? [])];
    for (const handler of list) {
      try {
        handler(data, frame ?? { event, data: data as Record<string, unknown> });
      } catch (e) {
        if (typeof console !== "undefined") console.error("kliniki-live handler failed", e);
      }
    }
  }

  emit(event: string, data: Record<string, unknown> = {}): this {
    const key = `${String(data.entityType)}\u0000${String(data.entityId)}`;
    if (event === "entity_edit_start") this.openEntities.set(key, data);
    if (event === "entity_edit_end") this.openEntities.delete(key);
    const text = JSON.stringify({ event, data });
    if (this.ws && this.ws.readyState === 1) {
      this.ws.send(text);
    } else if (
      event !== "entity_edit_start" &&
      event !== "entity_edit_end" &&
      !event.startsWith("typing_") &&
      event !== "ping"
    ) {
      // Presence is re-sent from openEntities on open; stale typing is worthless.
      if (this.outbox.length < 100) this.outbox.push(text);
    }
    return this;
  }

  typing(patientId: string, field: string): void {
    const key = `${patientId}\u0000${field}`;
    const state = this.typingState.get(key) ?? { sentAt: 0, idleTimer: null };
    const now = Date.now();
    if (now - state.sentAt >= this.options.typingEveryMs) {
      state.sentAt = now;
      this.emit("typing_start", { patientId, field });
    }
    if (state.idleTimer) clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(() => this.stopTyping(patientId, field), this.options.typingIdleMs);
    this.typingState.set(key, state);
  }

  stopTyping(patientId: string, field: string): void {
    const key = `${patientId}\u0000${field}`;
    const state = this.typingState.get(key);
    if (!state) return;
    if (state.idleTimer) clearTimeout(state.idleTimer);
    this.typingState.delete(key);
    this.emit("typing_stop", { patientId, field });
  }

  private token(): Promise<string> {
    const t = this.options.token;
    return Promise.resolve(typeof t === "function" ? t() : t);
  }

  private storageKey(token: string): string | null {
    if (!hasStorage()) return null;
    if (this.options.storageKey) return this.options.storageKey;
    const user = tokenUser(token);
    return user ? `kliniki-live:${user}` : null;
  }

  private connect(): void {
    if (this.stopped) return;
    this.token().then(
      (token) => {
        if (this.stopped) return;
        this.key = this.storageKey(token);
        if (this.lastId === null && this.key) {
          const stored = parseInt(localStorage.getItem(this.key) ?? "", 10);
          if (!isNaN(stored)) this.lastId = stored;
        }
        // The token travels as a subprotocol, never in the URL (URLs end up in proxy logs and
        // browser history); the notifier answers with BEARER_SUBPROTOCOL.
        const url =
          this.options.url +
          (this.lastId !== null
            ? `${this.options.url.includes("?") ? "&" : "?"}after=${this.lastId}`
            : "");
        const WS = this.options.WebSocket ?? WebSocket;
        const ws = new WS(url, [BEARER_SUBPROTOCOL, token]);
        this.ws = ws;
        ws.onopen = () => this.opened(ws);
        ws.onmessage = (message: MessageEvent) => this.received(String(message.data));
        ws.onclose = (event: CloseEvent) => this.closed(ws, event.code, event.reason);
        // A handshake that fails may report only an error, never a close: treat both the same
        // (closed() ignores the second of the two).
        ws.onerror = () => {
          this.closed(ws, 1006, "connection failed");
          try {
            ws.close();
          } catch {
            /* already closed */
          }
        };
      },
      (error: unknown) => {
        this.fire("close", { code: 0, reason: `no token: ${String(error)}` });
        this.scheduleReconnect();
      },
    );
  }

  private opened(ws: WebSocket): void {
    this.lastFrameAt = Date.now();
    this.fire("open", {});
    this.openEntities.forEach((data) => ws.send(JSON.stringify({ event: "entity_edit_start", data })));
    const queued = this.outbox;
    this.outbox = [];
    queued.forEach((text) => ws.send(text));
    if (this.timers.heartbeat) clearInterval(this.timers.heartbeat);
    this.timers.heartbeat = setInterval(() => {
      if (Date.now() - this.lastFrameAt > this.options.deadAfterMs) {
        ws.close(4000, "no frame from the server; reconnecting");
        return;
      }
      if (ws.readyState === 1) ws.send('{"event":"ping","data":{}}');
    }, this.options.heartbeatMs);
  }

  private received(text: string): void {
    this.lastFrameAt = Date.now();
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      return;
    }
    if (typeof frame.id === "number") {
      if (this.seen.has(frame.id)) return; // already handed to the page
      this.seen.add(frame.id);
      this.seenOrder.push(frame.id);
      if (this.seenOrder.length > this.options.seenIdsKept) {
        this.seen.delete(this.seenOrder.shift() as number);
      }
      if (this.lastId === null || frame.id > this.lastId) {
        this.lastId = frame.id;
        if (this.key) {
          try {
            localStorage.setItem(this.key, String(frame.id));
          } catch {
            /* full */
          }
        }
      }
    }
    this.attempt = 0; // the server talks to us: the next drop starts the backoff afresh
    this.fire(frame.event, frame.data, frame);
  }

  private closed(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    if (this.timers.heartbeat) clearInterval(this.timers.heartbeat);
    this.ws = null;
    this.fire("close", { code, reason });
    if (code === CLOSE_UNAUTHORIZED) this.fire("unauthorized", { reason });
    if (this.stopped) return;
    this.attempt += 1; // reset by the next frame received, so refusals keep backing off
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const ceiling = backoffCeiling(this.attempt, this.options.minDelayMs, this.options.maxDelayMs);
    const delay = Math.max(50, Math.random() * ceiling);
    if (this.timers.reconnect) clearTimeout(this.timers.reconnect);
    this.timers.reconnect = setTimeout(() => this.connect(), delay);
  }

  close(): void {
    this.stopped = true;
    if (this.timers.reconnect) clearTimeout(this.timers.reconnect);
    if (this.timers.heartbeat) clearInterval(this.timers.heartbeat);
    this.typingState.forEach((state) => state.idleTimer && clearTimeout(state.idleTimer));
    if (this.ws) this.ws.close(1000, "bye");
  }
}

export function connect(options: LiveOptions): Client {
  return new Client(options);
}
