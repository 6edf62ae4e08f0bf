/**
 * Runs the Hearth server as a supervised child process: start it, wait for its ready line, restart
 * it with backoff when it crashes (telling listeners so the window can show a notice), and stop it
 * with SIGTERM and a deadline on quit. The process itself comes from a launcher, so the same
 * supervisor drives Electron's utilityProcess in the app and a plain Node child in tests.
 */
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import readline from "node:readline";
import { hostChildren, type ChildHostOptions } from "./child-host.js";

/** A started server process, whatever started it. */
export interface ServerChild {
  readonly pid: number | undefined;
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  /** Asks the process to stop gracefully (SIGTERM on POSIX, a shutdown message on Windows). */
  terminate(): void;
  /** Ends the process at once. */
  forceKill(): void;
  /** Called once when the process has exited (or could not be started: code null, signal null). */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): void;
}

export interface LaunchRequest {
  args: string[];
  env: Record<string, string>;
}

/** Starts one server process. */
export type ServerLauncher = (request: LaunchRequest) => ServerChild;

/**
 * The message a supervisor sends on Windows, where there is no SIGTERM: the server should treat it
 * exactly like SIGTERM (over `process.on("message")` for a Node child, `process.parentPort` for an
 * Electron utility process).
 */
export const SHUTDOWN_MESSAGE = { type: "hearth:shutdown" } as const;

export interface NodeLauncherOptions {
  /** The server's CLI module (`dist/server/cli.js`, or `server/cli.ts` with tsx in execArgv). */
  entry: string;
  /** Defaults to the running Node (`process.execPath`). */
  execPath?: string;
  /** Defaults to none. */
  execArgv?: string[];
  /** Defaults to the current directory. */
  cwd?: string;
  /** Defaults to `process.platform`. */
  platform?: NodeJS.Platform;
}

/** Runs the server with child_process: headless supervision and the shell's tests. */
export function nodeLauncher(options: NodeLauncherOptions): ServerLauncher {
  const platform = options.platform ?? process.platform;
  return ({ args, env }) => {
    // Windows has no catchable SIGTERM, so graceful shutdown goes over the IPC channel there.
    const withIpc = platform === "win32";
    const child = spawn(options.execPath ?? process.execPath, [...(options.execArgv ?? []), options.entry, ...args], {
      cwd: options.cwd,
      env,
      stdio: withIpc ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"],
      windowsHide: true,
    });
    let exited = false;
    const listeners: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (exited) return;
      exited = true;
      for (const l of listeners) l(code, signal);
    };
    child.once("exit", finish);
    // A spawn failure (bad execPath) emits "error" and never "exit".
    child.once("error", () => finish(null, null));
    return {
      get pid() {
        return child.pid;
      },
      stdout: child.stdout,
      stderr: child.stderr,
      terminate() {
        if (exited) return;
        if (withIpc && child.connected) child.send(SHUTDOWN_MESSAGE);
        else child.kill("SIGTERM");
      },
      forceKill() {
        if (!exited) child.kill("SIGKILL");
      },
      onExit(listener) {
        if (exited) listener(child.exitCode, child.signalCode);
        else listeners.push(listener);
      },
    };
  };
}

/** The part of Electron's `utilityProcess` module the shell uses. */
export interface UtilityProcessApi {
  fork(
    modulePath: string,
    args?: string[],
    options?: {
      env?: Record<string, string>;
      stdio?: "pipe" | ("pipe" | "ignore" | "inherit")[];
      serviceName?: string;
      cwd?: string;
      execArgv?: string[];
    },
  ): UtilityProcessChild;
}

/** The part of Electron's `UtilityProcess` the shell uses. */
export interface UtilityProcessChild {
  readonly pid: number | undefined;
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  kill(): boolean;
  postMessage(message: unknown): void;
  once(event: "exit", listener: (code: number) => void): unknown;
  /** What the process posts to its `process.parentPort`. */
  on(event: "message", listener: (message: unknown) => void): unknown;
}

export interface UtilityLauncherOptions {
  /** The server's CLI module inside the app (`<app>/dist/server/cli.js`). */
  entry: string;
  /** Defaults to `process.platform`. */
  platform?: NodeJS.Platform;
  /** Sends a signal to a pid; defaults to `process.kill`. */
  kill?: (pid: number, signal: NodeJS.Signals) => void;
  /**
   * Where the server's disposable programs are: with it, the server asks this process to start
   * them (HEARTH_CHILD_PROCESSES=parent; child-host.ts). Defaults to none: the server starts them
   * itself, which works only where its binary can act as Node.
   */
  children?: Pick<ChildHostOptions, "serverDir" | "ext" | "maxChildren">;
}

/**
 * Runs the server in an Electron utility process: a Node environment that is not the main process,
 * so a crash in llama.cpp takes down the server, not the window.
 */
export function utilityLauncher(utilityProcess: UtilityProcessApi, options: UtilityLauncherOptions): ServerLauncher {
  const platform = options.platform ?? process.platform;
  const kill = options.kill ?? ((pid: number, signal: NodeJS.Signals) => process.kill(pid, signal));
  return ({ args, env }) => {
    const withChildren = options.children !== undefined;
    const child = utilityProcess.fork(options.entry, args, {
      env: withChildren ? { ...env, HEARTH_CHILD_PROCESSES: "parent" } : env,
      stdio: "pipe",
      serviceName: "Hearth server",
    });
    const host = options.children
      ? hostChildren({ postMessage: (m) => child.postMessage(m), on: (e, l) => child.on(e, l) }, utilityProcess, {
          ...options.children,
          platform,
          kill,
        })
      : null;
    let exited = false;
    const listeners: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
    let exitCode: number | null = null;
    child.once("exit", (code) => {
      exited = true;
      exitCode = code;
      host?.closeAll();
      for (const l of listeners) l(code, null);
    });
    return {
      get pid() {
        return child.pid;
      },
      stdout: child.stdout,
      stderr: child.stderr,
      terminate() {
        if (exited) return;
        // UtilityProcess.kill() is SIGTERM on POSIX but TerminateProcess on Windows.
        if (platform === "win32") child.postMessage(SHUTDOWN_MESSAGE);
        else child.kill();
      },
      forceKill() {
        if (exited) return;
        if (platform === "win32" || child.pid === undefined) child.kill();
        else {
          try {
            kill(child.pid, "SIGKILL");
          } catch {
            // Already gone: the exit event is on its way.
          }
        }
      },
      onExit(listener) {
        if (exited) listener(exitCode, null);
        else listeners.push(listener);
      },
    };
  };
}

/** Where the supervised server is in its life. */
export type ServerState = "stopped" | "starting" | "running" | "restarting" | "failed" | "stopping";

/** A snapshot of the supervised server, sent to the window and the tray on every change. */
export interface ServerStatus {
  state: ServerState;
  /** Base URL while running (`http://127.0.0.1:<port>`), else the last known one or null. */
  url: string | null;
  pid: number | null;
  /** Unplanned restarts since the supervisor started. */
  restarts: number;
  /** A sentence for people: why the state changed. */
  message: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the process ignored the graceful request and was killed after `stopTimeoutMs`. */
  forced: boolean;
}

export interface SupervisorOptions {
  launch: ServerLauncher;
  /** Passed as `--data-dir`. */
  dataDir: string;
  /**
   * The window's token, passed as HEARTH_UI_TOKEN (not a flag, so it never shows in the process
   * list). The server accepts it beside any API key the person set; it locks no one else out.
   */
  uiToken: string;
  /** Passed as `--model` when set. Defaults to none: the server starts without a model. */
  model?: string;
  /**
   * First port to try. Defaults to the server's own setting (settings.json, else 7424), so local
   * tools find the desktop app where they find `hearth serve`. If the server cannot start there
   * (the port is taken), the next try uses any free port; restarts reuse the port last bound.
   */
  port?: number;
  /** More `serve` flags. Defaults to none. */
  extraArgs?: string[];
  /** Environment for the server, before HEARTH_UI_TOKEN and `extraEnv`. Defaults to `process.env`. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Extra environment variables (e.g. HEARTH_SECRETS_KEY). Defaults to none. */
  extraEnv?: Record<string, string>;
  /** How long the server may take to print its ready line. Defaults to 120 s (a model may be loading). */
  startTimeoutMs?: number;
  /** How long a graceful stop may take before the process is killed. Defaults to 15 s. */
  stopTimeoutMs?: number;
  /** First restart delay, doubled per recent crash. Defaults to 500 ms. */
  backoffInitialMs?: number;
  /** Longest restart delay. Defaults to 30 s. */
  backoffMaxMs?: number;
  /** Crashes within `crashWindowMs` after which the supervisor gives up. Defaults to 5. */
  maxCrashes?: number;
  /** Defaults to 5 minutes. */
  crashWindowMs?: number;
  /** Lines of server stderr kept for the failure message. Defaults to 40. */
  keepLogLines?: number;
}

interface SupervisorEvents {
  status: [ServerStatus];
  log: [line: string, stream: "stdout" | "stderr"];
}

const READY_URL = /\bhttps?:\/\/[^\s"'<>]+/;

/** Finds the base URL in the server's ready line (`... http://127.0.0.1:7424 ...`). */
export function parseReadyLine(line: string): string | null {
  const m = READY_URL.exec(line);
  if (!m) return null;
  try {
    const u = new URL(m[0]);
    return `${u.protocol}//${u.host}`;
  } catch {
    return null;
  }
}

/** Delay before restart number `crashes` (1-based): initial x 2^(crashes-1), capped. */
export function backoffDelay(crashes: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, crashes - 1));
}

/** Supervises one Hearth server process; see the module comment. */
export class ServerSupervisor extends EventEmitter<SupervisorEvents> {
  readonly #o: Required<Omit<SupervisorOptions, "model" | "port">> & Pick<SupervisorOptions, "model">;
  #child: ServerChild | null = null;
  #status: ServerStatus = { state: "stopped", url: null, pid: null, restarts: 0, message: "Not started." };
  /** undefined: the server's own setting. */
  #port: number | undefined;
  #crashTimes: number[] = [];
  #restartTimer: NodeJS.Timeout | null = null;
  #recentLog: string[] = [];
  #waiters: { resolve: (url: string) => void; reject: (err: Error) => void }[] = [];
  #stopping: Promise<ExitInfo | null> | null = null;
  /** Why the last unplanned exit happened, kept in the message while the restart runs. */
  #lastCrash = "";

  constructor(options: SupervisorOptions) {
    super();
    this.#o = {
      model: options.model,
      launch: options.launch,
      dataDir: options.dataDir,
      uiToken: options.uiToken,
      extraArgs: options.extraArgs ?? [],
      baseEnv: options.baseEnv ?? process.env,
      extraEnv: options.extraEnv ?? {},
      startTimeoutMs: options.startTimeoutMs ?? 120_000,
      stopTimeoutMs: options.stopTimeoutMs ?? 15_000,
      backoffInitialMs: options.backoffInitialMs ?? 500,
      backoffMaxMs: options.backoffMaxMs ?? 30_000,
      maxCrashes: options.maxCrashes ?? 5,
      crashWindowMs: options.crashWindowMs ?? 5 * 60_000,
      keepLogLines: options.keepLogLines ?? 40,
    };
    this.#port = options.port;
  }

  get status(): ServerStatus {
    return { ...this.#status };
  }

  /** The last lines the server wrote to stderr, oldest first. */
  get recentLog(): readonly string[] {
    return [...this.#recentLog];
  }

  /** Starts the server; resolves with its base URL once it is ready, rejects if it gives up. */
  start(): Promise<string> {
    const { state, url } = this.#status;
    if (state === "running" && url) return Promise.resolve(url);
    if (state === "stopping") return Promise.reject(new Error("The server is stopping."));
    const ready = this.#nextReady();
    if (state === "stopped" || state === "failed") {
      this.#crashTimes = [];
      this.#spawn();
    }
    return ready;
  }

  /** Stops the current process (if any) and starts a fresh one; for the "Restart server" menu item. */
  async restart(): Promise<string> {
    await this.stop();
    return this.start();
  }

  /**
   * Stops the server: the graceful request first, then a kill after `stopTimeoutMs`. Resolves with
   * how the process ended, or null when none was running.
   */
  stop(): Promise<ExitInfo | null> {
    if (this.#stopping) return this.#stopping;
    if (this.#restartTimer) {
      clearTimeout(this.#restartTimer);
      this.#restartTimer = null;
    }
    const child = this.#child;
    if (!child) {
      this.#setStatus({ state: "stopped", pid: null, message: "Stopped." });
      this.#rejectWaiters(new Error("The server was stopped."));
      return Promise.resolve(null);
    }
    this.#setStatus({ state: "stopping", message: "Stopping the server." });
    this.#stopping = new Promise<ExitInfo>((resolve) => {
      let forced = false;
      const timer = setTimeout(() => {
        forced = true;
        child.forceKill();
      }, this.#o.stopTimeoutMs);
      child.onExit((code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, forced });
      });
      child.terminate();
    }).then((info) => {
      this.#stopping = null;
      this.#setStatus({ state: "stopped", pid: null, message: "Stopped." });
      this.#rejectWaiters(new Error("The server was stopped."));
      return info;
    });
    return this.#stopping;
  }

  #nextReady(): Promise<string> {
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #rejectWaiters(err: Error): void {
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }

  #setStatus(patch: Partial<ServerStatus>): void {
    this.#status = { ...this.#status, ...patch };
    this.emit("status", this.status);
  }

  #spawn(): void {
    const port = this.#port;
    // Host and port come from the server's settings (the Settings screen) unless the shell was told a port.
    const args = ["serve", ...(port === undefined ? [] : ["--port", String(port)]), "--data-dir", this.#o.dataDir];
    if (this.#o.model) args.push("--model", this.#o.model);
    args.push(...this.#o.extraArgs);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.#o.baseEnv)) if (v !== undefined) env[k] = v;
    Object.assign(env, this.#o.extraEnv, { HEARTH_UI_TOKEN: this.#o.uiToken });

    const child = this.#o.launch({ args, env });
    this.#child = child;
    const restarting = this.#status.state === "restarting";
    this.#setStatus({
      state: restarting ? "restarting" : "starting",
      pid: child.pid ?? null,
      message: restarting ? `${this.#lastCrash} Restarting now…` : "Starting the server.",
    });

    let ready = false;
    const startTimer = setTimeout(() => {
      this.#remember(`Hearth server did not report ready within ${this.#o.startTimeoutMs} ms.`);
      child.forceKill();
    }, this.#o.startTimeoutMs);

    if (child.stdout) {
      readline.createInterface({ input: child.stdout, crlfDelay: Infinity }).on("line", (line) => {
        this.emit("log", line, "stdout");
        if (ready) return;
        const url = parseReadyLine(line);
        if (!url || this.#child !== child) return;
        ready = true;
        clearTimeout(startTimer);
        this.#port = Number(new URL(url).port) || port;
        this.#setStatus({
          state: "running",
          url,
          pid: child.pid ?? null,
          message:
            this.#status.restarts > 0 ? "The server was restarted and is running again." : "The server is running.",
        });
        for (const w of this.#waiters.splice(0)) w.resolve(url);
      });
    }
    if (child.stderr) {
      readline.createInterface({ input: child.stderr, crlfDelay: Infinity }).on("line", (line) => {
        this.#remember(line);
        this.emit("log", line, "stderr");
      });
    }

    child.onExit((code, signal) => {
      clearTimeout(startTimer);
      if (this.#child !== child) return;
      this.#child = null;
      // A planned stop settles in stop(); everything else is a crash.
      if (this.#stopping || this.#status.state === "stopping") return;
      if (!ready) this.#port = 0; // the remembered port may be taken now: let the OS pick one
      this.#onCrash(code, signal);
    });
  }

  #onCrash(code: number | null, signal: NodeJS.Signals | null): void {
    const now = Date.now();
    this.#crashTimes = this.#crashTimes.filter((t) => now - t < this.#o.crashWindowMs);
    this.#crashTimes.push(now);
    const how = signal
      ? `was killed by ${signal}`
      : code === null
        ? "could not be started"
        : `exited with code ${code}`;
    this.#lastCrash = `The Hearth server ${how}.`;
    if (this.#crashTimes.length > this.#o.maxCrashes) {
      const last = this.#recentLog.slice(-5).join("\n");
      const message = `The Hearth server ${how} and crashed ${this.#crashTimes.length} times in a row; it was not restarted.`;
      this.#setStatus({ state: "failed", pid: null, message });
      this.#rejectWaiters(new Error(last ? `${message}\n${last}` : message));
      return;
    }
    const delay = backoffDelay(this.#crashTimes.length, this.#o.backoffInitialMs, this.#o.backoffMaxMs);
    this.#setStatus({
      state: "restarting",
      pid: null,
      restarts: this.#status.restarts + 1,
      message: `${this.#lastCrash} Restarting in ${Math.max(1, Math.round(delay / 1000))} s…`,
    });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      this.#spawn();
    }, delay);
  }

  #remember(line: string): void {
    this.#recentLog.push(line);
    if (this.#recentLog.length > this.#o.keepLogLines) this.#recentLog.shift();
  }
}
