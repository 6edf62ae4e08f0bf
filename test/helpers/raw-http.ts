/**
 * Raw HTTP for the hardening tests: bodies as exact bytes (invalid UTF-8, raw `NaN`), any Host or
 * Origin header, a timeout so a hung request fails the test instead of the run, and a count of the
 * 5xx answers a server gave.
 */
import http from "node:http";

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RawRequest {
  method?: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Fail after this long. Defaults to 60 s. */
  timeoutMs?: number;
  /** Connect to this address instead of the URL's host (the Host header still comes from `headers`). */
  connectHost?: string;
}

/** Sends one request on a fresh connection and reads the whole answer. */
export function rawRequest(baseUrl: string, r: RawRequest): Promise<RawResponse> {
  const u = new URL(baseUrl);
  const headers: Record<string, string> = {
    ...(r.body !== undefined ? { "content-type": "application/json" } : {}),
    ...r.headers,
  };
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: r.connectHost ?? u.hostname.replace(/^\[|\]$/g, ""),
        port: u.port,
        method: r.method ?? (r.body !== undefined ? "POST" : "GET"),
        path: r.path,
        headers,
        agent: false,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }),
        );
        res.on("error", reject);
      },
    );
    req.setTimeout(r.timeoutMs ?? 60_000, () =>
      req.destroy(
        new Error(`${r.method ?? "POST"} ${r.path.slice(0, 80)} did not answer within ${r.timeoutMs ?? 60_000} ms`),
      ),
    );
    req.on("error", reject);
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}

/** The `data:` payloads of an SSE body, in order. */
export function sseData(body: string): string[] {
  return body
    .split(/\n\n/)
    .flatMap((event) =>
      event
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6)),
    )
    .filter(Boolean);
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
