/**
 * Chat templates come from model files, so they are untrusted code. node-llama-cpp renders them
 * with @huggingface/jinja on the main thread, whose sandbox has no path to JavaScript (measured:
 * `constructor`, `__proto__`, `__class__`, `__globals__` all render as nothing) but no bound on
 * work either: `range(10**9)` exhausted the heap and killed the process, two nested loops of
 * 20,000 ran for minutes, and `set s = s ~ s` doubling in a loop has the same effect. Once a
 * model is loaded, the template also renders for every request and cannot be interrupted there.
 *
 * So before a template is used, it is rendered here in a child process, with a time limit and a
 * heap limit, over a few conversations (short, long, many turns, with tools). A template that
 * runs out of time or memory, renders megabytes from a short chat, or that this renderer cannot
 * parse (node-llama-cpp would then hand it to llama.cpp's native renderer, which cannot be
 * stopped at all) is refused, and the model runs with a chat format chosen from its name instead.
 */
import crypto from "node:crypto";
import { helperProcessEnv } from "../config.js";
import { nodeChildSpawner, type ChildSpawner } from "../util/disposable-child.js";
import type { TemplateCheckAnswer, TemplateCheckInput } from "./template-check-child.js";

/** Limits for one check. */
export interface TemplateCheckLimits {
  /** Milliseconds all sample renders may take together. Defaults to 2000. */
  timeMs?: number;
  /** Heap the checker may use, in MiB. Defaults to 128. */
  heapMb?: number;
  /** Largest output from a short conversation, in characters. Defaults to 256 KiB. */
  maxOutputChars?: number;
}

/** Where the checker runs. */
export interface TemplateCheckOptions extends TemplateCheckLimits {
  /** Starts the checker (util/disposable-child.ts). Defaults to a child of this process with its own Node. */
  children?: ChildSpawner;
}

/**
 * `promptEnd`: the last characters of a short chat rendered with the generation prompt, which
 * show whether the template opens the reply's thought itself (thinking.ts).
 */
export type TemplateVerdict = { ok: true; promptEnd: string } | { ok: false; reason: string };

const DEFAULTS = { timeMs: 2000, heapMb: 128, maxOutputChars: 256 * 1024 };
/** How long the checker may take to start and read its input. */
const START_LIMIT_MS = 30_000;

/** Verdicts by template hash: a template is checked once per process. */
const verdicts = new Map<string, Promise<TemplateVerdict>>();

function samples(): Record<string, unknown>[] {
  const base = { add_generation_prompt: true, bos_token: "<s>", eos_token: "</s>" };
  const turns = Array.from({ length: 64 }, (_, i) => ({
    role: i % 2 === 0 ? "user" : "assistant",
    content: `message ${i}`,
  }));
  const tools = [
    {
      type: "function",
      function: {
        name: "get_weather",
        description: "Weather for a city",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    },
  ];
  return [
    {
      ...base,
      messages: [
        { role: "system", content: "You are helpful." },
        { role: "user", content: "Hello" },
        { role: "assistant", content: "Hi!" },
        { role: "user", content: "Tell me a story." },
      ],
    },
    { ...base, messages: turns },
    { ...base, messages: [{ role: "user", content: "x ".repeat(20_000) }] },
    { ...base, messages: [{ role: "user", content: "What is the weather in Oslo?" }], tools },
  ];
}

/**
 * A child process rather than a worker thread: a worker that runs out of heap on one large
 * allocation takes the whole process down with it (measured with `range(10**8)`), a child only
 * itself. It gets no environment: it needs none, and it must not see secrets.
 */
function runChecker(
  template: string,
  limits: Required<TemplateCheckLimits>,
  spawn: ChildSpawner,
): Promise<TemplateVerdict> {
  return new Promise((resolve) => {
    const input: TemplateCheckInput = { template, samples: samples() };
    const child = spawn({ program: "template-check", input, env: helperProcessEnv(), heapMb: limits.heapMb });
    let out = "";
    let settled = false;
    const finish = (verdict: TemplateVerdict) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill();
      resolve(verdict);
    };
    // Starting a process is not the template's doing (seconds on a busy machine, more under tsx):
    // the time limit runs from the checker's first line, a generous one until then.
    let timer = setTimeout(
      () => finish({ ok: false, reason: `the template checker did not start within ${START_LIMIT_MS / 1000} s` }),
      START_LIMIT_MS,
    );
    let started = false;
    child.onOutput((stream, text) => {
      if (stream !== "stdout") return;
      out += text;
      const nl = out.indexOf("\n");
      if (started || nl < 0) return;
      started = true;
      out = out.slice(nl + 1);
      clearTimeout(timer);
      timer = setTimeout(
        () => finish({ ok: false, reason: `rendering it took longer than ${limits.timeMs} ms` }),
        limits.timeMs,
      );
    });
    child.onExit(({ code, signal, error }) => {
      if (error !== undefined) return finish({ ok: false, reason: `the template checker could not run (${error})` });
      const m = ((): TemplateCheckAnswer | null => {
        try {
          return started ? (JSON.parse(out) as TemplateCheckAnswer) : null;
        } catch {
          return null; // no answer: the checker died
        }
      })();
      if (!m)
        return finish({
          ok: false,
          reason: `rendering it used more than ${limits.heapMb} MiB or crashed the checker (${signal ?? `exit ${code}`})`,
        });
      if (!m.parsed) return finish({ ok: false, reason: `it cannot be parsed by the template checker (${m.error})` });
      const first = m.sizes[0] ?? 0;
      if (first > limits.maxOutputChars)
        return finish({ ok: false, reason: `it renders ${first} characters from a four-message conversation` });
      finish({ ok: true, promptEnd: m.end });
    });
  });
}

/** Renders `template` in a bounded child process; resolves with whether it is safe to hand to node-llama-cpp. */
export function checkChatTemplate(template: string, options: TemplateCheckOptions = {}): Promise<TemplateVerdict> {
  const { children, ...limits } = options;
  const key = crypto
    .createHash("sha256")
    .update(JSON.stringify([template, limits]))
    .digest("hex");
  let verdict = verdicts.get(key);
  if (!verdict) {
    verdict = runChecker(template, { ...DEFAULTS, ...limits }, children ?? nodeChildSpawner());
    verdicts.set(key, verdict);
  }
  return verdict;
}
