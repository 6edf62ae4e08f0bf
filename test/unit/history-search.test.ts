import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { HearthError } from "../../server/errors.js";
import {
  HIGHLIGHT_END,
  HIGHLIGHT_START,
  INDEXED_CHARS,
  parseSearchQuery,
  planSearch,
} from "../../server/history/search.js";
import { MESSAGE_SNIPPET, snippetOf } from "../../server/history/snippet.js";
import { HistoryStore } from "../../server/history/store.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-history-search-"));
let store: HistoryStore;
let clock = 1_700_000_000_000;
const ids: Record<string, string> = {};

before(() => {
  store = HistoryStore.open(path.join(dir, "h.sqlite"), { now: () => (clock += 1000) });
  const add = (key: string, title: string, source: "ui" | "api", model: string, messages: string[]) => {
    const c = store.createConversation({ source, model, title });
    ids[key] = c.id;
    messages.forEach((content, i) => store.appendMessage(c.id, { role: i % 2 === 0 ? "user" : "assistant", content }));
  };
  add("k8s", "Cluster trouble", "ui", "llama", [
    "My kubernetes pod keeps restarting after the deploy",
    "Check the liveness probe and the memory limits of the kubernetes deployment.",
  ]);
  add("travel", "Trip to Zürich", "ui", "qwen", [
    "Where can I find a good café in Zürich?",
    "Try the café near Électron square.",
  ]);
  add("code", "C++ question", "api", "llama", [
    'What does "e-mail" validation in c++ look like? it\'s for sqlite3.c',
    "Use a regex; AND remember NEAR(x) is not a thing -- (really) *** 🎉",
  ]);
  add("cjk", "東京旅行", "api", "qwen", [
    "東京タワーの近くで美味しいラーメン屋を探しています",
    "新宿駅の近くにあります。",
  ]);
  add("phrase", "Models", "ui", "llama", ["the context window is large", "a large window of context"]);
});
after(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const search = (q: string, extra: Record<string, unknown> = {}) => store.search.search({ q, ...extra });
const messageConvs = (q: string, extra: Record<string, unknown> = {}) =>
  [
    ...new Set(
      search(q, extra)
        .hits.filter((h) => h.kind === "message")
        .map((h) => h.conversationId),
    ),
  ].sort();

describe("parseSearchQuery", () => {
  test("words become quoted phrases; the last is a prefix while typing", () => {
    const plan = (q: string) => planSearch(parseSearchQuery(q));
    assert.deepEqual(plan("kube").words, ['"kube"*']);
    assert.deepEqual(plan("kubernetes pod ").words, ['"kubernetes"', '"pod"']);
    assert.deepEqual(plan('"context window" la').words, ['"context window"', '"la"*']);
    assert.deepEqual(plan('lar "context window"').words, ['"lar"', '"context window"']);
    assert.deepEqual(plan("e-mail").words, ['"e mail"*'], "a phrase whose last token is a prefix");
    assert.deepEqual(plan("pod a").words, ['"pod"', '"a"'], "no one-letter prefix");
    assert.deepEqual(plan('AND OR NOT NEAR("xy').words, ['"AND"', '"OR"', '"NOT"', '"NEAR"', '"xy"*']);
  });

  test("snippets mark every term, folded as the indexes fold text", () => {
    assert.deepEqual(planSearch(parseSearchQuery("Zürich e-MAIL 東京")).needles, [
      { kind: "phrase", tokens: ["zurich"], prefix: false },
      { kind: "phrase", tokens: ["e", "mail"], prefix: false },
      { kind: "substring", text: "東京" },
    ]);
    assert.deepEqual(planSearch(parseSearchQuery("kubern")).needles, [
      { kind: "phrase", tokens: ["kubern"], prefix: true },
    ]);
  });

  test("CJK and symbol-only chunks are substrings; short ones use LIKE", () => {
    const sql = (q: string) => {
      const { words, trigram, like } = planSearch(parseSearchQuery(q));
      return { words, trigram, like };
    };
    assert.deepEqual(sql("東京タワー"), { words: [], trigram: ['"東京タワー"'], like: [] });
    assert.deepEqual(sql("東京"), { words: [], trigram: [], like: ["%東京%"] });
    assert.deepEqual(planSearch(parseSearchQuery("100% a_b")).like, [], "letters and digits stay words");
    assert.deepEqual(planSearch(parseSearchQuery("🎉")).like, ["%🎉%"]);
    assert.deepEqual(planSearch(parseSearchQuery("%_")).like, ["%\\%\\_%"]);
  });

  test("empty and symbol-only inputs give nothing to run", () => {
    for (const q of ["", "   ", "\u0000", '""', '"']) assert.deepEqual(parseSearchQuery(q), [], JSON.stringify(q));
  });
});

describe("HistorySearch", () => {
  test("hostile inputs never raise", () => {
    const hostile = [
      "c++ error",
      'what"s up',
      "AND",
      "node OR",
      "NEAR(",
      "-electron",
      "e-mail",
      "col:umn",
      "(unbalanced",
      "sqlite3.c",
      "it's",
      "***",
      "NOT x",
      "",
      "   ",
      '"',
      '""',
      '"unclosed phrase',
      "a AND b OR c NOT d",
      "NEAR(a b, 3)",
      "title:foo",
      "^start",
      "x*",
      "*x",
      "-",
      "--",
      "()",
      ")(",
      "{}",
      "[",
      "\\",
      "'",
      "''",
      "%",
      "_",
      "\u0000\u0001",
      "🎉",
      "🎉🎉🎉",
      "👨‍👩‍👧",
      "東",
      "東京",
      "東京タワー",
      "ラーメン屋",
      "한국어",
      "ภาษาไทย",
      "ق",
      "x".repeat(5000),
      "word ".repeat(100),
      '"a" "b" "c',
      "café",
      "ZÜRICH",
      "\uE000mark\uE001",
      "\ud800",
      "a:b:c",
      "+",
      "a+b",
      "a/b",
      "a.b.c",
      "$1",
      "?",
      "!",
    ];
    for (const q of hostile) {
      assert.doesNotThrow(() => search(q), `query ${JSON.stringify(q.slice(0, 30))}`);
      assert.doesNotThrow(() => search(q, { source: "api", pinned: false, from: 0, to: Date.now() * 2 }));
    }
  });

  test("finds words, ignoring diacritics and case", () => {
    assert.deepEqual(messageConvs("kubernetes"), [ids.k8s]);
    assert.deepEqual(messageConvs("cafe zurich"), [ids.travel]);
    assert.deepEqual(messageConvs("ELECTRON"), [ids.travel]);
    assert.deepEqual(messageConvs("c++"), [ids.code]);
    assert.deepEqual(messageConvs("e-mail"), [ids.code]);
    assert.deepEqual(messageConvs("sqlite3.c"), [ids.code]);
    assert.deepEqual(messageConvs("it's"), [ids.code]);
  });

  test("a quoted phrase stays a phrase", () => {
    const hits = search('"context window"').hits.filter((h) => h.kind === "message");
    assert.equal(hits.length, 1);
    assert.match(hits[0]!.snippet, new RegExp(`${HIGHLIGHT_START}context window${HIGHLIGHT_END}`));
    assert.equal(search("context window").hits.filter((h) => h.kind === "message").length, 2);
  });

  test("the last word matches as a prefix", () => {
    assert.deepEqual(messageConvs("kuber"), [ids.k8s]);
    assert.deepEqual(messageConvs("liveness pro"), [ids.k8s]);
    assert.equal(search("kuber").mode, "words");
    assert.equal(search("kuber ").mode, "substring", "a finished word is not a prefix; it is then found inside words");
  });

  test("CJK text without spaces is found inside runs, short terms too", () => {
    assert.deepEqual(messageConvs("タワー"), [ids.cjk]);
    assert.deepEqual(messageConvs("ラーメン"), [ids.cjk]);
    assert.deepEqual(messageConvs("新宿"), [ids.cjk]);
    assert.deepEqual(messageConvs("駅"), [ids.cjk]);
    assert.deepEqual(messageConvs("東京 ラーメン"), [ids.cjk]);
    assert.deepEqual(messageConvs("東京 kubernetes"), []);
    const hit = search("ラーメン").hits.find((h) => h.kind === "message")!;
    assert.ok(hit.snippet.includes(HIGHLIGHT_START) && hit.snippet.includes(HIGHLIGHT_END), hit.snippet);
    assert.deepEqual(
      search("旅行").hits.map((h) => [h.kind, h.conversationId]),
      [["title", ids.cjk]],
    );
  });

  test("words found nowhere are retried inside words", () => {
    const page = search("ernetes");
    assert.equal(page.mode, "substring");
    assert.deepEqual([...new Set(page.hits.map((h) => h.conversationId))], [ids.k8s]);
    assert.equal(search("kubernetes").mode, "words");
    assert.deepEqual(
      [search('"ernetes"').mode, search('"ernetes"').hits.length],
      ["words", 0],
      "a quoted word is taken as typed",
    );
    assert.deepEqual(search("ernetes pod").hits.length, 0, "several words are not retried inside words");
  });

  test("symbols and emoji are searched literally", () => {
    assert.deepEqual(messageConvs("🎉"), [ids.code]);
    assert.deepEqual(messageConvs("***"), [ids.code]);
  });

  test("hits carry title, message id, role, time and a highlighted snippet; titles come first", () => {
    const page = search("zurich");
    assert.equal(page.hits[0]!.kind, "title");
    assert.equal(page.hits[0]!.snippet, `Trip to ${HIGHLIGHT_START}Zürich${HIGHLIGHT_END}`);
    const m = page.hits[1]!;
    assert.equal(m.kind, "message");
    assert.equal(m.conversationTitle, "Trip to Zürich");
    assert.equal(m.role, "user");
    assert.equal(typeof m.messageId, "number");
    assert.equal(store.getMessage(m.messageId!)!.createdAt, m.createdAt);
    assert.ok(typeof m.score === "number" && m.score < 0);
    assert.match(m.snippet, new RegExp(`${HIGHLIGHT_START}Zürich${HIGHLIGHT_END}`));
  });

  test("filters: source, model, pinned, date range, conversation", () => {
    assert.deepEqual(messageConvs("the", { source: "ui", model: "llama" }).sort(), [ids.k8s, ids.phrase].sort());
    assert.deepEqual(messageConvs("the", { source: "api" }), []);
    assert.deepEqual(messageConvs("is", { source: "api" }), [ids.code]);
    store.updateConversation(ids.phrase!, { pinned: true });
    assert.deepEqual(messageConvs("the", { pinned: true }), [ids.phrase]);
    store.updateConversation(ids.phrase!, { pinned: false });
    const first = store.getConversation(ids.k8s!)!.messages[0]!;
    assert.equal(
      search("kubernetes", { from: first.createdAt, to: first.createdAt + 1 }).hits.filter((h) => h.kind === "message")
        .length,
      1,
    );
    assert.equal(
      search("kubernetes", { from: first.createdAt + 1 }).hits.filter((h) => h.kind === "message").length,
      1,
    );
    assert.deepEqual(messageConvs("is", { conversationId: ids.code }), [ids.code]);
  });

  test("each hit's snippet is made from its own message", () => {
    // FTS5's snippet() was asked for `rowid = ?` with the id bound as a JS number, which FTS5 does
    // not apply: every hit got the snippet of the first matching message.
    const c = store.createConversation({ source: "ui", title: "sea" });
    const north = store.appendMessage(c.id, { role: "user", content: "the narwhal swims north" });
    const south = store.appendMessage(c.id, { role: "assistant", content: "a narwhal sings south" });
    const hits = search("narwhal").hits.filter((h) => h.kind === "message");
    const snippetOf = (id: number) => hits.find((h) => h.messageId === id)?.snippet ?? "";
    assert.match(snippetOf(north.id), /north/);
    assert.match(snippetOf(south.id), /south/);
    store.deleteConversation(c.id);
  });

  test("only the first INDEXED_CHARS characters of a message are searched, and its snippet stays short", () => {
    const c = store.createConversation({ source: "api", title: "a pasted log" });
    const filler = "filler text ".repeat(Math.ceil(INDEXED_CHARS / 12));
    const m = store.appendMessage(c.id, { role: "user", content: `aardvark ${filler} zebrafish 鯱 the end` });
    assert.ok(m.content.indexOf("zebrafish") > INDEXED_CHARS);
    const hit = search("aardvark").hits.find((h) => h.messageId === m.id);
    assert.ok(hit, "a word in the indexed part is found");
    assert.ok(hit.snippet.startsWith(`${HIGHLIGHT_START}aardvark${HIGHLIGHT_END}`) && hit.snippet.endsWith("…"));
    assert.ok(hit.snippet.length < 250, `${hit.snippet.length} characters`);
    for (const q of ["zebrafish", "ebrafis", "鯱"])
      assert.equal(search(q).hits.filter((h) => h.messageId === m.id).length, 0, `${q}: past the indexed part`);
    // A reply that grows past the bound as it streams is indexed by its first part, like any message.
    const reply = store.appendMessage(c.id, { role: "assistant", content: "okapi" });
    store.updateMessage(reply.id, { content: `okapi ${filler} quetzal` });
    assert.deepEqual(
      search("okapi").hits.map((h) => h.messageId),
      [reply.id],
    );
    assert.equal(search("quetzal").hits.length, 0);
    store.deleteConversation(c.id);
    assert.equal(search("aardvark").hits.length, 0);
  });

  test("pages with a cursor cover every hit once", () => {
    const c = store.createConversation({ source: "ui", title: "paging" });
    for (let i = 0; i < 25; i++) store.appendMessage(c.id, { role: "user", content: `zebra stripe number ${i}` });
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = search("zebra", { limit: 7, cursor });
      seen.push(...page.hits.map((h) => h.messageId!));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    assert.equal(pages, 4);
    assert.equal(new Set(seen).size, 25);
    assert.throws(
      () => search("zebra", { cursor: "nope" }),
      (e: unknown) => e instanceof HearthError && e.status === 400,
    );
  });

  test("snippetOf marks every match in a window around the best one", () => {
    const sub = (text: string) => [{ kind: "substring" as const, text }];
    const mark = (s: string) => `${HIGHLIGHT_START}${s}${HIGHLIGHT_END}`;
    assert.equal(
      snippetOf("abc 東京 def 東京", sub("東京"), MESSAGE_SNIPPET),
      `abc ${mark("東京")} def ${mark("東京")}`,
    );
    const far = snippetOf(`${"x ".repeat(500)}needle${" y".repeat(500)}`, sub("needle"), MESSAGE_SNIPPET);
    assert.ok(far.startsWith("…") && far.endsWith("…") && far.includes(mark("needle")), far);
    assert.ok(far.length <= MESSAGE_SNIPPET.length + 4, `${far.length} characters`);
    // Words: case and diacritics folded, a phrase marked as one, a prefix as the whole word.
    const words = [
      { kind: "phrase" as const, tokens: ["cafe"], prefix: false },
      { kind: "phrase" as const, tokens: ["new", "yo"], prefix: true },
    ];
    assert.equal(
      snippetOf("A CAFÉ in New York, not a cafeteria", words, MESSAGE_SNIPPET),
      `A ${mark("CAFÉ")} in ${mark("New York")}, not a cafeteria`,
    );
    // The window goes where the most different terms are, not to the first match.
    const text = `alpha ${"filler ".repeat(100)} alpha beta ${"filler ".repeat(100)}`;
    const both = snippetOf(text, [...sub("alpha"), ...sub("beta")], MESSAGE_SNIPPET);
    assert.ok(both.includes(`${mark("alpha")} ${mark("beta")}`), both);
    // Control characters and the sentinels in the text cannot forge marks; a cut-off text says so.
    assert.equal(snippetOf("a\uE000b\nc", sub("c"), { ...MESSAGE_SNIPPET, truncated: true }), `a b ${mark("c")}…`);
  });
});
