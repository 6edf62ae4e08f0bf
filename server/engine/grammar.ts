/**
 * JSON output constrained by grammar. node-llama-cpp's schema grammar enforces only part of JSON
 * Schema and silently ignores the rest (docs/ENGINE-NOTES.md §0.11), so a client's schema is first
 * planned here (`planSchema`): what node-llama-cpp enforces passes through; number ranges and a
 * few string formats become GBNF rules of Hearth's own, put in place of placeholders; what no
 * grammar here enforces is dropped and reported as a warning, said once in the response
 * (`X-Hearth-Warnings`), never a 400 for a keyword OpenAI's Structured Outputs accept. Keywords
 * outside that subset are refused when the client asked for `strict` output (OpenAI refuses them
 * too) and reported otherwise. README "JSON schemas" has the table, §3.4 the reasons.
 */
import crypto from "node:crypto";
import type { GbnfJsonSchema, Llama, LlamaGrammar } from "node-llama-cpp";
import type { RequestWarning } from "../core/types.js";
import { BadRequestError } from "../errors.js";
import { rangeGbnf, unsignedRange, type Bound } from "./number-ranges.js";

/** What node-llama-cpp enforces itself, passed through as they are. */
const ENFORCED = new Set([
  "type",
  "properties",
  "additionalProperties",
  "items",
  "prefixItems",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "minLength",
  "maxLength",
  "enum",
  "const",
  "oneOf",
  "$ref",
  "$defs",
]);
/** Range keywords Hearth enforces with its own rules (number-ranges.ts). */
const RANGES = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] as const;
/** In OpenAI's Structured Outputs subset but not enforced here: accepted, with a warning. */
const NOT_ENFORCED = new Set(["pattern", "multipleOf"]);
/** Outside OpenAI's Structured Outputs subset and not enforced: refused with `strict`, else a warning. */
const OUTSIDE_SUBSET = new Set([
  "allOf",
  "not",
  "if",
  "then",
  "else",
  "patternProperties",
  "dependentRequired",
  "dependentSchemas",
  "dependencies",
  "uniqueItems",
  "contains",
  "minContains",
  "maxContains",
  "propertyNames",
  "unevaluatedProperties",
  "unevaluatedItems",
  "additionalItems",
]);
/** String formats node-llama-cpp writes itself. */
const NATIVE_FORMATS = new Set(["date", "time", "date-time"]);

/** A JSON string's quote in GBNF. */
const QUOTE = '"\\""';
/** A host name's label (ajv-formats' `hostname`). */
const LABEL = "[a-zA-Z0-9] ([a-zA-Z0-9-]{0,61} [a-zA-Z0-9])?";
/** String formats as GBNF of Hearth's own, quotes included: what ajv-formats accepts for them. */
const FORMAT_RULES: Record<string, () => string> = {
  uuid: () =>
    `${QUOTE} [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12} ${QUOTE}`,
  ipv4: () => {
    const octet = `(${unsignedRange(0n, 255n)})`;
    return `${QUOTE} ${octet} "." ${octet} "." ${octet} "." ${octet} ${QUOTE}`;
  },
  hostname: () => `${QUOTE} ${LABEL} ("." ${LABEL}){0,8} ${QUOTE}`,
  email: () => {
    // Unbounded like any string (max_tokens bounds it): a bounded count here is a chain of rules
    // that made each token several times slower.
    const atom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+";
    return `${QUOTE} ${atom} ("." ${atom})* "@" ${LABEL} ("." ${LABEL})+ ${QUOTE}`;
  },
};

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

/** How `planSchema` treats what it cannot enforce. */
export interface PlanOptions {
  /** The client asked for strict output: keywords outside OpenAI's Structured Outputs subset are refused. */
  strict: boolean;
}

/** A client's schema made ready for node-llama-cpp's grammar builder. */
export interface SchemaPlan {
  /** What node-llama-cpp builds its grammar from; placeholders (`const` strings) stand where `rules` go. */
  schema: unknown;
  /** Placeholder -> the GBNF expression that replaces it in the built grammar. */
  rules: Map<string, string>;
  /** What the grammar does not enforce, once per keyword and place. */
  warnings: RequestWarning[];
}

/**
 * Plans `schema` (bounded first: checkSchemaBounds): what node-llama-cpp enforces passes through,
 * `anyOf` becomes `oneOf`, `definitions` `$defs`, a list of types a `oneOf` of one type each (so
 * each keeps its own keywords), number ranges and the formats in FORMAT_RULES become Hearth's own
 * rules, annotations and `required` go (every property is written anyway), and the rest is
 * reported in `warnings`, or refused with a 400 naming `param` (options.strict, OUTSIDE_SUBSET).
 */
export function planSchema(schema: unknown, param: string, options: PlanOptions): SchemaPlan {
  checkSchemaBounds(schema, param);
  const nonce = crypto.randomBytes(6).toString("hex");
  const rules = new Map<string, string>();
  const warnings: RequestWarning[] = [];
  const warn = (at: string, message: string) => warnings.push({ param, message: `at '${at || "/"}': ${message}` });
  const rule = (gbnf: string) => {
    const placeholder = `hearth-${nonce}-${rules.size}`;
    rules.set(placeholder, gbnf);
    return { const: placeholder };
  };

  const plan = (node: unknown, at: string): unknown => {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return node;
    const source = node as Record<string, unknown>;
    const types = source.type;
    const combined = ["enum", "const", "oneOf", "anyOf", "$ref"].some((k) => source[k] !== undefined);
    if (Array.isArray(types) && types.length > 1 && !combined) {
      return { oneOf: types.map((type, i) => plan({ ...source, type }, `${at}/type/${i}`)) };
    }
    const type = Array.isArray(types) ? types[0] : types;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(source)) {
      const here = `${at}/${key}`;
      if (OUTSIDE_SUBSET.has(key)) {
        if (options.strict) {
          throw new BadRequestError(
            `The JSON schema uses '${key}' at '${at || "/"}', which OpenAI's Structured Outputs do not support and Hearth cannot enforce. Remove it, or send strict: false to have it accepted unenforced.`,
            { param, code: "invalid_schema" },
          );
        }
        warn(at, `'${key}' is not enforced`);
      } else if (NOT_ENFORCED.has(key)) {
        if (key === "multipleOf" && type === "integer" && value === 1) continue;
        if (type === "string" || type === "number" || type === "integer") warn(at, `'${key}' is not enforced`);
      } else if (key === "anyOf" || key === "oneOf") {
        out.oneOf = (value as unknown[]).map((sub, i) => plan(sub, `${here}/${i}`));
      } else if (key === "properties" || key === "$defs" || key === "definitions") {
        const map = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, plan(v, `${here}/${k}`)]));
        const target = key === "properties" ? "properties" : "$defs";
        out[target] = { ...(out[target] as object | undefined), ...map };
      } else if (key === "items" && Array.isArray(value)) {
        // Draft 4's tuple form.
        out.prefixItems = value.map((sub, i) => plan(sub, `${here}/${i}`));
      } else if (SCHEMA_VALUES.has(key)) {
        out[key] = Array.isArray(value) ? value.map((sub, i) => plan(sub, `${here}/${i}`)) : plan(value, here);
      } else if (key === "$ref") {
        const ref = typeof value === "string" ? value.replace(/^#\/definitions\//, "#/$defs/") : value;
        if (typeof ref !== "string" || !ref.startsWith("#/$defs/"))
          warn(at, `'$ref' ${JSON.stringify(value)} is not followed: any JSON value may stand there`);
        out.$ref = ref;
      } else if (ENFORCED.has(key)) out[key] = value;
      // Everything else annotates (title, description, default, examples, required, ...) or is unknown.
    }
    // An enum, a constant or a choice says which values there are; ranges and formats add nothing then.
    if (combined) return out;
    if (type === "integer" || type === "number") return numberRule(source, type, at) ?? out;
    if (type === "string" && typeof source.format === "string") {
      const format = source.format;
      const known = NATIVE_FORMATS.has(format) || FORMAT_RULES[format] !== undefined;
      // A string with a format is written by the format's rule alone.
      for (const key of ["minLength", "maxLength"]) {
        if (known && source[key] !== undefined) warn(at, `'${key}' is not enforced beside format '${format}'`);
      }
      if (NATIVE_FORMATS.has(format)) out.format = format;
      else if (FORMAT_RULES[format]) return rule(FORMAT_RULES[format]());
      // node-llama-cpp would allow only "" for a format it does not know.
      else warn(at, `format '${format}' is not enforced`);
    }
    return out;
  };

  /** The rule for a number with a range, or null when it has none. */
  const numberRule = (source: Record<string, unknown>, type: "integer" | "number", at: string) => {
    if (!RANGES.some((k) => source[k] !== undefined && source[k] !== false)) return null;
    const bound = (key: string): number | undefined => {
      const value = source[key];
      if (value === undefined || typeof value === "boolean") return undefined;
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new BadRequestError(`The JSON schema has '${key}' that is not a number at '${at || "/"}'.`, {
          param,
          code: "invalid_schema",
        });
      }
      return value;
    };
    // Draft 4 (and OpenAPI 3.0) spell an exclusive bound as `exclusiveMinimum: true` beside `minimum`.
    const side = (inclusiveKey: string, exclusiveKey: string, pick: (a: number, b: number) => number) => {
      const inclusive = bound(inclusiveKey);
      const exclusive = bound(exclusiveKey);
      const flagged = source[exclusiveKey] === true;
      if (exclusive === undefined)
        return inclusive === undefined ? undefined : { value: inclusive, exclusive: flagged };
      if (inclusive === undefined) return { value: exclusive, exclusive: true };
      const value = pick(inclusive, exclusive);
      return { value, exclusive: value === exclusive };
    };
    const lower: Bound | undefined = side("minimum", "exclusiveMinimum", Math.max);
    const upper: Bound | undefined = side("maximum", "exclusiveMaximum", Math.min);
    const gbnf = rangeGbnf(type, lower, upper);
    if (gbnf === null) {
      throw new BadRequestError(`The JSON schema allows no ${type} at '${at || "/"}': its range is empty.`, {
        param,
        code: "invalid_schema",
      });
    }
    return rule(gbnf);
  };

  return { schema: plan(schema, ""), rules, warnings };
}

/**
 * A tool's parameters as a local model writes them: node-llama-cpp's grammar writes every
 * property it is given, so in each object that lists `required` the other properties are left
 * out. Given them, a model must invent a value for each optional parameter (Codex CLI's
 * `exec_command` would get a `shell`, a `login`, `sandbox_permissions`, a `max_output_tokens`...),
 * where OpenAI's models leave them unset. An object without `required` keeps every property.
 */
export function requiredParameters(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(requiredParameters);
  if (typeof schema !== "object" || schema === null) return schema;
  const source = schema as Record<string, unknown>;
  const required = Array.isArray(source.required) ? new Set(source.required) : null;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (SCHEMA_MAPS.has(key) && typeof value === "object" && value !== null) {
      const entries = Object.entries(value).filter(([name]) => key !== "properties" || !required || required.has(name));
      out[key] = Object.fromEntries(entries.map(([name, sub]) => [name, requiredParameters(sub)]));
    } else out[key] = SCHEMA_VALUES.has(key) ? requiredParameters(value) : value;
  }
  return out;
}

/**
 * What node-llama-cpp does not enforce in a tool's parameters when the model calls tools on its
 * own (tool_choice "auto": node-llama-cpp builds that grammar from the schema as it is).
 */
export function nativeSchemaWarnings(schema: unknown, param: string): RequestWarning[] {
  const warnings: RequestWarning[] = [];
  const visit = (node: unknown, at: string): void => {
    if (Array.isArray(node)) return node.forEach((sub, i) => visit(sub, `${at}/${i}`));
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      const here = `${at}/${key}`;
      if (
        OUTSIDE_SUBSET.has(key) ||
        NOT_ENFORCED.has(key) ||
        (RANGES as readonly string[]).includes(key) ||
        key === "anyOf"
      )
        warnings.push({
          param,
          message: `at '${at || "/"}': '${key}' is not enforced when the model calls tools on its own`,
        });
      else if (key === "format" && typeof value === "string" && !NATIVE_FORMATS.has(value))
        warnings.push({
          param,
          message: `at '${at || "/"}': format '${value}' is not enforced when the model calls tools on its own`,
        });
      if (SCHEMA_MAPS.has(key)) {
        for (const [name, sub] of Object.entries(value as object)) visit(sub, `${here}/${name}`);
      } else if (SCHEMA_VALUES.has(key)) visit(value, here);
    }
  };
  visit(schema, "");
  return warnings;
}

/**
 * Puts Hearth's rules in the grammar node-llama-cpp built: each placeholder, a JSON string
 * constant there, becomes a reference to its own rule. Throws when a placeholder is missing, which
 * means node-llama-cpp spells constants differently than this was written against.
 */
export function applyRules(gbnf: string, rules: ReadonlyMap<string, string>): string {
  let out = gbnf;
  const added: string[] = [];
  let n = 0;
  for (const [placeholder, body] of rules) {
    const literal = `"\\"${placeholder}\\""`;
    if (!out.includes(literal)) throw new Error(`node-llama-cpp's grammar has no ${literal}`);
    const name = `hearth-rule-${n++}`;
    out = out.replaceAll(literal, name);
    added.push(`${name} ::= ${body}`);
  }
  return added.length > 0 ? `${out}\n${added.join("\n")}` : out;
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

/** The cached value for `key`, now the most recently used. */
function touch<T>(cache: Map<string, T>, key: string): T | undefined {
  const hit = cache.get(key);
  if (hit === undefined) return undefined;
  cache.delete(key);
  cache.set(key, hit);
  return hit;
}

/** One schema of a grammar, with the request field it came from and how strictly to plan it. */
export interface SchemaPart extends PlanOptions {
  schema: Record<string, unknown>;
  param: string;
}

/** A schema's grammar and what it leaves unenforced. */
export interface SchemaGrammar {
  grammar: LlamaGrammar;
  warnings: RequestWarning[];
}

/** Compiles and caches grammars per schema; building one costs a few ms, reuse costs nothing. */
export class GrammarCache {
  private readonly cache = new Map<string, Promise<LlamaGrammar>>();
  private readonly schemas = new Map<string, Promise<SchemaGrammar>>();
  constructor(
    private readonly llama: Llama,
    private readonly max = 64,
  ) {}

  json(): Promise<LlamaGrammar> {
    return this.get("json", () => this.llama.getGrammarFor("json"));
  }

  /** The grammar for `schema` and what it leaves unenforced (planSchema). Throws a 400 naming `param`. */
  schema(schema: Record<string, unknown>, param: string, options: PlanOptions): Promise<SchemaGrammar> {
    return this.oneOf([{ schema, param, ...options }]);
  }

  /**
   * The grammar for JSON matching any one of `parts` (a tool call or an answer), each planned on
   * its own so that its warnings and errors name its own field.
   */
  async oneOf(parts: readonly SchemaPart[]): Promise<SchemaGrammar> {
    // Bounded before anything walks them, JSON.stringify included.
    for (const part of parts) checkSchemaBounds(part.schema, part.param);
    const key = `schema:${JSON.stringify(parts)}`;
    const hit = touch(this.schemas, key);
    if (hit) return hit;
    // Planning throws the schema's own 400s; only plans that passed are worth caching.
    const plans = parts.map((part) => planSchema(part.schema, part.param, part));
    const schema = plans.length === 1 ? plans[0]!.schema : { oneOf: plans.map((p) => p.schema) };
    const rules = new Map(plans.flatMap((p) => [...p.rules]));
    const warnings = plans.flatMap((p) => p.warnings);
    // node-llama-cpp's failures name no part; the last (the response format beside a call) is the likelier.
    const param = parts.at(-1)!.param;
    return this.remember(this.schemas, key, async () => {
      let built: LlamaGrammar;
      try {
        built = await this.llama.createGrammarForJsonSchema(schema as GbnfJsonSchema as never);
      } catch (err) {
        throw new BadRequestError(`The JSON schema cannot be turned into a grammar: ${(err as Error).message}`, {
          param,
        });
      }
      const text = applyRules(boundNumberRules(built.grammar) ?? built.grammar, rules);
      if (text === built.grammar) return { grammar: built, warnings };
      const grammar = await this.llama.createGrammar({
        grammar: text,
        stopGenerationTriggers: built.stopGenerationTriggers,
        trimWhitespaceSuffix: built.trimWhitespaceSuffix,
      });
      return { grammar, warnings };
    });
  }

  private get(key: string, build: () => Promise<LlamaGrammar>): Promise<LlamaGrammar> {
    return touch(this.cache, key) ?? this.remember(this.cache, key, build);
  }

  /** Builds and keeps a value, forgetting the oldest beyond `max` and any build that failed. */
  private remember<T>(cache: Map<string, Promise<T>>, key: string, build: () => Promise<T>): Promise<T> {
    const made = build();
    made.catch(() => cache.delete(key));
    cache.set(key, made);
    if (cache.size > this.max) cache.delete(cache.keys().next().value as string);
    return made;
  }
}
