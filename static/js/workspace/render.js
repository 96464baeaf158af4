// Draws the article and its spans into #doc-text, as text only (never HTML).
//
// Each line of the text is a block (`div.para`, dir="auto" so Arabic lines run right to left).
// Inside a line the DOM is built once from boundary segments: between two consecutive span
// boundaries the set of covering spans is constant, so the nested elements are opened and
// closed by comparing that set with the one before. Nested spans become nested elements (each
// with a level class for stacked underlines); a span that crosses another (allowed only under
// the "any" overlap policy) is drawn as several fragments. Adding or changing a span re-draws
// only the lines it touches.

const MAX_LEVEL = 6;

function byOuterFirst(a, b) {
  return a.start - b.start || b.end - a.end || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export class Renderer {
  constructor(container, index) {
    this.container = container;
    this.index = index;
    const text = index.text;
    this.paras = [];
    let start16 = 0;
    for (;;) {
      const nl = text.indexOf("\n", start16);
      const end16 = nl === -1 ? text.length : nl;
      this.paras.push({
        start16, end16,
        startCp: index.toCodePoint(start16), endCp: index.toCodePoint(end16),
        el: null,
      });
      if (nl === -1) break;
      start16 = nl + 1;
    }
  }

  // Draws every line with `spans` (an iterable of {id, start, end, label}, code points).
  renderAll(spans) {
    const perPara = this.paras.map(() => []);
    for (const span of spans) {
      for (const i of this.parasFor(span.start, span.end)) perPara[i].push(span);
    }
    const fragment = document.createDocumentFragment();
    this.paras.forEach((para, i) => {
      para.el = this.buildPara(para, perPara[i]);
      fragment.appendChild(para.el);
    });
    this.container.replaceChildren(fragment);
  }

  // Re-draws the lines that [startCp, endCp) touches, with the spans in `spans` that touch them.
  renderRange(startCp, endCp, spans) {
    const wanted = this.parasFor(startCp, endCp);
    if (!wanted.length) return;
    const first = this.paras[wanted[0]].startCp;
    const last = this.paras[wanted[wanted.length - 1]].endCp;
    const touching = [];
    for (const span of spans) {
      if (span.start <= last && span.end >= first) touching.push(span);
    }
    for (const i of wanted) {
      const para = this.paras[i];
      const own = touching.filter((s) => s.start < para.endCp && s.end > para.startCp
        || (s.start === s.end && s.start === para.startCp));
      const el = this.buildPara(para, own);
      para.el.replaceWith(el);
      para.el = el;
    }
  }

  // Indices of the lines that [startCp, endCp) overlaps (at least the line holding startCp).
  parasFor(startCp, endCp) {
    let lo = 0;
    let hi = this.paras.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.paras[mid].startCp <= startCp) lo = mid;
      else hi = mid - 1;
    }
    const found = [lo];
    for (let i = lo + 1; i < this.paras.length && this.paras[i].startCp < endCp; i++) found.push(i);
    return found;
  }

  buildPara(para, spans) {
    const el = document.createElement("div");
    el.className = "para";
    el.dir = "auto";
    el.__start16 = para.start16;
    el.__end16 = para.end16;
    if (para.start16 === para.end16) {
      el.classList.add("empty");
      return el;
    }
    const index = this.index;
    const text = index.text;
    const clipped = spans
      .map((s) => ({ span: s, start: Math.max(s.start, para.startCp), end: Math.min(s.end, para.endCp), id: s.id }))
      .filter((c) => c.start < c.end);
    const points = new Set([para.startCp, para.endCp]);
    for (const c of clipped) {
      points.add(c.start);
      points.add(c.end);
    }
    const bounds = [...points].sort((a, b) => a - b);
    clipped.sort(byOuterFirst);
    // The stack of open elements: [{el, item, maxChild}], the line itself at the bottom.
    const stack = [{ el, item: null, maxChild: 0 }];
    const close = () => {
      const top = stack.pop();
      const level = Math.min(top.maxChild + 1, MAX_LEVEL);
      top.el.classList.add(`lvl-${level}`);
      const parent = stack[stack.length - 1];
      parent.maxChild = Math.max(parent.maxChild, top.maxChild + 1);
    };
    let active = [];
    let next = 0;
    for (let b = 0; b < bounds.length - 1; b++) {
      const segStart = bounds[b];
      const segEnd = bounds[b + 1];
      active = active.filter((c) => c.end > segStart);
      while (next < clipped.length && clipped[next].start <= segStart) {
        if (clipped[next].end > segStart) active.push(clipped[next]);
        next++;
      }
      active.sort(byOuterFirst);
      // Keep the open elements that are a prefix of the covering set; close the rest.
      let keep = 0;
      while (keep < active.length && keep + 1 < stack.length && stack[keep + 1].item === active[keep]) keep++;
      while (stack.length > keep + 1) close();
      for (let k = keep; k < active.length; k++) {
        const item = active[k];
        const spanEl = document.createElement("span");
        const span = item.span;
        spanEl.className = "ann";
        spanEl.dataset.spanId = span.id;
        spanEl.dataset.label = span.label;
        spanEl.dataset.start = String(span.start);
        spanEl.dataset.end = String(span.end);
        if (item.start !== span.start || item.end !== span.end) spanEl.classList.add("frag");
        spanEl.title = span.label;
        stack[stack.length - 1].el.appendChild(spanEl);
        stack.push({ el: spanEl, item, maxChild: 0 });
      }
      const a16 = index.toUtf16(segStart);
      const node = document.createTextNode(text.slice(a16, index.toUtf16(segEnd)));
      node.__u16 = a16;
      stack[stack.length - 1].el.appendChild(node);
    }
    while (stack.length > 1) close();
    return el;
  }

  // The elements drawn for span `id` (several when it is split into fragments).
  elementsOf(id) {
    return this.container.querySelectorAll(`.ann[data-span-id="${CSS.escape(id)}"]`);
  }
}

// The UTF-16 offset of a DOM point (node, offset) inside the drawn text, or null.
function pointToUtf16(container, node, offset) {
  if (!container.contains(node)) return null;
  if (node.nodeType === Node.TEXT_NODE) {
    return node.__u16 === undefined ? null : node.__u16 + Math.min(offset, node.data.length);
  }
  // An element point: the text position just before child `offset` (or at the element's end).
  const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
  if (offset < node.childNodes.length) {
    walker.currentNode = node.childNodes[offset];
    const first = node.childNodes[offset].nodeType === Node.TEXT_NODE ? node.childNodes[offset] : walker.nextNode();
    if (first && first.__u16 !== undefined) return first.__u16;
  } else {
    let last = null;
    const inner = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
    while (inner.nextNode()) last = inner.currentNode;
    if (last && last.__u16 !== undefined) return last.__u16 + last.data.length;
  }
  const para = node.closest ? node.closest(".para") : null;
  if (para) return offset === 0 ? para.__start16 : para.__end16;
  if (node === container) {
    const paras = container.children;
    if (offset >= paras.length) return paras.length ? paras[paras.length - 1].__end16 : 0;
    return paras[offset].__start16;
  }
  return null;
}

// The UTF-16 range [start, end) a DOM Range covers in the drawn text, or null.
export function rangeToUtf16(container, range) {
  const a = pointToUtf16(container, range.startContainer, range.startOffset);
  const b = pointToUtf16(container, range.endContainer, range.endOffset);
  if (a === null || b === null) return null;
  return a <= b ? [a, b] : [b, a];
}

// A DOM Range over the UTF-16 range [start16, end16) of the drawn text.
export function utf16ToRange(container, start16, end16) {
  const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let startSet = false;
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.__u16 === undefined) continue;
    const nodeEnd = node.__u16 + node.data.length;
    if (!startSet && start16 < nodeEnd) {
      range.setStart(node, Math.max(0, start16 - node.__u16));
      startSet = true;
    }
    if (startSet && end16 <= nodeEnd) {
      range.setEnd(node, end16 - node.__u16);
      return range;
    }
  }
  return startSet ? range : null;
}
