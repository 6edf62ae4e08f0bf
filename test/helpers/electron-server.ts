/**
 * Helpers for the shell's tests that supervise the REAL Hearth server (server/cli.ts through tsx)
 * as a child process.
 */
import { fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  nodeLauncher,
  type ServerLauncher,
  type ServerStatus,
  type ServerSupervisor,
  type UtilityProcessApi,
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

/** One fork the fake utilityProcess made. */
export interface FakeFork {
  modulePath: string;
  args: string[];
  env: Record<string, string> | undefined;
  execArgv: string[];
  pid: number | undefined;
}

/**
 * Electron's `utilityProcess` API surface, backed by real Node children (`fork` of the module under
 * tsx): the only fake is the API. It behaves as Electron documents and does: stdin is not offered,
 * `postMessage` reaches the child's parent port (here Node's IPC channel), the child's posts come
 * back as "message" events, `kill()` is SIGTERM, and "exit" carries one number: the exit code, or
 * for a process a signal ended, waitpid's raw status, which for a signal is its number
 * (electron/child-host.ts, utilityProcessEnd).
 */
export function fakeUtilityProcess(): { api: UtilityProcessApi; forks: FakeFork[] } {
  const forks: FakeFork[] = [];
  const api: UtilityProcessApi = {
    fork(modulePath, args = [], options = {}) {
      const execArgv = [...(options.execArgv ?? []), "--import", "tsx"];
      const child = fork(modulePath, args, {
        env: options.env,
        execArgv,
        cwd: options.cwd ?? repoRoot,
        stdio: ["ignore", "pipe", "pipe", "ipc"],
      });
      forks.push({ modulePath, args, env: options.env, execArgv: options.execArgv ?? [], pid: child.pid });
      return {
        get pid() {
          return child.pid;
        },
        stdout: child.stdout,
        stderr: child.stderr,
        kill: () => child.kill("SIGTERM"),
        postMessage: (m: unknown) => {
          if (child.connected) child.send(m as object, () => undefined);
        },
        once: (event: "exit", listener: (code: number) => void) =>
          child.once(event, (code, signal) => listener(signal ? os.constants.signals[signal] : (code ?? 0))),
        on: (event: "message", listener: (message: unknown) => void) => child.on(event, listener),
      };
    },
  };
  return { api, forks };
}
