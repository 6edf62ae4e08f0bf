/**
 * JSON output constrained by grammar. node-llama-cpp's schema grammar enforces only part of JSON
 * Schema and silently ignores the rest (ENGINE-NOTES §0.11: `minimum`, `pattern`, `allOf`...), so a
 * schema using what it cannot enforce is refused with a 400 naming the keyword: the promise that
 * the output matches the schema has to hold.
 */
import type { GbnfJsonSchema, Llama, LlamaGrammar } from "node-llama-cpp";
import { BadRequestError } from "../errors.js";

const UNENFORCEABLE = new Set([
  "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "pattern", "allOf", "not",
  "if", "then", "else", "patternProperties", "dependentRequired", "dependentSchemas", "uniqueItems",
  "contains", "minContains", "maxContains", "propertyNames", "unevaluatedProperties", "unevaluatedItems",
]);
/** Keywords that only annotate, or that the grammar satisfies by construction (every property is emitted). */
const IGNORED = new Set(["title", "description", "$schema", "$id", "$comment", "default", "examples", "required", "deprecated", "readOnly", "writeOnly", "strict"]);

/** Rewrites what has an equivalent (`anyOf` -> `oneOf`), drops annotations, refuses the rest. */
export function sanitizeSchema(schema: unknown, param: string, at = ""): unknown {
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
    out[target] = isMap && value && typeof value === "object"
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sanitizeSchema(v, param, `${at}/${key}/${k}`)]))
      : key === "enum" || key === "const"
        ? value
        : sanitizeSchema(value, param, `${at}/${key}`);
  }
  return out;
}

/** Compiles and caches grammars per schema; building one costs a few ms, reuse costs nothing. */
export class GrammarCache {
  private readonly cache = new Map<string, Promise<LlamaGrammar>>();
  constructor(private readonly llama: Llama, private readonly max = 64) {}

  json(): Promise<LlamaGrammar> {
    return this.get("json", () => this.llama.getGrammarFor("json"));
  }

  schema(schema: Record<string, unknown>, param: string): Promise<LlamaGrammar> {
    const clean = sanitizeSchema(schema, param) as GbnfJsonSchema;
    return this.get(`schema:${JSON.stringify(clean)}`, async () => {
      try {
        return await this.llama.createGrammarForJsonSchema(clean as never);
      } catch (err) {
        throw new BadRequestError(`The JSON schema cannot be turned into a grammar: ${(err as Error).message}`, { param });
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
