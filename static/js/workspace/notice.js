// The notice bar under the toolbar: why a change was refused, what was undone, what comes next.
//
// Errors stay until the next change; infos fade after six seconds; a conflict (saving has
// stopped) stays until the page is reloaded.

import { $, el } from "../lib/dom.js";

const noticeEl = $("notice");
let noticeTimer = null;

export function notify(message, { kind = "error", action = null } = {}) {
  clearTimeout(noticeTimer);
  noticeEl.replaceChildren(el("span", {}, message));
  if (action) noticeEl.append(" ", action);
  noticeEl.dataset.kind = kind;
  noticeEl.hidden = false;
  if (kind === "info") noticeTimer = setTimeout(() => { noticeEl.hidden = true; }, 6000);
}

export function clearNotice() {
  if (noticeEl.dataset.kind !== "conflict") noticeEl.hidden = true;
}

export function reloadButton() {
  return el("button", { type: "button", class: "primary", id: "reload-btn", onclick: () => window.location.reload() }, "Reload");
}
