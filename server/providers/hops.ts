/**
 * Which Hearth servers a request has passed through, so a provider that leads back to one of them
 * (its address is this server, or another Hearth that forwards here) is refused at once instead of
 * recursing until file descriptors run out. Every server has a random id per start; each upstream
 * request carries the ids of the servers it came through plus its own in `X-Hearth-Via`, and a
 * server that finds its own id there (or too many hops) refuses the request with 508.
 *
 * The inbound list reaches the outbound request through AsyncLocalStorage: the HTTP layer runs
 * each request that arrived with hops in it, and the provider reads it when it sends, without the
 * list travelling through every generation request. A request without hops (all but proxied ones)
 * does not enter it: on Node 20 a storage that has run once installs promise hooks for the whole
 * process, and node-llama-cpp makes several promises a token — measured, that cost the JavaScript
 * thread ~10% more CPU per token on stories260K at c=8 (docs/ENGINE-NOTES.md §8.4).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import crypto from "node:crypto";

export const VIA_HEADER = "x-hearth-via";
/** More Hearth servers than this in one chain is a loop the ids did not catch (or a mistake). */
export const MAX_HOPS = 8;

const ID = /^[0-9a-f]{24}$/;
const inbound = new AsyncLocalStorage<readonly string[]>();

/** A new id for one server start. */
export function newInstanceId(): string {
  return crypto.randomBytes(12).toString("hex");
}

/** The ids in an inbound `X-Hearth-Via` header; anything that is not an id counts as a hop too. */
export function hopsOf(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  return (Array.isArray(header) ? header.join(",") : header)
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0)
    .map((s) => (ID.test(s) ? s : "?"));
}

/** Why a request with these hops must be refused by server `self`, or null when it may go on. */
export function loopReason(hops: readonly string[], self: string): string | null {
  if (hops.includes(self))
    return "This request came back to the Hearth server that sent it: a provider's base URL leads back to this server.";
  if (hops.length >= MAX_HOPS)
    return `This request has passed through ${hops.length} Hearth servers: their providers form a chain or a loop.`;
  return null;
}

/** Runs `work` (the rest of an inbound request) with its hops known to any provider it calls. */
export function withHops<T>(hops: readonly string[], work: () => T): T {
  // `exit` costs nothing while the storage was never run, and stays right once it has.
  return hops.length > 0 ? inbound.run(hops, work) : inbound.exit(work);
}

/** The `X-Hearth-Via` value for an upstream request made by server `self`. */
export function outboundVia(self: string): string {
  return [...(inbound.getStore() ?? []), self].join(", ");
}
