/**
 * JSON output constrained by grammar. node-llama-cpp's schema grammar enforces only part of JSON
 * Schema and silently ignores the rest (docs/ENGINE-NOTES.md §0.11: `minimum`, `pattern`, `allOf`...), so a
 * schema using what it cannot enforce is refused with a 400 naming the keyword: the promise that
 * the output matches the schema has to hold.
 */
import type { GbnfJsonSchema, Llama, LlamaGrammar } from "node-llama-cpp";
import { BadRequestError } from "../errors.js";

const UNENFORCEABLE = new Set([
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "pattern",
  "allOf",
  "not",
  "if",
  "then",
  "else",
  "patternProperties",
  "dependentRequired",
  "dependentSchemas",
  "uniqueItems",
  "contains",
  "minContains",
  "maxContains",
  "propertyNames",
  "unevaluatedProperties",
  "unevaluatedItems",
]);
/** Keywords that only annotate, or that the grammar satisfies by construction (every property is emitted). */
const IGNORED = new Set([
  "title",
  "description",
  "$schema",
  "$id",
  "$comment",
  "default",
  "examples",
  "required",
  "deprecated",
  "readOnly",
  "writeOnly",
  "strict",
]);

/** Deeper schemas are refused: recursion over client data must not exhaust the stack. */
export const MAX_SCHEMA_DEPTH = 64;
/** More schema nodes (objects, array entries, enum values) are refused: the grammar grows with them. */
export const MAX_SCHEMA_NODES = 10_000;

/** Keywords whose value is a map of subschemas, and those whose value is one subschema or a list of them. */
const SCHEMA_MAPS = new Set(["properties", "$defs", "definitions"]);
const SCHEMA_VALUES = new Set(["items", "additionalProperties", "oneOf", "anyOf", "prefixItems"]);

/**
 * Refuses a schema a client could use to stall or crash the server: nesting past
 * MAX_SCHEMA_DEPTH, more than MAX_SCHEMA_NODES nodes, or a keyword whose value has the wrong
 * shape (node-llama-cpp reads `properties: "abc..."` as a million properties and spends tens of
 * seconds building that grammar). Throws a 400 naming `param`.
 */
export function checkSchemaBounds(schema: unknown, param: string): void {
  let nodes = 0;
  const refuse = (why: string, at: string) => {
    throw new BadRequestError(`The JSON schema ${why} at '${at || "/"}'.`, { param, code: "invalid_schema" });
  };
  const visit = (value: unknown, at: string, depth: number, isSchema: boolean): void => {
    if (++nodes > MAX_SCHEMA_NODES) refuse(`has more than ${MAX_SCHEMA_NODES} parts`, at);
    if (depth > MAX_SCHEMA_DEPTH) refuse(`is nested more than ${MAX_SCHEMA_DEPTH} levels deep`, at);
    if (isSchema && typeof value !== "boolean" && (typeof value !== "object" || value === null || Array.isArray(value)))
      refuse("has a subschema that is not an object", at);
    if (Array.isArray(value)) {
      nodes += value.length;
      value.forEach((v, i) => visit(v, `${at}/${i}`, depth + 1, false));
      return;
    }
    if (typeof value !== "object" || value === null) return;
    for (const [key, v] of Object.entries(value)) {
      const here = `${at}/${key}`;
      if (!isSchema) visit(v, here, depth + 1, false);
      else if (SCHEMA_MAPS.has(key)) {
        if (typeof v !== "object" || v === null || Array.isArray(v)) refuse(`has '${key}' that is not an object`, here);
        for (const [name, sub] of Object.entries(v as object)) visit(sub, `${here}/${name}`, depth + 1, true);
      } else if (SCHEMA_VALUES.has(key)) {
        if (Array.isArray(v)) v.forEach((sub, i) => visit(sub, `${here}/${i}`, depth + 1, true));
        else visit(v, here, depth + 1, true);
      } else if (
        key === "type" &&
        typeof v !== "string" &&
        !(Array.isArray(v) && v.every((t) => typeof t === "string"))
      ) {
        refuse("has a 'type' that is neither a string nor a list of strings", here);
      } else visit(v, here, depth + 1, false);
    }
  };
  visit(schema, "", 0, true);
}

/** Rewrites what has an equivalent (`anyOf` -> `oneOf`), drops annotations, refuses the rest. */
export function sanitizeSchema(schema: unknown, param: string, at = ""): unknown {
  if (at === "") checkSchemaBounds(schema, param);
  if (Array.isArray(schema)) return schema.map((s, i) => sanitizeSchema(s, param, `${at}[${i}]`));
  if (typeof schema !== "object" || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (UNENFORCEABLE.has(key)) {
      throw new BadRequestError(
        `The JSON schema uses '${key}' at '${at || "/"}', which Hearth cannot enforce while generating. Remove it, or validate that constraint yourself.`,
        { param },
      );
    }
    if (IGNORED.has(key)) continue;
    const target = key === "anyOf" ? "oneOf" : key;
    const isMap = key === "properties" || key === "$defs" || key === "definitions";
    out[target] =
      isMap && value && typeof value === "object"
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sanitizeSchema(v, param, `${at}/${key}/${k}`)]))
        : key === "enum" || key === "const"
          ? value
          : sanitizeSchema(value, param, `${at}/${key}`);
  }
  return out;
}

/**
 * node-llama-cpp's number rules allow an exponent of up to 16 digits, on integers too: "integer"
 * output like `5e-3` (0.005) or `1e999` (Infinity once parsed) matched the grammar but not the
 * schema (seen as a CI failure with stories260K). Integers lose the exponent; other numbers keep
 * one of at most two digits, so every value parses to a finite number (at most about 1e115).
 * Returns null when the rules are not the ones this was written against, so a changed
 * node-llama-cpp is caught by the tests rather than silently unbounded.
 */
export function boundNumberRules(gbnf: string): string | null {
  const exponent = ' ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?';
  const integer = 'integer-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15})';
  const fractional = 'fractional-number-rule ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})?';
  let known = true;
  const out = gbnf.split("\n").map((line) => {
    if (line.startsWith("integer-number-rule ::=")) {
      if (line !== integer + exponent) known = false;
      return integer;
    }
    if (line.startsWith("fractional-number-rule ::=")) {
      if (line !== fractional + exponent) known = false;
      return `${fractional} ([eE] [-+]? [0-9] [0-9]?)?`;
    }
    return line;
  });
  return known ? out.join("\n") : null;
}

/** Compiles and caches grammars per schema; building one costs a few ms, reuse costs nothing. */
export class GrammarCache {
  private readonly cache = new Map<string, Promise<LlamaGrammar>>();
  constructor(
    private readonly llama: Llama,
    private readonly max = 64,
  ) {}

  json(): Promise<LlamaGrammar> {
    return this.get("json", () => this.llama.getGrammarFor("json"));
  }

  schema(schema: Record<string, unknown>, param: string): Promise<LlamaGrammar> {
    const clean = sanitizeSchema(schema, param) as GbnfJsonSchema;
    return this.get(`schema:${JSON.stringify(clean)}`, async () => {
      try {
        const built = await this.llama.createGrammarForJsonSchema(clean as never);
        const bounded = boundNumberRules(built.grammar);
        if (bounded === null) return built;
        return await this.llama.createGrammar({
          grammar: bounded,
          stopGenerationTriggers: built.stopGenerationTriggers,
          trimWhitespaceSuffix: built.trimWhitespaceSuffix,
        });
      } catch (err) {
        throw new BadRequestError(`The JSON schema cannot be turned into a grammar: ${(err as Error).message}`, {
          param,
        });
      }
    });
  }

  private get(key: string, build: () => Promise<LlamaGrammar>): Promise<LlamaGrammar> {
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const made = build();
    made.catch(() => this.cache.delete(key));
    this.cache.set(key, made);
    if (this.cache.size > this.max) this.cache.delete(this.cache.keys().next().value as string);
    return made;
  }
}
