/**
 * Refuses a request that a provider of this server (or of a chain of Hearth servers) sent back
 * here, before any other work (providers/hops.ts). Answers 508 Loop Detected, which the sending
 * provider reports as `provider_loop`.
 */
import type { RequestHandler } from "express";
import { HearthError } from "../errors.js";
import { VIA_HEADER, hopsOf, loopReason, withHops } from "../providers/hops.js";

export function loopGuard(instanceId: string): RequestHandler {
  return (req, _res, next) => {
    const hops = hopsOf(req.headers[VIA_HEADER]);
    const reason = loopReason(hops, instanceId);
    if (reason !== null) return next(new HearthError(508, "invalid_request_error", reason, { code: "provider_loop" }));
    withHops(hops, next);
  };
}
