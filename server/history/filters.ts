/**
 * The SQL of the filters the conversation list and search share (HistoryFilters), written once so
 * both read them the same way. Conditions refer to the conversations table as `c`.
 */
import type { HistoryFilters } from "./types.js";

export interface FilterSqlOptions {
  /** The column `from` and `to` bound: the list filters on `c.updated_at`, search on the message's `m.created_at`. */
  dateColumn: "c.updated_at" | "m.created_at";
}

/**
 * The WHERE conditions for `filters` (ANDed by the caller), with their values added to `params`
 * under the names the conditions use.
 */
export function filterConditions(
  filters: HistoryFilters & { conversationId?: string | undefined },
  params: Record<string, unknown>,
  { dateColumn }: FilterSqlOptions,
): string[] {
  const where: string[] = [];
  if (filters.source !== undefined) {
    where.push("c.source = @source");
    params.source = filters.source;
  }
  if (filters.model !== undefined) {
    where.push("c.model = @model");
    params.model = filters.model;
  }
  if (filters.pinned !== undefined) {
    where.push("c.pinned = @pinned");
    params.pinned = filters.pinned ? 1 : 0;
  }
  if (filters.conversationId !== undefined) {
    where.push("c.id = @conversationId");
    params.conversationId = filters.conversationId;
  }
  if (filters.from !== undefined) {
    where.push(`${dateColumn} >= @from`);
    params.from = filters.from;
  }
  if (filters.to !== undefined) {
    where.push(`${dateColumn} < @to`);
    params.to = filters.to;
  }
  return where;
}
