/**
 * What a client's JSON schema becomes before node-llama-cpp builds its grammar (grammar.ts
 * planSchema): kept, rewritten, enforced by Hearth's own rules, reported, or refused. The real
 * grammar engine runs the plans in test/integration/json-schema-numbers.test.ts.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HearthError } from "../../server/errors.js";
import { applyRules, nativeSchemaWarnings, planSchema, requiredParameters } from "../../server/engine/grammar.js";
import { warningsHeader } from "../../server/http/respond.js";

const strict = { strict: true };
const loose = { strict: false };
const messages = (plan: { warnings: { message: string }[] }) => plan.warnings.map((w) => w.message);
const refused = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof HearthError && err.status === 400 && pattern.test(err.message));

describe("planSchema", () => {
  test("ranges become rules of Hearth's own, in place of a string constant", () => {
    const plan = planSchema(
      { type: "object", properties: { n: { type: "integer", minimum: 10, maximum: 99, description: "x" } } },
      "p",
      strict,
    );
    const n = (plan.schema as { properties: { n: { const: string } } }).properties.n;
    assert.deepEqual(Object.keys(n), ["const"]);
    assert.equal(plan.rules.get(n.const), "[1-9] [0-9]");
    assert.deepEqual(plan.warnings, []);
  });

  test("draft 4's boolean exclusiveMinimum and both spellings together", () => {
    const rule = (schema: object) => [...planSchema(schema, "p", strict).rules.values()][0];
    assert.equal(rule({ type: "integer", minimum: 5, exclusiveMinimum: true, maximum: 9 }), "[6-9]");
    assert.equal(rule({ type: "integer", minimum: 5, exclusiveMinimum: 7, maximum: 9 }), "[8-9]");
    assert.equal(rule({ type: "integer", minimum: 8, exclusiveMinimum: 5, maximum: 9 }), "[8-9]");
  });

  test("an empty range or a bound that is not a number is a 400", () => {
    refused(() => planSchema({ type: "integer", minimum: 3, maximum: 2 }, "p", strict), /range is empty/);
    refused(() => planSchema({ type: "number", minimum: "0" }, "p", strict), /'minimum' that is not a number/);
  });

  test("pattern and multipleOf are accepted and reported, strict or not", () => {
    const schema = {
      type: "object",
      properties: { a: { type: "string", pattern: "^x$" }, b: { type: "integer", multipleOf: 3 } },
    };
    for (const options of [strict, loose]) {
      assert.deepEqual(messages(planSchema(schema, "p", options)), [
        "at '/properties/a': 'pattern' is not enforced",
        "at '/properties/b': 'multipleOf' is not enforced",
      ]);
    }
    assert.deepEqual(messages(planSchema({ type: "integer", multipleOf: 1 }, "p", strict)), []);
  });

  test("keywords outside OpenAI's subset are refused with strict and reported without", () => {
    const schema = { type: "object", properties: { a: { type: "array", items: {}, uniqueItems: true } } };
    refused(() => planSchema(schema, "p", strict), /'uniqueItems'.*strict: false/);
    assert.deepEqual(messages(planSchema(schema, "p", loose)), ["at '/properties/a': 'uniqueItems' is not enforced"]);
  });

  test("a list of types becomes a oneOf, each type with its own keywords", () => {
    const plan = planSchema({ type: ["integer", "null"], minimum: 0, maximum: 5 }, "p", strict);
    const oneOf = (plan.schema as { oneOf: Record<string, unknown>[] }).oneOf;
    assert.equal(oneOf.length, 2);
    assert.equal(plan.rules.get(oneOf[0]!.const as string), "[0-5]");
    assert.deepEqual(oneOf[1], { type: "null" });
  });

  test("anyOf becomes oneOf; definitions become $defs, with their references", () => {
    const plan = planSchema(
      {
        type: "object",
        properties: { a: { $ref: "#/definitions/A" }, b: { anyOf: [{ type: "string" }, { type: "null" }] } },
        definitions: { A: { type: "string" } },
      },
      "p",
      strict,
    );
    assert.deepEqual(plan.schema, {
      type: "object",
      properties: { a: { $ref: "#/$defs/A" }, b: { oneOf: [{ type: "string" }, { type: "null" }] } },
      $defs: { A: { type: "string" } },
    });
    assert.deepEqual(messages(planSchema({ $ref: "#" }, "p", strict)), [
      `at '/': '$ref' "#" is not followed: any JSON value may stand there`,
    ]);
  });

  test("formats: node-llama-cpp's kept, Hearth's as rules, the rest reported (node-llama-cpp would allow only \"\")", () => {
    const plan = planSchema(
      {
        type: "object",
        properties: {
          d: { type: "string", format: "date-time" },
          u: { type: "string", format: "uuid", maxLength: 40 },
          e: { type: "string", format: "ipv6", maxLength: 40 },
        },
      },
      "p",
      strict,
    );
    const props = (plan.schema as { properties: Record<string, Record<string, unknown>> }).properties;
    assert.deepEqual(props.d, { type: "string", format: "date-time" });
    assert.match(plan.rules.get(props.u!.const as string)!, /\[0-9a-fA-F\]\{8\}/);
    assert.deepEqual(props.e, { type: "string", maxLength: 40 });
    assert.deepEqual(messages(plan), [
      "at '/properties/u': 'maxLength' is not enforced beside format 'uuid'",
      "at '/properties/e': format 'ipv6' is not enforced",
    ]);
  });

  test("annotations and required go; the warnings name the request field", () => {
    const plan = planSchema(
      {
        $schema: "x",
        title: "t",
        type: "object",
        required: ["a"],
        properties: { a: { type: "string", pattern: "." } },
      },
      "response_format",
      strict,
    );
    assert.deepEqual(plan.schema, { type: "object", properties: { a: { type: "string" } } });
    assert.equal(plan.warnings[0]!.param, "response_format");
  });
});

test("applyRules replaces each placeholder constant with its own rule, and fails loudly without it", () => {
  const gbnf = 'root ::= "{" "\\"n\\"" ":" "\\"hearth-x-0\\"" "}"';
  assert.equal(
    applyRules(gbnf, new Map([["hearth-x-0", "[0-9]"]])),
    'root ::= "{" "\\"n\\"" ":" hearth-rule-0 "}"\nhearth-rule-0 ::= [0-9]',
  );
  assert.throws(() => applyRules(gbnf, new Map([["hearth-y-0", "[0-9]"]])), /no "\\"hearth-y-0\\""/);
});

test("tools the model calls on its own: what node-llama-cpp's own grammar leaves out", () => {
  const warnings = nativeSchemaWarnings(
    { type: "object", properties: { n: { type: "integer", minimum: 0 }, s: { type: "string", format: "email" } } },
    "tools.0.parameters",
  );
  assert.deepEqual(
    warnings.map((w) => `${w.param} ${w.message}`),
    [
      "tools.0.parameters at '/properties/n': 'minimum' is not enforced when the model calls tools on its own",
      "tools.0.parameters at '/properties/s': format 'email' is not enforced when the model calls tools on its own",
    ],
  );
});

test("a tool's parameters for a local model: what `required` leaves out, at every depth; no `required`, all kept", () => {
  // Codex CLI's exec_command, shortened: node-llama-cpp would write every property it is given.
  const execCommand = {
    type: "object",
    properties: {
      cmd: { type: "string" },
      shell: { type: "string" },
      sandbox_permissions: { type: "string", enum: ["use_default", "require_escalated"] },
      plan: {
        type: "array",
        items: {
          type: "object",
          properties: { step: { type: "string" }, note: { type: "string" } },
          required: ["step"],
        },
      },
    },
    required: ["cmd", "plan"],
    additionalProperties: false,
  };
  assert.deepEqual(requiredParameters(execCommand), {
    type: "object",
    properties: {
      cmd: { type: "string" },
      plan: { type: "array", items: { type: "object", properties: { step: { type: "string" } }, required: ["step"] } },
    },
    required: ["cmd", "plan"],
    additionalProperties: false,
  });
  const weather = { type: "object", properties: { city: { type: "string" }, unit: { type: "string" } } };
  assert.deepEqual(requiredParameters(weather), weather);
  const defs = {
    type: "object",
    properties: { a: { $ref: "#/$defs/A" } },
    required: ["a"],
    $defs: { A: { type: "object", properties: { x: { type: "number" }, y: { type: "number" } }, required: ["x"] } },
  };
  assert.deepEqual((requiredParameters(defs) as typeof defs).$defs.A.properties, { x: { type: "number" } });
  assert.deepEqual(requiredParameters({ type: "object", properties: { a: {} }, required: [] }), {
    type: "object",
    properties: {},
    required: [],
  });
});

test("the warnings header is a JSON array in printable ASCII, whatever the schema's property names", () => {
  const value = warningsHeader({
    warnings: [{ param: "response_format", message: "at '/properties/naïve\r\nX-Evil: 1': 'pattern' is not enforced" }],
  });
  assert.ok(value !== null && /^[\x20-\x7e]*$/.test(value), value ?? "");
  assert.deepEqual(JSON.parse(value), [
    "response_format: at '/properties/naïve\r\nX-Evil: 1': 'pattern' is not enforced",
  ]);
  assert.equal(warningsHeader({ warnings: [] }), null);
});
