/**
 * The one way the UI talks to the server: fetch with the API key, JSON in and out, server errors
 * turned into ApiError, and SSE streams read from the response body as an async iterable.
 */
import { authorization, reportUnauthorized } from "./auth.js";
import { ApiError, errorFromEvent, errorFromResponse, networkError } from "./errors.js";
import { readSse } from "./sse.js";

/** The server's origin. The UI is served by the server it talks to, so relative URLs are enough. */
export const baseUrl = (): string => (typeof location === "undefined" ? "" : location.origin);

export interface RequestOptions {
  signal?: AbortSignal;
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined | null>;
  headers?: Record<string, string>;
  /** Lets the request outlive the page (a delete committed while the window closes). */
  keepalive?: boolean;
}

export function buildUrl(path: string, query?: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {}))
    if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

async function send(
  method: string,
  path: string,
  body: unknown,
  opts: RequestOptions,
  accept: string,
): Promise<Response> {
  const headers: Record<string, string> = { Accept: accept, ...opts.headers };
  const auth = authorization();
  if (auth) headers.Authorization = auth;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(buildUrl(path, opts.query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal,
      keepalive: opts.keepalive,
    });
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
    throw networkError(err);
  }
  if (!res.ok) {
    if (res.status === 401) reportUnauthorized();
    throw await errorFromResponse(res);
  }
  return res;
}

/** A JSON request; resolves with the parsed body (undefined for 204). */
export async function request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const res = await send(method, path, body, opts, "application/json");
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A plain-text GET (Prometheus metrics, Markdown exports). */
export async function requestText(path: string, opts: RequestOptions = {}): Promise<string> {
  return (await send("GET", path, undefined, opts, "text/plain, */*")).text();
}

/**
 * Streams the JSON payloads of an SSE response. Ends at `[DONE]` or the end of the body; an
 * `{"error": ...}` event (an error after the stream started) is thrown as an ApiError.
 * Leaving the `for await` loop early cancels the request.
 */
export async function* streamJson<T>(
  method: string,
  path: string,
  body: unknown,
  opts: RequestOptions = {},
): AsyncGenerator<T & { event?: string }> {
  const res = await send(method, path, body, opts, "text/event-stream");
  if (!res.body) throw new ApiError(res.status, "The server sent an empty stream.");
  for await (const ev of readSse(res.body, opts.signal)) {
    if (ev.data === "[DONE]") return;
    let payload: unknown;
    try {
      payload = JSON.parse(ev.data);
    } catch {
      continue; // A non-JSON event is not ours to interpret.
    }
    const err = errorFromEvent(payload);
    if (err) throw err;
    if (ev.event !== "message" && payload && typeof payload === "object")
      (payload as { event?: string }).event = ev.event;
    yield payload as T & { event?: string };
  }
}
