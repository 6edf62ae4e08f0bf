/**
 * The usage table (migration 008): what each API key used per model and UTC day. One upsert per
 * request, when its response ended (server/access/usage.ts calls it); reads for /api/usage and for
 * the keys' "last used". Kept apart from the conversations: deleting history leaves it.
 */
import type { UsageReport, UsageRow } from "../wire/access.js";
import type { Db } from "./db.js";

/** What one request adds to its row. */
export interface UsageEntry {
  keyId: string;
  keyName: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  errors: number;
  /** When the request ended (ms since the epoch); its UTC day picks the row. */
  at: number;
}

interface Row {
  day: string;
  key_id: string;
  key_name: string;
  model: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  reasoning_tokens: number;
  errors: number;
}

export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export class UsageStore {
  private readonly stmt;

  constructor(db: Db) {
    this.stmt = {
      add: db.prepare<[Record<string, unknown>]>(
        `INSERT INTO usage (day, key_id, key_name, model, requests, prompt_tokens, completion_tokens, reasoning_tokens, errors, last_used_at)
         VALUES (@day, @key_id, @key_name, @model, 1, @prompt, @completion, @reasoning, @errors, @at)
         ON CONFLICT (day, key_id, model) DO UPDATE SET
           key_name = excluded.key_name,
           requests = requests + 1,
           prompt_tokens = prompt_tokens + excluded.prompt_tokens,
           completion_tokens = completion_tokens + excluded.completion_tokens,
           reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
           errors = errors + excluded.errors,
           last_used_at = max(last_used_at, excluded.last_used_at)`,
      ),
      range: db.prepare<[string, string], Row>(
        `SELECT day, key_id, key_name, model, requests, prompt_tokens, completion_tokens, reasoning_tokens, errors
         FROM usage WHERE day BETWEEN ? AND ? ORDER BY day, key_name, model`,
      ),
      rangeOfKey: db.prepare<[string, string, string], Row>(
        `SELECT day, key_id, key_name, model, requests, prompt_tokens, completion_tokens, reasoning_tokens, errors
         FROM usage WHERE day BETWEEN ? AND ? AND key_id = ? ORDER BY day, key_name, model`,
      ),
      lastUsed: db.prepare<[], { key_id: string; at: number }>(
        "SELECT key_id, max(last_used_at) AS at FROM usage GROUP BY key_id",
      ),
    };
  }

  add(entry: UsageEntry): void {
    this.stmt.add.run({
      day: dayOf(entry.at),
      key_id: entry.keyId,
      key_name: entry.keyName,
      model: entry.model,
      prompt: entry.promptTokens,
      completion: entry.completionTokens,
      reasoning: entry.reasoningTokens,
      errors: entry.errors,
      at: entry.at,
    });
  }

  /** The rows of days `from` to `to` (inclusive), of one key or all, with their sum. */
  report(from: string, to: string, keyId?: string): UsageReport {
    const raw = keyId === undefined ? this.stmt.range.all(from, to) : this.stmt.rangeOfKey.all(from, to, keyId);
    const rows: UsageRow[] = raw.map((r) => ({
      day: r.day,
      keyId: r.key_id,
      keyName: r.key_name,
      model: r.model,
      requests: r.requests,
      promptTokens: r.prompt_tokens,
      completionTokens: r.completion_tokens,
      reasoningTokens: r.reasoning_tokens,
      errors: r.errors,
    }));
    const totals = { requests: 0, promptTokens: 0, completionTokens: 0, reasoningTokens: 0, errors: 0 };
    for (const r of rows) {
      totals.requests += r.requests;
      totals.promptTokens += r.promptTokens;
      totals.completionTokens += r.completionTokens;
      totals.reasoningTokens += r.reasoningTokens;
      totals.errors += r.errors;
    }
    return { from, to, rows, totals };
  }

  /** When each key was last used (ms since the epoch), by key id. */
  lastUsed(): Map<string, number> {
    return new Map(this.stmt.lastUsed.all().map((r) => [r.key_id, r.at]));
  }
}
