/**
 * Search over message content and conversation titles. Raw user text never reaches MATCH: it is
 * parsed here into quoted FTS5 phrases (docs/ENGINE-NOTES.md §7.4), so quotes, operators, `*`, `-`,
 * parentheses, emoji and CJK are all plain text and no input raises an SQLite error.
 *
 * How a query is read:
 * - Words (Latin, Cyrillic, ...) go to the word index, diacritics folded. `"a quoted phrase"` stays
 *   a phrase; `e-mail` or `sqlite3.c` become the phrases `e mail`, `sqlite3 c`. Terms are ANDed.
 * - The last word is a prefix (search-as-you-type) unless the input ends with a space, the word is
 *   a closed quoted phrase, or it is a single character (a one-letter prefix matches most of the index).
 * - A chunk containing CJK/Thai/... (scripts written without spaces), or made only of symbols
 *   (emoji, `***`), is a substring: the trigram index when it has 3+ characters, else `LIKE`.
 * - When a one-word query finds nothing at all, it is retried as a substring (3+ characters), so
 *   `ernet` finds "kubernetes". The page says which mode answered.
 *
 * Ranking: bm25 among the CANDIDATE_CAP newest matches, weighing only the phrases that are not
 * common (see rankedMatches); a query made only of common words lists its newest matches first.
 * Scoring every match of a common word at a million messages costs far more than the 10 ms budget
 * (cost grows with hits, §7.6), and for chat history recent matches are the relevant ones anyway.
 * Title hits come first, then messages.
 *
 * Where: by default (`in: "content"`) titles and message text, as always; a thinking model's
 * thoughts (migration 5) are searched only when asked: `in: "reasoning"` searches them alone,
 * `in: "all"` lists title, then text, then thought hits. Thoughts have their own tables with the
 * same tokenizers, so the same query reads the same way in each, and ranking one never looks at
 * the other. Each hit says which it matched (`field`).
 *
 * Only the first INDEXED_CHARS characters of a message are indexed (migration 4), so its words
 * past that are not found; that bounds the work one message can cost whatever its size.
 *
 * Snippets (history/snippet.ts) are plain text (NOT HTML-escaped) with each match wrapped in the
 * private-use sentinels HIGHLIGHT_START (U+E000) and HIGHLIGHT_END (U+E001); the UI splits on them
 * and renders the marks itself, so no HTML is ever injected.
 */
import { BadRequestError } from "../errors.js";
import type { Db } from "./db.js";
import { filterConditions } from "./filters.js";
import { INDEXED_CHARS } from "./migrations/004-bounded-search.js";
import { MESSAGE_SNIPPET, TITLE_SNIPPET, fold, snippetOf, type Needle } from "./snippet.js";
import type { HistoryFilters, Role, SearchHit, SearchPage } from "./types.js";

export type { SearchHit, SearchPage } from "./types.js";
export { HIGHLIGHT_END, HIGHLIGHT_START } from "./snippet.js";
export { INDEXED_CHARS } from "./migrations/004-bounded-search.js";
/** Matches ranked per query; older matches beyond this many are not returned. */
export const CANDIDATE_CAP = 1000;
const TITLE_CAP = 50;
const MAX_TERMS = 16;
const MAX_INPUT_CHARS = 512;

/** What a search looks in: titles and message text (the default), thoughts, or all of them. */
export const SEARCH_SCOPES = ["content", "reasoning", "all"] as const;
export type SearchScope = (typeof SEARCH_SCOPES)[number];

export interface SearchQuery extends HistoryFilters {
  q: string;
  /** Defaults to `content`: titles and message text, never thoughts. */
  in?: SearchScope;
  /** Only this conversation. */
  conversationId?: string;
  /** Page size, 1..100. Defaults to 20. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** One parsed piece of the query. */
export interface QueryTerm {
  kind: "word" | "substring";
  /** For words: tokens separated by spaces, matched as a phrase. For substrings: the literal text. */
  text: string;
  prefix: boolean;
  /** The chunk as typed (after normalization), used when words fall back to substrings. */
  raw: string;
  /** Typed inside double quotes. */
  quoted: boolean;
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
      terms.push({ kind: "substring", text: quoted ? chunk : raw, prefix: false, raw, quoted });
      continue;
    }
    const runs = chunk.match(TOKEN_RUN);
    if (!runs) {
      // Only symbols (emoji, `***`, `->`): look for them literally.
      if (chunk.trim().length > 0) terms.push({ kind: "substring", text: chunk, prefix: false, raw: chunk, quoted });
      continue;
    }
    // Closed quoted phrases never take a prefix; record that with prefix=false up front and `raw` marks it.
    terms.push({ kind: "word", text: runs.join(" "), prefix: quoted && closed ? false : true, raw, quoted });
  }
  const limited = terms.slice(0, MAX_TERMS);
  const endsWithSpace = /\s$/u.test(text);
  limited.forEach((t, i) => {
    const lastToken = t.text.split(" ").at(-1) ?? "";
    t.prefix =
      t.kind === "word" && t.prefix && i === limited.length - 1 && !endsWithSpace && codepoints(lastToken) >= 2;
  });
  return limited;
}

const quote = (s: string) => `"${s.replaceAll('"', '""')}"`;
const likePattern = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The pieces of SQL a parsed query turns into. */
export interface SearchPlan {
  /** FTS5 phrases for the word index, ANDed. */
  words: string[];
  /** FTS5 phrases for the trigram index (substrings of 3+ characters), ANDed. */
  trigram: string[];
  /** LIKE patterns (escaped with `\`) for shorter substrings. */
  like: string[];
  /** What snippets mark: every term, folded as the indexes fold text. */
  needles: Needle[];
}

const wordNeedle = (t: QueryTerm): Needle => ({ kind: "phrase", tokens: fold(t.text).split(" "), prefix: t.prefix });
const substringNeedle = (text: string): Needle => ({ kind: "substring", text: fold(text) });

export function planSearch(terms: readonly QueryTerm[]): SearchPlan {
  const wordTerms = terms.filter((t) => t.kind === "word");
  const subs = terms.filter((t) => t.kind === "substring");
  return {
    words: wordTerms.map((t) => quote(t.text) + (t.prefix ? "*" : "")),
    trigram: subs.filter((t) => codepoints(t.text) >= 3).map((t) => quote(t.text)),
    like: subs.filter((t) => codepoints(t.text) < 3).map((t) => likePattern(t.text)),
    needles: [...wordTerms.map(wordNeedle), ...subs.map((t) => substringNeedle(t.text))],
  };
}

/**
 * A single word that matched nothing, looked up inside words instead (3+ characters: shorter
 * would be a scan). Only one: several common words as substrings walk huge trigram lists.
 */
export function substringFallback(terms: readonly QueryTerm[]): SearchPlan | null {
  const only = terms.length === 1 ? terms[0]! : undefined;
  // A quoted or multi-token phrase asked for those words in that order; it is not retried.
  if (only?.kind !== "word" || only.quoted || only.text.includes(" ")) return null;
  const text = only.raw;
  if (codepoints(text) < 3) return null;
  return { words: [], trigram: [quote(text)], like: [], needles: [substringNeedle(text)] };
}

interface Cursor {
  /** Title and text hits already listed (with `r`: all of them). */
  o: number;
  m: "words" | "substring";
  /** Thought hits already listed; present once the title and text hits are done. */
  r?: number;
}
const offsetOk = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
const isCursor = (v: unknown): v is Cursor =>
  typeof v === "object" &&
  v !== null &&
  offsetOk((v as Cursor).o) &&
  ((v as Cursor).r === undefined || offsetOk((v as Cursor).r)) &&
  ((v as Cursor).m === "words" || (v as Cursor).m === "substring");

function decode(cursor: string): Cursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    value = undefined;
  }
  if (!isCursor(value))
    throw new BadRequestError("Invalid cursor: pass the nextCursor of a previous page.", { param: "cursor" });
  return value;
}
const encode = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString("base64url");

interface MessageHitRow {
  id: number;
  score: number | null;
}

/** A message field search reads: its text or its thoughts, each with a word and a trigram table. */
type Field = "content" | "reasoning";
const TABLES = {
  content: { words: "messages_fts", trigram: "messages_trigram", column: "m.content" },
  reasoning: { words: "reasoning_fts", trigram: "reasoning_trigram", column: "m.reasoning" },
} as const;
type FtsTable = (typeof TABLES)[Field]["words" | "trigram"] | "conversations_fts";

export class HistorySearch {
  constructor(private readonly db: Db) {}

  search(query: SearchQuery): SearchPage {
    const limit = Math.min(Math.max(query.limit ?? 20, 1), 100);
    const cursor = query.cursor === undefined ? undefined : decode(query.cursor);
    const terms = parseSearchQuery(query.q);
    if (terms.length === 0) return { hits: [], nextCursor: null, mode: "none" };
    const at = { o: cursor?.o ?? 0, ...(cursor?.r !== undefined ? { r: cursor.r } : {}) };
    let mode: "words" | "substring" = terms.some((t) => t.kind === "word") ? "words" : "substring";
    let plan = planSearch(terms);
    if (cursor?.m === "substring" && mode === "words") {
      plan = substringFallback(terms) ?? plan;
      mode = "substring";
    }
    let page = this.runPlan(plan, query, at, limit);
    if (page.hits.length === 0 && at.o === 0 && at.r === undefined && mode === "words") {
      const fallback = substringFallback(terms);
      if (fallback) {
        plan = fallback;
        mode = "substring";
        page = this.runPlan(plan, query, at, limit);
      }
    }
    return { hits: page.hits, nextCursor: page.next ? encode({ ...page.next, m: mode }) : null, mode };
  }

  /**
   * One page from `at`: title hits, then text hits (unless only thoughts are asked for), then
   * thought hits (when asked for), with where the next page starts.
   */
  private runPlan(
    plan: SearchPlan,
    query: SearchQuery,
    at: { o: number; r?: number },
    limit: number,
  ): { hits: SearchHit[]; next: { o: number; r?: number } | null } {
    const scope = query.in ?? "content";
    // limit + 1, to know whether there is more.
    const want = limit + 1;
    const out: SearchHit[] = [];
    let listed = at.o;
    if (at.r === undefined && scope !== "reasoning") {
      const titles = this.titleHits(plan, query);
      out.push(...titles.slice(at.o, at.o + want));
      const need = want - out.length;
      if (need > 0) out.push(...this.messageHits(plan, query, "content", Math.max(0, at.o - titles.length), need));
      if (scope === "content" || out.length === want)
        return { hits: out.slice(0, limit), next: out.length > limit ? { o: at.o + limit } : null };
      // Every title and text hit is on this page: thoughts follow.
      listed = at.o + out.length;
    }
    const fromText = out.length;
    const r = at.r ?? 0;
    out.push(...this.messageHits(plan, query, "reasoning", r, want - out.length));
    if (out.length <= limit) return { hits: out, next: null };
    return { hits: out.slice(0, limit), next: { o: listed, r: r + limit - fromText } };
  }

  private titleHits(plan: SearchPlan, query: SearchQuery): SearchHit[] {
    const params: Record<string, unknown> = { cap: TITLE_CAP };
    const where = filterConditions(query, params, { dateColumn: "c.updated_at" });
    // Titles are short and few: substrings are plain LIKE scans here, whatever their length.
    const needles = [...trigramNeedles(plan.trigram.join(" ")), ...plan.like.map(unlike)];
    needles.forEach((n, i) => {
      where.push(`c.title LIKE @t${i} ESCAPE '\\'`);
      params[`t${i}`] = likePattern(n);
    });
    type Row = { id: string; title: string; updated_at: number; score: number | null };
    let rows: Row[];
    if (plan.words.length > 0) {
      const ranked = this.rankedMatches("conversations_fts", "c", plan.words, where, params, TITLE_CAP, TITLE_CAP);
      const byRid = this.db.prepare<[number], Omit<Row, "score">>(
        "SELECT id, title, updated_at FROM conversations WHERE rid = ?",
      );
      rows = ranked.flatMap((r) => {
        const row = byRid.get(r.id);
        return row ? [{ ...row, score: r.score }] : [];
      });
    } else {
      rows = this.db
        .prepare<[Record<string, unknown>], Row>(
          `SELECT c.id, c.title, c.updated_at, NULL AS score FROM conversations c
           WHERE ${where.join(" AND ")} ORDER BY c.updated_at DESC LIMIT @cap`,
        )
        .all(params);
    }
    return rows.map((r) => ({
      kind: "title",
      field: null,
      conversationId: r.id,
      conversationTitle: r.title,
      messageId: null,
      role: null,
      createdAt: r.updated_at,
      snippet: snippetOf(r.title, plan.needles, TITLE_SNIPPET),
      score: r.score,
    }));
  }

  private messageHits(plan: SearchPlan, query: SearchQuery, field: Field, offset: number, count: number): SearchHit[] {
    const tables = TABLES[field];
    const params: Record<string, unknown> = { limit: count, offset };
    const filters = filterConditions(query, params, { dateColumn: "m.created_at" });
    // Short substrings scan the text: only its indexed part, as every other term searches.
    plan.like.forEach((p, i) => {
      filters.push(`substr(${tables.column}, 1, ${INDEXED_CHARS}) LIKE @l${i} ESCAPE '\\'`);
      params[`l${i}`] = p;
    });
    const driver = plan.words.length > 0 ? tables.words : plan.trigram.length > 0 ? tables.trigram : null;
    let rows: MessageHitRow[];
    if (driver) {
      const phrases = driver === tables.words ? plan.words : plan.trigram;
      if (driver === tables.words && plan.trigram.length > 0) {
        filters.push(`m.id IN (SELECT rowid FROM ${tables.trigram} WHERE ${tables.trigram} MATCH @trigram)`);
        params.trigram = plan.trigram.join(" ");
      }
      const ranked = this.rankedMatches(driver, "m", phrases, filters, params, CANDIDATE_CAP, offset + count);
      rows = ranked.slice(offset, offset + count);
      return this.describe(rows, plan.needles, field);
    }
    rows = this.db
      .prepare<[Record<string, unknown>], MessageHitRow>(
        `SELECT m.id, NULL AS score FROM messages m JOIN conversations c ON c.rid = m.conversation_rid
         WHERE ${filters.join(" AND ")} ORDER BY m.id DESC LIMIT @limit OFFSET @offset`,
      )
      .all(params);
    return this.describe(rows, plan.needles, field);
  }

  /**
   * The newest `cap` rows of `table` matching every phrase and `conditions`, best first.
   *
   * bm25 needs each phrase's document count, and FTS5 gets it by walking the phrase's whole
   * doclist: at a million messages a common word ("the", "model") costs 50-100 ms that way, the
   * whole budget, while its weight (IDF) is near zero anyway. So phrases with `cap` or more
   * matches are only filters: the score is bm25 over the rarer phrases (each walk is then short),
   * and when every phrase is common the newest matches come first. `alias` is the joined content
   * table (`m` messages, `c` conversations) that `conditions` refer to.
   */
  private rankedMatches(
    table: FtsTable,
    alias: "m" | "c",
    phrases: readonly string[],
    conditions: readonly string[],
    params: Record<string, unknown>,
    cap: number,
    need: number,
  ): MessageHitRow[] {
    const join =
      alias === "m"
        ? `JOIN messages m ON m.id = ${table}.rowid JOIN conversations c ON c.rid = m.conversation_rid`
        : `JOIN conversations c ON c.rid = ${table}.rowid`;
    const probe = this.db
      .prepare<[string, number], number>(
        `SELECT rowid FROM ${table} WHERE ${table} MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?`,
      )
      .pluck();
    // Substring (trigram) hits are listed newest first: bm25 over trigrams says little about
    // relevance, and the matches would be walked twice more to compute it.
    // Word phrases are weighed token by token: a phrase of common words ("of the") is rare as a
    // phrase, but walking its matches again for bm25 is what costs; its common tokens weigh nothing.
    // A probe stops after `cap` entries of one token, so it is cheap whatever the token.
    const units =
      table === "messages_trigram" || table === "reasoning_trigram"
        ? []
        : [...new Set(phrases.flatMap((p) => (p.endsWith("*") ? [p] : phraseTokens(p).map(quote))))];
    const rare = units.filter((p) => probe.get(p, cap - 1) === undefined);
    // Nothing to rank by: newest first, and only as many as the page needs (a phrase of common
    // words walks far to find each match, so stopping early is what keeps it fast).
    const ids = this.db
      .prepare<[Record<string, unknown>], number>(
        `SELECT ${table}.rowid FROM ${conditions.length > 0 ? `${table} ${join}` : table}
         WHERE ${[`${table} MATCH @match`, ...conditions].join(" AND ")} ORDER BY ${table}.rowid DESC LIMIT @cap`,
      )
      .pluck()
      .all({ ...params, match: phrases.join(" "), cap: rare.length === 0 ? need : cap });
    if (rare.length === 0 || ids.length === 0) return ids.map((id) => ({ id, score: null }));
    const candidates = ids;
    // Every candidate matches the rare phrases, and they have fewer than `cap` matches each: all scored here.
    const scores = new Map(
      this.db
        .prepare<[string], [number, number]>(`SELECT rowid, rank FROM ${table} WHERE ${table} MATCH ?`)
        .raw()
        .all(rare.join(" ")),
    );
    return candidates
      .map((id) => ({ id, score: scores.get(id) ?? 0 }))
      .sort((a, b) => a.score - b.score || b.id - a.id);
  }

  /** Snippets and titles for the few rows of a page, from the indexed part of each message's `field`. */
  private describe(rows: readonly MessageHitRow[], needles: readonly Needle[], field: Field): SearchHit[] {
    if (rows.length === 0) return [];
    const column = TABLES[field].column;
    const info = this.db.prepare<
      [number],
      { role: Role; created_at: number; head: string; bytes: number | null; cid: string; title: string }
    >(
      // Whether the text goes on past its head is told by byte counts: SQLite knows a value's
      // octet_length without reading it, where length() counted the characters of all of it
      // (100-180 ms for each 19 MB message among the hits).
      `SELECT m.role, m.created_at, substr(ifnull(${column}, ''), 1, ${INDEXED_CHARS}) AS head,
         octet_length(${column}) AS bytes, c.id AS cid, c.title FROM messages m
       JOIN conversations c ON c.rid = m.conversation_rid WHERE m.id = ?`,
    );
    const hits: SearchHit[] = [];
    for (const r of rows) {
      const m = info.get(r.id);
      if (!m) continue;
      hits.push({
        kind: "message",
        field,
        conversationId: m.cid,
        conversationTitle: m.title,
        messageId: r.id,
        role: m.role,
        createdAt: m.created_at,
        snippet: snippetOf(m.head, needles, {
          ...MESSAGE_SNIPPET,
          truncated: (m.bytes ?? 0) > Buffer.byteLength(m.head, "utf8"),
        }),
        score: r.score,
      });
    }
    return hits;
  }
}

/** The tokens of one quoted FTS5 phrase (`"a b"` -> a, b). */
function phraseTokens(phrase: string): string[] {
  return phrase
    .replace(/^"|"\*?$/g, "")
    .replaceAll('""', '"')
    .split(" ")
    .filter(Boolean);
}

/** The literal texts of a trigram expression built by planSearch. */
function trigramNeedles(expr: string): string[] {
  return [...expr.matchAll(/"((?:[^"]|"")*)"/gu)].map((m) => (m[1] ?? "").replaceAll('""', '"'));
}

function unlike(pattern: string): string {
  return pattern.slice(1, -1).replace(/\\([\\%_])/g, "$1");
}
