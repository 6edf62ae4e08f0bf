/**
 * Secrets out of upstream text before it reaches a client or a log. An upstream (or whatever sits
 * at its address) may echo a key back in another form than it was sent: upper-cased, split by
 * spaces or dashes, with zero-width characters inside, hex- or base64-encoded, or in pieces. So the
 * text and each secret are compared as lower-case letters and digits only, and any run of
 * FRAGMENT such characters that also occurs in a secret (or its hex or base64 form) is redacted
 * with whatever separators lie between them.
 */

/** Shortest piece of a secret that is redacted on its own; shorter secrets are redacted whole. */
const FRAGMENT = 8;
/** Secrets shorter than this are not worth hiding (and would redact ordinary words). */
const MIN_SECRET = 4;
const REDACTED = "[redacted]";

/** Lower-case ASCII letters and digits of `text` (after NFKC, so full-width forms count too). */
function normalized(text: string): string {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "");
}

/** The forms a secret may come back in, normalized: itself, hex, and base64 at each byte offset. */
function formsOf(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  return [secret, bytes.toString("hex"), ...[0, 1, 2].map((offset) => bytes.subarray(offset).toString("base64"))].map(
    normalized,
  );
}

export interface ScrubOptions {
  /** Longest text returned, in characters; longer text is cut and ends in "...". */
  maxLength: number;
}

/**
 * A function that redacts `secrets` from text, removes control and invisible formatting
 * characters, and bounds its length.
 */
export function secretScrubber(secrets: readonly string[], options: ScrubOptions): (text: string) => string {
  const grams = new Set<string>();
  const whole = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET) continue;
    for (const form of formsOf(secret)) {
      if (form.length === 0) continue;
      if (form.length < FRAGMENT) whole.add(form);
      else for (let i = 0; i + FRAGMENT <= form.length; i++) grams.add(form.slice(i, i + FRAGMENT));
    }
  }
  const exact = secrets.filter((s) => s.length >= MIN_SECRET).map((s) => s.toLowerCase());

  return (text: string): string => {
    let out = text;
    if (exact.length > 0 || grams.size > 0 || whole.size > 0) out = redact(out, exact, grams, whole);
    out = out
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ")
      .replace(/\p{Cf}+/gu, "")
      .trim();
    return out.length > options.maxLength ? `${out.slice(0, options.maxLength)}...` : out;
  };
}

function redact(text: string, exact: string[], grams: Set<string>, whole: Set<string>): string {
  // The text's letters and digits, each with the span of the original text it came from.
  const chars: string[] = [];
  const from: number[] = [];
  const to: number[] = [];
  let at = 0;
  for (const ch of text) {
    for (const c of normalized(ch)) {
      chars.push(c);
      from.push(at);
      to.push(at + ch.length);
    }
    at += ch.length;
  }
  const flat = chars.join("");
  const spans: [number, number][] = [];
  const mark = (start: number, length: number) => spans.push([from[start]!, to[start + length - 1]!]);
  for (let i = 0; i + FRAGMENT <= flat.length; i++) if (grams.has(flat.slice(i, i + FRAGMENT))) mark(i, FRAGMENT);
  for (const w of whole) for (let i = flat.indexOf(w); i >= 0; i = flat.indexOf(w, i + 1)) mark(i, w.length);
  // Secrets made mostly of punctuation have few letters to compare: those are matched as written.
  const lower = text.toLowerCase();
  const haystack = lower.length === text.length ? lower : text;
  for (const s of exact)
    for (let i = haystack.indexOf(s); i >= 0; i = haystack.indexOf(s, i + 1)) spans.push([i, i + s.length]);
  if (spans.length === 0) return text;
  spans.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of spans) {
    const last = merged.at(-1);
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  let out = "";
  let pos = 0;
  for (const [s, e] of merged) {
    out += text.slice(pos, s) + REDACTED;
    pos = e;
  }
  return out + text.slice(pos);
}
