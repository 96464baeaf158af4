// The workspace's keyboard: a table from keys to actions (the ? dialog lists them for people).
//
// A binding names its keys and, by default, works only when Ctrl/⌘ and Alt are up and no form
// field has the focus. `ctrl` asks for Ctrl/⌘ (Alt then does not matter), `alt` lets Alt be
// held (Alt+digit labels an exact-character selection), `anyModifiers` ignores both, and
// `typing` keeps the binding while a field has the focus. The first binding that matches runs.

import { $ } from "../lib/dom.js";
import { cancelRelation, changeStatus, chooseRelation, deleteSelected, labelSelection, pickTail, redo, startRelation, undo } from "./commands.js";
import { clearNotice } from "./notice.js";
import { toggleGuidelines } from "./panel.js";
import { clearPending, moveToken, selectSpan, stepSpan } from "./selection.js";
import { docEl, panelEl, schema, ui } from "./state.js";

const hotkeys = new Map(schema.labels.filter((l) => l.hotkey).map((l) => [l.hotkey, l.name]));
const DIGITS = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];

function typing(target) {
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement
    || (target instanceof HTMLElement && target.isContentEditable);
}

// Esc steps back one level: the open guidelines, the side panel, the relation being linked,
// the pending selection, the selected span.
function escape(event) {
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
}

// A digit picks a relation type while the chooser is open, else labels the selection.
function digit(event) {
  event.preventDefault();
  if (ui.chooser) {
    const option = ui.chooser.options[Number(event.key) - 1];
    if (option) chooseRelation(option.name);
    return;
  }
  const label = hotkeys.get(event.key);
  if (label) labelSelection(label);
}

function arrow(event) {
  const active = document.activeElement;
  if (!(active === docEl || docEl.contains(active) || active === document.body)) return;
  event.preventDefault();
  moveToken(event.key === "ArrowRight" ? 1 : -1, event.shiftKey);
}

// Enter on a span: the tail of the relation being linked, else into its label field.
function enter(event) {
  if (event.target instanceof HTMLButtonElement || event.target instanceof HTMLAnchorElement) return;
  if (ui.relationHead && ui.selected && !ui.chooser) pickTail(ui.selected);
  else if (ui.selected && !ui.chooser) {
    event.preventDefault();
    $("span-label").focus();
  }
}

const prevented = (action) => (event) => {
  event.preventDefault();
  action(event);
};

const BINDINGS = [
  { keys: ["Escape"], anyModifiers: true, typing: true, run: escape },
  { keys: ["z", "Z"], ctrl: true, run: prevented((e) => (e.shiftKey ? redo() : undo())) },
  { keys: ["y", "Y"], ctrl: true, run: prevented(redo) },
  { keys: ["Enter"], ctrl: true, typing: true, run: prevented(() => changeStatus("submitted")) },
  { keys: DIGITS, alt: true, run: digit },
  { keys: ["ArrowRight", "ArrowLeft"], run: arrow },
  { keys: ["]"], run: () => stepSpan(1) },
  { keys: ["["], run: () => stepSpan(-1) },
  { keys: ["Enter"], run: enter },
  { keys: ["Delete", "Backspace"], run: prevented(deleteSelected) },
  { keys: ["r", "R"], run: startRelation },
  { keys: ["g", "G"], run: () => toggleGuidelines() },
  { keys: ["?"], run: () => $("shortcuts").showModal() },
];

function matches(binding, event) {
  if (!binding.keys.includes(event.key)) return false;
  if (!binding.typing && typing(event.target)) return false;
  if (binding.anyModifiers) return true;
  const ctrl = event.ctrlKey || event.metaKey;
  if (binding.ctrl) return ctrl;
  return !ctrl && (binding.alt || !event.altKey);
}

export function onKey(event) {
  const binding = BINDINGS.find((b) => matches(b, event));
  if (binding) binding.run(event);
}
