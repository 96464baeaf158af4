// The annotation workspace: select, label, link, edit, undo; every change saved at once.
//
// This is the page's entry point (templates/annotate/workspace.html loads it): it wires the
// page's controls and the store's events to the workspace modules and draws the first state.
// state.js holds the data; rules.js the label schema's rules; selection.js what is pointed at;
// commands.js every change and its undo; panel.js the side panel; keyboard.js the shortcuts.
// The text is drawn by render.js as text nodes only.

import { $, el } from "./lib/dom.js";
import { changeStatus, forgetHistory, labelSelection, pickTail, redo, undo, updateHistoryButtons } from "./workspace/commands.js";
import { onKey } from "./workspace/keyboard.js";
import { notify, reloadButton } from "./workspace/notice.js";
import { installLabelColours, renderPanel, showStatus, toggleGuidelines } from "./workspace/panel.js";
import { clearPending, redrawAll, selectSpan, takeSelection } from "./workspace/selection.js";
import { data, docEl, onRefresh, store, ui } from "./workspace/state.js";

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

  onRefresh(renderPanel);
  const saveEl = $("save-state");
  store.on("state", (state, detail) => {
    saveEl.dataset.state = state;
    saveEl.textContent = detail || { saved: "All changes saved", saving: "Saving…", offline: "Offline — retrying", conflict: "Not saved — reload" }[state];
  });
  store.on("change", (change) => {
    if (change.id === ui.selected) renderPanel();
  });
  store.on("rejected", (message) => {
    forgetHistory();
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
