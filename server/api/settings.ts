/**
 * /api/settings: the server's configuration for the Settings screen. GET answers the running
 * config (secrets left out: only whether an API key is set) and what the settings file holds (the
 * one config.ts read: `--config`, else `<data-dir>/settings.json`); PUT validates changes with the
 * same ConfigSchema the server starts from and saves them there. The config is frozen while the
 * server runs, so every saved change takes effect at the next start: the answer lists the changed
 * settings that need a restart. Flags and HEARTH_* variables still win over the file at start-up.
 *
 * Two kinds of change are refused. The settings that guard the server (PROTECTED_SETTINGS) are
 * not a plain API call's to change: a local program, or a page that got past the origin checks,
 * would otherwise open the next start to the network or to every web page. They change on the
 * command line, in the environment, or in the desktop app's Settings, whose main process asks the
 * person in a native dialog and then sends the per-launch settings token (config.ts
 * `settingsToken`). And a value that would make every later start fail (an address this machine
 * does not have, a port it may not bind, `engineBinary: "local"` without a local build) is
 * refused when saved, not discovered at the next start.
 */
import fsp from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import express from "express";
import { z } from "zod";
import {
  ConfigSchema,
  envName,
  isLoopbackHost,
  OPTIONS,
  PROTECTED_SETTINGS,
  SECRET_SETTINGS,
  type ProtectedKey,
  type Config,
} from "../config.js";
import type { ServerContext } from "../context.js";
import { localBuildAvailable } from "../engine/runtime.js";
import { BadRequestError, ForbiddenError, HearthError } from "../errors.js";
import { settingsTokenCheck } from "../http/security.js";
import { parseOrThrow } from "../http/validate.js";
import { EDITABLE_SETTINGS, type EditableKey, type SettingsView } from "../wire/settings.js";

// Every editable key names a setting of the config (the list lives with the API's shapes, wire/settings.ts).
const _editableAreSettings: readonly (keyof Config)[] = EDITABLE_SETTINGS;
void _editableAreSettings;

// The guarding settings are listed in config.ts (the Electron shell reads the list too); each is one the screen shows.
const _protectedAreEditable: readonly EditableKey[] = PROTECTED_SETTINGS;
void _protectedAreEditable;
const isProtected = (key: string): key is ProtectedKey => (PROTECTED_SETTINGS as readonly string[]).includes(key);

/** Where a person changes a protected setting instead, in words. */
function whereToChange(key: ProtectedKey): string {
  const spec = OPTIONS.find((o) => o.key === key);
  const flag = spec ? `--${spec.flag}${spec.type === "string" ? " <value>" : ""}` : key;
  return `on the command line (${flag}), with ${spec ? envName(spec.flag) : "its variable"}, or in the desktop app's Settings`;
}

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

/**
 * Why nothing could listen on `host:port`, or null when something can. A port in use (this server's
 * own, say) is not a reason: it may be free at the next start, and the desktop app moves on from a
 * taken one.
 */
async function bindProblem(host: string, port: number): Promise<string | null> {
  const probe = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once("error", reject);
      probe.listen(port, host, () => resolve());
    });
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") return null;
    if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME")
      return `${host} is not an address of this machine`;
    if (code === "EACCES") return `this user may not listen on port ${port}`;
    return `listening on ${host}:${port} fails (${(err as Error).message})`;
  } finally {
    if (probe.listening) probe.close();
  }
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
  /** True when the request carries the desktop app's settings token. */
  const fromDesktopApp = settingsTokenCheck(ctx.config);

  /** Settings whose saved value differs from the running one: they apply after a restart. */
  const pending = (saved: Record<string, unknown>): EditableKey[] =>
    EDITABLE_SETTINGS.filter((k) => {
      if (!(k in saved)) return false;
      const parsed = ConfigSchema.shape[k].safeParse(saved[k]);
      return parsed.success && !same(parsed.data, running[k]);
    });

  const describe = (saved: Record<string, unknown>): SettingsView => ({
    settings: { ...withoutSecrets(running), apiKeySet: ctx.config.apiKey !== undefined },
    saved: { ...withoutSecrets(saved), apiKeySet: typeof saved.apiKey === "string" },
    file,
    editable: EDITABLE_SETTINGS,
    /** Editable only from the desktop app's Settings (or the command line and environment). */
    protected: PROTECTED_SETTINGS,
    restartRequired: pending(saved),
  });

  /** Refuses what would make every later start fail; only what this change touches is checked. */
  const refuseFailingStarts = async (parsed: Record<string, unknown>, saved: Record<string, unknown>) => {
    if (("host" in parsed && parsed.host !== null) || ("port" in parsed && parsed.port !== null)) {
      const host = (saved.host as string | undefined) ?? ctx.config.host;
      const port = (saved.port as number | undefined) ?? ctx.config.port;
      const problem = await bindProblem(host, port);
      if (problem)
        throw new BadRequestError(`Hearth could not start with this: ${problem}.`, {
          param: "host" in parsed ? "host" : "port",
          code: "address_unavailable",
        });
    }
    if (parsed.engineBinary === "local" && ctx.config.engineBinary !== "local") {
      const gpu = (saved.gpu as Config["gpu"] | undefined) ?? ctx.config.gpu;
      const available = await ctx.models
        .getRuntime()
        .then((runtime) => localBuildAvailable(gpu, runtime))
        .catch(() => false);
      if (!available)
        throw new BadRequestError(
          "There is no local llama.cpp build, so Hearth could not start with 'local'. Run `npm run build:engine` first, or keep 'auto'.",
          { param: "engineBinary", code: "no_local_build" },
        );
    }
  };

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
      if (isProtected(key) && !fromDesktopApp(req)) {
        throw new ForbiddenError(
          `'${key}' guards this server and cannot be changed through the API. Change it ${whereToChange(key)}.`,
          { param: key, code: "protected_setting" },
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
      // A key typed here replaces a key file the settings named (config.ts refuses both).
      if ("apiKey" in parsed) delete saved.apiKeyFile;
      const host = (saved.host as string | undefined) ?? ctx.config.host;
      const hasKey =
        typeof saved.apiKey === "string" ||
        typeof saved.apiKeyFile === "string" ||
        (saved.apiKey === undefined && keyFromElsewhere);
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
      await refuseFailingStarts(parsed, saved);
      await writeFile(file, saved);
      return saved;
    });
    writing = work.catch(() => undefined);
    res.json(describe(await work));
  });

  return router;
}
