/** Parses one part of a request (an input item, a content block) so that a 400 names where it is. */
import type { z } from "zod";
import { BadRequestError } from "../errors.js";
import { missingAt } from "../http/validate.js";

/** Like `parseOrThrow`, for a value found at `at` (`input.2`): the error's param is `input.2.call_id`. */
export function parseAt<S extends z.ZodType>(schema: S, value: unknown, at: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = [at, ...(issue?.path ?? []).map(String)].join(".");
  const missing = issue?.code === "invalid_type" && missingAt(value, issue.path);
  throw new BadRequestError(
    missing ? `Missing required parameter: '${param}'.` : `Invalid '${param}': ${issue?.message ?? "invalid value"}`,
    {
      param,
      code: missing ? "missing_required_parameter" : "invalid_value",
    },
  );
}
