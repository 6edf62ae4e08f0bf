/**
 * What a remote provider is, as zod schemas: the persisted config (no secrets in it), and the
 * shapes `/api/providers` accepts. Secrets (API key, extra headers) travel only inward: they are
 * accepted on add/edit and kept in the SecretStore, never in this config or in any response.
 */
import { z } from "zod";

export const PROVIDER_KINDS = ["openai", "vllm", "openai-compatible"] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** Lower-case, no slash: it prefixes model ids as `<provider-id>/<model>`. */
export const ProviderIdSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,47}$/,
    "must be 1-48 lower-case letters, digits, _ or -, starting with a letter or digit",
  )
  .refine((id) => id !== "local", "'local' is reserved for this machine's models")
  // `/api/providers/test` tests an unsaved provider, so a provider called "test" could not be reached.
  .refine((id) => id !== "test", "'test' is reserved (POST /api/providers/test tests unsaved settings)");

/** Where the OpenAI API lives, as SDKs take it (e.g. https://api.openai.com/v1, http://gpu-box:8000/v1). */
export const BaseUrlSchema = z
  .string()
  .trim()
  .superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: "custom", message: "must be an absolute URL such as https://api.openai.com/v1" });
      return;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      ctx.addIssue({ code: "custom", message: "must start with http:// or https://" });
    if (url.username || url.password)
      ctx.addIssue({ code: "custom", message: "must not contain credentials; set apiKey instead" });
    if (url.search || url.hash) ctx.addIssue({ code: "custom", message: "must not have a query or fragment" });
  })
  .transform((value) => {
    const url = new URL(value);
    return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
  });

/** Same scheme, host and port: where a provider's stored credentials may go. */
export function sameOrigin(a: string, b: string): boolean {
  return new URL(a).origin === new URL(b).origin;
}

/** Headers Hearth sets itself or that would change how the request is framed. */
const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "content-type",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "accept",
  "accept-encoding",
  "expect",
  // Loop detection (hops.ts): a provider must not be able to hide where a request came from.
  "x-hearth-via",
]);

export const HeadersSchema = z.record(
  z
    .string()
    .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, "must be a valid header name")
    .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), "is set by Hearth and cannot be overridden"),
  z
    .string()
    .max(8192)
    .regex(/^[^\r\n\0]*$/, "must not contain line breaks"),
);

const ApiKeySchema = z
  .string()
  .min(1)
  .max(8192)
  .regex(/^[^\s]+$/, "must not contain spaces or line breaks");

/** Seconds; fractions allowed. */
const TimeoutSchema = z.number().positive().max(86_400);

export const DEFAULT_PROVIDER_TIMEOUT_SECONDS = 120;

const configFields = {
  id: ProviderIdSchema,
  /** Shown in the UI. */
  name: z.string().trim().min(1).max(100),
  kind: z.enum(PROVIDER_KINDS),
  baseUrl: BaseUrlSchema,
  /**
   * Longest wait for the provider's response headers, and between two pieces of a streamed reply.
   * A generation may run longer in total (the server's --request-timeout bounds that). Defaults to 120.
   */
  timeoutSeconds: TimeoutSchema.default(DEFAULT_PROVIDER_TIMEOUT_SECONDS),
  /** Ask the provider's `GET /models` which models it serves. Defaults to true. */
  discover: z.boolean().default(true),
  /**
   * With `discover`, the discovered models to expose (empty: all of them); without it, the models
   * to expose, listed by hand. Upstream names, without the `<provider-id>/` prefix. Defaults to [].
   */
  models: z.array(z.string().min(1).max(256)).max(1000).default([]),
};

/** One provider as stored in `<data-dir>/providers.json`. */
export const ProviderConfigSchema = z.object(configFields);
export type ProviderConfig = z.infer<typeof ProviderConfigSchema>;

export const ProvidersFileSchema = z.object({ version: z.literal(1), providers: z.array(ProviderConfigSchema) });

/** POST /api/providers (and POST /api/providers/test, which saves nothing). */
export const ProviderCreateSchema = z
  .object({ ...configFields, apiKey: ApiKeySchema.optional(), headers: HeadersSchema.optional() })
  .meta({ id: "ProviderCreate" });
export type ProviderCreate = z.infer<typeof ProviderCreateSchema>;

/**
 * PATCH /api/providers/:id. Absent fields stay as they are; `apiKey: null` removes the key;
 * `headers` replaces every extra header (`null` or `{}` removes them). A `baseUrl` on another
 * origin (scheme, host or port) clears the stored key and headers unless this body sets them.
 */
export const ProviderUpdateSchema = z
  .object({
    name: configFields.name.optional(),
    kind: configFields.kind.optional(),
    baseUrl: BaseUrlSchema.optional(),
    timeoutSeconds: TimeoutSchema.optional(),
    discover: z.boolean().optional(),
    models: configFields.models.unwrap().optional(),
    apiKey: ApiKeySchema.nullable().optional(),
    headers: HeadersSchema.nullable().optional(),
  })
  .strict()
  .meta({ id: "ProviderUpdate" });
export type ProviderUpdate = z.infer<typeof ProviderUpdateSchema>;

export const ProviderStatusSchema = z.object({
  /** `unknown` until the first discovery or request. */
  state: z.enum(["unknown", "ok", "error"]),
  /** Why the last attempt failed; null when it worked. Never contains a secret. */
  message: z.string().nullable(),
  code: z.string().nullable(),
  /** ISO time of the last discovery, test or request that told us the state. */
  checkedAt: z.string().nullable(),
});
export type ProviderStatus = z.infer<typeof ProviderStatusSchema>;

/** What `/api/providers` returns for a provider: never a secret value, only whether one is set. */
export const ProviderViewSchema = ProviderConfigSchema.extend({
  hasApiKey: z.boolean(),
  /** Names of the extra headers sent; their values are write-only. */
  headers: z.array(z.string()),
  status: ProviderStatusSchema,
  /** Model ids clients send as `model` (`<provider-id>/<model>`): what /v1/models lists while the provider is up. */
  availableModels: z.array(z.string()),
  /** Every model the last discovery found (upstream names); null when none succeeded yet. */
  discoveredModels: z.array(z.string()).nullable(),
}).meta({ id: "Provider" });
export type ProviderView = z.infer<typeof ProviderViewSchema>;

export const ProviderTestResultSchema = z
  .object({
    ok: z.boolean(),
    /** Round trip of the provider's `GET /models`, in milliseconds. */
    latencyMs: z.number(),
    /** Upstream model names it reported (when ok). */
    models: z.array(z.string()),
    /** The OpenAI-shaped error the provider's failure maps to (when not ok). */
    error: z
      .object({ message: z.string(), type: z.string(), code: z.string().nullable(), status: z.number().int() })
      .nullable(),
  })
  .meta({ id: "ProviderTestResult" });
export type ProviderTestResult = z.infer<typeof ProviderTestResultSchema>;
