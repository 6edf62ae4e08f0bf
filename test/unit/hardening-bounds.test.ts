/**
 * The bounds that keep hostile input from stalling the engine before it reaches node-llama-cpp:
 * JSON schemas (depth, size, shape) and text that cannot fit the context (refused untokenized).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HearthError } from "../../server/errors.js";
import { MAX_SCHEMA_DEPTH, MAX_SCHEMA_NODES, checkSchemaBounds, planSchema } from "../../server/engine/grammar.js";
import {
  assertStopsCanMatch,
  assertTextCanFit,
  longestTokenChars,
  maxFittingChars,
} from "../../server/engine/text-bounds.js";

const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof HearthError && err.status === 400 && pattern.test(err.message));

describe("JSON schema bounds", () => {
  test("ordinary schemas pass, with nested objects, arrays, $defs and enums", () => {
    const schema = {
      type: "object",
      properties: {
        a: { type: "array", items: { type: "object", properties: { b: { type: ["string", "null"] } } } },
        c: { enum: [1, 2, 3] },
      },
      $defs: { x: { type: "number" } },
      additionalProperties: false,
      oneOf: [{ type: "object" }, true],
    };
    checkSchemaBounds(schema, "p");
    assert.ok(planSchema(schema, "p", { strict: true }));
  });

  test("nesting deeper than the limit is refused, not a stack overflow", () => {
    let deep: Record<string, unknown> = { type: "string" };
    for (let i = 0; i < MAX_SCHEMA_DEPTH + 1; i++) deep = { type: "object", properties: { a: deep } };
    refused(() => checkSchemaBounds(deep, "p"), /nested more than/);
    let arrays: unknown = [];
    for (let i = 0; i < 100_000; i++) arrays = [arrays];
    refused(
      () => planSchema({ type: "object", properties: { a: { enum: arrays } } }, "p", { strict: true }),
      /nested more than/,
    );
  });

  test("a schema with too many parts is refused", () => {
    const properties = Object.fromEntries(
      Array.from({ length: MAX_SCHEMA_NODES + 1 }, (_, i) => [`p${i}`, { type: "string" }]),
    );
    refused(() => checkSchemaBounds({ type: "object", properties }, "p"), /more than/);
    refused(
      () => checkSchemaBounds({ enum: Array.from({ length: MAX_SCHEMA_NODES + 1 }, (_, i) => i) }, "p"),
      /more than/,
    );
  });

  test("keywords of the wrong shape are refused (a string of 'properties' would be a million properties)", () => {
    refused(
      () => checkSchemaBounds({ type: "object", properties: "a".repeat(1000) }, "p"),
      /'properties' that is not an object/,
    );
    refused(() => checkSchemaBounds({ type: "object", properties: ["a"] }, "p"), /'properties' that is not an object/);
    refused(
      () => checkSchemaBounds({ type: "object", properties: { a: "string" } }, "p"),
      /subschema that is not an object/,
    );
    refused(() => checkSchemaBounds({ type: "array", items: 5 }, "p"), /subschema that is not an object/);
    refused(() => checkSchemaBounds({ type: { nested: true } }, "p"), /'type'/);
  });

  test("the 400 names the request field", () => {
    assert.throws(
      () => checkSchemaBounds({ properties: 1 }, "tools.0.function.parameters"),
      (err: unknown) => err instanceof HearthError && err.param === "tools.0.function.parameters",
    );
  });
});

describe("text that cannot fit the context", () => {
  test("the longest token bounds the characters a context can hold", () => {
    assert.equal(longestTokenChars(["a", "abc", "<|im_start|>"]), 12);
    assert.ok(longestTokenChars(undefined) >= 256, "without a vocabulary the bound is generous");
    assert.equal(maxFittingChars(100, 4), 800);
  });

  test("text over the bound is refused as context_length_exceeded; text under it passes on to the tokenizer", () => {
    assertTextCanFit(800, 100, 4, "messages");
    assert.throws(
      () => assertTextCanFit(801, 100, 4, "messages"),
      (err: unknown) =>
        err instanceof HearthError &&
        err.status === 400 &&
        err.code === "context_length_exceeded" &&
        err.param === "messages",
    );
  });

  test("a stop string longer than any possible output is refused", () => {
    assertStopsCanMatch(["x".repeat(800)], 100, 4);
    refused(() => assertStopsCanMatch(["ok", "x".repeat(801)], 100, 4), /Stop sequence 1/);
  });
});
