/**
 * The compatibility suite's shared parts: a real Hearth with the tiny model and the scripted models
 * a client file needs, and a way to run client code in a child process (Node 22 for the clients
 * that declare it, Python for the Python SDK) whose results the parent's tests assert on.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ConfigInput } from "../../server/config.js";
import type { ScriptedModelName } from "../helpers/scripted-models.js";
import { startScriptedServer, type ScriptedServer } from "../helpers/scripted-server.js";
import { RESULTS_MARKER, type CaseOutcome, type CompatEnv } from "./clients/cases.js";

export type { CompatEnv };

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const API_KEY = "compat-suite-key-5d21";

export interface CompatServer {
  t: ScriptedServer;
  env: CompatEnv;
  close(): Promise<void>;
}

/**
 * A server with an API key (clients must send it), `stories260K` and only the scripted models
 * `scripted` (scanning all of them costs about a second each); `config` adds to its settings.
 */
export async function startCompatServer(
  scripted: readonly ScriptedModelName[],
  config: Partial<ConfigInput> = {},
): Promise<CompatServer> {
  const t = await startScriptedServer(scripted, { apiKey: API_KEY, parallel: 2, ...config }, { withModel: true });
  const models: Record<string, string> = { stories260K: "stories260K" };
  for (const name of scripted) models[name] = t.id(name);
  return { t, env: { url: t.url, apiKey: API_KEY, models }, close: () => t.close() };
}

/** Each case's outcome, by name. */
export type CaseResults = Record<string, CaseOutcome>;

/**
 * Runs `command args` (a client script) with the server's address in `HEARTH_COMPAT` and returns
 * the results it printed. A child that prints none fails with its output.
 */
export async function runClient(
  command: string,
  args: readonly string[],
  env: CompatEnv,
  extraEnv: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<CaseResults> {
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: { ...process.env, ...extraEnv, HEARTH_COMPAT: JSON.stringify(env) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  const line = out.split("\n").find((l) => l.startsWith(RESULTS_MARKER));
  if (!line) {
    throw new Error(`${path.basename(args.at(-1) ?? command)} exited ${code} without results:\n${out}\n${err}`.trim());
  }
  return JSON.parse(line.slice(RESULTS_MARKER.length)) as CaseResults;
}

/** The value case `name` returned; its error, with the child's stack, when it threw. */
export function outcome<T>(results: CaseResults | undefined, name: string): T {
  assert.ok(results, "the client ran");
  const r = results[name];
  assert.ok(r, `case ${name} ran`);
  if (!r.ok) throw new Error(`${name} failed in the client:\n${r.error}`);
  return r.value as T;
}
