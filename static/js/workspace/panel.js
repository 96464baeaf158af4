// What the workspace shows besides the text: the side panel (the overview, the selected span's
// editor, the relation chooser, the relation list), the status pill, the guidelines, and the
// label colours. The panel is drawn from the state on every change.

import { $, el, shorten } from "../lib/dom.js";
import { cancelRelation, changeLabel, chooseRelation, deleteRelation, deleteSelected, setAttribute, startRelation } from "./commands.js";
import { highlight, selectSpan } from "./selection.js";
import { CLOSED, docEl, panelEl, rules, schema, spanText, store, ui } from "./state.js";

// --- label colours (CSSOM rules: the CSP forbids style attributes) ----------------------------

export function installLabelColours() {
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

export function renderPanel() {
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
  const attributes = rules.attributesOf(span.label);
  const onAttr = (name, value) => setAttribute(span.id, name, value);
  const labelSelect = el("select", { id: "span-label", onchange: (e) => changeLabel(span.id, e.target.value) },
    ...schema.labels.map((l) => el("option", { value: l.name, selected: l.name === span.label }, l.name)));
  const enclosing = store.sortedSpans().filter((s) => s.id !== span.id && s.start <= span.start && span.end <= s.end);
  const inside = store.sortedSpans().filter((s) => s.id !== span.id && span.start <= s.start && s.end <= span.end);
  const jump = (s) => el("button", { type: "button", class: "span-link", onclick: () => selectSpan(s.id, { scroll: true }) },
    el("span", { class: "chip", dataset: { label: s.label } }, s.label), ` ${shorten(spanText(s), 30)}`);
  const hasCounts = attributes.some((a) => a.name === "count_text");
  return el("section", { class: "span-editor", "aria-label": "Selected span", dataset: { spanId: span.id } },
    el("h2", {}, el("span", { class: "chip", dataset: { label: span.label } }, span.label)),
    el("p", { class: "span-text", dir: "auto" }, spanText(span)),
    el("p", { class: "span-meta" }, `code points ${span.start}–${span.end}`),
    el("div", { class: "field" }, el("label", { for: "span-label" }, "Label"), labelSelect),
    attributes.length ? el("form", { id: "attr-form", class: "attrs", onsubmit: (e) => e.preventDefault() },
      hasCounts ? el("p", { class: "hint" }, "Counts are pre-filled from the text: check them.") : null,
      ...attributes.map((a) => attributeField(a, span.attrs[a.name], onAttr))) : null,
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
      el("button", { type: "button", class: "rel-del", "aria-label": `Delete relation ${r.label}`, onclick: () => deleteRelation(r) }, "×"));
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

// --- the status pill and the guidelines ------------------------------------------------------

export function showStatus(status) {
  const pill = $("doc-status");
  pill.dataset.status = status || "assigned";
  pill.textContent = (status || "assigned").replace("_", " ");
  const closed = CLOSED.has(status);
  $("submit-btn").hidden = closed;
  $("skip-btn").hidden = closed;
  $("reopen-btn").hidden = !closed;
  docEl.classList.toggle("closed", closed);
}

export function toggleGuidelines(force) {
  const panel = $("guidelines");
  const open = force === undefined ? panel.hidden : force;
  panel.hidden = !open;
  $("guidelines-btn").setAttribute("aria-expanded", String(open));
  if (open) panel.focus();
  else docEl.focus();
}
