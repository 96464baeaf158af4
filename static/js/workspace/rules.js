// The label schema's rules, read from the payload's schema: overlap, relation types, boundaries.
//
// The workspace checks a change here before sending it, to say at once why it cannot be made;
// the server checks again and decides (annotator/services: annotations.overlap_error,
// schema.relation_error, text.Graphemes). tests/test_rules_parity.py runs one table of cases
// through both, so the two cannot drift. Pure functions of the schema and the text: no DOM,
// no page state, so a test can import this module on any page.

import { clusterSplit } from "./offsets.js";
import { shorten } from "../lib/dom.js";

export class Rules {
  constructor(schema) {
    this.schema = schema;
    this.overlap = schema.overlap || "nest";
    this.relations = schema.relations || [];
    this.labels = new Map(schema.labels.map((l) => [l.name, l]));
  }

  // Why a `label` span over [start, end) breaks the overlap policy against `spans` (objects
  // with id, start, end, label), or null. `ignore` is the id of the span being edited;
  // `textOf(span)` gives a span's text for the message.
  overlapReason(spans, start, end, label, { ignore = null, textOf = () => "" } = {}) {
    const policy = this.overlap;
    for (const other of spans) {
      if (other.id === ignore || other.end <= start || end <= other.start) continue;
      const same = other.start === start && other.end === end;
      if (policy === "any") {
        if (same && other.label === label) return `The same ${label} span already exists here.`;
        continue;
      }
      if (policy === "none") return `Overlaps the ${other.label} span “${shorten(textOf(other), 40)}”; this project allows no overlaps.`;
      if (same) return `A ${other.label} span already covers exactly this text.`;
      const nested = (other.start <= start && end <= other.end) || (start <= other.start && other.end <= end);
      if (!nested) return `Crosses the ${other.label} span “${shorten(textOf(other), 40)}”: spans may nest but not cross.`;
    }
    return null;
  }

  // Whether relation type `name` may go from a `headLabel` span to a `tailLabel` span.
  relationAllowed(name, headLabel, tailLabel) {
    const relation = this.relations.find((r) => r.name === name);
    return Boolean(relation && relation.head.includes(headLabel) && relation.tail.includes(tailLabel)
      && (!relation.same_label || headLabel === tailLabel));
  }

  // The relation types (schema entries, in schema order) from `headLabel` to `tailLabel`.
  relationOptions(headLabel, tailLabel) {
    return this.relations.filter((r) => this.relationAllowed(r.name, headLabel, tailLabel));
  }

  // The attribute specs of `label` (none for a label the schema lacks).
  attributesOf(label) {
    const spec = this.labels.get(label);
    return spec ? spec.attributes : [];
  }
}

// [range.start, range.end) widened to whole grapheme clusters of the text of `index` (an
// OffsetIndex): a flag, an emoji sequence, a letter with its marks is selected whole or not at
// all, since the server refuses a span that splits one.
export function wholeClusters(index, range) {
  if (!range) return null;
  const first = clusterSplit(index, range.start);
  const last = clusterSplit(index, range.end);
  return { ...range, start: first ? first.start : range.start, end: last ? last.end : range.end };
}
