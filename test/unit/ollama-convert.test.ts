/** Ollama's `keep_alive` values and `options` as the converter reads them (server/ollama/convert.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { keepAliveMs, toChatRequest, toGenerateRequest } from "../../server/ollama/convert.js";
import { ChatRequestSchema, GenerateRequestSchema } from "../../server/ollama/schemas.js";
import { BadRequestError } from "../../server/errors.js";

test("keep_alive: seconds, Go durations, negative for ever, absent for the server's setting", () => {
  const cases: [number | string | null | undefined, number | undefined][] = [
    [undefined, undefined],
    [null, undefined],
    [0, 0],
    ["0", 0],
    ["0s", 0],
    [300, 300_000],
    ["300", 300_000],
    [1.5, 1500],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["250ms", 250],
    ["2m30s", 150_000],
    [-1, Infinity],
    ["-1", Infinity],
    ["-1m", Infinity],
  ];
  for (const [value, ms] of cases) assert.equal(keepAliveMs(value), ms, JSON.stringify(value));
  for (const bad of ["soon", "5 m", "m", "5d", "1h-30m", ""]) {
    assert.throws(
      () => keepAliveMs(bad),
      (err: unknown) => err instanceof BadRequestError && err.param === "keep_alive",
      bad,
    );
  }
});

test("options: sampling as the neutral request's, load-time ones as warnings, -1 num_predict as the default", () => {
  const { request, warnings } = toGenerateRequest(
    GenerateRequestSchema.parse({
      model: "m",
      prompt: "p",
      options: {
        temperature: 0.2,
        top_k: 5,
        seed: 7,
        num_predict: -1,
        repeat_penalty: 1.1,
        num_ctx: 8192,
        num_gpu: 99,
        stop: ["\n"],
      },
    }),
  );
  assert.deepEqual(request.sampling, { temperature: 0.2, topK: 5, seed: 7 });
  assert.equal(request.maxTokens, undefined);
  assert.deepEqual(request.stop, ["\n"]);
  assert.deepEqual(request.extras, { repetition_penalty: 1.1 });
  assert.deepEqual(
    warnings.map((w) => w.param),
    ["options.num_ctx", "options.num_gpu"],
  );
});

test("tool messages pair with their calls by tool_name, in any order; the ids are the converter's", () => {
  const { request } = toChatRequest(
    ChatRequestSchema.parse({
      model: "m",
      messages: [
        { role: "user", content: "q" },
        {
          role: "assistant",
          content: "",
          tool_calls: [
            { function: { name: "a", arguments: { x: 1 } } },
            { function: { name: "b", arguments: '{"y": 2}' } },
          ],
        },
        { role: "tool", content: "B", tool_name: "b" },
        { role: "tool", content: "A", tool_name: "a" },
      ],
    }),
  );
  const [, assistant, first, second] = request.messages;
  assert.ok(assistant?.role === "assistant" && first?.role === "tool" && second?.role === "tool");
  assert.deepEqual(
    assistant.toolCalls?.map((c) => [c.name, c.arguments]),
    [
      ["a", '{"x":1}'],
      ["b", '{"y": 2}'],
    ],
  );
  assert.equal(first.toolCallId, assistant.toolCalls![1]!.id);
  assert.equal(second.toolCallId, assistant.toolCalls![0]!.id);
  assert.equal(assistant.content, null);
});
