/** The list and search read HistoryFilters through one function, so they cannot drift apart. */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { filterConditions } from "../../server/history/filters.js";
import { HistoryStore } from "../../server/history/store.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-filters-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test("filterConditions: one condition and one parameter per filter; the date column is the caller's", () => {
  const params: Record<string, unknown> = {};
  const where = filterConditions(
    { source: "api", model: "m", pinned: false, conversationId: "conv_1", from: 10, to: 20 },
    params,
    { dateColumn: "m.created_at" },
  );
  assert.deepEqual(where, [
    "c.source = @source",
    "c.model = @model",
    "c.pinned = @pinned",
    "c.id = @conversationId",
    "m.created_at >= @from",
    "m.created_at < @to",
  ]);
  assert.deepEqual(params, { source: "api", model: "m", pinned: 0, conversationId: "conv_1", from: 10, to: 20 });
  assert.deepEqual(filterConditions({}, {}, { dateColumn: "c.updated_at" }), []);
});

test("the conversation list and search select the same conversations for the same filters", () => {
  let clock = 1_000;
  const store = HistoryStore.open(path.join(dir, "h.sqlite"), { now: () => clock });
  try {
    const make = (source: "ui" | "api", model: string, pinned: boolean) => {
      clock += 1_000;
      const c = store.createConversation({ source, model, pinned });
      store.appendMessage(c.id, { role: "user", content: "walrus" });
      return c.id;
    };
    make("ui", "a", false);
    make("api", "a", true);
    make("api", "b", false);
    make("ui", "b", true);
    const filters = [
      { source: "api" as const },
      { model: "b" },
      { pinned: true },
      { pinned: false, source: "ui" as const },
      { from: 3_000 },
      { to: 3_000 },
      { from: 2_500, to: 4_500, model: "a" },
    ];
    for (const f of filters) {
      const listed = store
        .listConversations(f)
        .items.map((c) => c.id)
        .sort();
      const found = [...new Set(store.search.search({ q: "walrus", ...f }).hits.map((h) => h.conversationId))].sort();
      assert.deepEqual(found, listed, JSON.stringify(f));
    }
  } finally {
    store.close();
  }
});
