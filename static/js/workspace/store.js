// The annotation model of one document and its save queue.
//
// Every change is applied locally at once and queued as one API call with a client-generated
// id. The queue sends one call at a time, in order, each with If-Match: <version>, so that a
// change made elsewhere (another tab, a stale page) is refused by the server (412) instead of
// being silently overwritten. A call that fails on the network or with a 5xx is retried with
// backoff; the retry carries the same id, and the server treats creates as idempotent and
// repeated edits as no-ops, so retries never duplicate. A retried delete that finds nothing
// (it had been applied before the connection dropped) is checked against the server's state.

const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 15000;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function newId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class Store {
  constructor({ apiBase, csrf, annotations, schema }) {
    this.apiBase = apiBase;
    this.csrf = csrf;
    this.schema = schema;
    this.spans = new Map();
    this.relations = new Map();
    this.load(annotations);
    this.queue = [];
    this.busy = false;
    this.halted = false;
    this.state = "saved";
    this.listeners = { state: [], change: [], rejected: [], conflict: [], status: [], started: [] };
  }

  load(annotations) {
    this.spans.clear();
    this.relations.clear();
    for (const s of annotations.spans) this.spans.set(s.id, { ...s, attrs: { ...(s.attrs || {}) } });
    for (const r of annotations.relations) this.relations.set(r.id, { ...r });
    this.version = annotations.version;
    this.status = annotations.status;
    // What the server is known to hold: span and relation ids (for checking retried deletes).
    this.acked = { spans: new Set(this.spans.keys()), relations: new Set(this.relations.keys()) };
  }

  on(event, fn) {
    this.listeners[event].push(fn);
  }

  emit(event, ...args) {
    for (const fn of this.listeners[event]) fn(...args);
  }

  setState(state, detail = "") {
    this.state = state;
    this.emit("state", state, detail);
  }

  get pending() {
    return this.queue.length > 0;
  }

  sortedSpans() {
    return [...this.spans.values()].sort((a, b) => a.start - b.start || b.end - a.end);
  }

  // --- changes (local at once, then queued) ---

  addSpan(span) {
    const stored = { id: span.id || newId(), start: span.start, end: span.end, label: span.label, attrs: { ...(span.attrs || {}) } };
    this.spans.set(stored.id, stored);
    const body = { id: stored.id, start: stored.start, end: stored.end, label: stored.label, text: span.text };
    if (span.attrs) body.attrs = { ...span.attrs };
    this.enqueue({ kind: "span.create", method: "POST", url: `${this.apiBase}/spans`, body, id: stored.id });
    return stored;
  }

  updateSpan(id, changes) {
    const span = this.spans.get(id);
    Object.assign(span, changes);
    if (changes.attrs) span.attrs = { ...changes.attrs };
    else if (changes.label) {
      // The server keeps the attributes the new label also has (and may pre-fill some).
      const spec = this.schema.labels.find((l) => l.name === changes.label);
      const names = new Set(spec ? spec.attributes.map((a) => a.name) : []);
      span.attrs = Object.fromEntries(Object.entries(span.attrs).filter(([k]) => names.has(k)));
    }
    this.enqueue({ kind: "span.update", method: "PATCH", url: `${this.apiBase}/spans/${encodeURIComponent(id)}`,
      body: { ...changes }, id });
    return span;
  }

  deleteSpan(id) {
    const span = this.spans.get(id);
    const gone = [...this.relations.values()].filter((r) => r.head === id || r.tail === id);
    for (const r of gone) this.relations.delete(r.id);
    this.spans.delete(id);
    this.enqueue({ kind: "span.delete", method: "DELETE", url: `${this.apiBase}/spans/${encodeURIComponent(id)}`,
      id, relationIds: gone.map((r) => r.id) });
    return { span, relations: gone };
  }

  addRelation(relation) {
    const stored = { id: relation.id || newId(), head: relation.head, tail: relation.tail, label: relation.label, attrs: {} };
    this.relations.set(stored.id, stored);
    this.enqueue({ kind: "relation.create", method: "POST", url: `${this.apiBase}/relations`,
      body: { id: stored.id, head: stored.head, tail: stored.tail, label: stored.label }, id: stored.id });
    return stored;
  }

  deleteRelation(id) {
    const relation = this.relations.get(id);
    this.relations.delete(id);
    this.enqueue({ kind: "relation.delete", method: "DELETE", url: `${this.apiBase}/relations/${encodeURIComponent(id)}`, id });
    return relation;
  }

  setStatus(status) {
    this.enqueue({ kind: "status", method: "POST", url: `${this.apiBase}/status`, body: { status } });
  }

  // --- the queue ---

  enqueue(op) {
    this.queue.push(op);
    if (!this.halted) this.setState("saving");
    this.pump();
  }

  async pump() {
    if (this.busy || this.halted) return;
    this.busy = true;
    try {
      while (this.queue.length && !this.halted) {
        const op = this.queue[0];
        const outcome = await this.send(op);
        if (this.halted) break;
        if (outcome.ok) {
          this.queue.shift();
          this.acknowledge(op, outcome.body);
        } else if (outcome.resync) {
          await this.resync(op);
        } else if (outcome.status === 412) {
          this.halt("conflict", "These annotations were changed in another tab or window. "
            + "Your last change was not saved. Reload to see the latest version.");
        } else {
          await this.reject(op, outcome);
        }
      }
    } finally {
      this.busy = false;
    }
    if (!this.halted && !this.queue.length) this.setState("saved");
  }

  async send(op) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await fetch(op.url, {
          method: op.method,
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrf, "If-Match": `"${this.version}"` },
          body: op.body === undefined ? undefined : JSON.stringify(op.body),
        });
      } catch (error) {
        response = null;
      }
      const transient = response === null || response.status >= 500 || response.status === 429 || response.status === 408;
      if (!transient) {
        const body = await response.json().catch(() => ({}));
        if (response.ok) return { ok: true, body };
        if (op.uncertain && (response.status === 412 || (response.status === 404 && op.kind.endsWith(".delete")))) {
          return { resync: true };
        }
        return { ok: false, status: response.status, body };
      }
      // The call may or may not have been applied; the retry carries the same id.
      op.uncertain = true;
      const wait = Math.min(RETRY_FIRST_MS * 2 ** attempt, RETRY_MAX_MS) * (0.75 + Math.random() * 0.5);
      this.setState("offline", `Offline — retrying in ${Math.max(1, Math.round(wait / 1000))} s`);
      await sleep(wait);
      if (this.halted) return { ok: false, status: 0, body: {} };
      this.setState("saving");
    }
  }

  acknowledge(op, body) {
    if (typeof body.version === "number") this.version = body.version;
    // The server moves an assignment from "assigned" to "in_progress" on its first change.
    if (op.kind !== "status" && (this.status === "assigned" || !this.status)) {
      this.status = "in_progress";
      this.emit("started", this.status);
    }
    switch (op.kind) {
      case "span.create":
        this.acked.spans.add(op.id);
        this.takePrefilled(op, body);
        break;
      case "span.update":
        this.takePrefilled(op, body);
        break;
      case "span.delete":
        this.acked.spans.delete(op.id);
        for (const r of op.relationIds) this.acked.relations.delete(r);
        break;
      case "relation.create":
        this.acked.relations.add(op.id);
        break;
      case "relation.delete":
        this.acked.relations.delete(op.id);
        break;
      case "status":
        this.status = body.status;
        this.emit("status", body.status);
        break;
      default:
    }
  }

  // The server may have pre-filled attributes (a claim's counts): take them, unless the call
  // set attributes itself or a later change of the same span is still to be sent.
  takePrefilled(op, body) {
    const span = this.spans.get(op.id);
    const later = this.queue.some((o) => o.id === op.id);
    if (span && body.attrs && !op.body.attrs && !later) {
      span.attrs = { ...body.attrs };
      this.emit("change", { type: "attrs", id: op.id });
    }
  }

  // A retried call found its work done or undone: compare with the server to tell which.
  async resync(op) {
    const current = await this.fetchAnnotations();
    if (current === null) return; // still offline: the loop sends the op again
    const expected = { spans: new Set(this.acked.spans), relations: new Set(this.acked.relations) };
    if (op.kind === "span.delete") {
      expected.spans.delete(op.id);
      for (const r of op.relationIds) expected.relations.delete(r);
    } else if (op.kind === "relation.delete") {
      expected.relations.delete(op.id);
    }
    const same = (set, items) => set.size === items.length && items.every((x) => set.has(x.id));
    if (same(expected.spans, current.spans) && same(expected.relations, current.relations)) {
      this.queue.shift();
      this.acknowledge(op, { version: current.version });
    } else {
      this.halt("conflict", "These annotations were changed in another tab or window. Reload to see the latest version.");
    }
  }

  async fetchAnnotations() {
    try {
      const response = await fetch(`${this.apiBase}/annotations`, { credentials: "same-origin" });
      if (!response.ok) return null;
      return await response.json();
    } catch (error) {
      return null;
    }
  }

  // The server refused a change (4xx): drop the queue and show the server's state with why.
  async reject(op, outcome) {
    const body = outcome.body || {};
    let message = body.message || `The change was refused (${outcome.status}).`;
    const details = Object.entries(body.errors || {}).map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`);
    if (details.length && !details.some((d) => d.includes(message))) message = `${message} ${details.join("; ")}`;
    if (outcome.status === 401) {
      this.halt("conflict", "You are logged out. Log in again in another tab, then reload this page.");
      return;
    }
    this.queue = [];
    const current = await this.fetchAnnotations();
    if (current === null) {
      this.halt("conflict", `${message} Reload the page.`);
      return;
    }
    this.load(current);
    this.emit("rejected", message);
  }

  halt(state, message) {
    this.halted = true;
    this.setState(state, message);
    this.emit("conflict", message);
  }

  // Whether the server holds a newer version than this page knows (another tab wrote).
  async checkFreshness() {
    if (this.halted || this.queue.length || this.busy) return;
    const known = this.version;
    const current = await this.fetchAnnotations();
    // Only if nothing was saved from here meanwhile: then a different version is someone else's.
    if (current && known === this.version && current.version !== known && !this.queue.length && !this.busy) {
      this.halt("conflict", "These annotations were changed in another tab or window. Reload to see the latest version.");
    }
  }
}
