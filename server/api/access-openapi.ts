/** OpenAPI description of /api/keys, /api/usage and /api/network (api/access.ts), from the zod schemas of server/wire/access.ts. */
import { z } from "zod";
import { ErrorSchema } from "../openai/schemas.js";
import { KeyCreateSchema, KeyInfoSchema, UsageQuerySchema, UsageReportSchema } from "../wire/access.js";

const json = (schema: z.ZodType, description: string) => ({ description, content: { "application/json": { schema } } });
const error = (description: string) => json(ErrorSchema, description);

/** The rate-limit headers a limited key's responses carry (OpenAI's names). */
export const rateLimitHeaders = z.object(
  Object.fromEntries(
    ["Requests", "Tokens"].flatMap((kind) => [
      [`X-RateLimit-Limit-${kind}`, z.string().meta({ description: `The key's ${kind.toLowerCase()} per minute` })],
      [`X-RateLimit-Remaining-${kind}`, z.string().meta({ description: "What is left of it now" })],
      [
        `X-RateLimit-Reset-${kind}`,
        z.string().meta({ description: "Until the window is empty again, e.g. `59.2s` or `1m0s`" }),
      ],
    ]),
  ),
);

export function accessOpenApiPaths() {
  return {
    "/api/keys": {
      get: {
        summary: "List the named API keys (never their secrets)",
        responses: { "200": json(z.object({ data: z.array(KeyInfoSchema) }), "The keys, oldest first") },
      },
      post: {
        summary: "Create a named API key; the answer holds its secret, this once",
        requestBody: { content: { "application/json": { schema: KeyCreateSchema } } },
        responses: {
          "201": json(KeyInfoSchema.extend({ key: z.string() }), "The key (`hk_<id>_<secret>`)"),
          "400": error("Invalid, or the name is taken (`duplicate_name`)"),
        },
      },
    },
    "/api/keys/{key}": {
      delete: {
        summary: "Revoke a key by id or name; requests with it get 401 from then on",
        requestParams: { path: z.object({ key: z.string() }) },
        responses: {
          "200": json(z.object({ id: z.string(), name: z.string(), deleted: z.literal(true) }), "Revoked"),
          "404": error("No such key (`key_not_found`)"),
          "409": error("The last key while serving the local network (`key_required`)"),
        },
      },
    },
    "/api/network": {
      get: {
        summary:
          "Serving on the local network: whether it is on (the `host` setting, changed with PUT /api/settings, applied at the next start) and the LAN URLs",
        responses: {
          "200": json(
            z.object({
              enabled: z.boolean(),
              host: z.string(),
              port: z.number().int(),
              savedEnabled: z.boolean(),
              restartRequired: z.boolean(),
              urls: z.array(z.string()),
              hasKey: z.boolean(),
            }),
            "The state",
          ),
        },
      },
    },
    "/api/usage": {
      get: {
        summary: "What each key used per model and UTC day (requests, tokens, errors), as JSON or CSV",
        requestParams: { query: UsageQuerySchema },
        responses: {
          "200": {
            description: "The report, or with `format=csv` a file of its rows",
            content: { "application/json": { schema: UsageReportSchema }, "text/csv": { schema: z.string() } },
          },
          "400": error("A bad day or range"),
        },
      },
    },
  };
}
