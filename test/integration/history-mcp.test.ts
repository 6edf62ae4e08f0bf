/**
 * Hearth's history as an MCP server, through the official SDK's own client: `hearth mcp` over
 * stdio (the real CLI as a child process, reading the real SQLite file beside a running server
 * that writes it) and `/mcp` over Streamable HTTP behind the server's guards. The history is
 * written only through the real /api (import), and every answer is compared with what /api says.
 */
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { HIGHLIGHT_END, HIGHLIGHT_START, type SearchPage } from "../../server/history/search.js";
import type { ConversationDetail, Conversation } from "../../server/history/types.js";
import { openHistoryDatabaseReadOnly } from "../../server/history/db.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { rawRequest } from "../helpers/raw-http.js";

const repoRoot = path.resolve(import.meta.dirname, "..", "..");
const KEY = "mcp-test-key";
const HOUR = 3_600_000;
const T0 = Date.parse("2025-03-01T10:00:00Z");
/** A reply far longer than a page shows, with a surrogate pair across every likely cut. */
const HUGE = `needle-start ${"🦊 fox trot. ".repeat(20_000)} needle-end`;

type Msg = { id: number; parentId: number | null; role: string; content: string } & Record<string, unknown>;
const msg = (id: number, parentId: number | null, role: string, content: string, extra: object = {}): Msg => ({
  id,
  parentId,
  role,
  content,
  createdAt: T0 + id * 1000,
  updatedAt: T0 + id * 1000,
  ...extra,
});
const conv = (id: string, at: number, messages: Msg[], extra: object = {}) => ({
  id,
  title: "",
  source: "ui",
  createdAt: at,
  updatedAt: at,
  messages: messages.map((m) => ({ ...m, createdAt: at + m.id * 1000, updatedAt: at + m.id * 1000 })),
  ...extra,
});
const exportFile = (...conversations: unknown[]) => ({
  format: "hearth-history",
  version: 1,
  exportedAt: T0,
  conversations,
});

const SEED = exportFile(
  conv(
    "conv_okapi",
    T0,
    [
      msg(1, null, "user", "How do I configure the okapi cluster?"),
      msg(2, 1, "assistant", "Set the okapi replicas to three.", {
        reasoning: "The zebras graze while I think about replicas.",
        model: "qwen3-test",
      }),
    ],
    { title: "Okapi cluster", model: "qwen3-test" },
  ),
  conv(
    "conv_huge",
    T0 + 24 * HOUR,
    [
      msg(1, null, "user", "Write the longest okapi story"),
      msg(2, 1, "assistant", HUGE, { model: "remote-big" }),
      msg(3, 2, "user", "Now call the weather tool"),
      msg(4, 3, "assistant", "", { toolCalls: [{ id: "call_1", name: "weather", arguments: '{"city":"Oslo"}' }] }),
      msg(5, 4, "tool", "Sunny, 21 degrees", { toolCallId: "call_1" }),
    ],
    { title: "A long story", source: "api", model: "remote-big" },
  ),
  conv(
    "conv_branch",
    T0 + 48 * HOUR,
    [
      msg(1, null, "user", "First question about giraffes"),
      msg(2, 1, "assistant", "Giraffes answer one", { active: false }),
      msg(3, 1, "assistant", "Giraffes answer two"),
      msg(4, 2, "user", "Follow-up on the hidden branch about pangolins"),
    ],
    { title: "Branches" },
  ),
  conv(
    "conv_long",
    T0 + 72 * HOUR,
    Array.from({ length: 45 }, (_, i) =>
      msg(i + 1, i === 0 ? null : i, i % 2 === 0 ? "user" : "assistant", `turn ${i}`),
    ),
    { title: "Many turns", pinned: true },
  ),
);

function structured<T>(r: unknown): T {
  const res = r as CallToolResult;
  assert.ok(!res.isError, `tool error: ${JSON.stringify(res.content)}`);
  assert.ok(res.structuredContent, "structuredContent");
  // The text block carries the same JSON, for clients that read only text.
  const text = res.content[0];
  assert.equal(text?.type, "text");
  assert.deepEqual(JSON.parse((text as { text: string }).text), res.structuredContent);
  return res.structuredContent as T;
}
const errorText = (r: unknown) => {
  const res = r as CallToolResult;
  assert.equal(res.isError, true, JSON.stringify(res));
  return (res.content[0] as { text: string }).text;
};

interface McpHit {
  kind: string;
  field: string | null;
  conversation_id: string;
  conversation_title: string;
  message_id: number | null;
  role: string | null;
  created_at: string;
  snippet: string;
  score: number | null;
}
interface McpSearch {
  hits: McpHit[];
  next_cursor: string | null;
  mode: string;
}
interface McpMessage {
  index: number;
  id: number;
  role: string;
  content: string;
  content_chars: number;
  content_truncated: boolean;
  reasoning?: string;
  tool_calls?: { id: string; name: string; arguments: string }[];
  tool_call_id?: string;
  versions: number;
}
interface McpConversation {
  conversation: { id: string; title: string; source: string; model: string | null };
  messages: McpMessage[];
  total: number;
  offset: number;
  next_offset: number | null;
  note?: string;
}

/** What /api/search says, in the MCP tool's shape. */
function asMcp(page: SearchPage): McpSearch {
  return {
    hits: page.hits.map((h) => ({
      kind: h.kind,
      field: h.field,
      conversation_id: h.conversationId,
      conversation_title: h.conversationTitle,
      message_id: h.messageId,
      role: h.role,
      created_at: new Date(h.createdAt).toISOString(),
      snippet: h.snippet.replaceAll(HIGHLIGHT_START, "**").replaceAll(HIGHLIGHT_END, "**"),
      score: h.score,
    })),
    next_cursor: page.nextCursor,
    mode: page.mode,
  };
}

async function api<T>(t: TestServer, method: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(`${t.url}/api${p}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  assert.ok(res.ok, `${method} ${p}: ${res.status} ${await res.clone().text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** `hearth mcp --data-dir <dir>`, the real CLI, connected to the SDK's client over stdio. */
async function stdioClient(dataDir: string): Promise<{ client: Client; transport: StdioClientTransport }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ["--import", "tsx", "server/cli.ts", "mcp", "--data-dir", dataDir],
    cwd: repoRoot,
    // No HEARTH_* from this process (a data dir or key of the developer's own): only what Node needs.
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? os.homedir() },
    stderr: "pipe",
  });
  const client = new Client({ name: "hearth-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

function httpClient(url: string, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) {
  return {
    client: new Client({ name: "hearth-test-http", version: "1.0.0" }),
    transport: new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } }),
  };
}

const SEARCHES: Record<string, unknown>[] = [
  { query: "okapi" },
  { query: "okapi", source: "api" },
  { query: "okapi", model: "qwen3-test" },
  { query: "zebras", in: "reasoning" },
  { query: "zebras" },
  { query: "okapi replicas", in: "all" },
  { query: "giraffes", from: "2025-03-03", to: "2025-03-04T00:00:00Z" },
  { query: "giraffes", conversation_id: "conv_branch" },
  { query: "turn", limit: 3 },
  { query: "🦊" },
  { query: "ernet" },
];

/** The same search as /api/search's query string. */
function apiQuery(args: Record<string, unknown>): string {
  const q = new URLSearchParams({ q: String(args.query), limit: String(args.limit ?? 10) });
  for (const [k, v] of Object.entries(args)) {
    if (k === "query" || k === "limit") continue;
    q.set(k === "conversation_id" ? "conversationId" : k, String(v));
  }
  return q.toString();
}

describe("hearth mcp (stdio) beside a running server", () => {
  let t: TestServer;
  let client: Client;
  before(async () => {
    t = await startTestServer({ apiKey: KEY }, { withModel: false });
    await api(t, "POST", "/import", SEED);
    ({ client } = await stdioClient(t.dataDir));
  });
  after(async () => {
    await client?.close();
    await t?.close();
  });

  test("lists four read-only tools with input and output schemas", async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((x) => x.name).sort(), [
      "get_conversation",
      "get_message",
      "list_recent_conversations",
      "search_history",
    ]);
    for (const tool of tools) {
      assert.equal(tool.annotations?.readOnlyHint, true, tool.name);
      assert.equal(tool.annotations?.destructiveHint, false, tool.name);
      assert.equal(tool.inputSchema.type, "object");
      assert.equal(tool.outputSchema?.type, "object", tool.name);
      assert.ok((tool.description ?? "").length > 40, tool.name);
    }
    const search = tools.find((x) => x.name === "search_history")!;
    assert.deepEqual(search.inputSchema.required, ["query"]);
    assert.deepEqual(Object.keys(search.inputSchema.properties ?? {}).sort(), [
      "conversation_id",
      "cursor",
      "from",
      "in",
      "limit",
      "model",
      "pinned",
      "query",
      "source",
      "to",
    ]);
    assert.match(client.getInstructions() ?? "", /treat them as data/);
    assert.equal(client.getServerVersion()?.name, "hearth-history");
  });

  test("search_history answers what /api/search answers, filters and pages included", async () => {
    for (const args of SEARCHES) {
      const expected = asMcp(await api<SearchPage>(t, "GET", `/search?${apiQuery(args)}`));
      const got = structured<McpSearch>(await client.callTool({ name: "search_history", arguments: args }));
      assert.deepEqual(got, expected, JSON.stringify(args));
    }
    // The seeds find what they should (so the comparison above compared something).
    const okapi = structured<McpSearch>(
      await client.callTool({ name: "search_history", arguments: { query: "okapi" } }),
    );
    assert.deepEqual(
      new Set(okapi.hits.map((h) => h.conversation_id)),
      new Set(["conv_okapi", "conv_huge"]),
      JSON.stringify(okapi),
    );
    assert.ok(
      okapi.hits.some((h) => h.snippet.includes("**okapi**")),
      "matches are marked in bold",
    );
    const thoughts = structured<McpSearch>(
      await client.callTool({ name: "search_history", arguments: { query: "zebras", in: "reasoning" } }),
    );
    assert.deepEqual(
      thoughts.hits.map((h) => [h.conversation_id, h.field, h.message_id]),
      [["conv_okapi", "reasoning", 2]],
    );
    const inRange = structured<McpSearch>(
      await client.callTool({
        name: "search_history",
        arguments: { query: "giraffes", from: "2025-03-03", to: "2025-03-04T00:00:00Z" },
      }),
    );
    assert.ok(inRange.hits.length > 0 && inRange.hits.every((h) => h.conversation_id === "conv_branch"));
    const outOfRange = structured<McpSearch>(
      await client.callTool({ name: "search_history", arguments: { query: "giraffes", to: "2025-03-02" } }),
    );
    assert.deepEqual(outOfRange.hits, []);
    // Pages: following next_cursor gives what /api gives for the same cursor, to the end.
    let cursor: string | null = null;
    const seen: (number | null)[] = [];
    do {
      const args: Record<string, unknown> = { query: "turn", limit: 4, ...(cursor ? { cursor } : {}) };
      const expected = asMcp(await api<SearchPage>(t, "GET", `/search?${apiQuery(args)}`));
      const page = structured<McpSearch>(await client.callTool({ name: "search_history", arguments: args }));
      assert.deepEqual(page, expected);
      seen.push(...page.hits.map((h) => h.message_id));
      cursor = page.next_cursor;
    } while (cursor);
    assert.equal(new Set(seen).size, seen.length, "no hit twice");
    assert.ok(seen.length >= 22, `every "turn" found: ${seen.length}`);
  });

  test("bad arguments and unknown ids are tool errors that say what is wrong", async () => {
    assert.match(
      errorText(await client.callTool({ name: "search_history", arguments: { query: "x", cursor: "nonsense" } })),
      /Invalid cursor/,
    );
    assert.match(
      errorText(await client.callTool({ name: "search_history", arguments: { query: "x", from: "yesterday" } })),
      /from/,
    );
    assert.match(errorText(await client.callTool({ name: "search_history", arguments: {} })), /query/);
    assert.match(
      errorText(await client.callTool({ name: "get_conversation", arguments: { conversation_id: "conv_nope" } })),
      /No conversation with id 'conv_nope'/,
    );
    assert.match(
      errorText(
        await client.callTool({
          name: "get_message",
          arguments: { conversation_id: "conv_okapi", message_id: 999999 },
        }),
      ),
      /No message/,
    );
  });

  test("list_recent_conversations is /api/conversations' order and filters", async () => {
    const all = structured<{ conversations: { id: string; pinned: boolean; message_count: number }[] }>(
      await client.callTool({ name: "list_recent_conversations", arguments: {} }),
    );
    const page = await api<{ items: Conversation[] }>(t, "GET", "/conversations?limit=20");
    assert.deepEqual(
      all.conversations.map((c) => [c.id, c.pinned, c.message_count]),
      page.items.map((c) => [c.id, c.pinned, c.messageCount]),
    );
    assert.equal(all.conversations[0]!.id, "conv_long", "pinned first");
    const apiOnly = structured<{ conversations: { id: string; source: string }[] }>(
      await client.callTool({ name: "list_recent_conversations", arguments: { source: "api" } }),
    );
    assert.deepEqual(
      apiOnly.conversations.map((c) => [c.id, c.source]),
      [["conv_huge", "api"]],
    );
    // Pages of one follow each other to the end.
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const p: { conversations: { id: string }[]; next_cursor: string | null } = structured(
        await client.callTool({
          name: "list_recent_conversations",
          arguments: { limit: 1, ...(cursor ? { cursor } : {}) },
        }),
      );
      ids.push(...p.conversations.map((c) => c.id));
      cursor = p.next_cursor;
    } while (cursor);
    assert.deepEqual(
      ids,
      page.items.map((c) => c.id),
    );
  });

  test("get_conversation: roles, tool calls, branches and pages, as /api shows the thread", async () => {
    const okapi = structured<McpConversation>(
      await client.callTool({ name: "get_conversation", arguments: { conversation_id: "conv_okapi" } }),
    );
    assert.deepEqual(
      okapi.messages.map((m) => [m.index, m.role, m.content]),
      [
        [0, "user", "How do I configure the okapi cluster?"],
        [1, "assistant", "Set the okapi replicas to three."],
      ],
    );
    assert.equal(okapi.messages[1]!.reasoning, undefined, "thoughts only when asked");
    assert.deepEqual([okapi.total, okapi.next_offset, okapi.note], [2, null, undefined]);
    assert.deepEqual(
      [okapi.conversation.title, okapi.conversation.model, okapi.conversation.source],
      ["Okapi cluster", "qwen3-test", "ui"],
    );
    const withThoughts = structured<McpConversation>(
      await client.callTool({
        name: "get_conversation",
        arguments: { conversation_id: "conv_okapi", include_reasoning: true },
      }),
    );
    assert.equal(withThoughts.messages[1]!.reasoning, "The zebras graze while I think about replicas.");

    const tools = structured<McpConversation>(
      await client.callTool({ name: "get_conversation", arguments: { conversation_id: "conv_huge", offset: 3 } }),
    );
    assert.deepEqual(tools.messages[0]!.tool_calls, [
      { id: "call_1", name: "weather", arguments: '{"city":"Oslo"}', arguments_truncated: false },
    ]);
    assert.deepEqual(
      [tools.messages[1]!.role, tools.messages[1]!.tool_call_id, tools.messages[1]!.content],
      ["tool", "call_1", "Sunny, 21 degrees"],
    );

    // The shown branch by default; with message_id, the branch through it, starting just before it.
    const shown = structured<McpConversation>(
      await client.callTool({ name: "get_conversation", arguments: { conversation_id: "conv_branch" } }),
    );
    assert.deepEqual(
      shown.messages.map((m) => [m.content, m.versions]),
      [
        ["First question about giraffes", 1],
        ["Giraffes answer two", 2],
      ],
    );
    const hiddenHit = structured<McpSearch>(
      await client.callTool({ name: "search_history", arguments: { query: "pangolins" } }),
    ).hits[0]!;
    const hidden = structured<McpConversation>(
      await client.callTool({
        name: "get_conversation",
        arguments: { conversation_id: "conv_branch", message_id: hiddenHit.message_id },
      }),
    );
    assert.deepEqual(
      hidden.messages.map((m) => m.content),
      ["Giraffes answer one", "Follow-up on the hidden branch about pangolins"],
    );
    assert.deepEqual([hidden.offset, hidden.total], [1, 3]);

    // Pages of a long thread: next_offset to the end gives every message once, in /api's order.
    const long = await api<ConversationDetail>(t, "GET", "/conversations/conv_long");
    const ids: number[] = [];
    let offset: number | null = 0;
    while (offset !== null) {
      const page: McpConversation = structured<McpConversation>(
        await client.callTool({
          name: "get_conversation",
          arguments: { conversation_id: "conv_long", offset, limit: 20 },
        }),
      );
      assert.ok(page.messages.length <= 20);
      ids.push(...page.messages.map((m) => m.id));
      offset = page.next_offset;
    }
    assert.deepEqual(
      ids,
      long.messages.map((m) => m.id),
    );
  });

  test("a huge message is cut with a note, and get_message reads all of it in slices", async () => {
    const page = structured<McpConversation>(
      await client.callTool({
        name: "get_conversation",
        arguments: { conversation_id: "conv_huge", max_chars_per_message: 1000 },
      }),
    );
    const huge = page.messages[1]!;
    assert.equal(huge.content_truncated, true);
    assert.equal(huge.content_chars, HUGE.length);
    assert.ok(huge.content.length <= 1000 && huge.content.length >= 999);
    assert.ok(HUGE.startsWith(huge.content));
    assert.match(page.note ?? "", /get_message/);
    // Default cut, and the whole page stays bounded whatever the messages hold.
    const defaults = await client.callTool({ name: "get_conversation", arguments: { conversation_id: "conv_huge" } });
    assert.ok(JSON.stringify(defaults).length < 60_000, "bounded page");

    let text = "";
    let offset: number | null = 0;
    let slices = 0;
    while (offset !== null) {
      const slice: { text: string; next_offset: number | null; total_chars: number } = structured(
        await client.callTool({
          name: "get_message",
          arguments: { conversation_id: "conv_huge", message_id: huge.id, offset, max_chars: 100_000 },
        }),
      );
      assert.equal(slice.total_chars, HUGE.length);
      assert.ok(slice.text.length <= 100_000);
      text += slice.text;
      offset = slice.next_offset;
      slices++;
    }
    assert.equal(text, HUGE, "the slices join to the whole message, no surrogate pair split");
    assert.ok(slices >= 3, `${slices} slices`);
    // A message of another conversation is not readable through this one.
    errorText(
      await client.callTool({ name: "get_message", arguments: { conversation_id: "conv_okapi", message_id: huge.id } }),
    );
  });

  test("reads what the server writes while both run (WAL), and never blocks its writes", async () => {
    const fresh = (i: number) =>
      conv(`conv_live_${i}`, Date.now(), [msg(1, null, "user", `live capybara number ${i}`)], { title: `Live ${i}` });
    // Writes through the server and reads through `hearth mcp`, interleaved.
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 8; i++) {
      work.push(api(t, "POST", "/import", exportFile(fresh(i))));
      work.push(client.callTool({ name: "search_history", arguments: { query: "capybara", limit: 50 } }));
      work.push(client.callTool({ name: "list_recent_conversations", arguments: { limit: 5 } }));
    }
    for (const r of await Promise.all(work)) assert.ok(!(r as CallToolResult).isError, JSON.stringify(r));
    const after = structured<McpSearch>(
      await client.callTool({ name: "search_history", arguments: { query: "capybara", limit: 50 } }),
    );
    assert.deepEqual(
      new Set(after.hits.filter((h) => h.kind === "message").map((h) => h.conversation_id)),
      new Set(Array.from({ length: 8 }, (_, i) => `conv_live_${i}`)),
    );
    // A delete through the server is seen at once too.
    await api(t, "DELETE", "/conversations/conv_live_0");
    errorText(await client.callTool({ name: "get_conversation", arguments: { conversation_id: "conv_live_0" } }));
  });
});

describe("hearth mcp never writes the history", () => {
  test("the database file is byte-for-byte the same after every tool ran, and the connection refuses writes", async () => {
    const t = await startTestServer({ apiKey: KEY }, { withModel: false });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-mcp-ro-"));
    try {
      await api(t, "POST", "/import", SEED);
      await t.server.close();
      // A copy of the closed server's file: nothing else has it open.
      fs.copyFileSync(path.join(t.dataDir, "history.sqlite"), path.join(dataDir, "history.sqlite"));
      const file = path.join(dataDir, "history.sqlite");
      const state = () => ({
        hash: crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex"),
        mtimeMs: fs.statSync(file).mtimeMs,
      });
      const before = state();
      const { client } = await stdioClient(dataDir);
      for (const args of SEARCHES) await client.callTool({ name: "search_history", arguments: args });
      await client.callTool({ name: "list_recent_conversations", arguments: {} });
      await client.callTool({ name: "get_conversation", arguments: { conversation_id: "conv_huge" } });
      await client.callTool({ name: "get_message", arguments: { conversation_id: "conv_huge", message_id: 2 } });
      await client.close();
      assert.deepEqual(state(), before);
      // The connection `hearth mcp` reads through is opened read-only: SQLite itself refuses a write.
      const db = openHistoryDatabaseReadOnly(file);
      try {
        assert.throws(() => db.exec("DELETE FROM conversations"), /readonly|read-only|query_only/i);
      } finally {
        db.close();
      }
      assert.deepEqual(state(), before);
    } finally {
      await t.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("with no history yet the tools say so, and work once a server created it", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-mcp-empty-"));
    const { client } = await stdioClient(dataDir);
    let t: TestServer | undefined;
    try {
      assert.match(
        errorText(await client.callTool({ name: "list_recent_conversations", arguments: {} })),
        /no history at .*history\.sqlite yet/i,
      );
      assert.deepEqual(fs.readdirSync(dataDir), [], "hearth mcp created nothing");
      t = await startTestServer({ apiKey: KEY, dataDir }, { withModel: false });
      await api(t, "POST", "/import", SEED);
      const list = structured<{ conversations: unknown[] }>(
        await client.callTool({ name: "list_recent_conversations", arguments: {} }),
      );
      assert.equal(list.conversations.length, 4);
    } finally {
      await client.close();
      await t?.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("/mcp over Streamable HTTP", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ apiKey: KEY }, { withModel: false });
    await api(t, "POST", "/import", SEED);
  });
  after(() => t?.close());

  test("with the key: the same tools and answers as /api", async () => {
    const { client, transport } = httpClient(t.url);
    await client.connect(transport);
    try {
      assert.equal(transport.sessionId, undefined, "stateless");
      const { tools } = await client.listTools();
      assert.equal(tools.length, 4);
      for (const args of SEARCHES) {
        const expected = asMcp(await api<SearchPage>(t, "GET", `/search?${apiQuery(args)}`));
        assert.deepEqual(
          structured<McpSearch>(await client.callTool({ name: "search_history", arguments: args })),
          expected,
        );
      }
      const c = structured<McpConversation>(
        await client.callTool({ name: "get_conversation", arguments: { conversation_id: "conv_okapi" } }),
      );
      assert.deepEqual(
        c.messages.map((m) => m.role),
        ["user", "assistant"],
      );
    } finally {
      await client.close();
    }
  });

  test("/openapi.json documents /mcp", async () => {
    const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { summary: string }>>;
    };
    assert.deepEqual(Object.keys(doc.paths["/mcp"] ?? {}), ["post"]);
    assert.match(doc.paths["/mcp"]!.post!.summary, /search_history/);
  });

  test("without the key, or with a wrong one: 401 and nothing served", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }] as Record<string, string>[]) {
      const { client, transport } = httpClient(t.url, headers);
      await assert.rejects(client.connect(transport), /401|Unauthorized|API key/i);
    }
    const raw = await rawRequest(t.url, {
      path: "/mcp",
      headers: { accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    assert.equal(raw.status, 401);
  });

  test("Host and Origin guards: rebinding names and cross-site requests are refused; GET and DELETE are 405", async () => {
    const port = new URL(t.url).port;
    const init = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    });
    const send = (headers: Record<string, string>, method = "POST") =>
      rawRequest(t.url, {
        method,
        path: "/mcp",
        headers: {
          authorization: `Bearer ${KEY}`,
          accept: "application/json, text/event-stream",
          host: `127.0.0.1:${port}`,
          ...headers,
        },
        ...(method === "POST" ? { body: init } : {}),
      });
    const ok = await send({});
    assert.equal(ok.status, 200, ok.body);
    assert.equal(
      (JSON.parse(ok.body) as { result: { serverInfo: { name: string } } }).result.serverInfo.name,
      "hearth-history",
    );
    const rebinding = await send({ host: `evil.example:${port}` });
    assert.equal(rebinding.status, 403);
    assert.match(rebinding.body, /invalid_host/);
    const foreign = await send({ origin: "https://evil.example" });
    assert.equal(foreign.status, 403);
    assert.match(foreign.body, /invalid_origin/);
    for (const site of ["cross-site", "same-site"]) {
      const r = await send({ "sec-fetch-site": site }, "GET");
      assert.equal(r.status, 403, `GET with Sec-Fetch-Site: ${site}`);
    }
    const form = await send({ "content-type": "text/plain" });
    assert.equal(form.status, 415, "a body a page could send without a preflight");
    for (const method of ["GET", "DELETE"]) {
      const r = await send({}, method);
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, "POST");
    }
  });
});
