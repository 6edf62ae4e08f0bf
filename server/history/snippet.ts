/**
 * Search snippets, built here from the text rather than by FTS5's snippet(): that one scores every
 * match against every other (a message with 50,000 matches of "the" took 30 s to snippet), and the
 * message tables are contentless (migration 4), so it could not read the text anyway. The work is
 * linear in the text, which search bounds to the indexed part of a message (INDEXED_CHARS).
 *
 * Matching follows the indexes: words as unicode61 splits them (runs of letters and digits), case
 * and diacritics folded, a phrase as consecutive words, the last one possibly a prefix; substrings
 * folded the same way. A snippet is a window of plain text around the part with the most
 * different terms (the first such part), every match in it wrapped in HIGHLIGHT_START and
 * HIGHLIGHT_END; control characters (and the two sentinels) in the text become spaces.
 */

export const HIGHLIGHT_START = "\uE000";
export const HIGHLIGHT_END = "\uE001";

/** What to mark: a phrase of folded words (the last one a prefix when `prefix`), or a folded substring. */
export type Needle = { kind: "phrase"; tokens: string[]; prefix: boolean } | { kind: "substring"; text: string };

export interface SnippetOptions {
  /** Characters shown before the first match. */
  before: number;
  /** Characters in the window, at most (more only when one match is longer). */
  length: number;
  /** The text is the start of a longer one: end with "…" even when the window reaches its end. */
  truncated?: boolean;
}

/** A message hit: about a line and a half around the match. */
export const MESSAGE_SNIPPET: SnippetOptions = { before: 60, length: 180 };
/** A title hit: the whole title (titles are at most 500 characters). */
export const TITLE_SNIPPET: SnippetOptions = { before: 1000, length: 1000 };

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\uE000\uE001]/gu;
const MARKS = /\p{M}/gu;
/** Word characters as unicode61 sees them (after folding, no marks are left). */
const WORD_CHAR = "[\\p{L}\\p{N}\\p{Co}]";
/** Anchors tried when picking the window: enough for any real snippet, bounded for any text. */
const MAX_ANCHORS = 64;
/** Matches of one needle looked at per block: a window shows a few; this bounds the work on a text full of them. */
const MAX_MATCHES = 1024;
/** The text is read in blocks, from this many characters doubling to MAX_BLOCK_CHARS, until every term has been seen. */
const FIRST_BLOCK_CHARS = 1024;
const MAX_BLOCK_CHARS = 16_384;
// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0000-\u007f]*$/u;

const foldCache = new Map<string, string>();

/** One character folded as the indexes fold it: lower case, diacritics removed. */
function foldChar(ch: string): string {
  if (ch.length === 1 && ch.charCodeAt(0) < 0x80) return ch.toLowerCase();
  let f = foldCache.get(ch);
  if (f === undefined) {
    f = ch.normalize("NFD").replace(MARKS, "").toLowerCase();
    if (foldCache.size < 65_536) foldCache.set(ch, f);
  }
  return f;
}

/** `s` folded as the indexes fold it. */
export function fold(s: string): string {
  let out = "";
  for (const ch of s) out += foldChar(ch);
  return out;
}

/** The folded text, and for each of its positions (and its end) the position in `s` it came from. */
function foldWithOrigins(s: string): { text: string; origin: (i: number) => number } {
  // Most text (logs, code, English) is ASCII: folding is lower-casing, positions do not move.
  if (ASCII.test(s)) return { text: s.toLowerCase(), origin: (i) => i };
  const parts: string[] = [];
  const origin: number[] = [];
  let i = 0;
  for (const ch of s) {
    const f = foldChar(ch);
    parts.push(f);
    for (let k = 0; k < f.length; k++) origin.push(i);
    i += ch.length;
  }
  origin.push(s.length);
  return { text: parts.join(""), origin: (i) => origin[i]! };
}

interface Span {
  start: number;
  end: number;
  needle: number;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&");
const phraseCache = new Map<string, RegExp>();

/** A phrase as a regular expression over folded text: whole words, separated by non-word characters. */
function phraseRegExp(tokens: readonly string[], prefix: boolean): RegExp {
  const key = `${prefix ? "*" : ""}${tokens.join(" ")}`;
  let re = phraseCache.get(key);
  if (!re) {
    const body = tokens.map(escape).join(`(?:(?!${WORD_CHAR}).)+`);
    const tail = prefix ? `${WORD_CHAR}*` : `(?!${WORD_CHAR})`;
    re = new RegExp(`(?<!${WORD_CHAR})${body}${tail}`, "gsu");
    if (phraseCache.size > 256) phraseCache.clear();
    phraseCache.set(key, re);
  }
  return re;
}

/** Every match of every needle in the folded text, by start. */
function findSpans(folded: string, needles: readonly Needle[]): Span[] {
  const spans: Span[] = [];
  needles.forEach((needle, index) => {
    let found = 0;
    if (needle.kind === "substring") {
      if (needle.text.length === 0) return;
      for (let at = folded.indexOf(needle.text); at >= 0 && found < MAX_MATCHES; found++) {
        spans.push({ start: at, end: at + needle.text.length, needle: index });
        at = folded.indexOf(needle.text, at + needle.text.length);
      }
      return;
    }
    if (needle.tokens.length === 0 || needle.tokens.some((t) => t.length === 0)) return;
    const re = phraseRegExp(needle.tokens, needle.prefix);
    re.lastIndex = 0;
    for (let m = re.exec(folded); m && found < MAX_MATCHES; m = re.exec(folded), found++)
      spans.push({ start: m.index, end: m.index + m[0].length, needle: index });
  });
  return spans.sort((a, b) => a.start - b.start || b.end - a.end);
}

const isLowSurrogate = (s: string, i: number) => i > 0 && i < s.length && (s.charCodeAt(i) & 0xfc00) === 0xdc00;

/**
 * Matches in `text`, read block by block until every needle has been seen (the rest of a long
 * text is then not read). Blocks end at a line break or space, so words are not cut.
 */
function matchesIn(text: string, needles: readonly Needle[]): Span[] {
  const spans: Span[] = [];
  const seen = new Set<number>();
  for (let from = 0, size = FIRST_BLOCK_CHARS; from < text.length && seen.size < needles.length;) {
    let to = Math.min(text.length, from + size);
    size = Math.min(size * 2, MAX_BLOCK_CHARS);
    if (to < text.length) {
      const cut = text.slice(to - 256, to).search(/\s\S*$/u);
      if (cut >= 0) to = to - 256 + cut + 1;
      if (isLowSurrogate(text, to)) to++;
    }
    const block = text.slice(from, to);
    const { text: folded, origin } = foldWithOrigins(block);
    for (const s of findSpans(folded, needles)) {
      spans.push({ start: from + origin(s.start), end: from + origin(s.end), needle: s.needle });
      seen.add(s.needle);
    }
    from = to;
  }
  return spans;
}

/** A plain-text window of `text` around its best match, with every match in it marked (see the module comment). */
export function snippetOf(text: string, needles: readonly Needle[], options: SnippetOptions): string {
  const spans = matchesIn(text, needles);
  // The window starting at the match with the most different needles after it, the first such.
  let anchor = spans[0];
  let best = 0;
  for (const candidate of spans.slice(0, MAX_ANCHORS)) {
    const seen = new Set<number>();
    for (const s of spans) {
      if (s.start < candidate.start) continue;
      if (s.start >= candidate.start + options.length) break;
      seen.add(s.needle);
    }
    if (seen.size > best) [anchor, best] = [candidate, seen.size];
  }
  let start = Math.max(0, (anchor?.start ?? 0) - options.before);
  // Start and end at a space near the edges, so words are not cut, and never inside a surrogate pair.
  if (start > 0) {
    const space = text.slice(start, start + 15).search(/\s/u);
    if (space >= 0 && start + space < (anchor?.start ?? Infinity)) start += space + 1;
  }
  if (isLowSurrogate(text, start)) start++;
  let end = Math.min(text.length, Math.max(start + options.length, anchor?.end ?? 0));
  if (end < text.length) {
    const space = text.slice(Math.max(start, end - 15), end).search(/\s\S*$/u);
    if (space >= 0 && Math.max(start, end - 15) + space > (anchor?.end ?? 0)) end = Math.max(start, end - 15) + space;
    if (isLowSurrogate(text, end)) end--;
  }
  const marks: { start: number; end: number }[] = [];
  for (const s of spans) {
    const a = Math.max(s.start, start);
    const b = Math.min(s.end, end);
    if (a >= b) continue;
    const prev = marks.at(-1);
    if (prev && a < prev.end) prev.end = Math.max(prev.end, b);
    else marks.push({ start: a, end: b });
  }
  let out = start > 0 ? "…" : "";
  let at = start;
  for (const m of marks) {
    out += text.slice(at, m.start).replace(CONTROL, " ");
    out += HIGHLIGHT_START + text.slice(m.start, m.end).replace(CONTROL, " ") + HIGHLIGHT_END;
    at = m.end;
  }
  out += text.slice(at, end).replace(CONTROL, " ");
  return end < text.length || options.truncated ? `${out}…` : out;
}
