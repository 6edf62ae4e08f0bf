/**
 * Who may call which route, and how often (issue 20). `access.guard(scope)` is the middleware in
 * front of /v1 and /v1/messages (`inference`) and of /api, /mcp and /metrics (`admin`). It finds
 * the caller (a principal):
 *
 * - a named key (`hk_<id>_<secret>`, access/keys.ts) with its own scope and limits;
 * - the single `--api-key`, an admin key without limits, as before named keys existed;
 * - the desktop window's token (`uiToken`), so the app's own UI never asks for a key;
 * - nobody, which is allowed only while no `--api-key` is set and the request comes from this
 *   machine (or `--insecure` says anyone may): the person at the machine, not limited unless
 *   `--local-rpm` / `--local-tpm` say so.
 *
 * A token that is not a Hearth key is ignored without an `--api-key` (OpenAI clients must send
 * some key, and people type "unused"), but a Hearth key that does not match (a typo, a revoked
 * key) is refused: its sender meant to be someone. Then the key's scope is checked (403), its
 * limits are applied with the X-RateLimit-* headers (429 in the route's error format, as the one
 * error handler writes it), and a meter is left on the response for the generation pipeline
 * (`meterOf(res)`, passed to `ctx.chat.start`) to report the tokens each request used.
 */
import type { Request, RequestHandler, Response } from "express";
import type { Usage, UsageMeter } from "../core/types.js";
import { AuthenticationError, ForbiddenError } from "../errors.js";
import type { KeyScope } from "../wire/access.js";
import { digest, keyIdOf, type KeyStore, sameSecret } from "./keys.js";
import { RateLimiter, type Limits } from "./limiter.js";

/** Who a request comes from, as far as access is concerned. */
export interface Principal extends Limits {
  /** The key's id, or `api-key`, `app`, `local` for the built-in callers. */
  id: string;
  /** Shown in usage and as the `key` label in /metrics; never the secret. */
  name: string;
  scope: KeyScope;
}

const API_KEY: Principal = { id: "api-key", name: "api-key", scope: "admin", rpm: 0, tpm: 0 };
const APP: Principal = { id: "app", name: "app", scope: "admin", rpm: 0, tpm: 0 };
const LOCAL: Principal = { id: "local", name: "local", scope: "admin", rpm: 0, tpm: 0 };

/** What one request used, handed to `onRequestEnd` once its response is over. */
export interface RequestUsage {
  principal: Principal;
  /** The scope of the route it called. */
  scope: KeyScope;
  /** The model its generations ran on; "" for a request that generated nothing. */
  model: string;
  status: number;
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  /** True when the key's rate limit refused it (429). */
  limited: boolean;
  /** 1 when the request failed (an error status, or a generation that failed after the headers), else 0. */
  errors: number;
}

export interface AccessOptions {
  keys: KeyStore;
  /** The single `--api-key`: an admin key without limits. Defaults to none. */
  apiKey?: string | undefined;
  /** The desktop window's token (config `uiToken`). Defaults to none. */
  uiToken?: string | undefined;
  /** Anyone may call without a key while no `apiKey` is set, not only this machine (`--insecure`). Defaults to false. */
  insecure?: boolean;
  /** Limits for callers without a key on this machine (config `localRpm`, `localTpm`). Defaults to none. */
  localLimits?: Limits;
  /** Told about every guarded request once its response ended (usage, metrics). Defaults to none. */
  onRequestEnd?: (usage: RequestUsage) => void;
}

/** The bearer token (or `x-api-key`, as Anthropic's SDK sends it) of a request, if any. */
export function presentedToken(req: Request): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith("Bearer ")) return auth.slice(7).trim();
  const header = req.headers["x-api-key"];
  return typeof header === "string" ? header.trim() : undefined;
}

/** True for a connection from this machine (`::ffff:127.0.0.1` is how a dual-stack socket shows IPv4 loopback). */
export function fromLoopback(req: Request): boolean {
  const a = req.socket.remoteAddress ?? "";
  return a === "::1" || a.startsWith("127.") || a.startsWith("::ffff:127.");
}

class RequestMeter implements UsageMeter {
  model = "";
  promptTokens = 0;
  completionTokens = 0;
  reasoningTokens = 0;
  failures = 0;
  /** Choices admitted and not yet ended. */
  private open = 0;
  private onSettled: (() => void) | null = null;

  constructor(
    private readonly principal: Principal,
    private readonly limiter: RateLimiter,
  ) {}

  began(): void {
    this.open++;
  }

  finished(model: string, usage: Usage): void {
    this.model = model;
    this.promptTokens += usage.promptTokens;
    this.completionTokens += usage.completionTokens;
    this.reasoningTokens += usage.reasoningTokens ?? 0;
    if (this.principal.tpm > 0) this.limiter.spend(this.principal.id, usage.promptTokens + usage.completionTokens);
    this.ended();
  }

  failed(model: string, usage?: Usage): void {
    this.failures++;
    if (usage) this.finished(model, usage);
    else {
      this.model = model;
      this.ended();
    }
  }

  /**
   * Runs `fn` once every admitted choice has ended: a client that leaves mid-stream closes the
   * response before its choice has counted what it used. At most `waitMs`, so a choice that never
   * ends cannot hold a request's usage back for ever.
   */
  whenSettled(fn: () => void, waitMs: number): void {
    if (this.open === 0) return fn();
    const timer = setTimeout(() => this.settle(), waitMs);
    timer.unref();
    this.onSettled = () => {
      clearTimeout(timer);
      fn();
    };
  }

  private ended(): void {
    if (this.open > 0) this.open--;
    if (this.open === 0) this.settle();
  }

  private settle(): void {
    const fn = this.onSettled;
    this.onSettled = null;
    fn?.();
  }
}

/** How long a closed response's usage waits for its choices to count what they used. */
const SETTLE_MS = 10_000;

/** The meter the guard left on this response, for `ctx.chat.start({ meter })`; undefined on unguarded routes. */
export function meterOf(res: Response): UsageMeter | undefined {
  return res.locals.meter as RequestMeter | undefined;
}

/** The principal the guard found for this response's request. */
export function principalOf(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

function checkScope(principal: Principal, scope: KeyScope): void {
  if (scope === "admin" && principal.scope !== "admin")
    throw new ForbiddenError(
      `The key '${principal.name}' may use the inference API (/v1) only; this needs a key with the 'admin' scope.`,
      { code: "insufficient_scope" },
    );
}

export class AccessControl {
  readonly limiter = new RateLimiter();
  private readonly builtIn: { digest: Buffer; principal: Principal }[];
  /** The caller without a key, with the limits configured for it. */
  private readonly local: Principal;

  constructor(private readonly options: AccessOptions) {
    this.local = { ...LOCAL, ...options.localLimits };
    this.builtIn = [
      ...(options.apiKey ? [{ digest: digest(options.apiKey), principal: API_KEY }] : []),
      ...(options.uiToken ? [{ digest: digest(options.uiToken), principal: APP }] : []),
    ];
  }

  get keys(): KeyStore {
    return this.options.keys;
  }

  /** True when requests from other machines need a key: an `--api-key` or at least one named key exists. */
  hasKey(): boolean {
    return this.options.apiKey !== undefined || this.options.keys.any();
  }

  /** The caller of `req`; throws 401 for a wrong key, or for no key where one is needed. */
  authenticate(req: Request): Principal {
    const token = presentedToken(req);
    if (token !== undefined && token !== "") {
      if (keyIdOf(token) !== null) {
        const key = this.options.keys.authenticate(token);
        if (!key) throw new AuthenticationError("This Hearth API key is not valid: it was revoked, or mistyped.");
        return { id: key.id, name: key.name, scope: key.scope, rpm: key.rpm, tpm: key.tpm };
      }
      // Compared with every built-in token, so the time taken says nothing about which one matched.
      const matched = this.builtIn.filter((b) => sameSecret(token, b.digest));
      if (matched[0]) return matched[0].principal;
      if (this.options.apiKey !== undefined) throw new AuthenticationError();
    }
    if (this.options.apiKey === undefined && (this.options.insecure === true || fromLoopback(req))) return this.local;
    throw new AuthenticationError();
  }

  /** The middleware for routes of `scope`. */
  guard(scope: KeyScope): RequestHandler {
    return (req, res, next) => {
      if (req.method === "OPTIONS") return next();
      const seen = principalOf(res);
      if (seen) {
        // A request a router passed on (an unknown path under /v1/messages reaches /v1's guard too)
        // is counted and limited once; its scope is still checked here.
        checkScope(seen, scope);
        return next();
      }
      const principal = this.authenticate(req);
      checkScope(principal, scope);
      const meter = new RequestMeter(principal, this.limiter);
      res.locals.principal = principal;
      res.locals.meter = meter;
      let limited = false;
      const onEnd = this.options.onRequestEnd;
      if (onEnd) {
        let done = false;
        const end = () => {
          if (done) return;
          done = true;
          onEnd({
            principal,
            scope,
            limited,
            model: meter.model,
            status: res.statusCode,
            promptTokens: meter.promptTokens,
            completionTokens: meter.completionTokens,
            reasoningTokens: meter.reasoningTokens,
            errors: res.statusCode >= 400 || meter.failures > 0 ? 1 : 0,
          });
        };
        const settled = () => meter.whenSettled(end, SETTLE_MS);
        res.once("finish", settled);
        res.once("close", settled);
      }
      // Over the limit: RateLimitError carries the X-RateLimit-* headers and Retry-After to the error handler.
      if (principal.rpm > 0 || principal.tpm > 0) {
        let headers;
        try {
          headers = this.limiter.admit(principal.id, principal);
        } catch (err) {
          limited = true;
          throw err;
        }
        for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      }
      next();
    };
  }
}
