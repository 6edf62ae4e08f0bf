/**
 * /v1/responses with MCP tools (server/openai/responses-mcp.ts), run by Hearth itself: the real
 * everything server from npm over stdio and over Streamable HTTP, configured in mcp.json, a scripted
 * model whose turn is a native call of `everything__echo` (and the tiny real model forced with
 * `tool_choice`), through the official `openai` client: tool lists, calls run without approval and
 * fed back within the step limit, approval requests approved and declined with
 * `previous_response_id`, `allowed_tools`, the allow-list for `server_url`, and the streamed events.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import OpenAI from "openai";
import type { Response, ResponseStreamEvent } from "openai/resources/responses/responses";
import { everythingHttp, everythingStdio } from "../helpers/mcp-servers.js";
import { scriptedModelsDir } from "../helpers/scripted-models.js";
import { scriptedUpstream, type ScriptedUpstream } from "../helpers/scripted-upstream.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const API_KEY = "responses-mcp-key";

let t: TestServer;
let library: ReturnType<typeof scriptedModelsDir>;
let http: Awaited<ReturnType<typeof everythingHttp>>;
let echo: string;
let tiny: string;

before(async () => {
  library = scriptedModelsDir(["qwen3-mcp-echo"]);
  http = await everythingHttp();
  // Three model turns at most: the scripted model calls echo again after each result, and the last turn is offered no calls.
  t = await startTestServer({ apiKey: API_KEY, modelDirs: [library.dir], parallel: 1, toolMaxSteps: 3 });
  fs.writeFileSync(
    path.join(t.dataDir, "mcp.json"),
    JSON.stringify({
      mcpServers: {
        everything: everythingStdio(),
        web: { type: "http", url: http.url },
        broken: { command: process.execPath, args: ["-e", "process.stderr.write('no such thing'); process.exit(3)"] },
      },
    }),
  );
  const listed = (await t.client.models.list()).data.map((m) => m.id);
  echo = listed.find((m) => m.startsWith("qwen3-mcp-echo"))!;
  tiny = listed.find((m) => m.includes("stories260K"))!;
  assert.ok(echo && tiny, listed.join(", "));
});

after(async () => {
  await t?.close();
  await http?.close();
  library?.cleanup();
});

type Item = Response["output"][number];
const ofType = <K extends Item["type"]>(r: Response, type: K) =>
  r.output.filter((i): i is Extract<Item, { type: K }> => i.type === type);

const everything = (extra: Record<string, unknown> = {}) =>
  ({ type: "mcp", server_label: "everything", ...extra }) as OpenAI.Responses.Tool.Mcp;

describe("Responses API: MCP tools", () => {
  test("lists the server's tools, runs a call without approval and feeds it back, within the step limit", async () => {
    const r = await t.client.responses.create({
      model: echo,
      input: "Echo Paris.",
      tools: [everything({ require_approval: "never" })],
    });
    assert.equal(r.status, "completed");
    const [list] = ofType(r, "mcp_list_tools");
    assert.equal(r.output[0]?.type, "mcp_list_tools");
    assert.equal(list?.server_label, "everything");
    const echoTool = list?.tools.find((x) => x.name === "echo");
    assert.ok(echoTool, "the echo tool is listed");
    assert.equal(echoTool.description, "Echoes back the input string");
    assert.deepEqual(Object.keys((echoTool.input_schema as { properties: object }).properties), ["message"]);
    const calls = ofType(r, "mcp_call");
    // Turns 1 and 2 called, each call ran and went back to the model; turn 3, the limit, was offered no calls.
    assert.equal(calls.length, 2);
    assert.equal(r.output.at(-1)?.type, "message", JSON.stringify(r.output.at(-1)));
    for (const call of calls) {
      assert.equal(call.server_label, "everything");
      assert.equal(call.name, "echo");
      assert.deepEqual(JSON.parse(call.arguments), { message: "Paris" });
      assert.equal(call.output, "Echo: Paris");
      assert.equal(call.error, null);
      assert.equal(call.status, "completed");
      assert.match(call.id, /^mcp_/);
    }
    assert.notEqual(calls[0]!.id, calls[1]!.id);
    assert.equal(ofType(r, "mcp_approval_request").length, 0);
    assert.ok((r.usage?.input_tokens ?? 0) > 0);
    // GET gives the same object back.
    const got = await t.client.responses.retrieve(r.id);
    assert.deepEqual(got.output, r.output);
    // The next response continues after the results (the model saw them): it calls again, once more listed nowhere.
    const next = await t.client.responses.create({
      model: echo,
      previous_response_id: r.id,
      input: "Again.",
      tools: [everything({ require_approval: "never" })],
    });
    assert.equal(ofType(next, "mcp_list_tools").length, 0, "a continuation does not list again");
    assert.equal(ofType(next, "mcp_call")[0]?.output, "Echo: Paris");
    // History holds every turn: each call and its result (the last one's given by the continuation).
    const [, conversationId] = JSON.parse(Buffer.from(next.id.slice(5), "base64url").toString("utf8")) as [
      number,
      string,
    ];
    const res = await fetch(`${t.url}/api/conversations/${conversationId}`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    const detail = (await res.json()) as { messages: { role: string; content: string; toolCalls: unknown[] | null }[] };
    assert.deepEqual(
      detail.messages.map((m) =>
        m.role === "tool"
          ? `tool:${(JSON.parse(m.content) as { output: string }).output}`
          : m.toolCalls?.length
            ? `${m.role}+call`
            : m.role,
      ),
      [
        "user",
        "assistant+call",
        "tool:Echo: Paris",
        "assistant+call",
        "tool:Echo: Paris",
        "assistant",
        "user",
        "assistant+call",
        "tool:Echo: Paris",
        "assistant+call",
        "tool:Echo: Paris",
        "assistant",
      ],
    );
  });

  test("require_approval (always by default): an approval request, approved with previous_response_id", async () => {
    const tools = [everything()];
    const r = await t.client.responses.create({ model: echo, input: "Echo Paris.", tools });
    assert.equal(r.status, "completed");
    assert.equal(ofType(r, "mcp_call").length, 0, "nothing ran");
    const [request] = ofType(r, "mcp_approval_request");
    assert.ok(request);
    assert.equal(request.server_label, "everything");
    assert.equal(request.name, "echo");
    assert.deepEqual(JSON.parse(request.arguments), { message: "Paris" });
    assert.match(request.id, /^mcpr_/);

    const approved = await t.client.responses.create({
      model: echo,
      previous_response_id: r.id,
      input: [{ type: "mcp_approval_response", approval_request_id: request.id, approve: true }],
      tools,
    });
    const [call] = ofType(approved, "mcp_call");
    assert.equal(approved.output[0]?.type, "mcp_call");
    assert.equal(call?.approval_request_id, request.id);
    assert.equal(call?.output, "Echo: Paris");
    assert.equal(call?.name, "echo");
    // The model, given the result, calls again: a new request for approval.
    const [again] = ofType(approved, "mcp_approval_request");
    assert.ok(again && again.id !== request.id);

    // An approval request answered once is not waiting any more.
    await assert.rejects(
      t.client.responses.create({
        model: echo,
        previous_response_id: approved.id,
        input: [{ type: "mcp_approval_response", approval_request_id: request.id, approve: true }],
        tools,
      }),
      (err: InstanceType<typeof OpenAI.APIError>) => err.status === 400 && err.param === "input.0.approval_request_id",
    );
  });

  test("an approval request declined: nothing runs, the model is told and goes on", async () => {
    const tools = [everything({ require_approval: { never: { tool_names: ["add"] } } })];
    const r = await t.client.responses.create({ model: echo, input: "Echo Paris.", tools });
    const [request] = ofType(r, "mcp_approval_request");
    assert.ok(request, "echo is not in the never list: it needs approval");
    const declined = await t.client.responses.create({
      model: echo,
      previous_response_id: r.id,
      input: [{ type: "mcp_approval_response", approval_request_id: request.id, approve: false }],
      tools,
    });
    assert.equal(ofType(declined, "mcp_call").length, 0);
    assert.equal(ofType(declined, "mcp_approval_request").length, 1);
    // What the model was told is in the stored conversation.
    const items = await t.client.responses.inputItems.list(declined.id);
    const output = items.data.find((i) => i.type === "function_call_output") as { output?: string } | undefined;
    assert.match(output?.output ?? "", /declined/);
  });

  test("read_only filters match the tools the server annotates readOnlyHint", async () => {
    const r = await t.client.responses.create({
      model: echo,
      input: "Echo Paris.",
      tools: [everything({ allowed_tools: { read_only: true }, require_approval: { never: { read_only: true } } })],
    });
    const listed = ofType(r, "mcp_list_tools")[0]!.tools;
    assert.ok(listed.some((x) => x.name === "echo"));
    assert.ok(!listed.some((x) => x.name === "toggle-simulated-logging"), "not read-only: not allowed");
    for (const tool of listed) assert.equal((tool.annotations as { readOnlyHint?: boolean }).readOnlyHint, true);
    // echo is read-only, so it needs no approval: it ran.
    assert.equal(ofType(r, "mcp_call")[0]?.output, "Echo: Paris");
    assert.equal(ofType(r, "mcp_approval_request").length, 0);
  });

  test("allowed_tools: only those tools are listed and offered", async () => {
    const r = await t.client.responses.create({
      model: echo,
      input: "Echo Paris.",
      tools: [everything({ require_approval: "never", allowed_tools: ["echo", "get-sum"] })],
    });
    const names = ofType(r, "mcp_list_tools")[0]?.tools.map((x) => x.name);
    assert.deepEqual(names?.sort(), ["echo", "get-sum"]);

    const without = await t.client.responses.create({
      model: echo,
      input: "Echo Paris.",
      tools: [everything({ require_approval: "never", allowed_tools: { tool_names: ["get-sum"] } })],
    });
    assert.deepEqual(
      ofType(without, "mcp_list_tools")[0]?.tools.map((x) => x.name),
      ["get-sum"],
    );
    // The model's grammar offers only get-sum, so its call is one (with arguments the server refuses: a failed call).
    const calls = ofType(without, "mcp_call");
    assert.ok(calls.length > 0);
    for (const call of calls) {
      assert.equal(call.name, "get-sum", "echo was not offered, so it did not run");
      if (call.error) {
        assert.equal(call.status, "failed");
        assert.equal(call.output, null);
      }
    }
  });

  test("a server_url runs only when it is a configured server's; others are refused with what to configure", async () => {
    const r = await t.client.responses.create({
      model: echo,
      input: "Echo Paris.",
      // The label is the request's own; the server is mcp.json's `web` (Streamable HTTP).
      tools: [{ type: "mcp", server_label: "everything", server_url: http.url, require_approval: "never" }],
    });
    assert.ok(ofType(r, "mcp_list_tools")[0]?.tools.some((x) => x.name === "echo"));
    assert.equal(ofType(r, "mcp_call")[0]?.output, "Echo: Paris");

    for (const server_url of ["https://example.com/mcp", "http://127.0.0.1:1/mcp", "file:///etc/passwd"]) {
      await assert.rejects(
        t.client.responses.create({
          model: echo,
          input: "Echo Paris.",
          tools: [{ type: "mcp", server_label: "x", server_url, require_approval: "never" }],
        }),
        (err: InstanceType<typeof OpenAI.APIError>) =>
          err.status === 400 &&
          err.param === "tools.0.server_url" &&
          err.code === "mcp_server_not_configured" &&
          /mcp\.json/.test(err.message),
      );
    }
    await assert.rejects(
      t.client.responses.create({ model: echo, input: "x", tools: [{ type: "mcp", server_label: "nowhere" }] }),
      (err: InstanceType<typeof OpenAI.APIError>) => err.status === 400 && err.param === "tools.0.server_label",
    );
    // A configured server that cannot start: OpenAI's 424, saying why.
    await assert.rejects(
      t.client.responses.create({ model: echo, input: "x", tools: [{ type: "mcp", server_label: "broken" }] }),
      (err: InstanceType<typeof OpenAI.APIError>) =>
        err.status === 424 && err.code === "mcp_list_tools_failed" && /no such thing/.test(err.message),
    );
    // Headers go with a configured server, never from a request.
    await assert.rejects(
      t.client.responses.create({
        model: echo,
        input: "x",
        tools: [{ type: "mcp", server_label: "web", headers: { authorization: "Bearer x" } }],
      }),
      (err: InstanceType<typeof OpenAI.APIError>) => err.status === 400 && err.param === "tools.0.headers",
    );
  });

  test("streamed: the items' events in order, and the final object as returned", async () => {
    const stream = await t.client.responses.create({
      model: echo,
      input: "Echo Paris.",
      tools: [everything({ require_approval: "never" })],
      stream: true,
    });
    const events: ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    events.forEach((e, i) => assert.equal(e.sequence_number, i));
    const types = events.map((e) => e.type);
    const mcpTypes = types.filter(
      (x) =>
        x.includes("mcp") ||
        x.startsWith("response.output_item") ||
        x.startsWith("response.c") ||
        x === "response.in_progress",
    );
    assert.deepEqual(mcpTypes.slice(0, 6), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.mcp_list_tools.in_progress",
      "response.mcp_list_tools.completed",
      "response.output_item.done",
    ]);
    // One call: added, in progress, argument deltas, arguments done, completed, done.
    const first = types.indexOf("response.mcp_call.in_progress");
    assert.equal(types[first - 1], "response.output_item.added");
    const callEvents = types.slice(first, types.indexOf("response.output_item.done", first) + 1);
    const deltas = callEvents.filter((x) => x === "response.mcp_call_arguments.delta").length;
    assert.ok(deltas >= 1);
    assert.deepEqual(
      callEvents.filter((x) => x !== "response.mcp_call_arguments.delta"),
      [
        "response.mcp_call.in_progress",
        "response.mcp_call_arguments.done",
        "response.mcp_call.completed",
        "response.output_item.done",
      ],
    );
    const args = events
      .filter(
        (e): e is OpenAI.Responses.ResponseMcpCallArgumentsDeltaEvent => e.type === "response.mcp_call_arguments.delta",
      )
      .filter((e) => e.output_index === 1)
      .map((e) => e.delta)
      .join("");
    assert.deepEqual(JSON.parse(args), { message: "Paris" });
    const done = events.find((e) => e.type === "response.output_item.done" && e.item.type === "mcp_call");
    assert.equal(
      done?.type === "response.output_item.done" && done.item.type === "mcp_call" && done.item.output,
      "Echo: Paris",
    );
    const completed = events.at(-1);
    assert.equal(completed?.type, "response.completed");
    const final = completed?.type === "response.completed" ? completed.response : null;
    assert.equal(final?.output.filter((i) => i.type === "mcp_call").length, 2);
    assert.deepEqual((await t.client.responses.retrieve(final!.id)).output, final!.output);
  });

  test("streamed: an approval request is one item, added and done whole", async () => {
    const stream = await t.client.responses.create({
      model: echo,
      input: "Echo Paris.",
      tools: [everything()],
      stream: true,
    });
    const events: ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    const around = events.filter(
      (e) =>
        (e.type === "response.output_item.added" || e.type === "response.output_item.done") &&
        e.item.type === "mcp_approval_request",
    );
    assert.deepEqual(
      around.map((e) => e.type),
      ["response.output_item.added", "response.output_item.done"],
    );
    for (const e of around)
      if (e.type === "response.output_item.added" || e.type === "response.output_item.done")
        assert.deepEqual(e.item.type === "mcp_approval_request" && JSON.parse(e.item.arguments), { message: "Paris" });
    assert.ok(!events.some((e) => e.type.startsWith("response.mcp_call")), "nothing ran");
    assert.equal(events.at(-1)?.type, "response.completed");
  });

  test("a client that keeps its own context sends the items back (store: false)", async () => {
    const r = await t.client.responses.create({
      model: echo,
      store: false,
      input: [
        { role: "user", content: "Echo Paris." },
        {
          type: "mcp_call",
          id: "mcp_call_earlier",
          server_label: "everything",
          name: "echo",
          arguments: '{"message": "Paris"}',
          output: "Echo: Paris",
        },
        { type: "mcp_list_tools", id: "mcpl_earlier", server_label: "everything", tools: [] },
      ],
      tools: [everything({ require_approval: "never" })],
    });
    assert.equal(ofType(r, "mcp_call")[0]?.output, "Echo: Paris");
    // An approval for a call that was never requested names the item.
    await assert.rejects(
      t.client.responses.create({
        model: echo,
        store: false,
        input: [
          { role: "user", content: "Echo Paris." },
          { type: "mcp_approval_response", approval_request_id: "mcpr_call_nothing", approve: true },
        ],
        tools: [everything()],
      }),
      (err: InstanceType<typeof OpenAI.APIError>) => err.status === 400 && err.param === "input.1.approval_request_id",
    );
  });

  test("tool_choice forces an MCP tool on a model that would not call it", async () => {
    const r = await t.client.responses.create({
      model: tiny,
      input: "Once upon a time",
      tools: [everything({ require_approval: "never", allowed_tools: ["echo"] })],
      tool_choice: { type: "mcp", server_label: "everything", name: "echo" },
      temperature: 0,
      max_output_tokens: 512,
    });
    const [call] = ofType(r, "mcp_call");
    assert.equal(call?.name, "echo", JSON.stringify(r.output));
    assert.equal(typeof JSON.parse(call!.arguments).message, "string");
    assert.match(call?.output ?? "", /^Echo: /);
    // A turn cut by the token limit runs none of its calls.
    const cut = await t.client.responses.create({
      model: tiny,
      input: "Once upon a time",
      tools: [everything({ require_approval: "never", allowed_tools: ["echo"] })],
      tool_choice: { type: "mcp", server_label: "everything", name: "echo" },
      temperature: 0,
      max_output_tokens: 8,
    });
    assert.equal(cut.status, "incomplete");
    for (const c of ofType(cut, "mcp_call")) {
      assert.equal(c.status, "incomplete");
      assert.equal(c.output, null);
    }
    await assert.rejects(
      t.client.responses.create({
        model: tiny,
        input: "x",
        tools: [everything({ allowed_tools: ["echo"] })],
        tool_choice: { type: "mcp", server_label: "everything", name: "add" },
      }),
      (err: InstanceType<typeof OpenAI.APIError>) => err.status === 400 && err.param === "tool_choice",
    );
  });
});

describe("Responses API: MCP tools that hang or are stopped, with a scripted remote model", () => {
  let s: TestServer;
  let upstream: ScriptedUpstream;
  const hang = {
    calls: [{ name: "everything__trigger-long-running-operation", arguments: '{"duration": 30, "steps": 30}' }],
  };
  const tools = [everything({ require_approval: "never", allowed_tools: ["trigger-long-running-operation"] })];

  before(async () => {
    upstream = await scriptedUpstream();
    s = await startTestServer({ apiKey: API_KEY, toolMaxSteps: 3, toolTimeout: 3 }, { withModel: false });
    fs.writeFileSync(
      path.join(s.dataDir, "mcp.json"),
      JSON.stringify({ mcpServers: { everything: everythingStdio() } }),
    );
    const added = await fetch(`${s.url}/api/providers`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({
        id: "up",
        name: "Scripted upstream",
        kind: "openai-compatible",
        baseUrl: `${upstream.url}/v1`,
      }),
    });
    assert.equal(added.status, 201, await added.text());
  });
  after(async () => {
    await s?.close();
    await upstream?.close();
  });

  test("a call that outlives --tool-timeout fails as a timeout, and the model is told and answers", async () => {
    upstream.script = [hang, { text: "It timed out." }];
    const started = Date.now();
    const r = await s.client.responses.create({ model: "up/m", input: "hang it", tools });
    assert.ok(Date.now() - started < 20_000, "the 30 s operation was cut at the timeout");
    const [call] = ofType(r, "mcp_call");
    assert.equal(call?.status, "failed", JSON.stringify(call));
    assert.equal(call?.output, null);
    assert.match(JSON.stringify(call?.error), /did not answer within 3 s/);
    assert.equal(r.output.at(-1)?.type, "message");
    assert.equal(r.output_text, "It timed out.");
    // The model got the timeout as the call's result.
    const sent = upstream.requests.at(-1)!.messages as { role: string; content: string }[];
    assert.match(sent.find((m) => m.role === "tool")?.content ?? "", /did not answer within 3 s/);
  });

  test("a client that goes away mid-call stops the tool: the server answers the next request at once", async () => {
    upstream.script = [hang, { text: "never sent" }];
    const controller = new AbortController();
    const pending = s.client.responses.create(
      { model: "up/m", input: "hang it", tools, stream: true },
      { signal: controller.signal },
    );
    const stream = await pending;
    const seen: string[] = [];
    try {
      for await (const event of stream) {
        seen.push(event.type);
        if (event.type === "response.mcp_call.in_progress") setTimeout(() => controller.abort(), 200);
      }
    } catch {
      // The SDK may end the iteration or throw its abort error: either way the client left.
    }
    assert.ok(seen.includes("response.mcp_call.in_progress"), seen.join(" "));
    assert.equal(seen.includes("response.completed"), false, "the client left before the end");
    // Stopped, not left running: a call left to the 3 s timeout would have gone back to the model
    // for another turn.
    const asked = upstream.requests.length;
    await new Promise((r) => setTimeout(r, 4500));
    assert.equal(upstream.requests.length, asked, "no model turn after the client left");
    // The stopped call frees the server's MCP connection: a call to the same server runs now.
    upstream.script = [{ calls: [{ name: "everything__echo", arguments: '{"message": "after"}' }] }, { text: "ok" }];
    const started = Date.now();
    const r = await s.client.responses.create({
      model: "up/m",
      input: "echo",
      tools: [everything({ require_approval: "never", allowed_tools: ["echo"] })],
    });
    assert.equal(ofType(r, "mcp_call")[0]?.output, "Echo: after");
    assert.ok(Date.now() - started < 3000, `answered in ${Date.now() - started} ms, not after the hung call`);
  });
});
