// The export page: a live count of what the chosen filters export, and a clean download URL.
//
// The form is a plain GET to the export API (it works without this module). Here, every change
// asks the summary endpoint for the count, shows field errors next to the button, and leaves
// empty fields out of the download URL.

import { el } from "./lib/dom.js";

const form = document.getElementById("export-form");
const count = document.getElementById("export-count");
const errors = document.getElementById("export-errors");
const button = document.getElementById("export-download");
const number = new Intl.NumberFormat("en");
let timer = null;
let inflight = null;

function query(includeFormat) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (name === "format" && !includeFormat) continue;
    if (String(value).trim() !== "") params.append(name, String(value).trim());
  }
  return params;
}

function showCount(summary) {
  const parts = [
    `${number.format(summary.documents)} documents`,
    `${number.format(summary.spans)} spans`,
    `${number.format(summary.relations)} relations`,
  ];
  const strong = el("strong", {}, number.format(summary.records));
  let text = ` records (${parts.join(", ")})`;
  if (summary.splits) {
    const splits = ["train", "dev", "test"].map((name) => `${name} ${number.format(summary.splits[name] || 0)}`);
    text += `; split: ${splits.join(", ")}`;
  }
  count.replaceChildren(strong, document.createTextNode(text));
  count.dataset.records = String(summary.records);
}

function showErrors(body) {
  const items = [];
  for (const [field, messages] of Object.entries(body.errors || {})) {
    for (const message of [].concat(messages)) {
      items.push(el("li", {}, el("code", {}, field), `: ${message}`));
    }
  }
  if (!items.length) {
    items.push(el("li", {}, body.message || "The count is not available."));
  }
  errors.replaceChildren(...items);
  errors.hidden = false;
}

async function refresh() {
  if (inflight) inflight.abort();
  inflight = new AbortController();
  count.dataset.state = "loading";
  try {
    const response = await fetch(`${form.dataset.summaryUrl}?${query(false)}`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal: inflight.signal,
    });
    const body = await response.json();
    if (!response.ok) {
      showErrors(body);
      count.dataset.state = "error";
      button.disabled = true;
      return;
    }
    errors.hidden = true;
    errors.replaceChildren();
    showCount(body);
    count.dataset.state = "ready";
    button.disabled = false;
  } catch (error) {
    if (error.name === "AbortError") return;
    showErrors({ message: "The count could not be loaded; the download still works." });
    count.dataset.state = "error";
  }
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refresh, 200);
}

form.addEventListener("input", schedule);
form.addEventListener("change", schedule);
form.addEventListener("submit", (event) => {
  // Same request as the plain form, without the empty fields: a short, shareable URL.
  event.preventDefault();
  const params = query(true);
  window.location.assign(`${form.action}?${params}`);
});
