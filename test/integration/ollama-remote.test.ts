/**
 * The Ollama port with a remote provider's models (another real Hearth as the upstream, reached
 * as an OpenAI-compatible server) and the end of a stream that fails after its first line, through
 * the official `ollama` client: `<provider>/<model>` answers chat, generate and embed, is listed by
 * /api/tags and /api/show (never by /api/ps: it does not run here), and `repeat_penalty` reaches the
 * upstream as vLLM's `repetition_penalty`. A generation cut by the request timeout ends its NDJSON
 * stream with Ollama's `{"error": ...}` line, which the client throws.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Ollama } from "ollama";
import net from "node:net";
import { startHearth, type Hearth } from "../helpers/remote.js";
import { startTestServer } from "../helpers/server.js";
import { scriptedModelsDir } from "../helpers/scripted-models.js";

const REMOTE = "up/stories260K";
let upstream: Hearth;
let hearth: Hearth;
let ollama: Ollama;
let library: { dir: string; cleanup(): void } | undefined;
let forever = "";

before(async () => {
  library = scriptedModelsDir(["qwen3-answer-forever"]);
  upstream = await startHearth("upstream-key-0a7c52e1");
  hearth = await startHearth("hearth-key-91d3b6f0", { ollamaPort: 0, requestTimeout: 3, modelDirs: [library.dir] });
  const added = await hearth.api("/api/providers", {
    body: {
      id: "up",
      name: "Upstream Hearth",
      kind: "openai-compatible",
      baseUrl: `${upstream.url}/v1`,
      apiKey: upstream.apiKey,
    },
  });
  assert.equal(added.status, 201);
  ollama = new Ollama({ host: hearth.server.ollamaUrl!, headers: { Authorization: `Bearer ${hearth.apiKey}` } });
  forever = (await hearth.client.models.list()).data
    .map((m) => m.id)
    .find((id) => id.startsWith("qwen3-answer-forever"))!;
  assert.ok(forever);
});
after(async () => {
  await hearth?.close();
  await upstream?.close();
  library?.cleanup();
});

describe("a remote provider's models on the Ollama port", () => {
  test("chat and generate, streamed and not, go upstream", async () => {
    const chat = await ollama.chat({
      model: REMOTE,
      messages: [{ role: "user", content: "Once upon a time" }],
      stream: false,
      options: { temperature: 0, num_predict: 6 },
    });
    assert.equal(chat.model, REMOTE);
    assert.equal(chat.eval_count, 6, "usage comes from the upstream");
    assert.equal(chat.done_reason, "length");
    const request = { model: REMOTE, prompt: "The dog", options: { temperature: 0, num_predict: 8 } };
    const whole = await ollama.generate({ ...request, stream: false });
    let text = "";
    for await (const part of await ollama.generate({ ...request, stream: true })) text += part.response;
    assert.equal(text, whole.response);
    assert.ok(text.length > 0);
  });

  test("repeat_penalty reaches the upstream (as repetition_penalty)", async () => {
    const request = { model: REMOTE, prompt: "Once upon a time", stream: false as const };
    const greedy = await ollama.generate({ ...request, options: { temperature: 0, num_predict: 40 } });
    const penalised = await ollama.generate({
      ...request,
      options: { temperature: 0, num_predict: 40, repeat_penalty: 1.8 },
    });
    assert.notEqual(penalised.response, greedy.response);
  });

  test("embed, tags and show; ps lists only what runs here", async () => {
    const embedded = await ollama.embed({ model: REMOTE, input: ["a red ball"] });
    assert.equal(embedded.embeddings.length, 1);
    assert.ok(Math.abs(Math.hypot(...embedded.embeddings[0]!) - 1) < 1e-3);
    const listed = (await ollama.list()).models.find((m) => m.name === REMOTE);
    assert.ok(listed, "listed by /api/tags");
    assert.equal(listed.details.format, "");
    assert.equal(listed.size, 0);
    const shown = await ollama.show({ model: REMOTE });
    assert.deepEqual(shown.capabilities, ["completion", "tools"]);
    assert.ok(!(await ollama.ps()).models.some((m) => m.name === REMOTE));
  });
});

test("a stream cut by the request timeout ends with Ollama's error line, which the client throws", async () => {
  // Loaded first: the 3 s request timeout is for generating, not for a first load.
  assert.equal((await hearth.api(`/api/models/${encodeURIComponent(forever)}/load`, { method: "POST" })).status, 200);
  // As many tokens as the context holds: the default 1,024 can finish inside 3 s on a quiet machine.
  const stream = await ollama.chat({
    model: forever,
    messages: [{ role: "user", content: "Hi" }],
    stream: true,
    options: { num_predict: 1_000_000 },
  });
  let lines = 0;
  let thrown: Error | undefined;
  try {
    for await (const part of stream) {
      assert.equal(part.done, false);
      lines++;
    }
  } catch (err) {
    thrown = err as Error;
  }
  assert.ok(lines > 0, "lines came before the error");
  assert.match(thrown?.message ?? "", /request timeout \(3 s\)/, `${lines} lines, then: ${thrown?.message}`);
});

test("a taken Ollama port costs the Ollama API, not the server, and the settings say so", async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  const port = (taken.address() as net.AddressInfo).port;
  const t = await startTestServer({ ollamaPort: port }, { withModel: false });
  try {
    assert.equal(t.server.ollamaUrl, null);
    assert.equal((await fetch(`${t.url}/health/ready`)).status, 200, "the server itself started");
    const view = (await (await fetch(`${t.url}/api/settings`)).json()) as {
      ollamaUrl: string | null;
      settings: { ollamaPort?: number };
    };
    assert.equal(view.ollamaUrl, null);
    assert.equal(view.settings.ollamaPort, port);
  } finally {
    await t.close();
    await new Promise((resolve) => taken.close(resolve));
  }
  const served = await startTestServer({ ollamaPort: 0 }, { withModel: false });
  try {
    const view = (await (await fetch(`${served.url}/api/settings`)).json()) as { ollamaUrl: string | null };
    assert.equal(view.ollamaUrl, served.server.ollamaUrl);
    assert.match(view.ollamaUrl ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);
  } finally {
    await served.close();
  }
});
