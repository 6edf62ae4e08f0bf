/**
 * MCP tools of /v1/responses (`{"type": "mcp", ...}` in `tools`), run by Hearth itself as OpenAI
 * runs them: the server's tools are listed (an `mcp_list_tools` item), offered to the model as
 * functions named `<server_label>__<tool>`, and a call the model makes is either run at once and
 * fed back to the model in the same response (`mcp_call`, up to `--tool-max-steps` model turns), or,
 * when the tool needs approval (`require_approval`, `always` by default), ends the response with an
 * `mcp_approval_request` that the next request answers (`mcp_approval_response` with
 * `previous_response_id`).
 *
 * Safety: Hearth reaches only MCP servers configured in it (`<data-dir>/mcp.json`, Settings; the
 * host is server/mcp/registry.ts). Without `server_url` the `server_label` names one; a `server_url`
 * must be the URL of one (that list is the allow-list), so a request can never make Hearth connect
 * to a host of its choosing, and a command to run never comes from a request.
 */
import crypto from "node:crypto";
import { firstChoice } from "../chat/choices.js";
import type { Run } from "../chat/service.js";
import type { ChatMessage, ChatRequest, GenerationEvent, ToolCall, Usage } from "../core/types.js";
import { BadRequestError, HearthError } from "../errors.js";
import { toolResultForModel } from "../history/prompt.js";
import type { ToolOutcome } from "../mcp/runner.js";
import { parseAt } from "./parse-item.js";
import {
  McpToolSchema,
  type McpTool,
  type McpToolCallError,
  type McpToolFilter,
  type OutputMcpListTools,
  type ResponseCreateRequestBody,
} from "./responses-schemas.js";

/** How a call ended, as server/mcp/runner.ts says it (`ok`, the tool's `error`, `timeout`, `crashed`, `stopped`...). */
export interface McpCallResult {
  outcome: ToolOutcome;
  /** The output, or what went wrong, as the model is shown it (bounded). */
  text: string;
}

/** What the Responses API needs of Hearth's MCP host (server/mcp/registry.ts `McpRegistry`). */
export interface McpHost {
  /** The configured servers. */
  list(): Promise<readonly { name: string; url: string | null }[]>;
  /** A server's tools, starting it when it is not running; rejects with why it could not. */
  tools(server: string): Promise<
    readonly {
      name: string;
      description: string | null;
      inputSchema: Record<string, unknown>;
      annotations?: Record<string, unknown> | null;
    }[]
  >;
  /** Runs a tool with the bounds given; never rejects. */
  call(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    options: { signal: AbortSignal; timeoutMs: number; maxChars: number },
  ): Promise<McpCallResult>;
}

/** One tool of a request's MCP server, as the model sees it. */
export interface McpToolUse {
  /** The request's label for the server. */
  label: string;
  /** The configured server it runs on. */
  server: string;
  /** The tool's name on its server. */
  tool: string;
  /** The model's name for it: `<label>__<tool>`. */
  neutral: string;
  /** Runs only after the client approved it. */
  approval: boolean;
}

/** Item ids for a call, derived from the call id so a stored response's items read back the same. */
export const mcpCallItemId = (callId: string): string => `mcp_${callId}`;
export const mcpApprovalItemId = (callId: string): string => `mcpr_${callId}`;
/** The call an approval request was made for (`mcpr_<call id>`), or null. */
export const callIdOfApproval = (approvalRequestId: string): string | null =>
  approvalRequestId.startsWith("mcpr_") && approvalRequestId.length > 5 ? approvalRequestId.slice(5) : null;
export const callIdOfMcpItem = (itemId: string): string => (itemId.startsWith("mcp_") ? itemId.slice(4) : itemId);

/** The function name the model is given for `tool` of the server labelled `label` (OpenAI: `^[a-zA-Z0-9_-]{1,64}$`). */
export function mcpFunctionName(label: string, tool: string): string {
  return `${label}__${tool.replace(/[^A-Za-z0-9_-]/gu, "_")}`.slice(0, 64);
}

function matches(filter: McpToolFilter | null | undefined, tool: string, readOnly: boolean): boolean {
  if (!filter) return false;
  if (filter.tool_names?.includes(tool)) return true;
  return filter.read_only === true && readOnly;
}

function allowed(spec: McpTool, tool: string, readOnly: boolean): boolean {
  const a = spec.allowed_tools;
  if (a === null || a === undefined) return true;
  if (Array.isArray(a)) return a.includes(tool);
  if (!a.tool_names && a.read_only === undefined) return true;
  return matches(a, tool, readOnly);
}

/** OpenAI's rule: `never` and `always` lists; a tool neither names needs approval. */
function needsApproval(spec: McpTool, tool: string, readOnly: boolean): boolean {
  const r = spec.require_approval;
  if (r === null || r === undefined || r === "always") return true;
  if (r === "never") return false;
  if (matches(r.never, tool, readOnly)) return false;
  return true;
}

const normalUrl = (url: string): string | null => {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname.replace(/\/+$/u, "")}${u.search}`;
  } catch {
    return null;
  }
};

/** The MCP servers and tools of one request. */
export class McpTools {
  static readonly none = new McpTools([], new Map(), new Map());

  constructor(
    /** The `mcp_list_tools` item of each server, in the request's order. */
    readonly lists: OutputMcpListTools[],
    /** Neutral name -> the tool. */
    readonly byName: ReadonlyMap<string, McpToolUse>,
    /** `tools.N` -> the model's functions for that server (name, description, schema). */
    readonly offered: ReadonlyMap<
      number,
      { name: string; description?: string; parameters: Record<string, unknown> }[]
    >,
  ) {}

  get empty(): boolean {
    return this.byName.size === 0 && this.offered.size === 0;
  }
}

/** A 400 that says what to configure. */
function notConfigured(at: string, message: string): BadRequestError {
  return new BadRequestError(
    `${message} Hearth runs only MCP servers configured in it: add the server to mcpServers in <data-dir>/mcp.json (or in Settings, MCP servers), then name it by server_label or by its URL in server_url.`,
    { param: at, code: "mcp_server_not_configured" },
  );
}

/**
 * The request's `mcp` tools resolved to configured servers, with their tools listed (each server
 * started if it is not running). A server that cannot list its tools fails the request (424, as
 * OpenAI answers), before any output.
 */
export async function resolveMcpTools(body: ResponseCreateRequestBody, host: McpHost): Promise<McpTools> {
  const specs = (body.tools ?? []).flatMap((raw, i) => (raw.type === "mcp" ? [{ raw, at: `tools.${i}`, i }] : []));
  if (specs.length === 0) return McpTools.none;
  const configured = await host.list();
  const lists: OutputMcpListTools[] = [];
  const byName = new Map<string, McpToolUse>();
  const offered = new Map<number, { name: string; description?: string; parameters: Record<string, unknown> }[]>();
  const labels = new Set<string>();
  for (const { raw, at, i } of specs) {
    const spec = parseAt(McpToolSchema, raw, at);
    if (labels.has(spec.server_label))
      throw new BadRequestError(`Two mcp tools have the server_label '${spec.server_label}'; each needs its own.`, {
        param: `${at}.server_label`,
      });
    labels.add(spec.server_label);
    for (const field of ["connector_id", "tunnel_id"] as const)
      if (spec[field])
        throw new BadRequestError(`${field} names a server OpenAI hosts; Hearth has none.`, {
          param: `${at}.${field}`,
          code: "unsupported_value",
        });
    if (spec.authorization || Object.keys(spec.headers ?? {}).length > 0)
      throw new BadRequestError(
        "Hearth sends a server the headers configured for it; set them in <data-dir>/mcp.json (headers) or in Settings, not in the request.",
        { param: `${at}.${spec.authorization ? "authorization" : "headers"}`, code: "unsupported_value" },
      );
    let server: string;
    if (spec.server_url) {
      const url = normalUrl(spec.server_url);
      const match = url ? configured.find((s) => s.url !== null && normalUrl(s.url) === url) : undefined;
      if (!match) throw notConfigured(`${at}.server_url`, `The server_url '${spec.server_url}' is not allowed.`);
      server = match.name;
    } else {
      if (!configured.some((s) => s.name === spec.server_label))
        throw notConfigured(`${at}.server_label`, `No MCP server named '${spec.server_label}' is configured.`);
      server = spec.server_label;
    }
    let tools: Awaited<ReturnType<McpHost["tools"]>>;
    try {
      tools = await host.tools(server);
    } catch (err) {
      throw new HearthError(
        424,
        "invalid_request_error",
        `Error retrieving tool list from MCP server: '${spec.server_label}'. ${(err as Error).message}`,
        { param: at, code: "mcp_list_tools_failed" },
      );
    }
    const listed: OutputMcpListTools["tools"] = [];
    const functions: { name: string; description?: string; parameters: Record<string, unknown> }[] = [];
    for (const t of tools) {
      const annotations = t.annotations ?? null;
      const readOnly = annotations?.readOnlyHint === true;
      if (!allowed(spec, t.name, readOnly)) continue;
      const neutral = mcpFunctionName(spec.server_label, t.name);
      if (byName.has(neutral)) continue;
      byName.set(neutral, {
        label: spec.server_label,
        server,
        tool: t.name,
        neutral,
        approval: needsApproval(spec, t.name, readOnly),
      });
      listed.push({ name: t.name, description: t.description, input_schema: t.inputSchema, annotations });
      const description = [t.description, spec.server_description].filter(Boolean).join("\n\n");
      functions.push({ name: neutral, ...(description ? { description } : {}), parameters: t.inputSchema });
    }
    lists.push({
      type: "mcp_list_tools",
      id: `mcpl_${crypto.randomBytes(16).toString("hex")}`,
      server_label: spec.server_label,
      tools: listed,
      error: null,
    });
    offered.set(i, functions);
  }
  return new McpTools(lists, byName, offered);
}

/** Neutral events of the MCP side of a response, beside the model's own (responses-format.ts). */
export type McpEvent =
  /** A server's tools, listed before the model runs. */
  | { type: "mcp_list_tools"; item: OutputMcpListTools }
  /** A model turn ended with calls that Hearth runs now (its items close; the calls' results follow). */
  | { type: "turn_end" }
  /** A call approved in this request (made in the previous response), about to run. */
  | { type: "mcp_call_approved"; call: ToolCall; use: McpToolUse; approvalRequestId: string }
  /** A call ran (or failed). */
  | { type: "mcp_call_done"; callId: string; output: string | null; error: McpToolCallError | null };

export type ResponsesEvent = GenerationEvent | McpEvent;
export interface ResponsesChoiceEvent {
  choice: number;
  event: ResponsesEvent;
}

/**
 * A call's result as the model reads it: data, never instructions, in the one form Hearth shows
 * every tool result it ran (history/prompt.ts `toolResultForModel`).
 */
export function resultForModel(use: Pick<McpToolUse, "label" | "tool">, result: McpCallResult): string {
  return toolResultForModel({
    content: result.text,
    toolRun: {
      server: use.label,
      tool: use.tool,
      approval: "none",
      outcome: result.outcome,
      truncatedFrom: null,
      durationMs: 0,
    },
  });
}

/** A tool result for the `mcp_call` item. */
export function callOutcome(result: McpCallResult): {
  text: string;
  output: string | null;
  error: McpToolCallError | null;
} {
  if (result.outcome === "ok") return { text: result.text, output: result.text, error: null };
  if (result.outcome === "error")
    return {
      text: result.text,
      output: null,
      error: { type: "mcp_tool_execution_error", content: [{ type: "text", text: result.text }] },
    };
  // JSON-RPC's "request timed out" (the SDK's code), else a server error.
  return {
    text: result.text,
    output: null,
    error: { type: "mcp_protocol_error", code: result.outcome === "timeout" ? -32001 : -32000, message: result.text },
  };
}

export interface McpLoopOptions {
  host: McpHost;
  tools: McpTools;
  /** Most model turns in this response. */
  maxSteps: number;
  /** Bounds of each call. */
  timeoutMs: number;
  maxChars: number;
  /** Starts a model turn (ctx.chat.start with the route's options). */
  start: (request: ChatRequest) => Promise<Run>;
  /** Fires when the client went away: calls are stopped. */
  signal: AbortSignal;
  /** The request continues a response (`previous_response_id`): the tool lists are not said again. */
  continued?: boolean;
  /** Calls approved in this request, run before the first turn (their results are in its messages already). */
  approved?: { call: ToolCall; use: McpToolUse; approvalRequestId: string; result: McpCallResult }[];
}

/** Runs `call` on its server. */
export function runMcpCall(
  options: Pick<McpLoopOptions, "host" | "timeoutMs" | "maxChars" | "signal">,
  use: McpToolUse,
  call: ToolCall,
): Promise<McpCallResult> {
  let args: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(call.arguments || "{}");
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    args = parsed as Record<string, unknown>;
  } catch {
    return Promise.resolve({
      outcome: "error",
      text: `The arguments are not a JSON object: ${call.arguments.slice(0, 200)}`,
      truncatedFrom: null,
      durationMs: 0,
    });
  }
  return options.host.call(use.server, use.tool, args, {
    signal: options.signal,
    timeoutMs: options.timeoutMs,
    maxChars: options.maxChars,
  });
}

const addUsage = (a: Usage, b: Usage): Usage => ({
  promptTokens: a.promptTokens + b.promptTokens,
  completionTokens: a.completionTokens + b.completionTokens,
  cachedTokens: a.cachedTokens + b.cachedTokens,
  ...(a.reasoningTokens !== undefined || b.reasoningTokens !== undefined
    ? { reasoningTokens: (a.reasoningTokens ?? 0) + (b.reasoningTokens ?? 0) }
    : {}),
});

/**
 * The response's events over every model turn: the servers' tool lists, approved calls, then each
 * turn's events; a turn that ends in calls Hearth may run (every call an MCP tool that needs no
 * approval) runs them, appends the calls and their results to the conversation and starts the next
 * turn, until the model answers, a call needs the client (approval, a function) or `maxSteps`
 * turns were taken. Only the last turn's `finish` is passed on, with the usage of all of them.
 */
export async function* mcpLoop(
  first: Run,
  request: ChatRequest,
  options: McpLoopOptions,
): AsyncGenerator<ResponsesChoiceEvent> {
  // A continuation's conversation has its servers' lists already (OpenAI lists them once, too).
  if (!options.continued)
    for (const item of options.tools.lists) yield { choice: 0, event: { type: "mcp_list_tools", item } };
  for (const a of options.approved ?? []) {
    yield {
      choice: 0,
      event: { type: "mcp_call_approved", call: a.call, use: a.use, approvalRequestId: a.approvalRequestId },
    };
    const { output, error } = callOutcome(a.result);
    yield { choice: 0, event: { type: "mcp_call_done", callId: a.call.id, output, error } };
  }
  let run = first;
  let messages = request.messages;
  let usage: Usage | null = null;
  for (let step = 1; ; step++) {
    const calls = new Map<number, ToolCall>();
    let text = "";
    let reasoning = "";
    let finish: Extract<GenerationEvent, { type: "finish" }> | null = null;
    for await (const event of firstChoice(run.events)) {
      if (event.type === "finish") {
        finish = event;
        continue;
      }
      if (event.type === "tool_call") {
        const call = calls.get(event.index) ?? { id: event.id, name: event.name, arguments: "" };
        call.arguments += event.argumentsDelta;
        calls.set(event.index, call);
      } else if (event.type === "text") text += event.text;
      else reasoning += event.text;
      yield { choice: 0, event };
    }
    if (!finish) return;
    usage = usage ? addUsage(usage, finish.usage) : finish.usage;
    const made = [...calls.values()];
    // A turn cut short (the token limit) has calls cut short: none of them runs.
    const runnable =
      finish.reason === "tool_calls" ? made.filter((c) => options.tools.byName.get(c.name)?.approval === false) : [];
    const more =
      finish.reason === "tool_calls" && made.length > 0 && runnable.length === made.length && step < options.maxSteps;
    if (runnable.length > 0) yield { choice: 0, event: { type: "turn_end" } };
    // Calls Hearth may run are run even when the response ends here (a call for the client beside
    // them, the step limit): their items are complete, and a continuation gives the model their
    // results (responses-store.ts `continuation`).
    const results: ChatMessage[] = [];
    const use = (call: ToolCall) => options.tools.byName.get(call.name)!;
    for (const call of runnable) {
      const result = await runMcpCall(options, use(call), call);
      const { output, error } = callOutcome(result);
      results.push({ role: "tool", toolCallId: call.id, content: resultForModel(use(call), result) });
      yield { choice: 0, event: { type: "mcp_call_done", callId: call.id, output, error } };
    }
    if (!more) {
      yield { choice: 0, event: { ...finish, usage } };
      return;
    }
    messages = [
      ...messages,
      { role: "assistant", content: text, toolCalls: made, ...(reasoning ? { reasoning } : {}) },
      ...results,
    ];
    // A forced tool (tool_choice) is forced once: forced again, every turn would call it up to the
    // limit. The last turn is offered no calls, as in the app's chats (chat/tool-loop.ts).
    run = await options.start({
      ...request,
      messages,
      toolChoice: request.toolChoice === "none" || step + 1 >= options.maxSteps ? "none" : "auto",
    });
  }
}
