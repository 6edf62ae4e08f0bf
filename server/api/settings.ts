/**
 * /api/settings: the server's configuration for the Settings screen. GET answers the running
 * config (secrets left out: only whether an API key is set) and what the settings file holds (the
 * one config.ts read: `--config`, else `<data-dir>/settings.json`); PUT validates changes with the
 * same ConfigSchema the server starts from and saves them there. The config is frozen while the server runs, so every saved change takes effect at the
 * next start: the answer lists the changed settings that need a restart. Flags and HEARTH_*
 * variables still win over the file at start-up (config.ts).
 */
import fsp from "node:fs/promises";
import path from "node:path";
import express from "express";
import { z } from "zod";
import { ConfigSchema, isLoopbackHost, SECRET_SETTINGS, type Config } from "../config.js";
import type { ServerContext } from "../context.js";
import { BadRequestError, HearthError } from "../errors.js";
import { parseOrThrow } from "../http/validate.js";

/** What the screen may change. `dataDir` (where this file lives), `model` and `uiDir` stay with the command line. */
export const EDITABLE_SETTINGS = [
  "host",
  "port",
  "apiKey",
  "corsOrigins",
  "allowedHosts",
  "insecure",
  "threads",
  "batchThreads",
  "lanes",
  "parallel",
  "ctxSize",
  "gpu",
  "engineBinary",
  "maxQueue",
  "defaultMaxTokens",
  "requestTimeout",
  "recordApi",
  "apiRetentionDays",
  "logLevel",
  "modelDirs",
  "modelIdleTimeout",
  "modelMemoryMb",
  "modelLoadTimeout",
  "hfEndpoint",
] as const satisfies readonly (keyof Config)[];
export type EditableKey = (typeof EDITABLE_SETTINGS)[number];

/** Body of PUT /api/settings: any editable keys; `null` removes a key from the file (back to its default). */
export const SettingsPatchSchema = z.record(z.string(), z.unknown());

async function readFile(file: string): Promise<Record<string, unknown>> {
  try {
    const value: unknown = JSON.parse(await fsp.readFile(file, "utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new HearthError(
      500,
      "server_error",
      `The settings file ${file} cannot be read: ${(err as Error).message}. Fix or delete it, then try again.`,
      { code: "settings_unreadable" },
    );
  }
}

/** Writes the file whole or not at all, readable by its owner only (it may hold the API key). */
async function writeFile(file: string, values: Record<string, unknown>): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, `${JSON.stringify(values, null, 2)}\n`, { mode: 0o600 });
  await fsp.rename(tmp, file);
}

const withoutSecrets = (values: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(values).filter(([k]) => !SECRET_SETTINGS.has(k)));

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function createSettingsRouter(ctx: ServerContext): express.Router {
  const router = express.Router();
  // config.ts decides where settings live (`--config`, else `<data-dir>/settings.json`): this
  // writes the file the next start reads, never a second one.
  const file = ctx.config.settingsFile;
  const running = ctx.config as Record<string, unknown>;
  let writing: Promise<unknown> = Promise.resolve();

  /** Settings whose saved value differs from the running one: they apply after a restart. */
  const pending = (saved: Record<string, unknown>): EditableKey[] =>
    EDITABLE_SETTINGS.filter((k) => {
      if (!(k in saved)) return false;
      const parsed = ConfigSchema.shape[k].safeParse(saved[k]);
      return parsed.success && !same(parsed.data, running[k]);
    });

  const describe = (saved: Record<string, unknown>) => ({
    settings: { ...withoutSecrets(running), apiKeySet: ctx.config.apiKey !== undefined },
    saved: { ...withoutSecrets(saved), apiKeySet: typeof saved.apiKey === "string" },
    file,
    editable: EDITABLE_SETTINGS,
    restartRequired: pending(saved),
  });

  router.get("/settings", async (_req, res) => {
    res.json(describe(await readFile(file)));
  });

  router.put("/settings", async (req, res) => {
    const body = parseOrThrow(SettingsPatchSchema, req.body ?? {});
    const parsed: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(body)) {
      if (!(EDITABLE_SETTINGS as readonly string[]).includes(key)) {
        throw new BadRequestError(
          `'${key}' cannot be changed here${key in ConfigSchema.shape ? "; set it on the command line" : ": there is no such setting"}.`,
          { param: key, code: "invalid_setting" },
        );
      }
      if (value === null) {
        parsed[key] = null;
        continue;
      }
      const result = ConfigSchema.shape[key as EditableKey].safeParse(value);
      if (!result.success)
        throw new BadRequestError(`Invalid '${key}': ${result.error.issues[0]?.message ?? "not a valid value"}.`, {
          param: key,
          code: "invalid_value",
        });
      parsed[key] = result.data;
    }
    // One write at a time, each reading what the previous one wrote.
    const work = writing.then(async () => {
      const saved = await readFile(file);
      // A running key that the file holds goes away with it; one from a flag or HEARTH_API_KEY stays.
      const keyFromElsewhere = ctx.config.apiKey !== undefined && saved.apiKey !== ctx.config.apiKey;
      for (const [k, v] of Object.entries(parsed)) {
        if (v === null) delete saved[k];
        else saved[k] = v;
      }
      const host = (saved.host as string | undefined) ?? ctx.config.host;
      const hasKey = typeof saved.apiKey === "string" || (saved.apiKey === undefined && keyFromElsewhere);
      if (!isLoopbackHost(host) && !hasKey && saved.insecure !== true) {
        throw new BadRequestError(
          `Listening on ${host} needs an API key, or anyone on the network could use Hearth. Set an API key first.`,
          { param: "host", code: "api_key_required" },
        );
      }
      const check = ConfigSchema.safeParse({ ...saved, dataDir: ctx.config.dataDir });
      if (!check.success) {
        const issue = check.error.issues[0];
        throw new BadRequestError(
          `Invalid '${String(issue?.path[0] ?? "settings")}': ${issue?.message ?? "not valid"}.`,
          { param: String(issue?.path[0] ?? ""), code: "invalid_value" },
        );
      }
      await writeFile(file, saved);
      return saved;
    });
    writing = work.catch(() => undefined);
    res.json(describe(await work));
  });

  return router;
}
