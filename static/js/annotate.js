// The annotation workspace: select, label, link, edit, undo; every change saved at once.
//
// Data comes from the page (<script type="application/json" id="workspace-data">); the text is
// drawn by render.js as text nodes only. Offsets are code points everywhere in the model and
// on the wire; the DOM's UTF-16 positions are converted by offsets.js.

import { OffsetIndex, clusterSplit } from "./offsets.js";
import { Renderer, rangeToUtf16, utf16ToRange } from "./render.js";
import { Store, newId } from "./store.js";

const data = JSON.parse(document.getElementById("workspace-data").textContent);
const schema = data.schema;
const index = new OffsetIndex(data.document.text);
const tokens = data.document.tokens;
const labels = new Map(schema.labels.map((l) => [l.name, l]));
const hotkeys = new Map(schema.labels.filter((l) => l.hotkey).map((l) => [l.hotkey, l.name]));
const CLOSED = new Set(["submitted", "skipped"]);

const $ = (id) => document.getElementById(id);
const docEl = $("doc-text");
const panelEl = $("span-panel");
const noticeEl = $("notice");
const saveEl = $("save-state");

const store = new Store({
  apiBase: data.urls.api,
  csrf: document.querySelector('meta[name="csrf-token"]').content,
  annotations: data.annotations,
  schema,
});
const renderer = new Renderer(docEl, index);
const ui = { selected: null, pending: null, relationHead: null, chooser: null, kbd: null };
const history = { done: [], undone: [] };

// --- small helpers ---------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function shorten(text, max = 60) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function spanText(span) {
  return index.slice(span.start, span.end);
}

let noticeTimer = null;

function notify(message, { kind = "error", action = null } = {}) {
  clearTimeout(noticeTimer);
  noticeEl.replaceChildren(el("span", {}, message));
  if (action) noticeEl.append(" ", action);
  noticeEl.dataset.kind = kind;
  noticeEl.hidden = false;
  if (kind === "info") noticeTimer = setTimeout(() => { noticeEl.hidden = true; }, 6000);
}

function clearNotice() {
  if (noticeEl.dataset.kind !== "conflict") noticeEl.hidden = true;
}

function readOnly() {
  if (store.halted) {
    notify("Saving has stopped: reload the page first.", { kind: "conflict", action: reloadButton() });
    return true;
  }
  if (CLOSED.has(store.status)) {
    notify(`This document is ${store.status}. Press Reopen to change it.`);
    return true;
  }
  return false;
}

function reloadButton() {
  return el("button", { type: "button", class: "primary", id: "reload-btn", onclick: () => window.location.reload() }, "Reload");
}

// --- label colours (CSSOM rules: the CSP forbids style attributes) ----------------------------

function installLabelColours() {
  const sheet = $("annotate-css") && $("annotate-css").sheet;
  for (const label of schema.labels) {
    const name = CSS.escape(label.name);
    const rule = `{ --c: ${label.color}; }`;
    if (sheet) {
      sheet.insertRule(`.ann[data-label="${name}"] ${rule}`, sheet.cssRules.length);
      sheet.insertRule(`[data-label="${name}"].chip ${rule}`, sheet.cssRules.length);
      sheet.insertRule(`#label-palette button[data-label="${name}"] ${rule}`, sheet.cssRules.length);
    }
  }
}

// --- drawing ---------------------------------------------------------------------------------

function redraw(start, end) {
  renderer.renderRange(start, end, store.spans.values());
  markSelected();
}

function redrawAll() {
  renderer.renderAll(store.spans.values());
  markSelected();
}

function markSelected() {
  for (const node of docEl.querySelectorAll(".ann.selected, .ann.rel-head")) node.classList.remove("selected", "rel-head");
  if (ui.selected) for (const node of renderer.elementsOf(ui.selected)) node.classList.add("selected");
  if (ui.relationHead) for (const node of renderer.elementsOf(ui.relationHead)) node.classList.add("rel-head");
}

function highlight(ids, on) {
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

// Widens [start, end) to whole grapheme clusters: a flag, an emoji sequence, a letter with its
// marks is selected whole or not at all (the server refuses a span that splits one).
function wholeClusters(range) {
  if (!range) return null;
  const first = clusterSplit(index, range.start);
  const last = clusterSplit(index, range.end);
  return { ...range, start: first ? first.start : range.start, end: last ? last.end : range.end };
}

// Keeps character precision, but trims spaces and never splits a grapheme cluster.
function precise(start, end) {
  const text = index.text;
  while (start < end && /\s/u.test(text[index.toUtf16(start)])) start++;
  while (end > start && /\s/u.test(text[index.toUtf16(end) - 1])) end--;
  return start < end ? wholeClusters({ start, end }) : null;
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

function clearPending() {
  ui.pending = null;
  ui.kbd = null;
  window.getSelection().removeAllRanges();
  $("selection-hint").textContent = "";
}

function takeSelection(alt) {
  const selection = window.getSelection();
  if (!selection.rangeCount || selection.isCollapsed) return false;
  const range16 = rangeToUtf16(docEl, selection.getRangeAt(0));
  if (!range16) return false;
  const start = index.toCodePoint(range16[0]);
  const end = index.toCodePoint(range16[1], true);
  // Tokens keep clusters whole too (tokens stored before that are widened here).
  const snapped = alt ? precise(start, end) : wholeClusters(snap(start, end));
  if (!snapped) {
    clearPending();
    return false;
  }
  ui.kbd = alt ? null : { anchor: snapped.first, focus: snapped.last };
  showPending({ start: snapped.start, end: snapped.end });
  return true;
}

// --- the overlap policy, checked before sending (the server checks again) -------------------

function overlapReason(start, end, label, ignore = null) {
  const policy = schema.overlap || "nest";
  for (const other of store.spans.values()) {
    if (other.id === ignore || other.end <= start || end <= other.start) continue;
    const same = other.start === start && other.end === end;
    if (policy === "any") {
      if (same && other.label === label) return `The same ${label} span already exists here.`;
      continue;
    }
    if (policy === "none") return `Overlaps the ${other.label} span “${shorten(spanText(other), 40)}”; this project allows no overlaps.`;
    if (same) return `A ${other.label} span already covers exactly this text.`;
    const nested = (other.start <= start && end <= other.end) || (start <= other.start && other.end <= end);
    if (!nested) return `Crosses the ${other.label} span “${shorten(spanText(other), 40)}”: spans may nest but not cross.`;
  }
  return null;
}

// --- commands and history --------------------------------------------------------------------

function apply(command, direction) {
  const forward = direction === "do";
  switch (command.type) {
    case "add":
      if (forward) {
        store.addSpan(command.span);
        for (const relation of command.relations || []) store.addRelation(relation);
      } else {
        const current = store.spans.get(command.span.id);
        command.span = { ...current, attrs: { ...current.attrs } };
        command.relations = store.deleteSpan(command.span.id).relations;
        if (ui.selected === command.span.id) ui.selected = null;
      }
      redraw(command.span.start, command.span.end);
      break;
    case "delete":
      if (forward) {
        const current = store.spans.get(command.id);
        command.span = { ...current, attrs: { ...current.attrs } };
        command.relations = store.deleteSpan(command.id).relations;
        if (ui.selected === command.id) ui.selected = null;
      } else {
        store.addSpan(command.span);
        for (const relation of command.relations) store.addRelation(relation);
      }
      redraw(command.span.start, command.span.end);
      break;
    case "edit": {
      const before = store.spans.get(command.id);
      const range = [before.start, before.end];
      store.updateSpan(command.id, forward ? command.after : command.before);
      const after = store.spans.get(command.id);
      redraw(Math.min(range[0], after.start), Math.max(range[1], after.end));
      break;
    }
    case "addRel":
      if (forward) store.addRelation(command.relation);
      else store.deleteRelation(command.relation.id);
      break;
    case "delRel":
      if (forward) store.deleteRelation(command.relation.id);
      else store.addRelation(command.relation);
      break;
    default:
  }
  renderPanel();
}

function run(command) {
  if (readOnly()) return;
  apply(command, "do");
  history.done.push(command);
  history.undone = [];
  updateHistoryButtons();
}

function undo() {
  if (!history.done.length || readOnly()) return;
  const command = history.done.pop();
  apply(command, "undo");
  history.undone.push(command);
  updateHistoryButtons();
  notify(`Undone: ${describe(command)}`, { kind: "info" });
}

function redo() {
  if (!history.undone.length || readOnly()) return;
  const command = history.undone.pop();
  apply(command, "do");
  history.done.push(command);
  updateHistoryButtons();
  notify(`Redone: ${describe(command)}`, { kind: "info" });
}

function describe(command) {
  const what = { add: "add span", delete: "delete span", edit: "edit span", addRel: "add relation", delRel: "delete relation" };
  return what[command.type];
}

function updateHistoryButtons() {
  $("undo-btn").disabled = !history.done.length;
  $("redo-btn").disabled = !history.undone.length;
}

// --- actions ---------------------------------------------------------------------------------

function labelSelection(label) {
  if (ui.chooser) return;
  if (!ui.pending) {
    if (ui.selected) changeLabel(ui.selected, label);
    else notify("Select some text first (drag, double-click, or Shift+→), then press the label's key.", { kind: "info" });
    return;
  }
  if (readOnly()) return;
  const { start, end } = ui.pending;
  const reason = overlapReason(start, end, label);
  if (reason) {
    notify(reason);
    return;
  }
  const span = { id: newId(), start, end, label, text: index.slice(start, end) };
  clearPending();
  clearNotice();
  ui.selected = span.id;
  run({ type: "add", span });
}

function changeLabel(id, label) {
  const span = store.spans.get(id);
  if (!span || span.label === label) return;
  const reason = overlapReason(span.start, span.end, label, id);
  if (reason) {
    notify(reason);
    return;
  }
  const broken = [...store.relations.values()].filter((r) => (r.head === id || r.tail === id)
    && !relationAllowed(r.label, r.head === id ? label : store.spans.get(r.head).label, r.tail === id ? label : store.spans.get(r.tail).label));
  if (broken.length) {
    notify(`Changing to ${label} would break ${broken.length} relation(s) of this span (${broken.map((r) => r.label).join(", ")}); delete them first.`);
    renderPanel();
    return;
  }
  run({ type: "edit", id, before: { label: span.label, attrs: { ...span.attrs } }, after: { label } });
}

function deleteSelected() {
  if (!ui.selected) return;
  run({ type: "delete", id: ui.selected });
}

function selectSpan(id, { scroll = false } = {}) {
  ui.selected = id;
  markSelected();
  if (scroll && id) {
    const first = renderer.elementsOf(id)[0];
    if (first) first.scrollIntoView({ block: "nearest" });
  }
  renderPanel();
}

function stepSpan(direction) {
  const spans = store.sortedSpans();
  if (!spans.length) return;
  let i = spans.findIndex((s) => s.id === ui.selected);
  if (i === -1) i = direction > 0 ? -1 : spans.length;
  i = (i + direction + spans.length) % spans.length;
  clearPending();
  selectSpan(spans[i].id, { scroll: true });
}

function moveToken(direction, extend) {
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

// --- relations -------------------------------------------------------------------------------

function relationAllowed(name, headLabel, tailLabel) {
  const relation = (schema.relations || []).find((r) => r.name === name);
  return Boolean(relation && relation.head.includes(headLabel) && relation.tail.includes(tailLabel)
    && (!relation.same_label || headLabel === tailLabel));
}

function startRelation() {
  if (!ui.selected) {
    notify("Select the head span first (click it, or [ and ]), then press R.", { kind: "info" });
    return;
  }
  if (readOnly()) return;
  ui.relationHead = ui.selected;
  markSelected();
  notify("Now pick the tail: click a span, or use [ and ] and press Enter. Esc cancels.", { kind: "info" });
  renderPanel();
}

function pickTail(tailId) {
  const head = store.spans.get(ui.relationHead);
  const tail = store.spans.get(tailId);
  if (!head || !tail) return;
  if (head.id === tail.id) {
    notify("A relation links two different spans: pick another one.", { kind: "info" });
    return;
  }
  const options = (schema.relations || []).filter((r) => relationAllowed(r.name, head.label, tail.label));
  if (!options.length) {
    notify(`No relation type goes from ${head.label} to ${tail.label} in this project's schema.`);
    return;
  }
  ui.chooser = { head: head.id, tail: tail.id, options };
  ui.selected = tail.id;
  markSelected();
  renderPanel();
  const first = panelEl.querySelector(".rel-option");
  if (first) first.focus();
}

function chooseRelation(name) {
  const { head, tail } = ui.chooser;
  const exists = [...store.relations.values()].some((r) => r.head === head && r.tail === tail && r.label === name);
  cancelRelation();
  if (exists) {
    notify(`This ${name} relation exists already.`, { kind: "info" });
    return;
  }
  run({ type: "addRel", relation: { id: newId(), head, tail, label: name } });
  notify(`Linked: ${name}.`, { kind: "info" });
}

function cancelRelation() {
  ui.relationHead = null;
  ui.chooser = null;
  markSelected();
  renderPanel();
}

// --- the side panel --------------------------------------------------------------------------

function attributeField(spec, value, onChange) {
  const id = `attr-${spec.name}`;
  let input;
  if (spec.type === "enum") {
    input = el("select", { id, name: spec.name }, el("option", { value: "" }, "—"),
      ...spec.values.map((v) => el("option", { value: v, selected: value === v }, v)));
  } else if (spec.type === "boolean") {
    input = el("select", { id, name: spec.name }, el("option", { value: "" }, "—"),
      el("option", { value: "true", selected: value === true }, "yes"),
      el("option", { value: "false", selected: value === false }, "no"));
  } else {
    input = el("input", { id, name: spec.name, type: "text", inputmode: spec.type === "integer" ? "numeric" : undefined,
      autocomplete: "off", dir: "auto" });
    input.value = value === null || value === undefined ? "" : String(value);
  }
  const error = el("span", { class: "field-error", id: `${id}-error`, role: "alert" });
  input.setAttribute("aria-describedby", error.id);
  input.addEventListener("change", () => {
    const raw = input.value;
    let parsed = null;
    error.textContent = "";
    if (raw !== "") {
      if (spec.type === "integer") {
        if (!/^-?\d{1,15}$/.test(raw.trim())) {
          error.textContent = "Enter a whole number, or leave it empty.";
          input.setAttribute("aria-invalid", "true");
          return;
        }
        parsed = parseInt(raw.trim(), 10);
      } else if (spec.type === "boolean") parsed = raw === "true";
      else parsed = raw;
    }
    input.removeAttribute("aria-invalid");
    onChange(spec.name, parsed);
  });
  return el("div", { class: "field" }, el("label", { for: id }, spec.name, spec.required ? " *" : ""), input, error);
}

function renderPanel() {
  // The panel is rebuilt on every change: keep the keyboard focus on the same field.
  const focusedId = panelEl.contains(document.activeElement) ? document.activeElement.id : null;
  const parts = [];
  if (ui.chooser) {
    const head = store.spans.get(ui.chooser.head);
    const tail = store.spans.get(ui.chooser.tail);
    parts.push(el("section", { class: "chooser", "aria-label": "Choose the relation type" },
      el("h2", {}, "Relation type"),
      el("p", {}, el("span", { class: "chip", dataset: { label: head.label } }, head.label), ` “${shorten(spanText(head), 40)}” → `,
        el("span", { class: "chip", dataset: { label: tail.label } }, tail.label), ` “${shorten(spanText(tail), 40)}”`),
      el("div", { class: "rel-options" }, ...ui.chooser.options.map((r, i) => el("button", {
        type: "button", class: "rel-option", dataset: { relation: r.name }, onclick: () => chooseRelation(r.name),
      }, el("kbd", {}, String(i + 1)), ` ${r.name}`))),
      el("button", { type: "button", class: "link", onclick: cancelRelation }, "Cancel (Esc)")));
  } else if (ui.selected && store.spans.get(ui.selected)) {
    parts.push(spanEditor(store.spans.get(ui.selected)));
  } else {
    const counts = new Map();
    for (const span of store.spans.values()) counts.set(span.label, (counts.get(span.label) || 0) + 1);
    parts.push(el("section", { class: "overview" },
      el("h2", {}, "Spans"),
      el("ul", { class: "counts" }, ...schema.labels.map((l) => el("li", {},
        el("span", { class: "chip", dataset: { label: l.name } }, l.name), ` ${counts.get(l.name) || 0}`))),
      el("p", { class: "hint" }, "Select words with the mouse (drag or double-click) or with Shift+← →, then press a label's number. "
        + "Hold Alt while selecting for exact characters. Click a span to edit it. Press ? for all shortcuts.")));
  }
  parts.push(relationList());
  panelEl.replaceChildren(...parts);
  if (focusedId && $(focusedId)) $(focusedId).focus();
}

function spanEditor(span) {
  const spec = labels.get(span.label) || { attributes: [] };
  const onAttr = (name, value) => {
    const current = store.spans.get(span.id);
    const attrs = { ...current.attrs, [name]: value };
    run({ type: "edit", id: span.id, before: { attrs: { ...current.attrs } }, after: { attrs } });
  };
  const labelSelect = el("select", { id: "span-label", onchange: (e) => changeLabel(span.id, e.target.value) },
    ...schema.labels.map((l) => el("option", { value: l.name, selected: l.name === span.label }, l.name)));
  const enclosing = store.sortedSpans().filter((s) => s.id !== span.id && s.start <= span.start && span.end <= s.end);
  const inside = store.sortedSpans().filter((s) => s.id !== span.id && span.start <= s.start && s.end <= span.end);
  const jump = (s) => el("button", { type: "button", class: "span-link", onclick: () => selectSpan(s.id, { scroll: true }) },
    el("span", { class: "chip", dataset: { label: s.label } }, s.label), ` ${shorten(spanText(s), 30)}`);
  const hasCounts = spec.attributes.some((a) => a.name === "count_text");
  return el("section", { class: "span-editor", "aria-label": "Selected span", dataset: { spanId: span.id } },
    el("h2", {}, el("span", { class: "chip", dataset: { label: span.label } }, span.label)),
    el("p", { class: "span-text", dir: "auto" }, spanText(span)),
    el("p", { class: "span-meta" }, `code points ${span.start}–${span.end}`),
    el("div", { class: "field" }, el("label", { for: "span-label" }, "Label"), labelSelect),
    spec.attributes.length ? el("form", { id: "attr-form", class: "attrs", onsubmit: (e) => e.preventDefault() },
      hasCounts ? el("p", { class: "hint" }, "Counts are pre-filled from the text: check them.") : null,
      ...spec.attributes.map((a) => attributeField(a, span.attrs[a.name], onAttr))) : null,
    el("div", { class: "actions" },
      el("button", { type: "button", id: "link-btn", onclick: startRelation }, "Link… (R)"),
      el("button", { type: "button", id: "delete-btn", class: "danger", onclick: deleteSelected }, "Delete (Del)")),
    enclosing.length ? el("div", { class: "nesting" }, el("h3", {}, "Inside"), ...enclosing.map(jump)) : null,
    inside.length ? el("div", { class: "nesting" }, el("h3", {}, "Contains"), ...inside.map(jump)) : null);
}

function relationList() {
  const relations = [...store.relations.values()];
  const items = relations.map((r) => {
    const head = store.spans.get(r.head);
    const tail = store.spans.get(r.tail);
    if (!head || !tail) return null;
    const end = (s) => el("button", { type: "button", class: "rel-end", onclick: () => selectSpan(s.id, { scroll: true }) },
      el("span", { class: "chip", dataset: { label: s.label } }, s.label), ` ${shorten(spanText(s), 28)}`);
    const item = el("li", { dataset: { relationId: r.id } }, end(head), el("span", { class: "rel-label" }, ` —${r.label}→ `), end(tail),
      el("button", { type: "button", class: "rel-del", "aria-label": `Delete relation ${r.label}`, onclick: () => run({ type: "delRel", relation: { ...r } }) }, "×"));
    const on = () => highlight([r.head, r.tail], true);
    const off = () => highlight([r.head, r.tail], false);
    item.addEventListener("mouseenter", on);
    item.addEventListener("mouseleave", off);
    item.addEventListener("focusin", on);
    item.addEventListener("focusout", off);
    return item;
  }).filter(Boolean);
  return el("section", { id: "relations", class: "relations" },
    el("h2", {}, `Relations (${items.length})`),
    items.length ? el("ul", { id: "relation-list" }, ...items) : el("p", { class: "hint" }, "None yet. Select a span and press R to link it."));
}

// --- status: submit, skip, reopen ------------------------------------------------------------

function showStatus(status) {
  const pill = $("doc-status");
  pill.dataset.status = status || "assigned";
  pill.textContent = (status || "assigned").replace("_", " ");
  const closed = CLOSED.has(status);
  $("submit-btn").hidden = closed;
  $("skip-btn").hidden = closed;
  $("reopen-btn").hidden = !closed;
  docEl.classList.toggle("closed", closed);
}

function changeStatus(status) {
  if (store.halted) return readOnly();
  clearPending();
  store.setStatus(status);
  return undefined;
}

// --- keyboard --------------------------------------------------------------------------------

function typing(target) {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement
    || (target instanceof HTMLElement && target.isContentEditable);
}

function onKey(event) {
  const key = event.key;
  const ctrl = event.ctrlKey || event.metaKey;
  if (key === "Escape") {
    if ($("shortcuts").open) return;
    if (!$("guidelines").hidden) {
      toggleGuidelines(false);
      return;
    }
    if (typing(event.target) || panelEl.contains(event.target)) {
      // Leave the side panel, keeping the selected span.
      docEl.focus();
      return;
    }
    if (ui.chooser || ui.relationHead) cancelRelation();
    else if (ui.pending) clearPending();
    else if (ui.selected) selectSpan(null);
    clearNotice();
    return;
  }
  if (ctrl && (key === "z" || key === "Z") && !typing(event.target)) {
    event.preventDefault();
    if (event.shiftKey) redo();
    else undo();
    return;
  }
  if (ctrl && (key === "y" || key === "Y") && !typing(event.target)) {
    event.preventDefault();
    redo();
    return;
  }
  if (ctrl && key === "Enter") {
    event.preventDefault();
    changeStatus("submitted");
    return;
  }
  if (typing(event.target) || ctrl || event.altKey && !/^[1-9]$/.test(key)) return;
  if (/^[1-9]$/.test(key)) {
    event.preventDefault();
    if (ui.chooser) {
      const option = ui.chooser.options[Number(key) - 1];
      if (option) chooseRelation(option.name);
      return;
    }
    const label = hotkeys.get(key);
    if (label) labelSelection(label);
    return;
  }
  switch (key) {
    case "ArrowRight":
    case "ArrowLeft": {
      if (!(document.activeElement === docEl || docEl.contains(document.activeElement) || document.activeElement === document.body)) return;
      event.preventDefault();
      moveToken(key === "ArrowRight" ? 1 : -1, event.shiftKey);
      break;
    }
    case "]":
      stepSpan(1);
      break;
    case "[":
      stepSpan(-1);
      break;
    case "Enter":
      if (event.target instanceof HTMLButtonElement || event.target instanceof HTMLAnchorElement) return;
      if (ui.relationHead && ui.selected && !ui.chooser) pickTail(ui.selected);
      else if (ui.selected && !ui.chooser) {
        event.preventDefault();
        $("span-label").focus();
      }
      break;
    case "Delete":
    case "Backspace":
      event.preventDefault();
      deleteSelected();
      break;
    case "r":
    case "R":
      startRelation();
      break;
    case "g":
    case "G":
      toggleGuidelines();
      break;
    case "?":
      $("shortcuts").showModal();
      break;
    default:
  }
}

function toggleGuidelines(force) {
  const panel = $("guidelines");
  const open = force === undefined ? panel.hidden : force;
  panel.hidden = !open;
  $("guidelines-btn").setAttribute("aria-expanded", String(open));
  if (open) panel.focus();
  else docEl.focus();
}

// --- wiring ----------------------------------------------------------------------------------

function wire() {
  for (const button of document.querySelectorAll("#label-palette button[data-label]")) {
    // Keep the text selection when the palette is clicked.
    button.addEventListener("mousedown", (e) => e.preventDefault());
    button.addEventListener("click", () => labelSelection(button.dataset.label));
  }
  docEl.addEventListener("mouseup", (e) => {
    if (e.button !== 0) return;
    takeSelection(e.altKey);
  });
  docEl.addEventListener("dblclick", (e) => takeSelection(e.altKey));
  docEl.addEventListener("click", (e) => {
    if (!window.getSelection().isCollapsed) return;
    const target = e.target instanceof Element ? e.target.closest(".ann") : null;
    if (ui.pending) clearPending();
    if (target) {
      if (ui.relationHead && !ui.chooser) pickTail(target.dataset.spanId);
      else selectSpan(target.dataset.spanId);
    } else if (!ui.relationHead) {
      selectSpan(null);
    }
  });
  document.addEventListener("keydown", onKey);
  $("undo-btn").addEventListener("click", undo);
  $("redo-btn").addEventListener("click", redo);
  $("submit-btn").addEventListener("click", () => changeStatus("submitted"));
  $("skip-btn").addEventListener("click", () => changeStatus("skipped"));
  $("reopen-btn").addEventListener("click", () => changeStatus("in_progress"));
  $("guidelines-btn").addEventListener("click", () => toggleGuidelines());
  $("guidelines-close").addEventListener("click", () => toggleGuidelines(false));
  $("help-btn").addEventListener("click", () => $("shortcuts").showModal());
  $("shortcuts-close").addEventListener("click", () => $("shortcuts").close());

  store.on("state", (state, detail) => {
    saveEl.dataset.state = state;
    saveEl.textContent = detail || { saved: "All changes saved", saving: "Saving…", offline: "Offline — retrying", conflict: "Not saved — reload" }[state];
  });
  store.on("change", (change) => {
    if (change.id === ui.selected) renderPanel();
  });
  store.on("rejected", (message) => {
    history.done = [];
    history.undone = [];
    updateHistoryButtons();
    if (ui.selected && !store.spans.has(ui.selected)) ui.selected = null;
    redrawAll();
    renderPanel();
    showStatus(store.status);
    notify(`Not saved: ${message}`);
  });
  store.on("conflict", (message) => notify(message, { kind: "conflict", action: reloadButton() }));
  store.on("started", (status) => showStatus(status));
  store.on("status", (status) => {
    showStatus(status);
    const messages = { submitted: "Submitted. ", skipped: "Skipped. ", in_progress: "Reopened: you can change it again." };
    const next = status === "in_progress" ? null : el("a", { href: data.urls.next, class: "button primary", id: "notice-next" }, "Next document →");
    notify(messages[status] || status, { kind: "info", action: next });
  });
  window.addEventListener("beforeunload", (e) => {
    if (store.pending && !store.halted) {
      e.preventDefault();
      e.returnValue = "";
    }
  });
  window.addEventListener("focus", () => store.checkFreshness());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") store.checkFreshness();
  });
}

installLabelColours();
redrawAll();
wire();
renderPanel();
updateHistoryButtons();
showStatus(store.status);
docEl.dataset.ready = "true";
performance.mark("workspace-ready");
docEl.focus({ preventScroll: true });
