/**
 * /api/keys: named API keys (server/access/, issue 20), behind the admin guard like all of /api.
 * The secret is in the answer to POST only; lists show names, scopes, limits and when each key was
 * created and last used.
 */
import express from "express";
import { KeyError } from "../access/keys.js";
import type { ServerContext } from "../context.js";
import { BadRequestError, HearthError, NotFoundError } from "../errors.js";
import { parseOrThrow } from "../http/validate.js";
import { KeyCreateSchema, type CreatedKey, type KeyInfo, type KeyList } from "../wire/access.js";

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
  const withLastUse = (info: Omit<KeyInfo, "lastUsedAt">): KeyInfo => ({ ...info, lastUsedAt: null });

  router.get("/keys", (_req, res) => {
    let list;
    try {
      list = keys.list();
    } catch (err) {
      throw httpError(err);
    }
    const body: KeyList = { data: list.map(withLastUse) };
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

  router.delete("/keys/:key", (req, res) => {
    let revoked;
    try {
      revoked = keys.revoke(req.params.key);
    } catch (err) {
      throw httpError(err);
    }
    res.json({ id: revoked.id, name: revoked.name, deleted: true });
  });

  return router;
}
