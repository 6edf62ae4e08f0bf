/**
 * Bounds on JSON a client passes through (JSON schemas, tool-call inputs), shared by every wire
 * edge. A remote provider serialises the body recursively, and a schema nested 10,000 deep
 * overflowed the stack (a 500); `JSON.stringify` of a tool call's input does the same. Such values
 * are refused at the edge with a 400 naming the field. Local models refuse schemas past
 * engine/grammar.ts's tighter MAX_SCHEMA_DEPTH.
 */
import { z } from "zod";

/** Deepest nesting of objects and arrays accepted in a value a client passes through. */
export const MAX_JSON_DEPTH = 128;

/** Whether `value` nests objects and arrays at most `max` levels deep (iterative: any depth is safe to check). */
export function jsonDepthAtMost(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth] = item;
    if (typeof v !== "object" || v === null) continue;
    if (depth >= max) return false;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return true;
}

const TOO_DEEP = `is nested more than ${MAX_JSON_DEPTH} levels deep`;

/** A JSON object a client passes through, nested at most MAX_JSON_DEPTH levels. */
export const boundedJsonObject = () =>
  z.record(z.string(), z.unknown()).refine((v) => jsonDepthAtMost(v, MAX_JSON_DEPTH), TOO_DEEP);

/** Any JSON value a client passes through, nested at most MAX_JSON_DEPTH levels. */
export const boundedJsonValue = () => z.unknown().refine((v) => jsonDepthAtMost(v, MAX_JSON_DEPTH), TOO_DEEP);
