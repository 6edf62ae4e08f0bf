/**
 * json_schema output with numbers, on the real engine: node-llama-cpp's number rules allow an
 * exponent of up to 16 digits, on integers too, so grammar-constrained "integer" output could be
 * `9e-9` or `9e999` (Infinity once parsed). GrammarCache bounds those rules (grammar.ts,
 * boundNumberRules). The model is pushed towards exponents with a token bias, so the unbounded
 * grammar fails the schema every time and the bounded one must not.
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
  const bias = new TokenBias(model.tokenizer);
  for (const char of ["e", "+", "9"]) {
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

  const bounded = await new GrammarCache(runtime.llama).schema(SCHEMA, "response_format");
  for (const seed of [1, 2, 3]) {
    const value = await exponentHungry(bounded, seed);
    assert.ok(validate(value), `seed ${seed}: ${JSON.stringify(value)} ${JSON.stringify(validate.errors)}`);
  }
});
