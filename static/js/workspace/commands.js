// Every change the annotator makes, as a command: add, edit and delete spans, add and delete
// relations, change the document's status. A command is applied to the store (which saves it)
// and kept for undo and redo; the rules are checked first, to say at once why a change cannot
// be made.

import { $ } from "../lib/dom.js";
import { newId } from "./store.js";
import { clearNotice, notify, reloadButton } from "./notice.js";
import { clearPending, markSelected, redraw } from "./selection.js";
import { CLOSED, history, index, panelEl, refresh, rules, spanText, store, ui } from "./state.js";

// Whether changes are refused now (saving stopped, or the document is closed), saying why.
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

function overlapReason(start, end, label, ignore = null) {
  return rules.overlapReason(store.spans.values(), start, end, label, { ignore, textOf: spanText });
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
  refresh();
}

export function run(command) {
  if (readOnly()) return;
  apply(command, "do");
  history.done.push(command);
  history.undone = [];
  updateHistoryButtons();
}

export function undo() {
  if (!history.done.length || readOnly()) return;
  const command = history.done.pop();
  apply(command, "undo");
  history.undone.push(command);
  updateHistoryButtons();
  notify(`Undone: ${describe(command)}`, { kind: "info" });
}

export function redo() {
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

// The server refused a change and the store holds its state again: nothing left to undo.
export function forgetHistory() {
  history.done = [];
  history.undone = [];
  updateHistoryButtons();
}

export function updateHistoryButtons() {
  $("undo-btn").disabled = !history.done.length;
  $("redo-btn").disabled = !history.undone.length;
}

// --- spans -----------------------------------------------------------------------------------

export function labelSelection(label) {
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

export function changeLabel(id, label) {
  const span = store.spans.get(id);
  if (!span || span.label === label) return;
  const reason = overlapReason(span.start, span.end, label, id);
  if (reason) {
    notify(reason);
    return;
  }
  const broken = [...store.relations.values()].filter((r) => (r.head === id || r.tail === id)
    && !rules.relationAllowed(r.label, r.head === id ? label : store.spans.get(r.head).label, r.tail === id ? label : store.spans.get(r.tail).label));
  if (broken.length) {
    notify(`Changing to ${label} would break ${broken.length} relation(s) of this span (${broken.map((r) => r.label).join(", ")}); delete them first.`);
    refresh();
    return;
  }
  run({ type: "edit", id, before: { label: span.label, attrs: { ...span.attrs } }, after: { label } });
}

export function setAttribute(id, name, value) {
  const current = store.spans.get(id);
  const attrs = { ...current.attrs, [name]: value };
  run({ type: "edit", id, before: { attrs: { ...current.attrs } }, after: { attrs } });
}

export function deleteSelected() {
  if (!ui.selected) return;
  run({ type: "delete", id: ui.selected });
}

// --- relations: pick the head, then the tail, then the type ----------------------------------

export function startRelation() {
  if (!ui.selected) {
    notify("Select the head span first (click it, or [ and ]), then press R.", { kind: "info" });
    return;
  }
  if (readOnly()) return;
  ui.relationHead = ui.selected;
  markSelected();
  notify("Now pick the tail: click a span, or use [ and ] and press Enter. Esc cancels.", { kind: "info" });
  refresh();
}

export function pickTail(tailId) {
  const head = store.spans.get(ui.relationHead);
  const tail = store.spans.get(tailId);
  if (!head || !tail) return;
  if (head.id === tail.id) {
    notify("A relation links two different spans: pick another one.", { kind: "info" });
    return;
  }
  const options = rules.relationOptions(head.label, tail.label);
  if (!options.length) {
    notify(`No relation type goes from ${head.label} to ${tail.label} in this project's schema.`);
    return;
  }
  ui.chooser = { head: head.id, tail: tail.id, options };
  ui.selected = tail.id;
  markSelected();
  refresh();
  const first = panelEl.querySelector(".rel-option");
  if (first) first.focus();
}

export function chooseRelation(name) {
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

export function cancelRelation() {
  ui.relationHead = null;
  ui.chooser = null;
  markSelected();
  refresh();
}

export function deleteRelation(relation) {
  run({ type: "delRel", relation: { ...relation } });
}

// --- status: submit, skip, reopen (not undoable: the server moves the assignment) -------------

export function changeStatus(status) {
  if (store.halted) return readOnly();
  clearPending();
  store.setStatus(status);
  return undefined;
}
