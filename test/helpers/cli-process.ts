/**
 * `hearth serve` as a child process, for the tests that need a real process: signals, kill -9,
 * exit codes, stderr as the JSON log stream.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface HearthProcess {
  child: ChildProcess;
  /** The base URL from the ready line. */
  url: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process ended. */
  exited: Promise<number | string>;
}

export interface SpawnOptions {
  /** Extra environment on top of this process's (HEARTH_LOG_LEVEL defaults to warn). */
  env?: NodeJS.ProcessEnv;
  /** Give up waiting for the ready line after this long. Defaults to 60 s. */
  readyTimeoutMs?: number;
  /** Run it in a process group of its own (its pid is the group id), to find any process it leaves behind. Defaults to false. */
  detached?: boolean;
}

/** Starts `hearth serve <args>` and resolves once it printed its ready line; rejects if it exits first. */
export async function spawnHearth(args: readonly string[], options: SpawnOptions = {}): Promise<HearthProcess> {
  const child = spawnRaw(args, options.env, options.detached);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, "exit").then(([code, signal]) => (code as number | null) ?? (signal as string));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line within ${options.readyTimeoutMs ?? 60_000} ms; stderr: ${stderr.slice(-2000)}`)), options.readyTimeoutMs ?? 60_000);
    const onData = () => {
      const m = stdout.match(/Hearth is ready at (http:\/\/\S+?) /);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hearth exited (${code}) before it was ready: ${stderr.slice(-2000)}`));
    });
  });
  return { child, url, stdout: () => stdout, stderr: () => stderr, exited };
}

/**
 * Spawns `hearth serve <args>` without waiting for anything. HEARTH_TEST_CLI names a compiled
 * cli.js to run instead of the TypeScript source (long loops start it hundreds of times).
 */
export function spawnRaw(args: readonly string[], env: NodeJS.ProcessEnv = {}, detached = false): ChildProcess {
  const entry = process.env.HEARTH_TEST_CLI ? [path.resolve(repoRoot, process.env.HEARTH_TEST_CLI)] : ["--import", "tsx", "server/cli.ts"];
  return spawn(process.execPath, [...entry, "serve", ...args], {
    cwd: repoRoot,
    detached,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HEARTH_LOG_LEVEL: "warn", ...env },
  });
}

/** Kills `p` with SIGKILL if it still runs, and waits for it. */
export async function killHard(p: { child: ChildProcess; exited: Promise<unknown> }): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  await p.exited;
}

/** Pids of the live processes in process group `pgid` (Linux /proc; empty elsewhere). */
export function processGroupMembers(pgid: number): number[] {
  if (process.platform !== "linux") return [];
  const out: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name (which may hold spaces): state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}
