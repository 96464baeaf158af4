// The progress dashboard: summary figures, tables and SVG charts, refreshed every 15 seconds.
//
// The first figures come embedded in the page (#progress-data); later ones from the API
// (GET /api/v1/projects/{pid}/progress, same-origin cookie, no CSRF needed for a GET). Charts
// are inline SVG built with DOM calls: no library, no CDN, nothing from user data is parsed as
// markup (names go in through textContent, colours are checked against #rrggbb).

import { el } from "./lib/dom.js";

const SVG = "http://www.w3.org/2000/svg";
const REFRESH_MS = 15000;
const STATUS_COLORS = { submitted: "#1e7b34", skipped: "#a3a9b6", in_progress: "#2457c5", assigned: "#9fb8ec" };
const STATUS_NAMES = { submitted: "submitted", skipped: "skipped", in_progress: "in progress", assigned: "not started" };
const COLOR = /^#[0-9a-fA-F]{6}$/;

const dataScript = document.getElementById("progress-data");
const url = dataScript.dataset.url;
const updated = document.getElementById("progress-updated");

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function titled(node, text) {
  node.append(svg("title", {}, text));
  return node;
}

function legend(entries) {
  const box = el("div", { class: "legend" });
  for (const [color, name] of entries) {
    const swatch = svg("svg", { width: 12, height: 12, viewBox: "0 0 12 12", "aria-hidden": "true" });
    swatch.append(svg("rect", { width: 12, height: 12, rx: 2, fill: color }));
    box.append(el("span", {}, swatch, name));
  }
  return box;
}

// The axis maximum: a round number that the axis divides into whole steps (no "3" between 0 and 5).
function niceMax(value, divisions) {
  let max = value;
  if (value <= 5) max = 5;
  else {
    const magnitude = 10 ** Math.floor(Math.log10(value));
    max = [1, 2, 2.5, 5, 10].map((step) => step * magnitude).find((m) => m >= value) ?? value;
  }
  return Math.ceil(max / divisions) * divisions;
}

function completionChart(overall) {
  const width = 1000;
  const height = 56;
  const done = Math.max(0, Math.min(1, overall.completion || 0));
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Completion ${Math.round(done * 100)} percent` });
  root.append(svg("rect", { x: 0, y: 8, width, height: 24, rx: 6, fill: "#e8ecf4" }));
  // Started work (in progress) is drawn lighter behind finished work.
  const slots = overall.slots || 0;
  const started = slots ? Math.min(1, (overall.finished + overall.in_progress) / slots) : 0;
  root.append(titled(svg("rect", { x: 0, y: 8, width: started * width, height: 24, rx: 6, fill: "#9fb8ec" }),
    `${overall.in_progress} in progress`));
  root.append(titled(svg("rect", { x: 0, y: 8, width: done * width, height: 24, rx: 6, fill: "#1e7b34" }),
    `${overall.finished} of ${slots} finished`));
  root.append(svg("text", { x: 0, y: 50, class: "muted" },
    `${Math.round(done * 100)}% finished · ${overall.documents_complete} of ${overall.documents} documents complete · ` +
    `${overall.documents_assigned} documents assigned`));
  return [root, legend([["#1e7b34", "finished (submitted or skipped)"], ["#9fb8ec", "in progress"], ["#e8ecf4", "not started or unassigned"]])];
}

function annotatorChart(annotators) {
  const statuses = ["submitted", "skipped", "in_progress", "assigned"];
  const rowHeight = 26;
  const left = 130;
  const width = 560;
  const plot = width - left - 40;
  const height = Math.max(annotators.length, 1) * rowHeight + 30;
  const max = niceMax(Math.max(1, ...annotators.map((a) => a.total)), 4);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Assignments per annotator" });
  for (let i = 0; i <= 4; i += 1) {
    const x = left + (plot * i) / 4;
    root.append(svg("line", { x1: x, x2: x, y1: 0, y2: height - 22, class: "grid" }));
    root.append(svg("text", { x, y: height - 6, "text-anchor": "middle", class: "muted" }, Math.round((max * i) / 4)));
  }
  if (!annotators.length) root.append(svg("text", { x: left, y: 18, class: "muted" }, "No annotators yet."));
  annotators.forEach((a, row) => {
    const y = row * rowHeight + 4;
    const name = a.annotator.length > 17 ? `${a.annotator.slice(0, 16)}…` : a.annotator;
    root.append(svg("text", { x: left - 8, y: y + 14, "text-anchor": "end" }, name));
    let x = left;
    for (const status of statuses) {
      const w = (a[status] / max) * plot;
      if (w > 0) {
        root.append(titled(svg("rect", { x, y, width: w, height: rowHeight - 8, fill: STATUS_COLORS[status] }),
          `${a.annotator}: ${a[status]} ${STATUS_NAMES[status]}`));
      }
      x += w;
    }
    root.append(svg("text", { x: x + 5, y: y + 14, class: "muted" }, a.total));
  });
  return [root, legend(statuses.map((s) => [STATUS_COLORS[s], STATUS_NAMES[s]]))];
}

function labelChart(labels) {
  const rowHeight = 26;
  const left = 130;
  const width = 560;
  const plot = width - left - 50;
  const height = Math.max(labels.length, 1) * rowHeight + 30;
  const max = niceMax(Math.max(1, ...labels.map((l) => l.spans)), 4);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Spans per label" });
  for (let i = 0; i <= 4; i += 1) {
    const x = left + (plot * i) / 4;
    root.append(svg("line", { x1: x, x2: x, y1: 0, y2: height - 22, class: "grid" }));
    root.append(svg("text", { x, y: height - 6, "text-anchor": "middle", class: "muted" }, Math.round((max * i) / 4)));
  }
  labels.forEach((l, row) => {
    const y = row * rowHeight + 4;
    const w = (l.spans / max) * plot;
    const name = l.label.length > 17 ? `${l.label.slice(0, 16)}…` : l.label;
    root.append(svg("text", { x: left - 8, y: y + 14, "text-anchor": "end" }, name));
    root.append(titled(svg("rect", { x: left, y, width: w, height: rowHeight - 8,
      fill: COLOR.test(l.color) ? l.color : "#888888" }), `${l.label}: ${l.spans} spans`));
    root.append(svg("text", { x: left + w + 5, y: y + 14, class: "muted" }, l.spans));
  });
  return [root];
}

function dailyChart(daily) {
  const width = 1000;
  const height = 170;
  const bottom = 24;
  const left = 30;
  const plotH = height - bottom - 14;
  const step = (width - left) / daily.length;
  const max = niceMax(Math.max(1, ...daily.map((d) => d.submitted)), 2);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Submitted per day" });
  for (let i = 0; i <= 2; i += 1) {
    const y = 14 + plotH - (plotH * i) / 2;
    root.append(svg("line", { x1: left, x2: width, y1: y, y2: y, class: "grid" }));
    root.append(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "muted" }, Math.round((max * i) / 2)));
  }
  daily.forEach((d, i) => {
    const h = (d.submitted / max) * plotH;
    const x = left + i * step + step * 0.15;
    root.append(titled(svg("rect", { x, y: 14 + plotH - h, width: step * 0.7, height: h, rx: 2, fill: "#2457c5" }),
      `${d.date}: ${d.submitted} submitted`));
    if (d.submitted) root.append(svg("text", { x: x + step * 0.35, y: 10 + plotH - h, "text-anchor": "middle" }, d.submitted));
    root.append(svg("text", { x: x + step * 0.35, y: height - 6, "text-anchor": "middle", class: "muted" }, d.date.slice(5)));
  });
  return [root];
}

function cell(text, numeric) {
  return el("td", { class: numeric ? "num" : null }, text);
}

function renderTables(data) {
  const body = document.querySelector("#annotator-table tbody");
  body.replaceChildren(...data.annotators.map((a) => {
    const name = cell(a.annotator);
    if (!a.member) name.append(" ", el("span", { class: "badge" }, "not a member"));
    if (!a.active) name.append(" ", el("span", { class: "badge warn" }, "deactivated"));
    return el("tr", { dataset: { annotator: a.annotator } }, name, cell(a.total, true), cell(a.assigned, true), cell(a.in_progress, true), cell(a.submitted, true),
      cell(a.skipped, true), cell(a.spans, true), cell(a.median_minutes ?? "–", true),
      cell((a.last_activity || "").slice(0, 16).replace("T", " ")));
  }));
  document.querySelector("#label-table tbody").replaceChildren(...data.labels.map((l) => (
    el("tr", {}, cell(l.label), cell(l.spans, true)))));
  document.querySelector("#relation-table tbody").replaceChildren(...data.relations.map((r) => (
    el("tr", {}, cell(r.label), cell(r.count, true)))));
}

function renderSummary(overall) {
  for (const node of document.querySelectorAll("#summary [data-key]")) {
    const key = node.dataset.key;
    let value = overall[key];
    if (key === "completion") value = `${Math.round((value || 0) * 100)}%`;
    if (value === null || value === undefined) value = "–";
    node.textContent = value;
  }
}

function render(data) {
  renderSummary(data.overall);
  document.getElementById("chart-completion").replaceChildren(...completionChart(data.overall));
  document.getElementById("chart-annotators").replaceChildren(...annotatorChart(data.annotators));
  document.getElementById("chart-labels").replaceChildren(...labelChart(data.labels));
  document.getElementById("chart-daily").replaceChildren(...dailyChart(data.daily));
  renderTables(data);
  const when = data.generated_at.slice(0, 19).replace("T", " ");
  updated.textContent = `Figures as of ${when} UTC; refreshing every 15 s.`;
  updated.dataset.state = "ok";
  document.body.dataset.progressReady = "true";
}

async function refresh() {
  if (document.hidden) return;
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    render(await response.json());
  } catch (error) {
    updated.textContent = `Could not refresh (${error.message}); retrying.`;
    updated.dataset.state = "error";
  }
}

render(JSON.parse(dataScript.textContent));
setInterval(refresh, REFRESH_MS);
document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
