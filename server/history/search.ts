/**
 * Search over message content and conversation titles. Raw user text never reaches MATCH: it is
 * parsed here into quoted FTS5 phrases (ENGINE-NOTES §7.4), so quotes, operators, `*`, `-`,
 * parentheses, emoji and CJK are all plain text and no input raises an SQLite error.
 *
 * How a query is read:
 * - Words (Latin, Cyrillic, ...) go to the word index, diacritics folded. `"a quoted phrase"` stays
 *   a phrase; `e-mail` or `sqlite3.c` become the phrases `e mail`, `sqlite3 c`. Terms are ANDed.
 * - The last word is a prefix (search-as-you-type) unless the input ends with a space, the word is
 *   a closed quoted phrase, or it is a single character (a one-letter prefix matches most of the index).
 * - A chunk containing CJK/Thai/... (scripts written without spaces), or made only of symbols
 *   (emoji, `***`), is a substring: the trigram index when it has 3+ characters, else `LIKE`.
 * - When a word query finds nothing at all, it is retried as substrings (3+ characters), so
 *   `ernet` finds "kubernetes". The page says which mode answered.
 *
 * Ranking: bm25 among the CANDIDATE_CAP most recent matches. Scoring every match of a common word
 * at a million messages costs far more than the 10 ms budget (cost grows with hits, §7.6), and for
 * chat history recent matches are the relevant ones anyway. Title hits come first, then messages.
 *
 * Snippets are plain text (NOT HTML-escaped) with each match wrapped in the private-use sentinels
 * HIGHLIGHT_START (U+E000) and HIGHLIGHT_END (U+E001); the UI splits on them and renders the marks
 * itself, so no HTML is ever injected.
 */
import { BadRequestError } from "../errors.js";
import type { Db } from "./db.js";
import type { HistoryFilters, Role } from "./types.js";

export const HIGHLIGHT_START = "\uE000";
export const HIGHLIGHT_END = "\uE001";
/** Matches ranked per query; older matches beyond this many are not returned. */
export const CANDIDATE_CAP = 2000;
const TITLE_CAP = 50;
const MAX_TERMS = 16;
const MAX_INPUT_CHARS = 512;
const SNIPPET_TOKENS = 16;

export interface SearchQuery extends HistoryFilters {
  q: string;
  /** Only this conversation. */
  conversationId?: string;
  /** Page size, 1..100. Defaults to 20. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface SearchHit {
  /** `title` hits match the conversation title (messageId and role are null); `message` hits a message. */
  kind: "title" | "message";
  conversationId: string;
  conversationTitle: string;
  messageId: number | null;
  role: Role | null;
  /** The message's time, or the conversation's last update for a title hit. */
  createdAt: number;
  /** Text around the match with HIGHLIGHT_START/HIGHLIGHT_END around each matched part. */
  snippet: string;
  /** bm25 (lower is better) for indexed hits; null for substring scans ranked by recency. */
  score: number | null;
}

export interface SearchPage {
  hits: SearchHit[];
  nextCursor: string | null;
  /** `words`: the word index answered; `substring`: the trigram index or a scan did; `none`: nothing to search for. */
  mode: "words" | "substring" | "none";
}

/** One parsed piece of the query. */
export interface QueryTerm {
  kind: "word" | "substring";
  /** For words: tokens separated by spaces, matched as a phrase. For substrings: the literal text. */
  text: string;
  prefix: boolean;
  /** The chunk as typed (after normalization), used when words fall back to substrings. */
  raw: string;
}

const NO_SPACE_SCRIPTS =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}\p{Script=Tibetan}]/u;
// unicode61's token characters: letters, numbers, private use; marks kept so decomposed accents stay in the word.
const TOKEN_RUN = /[\p{L}\p{N}\p{M}\p{Co}]+/gu;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\uE000\uE001]/gu;

const codepoints = (s: string) => [...s].length;

/** Parses raw user input into terms. Never throws; an input with nothing searchable gives []. */
export function parseSearchQuery(input: string): QueryTerm[] {
  const text = [...input.normalize("NFKC").replace(CONTROL, " ")].slice(0, MAX_INPUT_CHARS).join("");
  const pieces: { chunk: string; quoted: boolean; closed: boolean }[] = [];
  const parts = text.split('"');
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      // Inside quotes. The last part is an unclosed quote when the count of quotes is odd.
      pieces.push({ chunk: part.trim(), quoted: true, closed: i < parts.length - 1 });
    } else {
      for (const chunk of part.split(/\s+/u)) pieces.push({ chunk, quoted: false, closed: false });
    }
  });
  const terms: QueryTerm[] = [];
  for (const { chunk, quoted, closed } of pieces) {
    if (chunk.length === 0) continue;
    const raw = chunk.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "") || chunk;
    if (NO_SPACE_SCRIPTS.test(chunk)) {
      terms.push({ kind: "substring", text: quoted ? chunk : raw, prefix: false, raw });
      continue;
    }
    const runs = chunk.match(TOKEN_RUN);
    if (!runs) {
      // Only symbols (emoji, `***`, `->`): look for them literally.
      if (chunk.trim().length > 0) terms.push({ kind: "substring", text: chunk, prefix: false, raw: chunk });
      continue;
    }
    // Closed quoted phrases never take a prefix; record that with prefix=false up front and `raw` marks it.
    terms.push({ kind: "word", text: runs.join(" "), prefix: quoted && closed ? false : true, raw });
  }
  const limited = terms.slice(0, MAX_TERMS);
  const endsWithSpace = /\s$/u.test(text);
  limited.forEach((t, i) => {
    const lastToken = t.text.split(" ").at(-1) ?? "";
    t.prefix = t.kind === "word" && t.prefix && i === limited.length - 1 && !endsWithSpace && codepoints(lastToken) >= 2;
  });
  return limited;
}

const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
const likePattern = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The pieces of SQL a parsed query turns into. */
export interface SearchPlan {
  /** FTS5 expression for the word index, or null. */
  words: string | null;
  /** FTS5 expression for the trigram index (substrings of 3+ characters), or null. */
  trigram: string | null;
  /** LIKE patterns (escaped with `\`) for shorter substrings. */
  like: string[];
}

export function planSearch(terms: readonly QueryTerm[]): SearchPlan {
  const words = terms.filter((t) => t.kind === "word").map((t) => quote(t.text) + (t.prefix ? "*" : ""));
  const subs = terms.filter((t) => t.kind === "substring");
  const trigram = subs.filter((t) => codepoints(t.text) >= 3).map((t) => quote(t.text));
  const like = subs.filter((t) => codepoints(t.text) < 3).map((t) => likePattern(t.text));
  return { words: words.length > 0 ? words.join(" ") : null, trigram: trigram.length > 0 ? trigram.join(" ") : null, like };
}

/** The same terms looked up as substrings, for words that matched nothing (only 3+ characters: a scan is too slow). */
export function substringFallback(terms: readonly QueryTerm[]): SearchPlan | null {
  const subs = terms.map((t) => (t.kind === "word" ? t.raw : t.text));
  if (subs.length === 0 || subs.some((s) => codepoints(s) < 3)) return null;
  return { words: null, trigram: subs.map(quote).join(" "), like: [] };
}

interface Cursor {
  o: number;
  m: "words" | "substring";
}
const isCursor = (v: unknown): v is Cursor =>
  typeof v === "object" &&
  v !== null &&
  Number.isSafeInteger((v as Cursor).o) &&
  (v as Cursor).o >= 0 &&
  ((v as Cursor).m === "words" || (v as Cursor).m === "substring");

function decode(cursor: string): Cursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    value = undefined;
  }
  if (!isCursor(value)) throw new BadRequestError("Invalid cursor: pass the nextCursor of a previous page.", { param: "cursor" });
  return value;
}
const encode = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString("base64url");

interface MessageHitRow {
  id: number;
  score: number | null;
}

/** A snippet built in JS for LIKE scans: a window around the first match, every match marked. */
export function likeSnippet(content: string, needles: readonly string[], radius = 60): string {
  const lower = content.toLowerCase();
  const found = needles.map((n) => lower.indexOf(n.toLowerCase())).filter((i) => i >= 0);
  const first = found.length > 0 ? Math.min(...found) : 0;
  const start = Math.max(0, first - radius);
  const end = Math.min(content.length, first + radius * 2);
  let window = content.slice(start, end).replace(CONTROL, " ");
  for (const n of needles) {
    if (n.length === 0) continue;
    const re = new RegExp(n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "giu");
    window = window.replace(re, (m) => `${HIGHLIGHT_START}${m}${HIGHLIGHT_END}`);
  }
  return `${start > 0 ? "…" : ""}${window}${end < content.length ? "…" : ""}`;
}

export class HistorySearch {
  constructor(private readonly db: Db) {}

  search(query: SearchQuery): SearchPage {
    const limit = Math.min(Math.max(query.limit ?? 20, 1), 100);
    const cursor = query.cursor === undefined ? undefined : decode(query.cursor);
    const terms = parseSearchQuery(query.q);
    if (terms.length === 0) return { hits: [], nextCursor: null, mode: "none" };
    const offset = cursor?.o ?? 0;
    let mode: "words" | "substring" = terms.some((t) => t.kind === "word") ? "words" : "substring";
    let plan = planSearch(terms);
    if (cursor?.m === "substring" && mode === "words") {
      plan = substringFallback(terms) ?? plan;
      mode = "substring";
    }
    let page = this.runPlan(plan, query, offset, limit);
    if (page.length === 0 && offset === 0 && mode === "words") {
      const fallback = substringFallback(terms);
      if (fallback) {
        plan = fallback;
        mode = "substring";
        page = this.runPlan(plan, query, offset, limit);
      }
    }
    const more = page.length > limit;
    return { hits: page.slice(0, limit), nextCursor: more ? encode({ o: offset + limit, m: mode }) : null, mode };
  }

  /** Title hits then message hits, from `offset`, up to limit + 1 (to know whether there is more). */
  private runPlan(plan: SearchPlan, query: SearchQuery, offset: number, limit: number): SearchHit[] {
    const titles = this.titleHits(plan, query);
    const out = titles.slice(offset, offset + limit + 1);
    const need = limit + 1 - out.length;
    if (need > 0) out.push(...this.messageHits(plan, query, Math.max(0, offset - titles.length), need));
    return out;
  }

  private filterSql(query: SearchQuery, params: Record<string, unknown>, dateColumn: string): string[] {
    const where: string[] = [];
    if (query.source !== undefined) {
      where.push("c.source = @source");
      params.source = query.source;
    }
    if (query.model !== undefined) {
      where.push("c.model = @model");
      params.model = query.model;
    }
    if (query.pinned !== undefined) {
      where.push("c.pinned = @pinned");
      params.pinned = query.pinned ? 1 : 0;
    }
    if (query.conversationId !== undefined) {
      where.push("c.id = @conversationId");
      params.conversationId = query.conversationId;
    }
    if (query.from !== undefined) {
      where.push(`${dateColumn} >= @from`);
      params.from = query.from;
    }
    if (query.to !== undefined) {
      where.push(`${dateColumn} < @to`);
      params.to = query.to;
    }
    return where;
  }

  private titleHits(plan: SearchPlan, query: SearchQuery): SearchHit[] {
    const params: Record<string, unknown> = { open: HIGHLIGHT_START, close: HIGHLIGHT_END, cap: TITLE_CAP };
    const where = this.filterSql(query, params, "c.updated_at");
    // Titles are short and few: substrings are plain LIKE scans here, whatever their length.
    const needles = [...(plan.trigram ? trigramNeedles(plan.trigram) : []), ...plan.like.map(unlike)];
    needles.forEach((n, i) => {
      where.push(`c.title LIKE @t${i} ESCAPE '\\'`);
      params[`t${i}`] = likePattern(n);
    });
    type Row = { id: string; title: string; updated_at: number; hl: string; score: number | null };
    let rows: Row[];
    if (plan.words) {
      params.words = plan.words;
      rows = this.db
        .prepare<[Record<string, unknown>], Row>(
          `SELECT c.id, c.title, c.updated_at, highlight(conversations_fts, 0, @open, @close) AS hl, conversations_fts.rank AS score
           FROM conversations_fts JOIN conversations c ON c.rid = conversations_fts.rowid
           WHERE conversations_fts MATCH @words ${where.map((w) => `AND ${w}`).join(" ")}
           ORDER BY conversations_fts.rank LIMIT @cap`,
        )
        .all(params);
    } else {
      rows = this.db
        .prepare<[Record<string, unknown>], Row>(
          `SELECT c.id, c.title, c.updated_at, c.title AS hl, NULL AS score FROM conversations c
           WHERE ${where.join(" AND ")} ORDER BY c.updated_at DESC LIMIT @cap`,
        )
        .all(params)
        .map((r) => ({ ...r, hl: likeSnippet(r.title, needles, 1000) }));
    }
    return rows.map((r) => ({
      kind: "title",
      conversationId: r.id,
      conversationTitle: r.title,
      messageId: null,
      role: null,
      createdAt: r.updated_at,
      snippet: r.hl,
      score: r.score,
    }));
  }

  private messageHits(plan: SearchPlan, query: SearchQuery, offset: number, count: number): SearchHit[] {
    const params: Record<string, unknown> = { limit: count, offset };
    const filters = this.filterSql(query, params, "m.created_at");
    const needsJoin = filters.length > 0 || plan.like.length > 0;
    plan.like.forEach((p, i) => {
      filters.push(`m.content LIKE @l${i} ESCAPE '\\'`);
      params[`l${i}`] = p;
    });
    const driver = plan.words ? "messages_fts" : plan.trigram ? "messages_trigram" : null;
    let rows: MessageHitRow[];
    if (driver) {
      params.match = plan.words ?? plan.trigram;
      const conditions = [`${driver} MATCH @match`, ...filters];
      if (plan.words && plan.trigram) {
        conditions.push("messages_fts.rowid IN (SELECT rowid FROM messages_trigram WHERE messages_trigram MATCH @trigram)");
        params.trigram = plan.trigram;
      }
      const from = needsJoin
        ? `${driver} JOIN messages m ON m.id = ${driver}.rowid JOIN conversations c ON c.rid = m.conversation_rid`
        : driver;
      // One backwards pass over the newest CANDIDATE_CAP matches, scoring each; the page is then cut
      // from them sorted by score (see the header for why ranking stops there).
      const candidates = this.db
        .prepare<[Record<string, unknown>], MessageHitRow>(
          `SELECT ${driver}.rowid AS id, ${driver}.rank AS score FROM ${from}
           WHERE ${conditions.join(" AND ")} ORDER BY ${driver}.rowid DESC LIMIT @cap`,
        )
        .all({ ...params, cap: CANDIDATE_CAP });
      candidates.sort((a, b) => (a.score ?? 0) - (b.score ?? 0) || b.id - a.id);
      rows = candidates.slice(offset, offset + count);
      return this.describe(rows, driver, params.match as string, []);
    }
    rows = this.db
      .prepare<[Record<string, unknown>], MessageHitRow>(
        `SELECT m.id, NULL AS score FROM messages m JOIN conversations c ON c.rid = m.conversation_rid
         WHERE ${filters.join(" AND ")} ORDER BY m.id DESC LIMIT @limit OFFSET @offset`,
      )
      .all(params);
    return this.describe(rows, null, null, plan.like.map(unlike));
  }

  /** Snippets and titles for the few rows of a page (snippet() is costly, so never for every candidate). */
  private describe(rows: readonly MessageHitRow[], driver: string | null, match: string | null, needles: string[]): SearchHit[] {
    if (rows.length === 0) return [];
    const info = this.db.prepare<[number], { role: Role; created_at: number; content: string; cid: string; title: string }>(
      `SELECT m.role, m.created_at, m.content, c.id AS cid, c.title FROM messages m
       JOIN conversations c ON c.rid = m.conversation_rid WHERE m.id = ?`,
    );
    const snippet = driver
      ? this.db
          .prepare<[string, string, string, number], string>(
            `SELECT snippet(${driver}, 0, ?, ?, '…', ${SNIPPET_TOKENS}) FROM ${driver} WHERE ${driver} MATCH ? AND rowid = ?`,
          )
          .pluck()
      : null;
    const hits: SearchHit[] = [];
    for (const r of rows) {
      const m = info.get(r.id);
      if (!m) continue;
      hits.push({
        kind: "message",
        conversationId: m.cid,
        conversationTitle: m.title,
        messageId: r.id,
        role: m.role,
        createdAt: m.created_at,
        snippet: snippet ? (snippet.get(HIGHLIGHT_START, HIGHLIGHT_END, match!, r.id) ?? "") : likeSnippet(m.content, needles),
        score: r.score,
      });
    }
    return hits;
  }
}

/** The literal texts of a trigram expression built by planSearch. */
function trigramNeedles(expr: string): string[] {
  return [...expr.matchAll(/"((?:[^"]|"")*)"/gu)].map((m) => (m[1] ?? "").replaceAll('""', '"'));
}

function unlike(pattern: string): string {
  return pattern.slice(1, -1).replace(/\\([\\%_])/g, "$1");
}
