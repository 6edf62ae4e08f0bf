/**
 * json_schema output with numbers, on the real engine: node-llama-cpp's number rules allow an
 * exponent of up to 16 digits, on integers too, so grammar-constrained "integer" output could be
 * `9e-9` or `9e999` (Infinity once parsed). GrammarCache bounds those rules (grammar.ts,
 * boundNumberRules). The model is pushed towards exponents with a token bias, so the unbounded
 * grammar fails the schema every time and the bounded one must not. Ranges (`minimum`...) and
 * string formats are rules of Hearth's own (grammar.ts planSchema, number-ranges.ts), pushed
 * the same way towards numbers outside them.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Ajv } from "ajv";
import { LlamaCompletion, TokenBias, type LlamaContext, type LlamaGrammar, type LlamaModel } from "node-llama-cpp";
import { boundNumberRules, GrammarCache } from "../../server/engine/grammar.js";
import { createRuntime, type EngineRuntime } from "../../server/engine/runtime.js";
import { createLogger } from "../../server/logger.js";
import { testModelPath } from "../helpers/models.js";

const SCHEMA = {
  type: "object",
  properties: {
    count: { type: "integer" },
    size: { type: "number" },
    list: { type: "array", items: { type: "integer" } },
  },
  required: ["count", "size", "list"],
  additionalProperties: false,
};
let runtime: EngineRuntime;
let model: LlamaModel;
let context: LlamaContext;

before(async () => {
  runtime = await createRuntime({ gpu: "cpu", threads: 1, binary: "prebuilt", logger: createLogger("silent") });
  model = await runtime.llama.loadModel({ modelPath: await testModelPath() });
  context = await model.createContext({ contextSize: 512 });
});
after(async () => {
  await context?.dispose();
  await model?.dispose();
  await runtime?.dispose();
});

/**
 * Generates with "e", "+" and "9" strongly favoured wherever the grammar allows them: unbounded,
 * every number becomes 9e+9999999999999999, which parses to Infinity. ("-" is left out: a
 * negative exponent underflows to -0, which is an integer, and would hide the bug.)
 */
async function exponentHungry(grammar: LlamaGrammar, seed: number): Promise<unknown> {
  return biasedTowards(["e", "+", "9"], grammar, seed);
}

/** Generates with `chars` strongly favoured wherever the grammar allows them. */
async function biasedTowards(chars: string[], grammar: LlamaGrammar, seed: number): Promise<unknown> {
  const bias = new TokenBias(model.tokenizer);
  for (const char of chars) {
    // The token for the character inside a number, not the word-initial one ("▁" + char).
    const tokens = model.tokenize(`1${char}`).filter((t) => model.detokenize([t]) === char);
    assert.ok(tokens.length > 0, `a token for ${char}`);
    bias.set(tokens, { logit: 30 });
  }
  const sequence = context.getSequence();
  try {
    const text = await new LlamaCompletion({ contextSequence: sequence }).generateCompletion("Numbers:", {
      grammar,
      maxTokens: 160,
      seed,
      temperature: 0.8,
      tokenBias: bias,
    });
    return JSON.parse(text);
  } finally {
    sequence.dispose();
  }
}

test("node-llama-cpp's number rules are the ones boundNumberRules rewrites", async () => {
  const raw = await runtime.llama.createGrammarForJsonSchema(SCHEMA as never);
  const bounded = boundNumberRules(raw.grammar);
  assert.ok(bounded !== null, `unexpected number rules in:\n${raw.grammar}`);
  assert.match(
    bounded,
    /^integer-number-rule ::= "-"\? \("0" \| \[1-9\] \[0-9\]\{0,15\}\)$/m,
    "integers have no exponent",
  );
  assert.match(
    bounded,
    /^fractional-number-rule ::= .*\(\[eE\] \[-\+\]\? \[0-9\] \[0-9\]\?\)\?$/m,
    "other numbers a two-digit one",
  );
});

test("grammar-constrained integers and numbers always match the schema", async () => {
  const validate = new Ajv().compile(SCHEMA);
  const unbounded = await runtime.llama.createGrammarForJsonSchema(SCHEMA as never);
  const before = await exponentHungry(unbounded, 1);
  assert.equal(validate(before), false, `the unbounded grammar lets exponents through: ${JSON.stringify(before)}`);

  const { grammar: bounded } = await new GrammarCache(runtime.llama).schema(SCHEMA, "response_format", {
    strict: true,
  });
  for (const seed of [1, 2, 3]) {
    const value = await exponentHungry(bounded, seed);
    assert.ok(validate(value), `seed ${seed}: ${JSON.stringify(value)} ${JSON.stringify(validate.errors)}`);
  }
});

const RANGES = {
  type: "object",
  properties: {
    age: { type: "integer", minimum: 10, maximum: 99 },
    // zod 4's z.number().int()
    count: { type: "integer", minimum: -9007199254740991, maximum: 9007199254740991 },
    above: { type: "integer", exclusiveMinimum: 5 },
    share: { type: "number", minimum: 0, maximum: 1 },
    small: { type: "number", exclusiveMinimum: -2.5, exclusiveMaximum: 0.25 },
  },
  required: ["age", "count", "above", "share", "small"],
  additionalProperties: false,
};

test("integer and number ranges hold under a grammar, even pushed towards long and negative numbers", async () => {
  const validate = new Ajv().compile(RANGES);
  // node-llama-cpp ignores the ranges: pushed this way its grammar leaves them at once.
  const loose = await biasedTowards(["-", "9"], await runtime.llama.createGrammarForJsonSchema(RANGES as never), 1);
  assert.equal(validate(loose), false, `node-llama-cpp's own grammar keeps the ranges: ${JSON.stringify(loose)}`);
  const { grammar, warnings } = await new GrammarCache(runtime.llama).schema(RANGES, "response_format", {
    strict: true,
  });
  assert.deepEqual(warnings, [], "every keyword is enforced");
  for (const seed of [1, 2, 3, 4]) {
    for (const chars of [
      ["-", "9"],
      ["9", "."],
      ["1", "0"],
    ]) {
      const value = await biasedTowards(chars, grammar, seed);
      assert.ok(
        validate(value),
        `seed ${seed}, ${chars.join("")}: ${JSON.stringify(value)} ${JSON.stringify(validate.errors)}`,
      );
    }
  }
});

test("string formats Hearth writes itself are well formed", async () => {
  const schema = {
    type: "object",
    properties: {
      id: { type: "string", format: "uuid" },
      ip: { type: "string", format: "ipv4" },
      day: { type: "string", format: "date" },
    },
    required: ["id", "ip", "day"],
    additionalProperties: false,
  };
  const { grammar, warnings } = await new GrammarCache(runtime.llama).schema(schema, "response_format", {
    strict: true,
  });
  assert.deepEqual(warnings, []);
  for (const seed of [1, 2]) {
    const value = (await biasedTowards(["9"], grammar, seed)) as Record<string, string>;
    assert.match(value.id!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    const octets = value.ip!.split(".").map(Number);
    assert.ok(octets.length === 4 && octets.every((o) => o >= 0 && o <= 255), value.ip);
    assert.match(value.day!, /^\d{4}-\d{2}-\d{2}$/);
  }
});
