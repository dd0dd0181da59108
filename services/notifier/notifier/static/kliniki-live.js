/*
 * kliniki-live.js: the Kliniki notifier's browser client, one file, no dependencies.
 *
 *   <script src="http://NOTIFIER:8007/static/kliniki-live.js"></script>
 *   const live = KlinikiLive.connect({ url: "ws://NOTIFIER:8007/ws", token: () => myToken() });
 *   live.on("new_assignment", (data, frame) => showToast(data.message));
 *   live.on("presence_state", ...); live.on("presence_diff", ...); live.on("typing", ...);
 *   live.emit("entity_edit_start", { entityType: "patient", entityId: id });
 *   input.addEventListener("input", () => live.typing(id, "diagnosis"));
 *
 * What it does for the page:
 * - reconnects by itself after any drop, waiting 0.5 s, 1 s, 2 s ... up to 30 s, each wait
 *   drawn at random below that ceiling ("full jitter") so a restarted notifier is not hit by
 *   every tab at the same instant;
 * - resumes: it remembers the last notification id it saw (also in localStorage, per user, when
 *   there is one) and reconnects with ?after=<id>, so the server replays what was missed, in
 *   order; a frame id seen before is never handed to the page twice;
 * - re-opens the entities the page had open (entity_edit_start) after a reconnect;
 * - pings every 4 s, which keeps its presence alive on the server (and finds dead sockets);
 * - typing(patientId, field): call it on every keystroke; it sends typing_start at most every
 *   1.5 s and typing_stop after 3 s without keystrokes (the server expires typing anyway).
 * Events of its own: "open", "close" ({code, reason}), "unauthorized" (code 4401: give it a
 * fresh token through the token function), "resumed".
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.KlinikiLive = factory();
  }
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var CLOSE_UNAUTHORIZED = 4401;
  var DEFAULTS = {
    minDelayMs: 500,
    maxDelayMs: 30000,
    heartbeatMs: 4000,
    deadAfterMs: 15000, // no frame at all (not even a pong) for this long: reconnect
    typingEveryMs: 1500,
    typingIdleMs: 3000,
    seenIdsKept: 2000,
    storageKey: null, // default: "kliniki-live:<user>" when localStorage exists
  };

  function tokenUser(token) {
    try {
      var payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var json = typeof atob === "function" ? atob(payload) : Buffer.from(payload, "base64").toString();
      return JSON.parse(json).sub || null;
    } catch (e) {
      return null;
    }
  }

  function Client(options) {
    this.options = Object.assign({}, DEFAULTS, options || {});
    if (!this.options.url) throw new Error("KlinikiLive.connect needs {url, token}");
    this.handlers = {};
    this.ws = null;
    this.lastId = typeof this.options.after === "number" ? this.options.after : null;
    this.seen = new Set();
    this.seenOrder = [];
    this.openEntities = new Map(); // "type\u0000id" -> data of its entity_edit_start
    this.typingState = new Map(); // "patient\u0000field" -> {sentAt, idleTimer}
    this.outbox = []; // frames emitted while disconnected (sent on open)
    this.attempt = 0;
    this.stopped = false;
    this.timers = { reconnect: null, heartbeat: null };
    this.lastFrameAt = 0;
    this.connect();
  }

  Client.prototype.on = function (event, handler) {
    (this.handlers[event] = this.handlers[event] || []).push(handler);
    return this;
  };

  Client.prototype.off = function (event, handler) {
    var list = this.handlers[event] || [];
    this.handlers[event] = handler ? list.filter(function (h) { return h !== handler; }) : [];
    return this;
  };

  Client.prototype.fire = function (event, data, frame) {
    var list = (this.handlers[event] || []).concat(this.handlers["*"] || []);
    for (var i = 0; i < list.length; i++) {
      try {
        list[i](data, frame || { event: event, data: data });
      } catch (e) {
        if (typeof console !== "undefined") console.error("kliniki-live handler failed", e);
      }
    }
  };

  Client.prototype.emit = function (event, data) {
    data = data || {};
    var key = data.entityType + "\u0000" + data.entityId;
    if (event === "entity_edit_start") this.openEntities.set(key, data);
    if (event === "entity_edit_end") this.openEntities.delete(key);
    var text = JSON.stringify({ event: event, data: data });
    if (this.ws && this.ws.readyState === 1) {
      this.ws.send(text);
    } else if (event !== "entity_edit_start" && event !== "entity_edit_end" &&
               event.indexOf("typing_") !== 0 && event !== "ping") {
      // Presence is re-sent from openEntities on open; stale typing is worthless.
      if (this.outbox.length < 100) this.outbox.push(text);
    }
    return this;
  };

  Client.prototype.typing = function (patientId, field) {
    var self = this;
    var key = patientId + "\u0000" + field;
    var state = this.typingState.get(key) || { sentAt: 0, idleTimer: null };
    var now = Date.now();
    if (now - state.sentAt >= this.options.typingEveryMs) {
      state.sentAt = now;
      this.emit("typing_start", { patientId: patientId, field: field });
    }
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(function () { self.stopTyping(patientId, field); },
                                 this.options.typingIdleMs);
    this.typingState.set(key, state);
  };

  Client.prototype.stopTyping = function (patientId, field) {
    var key = patientId + "\u0000" + field;
    var state = this.typingState.get(key);
    if (!state) return;
    clearTimeout(state.idleTimer);
    this.typingState.delete(key);
    this.emit("typing_stop", { patientId: patientId, field: field });
  };

  Client.prototype.token = function () {
    var t = this.options.token;
    return Promise.resolve(typeof t === "function" ? t() : t);
  };

  Client.prototype.storageKey = function (token) {
    if (typeof localStorage === "undefined") return null;
    if (this.options.storageKey) return this.options.storageKey;
    var user = tokenUser(token);
    return user ? "kliniki-live:" + user : null;
  };

  Client.prototype.connect = function () {
    var self = this;
    if (this.stopped) return;
    this.token().then(function (token) {
      if (self.stopped) return;
      self.key = self.storageKey(token);
      if (self.lastId === null && self.key) {
        var stored = parseInt(localStorage.getItem(self.key) || "", 10);
        if (!isNaN(stored)) self.lastId = stored;
      }
      var url = self.options.url + (self.options.url.indexOf("?") < 0 ? "?" : "&") +
        "token=" + encodeURIComponent(token) +
        (self.lastId !== null ? "&after=" + self.lastId : "");
      var WS = self.options.WebSocket || WebSocket;
      var ws = new WS(url);
      self.ws = ws;
      ws.onopen = function () { self.opened(ws); };
      ws.onmessage = function (message) { self.received(message.data); };
      ws.onclose = function (event) { self.closed(ws, event.code, event.reason); };
      // A handshake that fails may report only an error, never a close: treat both the same
      // (closed() ignores the second of the two).
      ws.onerror = function () {
        self.closed(ws, 1006, "connection failed");
        try { ws.close(); } catch (e) { /* already closed */ }
      };
    }, function (error) {
      self.fire("close", { code: 0, reason: "no token: " + error });
      self.scheduleReconnect();
    });
  };

  Client.prototype.opened = function (ws) {
    var self = this;
    this.lastFrameAt = Date.now();
    this.fire("open", {});
    this.openEntities.forEach(function (data) {
      ws.send(JSON.stringify({ event: "entity_edit_start", data: data }));
    });
    var queued = this.outbox;
    this.outbox = [];
    queued.forEach(function (text) { ws.send(text); });
    clearInterval(this.timers.heartbeat);
    this.timers.heartbeat = setInterval(function () {
      if (Date.now() - self.lastFrameAt > self.options.deadAfterMs) {
        ws.close(4000, "no frame from the server; reconnecting");
        return;
      }
      if (ws.readyState === 1) ws.send('{"event":"ping","data":{}}');
    }, this.options.heartbeatMs);
  };

  Client.prototype.received = function (text) {
    this.lastFrameAt = Date.now();
    var frame;
    try {
      frame = JSON.parse(text);
    } catch (e) {
      return;
    }
    if (typeof frame.id === "number") {
      if (this.seen.has(frame.id)) return; // already handed to the page
      this.seen.add(frame.id);
      this.seenOrder.push(frame.id);
      if (this.seenOrder.length > this.options.seenIdsKept) this.seen.delete(this.seenOrder.shift());
      if (this.lastId === null || frame.id > this.lastId) {
        this.lastId = frame.id;
        if (this.key) {
          try { localStorage.setItem(this.key, String(frame.id)); } catch (e) { /* full */ }
        }
      }
    }
    this.attempt = 0; // the server talks to us: the next drop starts the backoff afresh
    this.fire(frame.event, frame.data, frame);
  };

  Client.prototype.closed = function (ws, code, reason) {
    if (ws !== this.ws) return;
    clearInterval(this.timers.heartbeat);
    this.ws = null;
    this.fire("close", { code: code, reason: reason });
    if (code === CLOSE_UNAUTHORIZED) this.fire("unauthorized", { reason: reason });
    if (this.stopped) return;
    this.attempt += 1; // reset by the next frame received, so refusals keep backing off
    this.scheduleReconnect();
  };

  Client.prototype.scheduleReconnect = function () {
    var self = this;
    var ceiling = Math.min(this.options.maxDelayMs,
                           this.options.minDelayMs * Math.pow(2, Math.max(0, this.attempt - 1)));
    var delay = Math.max(50, Math.random() * ceiling);
    clearTimeout(this.timers.reconnect);
    this.timers.reconnect = setTimeout(function () { self.connect(); }, delay);
  };

  Client.prototype.close = function () {
    this.stopped = true;
    clearTimeout(this.timers.reconnect);
    clearInterval(this.timers.heartbeat);
    this.typingState.forEach(function (state) { clearTimeout(state.idleTimer); });
    if (this.ws) this.ws.close(1000, "bye");
  };

  return {
    connect: function (options) { return new Client(options); },
    Client: Client,
  };
});
