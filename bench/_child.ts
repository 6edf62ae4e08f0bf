/**
 * Runs a benchmark helper script in a fresh Node process (its own llama.cpp binary, threads and
 * environment) and returns the JSON it prints as its last stdout line.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

export interface ChildOptions {
  /** Extra environment variables (OMP_*, GGML_* experiments). */
  env?: Record<string, string>;
  /** Wrap the command, e.g. ["nice", "-n", "0"] or ["perf", "record", ...]. */
  prefix?: string[];
  timeoutMs?: number;
}

export async function runChild<T>(script: string, input: unknown, options: ChildOptions = {}): Promise<T> {
  const args = ["--import", "tsx", path.join(here, script), JSON.stringify(input)];
  const [cmd, ...rest] =
    options.prefix && options.prefix.length > 0
      ? [...options.prefix, process.execPath, ...args]
      : [process.execPath, ...args];
  const child = spawn(cmd as string, rest, {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 600_000);
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  clearTimeout(timer);
  const last = out.trim().split("\n").pop() ?? "";
  if (code !== 0 || !last.startsWith("{")) {
    throw new Error(`${script} exited with ${code}: ${err.trim().split("\n").slice(-8).join("\n")}`);
  }
  return JSON.parse(last) as T;
}
