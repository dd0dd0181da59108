/* kliniki-live.js: the Kliniki notifier's browser client (KlinikiLive.connect).
 * Built from web/src/live/kliniki-live.ts by `npm run build:live`: edit that file. */
"use strict";
var KlinikiLive = (() => {
  var __defProp = Object.defineProperty;
  var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
  var __getOwnPropNames = Object.getOwnPropertyNames;
  var __hasOwnProp = Object.prototype.hasOwnProperty;
  var __defNormalProp = (obj, key, value) => key in obj ? __defProp(obj, key, { enumerable: true, configurable: true, writable: true, value }) : obj[key] = value;
  var __export = (target, all) => {
    for (var name in all)
      __defProp(target, name, { get: all[name], enumerable: true });
  };
  var __copyProps = (to, from, except, desc) => {
    if (from && typeof from === "object" || typeof from === "function") {
      for (let key of __getOwnPropNames(from))
        if (!__hasOwnProp.call(to, key) && key !== except)
          __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
    }
    return to;
  };
  var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);
  var __publicField = (obj, key, value) => __defNormalProp(obj, typeof key !== "symbol" ? key + "" : key, value);

  // src/live/kliniki-live.ts
  var kliniki_live_exports = {};
  __export(kliniki_live_exports, {
    BEARER_SUBPROTOCOL: () => BEARER_SUBPROTOCOL,
    CLOSE_UNAUTHORIZED: () => CLOSE_UNAUTHORIZED,
    Client: () => Client,
    DEFAULTS: () => DEFAULTS,
    backoffCeiling: () => backoffCeiling,
    connect: () => connect,
    tokenUser: () => tokenUser
  });
  var CLOSE_UNAUTHORIZED = 4401;
  var DEFAULTS = {
    minDelayMs: 500,
    maxDelayMs: 3e4,
    heartbeatMs: 4e3,
    deadAfterMs: 15e3,
    // no frame at all (not even a pong) for this long: reconnect
    typingEveryMs: 1500,
    typingIdleMs: 3e3,
    seenIdsKept: 2e3,
    storageKey: null
    // default: "kliniki-live:<user>" when localStorage exists
  };
  var BEARER_SUBPROTOCOL = "kliniki.bearer";
  function tokenUser(token) {
    var _a;
    try {
      const part = token.split(".")[1];
      if (!part) return null;
      const payload = part.replace(/-/g, "+").replace(/_/g, "/");
      const json = typeof atob === "function" ? decodeURIComponent(escape(atob(payload))) : (
        // Node without atob (very old): Buffer is there.
        globalThis.Buffer.from(payload, "base64").toString()
      );
      return (_a = JSON.parse(json).sub) != null ? _a : null;
    } catch {
      return null;
    }
  }
  function backoffCeiling(attempt, minDelayMs, maxDelayMs) {
    return Math.min(maxDelayMs, minDelayMs * Math.pow(2, Math.max(0, attempt - 1)));
  }
  var hasStorage = () => typeof localStorage !== "undefined";
  var Client = class {
    constructor(options) {
      __publicField(this, "options");
      __publicField(this, "handlers", {});
      __publicField(this, "ws", null);
      __publicField(this, "lastId");
      __publicField(this, "seen", /* @__PURE__ */ new Set());
      __publicField(this, "seenOrder", []);
      __publicField(this, "openEntities", /* @__PURE__ */ new Map());
      __publicField(this, "typingState", /* @__PURE__ */ new Map());
      __publicField(this, "outbox", []);
      __publicField(this, "attempt", 0);
      __publicField(this, "stopped", false);
      __publicField(this, "timers", { reconnect: null, heartbeat: null });
      __publicField(this, "lastFrameAt", 0);
      __publicField(this, "key", null);
      this.options = { ...DEFAULTS, ...options };
      if (!this.options.url) throw new Error("KlinikiLive.connect needs {url, token}");
      this.lastId = typeof options.after === "number" ? options.after : null;
      this.connect();
    }
    on(event, handler) {
      var _a, _b;
      ((_b = (_a = this.handlers)[event]) != null ? _b : _a[event] = []).push(handler);
      return this;
    }
    off(event, handler) {
      var _a;
      const list = (_a = this.handlers[event]) != null ? _a : [];
      this.handlers[event] = handler ? list.filter((h) => h !== handler) : [];
      return this;
    }
    get connected() {
      return this.ws !== null && this.ws.readyState === 1;
    }
    fire(event, data, frame) {
      var _a, _b;
      const list = [...(_a = this.handlers[event]) != null ? _a : [], ...(_b = this.handlers["*"]) != null ? _b : []];
      for (const handler of list) {
        try {
          handler(data, frame != null ? frame : { event, data });
        } catch (e) {
          if (typeof console !== "undefined") console.error("kliniki-live handler failed", e);
        }
      }
    }
    emit(event, data = {}) {
      const key = `${String(data.entityType)}\0${String(data.entityId)}`;
      if (event === "entity_edit_start") this.openEntities.set(key, data);
      if (event === "entity_edit_end") this.openEntities.delete(key);
      const text = JSON.stringify({ event, data });
      if (this.ws && this.ws.readyState === 1) {
        this.ws.send(text);
      } else if (event !== "entity_edit_start" && event !== "entity_edit_end" && !event.startsWith("typing_") && event !== "ping") {
        if (this.outbox.length < 100) this.outbox.push(text);
      }
      return this;
    }
    typing(patientId, field) {
      var _a;
      const key = `${patientId}\0${field}`;
      const state = (_a = this.typingState.get(key)) != null ? _a : { sentAt: 0, idleTimer: null };
      const now = Date.now();
      if (now - state.sentAt >= this.options.typingEveryMs) {
        state.sentAt = now;
        this.emit("typing_start", { patientId, field });
      }
      if (state.idleTimer) clearTimeout(state.idleTimer);
      state.idleTimer = setTimeout(() => this.stopTyping(patientId, field), this.options.typingIdleMs);
      this.typingState.set(key, state);
    }
    stopTyping(patientId, field) {
      const key = `${patientId}\0${field}`;
      const state = this.typingState.get(key);
      if (!state) return;
      if (state.idleTimer) clearTimeout(state.idleTimer);
      this.typingState.delete(key);
      this.emit("typing_stop", { patientId, field });
    }
    token() {
      const t = this.options.token;
      return Promise.resolve(typeof t === "function" ? t() : t);
    }
    storageKey(token) {
      if (!hasStorage()) return null;
      if (this.options.storageKey) return this.options.storageKey;
      const user = tokenUser(token);
      return user ? `kliniki-live:${user}` : null;
    }
    connect() {
      if (this.stopped) return;
      this.token().then(
        (token) => {
          var _a, _b;
          if (this.stopped) return;
          this.key = this.storageKey(token);
          if (this.lastId === null && this.key) {
            const stored = parseInt((_a = localStorage.getItem(this.key)) != null ? _a : "", 10);
            if (!isNaN(stored)) this.lastId = stored;
          }
          const url = this.options.url + (this.lastId !== null ? `${this.options.url.includes("?") ? "&" : "?"}after=${this.lastId}` : "");
          const WS = (_b = this.options.WebSocket) != null ? _b : WebSocket;
          const ws = new WS(url, [BEARER_SUBPROTOCOL, token]);
          this.ws = ws;
          ws.onopen = () => this.opened(ws);
          ws.onmessage = (message) => this.received(String(message.data));
          ws.onclose = (event) => this.closed(ws, event.code, event.reason);
          ws.onerror = () => {
            this.closed(ws, 1006, "connection failed");
            try {
              ws.close();
            } catch {
            }
          };
        },
        (error) => {
          this.fire("close", { code: 0, reason: `no token: ${String(error)}` });
          this.scheduleReconnect();
        }
      );
    }
    opened(ws) {
      this.lastFrameAt = Date.now();
      this.fire("open", {});
      this.openEntities.forEach((data) => ws.send(JSON.stringify({ event: "entity_edit_start", data })));
      const queued = this.outbox;
      this.outbox = [];
      queued.forEach((text) => ws.send(text));
      if (this.timers.heartbeat) clearInterval(this.timers.heartbeat);
      this.timers.heartbeat = setInterval(() => {
        if (Date.now() - this.lastFrameAt > this.options.deadAfterMs) {
          ws.close(4e3, "no frame from the server; reconnecting");
          return;
        }
        if (ws.readyState === 1) ws.send('{"event":"ping","data":{}}');
      }, this.options.heartbeatMs);
    }
    received(text) {
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(text);
      } catch {
        return;
      }
      if (typeof frame.id === "number") {
        if (this.seen.has(frame.id)) return;
        this.seen.add(frame.id);
        this.seenOrder.push(frame.id);
        if (this.seenOrder.length > this.options.seenIdsKept) {
          this.seen.delete(this.seenOrder.shift());
        }
        if (this.lastId === null || frame.id > this.lastId) {
          this.lastId = frame.id;
          if (this.key) {
            try {
              localStorage.setItem(this.key, String(frame.id));
            } catch {
            }
          }
        }
      }
      this.attempt = 0;
      this.fire(frame.event, frame.data, frame);
    }
    closed(ws, code, reason) {
      if (ws !== this.ws) return;
      if (this.timers.heartbeat) clearInterval(this.timers.heartbeat);
      this.ws = null;
      this.fire("close", { code, reason });
      if (code === CLOSE_UNAUTHORIZED) this.fire("unauthorized", { reason });
      if (this.stopped) return;
      this.attempt += 1;
      this.scheduleReconnect();
    }
    scheduleReconnect() {
      const ceiling = backoffCeiling(this.attempt, this.options.minDelayMs, this.options.maxDelayMs);
      const delay = Math.max(50, Math.random() * ceiling);
      if (this.timers.reconnect) clearTimeout(this.timers.reconnect);
      this.timers.reconnect = setTimeout(() => this.connect(), delay);
    }
    close() {
      this.stopped = true;
      if (this.timers.reconnect) clearTimeout(this.timers.reconnect);
      if (this.timers.heartbeat) clearInterval(this.timers.heartbeat);
      this.typingState.forEach((state) => state.idleTimer && clearTimeout(state.idleTimer));
      if (this.ws) this.ws.close(1e3, "bye");
    }
  };
  function connect(options) {
    return new Client(options);
  }
  return __toCommonJS(kliniki_live_exports);
})();
if (typeof module === "object" && module.exports) module.exports = KlinikiLive;
