/**
 * Helpers for the shell's tests that supervise the REAL Hearth server (server/cli.ts through tsx)
 * as a child process.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  nodeLauncher,
  type ServerLauncher,
  type ServerStatus,
  type ServerSupervisor,
} from "../../electron/server-process.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Launches `node --import tsx server/cli.ts ...`: one process, so signals reach the server itself. */
export function realServerLauncher(): ServerLauncher {
  return nodeLauncher({ entry: path.join(repoRoot, "server", "cli.ts"), execArgv: ["--import", "tsx"], cwd: repoRoot });
}

/** The environment for a server under test: quiet logs, one thread. */
export function serverTestEnv(): NodeJS.ProcessEnv {
  return { ...process.env, HEARTH_LOG_LEVEL: "warn", HEARTH_THREADS: "1" };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Resolves with the first status that matches. */
export function nextStatus(supervisor: ServerSupervisor, match: (s: ServerStatus) => boolean): Promise<ServerStatus> {
  return new Promise((resolve) => {
    const on = (s: ServerStatus) => {
      if (!match(s)) return;
      supervisor.off("status", on);
      resolve(s);
    };
    supervisor.on("status", on);
  });
}

/** Waits until `pid` is gone, polling; rejects after `ms` (a leak the test must report). */
export async function waitGone(pid: number, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > until) throw new Error(`process ${pid} is still running`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
