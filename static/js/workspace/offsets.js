// Code points <-> UTF-16 code units for one text (docs/design.md section 4).
//
// The server counts offsets in Unicode code points (Python str indices); the DOM counts UTF-16
// code units. They differ only after astral characters (emoji, U+10000 and up), which take two
// units. The index below records where those characters are, so each conversion is a binary
// search, and texts without astral characters convert with no work at all.

function isHigh(unit) {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLow(unit) {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

// Number of entries of the sorted array `values` that are < `limit`.
function countBelow(values, limit) {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] < limit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class OffsetIndex {
  constructor(text) {
    const pairs16 = [];
    for (let i = 0; i < text.length - 1; i++) {
      if (isHigh(text.charCodeAt(i)) && isLow(text.charCodeAt(i + 1))) {
        pairs16.push(i);
        i++;
      }
    }
    this.text = text;
    // UTF-16 index of each astral character, and its code-point index.
    this.pairs16 = Int32Array.from(pairs16);
    this.pairsCp = Int32Array.from(pairs16, (u, k) => u - k);
    this.length16 = text.length;
    this.lengthCp = text.length - pairs16.length;
    this.segments = null; // the text's grapheme clusters (Intl.Segmenter), made on first use
  }

  // UTF-16 offset of code-point offset `cp` (0 <= cp <= lengthCp).
  toUtf16(cp) {
    if (!Number.isInteger(cp) || cp < 0 || cp > this.lengthCp) throw new RangeError(`code point offset ${cp} is outside the text`);
    return cp + countBelow(this.pairsCp, cp);
  }

  // Code-point offset of UTF-16 offset `u16`. An offset between the two halves of a pair
  // rounds down (to the character's start) unless `roundUp` is set.
  toCodePoint(u16, roundUp = false) {
    if (!Number.isInteger(u16) || u16 < 0 || u16 > this.length16) throw new RangeError(`UTF-16 offset ${u16} is outside the text`);
    const before = countBelow(this.pairs16, u16); // pairs starting before u16
    const inside = before > 0 && this.pairs16[before - 1] === u16 - 1;
    if (inside) return u16 - before + (roundUp ? 1 : 0);
    return u16 - before;
  }

  // The text from code point `start` to `end` (end-exclusive), like Python's text[start:end].
  slice(start, end) {
    return this.text.slice(this.toUtf16(start), this.toUtf16(end));
  }
}

// Length of `s` in code points (Python's len()).
export function codePointLength(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    n++;
    if (isHigh(s.charCodeAt(i)) && i + 1 < s.length && isLow(s.charCodeAt(i + 1))) i++;
  }
  return n;
}

// Grapheme clusters as the browser segments them (UAX #29): a flag, an emoji with its skin tone
// or ZWJ partners, a letter with its combining marks is one character to a reader, and no span
// may start or end inside one. The server decides, with the `regex` module's \X, and refuses
// (422, with its reason) a span it finds splitting one; on flags, emoji sequences, Hangul and
// combining marks the two agree.
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

// The code-point [start, end) of the grapheme cluster that offset `cp` falls inside, or null
// when `cp` lies between two clusters (or at either end of the text).
export function clusterSplit(index, cp) {
  if (cp <= 0 || cp >= index.lengthCp) return null;
  // Segmented once per text; containing() then finds the one cluster around a position.
  index.segments ??= graphemes.segment(index.text);
  const u = index.toUtf16(cp);
  const { index: at, segment } = index.segments.containing(u);
  if (at === u) return null;
  return { start: index.toCodePoint(at), end: index.toCodePoint(at + segment.length) };
}

// Whether a span may start or end at code-point offset `cp`: it splits no grapheme cluster.
export function isBoundary(index, cp) {
  return cp >= 0 && cp <= index.lengthCp && clusterSplit(index, cp) === null;
}
