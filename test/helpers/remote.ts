/**
 * Two real Hearth servers for the remote-provider tests: an upstream (the stand-in for vLLM or
 * OpenAI: the test model, its own API key) and the Hearth under test, which proxies to it.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import OpenAI from "openai";
import { pino, type Logger } from "pino";
import { createServer, type HearthServer } from "../../server/app.js";
import { loadConfig, type ConfigInput } from "../../server/config.js";
import { metricValue } from "./server.js";
import { testModelPath } from "./models.js";

export interface Hearth {
  server: HearthServer;
  url: string;
  dataDir: string;
  apiKey: string;
  client: OpenAI;
  /** fetch against this server with its API key (and JSON when a body is given). */
  api(p: string, init?: { method?: string; body?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/** A real server with the test model on 127.0.0.1:0 and a temp data dir (or the given one). */
export async function startHearth(
  apiKey: string,
  overrides: Partial<ConfigInput> = {},
  logger?: Logger,
): Promise<Hearth> {
  const dataDir = overrides.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "hearth-remote-"));
  const config = loadConfig({
    env: {},
    overrides: { port: 0, threads: 1, logLevel: "silent", model: await testModelPath(), apiKey, ...overrides, dataDir },
  });
  const server = createServer(config, { logger: logger ?? pino({ level: "silent" }) });
  const url = await server.start();
  return {
    server,
    url,
    dataDir,
    apiKey,
    client: new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0, timeout: 120_000 }),
    api: (p, init = {}) =>
      fetch(`${url}${p}`, {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers: {
          authorization: `Bearer ${apiKey}`,
          ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      }),
    async close() {
      await server.close();
      if (!overrides.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A pino logger at trace level whose every line is kept, to look for secrets in it. */
export function captureLogger(): { logger: Logger; text(): string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { logger: pino({ level: "trace" }, sink), text: () => lines.join("") };
}

/** A Prometheus value of `upstream`, summed over labels. */
export function upstreamMetric(h: Hearth, name: string): Promise<number> {
  return metricValue(h.url, name, { authorization: `Bearer ${h.apiKey}` });
}

/** Polls until `check` is true or `ms` passed; returns the last answer (a wait, not a timed assertion). */
export async function waitFor(check: () => Promise<boolean>, ms = 30_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A loopback port where nothing listens (a provider that is down). */
export async function closedPort(): Promise<number> {
  const net = await import("node:net");
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Every file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

/** A small real HTTP server on 127.0.0.1 playing an upstream that a Hearth cannot be made to be. */
export interface RawServer {
  url: string;
  /** Every request it received, in order. */
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** Starts a RawServer; `handler` answers each request once its body has arrived (`n` counts from 1). */
export async function rawServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void,
): Promise<RawServer> {
  const requests: RawServer["requests"] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    req.resume();
    req.on("end", () => handler(req, res, requests.length));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
