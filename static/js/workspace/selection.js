// What the annotator points at: a text range waiting for a label (from the mouse or the arrow
// keys, snapped to tokens), and the selected span, marked in the drawn text.

import { $, shorten } from "../lib/dom.js";
import { rangeToUtf16, utf16ToRange } from "./render.js";
import { wholeClusters } from "./rules.js";
import { docEl, index, refresh, renderer, store, tokens, ui } from "./state.js";

// --- drawing ---------------------------------------------------------------------------------

export function redraw(start, end) {
  renderer.renderRange(start, end, store.spans.values());
  markSelected();
}

export function redrawAll() {
  renderer.renderAll(store.spans.values());
  markSelected();
}

export function markSelected() {
  for (const node of docEl.querySelectorAll(".ann.selected, .ann.rel-head")) node.classList.remove("selected", "rel-head");
  if (ui.selected) for (const node of renderer.elementsOf(ui.selected)) node.classList.add("selected");
  if (ui.relationHead) for (const node of renderer.elementsOf(ui.relationHead)) node.classList.add("rel-head");
}

export function highlight(ids, on) {
  for (const id of ids) for (const node of renderer.elementsOf(id)) node.classList.toggle("hl", on);
}

// --- selection -> code points ----------------------------------------------------------------

const PUNCT = /^[\p{P}\p{S}]+$/u;

function tokenAfter(cp) {
  // First token whose end is > cp.
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[mid][1] <= cp) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Snaps [start, end) to whole tokens, leaving out punctuation at the edges.
function snap(start, end) {
  let first = tokenAfter(start);
  let last = tokenAfter(end) - 1;
  if (last >= 0 && last + 1 < tokens.length && tokens[last + 1][0] < end) last += 1;
  if (first >= tokens.length || last < first) return null;
  while (first < last && PUNCT.test(index.slice(...tokens[first]))) first++;
  while (last > first && PUNCT.test(index.slice(...tokens[last]))) last--;
  return { start: tokens[first][0], end: tokens[last][1], first, last };
}

// Keeps character precision, but trims spaces and never splits a grapheme cluster.
function precise(start, end) {
  const text = index.text;
  while (start < end && /\s/u.test(text[index.toUtf16(start)])) start++;
  while (end > start && /\s/u.test(text[index.toUtf16(end) - 1])) end--;
  return start < end ? wholeClusters(index, { start, end }) : null;
}

function showPending(range) {
  ui.pending = range;
  const selection = window.getSelection();
  if (!range) return;
  const domRange = utf16ToRange(docEl, index.toUtf16(range.start), index.toUtf16(range.end));
  if (domRange) {
    selection.removeAllRanges();
    selection.addRange(domRange);
  }
  $("selection-hint").textContent = `“${shorten(index.slice(range.start, range.end), 80)}” (${range.start}–${range.end}) — press 1–9 or click a label`;
}

export function clearPending() {
  ui.pending = null;
  ui.kbd = null;
  window.getSelection().removeAllRanges();
  $("selection-hint").textContent = "";
}

export function takeSelection(alt) {
  const selection = window.getSelection();
  if (!selection.rangeCount || selection.isCollapsed) return false;
  const range16 = rangeToUtf16(docEl, selection.getRangeAt(0));
  if (!range16) return false;
  const start = index.toCodePoint(range16[0]);
  const end = index.toCodePoint(range16[1], true);
  // Tokens keep clusters whole too (tokens stored before that are widened here).
  const snapped = alt ? precise(start, end) : wholeClusters(index, snap(start, end));
  if (!snapped) {
    clearPending();
    return false;
  }
  ui.kbd = alt ? null : { anchor: snapped.first, focus: snapped.last };
  showPending({ start: snapped.start, end: snapped.end });
  return true;
}

// --- moving the selection --------------------------------------------------------------------

export function selectSpan(id, { scroll = false } = {}) {
  ui.selected = id;
  markSelected();
  if (scroll && id) {
    const first = renderer.elementsOf(id)[0];
    if (first) first.scrollIntoView({ block: "nearest" });
  }
  refresh();
}

export function stepSpan(direction) {
  const spans = store.sortedSpans();
  if (!spans.length) return;
  let i = spans.findIndex((s) => s.id === ui.selected);
  if (i === -1) i = direction > 0 ? -1 : spans.length;
  i = (i + direction + spans.length) % spans.length;
  clearPending();
  selectSpan(spans[i].id, { scroll: true });
}

export function moveToken(direction, extend) {
  if (!tokens.length) return;
  let kbd = ui.kbd;
  if (!kbd) {
    const span = ui.selected && store.spans.get(ui.selected);
    if (ui.pending) {
      kbd = { anchor: tokenAfter(ui.pending.start), focus: tokenAfter(ui.pending.end) - 1 };
    } else if (span) {
      // Step off the selected span: → goes to the word after it, ← to the word before.
      const at = direction > 0 ? tokenAfter(span.end) - 1 : tokenAfter(span.start);
      kbd = { anchor: at, focus: at };
    } else if (ui.lastToken !== undefined) {
      kbd = { anchor: ui.lastToken, focus: ui.lastToken };
    } else {
      kbd = { anchor: 0, focus: 0 };
      direction = 0; // the first press selects the first word
    }
    if (span) selectSpan(null);
  }
  const focus = Math.max(0, Math.min(tokens.length - 1, kbd.focus + direction));
  const anchor = extend ? kbd.anchor : focus;
  const first = Math.min(anchor, focus);
  const last = Math.max(anchor, focus);
  ui.lastToken = focus;
  showPending({ start: tokens[first][0], end: tokens[last][1] });
  ui.kbd = { anchor, focus };
  const range = window.getSelection().rangeCount ? window.getSelection().getRangeAt(0) : null;
  const rect = range && range.getBoundingClientRect();
  if (rect && (rect.top < 80 || rect.bottom > window.innerHeight - 20)) {
    window.scrollBy({ top: rect.top - window.innerHeight / 3 });
  }
}
