/** Parses a request part with a zod schema; the first problem becomes a 400 naming the field. */
import type { z } from "zod";
import { BadRequestError } from "../errors.js";

export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.join(".") : null;
  let message = issue?.message ?? "Invalid request.";
  if (issue?.code === "invalid_type" && issue.input === undefined && param)
    message = `Missing required parameter: '${param}'.`;
  else if (param) message = `Invalid '${param}': ${message}`;
  throw new BadRequestError(message, {
    param,
    code: issue?.code === "invalid_type" && issue.input === undefined ? "missing_required_parameter" : "invalid_value",
  });
}
