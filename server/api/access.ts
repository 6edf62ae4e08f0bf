/**
 * /api/keys, /api/usage and /api/network (server/access/, issue 20), behind the admin guard like
 * all of /api.
 * A key's secret is in the answer to POST only; lists show names, scopes, limits and when each key
 * was created and last used (from the usage table). Usage comes as JSON or as a CSV file.
 * /api/network only reports: the switch is the `host` setting, changed through PUT /api/settings
 * (a guarding setting: the desktop app's Settings, after a native dialog), which refuses to turn
 * it on without a key.
 */
import express from "express";
import { KeyError } from "../access/keys.js";
import type { ServerContext } from "../context.js";
import { BadRequestError, HearthError, NotFoundError } from "../errors.js";
import { parseOrThrow } from "../http/validate.js";
import { lanUrls, servesNetwork } from "../access/network.js";
import { dayOf } from "../history/usage.js";
import { readSavedSettings } from "./settings.js";
import {
  KeyCreateSchema,
  UsageQuerySchema,
  type CreatedKey,
  type KeyInfo,
  type KeyList,
  type NetworkView,
  type UsageReport,
} from "../wire/access.js";

const CSV_COLUMNS = [
  "day",
  "keyId",
  "keyName",
  "model",
  "requests",
  "promptTokens",
  "completionTokens",
  "reasoningTokens",
  "errors",
] as const;

/** A CSV field: quoted when it must be, and never read as a formula by a spreadsheet (`=`, `+`, `-`, `@` first). */
function csvField(value: string | number): string {
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function usageCsv(report: UsageReport): string {
  const lines = [CSV_COLUMNS.join(",")];
  for (const row of report.rows) lines.push(CSV_COLUMNS.map((c) => csvField(row[c])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/** A KeyError as the HTTP error it is. */
function httpError(err: unknown): unknown {
  if (!(err instanceof KeyError)) return err;
  if (err.code === "key_not_found") return new NotFoundError(err.message, { code: err.code });
  if (err.code === "keys_unreadable") return new HearthError(500, "server_error", err.message, { code: err.code });
  return new BadRequestError(err.message, { param: "name", code: err.code });
}

export function createAccessRouter(ctx: ServerContext): express.Router {
  const router = express.Router();
  const keys = ctx.access.keys;
  const withLastUse = (info: Omit<KeyInfo, "lastUsedAt">, lastUsed = new Map<string, number>()): KeyInfo => ({
    ...info,
    lastUsedAt: lastUsed.get(info.id) ?? null,
  });

  router.get("/keys", (_req, res) => {
    let list;
    try {
      list = keys.list();
    } catch (err) {
      throw httpError(err);
    }
    const lastUsed = ctx.history.usage.lastUsed();
    const body: KeyList = { data: list.map((k) => withLastUse(k, lastUsed)) };
    res.json(body);
  });

  router.post("/keys", (req, res) => {
    const body = parseOrThrow(KeyCreateSchema, req.body ?? {});
    let created;
    try {
      created = keys.create(body);
    } catch (err) {
      throw httpError(err);
    }
    const answer: CreatedKey = { ...withLastUse(created.info), key: created.key };
    res.status(201).json(answer);
  });

  /** The host the next start binds: the settings file's, unless a flag or variable set the running one. */
  const savedHost = async () => {
    const saved = await readSavedSettings(ctx.config.settingsFile);
    return typeof saved.host === "string" ? saved.host : ctx.config.host;
  };

  router.delete("/keys/:key", async (req, res) => {
    // The last key of a server that serves (or will serve) the network without --api-key: the next
    // start would refuse to listen there (config.ts), so the desktop app could not start its server.
    const network = servesNetwork(ctx.config.host) || servesNetwork(await savedHost());
    if (network && ctx.config.apiKey === undefined && !ctx.config.insecure && keys.list().length === 1)
      throw new HearthError(
        409,
        "invalid_request_error",
        "This is the last key, and Hearth serves the local network, which needs one. Turn off 'Serve on local network' first, or create another key.",
        { code: "key_required" },
      );
    let revoked;
    try {
      revoked = keys.revoke(req.params.key);
    } catch (err) {
      throw httpError(err);
    }
    res.json({ id: revoked.id, name: revoked.name, deleted: true });
  });

  router.get("/network", async (req, res) => {
    const host = ctx.config.host;
    const next = await savedHost();
    const port = req.socket.localPort ?? ctx.config.port;
    const body: NetworkView = {
      enabled: servesNetwork(host),
      host,
      port,
      savedEnabled: servesNetwork(next),
      restartRequired: servesNetwork(next) !== servesNetwork(host),
      urls: lanUrls(servesNetwork(host) ? host : next, port),
      hasKey: ctx.access.hasKey(),
    };
    res.json(body);
  });

  router.get("/usage", (req, res) => {
    const query = parseOrThrow(UsageQuerySchema, req.query);
    const to = query.to ?? dayOf(Date.now());
    const from = query.from ?? dayOf(Date.parse(`${to}T00:00:00Z`) - 29 * 86_400_000);
    if (from > to)
      throw new BadRequestError("'from' must not be after 'to'.", { param: "from", code: "invalid_range" });
    const report = ctx.history.usage.report(from, to, query.key);
    if (query.format === "csv") {
      res.setHeader("Content-Disposition", `attachment; filename="hearth-usage-${from}-to-${to}.csv"`);
      res.type("text/csv").send(usageCsv(report));
      return;
    }
    res.json(report);
  });

  return router;
}
