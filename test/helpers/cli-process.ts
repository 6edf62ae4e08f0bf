/**
 * `hearth serve` as a child process, for the tests that need a real process: signals, kill -9,
 * exit codes, stderr as the JSON log stream.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
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
    const timer = setTimeout(
      () =>
        reject(
          new Error(`no ready line within ${options.readyTimeoutMs ?? 60_000} ms; stderr: ${stderr.slice(-2000)}`),
        ),
      options.readyTimeoutMs ?? 60_000,
    );
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
  const entry = process.env.HEARTH_TEST_CLI
    ? [path.resolve(repoRoot, process.env.HEARTH_TEST_CLI)]
    : ["--import", "tsx", "server/cli.ts"];
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

interface ProcessRow {
  pid: number;
  ppid: number;
  pgrp: number;
  /** "Z" for a zombie. */
  state: string;
}

/** Every live process: /proc on Linux (fast enough to poll), `ps` elsewhere. */
function processTable(): ProcessRow[] {
  const rows: ProcessRow[] = [];
  if (process.platform !== "linux") {
    const out = execFileSync("ps", ["-A", "-o", "pid=,ppid=,pgid=,state="], { encoding: "utf8" });
    for (const line of out.trim().split("\n")) {
      const [pid, ppid, pgrp, state] = line.trim().split(/\s+/);
      rows.push({ pid: Number(pid), ppid: Number(ppid), pgrp: Number(pgrp), state: (state ?? "").slice(0, 1) });
    }
    return rows;
  }
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name (which may hold spaces): state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      rows.push({ pid: Number(entry), state: fields[0] ?? "", ppid: Number(fields[1]), pgrp: Number(fields[2]) });
    } catch {
      // the process ended while we looked
    }
  }
  return rows;
}

/** Pids of the live processes in process group `pgid`. */
export function processGroupMembers(pgid: number): number[] {
  return processTable()
    .filter((r) => r.pgrp === pgid && r.state !== "Z")
    .map((r) => r.pid);
}

/** Every process below `pid` (children, theirs, ...), to prove none is left behind or to inspect them. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const r of processTable()) children.set(r.ppid, [...(children.get(r.ppid) ?? []), r.pid]);
  const out: number[] = [];
  const visit = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      visit(c);
    }
  };
  visit(pid);
  return out;
}
