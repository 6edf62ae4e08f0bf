/**
 * Codex CLI against Hearth (issue 18): its requests replayed as Codex sends them (long
 * `instructions`, function tools, a freeform `apply_patch`, an MCP namespace, hosted `web_search`,
 * `stream`, `store: false`, `include: ["reasoning.encrypted_content"]`, `reasoning.summary`,
 * `prompt_cache_key`, `text.verbosity`), through raw HTTP/SSE and through the `openai` client, on a
 * scripted thinking model (Qwen3's tokenizer and template) whose reply has a thought and an answer.
 * The request shapes follow openai/codex's `ResponsesApiRequest` and tool specs (codex-rs).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type OpenAI from "openai";
import { rawRequest } from "../helpers/raw-http.js";
import { startScriptedServer, type ScriptedServer } from "../helpers/scripted-server.js";

let t: ScriptedServer;
let model: string;

before(async () => {
  // Only the model this file uses: the shared cache holds every scripted model, each scanned first.
  t = await startScriptedServer(["qwen3-think"]);
  model = t.id("qwen3-think");
});
after(async () => {
  await t?.close();
});

/** About 10,000 characters of agent instructions, as Codex's base instructions are. */
const INSTRUCTIONS = [
  "You are a coding agent running in the Codex CLI, a terminal-based coding assistant.",
  ...Array.from(
    { length: 46 },
    (_, i) =>
      `Guideline ${i + 1}: keep changes focused on the task, read the surrounding code before editing it, run the project's own checks when they exist, and explain what you changed and why in a short summary for the user.`,
  ),
].join("\n\n");

const shellCommand = {
  type: "function",
  name: "shell_command",
  description: "Runs a shell command and returns its output.",
  strict: false,
  parameters: {
    type: "object",
    properties: {
      command: { type: "string", description: "The shell script to execute." },
      workdir: { type: "string", description: "The working directory." },
      timeout_ms: { type: "number", description: "The timeout in milliseconds." },
    },
    required: ["command"],
    additionalProperties: false,
  },
};
const updatePlan = {
  type: "function",
  name: "update_plan",
  description: "Updates the task plan.",
  strict: false,
  parameters: {
    type: "object",
    properties: {
      explanation: { type: "string" },
      plan: {
        type: "array",
        items: {
          type: "object",
          properties: { step: { type: "string" }, status: { type: "string" } },
          required: ["step", "status"],
          additionalProperties: false,
        },
      },
    },
    required: ["plan"],
    additionalProperties: false,
  },
};
const applyPatch = {
  type: "custom",
  name: "apply_patch",
  description: "Use the `apply_patch` tool to edit files. This is a FREEFORM tool, so do not wrap the patch in JSON.",
  format: {
    type: "grammar",
    syntax: "lark",
    definition:
      'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\nend_patch: "*** End Patch" LF?\nhunk: add_hunk | delete_hunk | update_hunk\nadd_hunk: "*** Add File: " filename LF add_line+\ndelete_hunk: "*** Delete File: " filename LF\nupdate_hunk: "*** Update File: " filename LF change?\nfilename: /(.+)/\nadd_line: "+" /(.*)/ LF -> line\nchange: (change_context | change_line)+\nchange_context: ("@@" | "@@ " /(.+)/) LF\nchange_line: ("+" | "-" | " ") /(.*)/ LF\n%import common.LF',
  },
};
const mcpNamespace = {
  type: "namespace",
  name: "mcp__docs__",
  description: "Tools of the docs MCP server.",
  tools: [
    {
      type: "function",
      name: "search",
      description: "Searches the documentation.",
      strict: false,
      defer_loading: true,
      parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
    },
  ],
};
const webSearch = { type: "web_search", external_web_access: false };

const FIRST_INPUT = [
  {
    type: "message",
    role: "developer",
    content: [
      {
        type: "input_text",
        text: "<permissions instructions>Filesystem sandboxing: workspace-write.</permissions instructions>",
      },
    ],
  },
  {
    type: "message",
    role: "user",
    content: [
      {
        type: "input_text",
        text: "<environment_context>\n  <cwd>/home/user/project</cwd>\n  <shell>bash</shell>\n</environment_context>",
      },
    ],
  },
  { type: "message", role: "user", content: [{ type: "input_text", text: "Hi" }] },
];

/** A request as Codex CLI's `ResponsesApiRequest` serializes it. */
function codexRequest(input: unknown[]): Record<string, unknown> {
  return {
    model,
    instructions: INSTRUCTIONS,
    input,
    tools: [shellCommand, updatePlan, applyPatch, webSearch, mcpNamespace],
    tool_choice: "auto",
    parallel_tool_calls: false,
    reasoning: { effort: "medium", summary: "auto" },
    store: false,
    stream: true,
    include: ["reasoning.encrypted_content"],
    prompt_cache_key: "0199a213-81c0-7800-8aa1-bbab2a035a53",
    text: { verbosity: "medium" },
  };
}

interface SseEvent {
  event: string;
  data: { type: string; sequence_number: number } & Record<string, unknown>;
}

function parseSse(body: string): SseEvent[] {
  return body
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const lines = block.split("\n");
      const event = lines.find((l) => l.startsWith("event: "))?.slice(7) ?? "";
      const data = lines
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n");
      return { event, data: JSON.parse(data) as SseEvent["data"] };
    });
}

describe("Codex CLI", () => {
  test("its first turn, as raw HTTP with its headers: 200 and the SSE events it reads", async () => {
    assert.ok(INSTRUCTIONS.length > 9_000);
    const res = await rawRequest(t.url, {
      path: "/v1/responses",
      body: JSON.stringify(codexRequest(FIRST_INPUT)),
      headers: {
        accept: "text/event-stream",
        authorization: "Bearer unused",
        "openai-beta": "responses=experimental",
        originator: "codex_cli_rs",
        session_id: "0199a213-81c0-7800-8aa1-bbab2a035a53",
        "user-agent": "codex_cli_rs/0.46.0 (Linux; x86_64) xterm",
      },
    });
    assert.equal(res.status, 200, res.body);
    assert.match(String(res.headers["content-type"]), /^text\/event-stream/);
    const events = parseSse(res.body);
    for (const e of events) assert.equal(e.event, e.data.type, "each event is named after its type");
    assert.deepEqual(
      events.map((e) => e.data.sequence_number),
      events.map((_, i) => i),
    );
    assert.equal(events[0]?.data.type, "response.created");
    const done = events.filter((e) => e.data.type === "response.output_item.done").map((e) => e.data.item);
    assert.deepEqual(
      done.map((item) => (item as { type: string }).type),
      ["reasoning", "message"],
    );
    const completed = events.at(-1)!.data;
    assert.equal(completed.type, "response.completed");
    const response = completed.response as OpenAI.Responses.Response & {
      warnings?: { code: string; param: string }[];
    };
    assert.equal(response.output_text, undefined);
    const message = response.output[1];
    assert.ok(message?.type === "message" && message.content[0]?.type === "output_text");
    assert.equal(message.content[0].text, "Hello there!");
    assert.ok((response.usage?.input_tokens ?? 0) > 2_000, "the instructions and tools reached the model");
    assert.ok((response.usage?.output_tokens_details.reasoning_tokens ?? 0) > 0);
    assert.deepEqual(response.reasoning, { effort: "medium", summary: null });
    // web_search is OpenAI's; the model was not offered it, and the response says so.
    assert.deepEqual(
      response.warnings?.map((w) => [w.code, w.param]),
      [["tool_not_available", "tools.3"]],
    );
    // store: false keeps nothing.
    const got = await rawRequest(t.url, { method: "GET", path: `/v1/responses/${response.id}` });
    assert.equal(got.status, 404);
  });

  test("its first turn through the openai client, then a next turn carrying every item kind Codex sends back", async () => {
    const stream = (await t.client.responses.create(
      codexRequest(FIRST_INPUT) as never,
    )) as unknown as AsyncIterable<OpenAI.Responses.ResponseStreamEvent>;
    let final: OpenAI.Responses.Response | undefined;
    let text = "";
    for await (const e of stream) {
      if (e.type === "response.output_text.delta") text += e.delta;
      if (e.type === "response.completed") final = e.response;
    }
    assert.ok(final);
    assert.equal(text, "Hello there!");

    // Codex resends the history: the reply's items, then its tool calls (a namespaced MCP
    // function, a freeform patch) and their outputs, then the user's next message.
    const next = (await t.client.responses.create(
      codexRequest([
        ...FIRST_INPUT,
        ...final.output.map((item) => {
          const { id: _id, status: _status, ...sent } = item as unknown as Record<string, unknown>;
          return sent.type === "reasoning" ? { ...sent, encrypted_content: null } : sent;
        }),
        {
          type: "function_call",
          name: "search",
          namespace: "mcp__docs__",
          arguments: '{"query":"config"}',
          call_id: "call_docs",
        },
        { type: "function_call_output", call_id: "call_docs", output: "config.toml holds the settings." },
        {
          type: "custom_tool_call",
          call_id: "call_patch",
          name: "apply_patch",
          input: "*** Begin Patch\n*** Add File: a.txt\n+hello\n*** End Patch\n",
        },
        {
          type: "custom_tool_call_output",
          call_id: "call_patch",
          output: "Success. Updated the following files:\nA a.txt",
        },
        { type: "message", role: "user", content: [{ type: "input_text", text: "Thanks" }] },
      ]) as never,
    )) as unknown as AsyncIterable<OpenAI.Responses.ResponseStreamEvent>;
    let second: OpenAI.Responses.Response | undefined;
    for await (const e of next) if (e.type === "response.completed") second = e.response;
    assert.ok(second);
    assert.ok((second.usage?.input_tokens ?? 0) > (final.usage?.input_tokens ?? 0));
  });
});
