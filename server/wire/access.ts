/**
 * The shapes of /api/keys, /api/usage and /api/network (server/api/access.ts, issue 20): named API
 * keys, what each key used per model and day, and serving on the local network.
 */
import { z } from "zod";

export const KEY_SCOPES = ["inference", "admin"] as const;
/** `inference`: /v1 and /v1/messages. `admin`: everything, /api, /mcp and /metrics too. */
export type KeyScope = (typeof KEY_SCOPES)[number];

/** Limits of a new key when none are given ("on by default for keys"). 0 means no limit. */
export const DEFAULT_LIMITS = { rpm: 120, tpm: 100_000 } as const;

/** A key's name: shown in lists and as the `key` label in /metrics, so short and plain. */
export const KeyNameSchema = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(64, "must be at most 64 characters")
  .regex(/^[\w.@ -]+$/, "may hold letters, digits, spaces and . _ - @ only");

const LimitSchema = z.number().int().min(0).max(100_000_000);

/** Body of POST /api/keys. */
export const KeyCreateSchema = z.object({
  name: KeyNameSchema,
  scope: z.enum(KEY_SCOPES).default("inference"),
  /** Requests per minute; 0 for no limit. Defaults to DEFAULT_LIMITS.rpm. */
  rpm: LimitSchema.optional(),
  /** Tokens (prompt + completion) per minute; 0 for no limit. Defaults to DEFAULT_LIMITS.tpm. */
  tpm: LimitSchema.optional(),
});
export type KeyCreate = z.input<typeof KeyCreateSchema>;

/** A key as listed: never its secret or hash. */
export const KeyInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  scope: z.enum(KEY_SCOPES),
  rpm: z.number().int(),
  tpm: z.number().int(),
  /** Milliseconds since the epoch. */
  createdAt: z.number().int(),
  /** When a request last used it (ms since the epoch), from the usage table; null when never. */
  lastUsedAt: z.number().int().nullable(),
});
export type KeyInfo = z.infer<typeof KeyInfoSchema>;

/** GET /api/keys. */
export interface KeyList {
  data: KeyInfo[];
}

/** POST /api/keys: the key, this once. */
export type CreatedKey = KeyInfo & { key: string };

/** A day as `YYYY-MM-DD` (UTC). */
export const DaySchema = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a day as YYYY-MM-DD");

/** Query of GET /api/usage. */
export const UsageQuerySchema = z.object({
  /** First day, inclusive. Defaults to 29 days before `to`. */
  from: DaySchema.optional(),
  /** Last day, inclusive. Defaults to today (UTC). */
  to: DaySchema.optional(),
  /** Only this key (its id, or `api-key`, `app`, `local`). Defaults to every key. */
  key: z.string().min(1).max(64).optional(),
  /** `csv` answers a file (text/csv) instead of JSON. Defaults to json. */
  format: z.enum(["json", "csv"]).default("json"),
});

/** What one key used on one model on one day. */
export const UsageRowSchema = z.object({
  day: z.string(),
  keyId: z.string(),
  keyName: z.string(),
  /** "" for requests that generated nothing (listing models, say). */
  model: z.string(),
  requests: z.number().int(),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  reasoningTokens: z.number().int(),
  errors: z.number().int(),
});
export type UsageRow = z.infer<typeof UsageRowSchema>;

export const UsageReportSchema = z.object({
  from: z.string(),
  to: z.string(),
  /** By day, then key name, then model. */
  rows: z.array(UsageRowSchema),
  /** The rows added up. */
  totals: UsageRowSchema.pick({
    requests: true,
    promptTokens: true,
    completionTokens: true,
    reasoningTokens: true,
    errors: true,
  }),
});
export type UsageReport = z.infer<typeof UsageReportSchema>;

/** GET /api/network: serving on the local network (the `host` setting, applied at the next start). */
export interface NetworkView {
  /** This running server can be reached from other machines. */
  enabled: boolean;
  /** The address it listens on. */
  host: string;
  port: number;
  /** The next start will serve the local network (the settings file's `host`, else the running one). */
  savedEnabled: boolean;
  /** `savedEnabled` differs from `enabled`: a restart applies it. */
  restartRequired: boolean;
  /** Where other machines reach it (addresses, then its `.local` name); empty while it serves this machine only. */
  urls: string[];
  /** An API key or a named key exists: turning the network on needs one. */
  hasKey: boolean;
}
