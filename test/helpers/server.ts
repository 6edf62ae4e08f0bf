/** Starts a real Hearth server on 127.0.0.1:0 with a temp data dir, for integration tests. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { pino } from "pino";
import { createServer, type HearthServer } from "../../server/app.js";
import { loadConfig, type ConfigInput } from "../../server/config.js";
import { testModelPath } from "./models.js";

export interface TestServer {
  server: HearthServer;
  url: string;
  dataDir: string;
  client: OpenAI;
  close(): Promise<void>;
}

/**
 * One load-check file for the test servers of this machine and user: the verdict on the test model
 * (keyed by its path, size, mtime and the engine) is found once, not once per temp data dir.
 */
export const SHARED_MODEL_CHECKS = path.join(os.tmpdir(), `hearth-test-model-checks-${os.userInfo().uid}.json`);

export async function startTestServer(
  overrides: Partial<ConfigInput> = {},
  opts: { withModel?: boolean; ownModelChecks?: boolean } = {},
): Promise<TestServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-test-"));
  const model = opts.withModel === false ? undefined : (overrides.model ?? (await testModelPath()));
  const config = loadConfig({
    env: {},
    overrides: { port: 0, dataDir, threads: 1, logLevel: "silent", ...overrides, ...(model ? { model } : {}) },
  });
  const server = createServer(config, {
    logger: pino({ level: "silent" }),
    // ownModelChecks: verdicts in the data dir (`model-checks.json`), as the server keeps them.
    ...(opts.ownModelChecks ? {} : { modelChecksFile: SHARED_MODEL_CHECKS }),
  });
  const url = await server.start();
  const client = new OpenAI({
    baseURL: `${url}/v1`,
    apiKey: config.apiKey ?? "unused",
    maxRetries: 0,
    timeout: 60_000,
  });
  return {
    server,
    url,
    dataDir,
    client,
    async close() {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Reads a Prometheus gauge/counter value (summed over label sets matching `labels`). */
export async function metricValue(url: string, name: string, headers: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers })).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}
