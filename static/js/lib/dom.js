// DOM helpers shared by the page modules.
//
// Pages build their markup with DOM calls and text nodes only: names, texts and messages are
// user data and never parsed as HTML, and the CSP forbids inline handlers and style attributes.

// The element with id `id`.
export const $ = (id) => document.getElementById(id);

// A new element: `el("button", { type: "button", class: "primary", onclick: fn }, "Save")`.
//
// Props: `class`, `dataset` (an object), `on<event>` (a listener), `checked` and `value` (set as
// properties, which is what a form control shows), anything else an attribute (true: present,
// false/null/undefined: left out). Children: nodes or text, nested arrays flattened, null,
// undefined and false left out.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "checked" || key === "value") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// `text` cut to at most `max` characters, with an ellipsis when cut.
export function shorten(text, max = 60) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
