/** Parses a request part with a zod schema; the first problem becomes a 400 naming the field. */
import type { z } from "zod";
import { BadRequestError } from "../errors.js";

/**
 * Whether `path` names nothing in `value` (zod reports a missing field and a wrong-typed one the
 * same way, `invalid_type`, and leaves the input out of its issues).
 */
export function missingAt(value: unknown, path: readonly PropertyKey[]): boolean {
  let at: unknown = value;
  for (const key of path) {
    if (at === null || typeof at !== "object" || !Object.hasOwn(at, key)) return true;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at === undefined;
}

export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.join(".") : null;
  const missing = issue?.code === "invalid_type" && missingAt(value, issue.path);
  let message = issue?.message ?? "Invalid request.";
  if (missing && param) message = `Missing required parameter: '${param}'.`;
  else if (param) message = `Invalid '${param}': ${message}`;
  throw new BadRequestError(message, {
    param,
    code: missing ? "missing_required_parameter" : "invalid_value",
  });
}
