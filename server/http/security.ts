/**
 * The guards in front of every route (docs/ARCHITECTURE.md "Safe by default"): Host check against DNS
 * rebinding, Origin and Content-Type checks so a web page cannot trigger work with a simple
 * (unpreflighted) request, CORS only for configured origins, and the API key.
 */
import crypto from "node:crypto";
import net from "node:net";
import cors from "cors";
import type { Request, RequestHandler } from "express";
import { isLoopbackHost, SETTINGS_TOKEN_HEADER, type Config } from "../config.js";
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
    exposedHeaders: ["X-Request-ID", "Retry-After", "X-Hearth-Warnings"],
    maxAge: 600,
  });
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Paths that do work or hold data: a cross-site page may not reach them with any method. */
const API_PREFIXES = ["/v1", "/api", "/mcp", "/metrics"];
const isApiPath = (p: string) => API_PREFIXES.some((prefix) => p === prefix || p.startsWith(`${prefix}/`));

const foreignOrigin = (origin: string) =>
  new ForbiddenError(`Origin '${origin}' is not allowed. Add it with --cors-origins to let that page call Hearth.`, {
    code: "invalid_origin",
  });

/**
 * A web page must not make Hearth do work. Browsers send cross-origin POSTs with text/plain or
 * form bodies without a preflight, and GETs from `<img>`, `<script>` or a link without any:
 * refusing a foreign Origin and any non-JSON body on every path, and on /v1, /api, /mcp and /metrics
 * every request a browser marks as coming from another site (`Sec-Fetch-Site`), means such a
 * request never reaches a handler. The app's own pages (same-origin, or `none` for what the person
 * typed), configured CORS origins and clients that are not browsers (they send neither header)
 * pass.
 */
export function requestOriginGuard(config: Config): RequestHandler {
  return (req, _res, next) => {
    // A preflight does no work; CORS answers it.
    if (req.method === "OPTIONS") return next();
    const unsafe = UNSAFE.has(req.method);
    const api = isApiPath(req.path);
    if (!unsafe && !api) return next();
    const origin = req.headers.origin;
    if (origin === "null")
      return next(new ForbiddenError("Requests from opaque origins are not allowed.", { code: "invalid_origin" }));
    if (origin) {
      // A CORS-mode request names its page: that decides, whatever Sec-Fetch-Site says.
      if (!originAllowed(origin, req.headers.host, config.corsOrigins)) return next(foreignOrigin(origin));
    } else if (api) {
      // No Origin: a no-cors request (an image, a script, a navigation). Only the page's own
      // requests and what the person typed (or a non-browser client, with no header) pass.
      const site = req.headers["sec-fetch-site"];
      if (site !== undefined && site !== "same-origin" && site !== "none") {
        return next(
          new ForbiddenError(
            "Requests from other sites are not allowed. A web page that should call Hearth must be listed with --cors-origins and send a CORS request.",
            { code: "invalid_origin" },
          ),
        );
      }
    }
    if (!unsafe) return next();
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

/**
 * A check that a request carries the desktop app's per-launch settings token (config.ts
 * `settingsToken`, compared in constant time): what the app's main process sends after the person
 * confirmed a change in a native dialog. Guards protected settings and commands MCP servers run.
 */
export function settingsTokenCheck(config: Pick<Config, "settingsToken">): (req: Request) => boolean {
  const digest = (s: string) => crypto.createHash("sha256").update(s).digest();
  const token = config.settingsToken ? digest(config.settingsToken) : null;
  return (req) => {
    const given = req.get(SETTINGS_TOKEN_HEADER);
    return token !== null && given !== undefined && crypto.timingSafeEqual(digest(given), token);
  };
}
