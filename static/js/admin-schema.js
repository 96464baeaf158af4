// The label schema editor: a form over the schema JSON in #schema-json.
//
// The textarea is the single source of truth that the form posts. The editor reads it once,
// renders labels (name, colour, hotkey, description, attributes), relation types (name,
// allowed head and tail labels) and the overlap policy, and writes the JSON back on every
// change. Everything is built with DOM calls and textContent: label names are user data.
// The server validates the schema again and refuses changes that orphan stored annotations.

import { el as h } from "./lib/dom.js";

const textarea = document.getElementById("schema-json");
const root = document.getElementById("schema-editor");
const jsonState = document.getElementById("json-state");
const options = JSON.parse(document.getElementById("schema-editor-options").textContent);
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const COLOR = /^#[0-9a-fA-F]{6}$/;
const OVERLAP_HELP = {
  nest: "spans may nest but not cross, no two with the same extent (the conflict scheme)",
  none: "no two spans may overlap",
  any: "spans may overlap freely (not twice the same label on the same extent)",
};
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];

let schema = null;

function labelled(text, control, extraClass) {
  return h("label", { class: extraClass }, text, " ", control);
}

function save() {
  textarea.value = JSON.stringify(schema, null, 2);
  jsonState.textContent = "";
  checkProblems();
}

function readTextarea() {
  try {
    const parsed = JSON.parse(textarea.value);
    if (!parsed || typeof parsed !== "object" || !Array.isArray(parsed.labels)) {
      throw new Error("a schema is an object with a list of labels");
    }
    parsed.overlap = parsed.overlap || "nest";
    parsed.relations = Array.isArray(parsed.relations) ? parsed.relations : [];
    for (const label of parsed.labels) label.attributes = Array.isArray(label.attributes) ? label.attributes : [];
    return parsed;
  } catch (error) {
    jsonState.textContent = `The JSON cannot be shown in the form: ${error.message}`;
    document.getElementById("raw-json").open = true;
    return null;
  }
}

function labelNames() {
  return schema.labels.map((label) => label.name);
}

function checkProblems() {
  const problems = [];
  const names = new Map();
  const keys = new Map();
  root.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  schema.labels.forEach((label, i) => {
    const card = root.querySelector(`.label-card[data-index="${i}"]`);
    if (!NAME.test(label.name || "")) {
      problems.push(`Label ${i + 1}: use letters, digits, _ or -, starting with a letter.`);
      card?.querySelector('[data-field="name"]')?.classList.add("invalid");
    } else if (names.has(label.name)) {
      problems.push(`Label name ${label.name} is used twice.`);
      card?.querySelector('[data-field="name"]')?.classList.add("invalid");
    }
    names.set(label.name, i);
    if (label.hotkey) {
      if (keys.has(label.hotkey)) {
        problems.push(`Hotkey ${label.hotkey} is used by ${keys.get(label.hotkey)} and ${label.name}.`);
        card?.querySelector('[data-field="hotkey"]')?.classList.add("invalid");
      }
      keys.set(label.hotkey, label.name);
    }
    const attrNames = new Set();
    for (const attribute of label.attributes) {
      if (attrNames.has(attribute.name)) problems.push(`${label.name} has two attributes named ${attribute.name}.`);
      attrNames.add(attribute.name);
      if (attribute.type === "enum" && !(attribute.values || []).length) {
        problems.push(`${label.name}.${attribute.name || "?"}: list the enum values.`);
      }
    }
  });
  const relationNames = new Set();
  schema.relations.forEach((relation) => {
    if (relationNames.has(relation.name)) problems.push(`Relation type ${relation.name} is defined twice.`);
    relationNames.add(relation.name);
    for (const end of ["head", "tail"]) {
      if (!(relation[end] || []).length) problems.push(`Relation ${relation.name || "?"}: pick at least one ${end} label.`);
    }
  });
  const list = root.querySelector(".problems");
  list.replaceChildren(...problems.map((text) => h("li", {}, text)));
  root.dataset.problems = String(problems.length);
}

function renameLabel(oldName, newName) {
  for (const relation of schema.relations) {
    for (const end of ["head", "tail"]) {
      relation[end] = (relation[end] || []).map((name) => (name === oldName ? newName : name));
    }
  }
}

function attributeRow(label, attribute, j) {
  const values = h("input", {
    value: (attribute.values || []).join(", "), placeholder: "value, value, ...", "data-field": "values",
    "aria-label": "Enum values, comma-separated", disabled: attribute.type !== "enum",
    oninput: (event) => {
      attribute.values = event.target.value.split(",").map((v) => v.trim()).filter(Boolean);
      save();
    },
  });
  const type = h("select", {
    "aria-label": "Attribute type", "data-field": "type",
    onchange: (event) => {
      attribute.type = event.target.value;
      if (attribute.type === "enum") attribute.values = attribute.values || [];
      else delete attribute.values;
      values.disabled = attribute.type !== "enum";
      save();
    },
  }, options.attribute_types.map((t) => h("option", { value: t }, t)));
  type.value = attribute.type;
  return h("tr", { "data-attribute": j },
    h("td", {}, h("input", {
      value: attribute.name || "", "aria-label": "Attribute name", "data-field": "attr-name", required: true,
      oninput: (event) => { attribute.name = event.target.value.trim(); save(); },
    })),
    h("td", {}, type),
    h("td", {}, values),
    h("td", {}, h("input", {
      type: "checkbox", checked: Boolean(attribute.required), "aria-label": "Required",
      onchange: (event) => { attribute.required = event.target.checked; save(); },
    })),
    h("td", {}, h("button", {
      type: "button", class: "small danger", "aria-label": `Remove attribute ${attribute.name}`,
      onclick: () => { label.attributes.splice(j, 1); render(); },
    }, "Remove")));
}

function labelCard(label, i) {
  const hotkey = h("select", {
    "data-field": "hotkey", "aria-label": "Hotkey",
    onchange: (event) => { label.hotkey = event.target.value || null; save(); },
  }, h("option", { value: "" }, "none"), options.hotkeys.map((key) => h("option", { value: key }, key)));
  hotkey.value = label.hotkey || "";
  const card = h("div", { class: "label-card", "data-index": i, "data-label": label.name },
    h("div", { class: "row" },
      labelled("Name", h("input", {
        value: label.name || "", "data-field": "name", required: true,
        onchange: (event) => {
          const name = event.target.value.trim();
          renameLabel(label.name, name);
          label.name = name;
          render();
        },
      }), "name"),
      labelled("Colour", h("input", {
        type: "color", value: COLOR.test(label.color || "") ? label.color : "#888888", "data-field": "color",
        oninput: (event) => { label.color = event.target.value; card.style.borderLeftColor = label.color; save(); },
      })),
      labelled("Hotkey", hotkey, "hotkey"),
      labelled("Description", h("input", {
        value: label.description || "", "data-field": "description",
        oninput: (event) => { label.description = event.target.value; save(); },
      }), "desc"),
      h("button", {
        type: "button", class: "small danger", "aria-label": `Remove label ${label.name}`,
        onclick: () => {
          schema.labels.splice(i, 1);
          for (const relation of schema.relations) {
            relation.head = (relation.head || []).filter((n) => n !== label.name);
            relation.tail = (relation.tail || []).filter((n) => n !== label.name);
          }
          render();
        },
      }, "Remove label")),
    h("table", { class: "attributes" },
      h("thead", {}, h("tr", {}, ["Attribute", "Type", "Values (enum)", "Required", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, label.attributes.map((attribute, j) => attributeRow(label, attribute, j)))),
    h("button", {
      type: "button", class: "small", "data-action": "add-attribute",
      onclick: () => {
        label.attributes.push({ name: `attr${label.attributes.length + 1}`, type: "enum", values: ["yes", "no"], required: false });
        render();
        root.querySelector(`.label-card[data-index="${i}"] tr:last-child input`)?.focus();
      },
    }, "Add attribute"));
  if (COLOR.test(label.color || "")) card.style.borderLeftColor = label.color;
  return card;
}

function picks(relation, end) {
  const chosen = new Set(relation[end] || []);
  return h("div", { class: "picks", "data-end": end }, labelNames().map((name) => h("label", {},
    h("input", {
      type: "checkbox", checked: chosen.has(name), value: name,
      onchange: (event) => {
        const set = new Set(relation[end] || []);
        if (event.target.checked) set.add(name); else set.delete(name);
        relation[end] = labelNames().filter((n) => set.has(n));
        save();
      },
    }), name)));
}

function relationRow(relation, i) {
  return h("tr", { "data-relation": relation.name || "", "data-index": i },
    h("td", {}, h("input", {
      value: relation.name || "", "aria-label": "Relation name", "data-field": "relation-name", required: true,
      oninput: (event) => { relation.name = event.target.value.trim(); save(); },
    })),
    h("td", {}, picks(relation, "head")),
    h("td", {}, picks(relation, "tail")),
    h("td", {}, h("input", {
      type: "checkbox", checked: Boolean(relation.same_label), "aria-label": "Both ends have the same label",
      onchange: (event) => { relation.same_label = event.target.checked; save(); },
    })),
    h("td", {}, h("button", {
      type: "button", class: "small danger", "aria-label": `Remove relation ${relation.name}`,
      onclick: () => { schema.relations.splice(i, 1); render(); },
    }, "Remove")));
}

function render() {
  const overlap = h("select", {
    name: "", "data-field": "overlap",
    onchange: (event) => { schema.overlap = event.target.value; help.textContent = OVERLAP_HELP[schema.overlap] || ""; save(); },
  }, options.overlap_policies.map((p) => h("option", { value: p }, p)));
  overlap.value = schema.overlap;
  const help = h("span", { class: "hint" }, OVERLAP_HELP[schema.overlap] || "");
  root.replaceChildren(
    h("div", { class: "row" }, labelled("Overlap policy", overlap), help),
    h("div", { class: "section-title" }, h("h3", {}, `Labels (${schema.labels.length})`),
      h("button", {
        type: "button", id: "add-label",
        onclick: () => {
          const used = new Set(schema.labels.map((l) => l.hotkey));
          schema.labels.push({
            name: `LABEL${schema.labels.length + 1}`, color: PALETTE[schema.labels.length % PALETTE.length],
            hotkey: options.hotkeys.find((k) => !used.has(k)) || null, description: "", attributes: [],
          });
          render();
          root.querySelector(".label-card:last-of-type [data-field=name]")?.select();
        },
      }, "Add label")),
    h("div", { id: "label-cards" }, schema.labels.map(labelCard)),
    h("div", { class: "section-title" }, h("h3", {}, `Relation types (${schema.relations.length})`),
      h("button", {
        type: "button", id: "add-relation",
        onclick: () => {
          schema.relations.push({ name: `relation${schema.relations.length + 1}`, head: [], tail: [], same_label: false });
          render();
        },
      }, "Add relation type")),
    h("table", { id: "relation-types" },
      h("thead", {}, h("tr", {}, ["Name", "From (head)", "To (tail)", "Same label", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, schema.relations.map(relationRow))),
    h("ul", { class: "problems", "aria-live": "polite" }),
  );
  save();
  root.dataset.ready = "true";
}

function load() {
  const parsed = readTextarea();
  if (parsed) {
    schema = parsed;
    render();
  }
}

document.getElementById("apply-json").addEventListener("click", () => {
  const parsed = readTextarea();
  if (parsed) {
    schema = parsed;
    render();
    jsonState.textContent = "Applied to the form.";
  }
});
textarea.addEventListener("input", () => {
  jsonState.textContent = "Edited: apply it to the form, or save as is.";
});
load();
