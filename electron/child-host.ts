/**
 * The main process's side of the server's disposable processes (server/util/disposable-child.ts):
 * the server runs in a utility process, and the load probe and the chat-template checker must run
 * apart from it (a model file can crash llama.cpp, a template can run forever). A utility process
 * cannot start a Node program itself: its `process.execPath` is Electron, which with the
 * `runAsNode` fuse off (electron-builder.yml) starts another copy of the app, never the program. So
 * the server asks here, over its parent port; this starts the program as a utility process of its
 * own, relays its output and its end, and kills it when asked or when the server exits.
 *
 * Only the server's own programs can be started (CHILD_PROGRAMS, from the app's own files), with
 * a bounded number at once: a server that misbehaves cannot make main run anything else.
 */
import os from "node:os";
import {
  childProgramPath,
  ToParentMessage,
  type ChildEnd,
  type FromParentMessage,
} from "../server/util/disposable-child.js";
import type { UtilityProcessApi, UtilityProcessChild } from "./server-process.js";

/** The server's utility process, as the host needs it: messages both ways. */
export interface ServerPort {
  postMessage(message: unknown): void;
  on(event: "message", listener: (message: unknown) => void): unknown;
}

export interface ChildHostOptions {
  /** The server's folder inside the app (`<app>/dist/server`), where its programs are. */
  serverDir: string;
  /** The programs' file extension. Defaults to ".js". */
  ext?: string;
  /** Children one server may have at once; a start beyond this is answered as failed. Defaults to 4. */
  maxChildren?: number;
  /** Defaults to `process.platform`. */
  platform?: NodeJS.Platform;
  /** Sends a signal to a pid; defaults to `process.kill`. */
  kill?: (pid: number, signal: NodeJS.Signals) => void;
}

export interface ChildHost {
  /** Children running now. */
  readonly size: number;
  /** Kills every child: the server is gone. */
  closeAll(): void;
}

/** How long a child's output may still arrive after its exit before the end is reported anyway. */
const OUTPUT_GRACE_MS = 2_000;

/** Signals that end a process, by number on this platform (SIGHUP left out: see utilityProcessEnd). */
const ENDING_SIGNALS: NodeJS.Signals[] = [
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGSEGV",
  "SIGTERM",
  "SIGSYS",
];

/**
 * A utility process's `exit` code as an exit code or a signal. Electron reports a process that
 * ended itself (`process.exit`, an uncaught exception) with its exit code, and one that crashed or
 * was killed with what Chromium's `base::GetTerminationStatus` stores on POSIX: waitpid's raw status
 * (base/process/kill_posix.cc; Electron's UtilityProcessWrapper::HandleTermination relies on it to
 * recognise SIGTERM and SIGKILL). A raw status for a signal is the signal's number, plus 0x80 when
 * a core was dumped; a normal exit's is the code times 256. The server's programs exit only with 0
 * or 1 themselves, so the other small numbers are read as signals, and 1 stays an exit code (it is
 * also SIGHUP, which nothing here sends). On Windows the code is the process's exit code.
 */
export function utilityProcessEnd(code: number, platform: NodeJS.Platform = process.platform): ChildEnd {
  if (platform === "win32" || code <= 1) return { code, signal: null };
  const numbers = os.constants.signals as Record<string, number>;
  const signo = code & 0x7f;
  if ((code & ~0xff) === 0) {
    const signal = ENDING_SIGNALS.find((s) => numbers[s] === signo);
    if (signal) return { code: null, signal };
  }
  if (code >= 0x100 && (code & 0xff) === 0) return { code: code >> 8, signal: null };
  return { code, signal: null };
}

/** Starts and relays the server's disposable children for one server process (the module comment). */
export function hostChildren(
  server: ServerPort,
  utilityProcess: UtilityProcessApi,
  options: ChildHostOptions,
): ChildHost {
  const platform = options.platform ?? process.platform;
  const kill = options.kill ?? ((pid: number, signal: NodeJS.Signals) => process.kill(pid, signal));
  const max = options.maxChildren ?? 4;
  const children = new Map<number, UtilityProcessChild>();
  let closed = false;

  const send = (message: FromParentMessage) => {
    if (!closed) server.postMessage(message);
  };
  const end = (id: number, result: ChildEnd) => {
    children.delete(id);
    send({
      type: "hearth:child-exit",
      id,
      code: result.code,
      signal: result.signal,
      ...(result.error !== undefined ? { error: result.error } : {}),
    });
  };
  const killChild = (child: UtilityProcessChild) => {
    // Not UtilityProcess.kill(): that is SIGTERM, which a process busy in native code may not heed,
    // and Electron then reports the exit as a clean 0.
    if (platform === "win32" || child.pid === undefined) child.kill();
    else {
      try {
        kill(child.pid, "SIGKILL");
      } catch {
        // Already gone: its exit is on the way.
      }
    }
  };

  const start = (m: Extract<ToParentMessage, { type: "hearth:child-start" }>) => {
    if (children.size >= max) {
      end(m.id, { code: null, signal: null, error: `the app runs at most ${max} helper processes at once` });
      return;
    }
    let child: UtilityProcessChild;
    try {
      child = utilityProcess.fork(childProgramPath(options.serverDir, m.program, options.ext), [], {
        // Never empty: Electron gives a utility process started with no variables all of main's.
        env: { ...m.env, HEARTH_HELPER: m.program },
        stdio: "pipe",
        serviceName: `Hearth ${m.program}`,
        execArgv: m.heapMb !== undefined ? [`--max-old-space-size=${m.heapMb}`] : [],
      });
    } catch (err) {
      end(m.id, { code: null, signal: null, error: (err as Error).message });
      return;
    }
    children.set(m.id, child);
    // Every byte it writes is relayed before its end: the end waits for both streams to close.
    let open = 0;
    let exited: ChildEnd | null = null;
    let grace: NodeJS.Timeout | undefined;
    const maybeEnd = () => {
      if (!exited || open > 0 || !children.has(m.id)) return;
      clearTimeout(grace);
      end(m.id, exited);
    };
    for (const [name, stream] of [
      ["stdout", child.stdout],
      ["stderr", child.stderr],
    ] as const) {
      if (!stream) continue;
      open++;
      let done = false;
      const closed = () => {
        if (done) return;
        done = true;
        open--;
        maybeEnd();
      };
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => {
        if (children.has(m.id)) send({ type: "hearth:child-output", id: m.id, stream: name, text });
      });
      stream.once("end", closed);
      stream.once("close", closed);
      stream.once("error", closed);
    }
    child.once("exit", (code) => {
      exited = utilityProcessEnd(code, platform);
      grace = setTimeout(() => {
        open = 0;
        maybeEnd();
      }, OUTPUT_GRACE_MS);
      maybeEnd();
    });
    child.postMessage(m.input);
  };

  server.on("message", (raw) => {
    if (closed) return;
    const parsed = ToParentMessage.safeParse(raw);
    if (!parsed.success) {
      // A start this refuses (an unknown program, a bad limit) is answered, so the server does not wait for it.
      const r = raw as { type?: unknown; id?: unknown } | null;
      if (r?.type === "hearth:child-start" && typeof r.id === "number" && Number.isInteger(r.id) && r.id >= 0)
        end(r.id, { code: null, signal: null, error: "the app refused to start this helper process" });
      return;
    }
    const m = parsed.data;
    if (m.type === "hearth:child-start") start(m);
    else {
      const child = children.get(m.id);
      if (child) killChild(child);
    }
  });

  return {
    get size() {
      return children.size;
    },
    closeAll() {
      closed = true;
      for (const child of children.values()) killChild(child);
      children.clear();
    },
  };
}
