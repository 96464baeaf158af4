// The workspace's state: the page's data, the annotation store, and what the annotator has
// selected. Every other workspace module reads and changes it through these objects.
//
// Data comes from the page (<script type="application/json" id="workspace-data">). Offsets are
// code points everywhere in the model and on the wire; the DOM's UTF-16 positions are converted
// by offsets.js.

import { $ } from "../lib/dom.js";
import { OffsetIndex } from "./offsets.js";
import { Renderer } from "./render.js";
import { Rules } from "./rules.js";
import { Store } from "./store.js";

export const data = JSON.parse($("workspace-data").textContent);
export const schema = data.schema;
export const rules = new Rules(schema);
export const index = new OffsetIndex(data.document.text);
export const tokens = data.document.tokens;
export const CLOSED = new Set(["submitted", "skipped"]);

export const docEl = $("doc-text");
export const panelEl = $("span-panel");

export const store = new Store({
  apiBase: data.urls.api,
  csrf: document.querySelector('meta[name="csrf-token"]').content,
  annotations: data.annotations,
  schema,
});
export const renderer = new Renderer(docEl, index);

// selected: the span being edited; pending: the text range waiting for a label; relationHead:
// the head of the relation being linked; chooser: its tail and the types to choose from; kbd:
// the token range the arrow keys extend (anchor, focus); lastToken: where the arrows stopped.
export const ui = { selected: null, pending: null, relationHead: null, chooser: null, kbd: null };
export const history = { done: [], undone: [] };

export function spanText(span) {
  return index.slice(span.start, span.end);
}

// After a change the side panel is drawn again. main.js subscribes the panel here, so the
// modules that change things need not import the panel (which imports them).
const refreshers = [];

export function onRefresh(fn) {
  refreshers.push(fn);
}

export function refresh() {
  for (const fn of refreshers) fn();
}
