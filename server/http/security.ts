/**
 * The guards in front of every route (docs/ARCHITECTURE.md "Safe by default"): Host check against DNS
 * rebinding, Origin and Content-Type checks so a web page cannot trigger work with a simple
 * (unpreflighted) request, CORS only for configured origins, and the API key.
 */
import crypto from "node:crypto";
import net from "node:net";
import cors from "cors";
import type { RequestHandler } from "express";
import { isLoopbackHost, type Config } from "../config.js";
import { AuthenticationError, ForbiddenError, UnsupportedMediaTypeError } from "../errors.js";

function hostname(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith("[")) {
    // Only `[addr]` or `[addr]:port`: "[::1].evil.example" is a name, not the loopback address.
    const end = h.indexOf("]");
    return end > 0 && /^(:\d*)?$/.test(h.slice(end + 1)) ? h.slice(1, end) : h;
  }
  const colon = h.lastIndexOf(":");
  return colon > 0 && h.indexOf(":") === colon ? h.slice(0, colon) : h;
}

/**
 * Accepts loopback names, IP literals (a rebinding attack needs a DNS name, so an IP in Host is
 * always what the user typed) and configured names; refuses every other name with 403.
 */
export function hostCheck(config: Config): RequestHandler {
  const allowed = new Set(config.allowedHosts.map((h) => h.toLowerCase()));
  return (req, _res, next) => {
    const header = req.headers.host;
    if (!header) return next(new ForbiddenError("Requests must carry a Host header.", { code: "invalid_host" }));
    const name = hostname(header);
    if (isLoopbackHost(name) || net.isIP(name) !== 0 || allowed.has(name)) return next();
    next(
      new ForbiddenError(
        `Host '${name}' is not allowed. If you reach Hearth through this name on purpose, add it with --allowed-hosts.`,
        { code: "invalid_host" },
      ),
    );
  };
}

/** True when `origin` is the server's own origin (the UI it serves) or an allowed one. */
function originAllowed(origin: string, host: string | undefined, allowList: readonly string[]): boolean {
  if (allowList.includes("*") || allowList.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

export function corsPolicy(config: Config): RequestHandler {
  return cors({
    origin: (origin, cb) =>
      cb(null, origin !== undefined && (config.corsOrigins.includes("*") || config.corsOrigins.includes(origin))),
    methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    allowedHeaders: ["Authorization", "Content-Type", "X-Request-ID", "X-Api-Key", "Anthropic-Version", "OpenAI-Beta"],
    exposedHeaders: ["X-Request-ID", "Retry-After"],
    maxAge: 600,
  });
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Browsers send cross-origin POSTs with text/plain or form bodies without a preflight; refusing a
 * foreign Origin and any non-JSON body means such a request never reaches generation.
 */
export function requestOriginGuard(config: Config): RequestHandler {
  return (req, _res, next) => {
    if (!UNSAFE.has(req.method)) return next();
    const origin = req.headers.origin;
    if (origin && origin !== "null" && !originAllowed(origin, req.headers.host, config.corsOrigins)) {
      return next(
        new ForbiddenError(
          `Origin '${origin}' is not allowed. Add it with --cors-origins to let that page call Hearth.`,
          { code: "invalid_origin" },
        ),
      );
    }
    if (origin === "null")
      return next(new ForbiddenError("Requests from opaque origins are not allowed.", { code: "invalid_origin" }));
    const hasBody = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
    if (hasBody && !req.is("application/json")) return next(new UnsupportedMediaTypeError(req.headers["content-type"]));
    next();
  };
}

const digest = (s: string) => crypto.createHash("sha256").update(s).digest();

/**
 * `Authorization: Bearer <key>` (or `x-api-key`, as Anthropic's SDK sends), compared in constant
 * time. With no API key everything passes; with one, the desktop window's `uiToken` passes too.
 */
export function apiKeyAuth(apiKey: string | undefined, uiToken?: string): RequestHandler {
  if (!apiKey) return (_req, _res, next) => next();
  const accepted = [apiKey, ...(uiToken ? [uiToken] : [])].map(digest);
  return (req, _res, next) => {
    if (req.method === "OPTIONS") return next();
    const auth = req.headers.authorization;
    const presented = auth?.startsWith("Bearer ")
      ? auth.slice(7).trim()
      : (req.headers["x-api-key"] as string | undefined);
    if (presented !== undefined) {
      const given = digest(presented);
      // Compare with every accepted token, so the time taken says nothing about which one matched.
      const matches = accepted.map((expected) => crypto.timingSafeEqual(given, expected));
      if (matches.includes(true)) return next();
    }
    next(new AuthenticationError());
  };
}
