/**
 * Disposable helper processes: the server's programs that must not run in its own process because
 * what they do can crash, hang or exhaust memory (the load probe, engine/load-probe.ts; the chat
 * template checker, engine/template-guard.ts). Each gets its input as one message, writes its
 * answer on stdout, and is killed when the work is done or gives out.
 *
 * Who starts them is a `ChildSpawner`, chosen once per server (config `childProcesses`):
 * - `nodeChildSpawner`: a child of this process, run by this process's own Node (`hearth serve`,
 *   tests, any plain Node).
 * - `parentPortSpawner`: asks the process that started the server, over its parent port. The
 *   desktop app runs the server in an Electron utility process, whose binary is Electron: with the
 *   `runAsNode` fuse off (electron-builder.yml) it cannot act as Node, so a spawn of
 *   `process.execPath` would start a second copy of the app, never the program. Its main process
 *   starts each program as a utility process of its own instead (electron/child-host.ts) and relays
 *   the output and the end here. The messages of that exchange are CHILD_MESSAGE schemas below.
 *
 * A program reads its input with `childInput()` (util/child-input.ts) and needs not know which of
 * the two started it.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { ParentPort } from "./child-input.js";

/** The programs that run as disposable children, each a module under server/. */
export const CHILD_PROGRAMS = ["load-probe", "template-check"] as const;
export type ChildProgram = (typeof CHILD_PROGRAMS)[number];

const PROGRAM_MODULES: Record<ChildProgram, string> = {
  "load-probe": path.join("engine", "load-probe-child"),
  "template-check": path.join("engine", "template-check-child"),
};

/** A program's module: `<serverDir>/engine/load-probe-child.js` (`ext` `.ts` when the server runs under tsx). */
export function childProgramPath(serverDir: string, program: ChildProgram, ext = ".js"): string {
  return path.join(serverDir, `${PROGRAM_MODULES[program]}${ext}`);
}

/** Heap limits a child may be given, in MiB. */
const HEAP_MB = { min: 16, max: 16_384 };

/** What to run. */
export interface ChildRequest {
  program: ChildProgram;
  /** The program's input (plain JSON data), delivered as its first message. */
  input: unknown;
  /** The child's whole environment: nothing is inherited. */
  env: Record<string, string>;
  /** V8's old-space limit for the child, in MiB. Defaults to Node's own. */
  heapMb?: number;
}

/** How a child ended: its exit code or the signal that ended it; both null with `error` when it never ran. */
export interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: string;
}

/** A started child. Listeners are added right after the spawner returns it; nothing is missed. */
export interface DisposableChild {
  /** Text the child writes on stdout or stderr, as it arrives (UTF-8 characters are never split). */
  onOutput(listener: (stream: "stdout" | "stderr", text: string) => void): void;
  /** Called once, after all of its output: how it ended. */
  onExit(listener: (end: ChildEnd) => void): void;
  /** Ends it at once (SIGKILL where there are signals). */
  kill(): void;
}

/** Starts one disposable child. */
export type ChildSpawner = (request: ChildRequest) => DisposableChild;

/** Fans a child's events out to listeners, and keeps the end for a listener that comes late. */
class ChildEvents {
  private readonly output: ((stream: "stdout" | "stderr", text: string) => void)[] = [];
  private readonly exits: ((end: ChildEnd) => void)[] = [];
  end: ChildEnd | null = null;

  emitOutput(stream: "stdout" | "stderr", text: string): void {
    if (this.end) return;
    for (const l of this.output) l(stream, text);
  }

  emitExit(end: ChildEnd): void {
    if (this.end) return;
    this.end = end;
    for (const l of this.exits.splice(0)) l(end);
  }

  onOutput(listener: (stream: "stdout" | "stderr", text: string) => void): void {
    this.output.push(listener);
  }

  onExit(listener: (end: ChildEnd) => void): void {
    if (this.end) listener(this.end);
    else this.exits.push(listener);
  }
}

/** This module's folder's parent: server/ (source under tsx) or dist/server (a build). */
const SERVER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SELF_EXT = path.extname(fileURLToPath(import.meta.url));

/**
 * Runs programs as children of this process with its own Node: the compiled `.js`, or the `.ts`
 * source through tsx when the server itself runs under tsx (tests, `npm run serve`). The input
 * goes over Node's IPC channel; a child sees the channel close when this process dies.
 */
export function nodeChildSpawner(): ChildSpawner {
  return (request) => {
    const execArgv = [
      ...(request.heapMb !== undefined ? [`--max-old-space-size=${request.heapMb}`] : []),
      ...(SELF_EXT === ".ts" ? ["--import", import.meta.resolve("tsx")] : []),
    ];
    const events = new ChildEvents();
    const child = spawn(process.execPath, [...execArgv, childProgramPath(SERVER_DIR, request.program, SELF_EXT)], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: request.env,
      windowsHide: true,
    });
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => events.emitOutput("stdout", text));
    child.stderr!.on("data", (text: string) => events.emitOutput("stderr", text));
    // A child that dies before reading its input fails this write; "close" then says how it ended.
    child.send(request.input as object, () => undefined);
    // "close" comes after the output streams ended: every byte was seen first.
    child.once("close", (code, signal) => events.emitExit({ code, signal }));
    child.on("error", (err) => {
      // Only a spawn that failed (no Node at execPath) ends it here; a failed kill or send does not.
      if (child.pid === undefined) events.emitExit({ code: null, signal: null, error: err.message });
    });
    return {
      onOutput: (l) => events.onOutput(l),
      onExit: (l) => events.onExit(l),
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      },
    };
  };
}

// ---- the exchange with a parent that starts children for the server ----------------------------

/** Server -> parent: start a program. `id` names the child in every later message. */
export const ChildStartMessage = z.object({
  type: z.literal("hearth:child-start"),
  id: z.number().int().nonnegative(),
  program: z.enum(CHILD_PROGRAMS),
  input: z.unknown(),
  env: z.record(z.string(), z.string()),
  heapMb: z.number().int().min(HEAP_MB.min).max(HEAP_MB.max).optional(),
});

/** Server -> parent: kill a child. */
export const ChildKillMessage = z.object({ type: z.literal("hearth:child-kill"), id: z.number().int().nonnegative() });

/** Parent -> server: output of a child. */
export const ChildOutputMessage = z.object({
  type: z.literal("hearth:child-output"),
  id: z.number().int().nonnegative(),
  stream: z.enum(["stdout", "stderr"]),
  text: z.string(),
});

/** Parent -> server: a child ended (sent after all of its output). */
export const ChildExitMessage = z.object({
  type: z.literal("hearth:child-exit"),
  id: z.number().int().nonnegative(),
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  error: z.string().optional(),
});

export const ToParentMessage = z.discriminatedUnion("type", [ChildStartMessage, ChildKillMessage]);
export type ToParentMessage = z.infer<typeof ToParentMessage>;
export const FromParentMessage = z.discriminatedUnion("type", [ChildOutputMessage, ChildExitMessage]);
export type FromParentMessage = z.infer<typeof FromParentMessage>;

/** Ids of children asked of a parent, unique in this process (two servers in one process share its port). */
let nextChildId = 0;

/** Asks the parent to start each program and hears its output and end from it (the module comment). */
export function parentPortSpawner(port: ParentPort): ChildSpawner {
  const children = new Map<number, ChildEvents>();
  port.onMessage((raw) => {
    const parsed = FromParentMessage.safeParse(raw);
    if (!parsed.success) return; // not for us (e.g. the shutdown message)
    const m = parsed.data;
    const events = children.get(m.id);
    if (!events) return;
    if (m.type === "hearth:child-output") events.emitOutput(m.stream, m.text);
    else {
      children.delete(m.id);
      events.emitExit({
        code: m.code,
        signal: m.signal as NodeJS.Signals | null,
        ...(m.error !== undefined ? { error: m.error } : {}),
      });
    }
  });
  return (request) => {
    const id = nextChildId++;
    const events = new ChildEvents();
    children.set(id, events);
    const start: ToParentMessage = {
      type: "hearth:child-start",
      id,
      program: request.program,
      input: request.input,
      env: request.env,
      ...(request.heapMb !== undefined ? { heapMb: request.heapMb } : {}),
    };
    port.postMessage(start);
    return {
      onOutput: (l) => events.onOutput(l),
      onExit: (l) => events.onExit(l),
      kill: () => {
        if (!events.end) port.postMessage({ type: "hearth:child-kill", id } satisfies ToParentMessage);
      },
    };
  };
}
